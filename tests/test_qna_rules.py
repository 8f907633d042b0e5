"""The Q&A rules as plain functions: states, moves, visibility, ordering, coalescing."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.errors import BadRequest, Conflict
from server.qna import (
    Question,
    Status,
    Throttle,
    Viewer,
    apply,
    audience_order,
    can_vote,
    check_text,
    initial_status,
    view,
    visible,
)

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
AUTHOR = 7


def question(qid: int = 1, status: Status = Status.PENDING, **kw: object) -> Question:
    values: dict[str, object] = {
        "id": qid, "session": "s1", "author_id": AUTHOR, "author_name": "Maria Lopez", "anonymous": False,
        "text": "Why ARNI first?", "status": status, "created_at": T0 + timedelta(seconds=qid),
    }
    values.update(kw)
    return Question(**values)  # type: ignore[arg-type]


def test_premoderated_questions_start_pending_and_others_approved() -> None:
    assert initial_status(True) is Status.PENDING
    assert initial_status(False) is Status.APPROVED


def test_text_is_trimmed_and_bounded() -> None:
    assert check_text("  Why?  ", 500) == "Why?"
    with pytest.raises(BadRequest):
        check_text("   ", 500)
    with pytest.raises(BadRequest):
        check_text("x" * 501, 500)
    with pytest.raises(BadRequest):
        check_text("bell\x07", 500)
    assert check_text("x" * 500, 500) == "x" * 500


def test_approve_then_answer_moves_through_states_and_bumps_versions() -> None:
    approved = apply("approve", question()).after
    assert approved.status is Status.APPROVED and approved.version == 2
    answered = apply("answered", approved).after
    assert answered.status is Status.ANSWERED and answered.version == 3


def test_a_pending_question_cannot_be_answered_staged_or_pinned() -> None:
    for action in ("answered", "stage", "pin"):
        with pytest.raises(Conflict):
            apply(action, question())


def test_dismiss_keeps_reason_and_clears_stage_and_pin() -> None:
    q = question(status=Status.APPROVED, on_stage=True, pinned=True)
    after = apply("dismiss", q, reason="off topic").after
    assert (after.status, after.dismiss_reason, after.on_stage, after.pinned) == (Status.DISMISSED, "off topic",
                                                                                 False, False)


def test_a_dismissed_question_can_be_approved_again_and_loses_its_reason() -> None:
    after = apply("approve", question(status=Status.DISMISSED, dismiss_reason="dup")).after
    assert after.status is Status.APPROVED and after.dismiss_reason == ""


def test_edit_keeps_the_first_original_text() -> None:
    once = apply("edit", question(), text="Why ARNI first-line?").after
    twice = apply("edit", once, text="Why start with ARNI?").after
    assert once.original_text == "Why ARNI first?"
    assert twice.original_text == "Why ARNI first?" and twice.text == "Why start with ARNI?"


def test_edit_to_the_same_text_is_refused() -> None:
    with pytest.raises(Conflict):
        apply("edit", question(), text="Why ARNI first?")


def test_merge_marks_the_duplicate_and_hands_stage_and_pin_to_the_target() -> None:
    dup = question(1, Status.APPROVED, on_stage=True, pinned=True)
    target = question(2, Status.APPROVED)
    move = apply("merge", dup, into=target)
    assert move.after.status is Status.MERGED and move.after.merged_into == 2 and not move.after.on_stage
    (before, after), = move.others
    assert before == target and after.on_stage and after.pinned


def test_merge_refuses_itself_other_sessions_and_closed_targets() -> None:
    q = question(1)
    with pytest.raises(BadRequest):
        apply("merge", q, into=q)
    with pytest.raises(BadRequest):
        apply("merge", q, into=question(2, session="other"))
    with pytest.raises(BadRequest):
        apply("merge", q, into=None)
    with pytest.raises(Conflict):
        apply("merge", q, into=question(2, Status.DISMISSED))


def test_stage_replaces_the_question_on_stage() -> None:
    old = question(1, Status.APPROVED, on_stage=True)
    move = apply("stage", question(2, Status.APPROVED), staged=old)
    assert move.after.on_stage
    assert [(b.id, a.on_stage) for b, a in move.others] == [(1, False)]


def test_stage_off_and_pin_toggle_refuse_no_ops() -> None:
    with pytest.raises(Conflict):
        apply("stage", question(status=Status.APPROVED), on=False)
    with pytest.raises(Conflict):
        apply("pin", question(status=Status.APPROVED), on=False)
    assert apply("pin", question(status=Status.APPROVED), on=True).after.pinned


def test_unknown_action_is_a_bad_request() -> None:
    with pytest.raises(BadRequest):
        apply("delete", question())


def test_only_approved_questions_take_votes() -> None:
    can_vote(question(status=Status.APPROVED))
    for status in (Status.PENDING, Status.DISMISSED, Status.ANSWERED, Status.MERGED):
        with pytest.raises(Conflict):
            can_vote(question(status=status))


def test_attendees_never_see_anonymous_authors() -> None:
    q = question(status=Status.APPROVED, anonymous=True)
    body = view(q, Viewer(99))
    assert body is not None and body["author"] is None and "Maria" not in str(body)


def test_moderators_always_see_who_asked_and_why_it_was_dismissed() -> None:
    q = question(status=Status.DISMISSED, anonymous=True, dismiss_reason="duplicate")
    body = view(q, Viewer(99, moderator=True))
    assert body is not None and body["author"]["name"] == "Maria Lopez" and body["dismiss_reason"] == "duplicate"


def test_the_author_sees_their_dismissed_question_but_not_the_reason() -> None:
    body = view(question(status=Status.DISMISSED, dismiss_reason="rude"), Viewer(AUTHOR))
    assert body is not None and body["status"] == "dismissed" and body["mine"] is True
    assert "rude" not in str(body)


statuses = st.sampled_from(list(Status))


@given(status=statuses, anonymous=st.booleans(), viewer_id=st.integers(1, 20), moderator=st.booleans())
def test_no_view_leaks_a_hidden_question_or_an_anonymous_author(
    status: Status, anonymous: bool, viewer_id: int, moderator: bool
) -> None:
    q = question(status=status, anonymous=anonymous, author_id=5, author_name="Secret Name")
    body = view(q, Viewer(viewer_id, moderator))
    if moderator or viewer_id == 5:
        assert body is not None
        return
    assert (body is None) == (status not in (Status.APPROVED, Status.ANSWERED))
    assert visible(q, Viewer(viewer_id)) == (body is not None)
    if body is not None and anonymous:
        assert "Secret Name" not in str(body)


@given(st.lists(st.tuples(st.integers(0, 50), st.booleans()), min_size=1, max_size=30))
def test_audience_order_puts_pinned_first_then_most_votes(items: list[tuple[int, bool]]) -> None:
    qs = [question(i + 1, Status.APPROVED, votes=v, pinned=p) for i, (v, p) in enumerate(items)]
    ordered = audience_order(qs)
    keys = [(not q.pinned, -q.votes) for q in ordered]
    assert keys == sorted(keys)


def test_throttle_sends_the_first_change_at_once_and_coalesces_the_rest() -> None:
    throttle = Throttle(0.25)
    assert throttle.mark(1, now=10.0) == 0.0
    assert throttle.mark(2, now=10.01) is None  # already scheduled
    assert throttle.take(now=10.02) == {1, 2}
    delay = throttle.mark(1, now=10.1)
    assert delay == pytest.approx(0.17)
    assert throttle.mark(1, now=10.2) is None
    assert throttle.take(now=10.27) == {1}


@given(st.lists(st.floats(0, 0.05), min_size=1, max_size=400))
def test_a_vote_storm_yields_at_most_one_flush_per_interval(gaps: list[float]) -> None:
    throttle, now, flushes, due = Throttle(0.25), 0.0, [], None
    for gap in gaps:
        now += gap
        if due is not None and now >= due:
            throttle.take(due)
            flushes.append(due)
            due = None
        delay = throttle.mark(1, now)
        if delay is not None:
            due = now + delay
    assert all(b - a >= 0.25 - 1e-9 for a, b in itertools.pairwise(flushes))
