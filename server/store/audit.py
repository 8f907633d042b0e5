"""The audit trail of reads that matter: exports of personal data."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from .schema import audit_log

__all__ = ["record_audit"]


async def record_audit(engine: AsyncEngine, at: datetime, actor: str, action: str, subject: str,
                       details: dict[str, Any]) -> None:
    """One ``audit_log`` row: who did what to which subject, with JSON-safe details."""
    async with engine.begin() as conn:
        await conn.execute(audit_log.insert().values(
            at=at, actor=actor, action=action, subject=subject, before=None,
            after=json.loads(json.dumps(details))))
