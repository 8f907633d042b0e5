"""Polls over HTTP: the organizers' CSV export; the namespace and the prepared polls are set up here."""

from __future__ import annotations

import asyncio
import tomllib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web

from ..authz import Action
from ..errors import NotFound
from ..hall import content_disposition
from ..polls import PreparedPoll, prepared_polls
from ..reports.table import csv_text
from ..rooms.polls import NAMESPACE, POLLS, PREPARED, PollsNamespace
from ..state import CATALOGUE, ENGINE, SETTINGS, SIO
from ..store.polls import PollStore
from .identity import require

__all__ = ["routes", "setup"]

routes = web.RouteTableDef()


def setup(app: web.Application) -> None:
    """The ``/polls`` namespace, its store, the conference file's prepared polls, the export."""
    app.router.add_routes(routes)
    app[SIO].register_namespace(PollsNamespace(NAMESPACE, app))
    app.cleanup_ctx.append(_store)


def _read_prepared(path: Path | None) -> list[PreparedPoll]:
    if path is None or not path.is_file():
        return []
    with path.open("rb") as handle:
        return prepared_polls(tomllib.load(handle))


async def _store(app: web.Application) -> AsyncIterator[None]:
    app[POLLS] = PollStore(app[ENGINE])
    app[PREPARED] = await asyncio.to_thread(_read_prepared, app[SETTINGS].conference)
    yield


@routes.get("/api/sessions/{id}/polls.csv")
async def export(request: web.Request) -> web.Response:
    """Every answer to the session's polls, with who gave it: for organizers only."""
    session = request.app[CATALOGUE].session(request.match_info["id"])
    if session is None:
        raise NotFound("there is no such session")
    await require(request, Action.VIEW_REPORTS, session.id)
    header = ["poll", "question", "attention_check", "name", "email", "option", "answer", "answered_at",
              "seconds_after_opening"]
    rows = [[r.id, r.question, "yes" if r.attention else "no", r.name, r.email, r.option + 1, r.options[r.option],
             r.answered_at.isoformat(), round((_aware(r.answered_at) - _aware(r.opened_at)).total_seconds(), 1)]
            for r in await request.app[POLLS].export_rows(session.id)]
    return web.Response(text=csv_text(header, rows), content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": content_disposition(f"polls-{session.id}.csv")})


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
