"""Who is asking: a bearer token or the browser's encrypted session cookie; CSRF tokens."""

from __future__ import annotations

import hmac
import secrets

from aiohttp import web
from aiohttp_session import get_session, new_session

from ..accounts import User
from ..authz import Action
from ..authz import require as authz_require
from ..errors import NotAuthenticated
from ..state import ACCOUNTS, SETTINGS
from ..tokens import read_token

__all__ = ["check_csrf", "csrf_token", "current_user", "require", "resolve_user", "sign_in", "sign_out"]

_USER = web.RequestKey("rounds.user", object)
_NONE = object()


def bearer(request: web.Request) -> str | None:
    """The bearer token of the Authorization header, if any."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def current_user(request: web.Request) -> User | None:
    """The user behind this request, or None; a bad bearer token raises NotAuthenticated."""
    cached = request.get(_USER, _NONE)
    if cached is not _NONE:
        return cached if isinstance(cached, User) else None
    user = await resolve_user(request.app, bearer(request), request)
    request[_USER] = user
    return user


async def resolve_user(app: web.Application, token: str | None, request: web.Request | None) -> User | None:
    """The user of a bearer token, else of the request's session cookie, else None.

    HTTP requests and Socket.IO connects both authenticate here. A bad token raises
    NotAuthenticated rather than falling back to the cookie.
    """
    if token is not None:
        user_id: int | None = read_token(app[SETTINGS].secret_key, token)
    else:
        raw = (await get_session(request)).get("uid") if request is not None else None
        user_id = raw if isinstance(raw, int) else None
    user = await app[ACCOUNTS].by_id(user_id) if user_id is not None else None
    if user is None and token is not None:
        raise NotAuthenticated("the account of this token no longer exists")
    return user


async def require(request: web.Request, action: Action, target: str | None = None) -> User:
    """The user, if allowed to do ``action`` on ``target``; raises 401 or 403."""
    return authz_require(await current_user(request), action, target)


async def signed_in(request: web.Request) -> User:
    """The user; raises NotAuthenticated for anonymous requests."""
    user = await current_user(request)
    if user is None:
        raise NotAuthenticated("sign in first")
    return user


async def sign_in(request: web.Request, user: User) -> None:
    # A fresh session on sign-in, so a session id planted before login is worthless.
    session = await new_session(request)
    session["uid"] = user.id
    session["csrf"] = secrets.token_urlsafe(24)
    request[_USER] = user


async def sign_out(request: web.Request) -> None:
    session = await get_session(request)
    session.invalidate()
    request[_USER] = None


async def csrf_token(request: web.Request) -> str:
    """This browser session's CSRF token (created on first use)."""
    session = await get_session(request)
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(24)
        session["csrf"] = token
    return token


async def check_csrf(request: web.Request, presented: str | None) -> bool:
    session = await get_session(request)
    expected = session.get("csrf")
    return isinstance(expected, str) and isinstance(presented, str) and hmac.compare_digest(expected, presented)
