"""Docs that match the code: every route and every Socket.IO event is documented."""

from __future__ import annotations

import re

from aiohttp import web

from server.app import create_app
from server.settings import ROOT, Settings
from server.state import SIO

UNDOCUMENTED_OK = ("/static", "/socket.io")


def test_every_http_route_is_in_docs_api(settings: Settings) -> None:
    app = create_app(settings)
    docs = (ROOT / "docs" / "api.md").read_text()
    missing = []
    for resource in app.router.resources():
        path = resource.canonical
        if path.startswith(UNDOCUMENTED_OK) or not path:
            continue
        if f"`{path}`" not in docs and not re.search(rf"`[A-Z]+ {re.escape(path)}`", docs) \
                and f"`{path}" not in docs:
            missing.append(path)
    assert not missing, f"routes missing from docs/api.md: {missing}"


def test_every_socketio_event_is_in_docs_realtime(settings: Settings) -> None:
    app: web.Application = create_app(settings)
    docs = (ROOT / "docs" / "realtime.md").read_text()
    sections = {m.group(1): m.start() for m in re.finditer(r"^## (/\w+)", docs, re.MULTILINE)}
    missing = []
    for namespace, handler in app[SIO].namespace_handlers.items():
        assert namespace in sections, f"docs/realtime.md has no section for {namespace}"
        start = sections[namespace]
        end = min([p for p in sections.values() if p > start], default=len(docs))
        text = docs[start:end]
        for name in dir(handler):
            if name.startswith("on_") and name not in ("on_connect", "on_disconnect"):
                event = name[3:]
                if f"`{event}" not in text:
                    missing.append(f"{namespace} {event}")
    assert not missing, f"events missing from docs/realtime.md: {missing}"
