"""``/profile``: the learner's own record of the identifiers their credit needs; edits audited."""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from ..profile import PROFESSIONS, US_STATES, Profile, ProfileRejected, parse_profile
from ..state import CLOCK, ENGINE
from ..store.profile import ProfileStore
from .api import json_object
from .identity import current_user, signed_in
from .pages import login_redirect

__all__ = ["routes", "setup"]

routes = web.RouteTableDef()


def _context(profile: Profile, error: ProfileRejected | None = None, saved: bool = False) -> dict[str, Any]:
    return {"profile": profile, "error": error.reason if error else None,
            "error_field": error.extra.get("field") if error else None, "saved": saved,
            "professions": PROFESSIONS, "states": sorted(US_STATES)}


@routes.get("/profile", name="profile")
async def profile_page(request: web.Request) -> web.StreamResponse:
    """The profile form, filled with what is stored."""
    if await current_user(request) is None:
        raise login_redirect(request)
    user = await signed_in(request)
    profile = await ProfileStore(request.app[ENGINE]).get(user.id)
    return aiohttp_jinja2.render_template("profile.html", request,
                                          _context(profile, saved=request.query.get("saved") == "1"))


@routes.post("/profile")
async def profile_form(request: web.Request) -> web.StreamResponse:
    if await current_user(request) is None:
        raise login_redirect(request)
    user = await signed_in(request)
    form = {k: str(v) for k, v in (await request.post()).items() if isinstance(v, str)}
    try:
        profile = parse_profile(form)
    except ProfileRejected as exc:
        kept = ("certificate_name", "degree", "board", "board_id", "licence", "nabp_eprofile_id", "npi", "timezone")
        shown = Profile(**{k: form.get(k, "")[:200] for k in kept})  # type: ignore[arg-type]
        return aiohttp_jinja2.render_template("profile.html", request, _context(shown, exc), status=400)
    await ProfileStore(request.app[ENGINE]).save(user.id, profile, user.email, request.app[CLOCK].now())
    raise web.HTTPSeeOther("/profile?saved=1")


@routes.get("/api/me/profile")
async def profile_api(request: web.Request) -> web.Response:
    user = await signed_in(request)
    return web.json_response({"profile": (await ProfileStore(request.app[ENGINE]).get(user.id)).json()})


@routes.put("/api/me/profile")
async def profile_put(request: web.Request) -> web.Response:
    """The whole profile (fields not sent are cleared); 400 with ``field`` for a bad one, nothing stored."""
    user = await signed_in(request)  # who is asking, before reading what they sent
    profile = parse_profile(await json_object(request))
    await ProfileStore(request.app[ENGINE]).save(user.id, profile, user.email, request.app[CLOCK].now())
    return web.json_response({"profile": profile.json()})


def setup(app: web.Application) -> None:
    """The profile page and API."""
    app.router.add_routes(routes)
