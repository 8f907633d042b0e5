"""Q&A rules (pure): question states and moves, who may see what, vote coalescing.

A question is ``pending`` until a moderator approves it (or at once ``approved`` when the
session has no pre-moderation), then ``answered``; a moderator may ``dismiss`` it (with a reason
only moderators see) or ``merge`` it into a duplicate (status ``merged``, votes combine). Edits keep
the first original text. One question per session is ``on_stage``; pinned questions lead the list.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from .errors import BadRequest, Conflict

__all__ = [
    "ACTIONS",
    "Move",
    "Question",
    "Status",
    "Throttle",
    "Viewer",
    "apply",
    "audience_order",
    "author_view",
    "check_text",
    "moderator_view",
    "public_view",
    "publicly_visible",
    "queue_order",
    "view",
    "visible",
]


class Status(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DISMISSED = "dismissed"
    ANSWERED = "answered"
    MERGED = "merged"


# What the audience (not only author and moderators) may see.
_PUBLIC = frozenset({Status.APPROVED, Status.ANSWERED})


@dataclass(frozen=True, slots=True)
class Question:
    """One question in one session, as stored."""

    id: int
    session: str
    author_id: int
    author_name: str
    anonymous: bool
    text: str
    status: Status
    created_at: datetime
    votes: int = 0
    original_text: str | None = None  # the text as asked, once a moderator edited it
    dismiss_reason: str = ""
    merged_into: int | None = None
    pinned: bool = False
    on_stage: bool = False
    version: int = 1  # grows with every change, so clients keep the newest state


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is looking: their user id and whether they may moderate this session."""

    user_id: int
    moderator: bool = False


def check_text(text: str, max_len: int) -> str:
    """The question text trimmed; raises :class:`BadRequest` when empty, too long or not plain."""
    text = text.strip()
    if not text:
        raise BadRequest("write a question first", field="text")
    if len(text) > max_len:
        raise BadRequest(f"a question has at most {max_len} characters", field="text")
    if any(ord(ch) < 32 and ch not in "\n\t" for ch in text):
        raise BadRequest("the question contains control characters", field="text")
    return text


def initial_status(premoderation: bool) -> Status:
    """Pre-moderated questions wait for a moderator; otherwise they reach the audience at once."""
    return Status.PENDING if premoderation else Status.APPROVED


# -- visibility --------------------------------------------------------------------------------

def publicly_visible(q: Question) -> bool:
    """Whether any attendee of the session may see ``q``."""
    return q.status in _PUBLIC


def visible(q: Question, viewer: Viewer) -> bool:
    """Attendees see approved and answered questions and their own; moderators see all."""
    return viewer.moderator or viewer.user_id == q.author_id or publicly_visible(q)


def _base(q: Question) -> dict[str, Any]:
    return {
        "id": q.id,
        "session": q.session,
        "text": q.text,
        "status": q.status.value,
        "votes": q.votes,
        "pinned": q.pinned,
        "on_stage": q.on_stage,
        "anonymous": q.anonymous,
        "edited": q.original_text is not None,
        "merged_into": q.merged_into,
        "created_at": q.created_at.isoformat(),
        "version": q.version,
    }


def public_view(q: Question) -> dict[str, Any]:
    """What everyone in the audience may see: no author when asked anonymously."""
    body = _base(q)
    body["author"] = None if q.anonymous else {"name": q.author_name}
    return body


def author_view(q: Question) -> dict[str, Any]:
    """What the author sees of their own question (not the dismissal reason)."""
    body = _base(q)
    body["author"] = {"name": q.author_name}
    body["mine"] = True
    return body


def moderator_view(q: Question) -> dict[str, Any]:
    """Everything: moderators and organizers always see who asked, the original and the reason."""
    body = _base(q)
    body["author"] = {"id": q.author_id, "name": q.author_name}
    body["original_text"] = q.original_text
    body["dismiss_reason"] = q.dismiss_reason
    return body


def view(q: Question, viewer: Viewer) -> dict[str, Any] | None:
    """``q`` as ``viewer`` may see it, or None when they may not."""
    if viewer.moderator:
        body = moderator_view(q)
        if q.author_id == viewer.user_id:
            body["mine"] = True
        return body
    if q.author_id == viewer.user_id:
        return author_view(q)
    return public_view(q) if publicly_visible(q) else None


def audience_order(questions: Iterable[Question]) -> list[Question]:
    """Pinned first, then most votes, then oldest first."""
    return sorted(questions, key=lambda q: (not q.pinned, -q.votes, q.created_at, q.id))


def queue_order(questions: Iterable[Question]) -> list[Question]:
    """The moderators' incoming queue: oldest first."""
    return sorted(questions, key=lambda q: (q.created_at, q.id))


# -- moderation moves --------------------------------------------------------------------------

ACTIONS = ("approve", "dismiss", "edit", "merge", "pin", "stage", "answered")


@dataclass(frozen=True, slots=True)
class Move:
    """What a moderation action changes: the question, and other questions it touches."""

    before: Question
    after: Question
    others: tuple[tuple[Question, Question], ...] = ()  # (before, after) of other questions


def _bump(q: Question, **changes: Any) -> Question:
    return replace(q, version=q.version + 1, **changes)


def _need(q: Question, allowed: frozenset[Status], what: str) -> None:
    if q.status not in allowed:
        raise Conflict(f"a {q.status.value} question cannot be {what}", status=q.status.value)


def apply(
    action: str,
    q: Question,
    *,
    reason: str = "",
    text: str = "",
    into: Question | None = None,
    on: bool = True,
    staged: Question | None = None,
) -> Move:
    """The move ``action`` makes on ``q``; raises :class:`BadRequest` or :class:`Conflict`.

    ``staged`` is the session's current on-stage question (replaced by ``stage``), ``into`` the
    target of a merge (its vote count is settled by the store, which knows the voters).
    """
    open_ = frozenset({Status.PENDING, Status.APPROVED})
    if action == "approve":
        _need(q, frozenset({Status.PENDING, Status.DISMISSED}), "approved")
        return Move(q, _bump(q, status=Status.APPROVED, dismiss_reason=""))
    if action == "dismiss":
        _need(q, open_, "dismissed")
        return Move(q, _bump(q, status=Status.DISMISSED, dismiss_reason=reason, on_stage=False, pinned=False))
    if action == "edit":
        _need(q, frozenset({Status.PENDING, Status.APPROVED, Status.ANSWERED}), "edited")
        if text == q.text:
            raise Conflict("the text is unchanged")
        original = q.original_text if q.original_text is not None else q.text
        return Move(q, _bump(q, text=text, original_text=original))
    if action == "merge":
        return _merge(q, into)
    if action == "pin":
        _need(q, frozenset({Status.APPROVED}), "pinned")
        if q.pinned == on:
            raise Conflict("the question is already pinned" if on else "the question is not pinned")
        return Move(q, _bump(q, pinned=on))
    if action == "stage":
        return _stage(q, on, staged)
    if action == "answered":
        _need(q, frozenset({Status.APPROVED}), "marked answered")
        return Move(q, _bump(q, status=Status.ANSWERED, on_stage=False, pinned=False))
    raise BadRequest(f"action must be one of {', '.join(ACTIONS)}", field="action")


def _merge(q: Question, into: Question | None) -> Move:
    if into is None:
        raise BadRequest("say which question to merge into", field="into")
    if into.id == q.id:
        raise BadRequest("a question cannot be merged into itself", field="into")
    if into.session != q.session:
        raise BadRequest("both questions must belong to the same session", field="into")
    _need(q, frozenset({Status.PENDING, Status.APPROVED}), "merged")
    _need(into, frozenset({Status.PENDING, Status.APPROVED, Status.ANSWERED}), "merged into")
    after = _bump(q, status=Status.MERGED, merged_into=into.id, on_stage=False, pinned=False)
    # A staged or pinned duplicate hands its place to the question it joins.
    target = _bump(into, on_stage=into.on_stage or q.on_stage, pinned=into.pinned or q.pinned)
    return Move(q, after, ((into, target),))


def _stage(q: Question, on: bool, staged: Question | None) -> Move:
    if not on:
        if not q.on_stage:
            raise Conflict("the question is not on stage")
        return Move(q, _bump(q, on_stage=False))
    _need(q, frozenset({Status.APPROVED}), "put on stage")
    if q.on_stage:
        raise Conflict("the question is already on stage")
    others: tuple[tuple[Question, Question], ...] = ()
    if staged is not None and staged.id != q.id:
        others = ((staged, _bump(staged, on_stage=False)),)
    return Move(q, _bump(q, on_stage=True), others)


def can_vote(q: Question) -> None:
    """Raises :class:`Conflict` unless ``q`` takes votes (approved questions only)."""
    if q.status is not Status.APPROVED:
        raise Conflict(f"a {q.status.value} question takes no votes", status=q.status.value)


# -- coalescing --------------------------------------------------------------------------------

@dataclass(slots=True)
class Throttle:
    """At most one update per ``interval`` seconds per room, carrying everything changed since.

    The first change after a quiet spell goes out at once; changes within the interval wait
    for the next slot and go out together (the latest state of each question).
    """

    interval: float
    last: float = float("-inf")
    dirty: set[int] | None = None
    scheduled: bool = False

    def mark(self, question_id: int, now: float) -> float | None:
        """Note a change; returns the delay until a flush must run, or None if one is due already."""
        if self.dirty is None:
            self.dirty = set()
        self.dirty.add(question_id)
        if self.scheduled:
            return None
        self.scheduled = True
        return max(0.0, self.last + self.interval - now)

    def take(self, now: float) -> set[int]:
        """The changed questions to send now; resets the slot."""
        taken, self.dirty, self.scheduled, self.last = self.dirty or set(), None, False, now
        return taken
