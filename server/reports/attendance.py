"""``rounds export attendance``: who watched which session, from when to when, for how long."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ..catalogue import Catalogue, Session
from ..errors import BadRequest
from ..store.attendance import AttendanceStore
from ..store.schema import users
from ..transcript import published, timeline, watched
from .table import csv_text

__all__ = ["CSV_COLUMNS", "attendance_csv", "export_attendance"]

CSV_COLUMNS = ("session", "user_id", "email", "name", "profession", "from", "to", "watch_seconds",
               "faculty_seconds", "intervals")


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds")


def attendance_csv(rows: Iterable[tuple[Session, Any, Any, Any]]) -> str:
    """CSV of (session, user row, watched intervals, published intervals): who, from when to when, how long."""
    lines = []
    for session, person, watch, faculty in rows:
        spans = list(watch) or list(faculty)
        lines.append((
            session.id, person.id, person.email, person.name, person.profession,
            _iso(spans[0].start) if spans else "", _iso(spans[-1].end) if spans else "",
            int(sum(iv.seconds for iv in watch)), int(sum(iv.seconds for iv in faculty)),
            " ".join(f"{_iso(iv.start)}/{_iso(iv.end)}" for iv in watch),
        ))
    return csv_text(CSV_COLUMNS, lines)


async def export_attendance(engine: AsyncEngine, catalogue: Catalogue, *, session_id: str | None,
                            fmt: str) -> str:
    """``rounds export attendance [--session ID] --format csv``: recomputed from stored evidence."""
    if fmt != "csv":
        raise BadRequest("attendance exports only as csv")
    store = AttendanceStore(engine)
    recorded = await store.recorded(session_id=session_id or None)
    until = await store.latest()
    async with engine.connect() as conn:
        people = {r.id: r for r in await conn.execute(sa.select(users).where(
            users.c.id.in_(sorted({uid for uid, _ in recorded}))))}
    rows = []
    for (user_id, sid), rec in recorded.items():
        session = catalogue.session(sid)
        if session is None or user_id not in people:
            continue
        tl = timeline(session)
        rows.append((session, people[user_id], watched(rec, tl), published(rec, tl, until)))
    rows.sort(key=lambda r: (r[0].start, r[0].id, r[1].email))
    return attendance_csv(rows)
