"""Signed, expiring bearer tokens for clients that are not browsers (API, WHIP, WHEP, Socket.IO)."""

from __future__ import annotations

import functools
import secrets
import time
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

from .errors import NotAuthenticated

__all__ = ["TokenClaims", "mint_token", "read_claims", "read_token"]

_SALT = "rounds.bearer.v1"


@functools.lru_cache(maxsize=8)
def _serializer(secret: bytes) -> URLSafeTimedSerializer:
    # Building one derives keys; a burst of reconnects reads thousands of tokens.
    return URLSafeTimedSerializer(secret, salt=_SALT)


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """What a valid token says: whose it is, its id (for revocation), when it was issued and ends."""

    user_id: int
    jti: str
    issued_at: float
    expires_at: int


def mint_token(secret: bytes, user_id: int, ttl_s: int) -> str:
    """A token naming ``user_id`` that expires ``ttl_s`` seconds from now."""
    if ttl_s <= 0:
        raise ValueError("ttl must be positive")
    now = time.time()
    return _serializer(secret).dumps({"uid": user_id, "exp": int(now) + ttl_s, "jti": secrets.token_hex(12),
                                      "iat": round(now, 3)})


def read_claims(secret: bytes, token: str) -> TokenClaims:
    """The claims of a valid token; raises :class:`NotAuthenticated` otherwise."""
    try:
        payload = _serializer(secret).loads(token)
    except (BadSignature, UnicodeError, ValueError, TypeError):
        raise NotAuthenticated("invalid token") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("uid"), int) or not isinstance(payload.get("exp"), int):
        raise NotAuthenticated("invalid token")
    jti, iat = payload.get("jti"), payload.get("iat")
    if not isinstance(jti, str) or not isinstance(iat, int | float):
        raise NotAuthenticated("this token predates revocable tokens; mint a new one")
    if payload["exp"] < time.time():
        raise NotAuthenticated("token expired")
    return TokenClaims(int(payload["uid"]), jti, float(iat), int(payload["exp"]))


def read_token(secret: bytes, token: str) -> int:
    """The user id in a valid token; raises :class:`NotAuthenticated` otherwise."""
    return read_claims(secret, token).user_id
