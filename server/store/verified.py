"""Which accounts proved they receive mail at their address."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["VerifiedEmails", "verified_emails"]

verified_emails = sa.Table(
    "verified_emails", sa.MetaData(),
    sa.Column("user_id", sa.Integer, primary_key=True),
    sa.Column("email", sa.String(254), nullable=False),
    sa.Column("verified_at", sa.DateTime(timezone=True), nullable=False),
)


class VerifiedEmails:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def is_verified(self, user_id: int, email: str) -> bool:
        """Whether ``email`` (the account's current address) was verified."""
        async with self.engine.connect() as conn:
            found = (await conn.execute(sa.select(verified_emails.c.email)
                                        .where(verified_emails.c.user_id == user_id))).scalar()
        return found == email.lower()

    async def mark(self, user_id: int, email: str, at: datetime) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(verified_emails.delete().where(verified_emails.c.user_id == user_id))
            await conn.execute(verified_emails.insert().values(user_id=user_id, email=email.lower(), verified_at=at))
