"""Conference files: the demo loads, problems name the field and the line, fuzzing never crashes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.catalogue import Format, SessionState
from server.conference_file import ConferenceFileError, load_conference, parse_conference
from server.settings import ROOT

DEMO = ROOT / "config" / "demo-conference.toml"
DEMO_TEXT = DEMO.read_text()


def test_demo_conference_is_a_realistic_two_day_meeting() -> None:
    cat = load_conference(DEMO).catalogue
    assert len(cat.sessions) >= 8 and len(cat.booths) >= 4
    assert {s.format for s in cat.sessions} == set(Format)
    assert len(cat.days()) == 2
    industry = [s for s in cat.sessions if s.industry_supporter]
    assert industry and all(not s.accredited and not s.credits for s in industry)


@pytest.mark.parametrize("hour", [0, 7, 13, 23])
def test_demo_always_has_an_accredited_session_live_at_start(hour: int) -> None:
    now = datetime(2026, 3, 8, hour, 17, tzinfo=UTC)  # a DST change day in Chicago, too
    cat = parse_conference(DEMO_TEXT, now=now).catalogue
    live = cat.sessions_in(SessionState.LIVE, now)
    assert any(s.accredited for s in live)


def test_demo_has_accounts_for_every_role() -> None:
    accounts = load_conference(DEMO).accounts
    assert {a.role.value for a in accounts} == {"attendee", "faculty", "moderator", "exhibitor", "organizer"}
    assert all(a.password for a in accounts)


def test_fixed_first_day_gives_wall_clock_times_in_the_conference_zone() -> None:
    text = DEMO_TEXT.replace('first_day = "demo"', 'first_day = 2026-06-11')
    cat = parse_conference(text).catalogue
    first = cat.session("heart-failure-2026")
    assert first is not None
    assert first.start == datetime(2026, 6, 11, 14, 0, tzinfo=UTC)  # 09:00 CDT


def test_breaks_are_cut_from_the_accredited_timeline() -> None:
    cat = parse_conference(DEMO_TEXT.replace('first_day = "demo"', "first_day = 2026-06-11")).catalogue
    session = cat.session("heart-failure-2026")
    assert session is not None
    timeline = session.accredited_timeline()
    assert sum(span.seconds for span in timeline) == timedelta(minutes=85).total_seconds()
    industry = cat.session("industry-lunch")
    assert industry is not None and industry.accredited_timeline() == ()


@pytest.mark.parametrize(
    ("old", "new", "field", "message"),
    [
        ('end = "day 1, 11:45"', 'end = "day 1, 10:00"', "sessions[1].end", "must be after start"),
        ('format = "panel"', 'format = "seminar"', "sessions[3].format", "unknown format 'seminar'"),
        ('start = "day 1, 13:00"', 'start = "13:00 on day one"', "sessions[3].start", "is not a time like"),
        ('timezone = "America/Chicago"', 'timezone = "Mars/Olympus"', "conference.timezone", "unknown time zone"),
        ("ama_pra_1 = 1.5, ancc", "ama_pra_1 = 1.6, ancc", "sessions[0].credits.ama_pra_1", "multiple of 0.25"),
        ('track = "practice"', 'track = "basement"', "sessions[4].track", "unknown track"),
    ],
)
def test_errors_name_field_and_line(old: str, new: str, field: str, message: str) -> None:
    text = DEMO_TEXT.replace(old, new, 1)
    line = next(n for n, text_line in enumerate(text.splitlines(), 1) if new in text_line)
    with pytest.raises(ConferenceFileError) as info:
        parse_conference(text, filename="conf.toml")
    assert info.value.field == field
    assert message in str(info.value)
    assert info.value.line == line
    assert str(info.value).startswith(f"conf.toml, line {line}, {field}:")


def test_yaml_conference_reports_yaml_lines() -> None:
    import tomllib

    data = tomllib.loads(DEMO_TEXT)
    data["conference"]["first_day"] = "demo"
    data["sessions"][2]["end"] = "day 1, 11:00"
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    with pytest.raises(ConferenceFileError) as info:
        parse_conference(text, kind="yaml")
    assert info.value.field == "sessions[2].end"
    assert info.value.line is not None
    assert "end: day 1, 11:00" in text.splitlines()[info.value.line - 1]


def test_yaml_demo_equivalent_loads() -> None:
    import tomllib

    text = yaml.safe_dump(tomllib.loads(DEMO_TEXT), sort_keys=False, allow_unicode=True)
    assert len(parse_conference(text, kind="yaml").catalogue.sessions) == 10


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.data())
def test_mutated_conference_files_fail_only_with_a_reason(data: st.DataObject) -> None:
    lines = DEMO_TEXT.splitlines()
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(lines) - 1))
        action = data.draw(st.sampled_from(["drop", "dup", "garble", "swap"]))
        if action == "drop":
            lines.pop(i)
        elif action == "dup":
            lines.insert(i, lines[i])
        elif action == "garble":
            lines[i] = data.draw(st.text(max_size=40))
        else:
            j = data.draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        if not lines:
            lines = [""]
    try:
        parse_conference("\n".join(lines))
    except ConferenceFileError as exc:
        assert str(exc)


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=10),
                    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=4),
                    max_leaves=20))
def test_arbitrary_yaml_documents_fail_only_with_a_reason(doc: object) -> None:
    try:
        parse_conference(yaml.safe_dump(doc), kind="yaml")
    except ConferenceFileError:
        pass
