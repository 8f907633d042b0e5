"""The organizers' queue of learners' requests for more credit than was measured.

A learner asks with ``POST /api/sessions/{id}/credit-requests`` (``server.http.credit``); an
organizer approves or refuses here. Both decisions are audited; an approval becomes the
learner's claim in the same transaction, and the learner's transcript shows the outcome.
"""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from ..authz import Action
from ..errors import BadRequest, Conflict, NotFound
from ..state import ACCOUNTS, CATALOGUE, CLOCK
from .api import json_object
from .credit_service import CREDIT_STORE
from .identity import current_user, require
from .pages import login_redirect

__all__ = ["decide", "routes", "setup"]

routes = web.RouteTableDef()


def _request_id(request: web.Request) -> int:
    raw = request.match_info["rid"]
    if not raw.isdigit() or len(raw) > 12:
        raise NotFound("no such request")
    return int(raw)


async def decide(request: web.Request, fields: dict[str, Any]) -> dict[str, Any]:
    """Approve or refuse one pending request; raises 400/404/409 with a reason."""
    actor = await require(request, Action.CORRECT_CREDIT)
    decision = fields.get("decision")
    if decision not in ("approve", "refuse"):
        raise BadRequest("decision must be approve or refuse", field="decision")
    note = fields.get("note", "")
    if not isinstance(note, str) or len(note) > 1000:
        raise BadRequest("the note is text of up to 1,000 characters", field="note")
    if decision == "refuse" and not note.strip():
        raise BadRequest("say why the request is refused: the learner reads it", field="note")
    found = await request.app[CREDIT_STORE].decide(_request_id(request), decision == "approve", note.strip(),
                                                   actor.email, request.app[CLOCK].now())
    return found.json()


@routes.get("/api/organizer/credit/requests")
async def queue_api(request: web.Request) -> web.Response:
    """Every request, oldest first; ``?status=pending`` for the open ones."""
    await require(request, Action.VIEW_REPORTS)
    status = request.query.get("status")
    if status not in (None, "pending", "approved", "refused"):
        raise BadRequest("status is pending, approved or refused", field="status")
    found = await request.app[CREDIT_STORE].requests(status=status)
    return web.json_response({"requests": [r.json() for r in found]})


@routes.post("/api/organizer/credit/requests/{rid}")
async def decide_api(request: web.Request) -> web.Response:
    """``{"decision": "approve"|"refuse", "note"}`` -> the decided request."""
    await require(request, Action.CORRECT_CREDIT)  # who is asking, before reading what they sent
    return web.json_response({"request": await decide(request, await json_object(request))})


@routes.get("/organizer/credit/requests", name="credit_requests")
async def queue_page(request: web.Request) -> web.StreamResponse:
    """The queue: who asks for what, measured against asked, the reason; approve or refuse."""
    if await current_user(request) is None:
        raise login_redirect(request)
    await require(request, Action.VIEW_REPORTS)
    store, accounts, cat = request.app[CREDIT_STORE], request.app[ACCOUNTS], request.app[CATALOGUE]
    rows = []
    for r in await store.requests():
        user = await accounts.by_id(r.user_id)
        session = cat.session(r.session_id)
        rows.append({"request": r, "name": user.name if user else "?", "email": user.email if user else "",
                     "session": session.title if session else r.session_id})
    context = {"rows": rows, "error": request.query.get("error", "")[:300], "done": request.query.get("done") == "1"}
    return aiohttp_jinja2.render_template("organizer/credit_requests.html", request, context)


@routes.post("/organizer/credit/requests/{rid}")
async def decide_form(request: web.Request) -> web.StreamResponse:
    if await current_user(request) is None:
        raise login_redirect(request)
    await require(request, Action.CORRECT_CREDIT)
    form = {k: str(v) for k, v in (await request.post()).items() if isinstance(v, str)}
    try:
        await decide(request, form)
    except (BadRequest, NotFound, Conflict) as exc:
        from urllib.parse import urlencode

        raise web.HTTPSeeOther("/organizer/credit/requests?" + urlencode({"error": exc.reason})) from None
    raise web.HTTPSeeOther("/organizer/credit/requests?done=1")


def setup(app: web.Application) -> None:
    """The organizers' request queue."""
    app.router.add_routes(routes)
