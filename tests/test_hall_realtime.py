"""The /hall namespace end to end: real server, real python-socketio clients, SQLite and Redis."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import socketio
import sqlalchemy as sa
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from server.app import create_app
from server.catalogue import Role
from server.hall import hall_key, pseudonym
from server.settings import Settings
from server.state import ENGINE, METRICS, SETTINGS
from server.store.hall import booth_visits
from server.store.schema import audit_log
from tests.conftest import Person, SioFactory, add_person, make_settings

NS = "/hall"
BOOTH = "meridian"  # staffed by people["exhibitor"] (pat.lee), who also staffs glucowatch
OTHER = "cardiova"  # staffed by people["other_exhibitor"]
LIMIT = 6


@pytest.fixture
def settings(tmp_path: Path, conference_file: Path) -> Settings:
    return make_settings(tmp_path / "data", conference_file, hall_messages_per_minute=LIMIT)


class Inbox:
    """Every /hall event one client received, and a way to await the next matching one."""

    def __init__(self, client: socketio.AsyncClient) -> None:
        self.items: list[tuple[str, Any]] = []
        self._changed = asyncio.Event()
        self._read = 0
        client.on("*", self._record, namespace=NS)

    async def _record(self, event: str, data: Any = None) -> None:
        self.items.append((event, data))
        self._changed.set()

    async def next(self, event: str, where: Callable[[Any], bool] = lambda _: True, timeout: float = 5) -> Any:
        """The first ``event`` after the last one returned that satisfies ``where``."""
        async def find() -> Any:
            while True:
                for i in range(self._read, len(self.items)):
                    name, data = self.items[i]
                    if name == event and where(data):
                        self._read = i + 1
                        return data
                self._changed.clear()
                await self._changed.wait()
        return await asyncio.wait_for(find(), timeout)

    def text(self) -> str:
        return json.dumps(self.items)


async def call(client: socketio.AsyncClient, event: str, data: Any) -> dict[str, Any]:
    return await client.call(event, data, namespace=NS, timeout=5)  # type: ignore[no-any-return]


async def enter(sio: SioFactory, person: Person, booth: str = BOOTH) -> tuple[socketio.AsyncClient, Inbox, dict]:
    client = await sio(person, NS)
    inbox = Inbox(client)
    ack = await call(client, "enter", {"booth": booth})
    assert ack["ok"], ack
    return client, inbox, ack


def identity_leaks(text: str, person: Person) -> list[str]:
    """Which of a person's identifying values appear in ``text``."""
    found = [v for v in (person.user.email, person.user.name) if v in text]
    for key in ('"user_id"', '"author_id"', '"visitor_id"', '"email"'):
        if key in text:
            found.append(key)
    return found


async def test_visitor_chat_reaches_staff_under_a_pseudonym_without_identity(
    sio: SioFactory, people: dict[str, Person], app: web.Application
) -> None:
    _, staff_box, staff_ack = await enter(sio, people["exhibitor"])
    assert staff_ack["role"] == "staff" and staff_ack["presence"]["visitors"] == 0
    visitor, _, ack = await enter(sio, people["attendee"])
    assert ack["role"] == "visitor" and ack["me"]["shared"] is None
    presence = await staff_box.next("presence", lambda p: p["visitors"] == 1)
    assert presence["shared"] == [] and presence["staff"] == ["Pat.Lee"]

    sent = await call(visitor, "chat", {"booth": BOOTH, "text": "Is there a <b>dosing</b> card?"})
    got = await staff_box.next("message")
    assert got["text"] == "Is there a <b>dosing</b> card?" and got["from"] == "visitor"
    assert got["author"] == ack["me"]["pseudonym"] == sent["message"]["author"]
    assert got["author"] == pseudonym(hall_key(app[SETTINGS].secret_key), BOOTH, people["attendee"].user.id)
    assert identity_leaks(staff_box.text(), people["attendee"]) == []
    assert identity_leaks(json.dumps(staff_ack), people["attendee"]) == []


async def test_pseudonyms_are_stable_per_booth_and_differ_between_booths(
    sio: SioFactory, people: dict[str, Person]
) -> None:
    first = await enter(sio, people["attendee"])
    again = await enter(sio, people["attendee"])
    elsewhere = await enter(sio, people["attendee"], OTHER)
    other_person = await enter(sio, people["attendee2"])
    name = first[2]["me"]["pseudonym"]
    assert again[2]["me"]["pseudonym"] == name
    assert elsewhere[2]["me"]["pseudonym"] != name
    assert other_person[2]["me"]["pseudonym"] != name
    assert str(people["attendee"].user.id) not in name


async def test_other_visitors_never_see_a_name_even_after_sharing(sio: SioFactory, people: dict[str, Person]) -> None:
    maria, _, maria_ack = await enter(sio, people["attendee"])
    _, tom_box, _ = await enter(sio, people["attendee2"])
    assert (await call(maria, "share", {"booth": BOOTH, "fields": ["name", "email"]}))["ok"]
    await call(maria, "chat", {"booth": BOOTH, "text": "hello all"})
    got = await tom_box.next("message")
    assert got["author"] == maria_ack["me"]["pseudonym"]
    assert identity_leaks(tom_box.text(), people["attendee"]) == []


async def test_sharing_reveals_exactly_the_chosen_fields_to_that_booth_only(
    client: TestClient, sio: SioFactory, people: dict[str, Person]
) -> None:
    _, staff_box, _ = await enter(sio, people["exhibitor"])
    maria, _, _ = await enter(sio, people["attendee"])
    empty = await client.get(f"/api/booths/{BOOTH}/leads", headers=people["exhibitor"].auth)
    assert empty.status == 200 and await empty.json() == {"booth": BOOTH, "leads": []}

    ack = await call(maria, "share", {"booth": BOOTH, "fields": ["email", "name"]})
    assert ack["shared"]["fields"] == ["name", "email"] and ack["shared"]["profession"] is None
    lead = (await staff_box.next("lead"))["lead"]
    assert lead["name"] == "Maria.Lopez" and lead["email"] == "maria.lopez@demo.rounds"
    assert lead["profession"] is None and lead["organisation"] is None
    presence = await staff_box.next("presence", lambda p: p["shared"])
    assert presence["shared"] == ["Maria.Lopez"]

    listed = await (await client.get(f"/api/booths/{BOOTH}/leads", headers=people["exhibitor"].auth)).json()
    assert [(x["name"], x["email"], x["fields"]) for x in listed["leads"]] == [
        ("Maria.Lopez", "maria.lopez@demo.rounds", ["name", "email"])]
    assert "shared_at" in listed["leads"][0]
    other = await (await client.get(f"/api/booths/{OTHER}/leads", headers=people["other_exhibitor"].auth)).json()
    assert other["leads"] == []
    csv_text = await (await client.get(f"/api/booths/{BOOTH}/leads.csv", headers=people["exhibitor"].auth)).text()
    assert "maria.lopez@demo.rounds" in csv_text and "physician" not in csv_text

    await call(maria, "chat", {"booth": BOOTH, "text": "now you know me"})
    assert (await staff_box.next("message"))["author"] == "Maria.Lopez"


async def test_withdrawing_removes_the_lead_and_the_name(client: TestClient, sio: SioFactory,
                     people: dict[str, Person]) -> None:
    _, staff_box, _ = await enter(sio, people["exhibitor"])
    maria, _, ack = await enter(sio, people["attendee"])
    await call(maria, "share", {"booth": BOOTH, "fields": ["name"]})
    await staff_box.next("lead")
    assert (await call(maria, "withdraw", {"booth": BOOTH}))["withdrawn"] is True
    assert "withdrawn" in await staff_box.next("lead")
    await staff_box.next("presence", lambda p: p["shared"] == [] and p["visitors"] == 1)
    listed = await (await client.get(f"/api/booths/{BOOTH}/leads", headers=people["exhibitor"].auth)).json()
    assert listed["leads"] == []
    await call(maria, "chat", {"booth": BOOTH, "text": "anonymous again"})
    assert (await staff_box.next("message"))["author"] == ack["me"]["pseudonym"]


async def test_exhibitor_asking_who_a_visitor_is_without_consent_is_refused(
    sio: SioFactory, people: dict[str, Person]
) -> None:
    staff, _, _ = await enter(sio, people["exhibitor"])
    maria, _, _ = await enter(sio, people["attendee"])
    sent = (await call(maria, "chat", {"booth": BOOTH, "text": "hi"}))["message"]
    refused = await call(staff, "visitor", {"booth": BOOTH, "message": sent["id"]})
    assert refused["ok"] is False and refused["error"] == "not_allowed"
    assert "not shared" in refused["reason"] and identity_leaks(json.dumps(refused), people["attendee"]) == []
    await call(maria, "share", {"booth": BOOTH, "fields": ["email"]})
    allowed = await call(staff, "visitor", {"booth": BOOTH, "message": sent["id"]})
    assert allowed["visitor"]["email"] == "maria.lopez@demo.rounds" and allowed["visitor"]["name"] is None


async def test_exhibitor_of_one_booth_cannot_read_or_staff_another(
    client: TestClient, sio: SioFactory, people: dict[str, Person]
) -> None:
    pat = people["exhibitor"]
    for path in (f"/api/booths/{OTHER}/leads", f"/api/booths/{OTHER}/leads.csv", f"/api/booths/{OTHER}/analytics"):
        response = await client.get(path, headers=pat.auth)
        assert response.status == 403, path
        assert (await response.json())["error"] == "not_allowed"
    maria, _, _ = await enter(sio, people["attendee"], OTHER)
    await call(maria, "share", {"booth": OTHER, "fields": ["name", "email"]})
    sent = (await call(maria, "chat", {"booth": OTHER, "text": "hello cardiova"}))["message"]
    thread = (await call(maria, "private", {"booth": OTHER}))["thread"]
    pat_client, _, pat_ack = await enter(sio, pat, OTHER)
    assert pat_ack["role"] == "visitor" and "threads" not in pat_ack
    assert identity_leaks(json.dumps(pat_ack), people["attendee"]) == []
    for event, data in (("visitor", {"message": sent["id"]}), ("threads", {}), ("thread", {"thread": thread["id"]}),
                        ("delete", {"message": sent["id"]}), ("ban", {"message": sent["id"]})):
        ack = await call(pat_client, event, {"booth": OTHER, **data})
        assert ack["ok"] is False and ack["error"] == "not_allowed", event
    ack = await call(pat_client, "chat", {"booth": OTHER, "text": "sneaky", "thread": thread["id"]})
    assert ack["error"] == "not_allowed"
    console = await client.get(f"/exhibitor?booth={OTHER}", headers=pat.auth)
    assert console.status == 403


async def test_attendee_cannot_read_leads_or_moderate(client: TestClient, sio: SioFactory,
                     people: dict[str, Person]) -> None:
    maria = people["attendee"]
    for path in (f"/api/booths/{BOOTH}/leads", f"/api/booths/{BOOTH}/leads.csv", f"/api/booths/{BOOTH}/analytics"):
        response = await client.get(path, headers=maria.auth)
        assert response.status == 403, path
    assert (await client.get(f"/api/booths/{BOOTH}/leads")).status == 401
    assert (await client.get("/exhibitor", headers=maria.auth)).status == 403
    tom, _, _ = await enter(sio, people["attendee2"])
    sent = (await call(tom, "chat", {"booth": BOOTH, "text": "hi"}))["message"]
    visitor, _, _ = await enter(sio, maria)
    for event, data in (("visitor", {"message": sent["id"]}), ("threads", {}), ("delete", {"message": sent["id"]}),
                        ("ban", {"message": sent["id"]}), ("read", {"thread": 1})):
        ack = await call(visitor, event, {"booth": BOOTH, **data})
        assert ack["ok"] is False and ack["error"] == "not_allowed", event


async def test_private_thread_reaches_only_its_visitor_and_staff_with_unread_markers(
    sio: SioFactory, people: dict[str, Person]
) -> None:
    staff, staff_box, _ = await enter(sio, people["exhibitor"])
    maria, maria_box, maria_ack = await enter(sio, people["attendee"])
    tom, tom_box, _ = await enter(sio, people["attendee2"])
    thread = (await call(maria, "private", {"booth": BOOTH}))["thread"]
    announced = (await staff_box.next("thread"))["thread"]
    assert announced == {"id": thread["id"], "visitor": maria_ack["me"]["pseudonym"], "unread": 0, "last_at": None}

    await call(maria, "chat", {"booth": BOOTH, "text": "a private question", "thread": thread["id"]})
    got = await staff_box.next("message")
    assert got["thread"] == thread["id"] and got["text"] == "a private question"
    listed = (await call(staff, "threads", {"booth": BOOTH}))["threads"]
    assert [(t["id"], t["unread"]) for t in listed] == [(thread["id"], 1)]
    opened = (await call(staff, "thread", {"booth": BOOTH, "thread": thread["id"]}))["thread"]
    assert [m["text"] for m in opened["messages"]] == ["a private question"]
    assert (await call(staff, "threads", {"booth": BOOTH}))["threads"][0]["unread"] == 0

    await call(staff, "chat", {"booth": BOOTH, "text": "a private answer", "thread": thread["id"]})
    reply = await maria_box.next("message")
    assert reply["text"] == "a private answer" and reply["from"] == "staff" and reply["author"] == "Pat.Lee"
    await call(staff, "chat", {"booth": BOOTH, "text": "public notice"})
    assert (await tom_box.next("message"))["text"] == "public notice"
    assert "private" not in tom_box.text()
    refused = await call(tom, "chat", {"booth": BOOTH, "text": "let me in", "thread": thread["id"]})
    assert refused["error"] == "not_allowed"
    assert (await call(staff, "private", {"booth": BOOTH}))["error"] == "bad_request"


async def test_staff_delete_a_message_for_everyone_and_the_audit_log_keeps_it(
    sio: SioFactory, people: dict[str, Person], app: web.Application
) -> None:
    staff, _, _ = await enter(sio, people["exhibitor"])
    maria, maria_box, _ = await enter(sio, people["attendee"])
    sent = (await call(maria, "chat", {"booth": BOOTH, "text": "spam spam"}))["message"]
    assert (await call(staff, "delete", {"booth": BOOTH, "message": sent["id"]}))["deleted"] == sent["id"]
    assert (await maria_box.next("deleted"))["message"] == sent["id"]
    again = await call(maria, "enter", {"booth": OTHER})
    history = (await call(await sio(people["attendee2"], NS), "enter", {"booth": BOOTH}))["messages"]
    assert again["ok"] and history == []
    async with app[ENGINE].connect() as conn:
        rows = (await conn.execute(sa.select(audit_log).where(audit_log.c.action == "hall.delete_message"))).all()
    assert len(rows) == 1 and rows[0].before["text"] == "spam spam" and rows[0].actor == "pat.lee@demo.rounds"
    missing = await call(staff, "delete", {"booth": BOOTH, "message": 999999})
    assert missing["error"] == "not_found"


async def test_organizer_bans_a_visitor_who_is_disconnected_and_refused(
    sio: SioFactory, people: dict[str, Person]
) -> None:
    organizer, _, org_ack = await enter(sio, people["organizer"])
    assert org_ack["role"] == "staff"
    staff, _, _ = await enter(sio, people["exhibitor"])
    maria, maria_box, _ = await enter(sio, people["attendee"])
    gone = asyncio.Event()
    maria.on("disconnect", gone.set, namespace=NS)
    sent = (await call(maria, "chat", {"booth": BOOTH, "text": "buy my stuff"}))["message"]
    assert (await call(staff, "ban", {"booth": BOOTH, "message": sent["id"]}))["error"] == "not_allowed"
    assert (await call(organizer, "ban", {"booth": BOOTH, "email": "pat.lee@demo.rounds"}))["error"] == "bad_request"
    assert (await call(organizer, "ban", {"booth": BOOTH, "message": sent["id"], "reason": "spam"}))["banned"]
    assert (await maria_box.next("banned"))["reason"] == "spam"
    await asyncio.wait_for(gone.wait(), 5)
    back = await sio(people["attendee"], NS)
    refused = await call(back, "enter", {"booth": BOOTH})
    assert refused["ok"] is False and refused["error"] == "not_allowed"
    assert (await call(back, "enter", {"booth": OTHER}))["ok"]  # only that booth


async def test_chat_is_rate_limited_per_user(sio: SioFactory, people: dict[str, Person]) -> None:
    maria, _, _ = await enter(sio, people["attendee"])
    for i in range(LIMIT):
        assert (await call(maria, "chat", {"booth": BOOTH, "text": f"m{i}"}))["ok"]
    limited = await call(maria, "chat", {"booth": BOOTH, "text": "one too many"})
    assert limited["ok"] is False and limited["error"] == "rate_limited"
    tom, _, _ = await enter(sio, people["attendee2"])
    assert (await call(tom, "chat", {"booth": BOOTH, "text": "others may still talk"}))["ok"]


@pytest.mark.parametrize(("event", "data", "code"), [
    ("enter", {"booth": "nope"}, "not_found"),
    ("enter", {}, "bad_request"),
    ("enter", {"booth": 7}, "bad_request"),
    ("chat", {"booth": OTHER, "text": "not entered"}, "bad_request"),
    ("chat", {"booth": BOOTH, "text": ""}, "bad_request"),
    ("chat", {"booth": BOOTH, "text": "x" * 1001}, "bad_request"),
    ("chat", {"booth": BOOTH, "text": "hi", "thread": "one"}, "bad_request"),
    ("chat", {"booth": BOOTH, "text": "hi", "thread": 424242}, "not_found"),
    ("share", {"booth": BOOTH, "fields": []}, "bad_request"),
    ("share", {"booth": BOOTH, "fields": ["npi"]}, "bad_request"),
    ("share", {"booth": BOOTH, "fields": "name"}, "bad_request"),
    ("dance", {"booth": BOOTH}, "unknown_event"),
])
async def test_bad_calls_get_error_acks(sio: SioFactory, people: dict[str, Person], event: str,
                                        data: dict[str, Any], code: str) -> None:
    maria, _, _ = await enter(sio, people["attendee"])
    ack = await call(maria, event, data)
    assert ack["ok"] is False and ack["error"] == code, ack
    assert (await call(maria, "chat", {"booth": BOOTH, "text": "still fine"}))["ok"]


async def test_presence_counts_people_not_tabs_and_survives_a_reconnect(
    client: TestClient, sio: SioFactory, people: dict[str, Person]
) -> None:
    _, staff_box, _ = await enter(sio, people["exhibitor"])
    tab1, _, _ = await enter(sio, people["attendee"])
    await staff_box.next("presence", lambda p: p["visitors"] == 1)
    tab2, _, _ = await enter(sio, people["attendee"])
    await staff_box.next("presence")
    await tab1.disconnect()
    assert (await staff_box.next("presence"))["visitors"] == 1
    tab3, _, _ = await enter(sio, people["attendee"])  # the reconnect: a new connection enters again
    assert (await staff_box.next("presence"))["visitors"] == 1
    await tab2.disconnect()
    await tab3.disconnect()
    await staff_box.next("presence", lambda p: p["visitors"] == 0)
    stats = await (await client.get(f"/api/booths/{BOOTH}/analytics", headers=people["exhibitor"].auth)).json()
    assert stats["visits"] == 1 and stats["unique_visitors"] == 1 and stats["visitors_now"] == 0
    assert stats["median_dwell_s"] is not None


async def test_visits_are_counted_without_identifying_anyone(
    sio: SioFactory, people: dict[str, Person], app: web.Application
) -> None:
    for key in ("attendee", "attendee2"):
        c, _, _ = await enter(sio, people[key])
        await call(c, "leave", {"booth": BOOTH})
    async with app[ENGINE].connect() as conn:
        rows = (await conn.execute(sa.select(booth_visits))).all()
    assert len(rows) == 2 and len({r.visitor for r in rows}) == 2
    ids = {str(people[k].user.id) for k in ("attendee", "attendee2")}
    assert all(r.visitor not in ids and r.left_at is not None for r in rows)
    assert "user" not in " ".join(booth_visits.c.keys())


async def test_visitors_see_staff_come_online(sio: SioFactory, people: dict[str, Person]) -> None:
    _, maria_box, ack = await enter(sio, people["attendee"])
    assert ack["booth"]["staff_online"] == []
    pat, _, _ = await enter(sio, people["exhibitor"])
    assert (await maria_box.next("staff"))["online"] == ["Pat.Lee"]
    await enter(sio, people["organizer"])  # organizers look in without being listed as staff
    await call(pat, "leave", {"booth": BOOTH})
    assert (await maria_box.next("staff"))["online"] == []


async def test_declining_to_share_limits_nothing(client: TestClient, sio: SioFactory,
                     people: dict[str, Person]) -> None:
    maria, _, _ = await enter(sio, people["attendee"])
    assert (await call(maria, "chat", {"booth": BOOTH, "text": "hello"}))["ok"]
    thread = (await call(maria, "private", {"booth": BOOTH}))["thread"]
    assert (await call(maria, "chat", {"booth": BOOTH, "text": "psst", "thread": thread["id"]}))["ok"]
    link = await client.get(f"/hall/{BOOTH}/links/0", headers=people["attendee"].auth, allow_redirects=False)
    assert link.status == 302
    for path in ("/hall", f"/hall/{BOOTH}", "/api/booths", "/sessions/heart-failure-2026"):
        assert (await client.get(path, headers=people["attendee"].auth)).status == 200, path


# ---------------------------------------------------------------------- two processes, one Redis


async def test_presence_and_chat_cross_processes_through_redis_and_postgresql(
    tmp_path: Path, conference_file: Path, redis_settings: Settings, pg_url: str, aiohttp_server: Any,
) -> None:
    # Two apps in one test process stand for two server processes: one Redis, one PostgreSQL.
    shared: dict[str, Any] = {"redis_url": redis_settings.redis_url, "database_url": pg_url}
    app_a = create_app(make_settings(tmp_path / "a", conference_file, **shared))
    server_a: TestServer = await aiohttp_server(app_a, host="127.0.0.1")
    app_b = create_app(make_settings(tmp_path / "b", conference_file, **shared))
    server_b: TestServer = await aiohttp_server(app_b, host="127.0.0.1")
    pat = await add_person(app_a, "pat.lee@demo.rounds", Role.EXHIBITOR)
    maria = await add_person(app_a, "maria.lopez@demo.rounds", Role.ATTENDEE)
    clients: list[socketio.AsyncClient] = []

    async def connect(server: TestServer, person: Person) -> tuple[socketio.AsyncClient, Inbox]:
        c = socketio.AsyncClient(reconnection=False)
        box = Inbox(c)
        await c.connect(str(server.make_url("/")), namespaces=[NS], auth={"token": person.token},
                        transports=["websocket"], wait_timeout=10)
        clients.append(c)
        return c, box

    try:
        staff, staff_box = await connect(server_b, pat)
        assert (await call(staff, "enter", {"booth": BOOTH}))["presence"]["visitors"] == 0
        visitor, visitor_box = await connect(server_a, maria)
        ack = await call(visitor, "enter", {"booth": BOOTH})
        assert ack["booth"]["staff_online"] == ["Pat.Lee"]  # staff on the other process
        assert (await staff_box.next("presence", lambda p: p["visitors"] == 1))["shared"] == []
        await call(visitor, "chat", {"booth": BOOTH, "text": "across processes"})
        got = await staff_box.next("message")
        assert got["text"] == "across processes" and got["author"] == ack["me"]["pseudonym"]
        assert identity_leaks(staff_box.text(), maria) == []
        await call(staff, "chat", {"booth": BOOTH, "text": "answer from B"})
        assert (await visitor_box.next("message"))["text"] == "answer from B"
        await call(visitor, "share", {"booth": BOOTH, "fields": ["name"]})
        assert (await staff_box.next("presence", lambda p: p["shared"]))["shared"] == ["Maria.Lopez"]
        second, _ = await connect(server_b, maria)  # a second tab, on the other process
        await call(second, "enter", {"booth": BOOTH})
        await visitor.disconnect()
        assert (await staff_box.next("presence"))["visitors"] == 1
        await second.disconnect()
        await staff_box.next("presence", lambda p: p["visitors"] == 0)
    finally:
        for c in clients:
            if c.connected:
                await c.disconnect()


async def test_stored_messages_and_shares_are_counted_in_metrics(sio: SioFactory, people: dict[str, Person],
                                                                 app: web.Application) -> None:
    maria, _, _ = await enter(sio, people["attendee"])
    await call(maria, "chat", {"booth": BOOTH, "text": "hello"})
    await call(maria, "share", {"booth": BOOTH, "fields": ["email"]})
    text = app[METRICS].render().decode()
    assert 'rounds_hall_events_total{kind="public_message"} 1.0' in text
    assert 'rounds_hall_events_total{kind="share"} 1.0' in text
