"""The exhibit hall over HTTP: hall and booth pages, exhibitor console, booth API, resources."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp_jinja2
from aiohttp import web

from ..authz import Action, allowed
from ..catalogue import Booth, Session, logo_type
from ..errors import BadRequest, NotAllowed, NotFound, TooLarge
from ..hall import (
    analytics,
    analytics_json,
    booth_json,
    content_disposition,
    lead_csv,
    lead_json,
    safe_filename,
    sorted_booths,
    upload_type,
)
from ..rooms.hall import HALL, HallNamespace, booth_state, staff_online, staff_room
from ..state import CATALOGUE, CLOCK, ENGINE, SETTINGS, SIO
from ..store.hall import BoothFile, HallStore
from .exports import EXPORT_HEADERS
from .identity import current_user, require, signed_in
from .pages import login_redirect

__all__ = ["routes", "setup"]

routes = web.RouteTableDef()

# Uploaded files are never rendered by the browser as a page of ours.
_SAFE_HEADERS = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'; sandbox",
                 "Cache-Control": "private, no-cache"}


def setup(app: web.Application) -> None:
    """Routes, the ``/hall`` namespace and the hall's store."""
    app.router.add_routes(routes)
    app[SIO].register_namespace(HallNamespace("/hall", app))
    app.cleanup_ctx.append(_hall_store)


async def _hall_store(app: web.Application) -> AsyncIterator[None]:
    app[HALL] = HallStore(app[ENGINE])
    yield


def _booth(request: web.Request, key: str = "id") -> Booth:
    booth = request.app[CATALOGUE].booth(request.match_info[key])
    if booth is None:
        raise NotFound("there is no such booth")
    return booth


def _uploads(request: web.Request, booth: str) -> Path:
    return request.app[SETTINGS].uploads_dir / "booths" / booth


async def _files_by_booth(request: web.Request) -> dict[str, list[dict[str, Any]]]:
    files: dict[str, list[dict[str, Any]]] = {}
    for item in await request.app[HALL].files():
        files.setdefault(item.booth, []).append(item.json())
    return files


async def _hall_json(request: web.Request, booths: list[Booth]) -> list[dict[str, Any]]:
    files = await _files_by_booth(request)
    return [booth_json(b, files.get(b.id, []), await staff_online(request.app, b.id)) for b in booths]


def _leaving(request: web.Request) -> Session | None:
    """The accredited session the attendee is coming from, if any (``?from=`` or the Referer)."""
    if request.query.get("go") == "1":
        return None
    origin = request.query.get("from", "")
    if not origin:
        referer = urlsplit(request.headers.get("Referer", ""))
        same_site = not referer.netloc or referer.netloc == request.host
        parts = referer.path.split("/")
        # Any page of a session counts: the session itself, its disclosure, its evaluation.
        origin = parts[2] if same_site and len(parts) >= 3 and parts[1] == "sessions" else ""
    session = request.app[CATALOGUE].session(origin) if origin else None
    return session if session is not None and session.accredited else None


async def _page_user(request: web.Request) -> None:
    if await current_user(request) is None:
        raise login_redirect(request)


# ---------------------------------------------------------------------- pages
@routes.get("/hall", name="hall")
async def hall_page(request: web.Request) -> web.StreamResponse:
    await _page_user(request)
    user = await require(request, Action.VISIT_BOOTH)
    leaving = _leaving(request)
    if leaving is not None:
        return _leaving_page(request, leaving, "/hall?go=1")
    booths = sorted_booths(request.app[CATALOGUE].booths)
    shares = {lead.booth: lead for lead in await request.app[HALL].shares_of(user.id)}
    context = {"booths": await _hall_json(request, booths), "shares": shares}
    return aiohttp_jinja2.render_template("hall.html", request, context)


def _leaving_page(request: web.Request, session: Session, onward: str) -> web.StreamResponse:
    context = {"session": session, "onward": onward}
    return aiohttp_jinja2.render_template("leaving_accredited.html", request, context)


@routes.get("/hall/{id}", name="booth")
async def booth_page(request: web.Request) -> web.StreamResponse:
    booth = _booth(request)
    await _page_user(request)
    user = await require(request, Action.VISIT_BOOTH, booth.id)
    leaving = _leaving(request)
    if leaving is not None:
        return _leaving_page(request, leaving, f"/hall/{booth.id}?go=1")
    files = (await _files_by_booth(request)).get(booth.id, [])
    context = {
        "booth": booth_json(booth, files, await staff_online(request.app, booth.id)),
        "lead": await request.app[HALL].lead(booth.id, user.id),
        "is_staff": allowed(user, Action.STAFF_BOOTH, booth.id),
        "fields": list((await request.app[HALL].profile(user.id)).items()),
    }
    return aiohttp_jinja2.render_template("booth.html", request, context)


@routes.get("/exhibitor", name="exhibitor")
async def exhibitor_page(request: web.Request) -> web.StreamResponse:
    await _page_user(request)
    user = await signed_in(request)
    mine = [b for b in sorted_booths(request.app[CATALOGUE].booths) if allowed(user, Action.STAFF_BOOTH, b.id)]
    if not mine:
        raise NotAllowed("the booth console is for booth staff")
    chosen = request.query.get("booth", mine[0].id)
    booth = next((b for b in mine if b.id == chosen), None)
    if booth is None:
        await require(request, Action.STAFF_BOOTH, chosen)  # someone else's booth: 403
        raise NotFound("there is no such booth")
    store = request.app[HALL]
    context = {
        "booth": booth, "booths": mine,
        "leads": [lead_json(lead) for lead in await store.leads(booth.id)],
        "analytics": analytics_json(analytics(await store.visits(booth.id), await store.downloads(booth.id))),
        "presence": await booth_state(request.app, booth.id),
        "files": [f.json() for f in await store.files(booth.id)],
        "max_upload": request.app[SETTINGS].upload_max_bytes,
        "can_ban": allowed(user, Action.BAN_FROM_BOOTH, booth.id),
    }
    return aiohttp_jinja2.render_template("exhibitor.html", request, context)


# ---------------------------------------------------------------------- resources
@routes.get("/hall/{id}/links/{n}")
async def open_link(request: web.Request) -> web.StreamResponse:
    """A booth's link resource, counted (anonymously) as a download."""
    booth = _booth(request)
    await require(request, Action.VISIT_BOOTH, booth.id)
    n = request.match_info["n"]
    if not n.isdigit() or len(n) > 9 or int(n) >= len(booth.resources):
        raise NotFound("there is no such resource")
    url = booth.resources[int(n)].url
    if urlsplit(url).scheme not in ("http", "https"):
        raise NotFound("there is no such resource")
    await request.app[HALL].record_download(booth.id, f"link:{n}", request.app[CLOCK].now())
    raise web.HTTPFound(url)


@routes.get("/hall/{id}/files/{file_id}")
async def download(request: web.Request) -> web.StreamResponse:
    """An uploaded resource, always as an attachment of its checked type."""
    booth = _booth(request)
    await require(request, Action.VISIT_BOOTH, booth.id)
    item = await request.app[HALL].file(booth.id, _file_id(request))
    path = _uploads(request, booth.id) / item.stored_name
    try:
        body = await asyncio.to_thread(path.read_bytes)
    except FileNotFoundError:
        raise NotFound("the file is gone") from None
    await request.app[HALL].record_download(booth.id, f"file:{item.id}", request.app[CLOCK].now())
    headers = {**_SAFE_HEADERS, "Content-Disposition": content_disposition(item.filename)}
    return web.Response(body=body, headers={**headers, "Content-Type": item.content_type})


# A logo is an image of the conference file's, shown in the hall: cacheable, and an SVG runs no
# script and loads nothing (the same sandbox as uploads).
_LOGO_HEADERS = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'; sandbox",
                 "Cache-Control": "private, max-age=3600"}


@routes.get("/booths/{id}/logo")
async def logo(request: web.Request) -> web.StreamResponse:
    """A booth's logo from the conference file, with the type its extension and bytes agree on."""
    booth = _booth(request)
    await require(request, Action.VISIT_BOOTH, booth.id)
    if booth.logo is None:
        raise NotFound("this booth has no logo")
    path = Path(booth.logo)
    try:
        body = await asyncio.to_thread(path.read_bytes)
    except OSError:
        raise NotFound("the logo file is gone") from None
    content_type = logo_type(path.name, body[:512])
    if content_type is None:
        raise NotFound("the logo file is no longer an image")
    return web.Response(body=body, headers={**_LOGO_HEADERS, "Content-Type": content_type})


def _file_id(request: web.Request) -> int:
    raw = request.match_info["file_id"]
    if not raw.isdigit() or len(raw) > 9:
        raise NotFound("there is no such file")
    return int(raw)


@routes.post("/api/booths/{id}/resources")
async def upload(request: web.Request) -> web.Response:
    """Staff (or organizers) add a file to a booth: size and type checked before it is kept."""
    booth = _booth(request)
    user = await require(request, Action.STAFF_BOOTH, booth.id)
    limit = request.app[SETTINGS].upload_max_bytes
    if (request.content_length or 0) > limit + 64 * 1024:
        raise TooLarge(f"files may be up to {limit} bytes", limit=limit)
    if not request.content_type.startswith("multipart/form-data"):
        raise BadRequest("send the file as multipart/form-data with a 'file' field", field="file")
    form = await request.post()
    field = form.get("file")
    if not isinstance(field, web.FileField):
        raise BadRequest("choose a file to upload", field="file")
    data = await asyncio.to_thread(field.file.read, limit + 1)
    if len(data) > limit:
        raise TooLarge(f"files may be up to {limit} bytes", limit=limit)
    if not data:
        raise BadRequest("the file is empty", field="file")
    filename = safe_filename(field.filename or "file")
    content_type = upload_type(filename, data[:4096])
    title = form.get("title")
    title = (title.strip() if isinstance(title, str) else "") or filename
    if len(title) > 200:
        raise BadRequest("the title is longer than 200 characters", field="title")
    stored = secrets.token_hex(16)
    folder = _uploads(request, booth.id)
    await asyncio.to_thread(_write, folder, stored, data)
    item = await request.app[HALL].add_file(booth.id, title, filename, content_type, len(data), stored,
                                            user.email, user.id, request.app[CLOCK].now())
    return web.json_response({"resource": item.json()}, status=201)


def _write(folder: Path, name: str, data: bytes) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)


@routes.delete("/api/booths/{id}/resources/{file_id}")
async def delete_resource(request: web.Request) -> web.Response:
    booth = _booth(request)
    user = await require(request, Action.STAFF_BOOTH, booth.id)
    item: BoothFile = await request.app[HALL].file(booth.id, _file_id(request))
    await request.app[HALL].delete_file(item, user.email, request.app[CLOCK].now())
    (_uploads(request, booth.id) / item.stored_name).unlink(missing_ok=True)
    return web.json_response({"deleted": item.id})


# ---------------------------------------------------------------------- API
@routes.get("/api/booths")
async def booths(request: web.Request) -> web.Response:
    await require(request, Action.VISIT_BOOTH)
    return web.json_response({"booths": await _hall_json(request, sorted_booths(request.app[CATALOGUE].booths))})


@routes.get("/api/booths/{id}")
async def booth(request: web.Request) -> web.Response:
    found = _booth(request)
    await require(request, Action.VISIT_BOOTH, found.id)
    return web.json_response({"booth": (await _hall_json(request, [found]))[0]})


@routes.get("/api/booths/{id}/leads")
async def leads(request: web.Request) -> web.Response:
    booth = _booth(request)
    await require(request, Action.READ_LEADS, booth.id)
    found = await request.app[HALL].leads(booth.id)
    return web.json_response({"booth": booth.id, "leads": [lead_json(lead) for lead in found]})


@routes.get("/api/booths/{id}/leads.csv")
async def leads_csv(request: web.Request) -> web.Response:
    booth = _booth(request)
    user = await require(request, Action.READ_LEADS, booth.id)
    found = await request.app[HALL].leads(booth.id)
    await request.app[HALL].audit(user.email, "hall.export_leads", f"booth:{booth.id}", {"leads": len(found)},
                                  request.app[CLOCK].now())
    headers = {**_SAFE_HEADERS, **EXPORT_HEADERS, "Content-Disposition": content_disposition(f"{booth.id}-leads.csv")}
    return web.Response(text=lead_csv(found), content_type="text/csv", charset="utf-8", headers=headers)


@routes.get("/api/booths/{id}/analytics")
async def booth_analytics(request: web.Request) -> web.Response:
    booth = _booth(request)
    await require(request, Action.STAFF_BOOTH, booth.id)
    store = request.app[HALL]
    result = analytics_json(analytics(await store.visits(booth.id), await store.downloads(booth.id)))
    state = await booth_state(request.app, booth.id)
    return web.json_response({"booth": booth.id, "visitors_now": state["visitors"], **result})


@routes.get("/api/me/shares")
async def my_shares(request: web.Request) -> web.Response:
    """What the signed-in attendee shared, with which booth."""
    user = await signed_in(request)
    cat = request.app[CATALOGUE]
    shares = []
    for lead in await request.app[HALL].shares_of(user.id):
        found = cat.booth(lead.booth)
        shares.append({"booth": lead.booth, "org": found.org if found else lead.booth, **lead_json(lead)})
    return web.json_response({"shares": shares})


@routes.delete("/api/me/shares/{id}")
async def withdraw_share(request: web.Request) -> web.Response:
    booth = _booth(request)
    user = await require(request, Action.VISIT_BOOTH, booth.id)
    lead = await request.app[HALL].withdraw(booth.id, user.id, user.email, request.app[CLOCK].now())
    if lead is not None:
        sio = request.app[SIO]
        await sio.emit("lead", {"booth": booth.id, "withdrawn": lead.id}, room=staff_room(booth.id), namespace="/hall")
        await sio.emit("presence", await booth_state(request.app, booth.id), room=staff_room(booth.id),
                       namespace="/hall")
    return web.json_response({"withdrawn": lead is not None})
