"""The base of every Rounds namespace: authentication at connect, acks, errors, validation.

Client events are calls with an acknowledgement: a handler ``on_<event>(sid, data)`` returns a
dict that goes back as ``{"ok": true, ...}``; a :class:`RoundsError` it raises goes back as
``{"ok": false, "error": code, "reason": text}``. An unknown event or a payload that is not a JSON
object gets an error ack too, never silence.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import socketio
from aiohttp import web

from ..accounts import User, valid_unicode
from ..errors import BadRequest, NotAuthenticated, RateLimited, RoundsError, UnknownEvent, error_ack
from ..http.identity import resolve_user
from ..sio_internals import REFUSED_PREFIX, UNDECODABLE
from ..state import COORD, METRICS, SETTINGS

__all__ = ["RoundsNamespace", "get_bool", "get_int", "get_str"]

log = logging.getLogger("rounds.realtime")


class RoundsNamespace(socketio.AsyncNamespace):  # type: ignore[misc]
    """A namespace whose every connection belongs to a known user."""

    def __init__(self, namespace: str, app: web.Application) -> None:
        super().__init__(namespace)
        self.app = app
        self.users: dict[str, User] = {}
        self.per_user: dict[int, int] = {}  # user id -> connections in this namespace

    async def authenticate(self, environ: Mapping[str, Any], auth: Any) -> User:
        """The user of a connecting client: ``auth={"token": ...}`` or the session cookie."""
        token = auth.get("token") if isinstance(auth, dict) else None
        if token is not None and not isinstance(token, str):
            raise NotAuthenticated("token must be a string")
        user = await resolve_user(self.app, token, environ.get("aiohttp.request"))
        if user is None:
            raise NotAuthenticated("sign in first")
        return user

    async def on_connect(self, sid: str, environ: Mapping[str, Any], auth: Any = None) -> None:
        try:
            user = await self.authenticate(environ, auth)
        except RoundsError as exc:
            raise socketio.exceptions.ConnectionRefusedError(error_ack(exc)) from None
        if self.per_user.get(user.id, 0) >= self.app[SETTINGS].sockets_per_user:
            refused = RateLimited("this account has too many connections open; close some tabs")
            raise socketio.exceptions.ConnectionRefusedError(error_ack(refused))
        self.users[sid] = user
        self.per_user[user.id] = self.per_user.get(user.id, 0) + 1
        self.app[METRICS].sockets.labels(self.namespace).inc()
        await self.connected(sid, user)

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        user = self.users.pop(sid, None)
        if user is not None:
            left = self.per_user.get(user.id, 1) - 1
            if left > 0:
                self.per_user[user.id] = left
            else:
                self.per_user.pop(user.id, None)
            self.app[METRICS].sockets.labels(self.namespace).dec()
            await self.disconnected(sid, user)

    async def connected(self, sid: str, user: User) -> None:
        """Hook: a client of ``user`` connected."""

    async def disconnected(self, sid: str, user: User) -> None:
        """Hook: a client of ``user`` went away (also on a dropped connection)."""

    def user(self, sid: str) -> User:
        user = self.users.get(sid)
        if user is None:
            raise NotAuthenticated("not connected")
        return user

    async def limit(self, user: User, kind: str, per_minute: int) -> None:
        """Raise :class:`RateLimited` when ``user`` did ``kind`` more than ``per_minute`` times."""
        if not await self.app[COORD].hit(f"{self.namespace}:{kind}:{user.id}", per_minute, 60):
            raise RateLimited(f"too many {kind} requests; wait a minute")

    async def trigger_event(self, event: str, *args: Any) -> Any:
        if event in ("connect", "disconnect"):  # from the library only: see RoundsPacket
            return await super().trigger_event(event, *args)
        if event.startswith(REFUSED_PREFIX):
            name = event[len(REFUSED_PREFIX):]
            return error_ack(UnknownEvent(f"{name!r} is reserved by Socket.IO and cannot be sent as an event"))
        if event == UNDECODABLE:
            return error_ack(BadRequest("the payload is not JSON this server reads (nested too deeply, "
                                        "or a number with too many digits)"))
        handler = getattr(self, f"on_{event}", None)
        if handler is None or not callable(handler):
            return error_ack(UnknownEvent(f"unknown event {event!r}"))
        sid, data = args[0], (args[1] if len(args) > 1 else {})
        if len(args) > 2:
            return error_ack(BadRequest("send one JSON object per call"))
        if not isinstance(data, dict):
            return error_ack(BadRequest("the payload must be a JSON object"))
        try:
            result = await handler(sid, data)
        except RoundsError as exc:
            return error_ack(exc)
        except Exception:
            log.exception("unexpected error in %s %s", self.namespace, event)
            return error_ack(RoundsError("something went wrong on our side"))
        return {"ok": True, **(result or {})}


def get_str(data: Mapping[str, Any], name: str, max_len: int, *, required: bool = True) -> str:
    """A trimmed string field; raises :class:`BadRequest` naming the field."""
    value = data.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be a string", field=name)
    value = value.strip()
    if not valid_unicode(value):
        raise BadRequest(f"{name} is not valid Unicode text (a lone surrogate)", field=name)
    if required and not value:
        raise BadRequest(f"{name} must not be empty", field=name)
    if len(value) > max_len:
        raise BadRequest(f"{name} is longer than {max_len} characters", field=name)
    return value


def get_bool(data: Mapping[str, Any], name: str, default: bool | None = None) -> bool:
    value = data.get(name, default)
    if not isinstance(value, bool):
        raise BadRequest(f"{name} must be true or false", field=name)
    return value


def get_int(data: Mapping[str, Any], name: str, *, minimum: int = 0, maximum: int = 2**31) -> int:
    value = data.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= maximum:
        raise BadRequest(f"{name} must be a whole number from {minimum} to {maximum}", field=name)
    return value
