"""Captions over HTTP: a captioner (CART service) posts live captions with the session's caption
key; anyone who may watch reads the session's WebVTT; organizers upload a WebVTT file and issue keys.

A caption key is a bearer token for one thing only: ``POST /api/sessions/{id}/captions`` of its
session. It starts with ``rcap_`` so that it is never mistaken for a user token; only its SHA-256
is stored, and issuing a new key revokes the old one.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from ..authz import Action
from ..captions import parse_vtt, to_vtt
from ..catalogue import Session
from ..errors import BadRequest, NotAuthenticated, TooLarge
from ..rooms.captions import (
    CAPTIONS,
    NAMESPACE,
    CaptionsNamespace,
    announce,
    send_caption,
    session_of,
)
from ..state import CLOCK, ENGINE, SIO
from ..store.captions import CaptionStore
from .identity import bearer, require

__all__ = ["KEY_PREFIX", "routes", "setup"]

routes = web.RouteTableDef()
KEY_PREFIX = "rcap_"
MAX_VTT_BYTES = 2 * 1024 * 1024


def setup(app: web.Application) -> None:
    """Routes, the ``/captions`` namespace and the captions store."""
    app.router.add_routes(routes)
    app[SIO].register_namespace(CaptionsNamespace(NAMESPACE, app))
    app.cleanup_ctx.append(_store)


async def _store(app: web.Application) -> AsyncIterator[None]:
    app[CAPTIONS] = CaptionStore(app[ENGINE])
    yield


def _session(request: web.Request) -> Session:
    return session_of(request.app, request.match_info["id"])


async def _json(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise BadRequest("send a JSON object like {\"text\": \"...\"}") from None
    if not isinstance(body, dict):
        raise BadRequest("send a JSON object like {\"text\": \"...\"}")
    return body


@routes.post("/api/sessions/{id}/captions")
async def post_caption(request: web.Request) -> web.Response:
    """One live caption: with the session's caption key, or as its moderator or an organizer."""
    session = _session(request)
    token = bearer(request)
    if token is not None and token.startswith(KEY_PREFIX):
        if not await request.app[CAPTIONS].key_matches(session.id, token):
            raise NotAuthenticated("this caption key is not valid for this session")
    else:
        await require(request, Action.MODERATE, session.id)
    cue = await send_caption(request.app, session, (await _json(request)).get("text"))
    return web.json_response({"cue": cue.json()}, status=201)


@routes.get("/sessions/{id}/captions.vtt")
async def get_vtt(request: web.Request) -> web.Response:
    """The session's captions as a WebVTT file, times relative to the session's start."""
    session = _session(request)
    await require(request, Action.WATCH, session.id)
    body = to_vtt(await request.app[CAPTIONS].cues(session.id), session.title)
    return web.Response(text=body, content_type="text/vtt", charset="utf-8",
                        headers={"Cache-Control": "private, no-cache"})


@routes.put("/api/sessions/{id}/captions.vtt")
async def put_vtt(request: web.Request) -> web.Response:
    """An organizer's WebVTT file replaces the session's captions (validated first)."""
    session = _session(request)
    await require(request, Action.MANAGE)
    if request.content_length is not None and request.content_length > MAX_VTT_BYTES:
        raise TooLarge(f"a caption file is at most {MAX_VTT_BYTES // 1048576} MB")
    raw = await request.content.read(MAX_VTT_BYTES + 1)
    if len(raw) > MAX_VTT_BYTES:
        raise TooLarge(f"a caption file is at most {MAX_VTT_BYTES // 1048576} MB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("a WebVTT file must be UTF-8", field="file") from None
    cues = parse_vtt(text)
    await request.app[CAPTIONS].replace(session.id, cues, request.app[CLOCK].now())
    if cues:
        await announce(request.app, session.id, cues[-1])
    return web.json_response({"cues": len(cues)})


@routes.post("/api/sessions/{id}/caption-key")
async def new_key(request: web.Request) -> web.Response:
    """A new caption key for the session (shown once); the previous key stops working."""
    session = _session(request)
    user = await require(request, Action.MANAGE)
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    await request.app[CAPTIONS].set_key(session.id, key, user.id, request.app[CLOCK].now())
    return web.json_response({"session": session.id, "key": key,
                              "post_to": f"/api/sessions/{session.id}/captions"}, status=201)
