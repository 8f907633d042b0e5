"""The import layers of docs/architecture.md: no module imports a layer above its own.

Imports are read with ``ast`` from the source (also those inside functions and under
``TYPE_CHECKING``: a lazy import is still a dependency). Every module of ``server/`` must belong
to a layer, so a new module is placed on purpose.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.settings import ROOT

# Lowest first. A module may import modules of its own rank or lower, never higher.
# Entries are a module or a package (the package and everything under it); the longest match wins.
LAYERS: tuple[tuple[int, str, tuple[str, ...]], ...] = (
    (0, "domain", (
        "server", "server.accounts", "server.attendance", "server.authz", "server.catalogue",
        "server.certificates", "server.clock", "server.conference_file", "server.credit",
        "server.credit_transcript", "server.errors", "server.hall", "server.logs", "server.passwords",
        "server.qna", "server.settings", "server.spreadsheet", "server.tokens", "server.reports.table",
        "server.history", "server.profile", "server.signin",
        "server.display", "server.captions", "server.polls", "server.ical",
    )),
    (1, "store", ("server.store",)),
    (1, "coordination", ("server.coord", "server.metrics", "server.mail", "server.sio_internals")),
    (2, "services", ("server.state", "server.evidence", "server.transcript", "server.reports",
                  "server.credit_report", "server.disclosure_gate", "server.verification")),
    (3, "realtime", ("server.rooms",)),
    (4, "http", ("server.http",)),
    (5, "app", ("server.app",)),
    (6, "cli", ("server.cli", "server.__main__")),
)
# Third-party packages the domain layer must not import: it is values in, values out.
TRANSPORT = ("aiohttp", "aiohttp_jinja2", "aiohttp_session", "socketio", "aiortc", "av", "sqlalchemy",
             "alembic", "redis", "prometheus_client", "media")
# The store speaks SQL only: no web, realtime or media.
STORE_FORBIDDEN = ("aiohttp", "aiohttp_jinja2", "aiohttp_session", "socketio", "aiortc", "av", "media")

# Imports that break a rule today, each with the reason and where it is being fixed. The test
# fails on any violation not listed here, and on an entry that is no longer a violation (remove it).
ALLOWED: dict[tuple[str, str], str] = {
    # rooms/base.py authenticates a Socket.IO connect with the HTTP layer's resolve_user: an
    # upward arrow (realtime -> http). To be moved in issue 10 item 3 (identity out of http/).
    ("server.rooms.base", "server.http.identity"): "identity resolution to move out of http/ (issue 10 item 3)",
}


def _modules() -> Iterator[tuple[str, Path]]:
    for top in ("server", "media"):
        for path in sorted((ROOT / top).rglob("*.py")):
            rel = path.relative_to(ROOT)
            if "migrations" in rel.parts:
                continue
            parts = list(rel.with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            yield ".".join(parts), path


def imports_of(module: str, source: str, *, is_package: bool = False) -> set[str]:
    """Every module ``source`` (the text of ``module``) imports, relative imports resolved."""
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            # `from . import x` / `from pkg import sub` import a module each; else the package.
            subs = [f"{name}.{alias.name}" for alias in node.names]
            known = [s for s in subs if s in MODULES]
            found.update(known or [name])
    return found


def layer_of(module: str) -> tuple[int, str] | None:
    """(rank, name) of the layer ``module`` belongs to, or None if it is none of server's."""
    best: tuple[int, int, str] | None = None
    for rank, name, entries in LAYERS:
        for entry in entries:
            matches = module == entry or (entry != "server" and module.startswith(entry + "."))
            if matches and (best is None or len(entry) > best[0]):
                best = (len(entry), rank, name)
    return None if best is None else (best[1], best[2])


def _top(name: str) -> str:
    return name.split(".")[0]


def violations(module: str, imported: set[str]) -> list[tuple[str, str]]:
    """(imported module, why) for each import of ``module`` that breaks a layer rule."""
    out: list[tuple[str, str]] = []
    if _top(module) == "media":
        return [(i, f"{module} imports {i}: media/ knows nothing of server/") for i in imported if _top(i) == "server"]
    own = layer_of(module)
    assert own is not None, f"{module} belongs to no layer: add it to LAYERS in {__file__}"
    for i in sorted(imported):
        if _top(i) == "media" and i != "media":
            out.append((i, f"{module} imports {i}: server/ reaches media only through `media` (media/__init__.py)"))
        if own[1] == "domain" and _top(i) in TRANSPORT:
            out.append((i, f"{module} imports {i}: domain modules import no transport, storage or media"))
        if own[1] == "store" and _top(i) in STORE_FORBIDDEN:
            out.append((i, f"{module} imports {i}: the store imports no web, realtime or media"))
        theirs = layer_of(i) if _top(i) == "server" else None
        if theirs is not None and theirs[0] > own[0]:
            out.append((i, f"{module} ({own[1]}) imports {i} ({theirs[1]}), a higher layer"))
    return out


MODULES = {name for name, _ in _modules()}


def _found() -> dict[tuple[str, str], str]:
    found: dict[tuple[str, str], str] = {}
    for module, path in _modules():
        imported = imports_of(module, path.read_text(encoding="utf-8"), is_package=path.name == "__init__.py")
        for target, reason in violations(module, imported):
            found[(module, target)] = reason
    return found


def test_no_module_imports_a_higher_layer() -> None:
    found = _found()
    new = [reason for key, reason in found.items() if key not in ALLOWED]
    assert not new, "\n".join(new)


def test_every_allowed_violation_still_exists() -> None:
    stale = sorted(key for key in ALLOWED if key not in _found())
    assert not stale, f"fixed, remove from ALLOWED: {stale}"


@pytest.mark.parametrize(("module", "source", "rule"), [
    ("server.credit", "import sqlalchemy as sa", "domain modules import no transport"),
    ("server.qna", "from .rooms.qa import QNA", "a higher layer"),
    ("server.store.qa", "from ..http.identity import require", "a higher layer"),
    ("server.http.qa", "from ..cli import main", "a higher layer"),
    ("server.http.media", "from media.hub import MediaHub", "only through `media`"),
    ("media.hub", "from server.errors import RoundsError", "media/ knows nothing of server/"),
    ("server.store.credit", "from aiohttp import web", "the store imports no web"),
])
def test_the_checker_catches_each_kind_of_upward_import(module: str, source: str, rule: str) -> None:
    found = violations(module, imports_of(module, source))
    assert len(found) == 1 and rule in found[0][1], found


def test_allowed_imports_pass_the_checker() -> None:
    assert violations("server.http.qa", imports_of("server.http.qa", "from ..rooms.qa import QNA\nimport media")) == []
    assert violations("server.hall", imports_of("server.hall", "from .reports.table import csv_text")) == []


def test_a_module_outside_every_layer_is_reported() -> None:
    with pytest.raises(AssertionError, match="belongs to no layer"):
        violations("server.newthing", set())
