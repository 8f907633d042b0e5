"""The read API: conference, sessions, me."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from aiohttp import web

from ..authz import Action, allowed
from ..catalogue import Catalogue, Session, SessionState
from ..errors import BadRequest, NotFound
from ..state import CATALOGUE, CLOCK, EXTRA
from .identity import current_user, signed_in

__all__ = ["json_object", "routes", "session_extras", "session_json"]

routes = web.RouteTableDef()

# Feature modules add fields to a session's JSON (live, viewers, ...): name -> callback.
SessionExtra = Any


def session_extras(app: web.Application) -> list[SessionExtra]:
    return app[EXTRA].setdefault("session_json", [])  # type: ignore[no-any-return]


def session_json(session: Session, now: datetime) -> dict[str, Any]:
    return {
        "id": session.id,
        "title": session.title,
        "track": session.track,
        "format": session.format.value,
        "start": session.start.isoformat(),
        "end": session.end.isoformat(),
        "state": session.state(now).value,
        "faculty": list(session.faculty_names),
        "credits": {k: str(v) for k, v in session.credits.items()},
        "accredited": session.accredited,
        "industry_supporter": session.industry_supporter or None,
    }


async def json_object(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object; raises :class:`BadRequest` for anything else."""
    try:
        body = await request.json()
    except RecursionError:
        raise BadRequest("the JSON body is nested too deeply") from None
    except ValueError:  # also a number past Python's 4,300 digits
        raise BadRequest("the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    try:  # "\ud800" parses into a lone surrogate, which no database or page can hold
        json.dumps(body, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        raise BadRequest("the body holds text that is not valid Unicode (a lone surrogate)") from None
    return body


def _session(catalogue: Catalogue, session_id: str) -> Session:
    session = catalogue.session(session_id)
    if session is None:
        raise NotFound(f"no session {session_id!r}")
    return session


@routes.get("/api/conference")
async def conference(request: web.Request) -> web.Response:
    cat = request.app[CATALOGUE]
    c = cat.conference
    return web.json_response({
        "id": c.id,
        "name": c.name,
        "timezone": c.timezone,
        "provider": c.provider,
        "location": c.location,
        "credit_types": list(c.credit_types),
        "accreditation_statement": c.accreditation_statement,
        "tracks": [{"id": t.id, "name": t.name} for t in cat.tracks],
        "now": request.app[CLOCK].now().isoformat(),
    })


@routes.get("/api/sessions")
async def sessions(request: web.Request) -> web.Response:
    now = request.app[CLOCK].now()
    state = request.query.get("state")
    if state is not None and state not in {s.value for s in SessionState}:
        raise BadRequest("state must be live, upcoming or ended", field="state")
    chosen = [s for s in request.app[CATALOGUE].sessions if state is None or s.state(now).value == state]
    return web.json_response({"sessions": [session_json(s, now) for s in chosen]})


@routes.get("/api/sessions/{id}")
async def session(request: web.Request) -> web.Response:
    s = _session(request.app[CATALOGUE], request.match_info["id"])
    body = session_json(s, request.app[CLOCK].now())
    body["description"] = s.description
    body["disclosures"] = [
        {"name": d.name, "role": d.role, "mitigated": d.mitigated,
         "relationships": [{"company": r.company, "nature": r.nature} for r in d.relationships]}
        for d in s.disclosures
    ]
    user = await current_user(request)
    for extra in session_extras(request.app):
        body.update(await extra(request, s, user))
    return web.json_response(body)


@routes.get("/api/me")
async def me(request: web.Request) -> web.Response:
    user = await signed_in(request)
    cat = request.app[CATALOGUE]
    return web.json_response({
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "role": user.role.value,
        "profession": user.profession,
        "faculty_of": sorted(user.faculty_of),
        "moderates": sorted(user.moderates),
        "staffs": sorted(user.staffs),
        "can_manage": allowed(user, Action.MANAGE),
        "conference": cat.conference.id,
    })
