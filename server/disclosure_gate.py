"""Disclosure before engagement, on every path (ACCME Standards for Integrity and Independence,
Standard 3.4: learners receive the disclosure *before* engaging with the accredited education).

Until a learner has acknowledged the *current* disclosure version of an accredited session, the
player (``POST /whep``), the ``/watch`` heartbeats, the ``/qa`` ``ask`` and ``vote`` and the
claim refuse with :class:`~server.errors.DisclosureRequired`. Acknowledgements are never
revoked, so each process keeps the ones it has seen; a missing one is read again from SQL (it
may have been given through another process).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from aiohttp import web

from .accounts import User
from .catalogue import Role, Session
from .credit import disclosure_version
from .errors import DisclosureRequired
from .state import CATALOGUE, ENGINE
from .store.credit import disclosure_acks

__all__ = ["GATE", "Gate", "check", "gated", "install", "load", "require"]


def gated(user: User, session: Session) -> bool:
    """Learners see the disclosure first; the session's own faculty, moderators and organizers run it."""
    if not session.accredited or user.role is Role.ORGANIZER:
        return False
    return session.id not in user.faculty_of and session.id not in user.moderates


@dataclass(slots=True)
class Gate:
    """Acknowledgements seen by this process: user id -> {(session id, version)}."""

    seen: dict[int, set[tuple[str, str]]] = field(default_factory=dict)

    def remember(self, user_id: int, session_id: str, version: str) -> None:
        self.seen.setdefault(user_id, set()).add((session_id, version))


GATE = web.AppKey("disclosure_gate", Gate)


def install(app: web.Application) -> None:
    """Hang the gate off the app (called by the credit feature's ``setup``)."""
    app[GATE] = Gate()


async def _reload(app: web.Application, user_id: int) -> set[tuple[str, str]]:
    async with app[ENGINE].connect() as conn:
        rows = await conn.execute(sa.select(disclosure_acks.c.session_id, disclosure_acks.c.version)
                                  .where(disclosure_acks.c.user_id == user_id))
        found = {(r.session_id, r.version) for r in rows}
    mine = app[GATE].seen.setdefault(user_id, set())
    mine |= found
    return mine


def check(app: web.Application, user: User, session_id: str) -> None:
    """Synchronous check against what :func:`load` read; raises DisclosureRequired."""
    session = app[CATALOGUE].session(session_id)
    if session is None or not gated(user, session):
        return
    if (session.id, disclosure_version(session)) not in app[GATE].seen.get(user.id, ()):
        raise DisclosureRequired("read and acknowledge the session's disclosure first",
                                 session=session.id, disclosure=f"/sessions/{session.id}/disclosure")


async def load(app: web.Application, user: User) -> None:
    """Read the user's acknowledgements again unless every accredited session's current one is known."""
    mine = app[GATE].seen.get(user.id, set())
    for session in app[CATALOGUE].sessions:
        if gated(user, session) and (session.id, disclosure_version(session)) not in mine:
            await _reload(app, user.id)
            return


async def require(app: web.Application, user: User, session: Session) -> None:
    """Raise DisclosureRequired unless the user may engage with ``session`` now."""
    if not gated(user, session):
        return
    key = (session.id, disclosure_version(session))
    if key in app[GATE].seen.get(user.id, ()):
        return
    if key not in await _reload(app, user.id):
        raise DisclosureRequired("read and acknowledge the session's disclosure first",
                                 session=session.id, disclosure=f"/sessions/{session.id}/disclosure")
