"""Watch-time rules of issue 6: named cases and hypothesis properties (pure functions)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.attendance import (
    AttentionPrompt,
    Heartbeat,
    Interval,
    InvalidEvidence,
    MediaEvent,
    PublishEvent,
    SessionEvidence,
    TabState,
    accredited_timeline,
    advance_tab,
    attribute_once,
    clip,
    conference_seconds,
    from_spans,
    intersect,
    media_intervals,
    page_intervals,
    publishing_intervals,
    session_watch,
    subtract,
    total_seconds,
    union,
)
from server.catalogue import Span

TOL = 45.0  # heartbeat tolerance used by the named cases (the default setting)
HOUR = (Interval(0, 3600),)


def beats(tab: str, start: float, end: float, every: float = 15, visible: bool = True,
          playing: bool = True) -> list[Heartbeat]:
    """Heartbeats of one tab from start to end inclusive."""
    out, t = [], start
    while t <= end:
        out.append(Heartbeat(t, tab, visible, playing))
        t += every
    return out


def media(player: str, start: float, end: float | None = None) -> list[MediaEvent]:
    """Media started (and stopped, unless end is None) for one player."""
    events = [MediaEvent(start, player, True)]
    if end is not None:
        events.append(MediaEvent(end, player, False))
    return events


def watched(media_events: list[MediaEvent], heartbeats: list[Heartbeat],
            prompts: tuple[AttentionPrompt, ...] = (), timeline: tuple[Interval, ...] = HOUR,
            until: float = 3600) -> float:
    evidence = SessionEvidence(tuple(media_events), tuple(heartbeats), prompts)
    return total_seconds(session_watch(evidence, timeline, TOL, until))


# -- interval arithmetic ---------------------------------------------------------------------


def test_union_merges_overlapping_and_touching_and_drops_empty() -> None:
    assert union([(10, 20), (0, 5), (5, 8), (15, 30), (40, 40), (50, 45)]) == (
        Interval(0, 8), Interval(10, 30))


def test_subtract_splits_and_trims() -> None:
    assert subtract([(0, 100)], [(10, 20), (90, 120), (-5, 2)]) == (
        Interval(2, 10), Interval(20, 90))


def test_intersect_and_clip_keep_only_common_time() -> None:
    assert intersect([(0, 10), (20, 30)], [(5, 25)]) == (Interval(5, 10), Interval(20, 25))
    assert clip([(-100, 50), (3000, 9000)], (0, 3600)) == (Interval(0, 50), Interval(3000, 3600))


def test_total_seconds_counts_overlaps_once() -> None:
    assert total_seconds([(0, 60), (30, 90), (30, 90)]) == 90


def test_accredited_timeline_removes_breaks_and_non_accredited_segments() -> None:
    timeline = accredited_timeline((0, 3600), [(1200, 1500), (3300, 3700)])
    assert timeline == (Interval(0, 1200), Interval(1500, 3300))


def test_from_spans_reads_catalogue_datetimes_as_posix_seconds() -> None:
    t0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    spans = [Span(t0, t0 + timedelta(minutes=30)), Span(t0 + timedelta(minutes=45), t0 + timedelta(hours=1))]
    assert from_spans(spans) == (Interval(t0.timestamp(), t0.timestamp() + 1800),
                                 Interval(t0.timestamp() + 2700, t0.timestamp() + 3600))


# -- named watch-time cases ---------------------------------------------------------------------


def test_one_tab_watching_the_whole_session_counts_the_session() -> None:
    assert watched(media("p1", 0, 3600), beats("a", 0, 3600)) == 3600


def test_two_devices_never_count_twice() -> None:
    laptop = media("laptop", 0, 2400) + media("phone", 1200, 3600)
    hb = beats("laptop", 0, 2400) + beats("phone", 1200, 3600)
    assert watched(laptop, hb) == 3600


def test_two_tabs_on_one_player_never_count_twice() -> None:
    hb = beats("tab1", 0, 3600) + beats("tab2", 0, 3600)
    assert watched(media("p1", 0, 3600), hb) == 3600


def test_a_gap_longer_than_the_tolerance_closes_the_interval() -> None:
    hb = beats("a", 0, 600) + beats("a", 700, 1300)  # 100 s without a heartbeat
    assert watched(media("p1", 0, 3600), hb) == 600 + 600


def test_a_gap_equal_to_the_tolerance_keeps_the_interval_open() -> None:
    hb = beats("a", 0, 600) + beats("a", 645, 1200)
    assert watched(media("p1", 0, 3600), hb) == 1200


def test_breaks_do_not_count() -> None:
    timeline = accredited_timeline((0, 3600), [(1200, 1500)])
    assert watched(media("p1", 0, 3600), beats("a", 0, 3600), timeline=timeline) == 3300


def test_time_outside_the_timeline_edges_does_not_count() -> None:
    assert watched(media("p1", -600, 4200), beats("a", -600, 4200), until=4200) == 3600


def test_an_answered_attention_check_stops_the_clock_until_the_answer() -> None:
    prompts = (AttentionPrompt(600, 660),)
    assert watched(media("p1", 0, 3600), beats("a", 0, 3600), prompts) == 3540


def test_an_unanswered_attention_check_stops_the_clock_for_good() -> None:
    prompts = (AttentionPrompt(3000, None),)
    assert watched(media("p1", 0, 3600), beats("a", 0, 3600), prompts) == 3000


def test_an_attention_check_answered_before_it_was_shown_is_invalid() -> None:
    with pytest.raises(InvalidEvidence) as err:
        watched(media("p1", 0, 3600), beats("a", 0, 3600), (AttentionPrompt(600, 500),))
    assert err.value.status == 400


def test_a_hidden_tab_does_not_count_until_it_becomes_visible() -> None:
    hb = beats("a", 0, 105, visible=False) + beats("a", 120, 3600)
    assert watched(media("p1", 0, 3600), hb) == 3600 - 120


def test_a_tab_hidden_midway_stops_counting_at_the_hidden_heartbeat() -> None:
    hb = beats("a", 0, 1200) + beats("a", 1210, 3600, visible=False)
    assert watched(media("p1", 0, 3600), hb) == 1210


def test_same_instant_visible_and_hidden_beats_read_as_hidden_in_any_order() -> None:
    first, last = Heartbeat(0, "a", True, True), Heartbeat(20, "a", True, True)
    shown, hidden = Heartbeat(10, "a", True, True), Heartbeat(10, "a", False, True)
    assert page_intervals([first, shown, hidden, last], TOL) == (Interval(0, 10),)
    assert page_intervals([first, hidden, shown, last], TOL) == (Interval(0, 10),)


def test_a_paused_player_does_not_count() -> None:
    assert watched(media("p1", 0, 3600), beats("a", 0, 3600, playing=False)) == 0


def test_heartbeats_without_media_do_not_count() -> None:
    assert watched([], beats("a", 0, 3600)) == 0


def test_media_without_heartbeats_does_not_count() -> None:
    assert watched(media("p1", 0, 3600), []) == 0


def test_media_to_a_closed_page_counts_only_until_the_last_heartbeat() -> None:
    # The player never reported stopping (e.g. the process died): heartbeats bound the time.
    assert watched(media("p1", 0), beats("a", 0, 900), until=3600) == 900


def test_a_running_session_counts_up_to_now() -> None:
    assert watched(media("p1", 0), beats("a", 0, 300), until=300) == 300


def test_a_player_restarting_at_the_same_instant_keeps_flowing() -> None:
    events = media("p1", 1800, 3600) + media("p1", 0, 1800)  # the restart arrives first
    assert total_seconds(media_intervals(events, 3600)) == 3600


def test_a_stop_without_a_start_is_ignored() -> None:
    assert media_intervals([MediaEvent(100, "p1", False)], 3600) == ()


def test_faculty_publishing_time_counts_camera_and_screen_once_inside_the_timeline() -> None:
    events = [PublishEvent(-300, "camera", True), PublishEvent(600, "screen", True),
              PublishEvent(1800, "screen", False), PublishEvent(2400, "camera", False)]
    timeline = accredited_timeline((0, 3600), [(1200, 1500)])
    assert total_seconds(publishing_intervals(events, timeline, 3600)) == 2400 - 300


def test_parallel_sessions_count_once_toward_the_conference_total() -> None:
    track_a, track_b = [Interval(0, 3600)], [Interval(1800, 5400)]
    assert conference_seconds([track_a, track_b]) == 5400


def test_attribution_keeps_overlapping_time_with_the_session_watched_first() -> None:
    parts = attribute_once({"b": [Interval(1800, 5400)], "a": [Interval(0, 3600)]})
    assert parts == {"a": (Interval(0, 3600),), "b": (Interval(3600, 5400),)}


def test_tab_checkpoints_close_a_stretch_on_a_gap_and_on_a_hidden_beat() -> None:
    state, closed = advance_tab(None, Heartbeat(0, "a", True, True), TOL)
    state, closed = advance_tab(state, Heartbeat(15, "a", True, True), TOL)
    assert closed is None and state.open_interval == Interval(0, 15)
    state, closed = advance_tab(state, Heartbeat(100, "a", True, True), TOL)
    assert closed == Interval(0, 15) and state.open_interval is None
    state, closed = advance_tab(state, Heartbeat(110, "a", False, True), TOL)
    assert closed == Interval(100, 110) and state == TabState(110, False)


def test_tab_checkpoints_ignore_a_heartbeat_older_than_the_last() -> None:
    state, _ = advance_tab(None, Heartbeat(100, "a", True, True), TOL)
    assert advance_tab(state, Heartbeat(50, "a", False, False), TOL) == (state, None)


# -- properties -------------------------------------------------------------------------------

times = st.integers(min_value=0, max_value=4000)
spans = st.lists(st.tuples(times, times).map(lambda p: Interval(min(p), max(p))), max_size=12)
coarse_times = st.integers(min_value=0, max_value=400).map(lambda t: t * 10)  # same-instant ties
heartbeat_lists = st.lists(st.builds(Heartbeat, coarse_times, st.sampled_from(["a", "b", "c"]),
                                     st.booleans(), st.booleans()), max_size=40)
media_lists = st.lists(st.builds(MediaEvent, st.integers(0, 40).map(lambda t: t * 100), st.sampled_from(["p1", "p2"]), st.booleans()),
                       max_size=12)
prompt_lists = st.lists(st.tuples(times, st.none() | st.integers(0, 400)).map(
    lambda p: AttentionPrompt(p[0], None if p[1] is None else p[0] + p[1])), max_size=3)
UNTIL = 4000


@settings(deadline=None)
@given(spans, st.randoms(use_true_random=False))
def test_union_is_order_independent_and_idempotent(items: list[Interval], rnd: random.Random) -> None:
    shuffled = list(items)
    rnd.shuffle(shuffled)
    assert union(shuffled) == union(items)
    assert union(union(items)) == union(items)
    assert union(items + items) == union(items)


@settings(deadline=None)
@given(spans)
def test_union_never_exceeds_wall_time_or_the_sum_of_its_parts(items: list[Interval]) -> None:
    total = total_seconds(items)
    assert total <= sum(iv.seconds for iv in items)
    if items:
        assert total <= max(iv.end for iv in items) - min(iv.start for iv in items)


@settings(deadline=None)
@given(spans, spans)
def test_intersection_and_difference_partition_a_set(a: list[Interval], b: list[Interval]) -> None:
    both, only_a = intersect(a, b), subtract(a, b)
    assert total_seconds(both) + total_seconds(only_a) == total_seconds(a)
    assert intersect(both, only_a) == ()
    assert union(list(both) + list(only_a)) == union(a)


@settings(deadline=None)
@given(media_lists, heartbeat_lists, prompt_lists, spans, st.randoms(use_true_random=False))
def test_watch_time_stays_inside_the_timeline_the_evidence_and_wall_time(
        media_events: list[MediaEvent], hb: list[Heartbeat], prompts: list[AttentionPrompt],
        timeline: list[Interval], rnd: random.Random) -> None:
    evidence = SessionEvidence(tuple(media_events), tuple(hb), tuple(prompts))
    result = session_watch(evidence, timeline, TOL, UNTIL)
    assert subtract(result, timeline) == ()
    assert subtract(result, media_intervals(media_events, UNTIL)) == ()
    assert subtract(result, page_intervals(hb, TOL)) == ()
    assert total_seconds(result) <= total_seconds(timeline)
    if hb:
        assert total_seconds(result) <= max(b.at for b in hb) - min(b.at for b in hb)
    for p in prompts:
        assert intersect(result, [(p.shown_at, UNTIL if p.answered_at is None else p.answered_at)]) == ()
    # Order-independent: evidence arriving in any order gives the same time.
    m, h, ps = list(media_events), list(hb), list(prompts)
    rnd.shuffle(m)
    rnd.shuffle(h)
    rnd.shuffle(ps)
    again = SessionEvidence(tuple(m), tuple(h), tuple(ps))
    assert session_watch(again, timeline, TOL, UNTIL) == result


@settings(deadline=None)
@given(media_lists, heartbeat_lists)
def test_a_second_tab_with_the_same_heartbeats_adds_nothing(media_events: list[MediaEvent],
                                                            hb: list[Heartbeat]) -> None:
    one = SessionEvidence(tuple(media_events), tuple(hb))
    copy = tuple(Heartbeat(b.at, b.tab + "-copy", b.visible, b.playing) for b in hb)
    two = SessionEvidence(tuple(media_events), tuple(hb) + copy)
    assert session_watch(two, HOUR, TOL, UNTIL) == session_watch(one, HOUR, TOL, UNTIL)


@settings(deadline=None)
@given(st.lists(spans, max_size=5))
def test_overlapping_sessions_count_once(per_session: list[list[Interval]]) -> None:
    total = conference_seconds(per_session)
    assert total <= sum(total_seconds(s) for s in per_session)
    assert all(total >= total_seconds(s) for s in per_session)
    parts = attribute_once({str(i): s for i, s in enumerate(per_session)})
    assert sum(total_seconds(p) for p in parts.values()) == total
    assert union([iv for p in parts.values() for iv in p]) == union([iv for s in per_session for iv in s])
    for i, s in enumerate(per_session):
        assert subtract(parts[str(i)], s) == ()


@settings(deadline=None)
@given(heartbeat_lists)
def test_tab_checkpoints_give_the_same_time_as_the_raw_heartbeats(hb: list[Heartbeat]) -> None:
    ordered = sorted(hb, key=lambda b: (b.at, not b.watching))
    states: dict[str, TabState | None] = {}
    closed: list[Interval] = []
    for beat in ordered:
        state, done = advance_tab(states.get(beat.tab), beat, TOL)
        states[beat.tab] = state
        if done is not None:
            closed.append(done)
    still_open = [s.open_interval for s in states.values() if s is not None]
    assert union(closed + [iv for iv in still_open if iv is not None]) == page_intervals(hb, TOL)
