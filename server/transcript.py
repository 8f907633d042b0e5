"""A user's transcript from stored evidence: watch time per session, conference total, faculty time.

Recomputed from raw evidence every time (``server.attendance`` rules), so a fix in the rules
applies to past conferences too. Open media intervals and unanswered prompts run to infinity
here: watch time is bounded by the page stretches, which always end at a stored heartbeat.

Other features add fields with ``transcript_extras(app).append(fn)`` (credit: eligible, claimed,
status): ``async fn(app, user, transcript) -> {"sessions": {session_id: {...}}, "total": {...}}``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .accounts import User
from .attendance import (
    Intervals,
    attention_gaps,
    attribute_once,
    from_spans,
    media_intervals,
    publishing_intervals,
    total_seconds,
    watch_intervals,
)  # fmt: skip
from .catalogue import Catalogue, Session
from .state import CATALOGUE, CLOCK, ENGINE, EXTRA
from .store.attendance import AttendanceStore, Recorded

__all__ = [
    "SessionTime", "Transcript", "TranscriptExtra", "compute", "published", "timeline", "transcript_extras",
    "transcript_for", "transcript_json", "watch_seconds", "watched",
]

INF = float("inf")

TranscriptExtra = Callable[[web.Application, User, "Transcript"], Awaitable[Mapping[str, Any]]]


def transcript_extras(app: web.Application) -> list[TranscriptExtra]:
    """Hooks that add fields to ``GET /api/me/transcript`` (per session and total)."""
    return app[EXTRA].setdefault("transcript", [])  # type: ignore[no-any-return]


def timeline(session: Session) -> Intervals:
    """A session's accredited timeline in conference seconds (empty if not accredited)."""
    return from_spans(session.accredited_timeline())


def watched(recorded: Recorded, accredited: Intervals) -> Intervals:
    """Watch time from stored evidence: media AND page, inside the timeline, outside prompts."""
    return watch_intervals(media_intervals(recorded.media, INF), recorded.pages(), accredited,
                           attention_gaps(recorded.prompts.values(), INF))


def published(recorded: Recorded, accredited: Intervals, until: float) -> Intervals:
    """A faculty member's own publishing time inside the accredited timeline, as of ``until``.

    Unlike viewing, publishing has no page to bound it: a stream still open counts up to ``until``.
    """
    return publishing_intervals(recorded.publishing, accredited, until)


@dataclass(frozen=True, slots=True)
class SessionTime:
    """One session of a transcript."""

    session: Session
    watched: Intervals
    counted: Intervals  # the part of ``watched`` this session gets in the conference total
    published: Intervals

    @property
    def watch_seconds(self) -> float:
        return total_seconds(self.watched)

    @property
    def counted_seconds(self) -> float:
        return total_seconds(self.counted)

    @property
    def faculty_seconds(self) -> float:
        return total_seconds(self.published)


@dataclass(frozen=True, slots=True)
class Transcript:
    """A user's time at the conference."""

    user_id: int
    sessions: tuple[SessionTime, ...]

    @property
    def watch_seconds(self) -> float:
        """Conference total: parallel sessions watched at once count once."""
        return total_seconds(iv for s in self.sessions for iv in s.watched)

    @property
    def faculty_seconds(self) -> float:
        return sum(s.faculty_seconds for s in self.sessions)

    def session(self, session_id: str) -> SessionTime | None:
        return next((s for s in self.sessions if s.session.id == session_id), None)


def compute(user_id: int, catalogue: Catalogue, recorded: Mapping[str, Recorded],
            until: float | None = None) -> Transcript:
    """The transcript of ``user_id`` from their stored evidence by session id, as of ``until``
    (default: the newest evidence in ``recorded``) (pure)."""
    if until is None:
        until = _latest(recorded.values())
    found = [(s, recorded[s.id]) for s in sorted(catalogue.sessions, key=lambda s: (s.start, s.id))
             if s.id in recorded]
    lines = {s.id: (watched(rec, timeline(s)), published(rec, timeline(s), until)) for s, rec in found}
    counted = attribute_once({sid: w for sid, (w, _) in lines.items()})
    return Transcript(user_id, tuple(SessionTime(s, lines[s.id][0], counted[s.id], lines[s.id][1])
                                     for s, _ in found))


def _latest(recorded: Iterable[Recorded]) -> float:
    times = [0.0]
    for rec in recorded:
        times.extend(e.at for e in rec.media)
        times.extend(e.at for e in rec.publishing)
        times.extend(t.last for t in rec.tabs.values())
        times.extend(iv.end for iv in rec.stretches)
    return max(times)


async def transcript_for(app: web.Application, user_id: int) -> Transcript:
    """A user's transcript from what is stored now."""
    recorded = await AttendanceStore(app[ENGINE]).recorded(user_id=user_id)
    return compute(user_id, app[CATALOGUE], {sid: rec for (_, sid), rec in recorded.items()},
                   app[CLOCK].timestamp())


async def watch_seconds(app: web.Application, user_id: int, session_id: str) -> float:
    """One user's stored watch time in one session (0 for an unknown session)."""
    session = app[CATALOGUE].session(session_id)
    if session is None:
        return 0.0
    recorded = await AttendanceStore(app[ENGINE]).one(user_id, session_id)
    return total_seconds(watched(recorded, timeline(session)))


def _seconds(value: float) -> int:
    return int(value)  # whole seconds down: never report time that was not watched


def transcript_json(transcript: Transcript) -> dict[str, Any]:
    """The body of ``GET /api/me/transcript`` before extras."""
    return {
        "sessions": [{
            "id": s.session.id,
            "title": s.session.title,
            "start": s.session.start.isoformat(),
            "end": s.session.end.isoformat(),
            "accredited": s.session.accredited,
            "watch_seconds": _seconds(s.watch_seconds),
            "counted_seconds": _seconds(s.counted_seconds),
            "faculty_seconds": _seconds(s.faculty_seconds),
        } for s in transcript.sessions],
        "total": {
            "watch_seconds": _seconds(transcript.watch_seconds),
            "faculty_seconds": _seconds(transcript.faculty_seconds),
            "sessions": sum(1 for s in transcript.sessions if s.watch_seconds > 0),
        },
    }
