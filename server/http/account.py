"""Sign in, register, sign out."""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from ..accounts import parse_registration, valid_email
from ..catalogue import Role
from ..conference_file import PROFESSIONS
from ..errors import BadRequest, NotAuthenticated, RateLimited, RoundsError
from ..passwords import verify_password
from ..state import ACCOUNTS, COORD, SETTINGS
from .identity import sign_in, sign_out

__all__ = ["routes"]

routes = web.RouteTableDef()


def _next(request: web.Request, form: Any = None) -> str:
    """Where to go after signing in: a local path only, never another site."""
    target = str((form or {}).get("next") or request.query.get("next") or "/")
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/"


@routes.get("/login", name="login")
@aiohttp_jinja2.template("login.html")
async def login_page(request: web.Request) -> dict[str, Any]:
    return {"next": _next(request)}


@routes.post("/login")
async def login(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    settings, coord = request.app[SETTINGS], request.app[COORD]
    ip = request.remote or "unknown"
    try:
        email = valid_email(str(form.get("email", "")))
        for key in (f"login:ip:{ip}", f"login:email:{email}"):
            if not await coord.hit(key, settings.login_attempts, settings.login_window_s):
                raise RateLimited("too many sign-in attempts; wait a few minutes", retry_after=settings.login_window_s)
        found = await request.app[ACCOUNTS].password_hash(email)
        ok = verify_password(found[1] if found else "", str(form.get("password", "")))
        if not ok or found is None:
            raise NotAuthenticated("email or password is wrong")
    except RoundsError as exc:
        context = {"error": exc.reason, "email": str(form.get("email", ""))[:254], "next": _next(request, form)}
        return aiohttp_jinja2.render_template("login.html", request, context, status=exc.status)
    user = await request.app[ACCOUNTS].by_id(found[0])
    assert user is not None
    await sign_in(request, user)
    raise web.HTTPSeeOther(_next(request, form))


@routes.get("/register", name="register")
@aiohttp_jinja2.template("register.html")
async def register_page(request: web.Request) -> dict[str, Any]:
    return {"professions": PROFESSIONS, "form": {}}


@routes.post("/register")
async def register(request: web.Request) -> web.StreamResponse:
    form = {k: str(v) for k, v in (await request.post()).items() if isinstance(v, str)}
    try:
        reg = parse_registration(form)
        user = await request.app[ACCOUNTS].create(
            reg.email, reg.name, Role.ATTENDEE, reg.password, reg.profession, registration=reg
        )
    except BadRequest as exc:
        return _register_error(request, form, exc)
    except RoundsError as exc:
        return _register_error(request, form, exc)
    await sign_in(request, user)
    raise web.HTTPSeeOther("/")


def _register_error(request: web.Request, form: dict[str, str], exc: RoundsError) -> web.Response:
    form.pop("password", None)
    context = {"professions": PROFESSIONS, "form": form, "error": exc.reason, "field": exc.extra.get("field")}
    return aiohttp_jinja2.render_template("register.html", request, context, status=exc.status)


@routes.post("/logout", name="logout")
async def logout(request: web.Request) -> web.StreamResponse:
    await sign_out(request)
    raise web.HTTPSeeOther("/")
