"""Sign in, register, sign out."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp_jinja2
from aiohttp import web

from ..accounts import parse_registration, valid_email
from ..catalogue import Role
from ..conference_file import PROFESSIONS
from ..errors import BadRequest, NotAuthenticated, RateLimited, RoundsError
from ..passwords import verify_password_async
from ..signin import retry_after
from ..state import ACCOUNTS, CLOCK, COORD, SESSIONS, SETTINGS
from ..tokens import read_claims
from .email_flows import schedule_verification
from .identity import bearer, sign_in, sign_out, signed_in
from .limits import client_address

__all__ = ["routes"]

routes = web.RouteTableDef()


def _next(request: web.Request, form: Any = None) -> str:
    """Where to go after signing in: a local path only, never another site."""
    return local_path(str((form or {}).get("next") or request.query.get("next") or "/"))


def local_path(target: str) -> str:
    """``target`` if it is a path on this site, else ``/``.

    Browsers strip tabs and newlines from URLs and read ``\\`` as ``/`` (WHATWG URL standard,
    "basic URL parser"), so ``/\t/evil.example`` and ``/\\evil.example`` are other sites: any
    control character or backslash refuses the target, as does a scheme or a host.
    """
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


@routes.get("/login", name="login")
@aiohttp_jinja2.template("login.html")
async def login_page(request: web.Request) -> dict[str, Any]:
    return {"next": _next(request)}


@routes.post("/login")
async def login(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    try:
        email = valid_email(str(form.get("email", "")))
        found = await _check_password(request, email, str(form.get("password", "")))
    except RoundsError as exc:
        context = {"error": exc.reason, "email": str(form.get("email", ""))[:254], "next": _next(request, form)}
        response = aiohttp_jinja2.render_template("login.html", request, context, status=exc.status)
        if "retry_after" in exc.extra:
            response.headers["Retry-After"] = str(exc.extra["retry_after"])
        return response
    user = await request.app[ACCOUNTS].by_id(found[0])
    assert user is not None
    await sign_in(request, user)
    raise web.HTTPSeeOther(_next(request, form))


async def _check_password(request: web.Request, email: str, password: str) -> tuple[int, str]:
    """The account of a right password; raises RateLimited or NotAuthenticated.

    Only failures count: per client address (behind a NAT or a proxy hundreds of people sign
    in from one address, and they may) and per account, where each failure past the free ones
    doubles the wait before the next attempt instead of locking the owner out.
    """
    settings, coord = request.app[SETTINGS], request.app[COORD]
    ip_key, account_key = f"login:ip:{client_address(request)}", f"login:account:{email}"
    if (await coord.failures(ip_key))[0] >= settings.login_attempts:
        raise RateLimited("too many wrong passwords from your network; wait a few minutes",
                          retry_after=settings.login_window_s)
    failures, last_at = await coord.failures(account_key)
    now = request.app[CLOCK].timestamp()
    wait = retry_after(failures, last_at, now, settings.login_free_failures, settings.login_delay_max_s)
    if wait:
        raise RateLimited(f"too many wrong passwords for this account; try again in {wait} s", retry_after=wait)
    found = await request.app[ACCOUNTS].password_hash(email)
    ok = await verify_password_async(found[1] if found else "", password)
    if not ok or found is None:
        await coord.fail(ip_key, settings.login_window_s, now)
        await coord.fail(account_key, max(settings.login_window_s, 4 * settings.login_delay_max_s), now)
        raise NotAuthenticated("email or password is wrong")
    if failures:
        await coord.forget(account_key)
    return found


@routes.get("/register", name="register")
@aiohttp_jinja2.template("register.html")
async def register_page(request: web.Request) -> dict[str, Any]:
    return {"professions": PROFESSIONS, "form": {}}


@routes.post("/register")
async def register(request: web.Request) -> web.StreamResponse:
    form = {k: str(v) for k, v in (await request.post()).items() if isinstance(v, str)}
    settings = request.app[SETTINGS]
    try:
        if not await request.app[COORD].hit(f"register:ip:{client_address(request)}",
                                            settings.register_attempts, settings.register_window_s):
            raise RateLimited("too many registrations from your network; try again later",
                              retry_after=settings.register_window_s)
        reg = parse_registration(form)
        user = await request.app[ACCOUNTS].create(
            reg.email, reg.name, Role.ATTENDEE, reg.password, reg.profession, registration=reg
        )
    except BadRequest as exc:
        return _register_error(request, form, exc)
    except RoundsError as exc:
        return _register_error(request, form, exc)
    await sign_in(request, user)
    schedule_verification(request, user)
    raise web.HTTPSeeOther("/")


def _register_error(request: web.Request, form: dict[str, str], exc: RoundsError) -> web.Response:
    form.pop("password", None)
    context = {"professions": PROFESSIONS, "form": form, "error": exc.reason, "field": exc.extra.get("field")}
    response = aiohttp_jinja2.render_template("register.html", request, context, status=exc.status)
    if "retry_after" in exc.extra:
        response.headers["Retry-After"] = str(exc.extra["retry_after"])
    return response


@routes.get("/account/password", name="password")
async def password_page(request: web.Request) -> web.StreamResponse:
    await signed_in(request)
    return aiohttp_jinja2.render_template("password.html", request, {"done": "done" in request.query})


@routes.post("/account/password")
async def change_password(request: web.Request) -> web.StreamResponse:
    """A new password ends every session and bearer token of the account, then signs in afresh."""
    user = await signed_in(request)
    form = await request.post()
    new = str(form.get("new", ""))
    try:
        if len(new) < 10:
            raise BadRequest("the new password must have at least 10 characters", field="new")
        await _check_password(request, user.email, str(form.get("current", "")))
    except RoundsError as exc:
        return aiohttp_jinja2.render_template("password.html", request, {"error": exc.reason}, status=exc.status)
    await request.app[ACCOUNTS].set_password(user.id, new)
    await request.app[SESSIONS].end_all(user.id, datetime.now(UTC))
    await sign_in(request, user)
    raise web.HTTPSeeOther("/account/password?done=1")


@routes.post("/api/tokens/revoke")
async def revoke_token(request: web.Request) -> web.Response:
    """Revoke the bearer token this request carries (a client signing itself out)."""
    token = bearer(request)
    if token is None:
        raise NotAuthenticated("send the token to revoke as Authorization: Bearer")
    await signed_in(request)  # the token is valid now
    claims = read_claims(request.app[SETTINGS].secret_key, token)
    await request.app[SESSIONS].revoke_token(claims.jti, claims.user_id,
                                             datetime.fromtimestamp(claims.expires_at, UTC), datetime.now(UTC))
    return web.json_response({"revoked": True})


@routes.post("/logout", name="logout")
async def logout(request: web.Request) -> web.StreamResponse:
    await sign_out(request)
    raise web.HTTPSeeOther("/")
