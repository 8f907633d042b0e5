"""Docs that match the code: every route and every Socket.IO event is documented."""

from __future__ import annotations

import ast
import inspect
import re

from aiohttp import web

from server.app import create_app
from server.settings import ROOT, Settings
from server.state import SIO

UNDOCUMENTED_OK = ("/static", "/socket.io")


def code_spans(markdown: str) -> set[str]:
    """Every inline code span of ``markdown``, stripped: routes (``METHOD /path``), events, settings."""
    return {span.strip() for span in re.findall(r"`([^`\n]+)`", markdown)}


def undocumented(routes: list[tuple[str, str]], markdown: str) -> list[str]:
    """``METHOD path`` of each route that no code span names exactly (a page may omit ``GET``)."""
    spans = code_spans(markdown)
    return [f"{method} {path}" for method, path in routes
            if f"{method} {path}" not in spans and not (method == "GET" and path in spans)]


def test_routes_must_match_exactly_not_by_prefix() -> None:
    docs = "`GET /hall/{id}` and `/lobby/{id}`, `POST /hall`"
    assert undocumented([("GET", "/hall"), ("GET", "/lobby"), ("GET", "/hall/{id}"), ("POST", "/hall")], docs) \
        == ["GET /hall", "GET /lobby"]
    assert undocumented([("DELETE", "/hall/{id}")], docs) == ["DELETE /hall/{id}"]


def test_every_http_route_is_in_docs_api(settings: Settings) -> None:
    app = create_app(settings)
    routes = sorted({(route.method, route.resource.canonical) for route in app.router.routes()
                     if route.resource is not None and route.method not in ("HEAD", "OPTIONS")
                     and route.resource.canonical and not route.resource.canonical.startswith(UNDOCUMENTED_OK)})
    missing = undocumented(routes, (ROOT / "docs" / "api.md").read_text())
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
        spans = code_spans(docs[start:end])  # every code span of the namespace's section
        for name in dir(handler):
            if name.startswith("on_") and name not in ("on_connect", "on_disconnect"):
                event = name[3:]
                if event not in spans:  # exactly `event`, not a longer name starting with it
                    missing.append(f"{namespace} {event}")
    assert not missing, f"events missing from docs/realtime.md: {missing}"


def test_every_event_a_namespace_emits_is_in_docs_realtime(settings: Settings) -> None:
    """Server events too: each ``emit("event", ...)`` with a literal name in a namespace's module."""
    app: web.Application = create_app(settings)
    docs = (ROOT / "docs" / "realtime.md").read_text()
    sections = {m.group(1): m.start() for m in re.finditer(r"^## (/\w+)", docs, re.MULTILINE)}
    missing, seen = [], 0
    for namespace, handler in app[SIO].namespace_handlers.items():
        start = sections[namespace]
        end = min([p for p in sections.values() if p > start], default=len(docs))
        spans = code_spans(docs[start:end])
        tree = ast.parse(inspect.getsource(inspect.getmodule(handler)))  # type: ignore[arg-type]
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "emit" \
                    and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                seen += 1
                if node.args[0].value not in spans:
                    missing.append(f"{namespace} {node.args[0].value}")
    assert seen >= 5  # the hall, watch and stage namespaces emit by name
    assert not missing, f"server events missing from docs/realtime.md: {missing}"
