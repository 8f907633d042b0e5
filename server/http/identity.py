"""Who is asking: a bearer token or the browser's encrypted session cookie; CSRF tokens."""

from __future__ import annotations

import hmac
import secrets
from datetime import UTC, datetime

from aiohttp import web
from aiohttp_session import get_session, new_session

from ..accounts import User
from ..authz import Action
from ..authz import require as authz_require
from ..errors import NotAuthenticated
from ..state import ACCOUNTS, SESSIONS, SETTINGS
from ..tokens import read_claims

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
        claims = read_claims(app[SETTINGS].secret_key, token)
        user = await app[ACCOUNTS].by_id(claims.user_id)
        if user is None:
            raise NotAuthenticated("the account of this token no longer exists")
        issued = datetime.fromtimestamp(claims.issued_at, UTC)
        if not await app[SESSIONS].token_valid(claims.jti, user.id, issued):
            raise NotAuthenticated("this token was revoked")
        return user
    # The cookie holds the secret of a server-side session: signing out ends it there, so a
    # copy of the cookie taken before is worthless.
    sid = (await get_session(request)).get("sid") if request is not None else None
    user_id = await app[SESSIONS].user_of(sid, datetime.now(UTC)) if isinstance(sid, str) else None
    return await app[ACCOUNTS].by_id(user_id) if user_id is not None else None


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
    settings = request.app[SETTINGS]
    session["sid"] = await request.app[SESSIONS].start(user.id, settings.session_ttl_s, datetime.now(UTC))
    session["uid"] = user.id  # not trusted alone: only with a live "sid"
    session["csrf"] = secrets.token_urlsafe(24)
    request[_USER] = user


async def sign_out(request: web.Request) -> None:
    session = await get_session(request)
    sid = session.get("sid")
    if isinstance(sid, str):
        await request.app[SESSIONS].end(sid, datetime.now(UTC))
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
