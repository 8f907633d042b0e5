"""Q&A pages (moderator console, faculty view), the organizer's CSV export, and ``setup(app)``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from ..accounts import User
from ..authz import Action
from ..catalogue import Session
from ..errors import NotFound
from ..reports.table import csv_text
from ..rooms.qa import QA_STORE, QNA, qa_context
from ..state import CATALOGUE, CLOCK, METRICS
from .api import session_extras
from .exports import csv_download
from .identity import current_user, require
from .pages import login_redirect

__all__ = ["routes", "setup"]

routes = web.RouteTableDef()
CSV_COLUMNS = ("id", "asked_at", "status", "votes", "anonymous", "author_name", "author_email", "text",
               "original_text", "dismiss_reason", "merged_into", "pinned", "on_stage")


def _session(request: web.Request) -> Session:
    session = request.app[CATALOGUE].session(request.match_info["id"])
    if session is None:
        raise NotFound("there is no such session")
    return session


async def _page(request: web.Request, action: Action, template: str) -> web.StreamResponse:
    session = _session(request)
    if await current_user(request) is None:
        raise login_redirect(request)
    await require(request, action, session.id)
    context = {"session": session, "state": session.state(request.app[CLOCK].now()).value}
    return aiohttp_jinja2.render_template(template, request, context)


@routes.get("/sessions/{id}/moderate", name="qa_moderate")
async def moderate_page(request: web.Request) -> web.StreamResponse:
    """The moderator console of one session (its moderators and organizers)."""
    return await _page(request, Action.MODERATE, "moderate.html")


@routes.get("/sessions/{id}/faculty", name="qa_faculty")
async def faculty_page(request: web.Request) -> web.StreamResponse:
    """The faculty view: approved queue and the question on stage, readable at a glance."""
    return await _page(request, Action.READ_QUEUE, "faculty_view.html")


def questions_csv(rows: Iterable[Any]) -> str:
    """The CSV text of a session's questions."""
    return csv_text(CSV_COLUMNS, ((
        r.id, r.created_at.isoformat(), r.status, r.votes, "yes" if r.anonymous else "no", r.author_name,
        r.author_email, r.text, r.original_text, r.dismiss_reason, r.merged_into,
        "yes" if r.pinned else "no", "yes" if r.on_stage else "no",
    ) for r in rows))


@routes.get("/api/sessions/{id}/questions.csv", name="qa_export")
async def export_csv(request: web.Request) -> web.Response:
    """Every question of a session as CSV, for the organizer."""
    session = _session(request)
    user = await require(request, Action.EXPORT_QUESTIONS, session.id)
    body = questions_csv(await request.app[QA_STORE].export_rows(session.id))
    return await csv_download(request, user, "qa.export_questions", f"session:{session.id}", body,
                              f"questions-{session.id}.csv")


async def _session_extra(request: web.Request, session: Session, user: User | None) -> dict[str, Any]:
    return {"qa": {"premoderation": session.premoderation, "namespace": "/qa"}}


def setup(app: web.Application) -> None:
    """Q&A: pages, export, the ``/qa`` namespace and its background tasks, metrics."""
    app.router.add_routes(routes)
    qa_context(app)
    session_extras(app).append(_session_extra)

    def collect() -> Iterable[Metric]:
        fanout = app[QNA].fanout
        family = CounterMetricFamily("rounds_qa_broadcasts", "Q&A broadcasts made (each to a whole room)")
        family.add_metric([], fanout.broadcasts)
        yield family
        spent = CounterMetricFamily("rounds_qa_fanout_seconds", "Time spent delivering Q&A broadcasts")
        spent.add_metric([], fanout.seconds)
        yield spent
        largest = GaugeMetricFamily("rounds_qa_fanout_largest_seconds", "The longest single Q&A delivery")
        largest.add_metric([], fanout.largest)
        yield largest

    app[METRICS].add_collector(collect)
