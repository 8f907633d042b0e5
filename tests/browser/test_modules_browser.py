"""The pages' ES modules: importing one does nothing (no socket, no request, no error) until
its template calls ``init``; only ``client.js`` opens Socket.IO connections."""

from __future__ import annotations

import re

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import BrowserContext

from server.settings import ROOT

pytestmark = pytest.mark.browser

JS = ROOT / "frontend" / "static" / "js"
PAGE_MODULES = sorted(p.name for p in JS.glob("*.js") if p.name != "client.js")


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
