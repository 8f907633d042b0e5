"""``/captions``: viewers of a session hear its live captions; a captioner can send them here too."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..authz import Action, require
from ..captions import Cue, live_cue
from ..catalogue import Session
from ..errors import NotFound
from ..state import CATALOGUE, CLOCK, SIO
from ..store.captions import CaptionStore
from .base import RoundsNamespace, get_str

__all__ = ["CAPTIONS", "NAMESPACE", "CaptionsNamespace", "announce", "room"]

NAMESPACE = "/captions"
CAPTIONS = web.AppKey("captions", CaptionStore)
RECENT = 3  # cues a page gets on join, to show the current caption at once


def room(session_id: str) -> str:
    return f"captions:{session_id}"


def session_of(app: web.Application, session_id: str) -> Session:
    session = app[CATALOGUE].session(session_id)
    if session is None:
        raise NotFound("there is no such session")
    return session


async def announce(app: web.Application, session_id: str, cue: Cue) -> None:
    """Tell every viewer of the session (in any process) about a new caption; stored first."""
    await app[SIO].emit("caption", {"session": session_id, **cue.json()}, room=room(session_id),
                        namespace=NAMESPACE)


async def send_caption(app: web.Application, session: Session, text: object) -> Cue:
    """Store a live caption sent now, then broadcast it."""
    now = app[CLOCK].now()
    cue = live_cue(text, now, session.start)
    await app[CAPTIONS].add(session.id, cue, now)
    await announce(app, session.id, cue)
    return cue


class CaptionsNamespace(RoundsNamespace):
    """``join {"session"}`` -> the latest cues; ``send {"session", "text"}`` for captioners."""

    async def on_join(self, sid: str, data: dict[str, Any]) -> dict[str, Any]:
        user = self.user(sid)
        session = session_of(self.app, get_str(data, "session", 200))
        require(user, Action.WATCH, session.id)
        for joined in [r for r in self.rooms(sid) if r.startswith("captions:")]:
            await self.leave_room(sid, joined)
        await self.enter_room(sid, room(session.id))
        return {"cues": [c.json() for c in await self.app[CAPTIONS].cues(session.id, last=RECENT)]}

    async def on_send(self, sid: str, data: dict[str, Any]) -> dict[str, Any]:
        user = self.user(sid)
        session = session_of(self.app, get_str(data, "session", 200))
        require(user, Action.MODERATE, session.id)
        await self.limit(user, "captions", 600)
        cue = await send_caption(self.app, session, data.get("text"))
        return {"cue": cue.json()}
