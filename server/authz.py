"""Who may do what: role plus assignment, one table for every route and event (pure).

docs/access.md holds the same table for people; ``tests/test_authz.py`` checks the two agree
row by row.
"""

from __future__ import annotations

import enum

from .accounts import User
from .catalogue import Role
from .errors import NotAllowed, NotAuthenticated

__all__ = ["Action", "allowed", "require", "sees_viewers"]


class Action(enum.StrEnum):
    """Things a user can try; the value is the name used in docs/access.md."""

    WATCH = "watch a session"
    ASK = "ask and vote in a session's Q&A"
    READ_QUEUE = "read a session's approved questions"
    MODERATE = "moderate a session's Q&A"
    EXPORT_QUESTIONS = "export a session's questions"
    PUBLISH = "publish into a session"
    VISIT_BOOTH = "visit a booth, chat, share contact"
    STAFF_BOOTH = "staff a booth (console, presence)"
    READ_LEADS = "read a booth's leads"
    MODERATE_BOOTH = "delete messages in a booth"
    BAN_FROM_BOOTH = "ban a user from a booth"
    CLAIM_CREDIT = "claim credit and download certificates"
    CORRECT_CREDIT = "correct a credit record"
    VIEW_REPORTS = "view reports, live figures and recordings"
    MANAGE = "set up the conference and assign roles"


# Role -> action -> rule: "all" (any target), "assigned" (only targets the user is assigned
# to), or absent (never). Assignment kinds: faculty_of, moderates, staffs.
_ASSIGNED = "assigned"
_ALL = "all"
_TABLE: dict[Role, dict[Action, str]] = {
    Role.ATTENDEE: {
        Action.WATCH: _ALL,
        Action.ASK: _ALL,
        Action.READ_QUEUE: _ALL,
        Action.VISIT_BOOTH: _ALL,
        Action.CLAIM_CREDIT: _ALL,
    },
    Role.FACULTY: {
        Action.WATCH: _ALL,
        Action.ASK: _ALL,
        Action.READ_QUEUE: _ALL,
        Action.PUBLISH: _ASSIGNED,
        Action.VISIT_BOOTH: _ALL,
        Action.CLAIM_CREDIT: _ALL,
    },
    Role.MODERATOR: {
        Action.WATCH: _ALL,
        Action.ASK: _ALL,
        Action.READ_QUEUE: _ALL,
        Action.MODERATE: _ASSIGNED,
        Action.VISIT_BOOTH: _ALL,
        Action.CLAIM_CREDIT: _ALL,
    },
    # Exhibitors keep out of the accredited stage's Q&A (ACCME independence): they may watch.
    Role.EXHIBITOR: {
        Action.WATCH: _ALL,
        Action.VISIT_BOOTH: _ALL,
        Action.STAFF_BOOTH: _ASSIGNED,
        Action.READ_LEADS: _ASSIGNED,
        Action.MODERATE_BOOTH: _ASSIGNED,
    },
    Role.ORGANIZER: {action: _ALL for action in Action},
}

_KIND = {
    Action.PUBLISH: "faculty_of",
    Action.MODERATE: "moderates",
    Action.STAFF_BOOTH: "staffs",
    Action.READ_LEADS: "staffs",
    Action.MODERATE_BOOTH: "staffs",
}


def rule(role: Role, action: Action) -> str:
    """``"all"``, ``"assigned"`` or ``""`` (never): the cell of the access table."""
    return _TABLE[role].get(action, "")


def allowed(user: User | None, action: Action, target: str | None = None) -> bool:
    """Whether ``user`` may do ``action`` on ``target`` (a session or booth id)."""
    if user is None:
        return False
    cell = rule(user.role, action)
    if cell == _ALL:
        return True
    if cell == _ASSIGNED and target is not None:
        return target in getattr(user, _KIND[action])
    return False


def sees_viewers(user: User | None, session_id: str) -> bool:
    """Whether ``user`` sees a session's live viewer count: organizers (every session) and the
    session's own faculty and moderators (only theirs); attendees and others never."""
    return (
        allowed(user, Action.VIEW_REPORTS)
        or allowed(user, Action.PUBLISH, session_id)
        or allowed(user, Action.MODERATE, session_id)
    )


def require(user: User | None, action: Action, target: str | None = None) -> User:
    """The user, if allowed; raises :class:`NotAuthenticated` or :class:`NotAllowed`."""
    if user is None:
        raise NotAuthenticated("sign in first")
    if not allowed(user, action, target):
        where = f" ({target})" if target else ""
        raise NotAllowed(f"a {user.role.value} may not {action.value}{where}")
    return user
