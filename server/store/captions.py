"""Captions of a session (live from a captioner, or an uploaded WebVTT file) and the sessions'
caption keys (only a SHA-256 of each key is kept)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ..captions import Cue
from .schema import metadata

__all__ = ["CaptionStore", "caption_cues", "caption_keys"]

caption_cues = sa.Table(
    "caption_cues",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("session", sa.String(200), nullable=False, index=True),
    sa.Column("start_ms", sa.BigInteger, nullable=False),
    sa.Column("end_ms", sa.BigInteger, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("source", sa.String(16), nullable=False),  # "live" or "upload"
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

caption_keys = sa.Table(
    "caption_keys",
    metadata,
    sa.Column("session", sa.String(200), primary_key=True),
    sa.Column("key_sha256", sa.String(64), nullable=False),
    sa.Column("created_by", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class CaptionStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def add(self, session: str, cue: Cue, now: datetime) -> int:
        async with self.engine.begin() as conn:
            result = await conn.execute(caption_cues.insert().values(
                session=session, start_ms=cue.start_ms, end_ms=cue.end_ms, text=cue.text, source="live",
                created_at=now))
            return int(result.inserted_primary_key[0])  # type: ignore[index]

    async def replace(self, session: str, cues: list[Cue], now: datetime) -> None:
        """An uploaded file replaces every cue of the session, in one transaction."""
        async with self.engine.begin() as conn:
            await conn.execute(caption_cues.delete().where(caption_cues.c.session == session))
            if cues:
                await conn.execute(caption_cues.insert(), [
                    {"session": session, "start_ms": c.start_ms, "end_ms": c.end_ms, "text": c.text,
                     "source": "upload", "created_at": now} for c in cues])

    async def cues(self, session: str, last: int | None = None) -> list[Cue]:
        """The session's cues in start order (only the ``last`` ones, if given)."""
        query = sa.select(caption_cues.c.start_ms, caption_cues.c.end_ms, caption_cues.c.text).where(
            caption_cues.c.session == session)
        if last is not None:
            query = query.order_by(caption_cues.c.start_ms.desc(), caption_cues.c.id.desc()).limit(last)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return sorted((Cue(int(r.start_ms), int(r.end_ms), r.text) for r in rows), key=lambda c: c.start_ms)

    async def set_key(self, session: str, key: str, user_id: int, now: datetime) -> None:
        """A new caption key for ``session``; the previous one stops working."""
        async with self.engine.begin() as conn:
            await conn.execute(caption_keys.delete().where(caption_keys.c.session == session))
            await conn.execute(caption_keys.insert().values(session=session, key_sha256=_digest(key),
                                                            created_by=user_id, created_at=now))

    async def key_matches(self, session: str, key: str) -> bool:
        async with self.engine.connect() as conn:
            stored = (await conn.execute(sa.select(caption_keys.c.key_sha256).where(
                caption_keys.c.session == session))).scalar_one_or_none()
        return stored is not None and hmac.compare_digest(stored, _digest(key))
