"""The pages' ES modules: importing one does nothing (no socket, no request, no error) until
its template calls ``init``; only ``client.js`` opens Socket.IO connections."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from playwright.async_api import BrowserContext, expect

from server.catalogue import Role
from server.settings import ROOT
from tests.browser.conftest import sign_in
from tests.conftest import add_person

pytestmark = pytest.mark.browser

JS = ROOT / "frontend" / "static" / "js"
PAGE_MODULES = sorted(p.name for p in JS.glob("*.js") if p.name not in ("client.js", "boot.js"))
TEMPLATES = ROOT / "frontend" / "templates"


async def test_importing_any_page_module_starts_nothing(server: TestServer, context: BrowserContext) -> None:
    base = str(server.make_url("")).rstrip("/")
    page = await context.new_page()
    await page.goto(base + "/login")  # any page of the origin; the modules are imported by hand below
    requests: list[str] = []
    sockets: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("websocket", lambda ws: sockets.append(ws.url))
    page.on("pageerror", lambda e: errors.append(str(e)))
    exported = await page.evaluate("""async (names) => {
        const out = {};
        for (const name of names) out[name] = typeof (await import(`/static/js/${name}`)).init;
        return out;
    }""", PAGE_MODULES)
    assert exported == dict.fromkeys(PAGE_MODULES, "function")
    fetched = [u for u in requests if "/static/" not in u]
    assert fetched == [] and sockets == [] and errors == [], (fetched, sockets, errors)


def test_page_modules_connect_only_through_the_client_module() -> None:
    for name in PAGE_MODULES:
        text = (JS / name).read_text(encoding="utf-8")
        assert "socket.io.esm" not in text and not re.search(r"\bio\(", text), name
        assert 'transports: ["websocket"]' not in text and "csrf-token" not in text, name
        assert "/api/ice" not in text, name


def test_templates_start_modules_through_boot_without_inline_script() -> None:
    started = set()
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text(encoding="utf-8")
        for tag in re.findall(r"<script\b[^>]*>", text):
            assert 'src="/static/js/boot.js"' in tag, (template.name, tag)  # no inline script (CSP)
            started.update(re.findall(r'data-start="([a-z]+)"', tag))
    assert started == {name.removesuffix(".js") for name in PAGE_MODULES}


@asynccontextmanager
async def websocket_refusing_proxy(upstream: TestServer) -> AsyncIterator[str]:
    """An HTTP proxy in front of ``upstream`` that refuses websocket upgrades, as some do."""
    http = aiohttp.ClientSession(auto_decompress=False)

    async def forward(request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return web.Response(status=400, text="websocket not allowed here")
        # Host passes through, so the server's same-origin check sees the origin the browser used.
        headers = {k: v for k, v in request.headers.items() if k.lower() != "content-length"}
        async with http.request(request.method, upstream.make_url(request.rel_url), headers=headers,
                                data=await request.read(), allow_redirects=False) as reply:
            body = await reply.read()
            out = {k: v for k, v in reply.headers.items()
                   if k.lower() not in ("content-length", "transfer-encoding", "connection")}
            return web.Response(status=reply.status, body=body, headers=out)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", forward)
    proxy = TestServer(app, host="127.0.0.1")
    await proxy.start_server()
    try:
        yield str(proxy.make_url("")).rstrip("/")
    finally:
        await proxy.close()
        await http.close()


async def test_a_page_whose_websocket_is_refused_falls_back_to_long_polling(
        server: TestServer, context: BrowserContext) -> None:
    await add_person(server.app, "sam.reyes@demo.rounds", Role.MODERATOR, name="Sam Reyes",
                     password="moderator-pass-1")
    async with websocket_refusing_proxy(server) as base:
        page = await context.new_page()
        polled: list[str] = []
        page.on("request", lambda r: polled.append(r.url) if "transport=polling" in r.url else None)
        await sign_in(page, base, "sam.reyes@demo.rounds", "moderator-pass-1", "/sessions/heart-failure-2026/moderate")
        await expect(page.locator('[data-qa="status"]')).to_have_text("live")
        assert polled  # websocket was refused; the console connected over long-polling
        await page.close()
