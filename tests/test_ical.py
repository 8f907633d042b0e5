"""The learner's agenda as iCalendar: RFC 5545 lines, folding, escaping, and the route."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from aiohttp.test_utils import TestClient

from server.catalogue import Role
from server.ical import Event, calendar, escape_text, fold, utc_stamp
from tests.conftest import add_person

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_lines_fold_at_75_octets_without_splitting_a_character() -> None:
    line = "DESCRIPTION:" + "é" * 100  # two octets each
    folded = fold(line)
    parts = folded.removesuffix("\r\n").split("\r\n")
    assert all(len(p.encode()) <= 75 for p in parts)
    assert all(p.startswith(" ") for p in parts[1:])
    assert "".join([parts[0]] + [p[1:] for p in parts[1:]]) == line
    assert fold("SHORT:x") == "SHORT:x\r\n"


def test_text_is_escaped_and_times_are_utc() -> None:
    assert escape_text("a\\b;c,d\ne") == "a\\\\b\\;c\\,d\\ne"
    chicago = timezone(timedelta(hours=-6))
    assert utc_stamp(datetime(2026, 3, 14, 9, 0, tzinfo=chicago)) == "20260314T150000Z"


def test_a_calendar_has_the_required_properties_and_crlf_lines() -> None:
    start = datetime(2026, 3, 14, 15, 0, tzinfo=UTC)
    text = calendar([Event("hf@conf.rounds", start, start + timedelta(hours=1), "Heart failure, 2026; what changed",
                           "Ana Okafor")], "Cardio 2026", NOW)
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    lines = text.split("\r\n")[:-1]
    assert lines[:3] == ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Rounds//Conference agenda//EN"]
    assert lines[-1] == "END:VCALENDAR"
    for needed in ["UID:hf@conf.rounds", "DTSTAMP:20260301T120000Z", "DTSTART:20260314T150000Z",
                   "DTEND:20260314T160000Z", "SUMMARY:Heart failure\\, 2026\\; what changed"]:
        assert needed in lines


async def test_the_agenda_route_gives_the_chosen_sessions(client: TestClient) -> None:
    person = await add_person(client.server.app, "grace@example.org", Role.ATTENDEE)
    assert (await client.get("/agenda.ics", allow_redirects=False)).status == 401
    resp = await client.get("/agenda.ics?sessions=heart-failure-2026,lipids-update", headers=person.auth)
    assert resp.status == 200 and resp.content_type == "text/calendar"
    text = await resp.text()
    assert text.count("BEGIN:VEVENT") == 2 and "UID:heart-failure-2026@cardiometabolic-2026.rounds" in text
    everything = await (await client.get("/agenda.ics", headers=person.auth)).text()
    assert everything.count("BEGIN:VEVENT") > 2
    bad = await client.get("/agenda.ics?sessions=nope", headers={**person.auth, "Accept": "application/json"})
    assert bad.status == 400 and "nope" in (await bad.json())["reason"]
