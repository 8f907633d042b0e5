"""Loading the conference a server starts with."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from ..catalogue import Catalogue
from ..clock import Clock
from ..conference_file import load_conference
from ..settings import Settings
from .catalogue import import_conference, load_catalogue

__all__ = ["import_configured_conference", "import_file"]


async def import_file(engine: AsyncEngine, path: Path, now: datetime | None = None,
                      amend: bool = False) -> dict[str, int]:
    """Validate and import a conference file; raises ConferenceFileError or HistoryRewrite."""
    now = now or datetime.now(UTC)
    parsed = load_conference(path, now=now)
    kind = "yaml" if path.suffix.lower() in (".yaml", ".yml") else "toml"
    return await import_conference(engine, path.read_text(encoding="utf-8"), kind, parsed, now, amend=amend)


async def import_configured_conference(engine: AsyncEngine, settings: Settings, clock: Clock) -> Catalogue:
    """Import ``settings.conference`` (when set) anchored at the clock's now, then load it."""
    if settings.conference and settings.conference.is_file():
        await import_file(engine, settings.conference, now=clock.now())
    return await load_catalogue(engine)


