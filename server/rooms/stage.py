"""The ``/stage`` namespace: a page joins a session's stage and hears live/paused/ended."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from media import StageState

from ..authz import Action, require, sees_viewers
from ..errors import NotFound
from ..state import CATALOGUE
from .base import RoundsNamespace, get_str

__all__ = ["StageNamespace", "room"]


def room(session_id: str) -> str:
    """The Socket.IO room of a session's stage."""
    return f"stage:{session_id}"


class StageNamespace(RoundsNamespace):
    """``join {"session"}`` -> the stage state; the server emits ``stage`` on every change."""

    def __init__(self, namespace: str, app: web.Application, stage: Any) -> None:
        super().__init__(namespace, app)
        # ``stage(session_id) -> StageState``, the hub's view (kept abstract for tests).
        self._stage = stage

    async def on_join(self, sid: str, data: dict[str, Any]) -> dict[str, Any]:
        """Join a session's stage room; answers with its current state.

        The studio joins again every few seconds to refresh the viewer count it shows."""
        user = self.user(sid)
        session_id = get_str(data, "session", 200)
        if self.app[CATALOGUE].session(session_id) is None:
            raise NotFound("there is no such session")
        require(user, Action.WATCH, session_id)
        for joined in [r for r in self.rooms(sid) if r.startswith("stage:")]:
            await self.leave_room(sid, joined)
        await self.enter_room(sid, room(session_id))
        state: StageState = self._stage(session_id)
        body = state.to_json()
        if sees_viewers(user, session_id):
            body["viewers"] = state.viewers
        return {"stage": body}

    async def broadcast(self, state: StageState) -> None:
        """Tell every page on a session's stage about its new state."""
        await self.emit("stage", state.to_json(), room=room(state.session_id))
