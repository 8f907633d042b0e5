"""The live stage over HTTP: WHIP ingest, WHEP playback, the studio page, ICE servers, recordings."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterable
from datetime import timedelta
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

import media
from media import (
    IceServer,
    MediaHub,
    MediaSettings,
    captions_path,
    list_recordings,
    turn_credentials,
)

from .. import disclosure_gate
from ..accounts import User
from ..authz import Action, allowed, sees_viewers
from ..captions import to_vtt
from ..catalogue import Session
from ..errors import (
    BadRequest,
    Conflict,
    NotAllowed,
    NotFound,
    RateLimited,
    RoundsError,
    TooLarge,
    Unavailable,
)
from ..evidence import EVIDENCE
from ..rooms.captions import CAPTIONS
from ..rooms.stage import StageNamespace
from ..settings import Settings
from ..state import CATALOGUE, CLOCK, METRICS, SETTINGS, SIO
from .api import session_extras
from .identity import current_user, require, signed_in
from .middleware import translations
from .pages import login_redirect

__all__ = ["HUB", "end_finished_sessions", "ice_servers", "media_settings", "routes", "setup"]

log = logging.getLogger("rounds.media")
routes = web.RouteTableDef()
HUB = web.AppKey("media_hub", MediaHub)
STAGE = web.AppKey("stage_namespace", StageNamespace)
SDP = "application/sdp"
MAX_OFFER_BYTES = 64 * 1024
END_CHECK_S = 5.0


class UnsupportedMediaType(RoundsError):
    status = 415
    code = "unsupported_media_type"


def media_settings(settings: Settings) -> MediaSettings:
    """The media layer's settings, from the server's.

    The server's own peer connections gather host candidates (announced as
    ``ice_announce`` behind NAT); the STUN/TURN servers are for browsers and OBS.
    """
    return MediaSettings(
        ice_addresses=settings.ice_addresses,
        ice_announce=settings.ice_announce or None,
        max_viewers=settings.max_viewers,
        recordings_dir=settings.recordings_dir,
    )


def ice_servers(settings: Settings) -> tuple[IceServer, ...]:
    """The configured STUN/TURN servers; TURN ones use the shared secret when set."""
    servers = []
    for url in settings.ice_servers:
        is_turn = url.startswith(("turn:", "turns:"))
        secret = settings.turn_secret if is_turn and settings.turn_secret else None
        servers.append(IceServer(urls=(url,), secret=secret))
    return tuple(servers)


def as_rounds_error(exc: media.MediaError) -> RoundsError:
    """The one translation of media errors to HTTP statuses."""
    if isinstance(exc, media.Full):
        return Unavailable(exc.reason, retry_after=exc.retry_after_s)
    if isinstance(exc, media.TooManyResources):
        return RateLimited(exc.reason)
    if isinstance(exc, media.UnknownResource):
        return NotFound(exc.reason)
    if isinstance(exc, media.SessionEnded):
        return Conflict(exc.reason)
    return BadRequest(exc.reason)


# -- WHIP / WHEP (RFC 9725) ------------------------------------------------------------


@routes.post("/whip/{session_id}")
async def whip(request: web.Request) -> web.Response:
    user, session = await _authorized(request, Action.PUBLISH)
    margin = timedelta(seconds=request.app[SETTINGS].publish_margin_s)
    window = session.publishing_window(margin)
    if not window.start <= request.app[CLOCK].now() < window.end:
        raise NotAllowed(
            "publishing is open from {} to {} (UTC)".format(
                window.start.strftime("%Y-%m-%d %H:%M"), window.end.strftime("%Y-%m-%d %H:%M")
            )
        )
    offer = await _offer(request)
    resource = await _media(request.app[HUB].publish(session.id, user.id, offer))
    return _created(request, "whip", session.id, resource, user)


@routes.post("/whep/{session_id}")
async def whep(request: web.Request) -> web.Response:
    user, session = await _authorized(request, Action.WATCH)
    await disclosure_gate.require(request.app, user, session)
    offer = await _offer(request)
    resource = await _media(request.app[HUB].subscribe(session.id, user.id, offer))
    return _created(request, "whep", session.id, resource, user)


@routes.delete("/whip/{session_id}/{resource}")
@routes.delete("/whep/{session_id}/{resource}")
async def stop(request: web.Request) -> web.Response:
    user = await signed_in(request)
    kind = "publisher" if request.path.startswith("/whip/") else "viewer"
    hub = request.app[HUB]
    try:
        info = hub.describe(request.match_info["resource"])
    except media.UnknownResource as exc:
        raise as_rounds_error(exc) from None
    if info.session_id != request.match_info["session_id"] or info.kind != kind:
        raise NotFound("no such resource")
    if info.user_id != user.id and not allowed(user, Action.MANAGE):
        raise NotAllowed("this resource belongs to someone else")
    await _media(hub.stop(info.id))
    return web.Response(status=200)


async def _authorized(request: web.Request, action: Action) -> tuple[User, Session]:
    # 401 before 404 before 403: an anonymous client learns nothing about sessions.
    await signed_in(request)
    session = request.app[CATALOGUE].session(request.match_info["session_id"])
    if session is None:
        raise NotFound("there is no such session")
    return await require(request, action, session.id), session


async def _offer(request: web.Request) -> str:
    if request.content_type != SDP:
        raise UnsupportedMediaType(f"send the SDP offer as Content-Type: {SDP}")
    if request.content_length is not None and request.content_length > MAX_OFFER_BYTES:
        raise TooLarge(f"an SDP offer is at most {MAX_OFFER_BYTES} bytes")
    # StreamReader.read(n) returns what has arrived so far, not n bytes: read to the end.
    body = bytearray()
    while chunk := await request.content.read(MAX_OFFER_BYTES + 1 - len(body)):
        body += chunk
    if len(body) > MAX_OFFER_BYTES:
        raise TooLarge(f"an SDP offer is at most {MAX_OFFER_BYTES} bytes")
    try:
        return bytes(body).decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("the SDP offer must be UTF-8 text") from None


async def _media(call: Any) -> Any:
    try:
        return await call
    except media.MediaError as exc:
        raise as_rounds_error(exc) from None


def _created(
    request: web.Request, kind: str, session_id: str, resource: media.Resource, user: User
) -> web.Response:
    response = web.Response(status=201, body=resource.answer_sdp.encode(), content_type=SDP)
    response.headers["Location"] = f"/{kind}/{session_id}/{resource.id}"
    # RFC 9725 section 4.6: ICE servers as Link headers (OBS reads them for TURN).
    for server in _ice_servers(request.app[SETTINGS], user):
        link = f'<{server["urls"][0]}>; rel="ice-server"'
        if "username" in server:
            link += f'; username="{server["username"]}"; credential="{server["credential"]}"'
            link += '; credential-type="password"'
        response.headers.add("Link", link)
    return response


# -- ICE servers for browsers ----------------------------------------------------------


@routes.get("/api/ice")
async def ice(request: web.Request) -> web.Response:
    """ICE servers for this user's peer connection; TURN credentials are ephemeral."""
    user = await signed_in(request)
    return web.json_response({"iceServers": _ice_servers(request.app[SETTINGS], user)})


def _ice_servers(settings: Settings, user: User) -> list[dict[str, Any]]:
    servers: list[dict[str, Any]] = []
    for server in ice_servers(settings):
        entry: dict[str, Any] = {"urls": list(server.urls)}
        if server.secret is not None:
            entry["username"], entry["credential"] = turn_credentials(
                server.secret, str(user.id), settings.turn_ttl_s, time.time()
            )
        servers.append(entry)
    return servers


# -- pages -------------------------------------------------------------------------------


@routes.get("/studio", name="studio")
async def studio_index(request: web.Request) -> web.StreamResponse:
    user = await current_user(request)
    if user is None:
        raise login_redirect(request)
    sessions = [s for s in request.app[CATALOGUE].sessions if allowed(user, Action.PUBLISH, s.id)]
    if not sessions:
        raise NotAllowed("only faculty and organizers publish")
    context = {"sessions": sessions, "session": None, "now": request.app[CLOCK].now()}
    return aiohttp_jinja2.render_template("studio.html", request, context)


@routes.get("/studio/{session_id}", name="studio_session")
async def studio(request: web.Request) -> web.StreamResponse:
    if await current_user(request) is None:
        raise login_redirect(request)
    user, session = await _authorized(request, Action.PUBLISH)
    margin = timedelta(seconds=request.app[SETTINGS].publish_margin_s)
    context = {
        "sessions": [],
        "session": session,
        "window": session.publishing_window(margin),
        "now": request.app[CLOCK].now(),
        "publisher": user,
    }
    return aiohttp_jinja2.render_template("studio.html", request, context)


@routes.get("/recordings/{session_id}/{name}")
async def recording(request: web.Request) -> web.StreamResponse:
    """Download one recorded track (organizers)."""
    await require(request, Action.VIEW_REPORTS)
    root = request.app[SETTINGS].recordings_dir
    for found in list_recordings(root, request.match_info["session_id"]):
        if found.path.name == request.match_info["name"]:
            kind = "text/vtt; charset=utf-8" if found.kind == "captions" else "video/x-matroska"
            return web.FileResponse(found.path, headers={"Content-Type": kind, "X-Content-Type-Options": "nosniff"})
    raise NotFound("there is no such recording")


# -- wiring ------------------------------------------------------------------------------


async def _live_fields(request: web.Request, session: Session, user: User | None) -> dict[str, Any]:
    state = request.app[HUB].stage(session.id)
    fields: dict[str, Any] = {"live": state.live, "stage": state.status}
    if sees_viewers(user, session.id):
        fields["viewers"] = state.viewers
    return fields


def _collect(hub: MediaHub) -> Iterable[Metric]:
    stats = hub.stats()
    viewers = GaugeMetricFamily(
        "rounds_stage_viewers", "Viewers connected, by session (this process)", labels=["session"]
    )
    publishers = GaugeMetricFamily(
        "rounds_stage_publishers", "Publishers live, by session (this process)", labels=["session"]
    )
    receiving = GaugeMetricFamily(
        "rounds_stage_receiving",
        "Viewers whose receiver reports show media arriving, by session (this process)",
        labels=["session"],
    )
    for session in stats.sessions:
        viewers.add_metric([session.session_id], session.viewers)
        publishers.add_metric([session.session_id], session.publishers)
        receiving.add_metric([session.session_id], session.receiving)
    dropped = CounterMetricFamily(
        "rounds_stage_dropped_packets", "RTP packets not sent to viewers whose socket was full"
    )
    dropped.add_metric([], stats.dropped_packets)
    return [viewers, publishers, receiving, dropped]


async def _hub_context(app: web.Application) -> AsyncIterator[None]:
    hub = app[HUB]
    namespace = app[STAGE]
    hub.on_stage_change(namespace.broadcast)
    task = asyncio.create_task(_end_sessions(app), name="stage-end")
    yield
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await hub.close()


async def _end_sessions(app: web.Application) -> None:
    ended: set[str] = set()
    while True:
        await end_finished_sessions(app, ended)
        await asyncio.sleep(END_CHECK_S)


async def end_finished_sessions(app: web.Application, ended: set[str]) -> None:
    """End the stage of every session whose publishing window has closed: viewers see "ended"."""
    margin = timedelta(seconds=app[SETTINGS].publish_margin_s)
    now = app[CLOCK].now()
    for session in app[CATALOGUE].sessions:
        if session.id not in ended and session.publishing_window(margin).end <= now:
            ended.add(session.id)
            await app[HUB].end_session(session.id)
            await keep_captions(app, session)


async def keep_captions(app: web.Application, session: Session) -> None:
    """Write the session's captions as WebVTT beside its recordings (nothing if it has none)."""
    if CAPTIONS not in app:
        return
    cues = await app[CAPTIONS].cues(session.id)
    if not cues:
        return
    path = captions_path(app[SETTINGS].recordings_dir, session.id)
    body = to_vtt(cues, session.title)

    def write() -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".vtt.part")
        partial.write_text(body, encoding="utf-8")
        partial.replace(path)

    await asyncio.to_thread(write)


class _NoEvidence:
    async def viewer_started(self, session_id: str, viewer_id: str, user_id: int) -> None: ...
    async def viewer_stopped(self, session_id: str, viewer_id: str, user_id: int) -> None: ...
    async def publisher_started(self, session_id: str, publisher_id: str, user_id: int) -> None: ...
    async def publisher_stopped(self, session_id: str, publisher_id: str, user_id: int) -> None: ...


def setup(app: web.Application) -> None:
    """The live stage: WHIP/WHEP routes, studio pages, ``/stage`` namespace, metrics."""
    evidence: media.Evidence = app[EVIDENCE] if EVIDENCE in app else _NoEvidence()
    hub = MediaHub(media_settings(app[SETTINGS]), evidence)
    app[HUB] = hub
    namespace = StageNamespace("/stage", app, hub.stage)
    app[STAGE] = namespace
    app[SIO].register_namespace(namespace)
    app.router.add_routes(routes)
    app.cleanup_ctx.append(_hub_context)
    session_extras(app).append(_live_fields)
    app[METRICS].add_collector(lambda: _collect(hub))
    translations[media.MediaError] = BadRequest
    env = aiohttp_jinja2.get_env(app)
    env.globals["stage_recordings"] = lambda session_id=None: list_recordings(
        app[SETTINGS].recordings_dir, session_id
    )
