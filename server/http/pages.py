"""Server-rendered pages: lobby, session, organizer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from ..accounts import User
from ..authz import Action, allowed
from ..catalogue import Session, SessionState
from ..errors import NotFound
from ..state import CATALOGUE, CLOCK, EXTRA, SETTINGS
from .identity import current_user, require

__all__ = ["login_redirect", "routes", "session_gates"]

routes = web.RouteTableDef()

# A gate runs before the session page renders and may answer instead (the disclosure screen
# of an accredited session): async fn(request, session, user) -> web.StreamResponse | None.
SessionGate = Callable[[web.Request, Session, User], Awaitable[web.StreamResponse | None]]


def session_gates(app: web.Application) -> list[SessionGate]:
    return app[EXTRA].setdefault("session_gates", [])  # type: ignore[no-any-return]


def login_redirect(request: web.Request) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(f"/login?next={request.path_qs}")


@routes.get("/", name="lobby")
@aiohttp_jinja2.template("lobby.html")
async def lobby(request: web.Request) -> dict[str, Any]:
    cat = request.app[CATALOGUE]
    now = request.app[CLOCK].now()
    return {
        "days": cat.days(),
        "tracks": {t.id: t.name for t in cat.tracks},
        "now": now,
        "live": cat.sessions_in(SessionState.LIVE, now),
    }


@routes.get("/sessions/{id}", name="session")
async def session_page(request: web.Request) -> web.StreamResponse:
    session = request.app[CATALOGUE].session(request.match_info["id"])
    if session is None:
        raise NotFound("there is no such session")
    if await current_user(request) is None:
        raise login_redirect(request)
    user = await require(request, Action.WATCH, session.id)
    for gate in session_gates(request.app):
        answer = await gate(request, session, user)
        if answer is not None:
            return answer
    context = {
        "session": session,
        "state": session.state(request.app[CLOCK].now()).value,
        "can_moderate": allowed(user, Action.MODERATE, session.id),
        "can_publish": allowed(user, Action.PUBLISH, session.id),
        "heartbeat_s": request.app[SETTINGS].heartbeat_s,
    }
    return aiohttp_jinja2.render_template("session.html", request, context)


@routes.get("/organizer", name="organizer")
async def organizer(request: web.Request) -> web.StreamResponse:
    if await current_user(request) is None:
        raise login_redirect(request)
    await require(request, Action.VIEW_REPORTS)
    cat = request.app[CATALOGUE]
    now = request.app[CLOCK].now()
    context = {"sessions": cat.sessions, "booths": cat.booths, "now": now}
    return aiohttp_jinja2.render_template("organizer.html", request, context)
