"""Ephemeral TURN credentials (coturn REST API, ``use-auth-secret``)."""

from __future__ import annotations

import base64
import hashlib
import hmac


def turn_credentials(secret: str, user: str, ttl_s: int, now: float) -> tuple[str, str]:
    """Return ``(username, credential)`` valid until ``now + ttl_s``.

    The scheme of draft-uberti-behave-turn-rest-00, as coturn implements it:
    username is ``"<expiry unix time>:<user>"`` and the credential is
    ``base64(HMAC-SHA1(secret, username))``. Raises ValueError for a bad ttl or user.
    """
    if ttl_s <= 0:
        raise ValueError("ttl_s must be positive")
    if ":" in user:
        raise ValueError("user must not contain ':'")
    username = f"{int(now) + ttl_s}:{user}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode("ascii")
