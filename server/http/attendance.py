"""Attendance: ``setup(app)``, the transcript API, the attendance export, live figures."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from aiohttp import web
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from sqlalchemy.ext.asyncio import AsyncEngine

from ..accounts import User
from ..authz import Action, allowed
from ..catalogue import Catalogue, Session
from ..cli import exporter
from ..errors import BadRequest
from ..evidence import EVIDENCE, LEDGER, Ledger, StoredEvidence, evidence_context
from ..rooms.watch import WatchNamespace
from ..spreadsheet import csv_text
from ..state import METRICS, SIO
from ..store.attendance import AttendanceStore
from ..store.schema import users
from ..transcript import (
    published,
    timeline,
    transcript_extras,
    transcript_for,
    transcript_json,
    watched,
)
from .api import session_extras
from .identity import signed_in

__all__ = ["WATCH", "attendance_csv", "routes", "setup"]

routes = web.RouteTableDef()
WATCH = web.AppKey("watch_namespace", WatchNamespace)
CSV_COLUMNS = ("session", "user_id", "email", "name", "profession", "from", "to", "watch_seconds",
               "faculty_seconds", "intervals")


@routes.get("/api/me/transcript", name="transcript_api")
async def my_transcript(request: web.Request) -> web.Response:
    """The caller's watch time per session and in total, plus what features add (credit)."""
    user = await signed_in(request)
    transcript = await transcript_for(request.app, user.id)
    body = transcript_json(transcript)
    by_id = {s["id"]: s for s in body["sessions"]}
    for extra in transcript_extras(request.app):
        added = await extra(request.app, user, transcript)
        for session_id, fields in added.get("sessions", {}).items():
            if session_id in by_id:
                by_id[session_id].update(fields)
        body["total"].update(added.get("total", {}))
    return web.json_response(body)


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


@exporter("attendance")
async def export_attendance(engine: AsyncEngine, catalogue: Catalogue, args: argparse.Namespace) -> str:
    """``rounds export attendance [--session ID] --format csv``: recomputed from stored evidence."""
    if args.format != "csv":
        raise BadRequest("attendance exports only as csv")
    store = AttendanceStore(engine)
    recorded = await store.recorded(session_id=args.session or None)
    until = await store.latest()
    async with engine.connect() as conn:
        people = {r.id: r for r in await conn.execute(sa.select(users).where(
            users.c.id.in_(sorted({uid for uid, _ in recorded}))))}
    rows = []
    for (user_id, session_id), rec in recorded.items():
        session = catalogue.session(session_id)
        if session is None or user_id not in people:
            continue
        tl = timeline(session)
        rows.append((session, people[user_id], watched(rec, tl), published(rec, tl, until)))
    rows.sort(key=lambda r: (r[0].start, r[0].id, r[1].email))
    return attendance_csv(rows)


async def _live_figures(request: web.Request, session: Session, user: User | None) -> dict[str, Any]:
    if not allowed(user, Action.VIEW_REPORTS):
        return {}
    return {"watching": request.app[LEDGER].watchers().get(session.id, 0)}


async def _namespace_context(app: web.Application) -> AsyncIterator[None]:
    yield
    await app[WATCH].close()


def setup(app: web.Application) -> None:
    """Attendance: evidence for media (``EVIDENCE``), ``/watch``, transcript API, live figures."""
    ledger = Ledger(app)
    app[LEDGER] = ledger
    app[EVIDENCE] = StoredEvidence(ledger)
    app.cleanup_ctx.append(evidence_context)
    app.cleanup_ctx.append(_namespace_context)
    namespace = WatchNamespace("/watch", app)
    app[WATCH] = namespace
    app[SIO].register_namespace(namespace)
    app.router.add_routes(routes)
    session_extras(app).append(_live_figures)

    def collect() -> Iterable[Metric]:
        family = GaugeMetricFamily("rounds_watching", "Attendees watching now, by session (this process)",
                                   labels=["session"])
        for session_id, count in sorted(ledger.watchers().items()):
            family.add_metric([session_id], count)
        yield family
        batches = CounterMetricFamily("rounds_evidence_transactions", "Evidence write transactions (this process)")
        batches.add_metric([], ledger.transactions())
        yield batches

    app[METRICS].add_collector(collect)
