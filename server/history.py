"""What of a session its records depend on, and what an import would change (pure).

Evidence, claims and certificates are made under a session's id, times, breaks, designation and
disclosure. Once a session has any, an import that changes those is refused with what it would
affect, unless it is an explicit amendment (``rounds import --amend``): then the session gets a
new version and the records keep the version they were made under.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from .catalogue import Session
from .credit import disclosure_version

__all__ = ["HISTORY_FIELDS", "changes", "history_fields"]

HISTORY_FIELDS = ("start", "end", "breaks", "credits", "disclosure")


def history_fields(session: Session, day_one: datetime, demo: bool) -> dict[str, Any]:
    """The fields of ``session`` that records depend on, as JSON.

    A demo conference moves with every start (its day 1 is anchored to now): its times are kept
    relative to day 1, so restarting the demo is not a change of history.
    """
    def when(t: datetime) -> str:
        return str((t - day_one).total_seconds()) if demo else t.isoformat()

    return {
        "start": when(session.start),
        "end": when(session.end),
        "breaks": [[when(b.start), when(b.end)] for b in session.breaks],
        "credits": {k: str(v) for k, v in sorted(session.credits.items())},
        "disclosure": disclosure_version(session),
        # Not compared, kept so exports can still describe a session the file no longer has.
        "title": session.title,
        "uan": session.uan,
        "start_at": session.start.isoformat(),
        "spans": [[sp.start.timestamp(), sp.end.timestamp()] for sp in session.accredited_timeline()],
    }


def changes(before: Mapping[str, Any], after: Mapping[str, Any] | None) -> list[str]:
    """Which history fields differ ("removed" when the session is gone or renamed)."""
    if after is None:
        return ["removed or renamed"]
    return [f for f in HISTORY_FIELDS if before.get(f) != after.get(f)]
