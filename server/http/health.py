"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import sqlalchemy as sa
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from ..authz import Action
from ..state import COORD, ENGINE, METRICS, SETTINGS
from .identity import require

__all__ = ["routes"]

routes = web.RouteTableDef()


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    checks: dict[str, str] = {}
    try:
        async with request.app[ENGINE].connect() as conn:
            await conn.execute(sa.text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any driver error means not ready
        checks["database"] = f"unreachable: {type(exc).__name__}"
    if request.app[SETTINGS].redis_url:
        checks["redis"] = "ok" if await request.app[COORD].ping() else "unreachable"
    ready = all(v == "ok" for v in checks.values())
    return web.json_response({"status": "ok" if ready else "unavailable", "checks": checks},
                             status=200 if ready else 503)


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    """Scrapes from this machine (a local Prometheus or agent), or by an organizer."""
    if request.remote not in ("127.0.0.1", "::1"):
        await require(request, Action.VIEW_REPORTS)
    body = request.app[METRICS].render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
