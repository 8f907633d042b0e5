"""The batch recompute (``compute_all``, ``transcripts``) and the single-user path give the same results.

Both are also checked against the per-session rules composed as the transcript did before the
batch path (timeline rebuilt per call, every sweep run), on generated evidence with ties, several
players, stops before starts, unanswered prompts and faculty publishing.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.attendance import (
    AttentionPrompt,
    Interval,
    InvalidEvidence,
    MediaEvent,
    PublishEvent,
    TabState,
    attention_gaps,
    attribute_once,
    from_spans,
    media_intervals,
    publishing_intervals,
    watch_intervals,
)  # fmt: skip
from server.catalogue import Catalogue, Session
from server.conference_file import load_conference
from server.credit import Basis, CreditClaim, CreditType
from server.credit_transcript import Measured, learner_of, transcript, transcripts
from server.store.attendance import Recorded
from server.transcript import (
    SessionTime,
    Transcript,
    compute,
    compute_all,
    published,
    timeline,
    watched,
)
from tests.conftest import DEMO

CAT = load_conference(DEMO).catalogue
INF = float("inf")
PROFESSIONS = ("physician", "nurse", "pharmacist", "physician assistant", "unknown")


def reference(user_id: int, cat: Catalogue, recorded: dict[str, Recorded], until: float) -> Transcript:
    """The transcript as ``compute`` built it before the batch path, from the rules alone."""
    found = [(s, recorded[s.id]) for s in sorted(cat.sessions, key=lambda s: (s.start, s.id)) if s.id in recorded]
    lines = {}
    for s, rec in found:
        accredited = from_spans(s.accredited_timeline())
        seen = watch_intervals(media_intervals(rec.media, INF), rec.pages(), accredited,
                               attention_gaps(rec.prompts.values(), INF))
        lines[s.id] = (seen, publishing_intervals(rec.publishing, accredited, until))
    counted = attribute_once({sid: w for sid, (w, _) in lines.items()})
    return Transcript(user_id, tuple(SessionTime(s, lines[s.id][0], counted[s.id], lines[s.id][1]) for s, _ in found))


def latest(recorded: dict[str, Recorded]) -> float:
    """``compute``'s default ``until``: the newest evidence."""
    times = [0.0]
    for r in recorded.values():
        times += [e.at for e in r.media] + [e.at for e in r.publishing] + [t.last for t in r.tabs.values()]
        times += [iv.end for iv in r.stretches]
    return max(times)


@st.composite
def evidence(draw: st.DrawFn, session: Session) -> Recorded:
    """One attendee's stored evidence in one session; whole minutes make ties common."""
    start, minutes = session.start.timestamp(), (session.end - session.start).total_seconds() / 60
    at = st.one_of(st.builds(lambda m: start + 60.0 * m, st.integers(-20, int(minutes) + 20)),
                   st.floats(start - 1200, start + 60 * minutes + 1200, allow_nan=False))
    rec = Recorded()
    rec.media = draw(st.lists(st.builds(MediaEvent, at, st.sampled_from(("p1", "p2")), st.booleans()), max_size=5))
    rec.publishing = draw(st.lists(st.builds(PublishEvent, at, st.sampled_from(("cam", "screen")), st.booleans()),
                                   max_size=3))
    rec.stretches = draw(st.lists(st.builds(Interval, at, at), max_size=4))
    rec.tabs = draw(st.dictionaries(st.sampled_from(("t1", "t2")),
                                    st.builds(TabState, at, st.booleans(), st.one_of(st.none(), at)), max_size=2))
    shown = draw(st.lists(at, max_size=2))
    answered = [None if d is None else s + d for s, d in zip(shown, draw(
        st.lists(st.one_of(st.none(), st.floats(0, 600)), min_size=len(shown), max_size=len(shown))), strict=True)]
    rec.prompts = {f"a{i}": AttentionPrompt(s, a) for i, (s, a) in enumerate(zip(shown, answered, strict=True))}
    return rec


@st.composite
def attendee(draw: st.DrawFn) -> dict[str, Recorded]:
    """Evidence in some of the demo conference's sessions (parallel ones, a break, a non-accredited one)."""
    chosen = draw(st.lists(st.sampled_from(CAT.sessions), unique_by=lambda s: s.id, max_size=len(CAT.sessions)))
    return {s.id: draw(evidence(s)) for s in chosen}


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(st.data())
def test_watched_and_published_are_the_rules_on_any_evidence(data: st.DataObject) -> None:
    session = data.draw(st.sampled_from(CAT.sessions))
    rec, until = data.draw(evidence(session)), session.end.timestamp() + 300
    accredited = from_spans(session.accredited_timeline())
    assert timeline(session) == accredited
    assert watched(rec, timeline(session)) == watch_intervals(
        media_intervals(rec.media, INF), rec.pages(), accredited, attention_gaps(rec.prompts.values(), INF))
    assert published(rec, timeline(session), until) == publishing_intervals(rec.publishing, accredited, until)


@SETTINGS
@given(st.lists(attendee(), min_size=1, max_size=4), st.sampled_from((None, 0.0, 1e12)))
def test_batch_and_single_user_transcripts_agree_with_the_rules(people: list[dict[str, Recorded]],
                                                                until: float | None) -> None:
    batch = list(compute_all(CAT, enumerate(people), until))
    single = [compute(uid, CAT, rec, until) for uid, rec in enumerate(people)]
    assert batch == single
    for uid, rec in enumerate(people):
        assert single[uid] == reference(uid, CAT, rec, latest(rec) if until is None else until)


def test_batch_credit_transcripts_equal_single_user_ones() -> None:
    sessions = sorted(CAT.sessions, key=lambda s: (s.start, s.id))
    first = sessions[0]
    people = []
    for i in range(40):
        measured = {s.id: Measured(float((i * 7 + n * 13) % 120) * 60, float(i % 3) * 900)
                    for n, s in enumerate(sessions) if (i + n) % 4}
        evaluations = {s.id: 120.0 for n, s in enumerate(sessions) if (i + n) % 3 == 0}
        faculty = [s.id for s in sessions if s.faculty and i % 5 == 0][:2]
        claims = [CreditClaim(i, first.id, CreditType.AMA_PRA_1, Basis.LEARNER, Decimal("0.50"), first.end)] \
            if i % 6 == 0 else []
        people.append((learner_of(PROFESSIONS[i % len(PROFESSIONS)], "1234567", 3, 14), faculty, measured,
                       evaluations, claims))
    for now in (first.start + timedelta(minutes=10), sessions[-1].end + timedelta(hours=1)):
        batch = list(transcripts(CAT, people, now))
        assert batch == [transcript(CAT, *person, now) for person in people]
        statuses = {e.status for entries in batch for e in entries}
        assert len(statuses) >= 3  # the data reaches several statuses, not one path


def test_an_invalid_prompt_is_rejected_without_media_in_both_paths() -> None:
    session = CAT.sessions[0]
    rec = Recorded(prompts={"a1": AttentionPrompt(session.start.timestamp() + 60, session.start.timestamp())})
    with pytest.raises(InvalidEvidence):
        compute(1, CAT, {session.id: rec}, 0.0)
    with pytest.raises(InvalidEvidence):
        list(compute_all(CAT, [(1, {session.id: rec})], 0.0))


def test_a_reloaded_catalogue_gets_its_own_timelines() -> None:
    session = CAT.sessions[0]
    moved = replace(session, start=session.start + timedelta(hours=1), end=session.end + timedelta(hours=1))
    other = Catalogue(CAT.conference, CAT.tracks, (moved, *CAT.sessions[1:]), CAT.booths)
    start = session.start.timestamp()
    rec = Recorded(media=[MediaEvent(start, "p1", True)], stretches=[Interval(start, start + 7200)])
    before = compute(1, CAT, {session.id: rec}).sessions[0].watched
    after = compute(1, other, {session.id: rec}).sessions[0].watched
    assert before != after
    assert after == reference(1, other, {session.id: rec}, start + 7200).sessions[0].watched


@pytest.mark.parametrize("events", [
    [(0, "p1", True), (0, "p1", False)],  # a stop at the start's instant sorts first: still flowing
    [(600, "p1", False), (0, "p1", True)],  # stored out of order
    [(0, "p1", True), (600, "p2", False)],  # another player's stop
    [(0, "p1", True), (600, "p1", True)],  # a second start
])
def test_the_usual_player_record_shortcut_keeps_the_rules_edge_cases(events: list[tuple[int, str, bool]]) -> None:
    session = CAT.sessions[0]
    start = session.start.timestamp()
    rec = Recorded(media=[MediaEvent(start + at, player, started) for at, player, started in events],
                   stretches=[Interval(start, start + 1800)])
    expected = watch_intervals(media_intervals(rec.media, INF), rec.pages(), timeline(session))
    assert expected  # each case still flows: a wrong shortcut would lose time
    assert watched(rec, timeline(session)) == expected
