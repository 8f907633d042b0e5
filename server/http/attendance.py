"""Attendance: ``setup(app)``, the transcript API, live figures (the export is ``server.reports``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Any

from aiohttp import web
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from ..accounts import User
from ..authz import Action, allowed
from ..catalogue import Session
from ..evidence import EVIDENCE, LEDGER, Ledger, StoredEvidence, evidence_context
from ..rooms.watch import WatchNamespace
from ..state import METRICS, SIO
from ..transcript import transcript_extras, transcript_for, transcript_json
from .api import session_extras
from .identity import signed_in

__all__ = ["WATCH", "routes", "setup"]

routes = web.RouteTableDef()
WATCH = web.AppKey("watch_namespace", WatchNamespace)


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
