"""Signed, expiring bearer tokens for clients that are not browsers (API, WHIP, WHEP, Socket.IO)."""

from __future__ import annotations

import functools
import time

from itsdangerous import BadSignature, URLSafeTimedSerializer

from .errors import NotAuthenticated

__all__ = ["mint_token", "read_token"]

_SALT = "rounds.bearer.v1"


@functools.lru_cache(maxsize=8)
def _serializer(secret: bytes) -> URLSafeTimedSerializer:
    # Building one derives keys; a burst of reconnects reads thousands of tokens.
    return URLSafeTimedSerializer(secret, salt=_SALT)


def mint_token(secret: bytes, user_id: int, ttl_s: int) -> str:
    """A token naming ``user_id`` that expires ``ttl_s`` seconds from now."""
    if ttl_s <= 0:
        raise ValueError("ttl must be positive")
    return _serializer(secret).dumps({"uid": user_id, "exp": int(time.time()) + ttl_s})


def read_token(secret: bytes, token: str) -> int:
    """The user id in a valid token; raises :class:`NotAuthenticated` otherwise."""
    try:
        payload = _serializer(secret).loads(token)
    except (BadSignature, UnicodeError, ValueError, TypeError):
        raise NotAuthenticated("invalid token") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("uid"), int) or not isinstance(payload.get("exp"), int):
        raise NotAuthenticated("invalid token")
    if payload["exp"] < time.time():
        raise NotAuthenticated("token expired")
    return int(payload["uid"])
