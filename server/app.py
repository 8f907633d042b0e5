"""``create_app(settings)``: wiring only."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from zoneinfo import ZoneInfo

import aiohttp_jinja2
import jinja2
from aiohttp import web
from aiohttp_session import setup as setup_session
from aiohttp_session.cookie_storage import EncryptedCookieStorage

from .clock import Clock
from .coord import coordination_for
from .display import credit_phrase
from .errors import NotAuthenticated
from .http import account, api, email_flows, headers, health, limits, pages
from .http.identity import csrf_token, current_user
from .http.middleware import csrf_middleware, error_middleware, metrics_middleware
from .metrics import Metrics
from .settings import ROOT, Settings
from .sio_internals import BoundedDelivery, socketio_server
from .state import (
    ACCOUNTS,
    CATALOGUE,
    CLOCK,
    COORD,
    ENGINE,
    EXTRA,
    METRICS,
    SESSIONS,
    SETTINGS,
    SIO,
)
from .store.accounts import AccountStore
from .store.db import connect, migrate
from .store.load import import_configured_conference
from .store.sessions import SessionStore

__all__ = ["create_app"]

FRONTEND = ROOT / "frontend"
CREDIT_NAMES = {
    "ama_pra_1": "AMA PRA Category 1 Credits™",
    "ancc": "ANCC contact hours",
    "acpe": "ACPE contact hours",
    "participation": "participation hours",
}


def create_app(settings: Settings) -> web.Application:
    """The Rounds application for ``settings``; storage opens on startup."""
    app = web.Application(
        middlewares=[metrics_middleware, error_middleware, limits.body_limit_middleware],
        client_max_size=settings.body_max_bytes,
    )
    app[SETTINGS] = settings
    limits.setup(app)
    headers.setup(app)
    email_flows.setup(app)
    # Uploads are the one route with a large body (their handler checks the exact size).
    app[limits.BODY_LIMITS]["/api/booths/{id}/resources"] = settings.upload_max_bytes + 64 * 1024
    app[METRICS] = Metrics()
    app[CLOCK] = Clock(scale=settings.time_scale)
    app[EXTRA] = {}
    coord = coordination_for(settings.redis_url)
    app[COORD] = coord
    manager = coord.socketio_manager()
    if isinstance(manager, BoundedDelivery):
        manager.queue_limit = settings.socket_queue_max
        slow_readers = app[METRICS].slow_readers
        manager.on_slow_reader = lambda namespace: slow_readers.labels(namespace).inc()
    app[SIO] = socketio_server(manager)
    app[SIO].attach(app)

    # aiohttp-session base64-encodes raw bytes into the Fernet key itself.
    fernet_key = hashlib.sha256(b"cookie:" + settings.secret_key).digest()
    setup_session(app, EncryptedCookieStorage(
        fernet_key, cookie_name="rounds_session", httponly=True, samesite="Lax",
        secure=settings.cookie_secure or settings.public_url.lower().startswith("https://"),
        max_age=settings.session_ttl_s,
    ))
    app.middlewares.append(csrf_middleware)
    _setup_templates(app)

    app.cleanup_ctx.append(_storage)
    app.cleanup_ctx.append(_coordination)
    for module in (health, account, email_flows, api, pages):
        app.router.add_routes(module.routes)
    for feature in _features():
        feature(app)
    app.router.add_static("/static/vendor", FRONTEND / "node_modules" / "socket.io-client" / "dist",
                          name="vendor")
    app.router.add_static("/static", FRONTEND / "static", name="static")
    return app


def _features() -> list[Callable[[web.Application], None]]:
    """Each feature's ``setup(app)``: its routes, namespaces and cleanup contexts."""
    from .http import agenda as http_agenda  # the learner's agenda as iCalendar (issue 17)
    from .http import attendance as http_attendance  # watch time (issue 6); before media: EVIDENCE
    from .http import captions as http_captions  # live captions (issue 17)
    from .http import credit as http_credit  # CME credit (issue 7)
    from .http import hall as http_hall  # exhibit hall (issue 5)
    from .http import media as http_media  # live stage (issue 3); after attendance: EVIDENCE
    from .http import polls as http_polls  # polls (issue 17)
    from .http import qa as http_qa  # Q&A (issue 4)

    return [
        http_attendance.setup,
        http_qa.setup,
        http_hall.setup,
        http_credit.setup,
        http_media.setup,
        http_captions.setup,
        http_polls.setup,
        http_agenda.setup,
    ]


def _setup_templates(app: web.Application) -> None:
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(str(FRONTEND / "templates")),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        context_processors=[_page_context],
    )
    env.filters["credit_name"] = lambda ctype: CREDIT_NAMES.get(ctype, ctype)
    env.filters["credit_phrase"] = lambda amount, ctype: credit_phrase(amount, str(getattr(ctype, "value", ctype)))

    def local_time(value: datetime, fmt: str = "%H:%M") -> str:
        zone = ZoneInfo(app[CATALOGUE].conference.timezone)
        return value.astimezone(zone).strftime(fmt)

    env.filters["local_time"] = local_time
    # An ISO 8601 string (as the JSON helpers give) in the conference's zone.
    env.filters["iso_local"] = lambda value, fmt="%H:%M": local_time(datetime.fromisoformat(str(value)), fmt)


async def _page_context(request: web.Request) -> dict[str, object]:
    try:
        user = await current_user(request)
    except NotAuthenticated:  # not a user's token (a caption key): the handler decides
        user = None
    return {
        "user": user,
        "csrf": await csrf_token(request),
        "conference": request.app[CATALOGUE].conference,
    }


async def _storage(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    engine = connect(settings.db_url)
    await migrate(engine)
    app[ENGINE] = engine
    app[ACCOUNTS] = AccountStore(engine)
    app[SESSIONS] = SessionStore(engine)
    app[CATALOGUE] = await import_configured_conference(engine, settings, app[CLOCK])
    yield
    await engine.dispose()


async def _coordination(app: web.Application) -> AsyncIterator[None]:
    yield
    await app[COORD].close()
