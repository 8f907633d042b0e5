"""Server-side sessions and token revocation: what signing out and changing a password end."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["SessionStore", "credential_cutoffs", "revoked_tokens", "web_sessions"]

_meta = sa.MetaData()
web_sessions = sa.Table(
    "web_sessions", _meta,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
)
revoked_tokens = sa.Table(
    "revoked_tokens", _meta,
    sa.Column("jti", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.Integer, nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
)
credential_cutoffs = sa.Table(
    "credential_cutoffs", _meta,
    sa.Column("user_id", sa.Integer, primary_key=True),
    sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
)


def _key(secret: str) -> str:
    # Only a hash is stored: a copy of the table does not let anyone sign in.
    return hashlib.sha256(secret.encode()).hexdigest()


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)  # SQLite drops the zone


class SessionStore:
    """Browser sessions (a secret in the encrypted cookie names a row here) and token revocation."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def start(self, user_id: int, ttl_s: int, now: datetime) -> str:
        """A new session of ``user_id``; the secret to keep in the cookie."""
        secret = secrets.token_urlsafe(32)
        async with self.engine.begin() as conn:
            await conn.execute(web_sessions.insert().values(
                id=_key(secret), user_id=user_id, created_at=now, expires_at=now + timedelta(seconds=ttl_s)))
        return secret

    async def user_of(self, secret: str, now: datetime) -> int | None:
        """The user of a live session (not ended, not expired), else None."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(web_sessions.c.user_id, web_sessions.c.expires_at,
                                                web_sessions.c.ended_at)
                                      .where(web_sessions.c.id == _key(secret)))).first()
        if row is None or row.ended_at is not None or _aware(row.expires_at) <= now:
            return None
        return int(row.user_id)

    async def end(self, secret: str, now: datetime) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(web_sessions.update().where(web_sessions.c.id == _key(secret),
                                                           web_sessions.c.ended_at.is_(None)).values(ended_at=now))

    async def end_all(self, user_id: int, now: datetime) -> None:
        """End every session and every bearer token issued so far to ``user_id``."""
        async with self.engine.begin() as conn:
            await conn.execute(web_sessions.update().where(web_sessions.c.user_id == user_id,
                                                           web_sessions.c.ended_at.is_(None)).values(ended_at=now))
            updated = await conn.execute(credential_cutoffs.update().where(
                credential_cutoffs.c.user_id == user_id).values(not_before=now))
            if updated.rowcount == 0:
                await conn.execute(credential_cutoffs.insert().values(user_id=user_id, not_before=now))

    async def revoke_token(self, jti: str, user_id: int, expires_at: datetime, now: datetime) -> None:
        async with self.engine.begin() as conn:
            exists = (await conn.execute(sa.select(revoked_tokens.c.jti).where(revoked_tokens.c.jti == jti))).first()
            if exists is None:
                await conn.execute(revoked_tokens.insert().values(jti=jti, user_id=user_id, revoked_at=now,
                                                                  expires_at=expires_at))

    async def token_valid(self, jti: str, user_id: int, issued_at: datetime) -> bool:
        """Whether a token is neither revoked nor issued before its account's cut-off."""
        async with self.engine.connect() as conn:
            revoked = (await conn.execute(sa.select(revoked_tokens.c.jti).where(revoked_tokens.c.jti == jti))).first()
            cutoff = (await conn.execute(sa.select(credential_cutoffs.c.not_before)
                                         .where(credential_cutoffs.c.user_id == user_id))).scalar()
        # Tokens carry whole seconds: one issued in the same second as the cut-off is ended too.
        return revoked is None and (cutoff is None or issued_at > _aware(cutoff))
