"""A user's transcript from stored evidence: watch time per session, conference total, faculty time.

Recomputed from raw evidence every time (``server.attendance`` rules), so a fix in the rules
applies to past conferences too. Open media intervals and unanswered prompts run to infinity
here: watch time is bounded by the page stretches, which always end at a stored heartbeat.

Other features add fields with ``transcript_extras(app).append(fn)`` (credit: eligible, claimed,
status): ``async fn(app, user, transcript) -> {"sessions": {session_id: {...}}, "total": {...}}``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .accounts import User
from .attendance import (
    Intervals,
    attention_gaps,
    attribute_once,
    clip,
    from_spans,
    intersect,
    media_intervals,
    publishing_intervals,
    subtract,
    total_seconds,
    union,
)  # fmt: skip
from .catalogue import Catalogue, Session
from .state import CATALOGUE, CLOCK, ENGINE, EXTRA
from .store.attendance import AttendanceStore, Recorded

__all__ = [
    "SessionTime", "Transcript", "TranscriptExtra", "compute", "compute_all", "programme", "published", "timeline",
    "transcript_extras",
    "transcript_for", "transcript_json", "watch_seconds", "watched",
]

INF = float("inf")
_NONE: Intervals = union(())  # the rules' own (normalised) empty value
_CACHE_LIMIT = 4096
_TIMELINES: dict[int, tuple[Session, Intervals]] = {}  # id(session) -> (session, its timeline)
_PROGRAMMES: dict[int, tuple[Catalogue, tuple[tuple[Session, Intervals], ...]]] = {}

TranscriptExtra = Callable[[web.Application, User, "Transcript"], Awaitable[Mapping[str, Any]]]


def transcript_extras(app: web.Application) -> list[TranscriptExtra]:
    """Hooks that add fields to ``GET /api/me/transcript`` (per session and total)."""
    return app[EXTRA].setdefault("transcript", [])  # type: ignore[no-any-return]


def timeline(session: Session) -> Intervals:
    """A session's accredited timeline in conference seconds (empty if not accredited; cached per session)."""
    hit = _TIMELINES.get(id(session))
    if hit is None or hit[0] is not session:
        if len(_TIMELINES) > _CACHE_LIMIT:  # catalogues reloaded many times: start over
            _TIMELINES.clear()
        current = from_spans(session.accredited_timeline())
        if session.history:  # evidence counts under the version in force when it was recorded
            pieces: list[tuple[float, float]] = []
            since = float("-inf")
            for until, spans in session.history:
                pieces.extend(clip(spans, (since, until)))
                since = until
            current = union([*pieces, *clip(current, (since, INF))])
        hit = (session, current)
        _TIMELINES[id(session)] = hit
    return hit[1]


def watched(recorded: Recorded, accredited: Intervals) -> Intervals:
    """Watch time from stored evidence: media AND page, inside the timeline, outside prompts.

    The same set as ``watch_intervals(media_intervals(media), pages(), accredited, attention_gaps(prompts))``
    (normalised, so the same value), computed without the intermediate sets: this runs once per
    attendee and session in every recompute (10,000 x 40 in the credit benchmark).
    """
    # Prompts are checked even when nothing else counts: invalid evidence raises either way.
    gaps = attention_gaps(recorded.prompts.values(), INF) if recorded.prompts else _NONE
    media = recorded.media
    if not media:
        return _NONE
    if (len(media) == 2 and (first := media[0]).started and not (last := media[1]).started
            and first.player == last.player and first.at < last.at):
        # One player started then stopped (the usual record): media flowed exactly [start, stop).
        m_s, m_e = first.at, last.at
        frame: Iterable[tuple[float, float]] = [(max(s, m_s), min(e, m_e)) for s, e in accredited]
    else:
        frame = intersect(media_intervals(media, INF), accredited)
    # Intersection distributes over union: (pages) AND (media AND timeline), piece by piece.
    spans = []
    for p_s, p_e in recorded.stretches:
        for f_s, f_e in frame:
            s, e = (max(f_s, p_s)), (min(f_e, p_e))
            if s < e:
                spans.append((s, e))
    for tab in recorded.tabs.values():
        if tab.start is not None:  # the tab's open stretch, as ``TabState.open_interval``
            p_s, p_e = tab.start, tab.last
            for f_s, f_e in frame:
                s, e = (max(f_s, p_s)), (min(f_e, p_e))
                if s < e:
                    spans.append((s, e))
    if not spans:
        return _NONE
    seen = union(spans)
    return subtract(seen, gaps) if gaps else seen


def published(recorded: Recorded, accredited: Intervals, until: float) -> Intervals:
    """A faculty member's own publishing time inside the accredited timeline, as of ``until``.

    Unlike viewing, publishing has no page to bound it: a stream still open counts up to ``until``.
    """
    if not recorded.publishing:  # attendees: no publishing sweep
        return _NONE
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
    return _compute(user_id, programme(catalogue), recorded, _latest(recorded.values()) if until is None else until)


def compute_all(catalogue: Catalogue, people: Iterable[tuple[int, Mapping[str, Recorded]]],
                until: float | None = None) -> Iterator[Transcript]:
    """``compute`` for many users at once, sharing the programme order and the timelines (pure).

    Yields one transcript per ``(user_id, recorded)`` in order, each equal to ``compute``'s.
    """
    plan = programme(catalogue)
    for user_id, recorded in people:
        yield _compute(user_id, plan, recorded, _latest(recorded.values()) if until is None else until)


def programme(catalogue: Catalogue) -> tuple[tuple[Session, Intervals], ...]:
    """The catalogue's sessions in programme order with their accredited timelines (cached per catalogue)."""
    hit = _PROGRAMMES.get(id(catalogue))
    if hit is None or hit[0] is not catalogue:
        if len(_PROGRAMMES) > _CACHE_LIMIT:
            _PROGRAMMES.clear()
        order = sorted(catalogue.sessions, key=lambda s: (s.start, s.id))
        hit = (catalogue, tuple((s, timeline(s)) for s in order))
        _PROGRAMMES[id(catalogue)] = hit
    return hit[1]


def _compute(user_id: int, plan: tuple[tuple[Session, Intervals], ...], recorded: Mapping[str, Recorded],
             until: float) -> Transcript:
    """One user's transcript over a programme (the body of ``compute`` and ``compute_all``)."""
    found = []
    lines: dict[str, Intervals] = {}
    for session, accredited in plan:
        rec = recorded.get(session.id)
        if rec is not None:
            seen = watched(rec, accredited)
            found.append((session, seen, published(rec, accredited, until) if rec.publishing else _NONE))
            lines[session.id] = seen
    counted = attribute_once(lines)
    return Transcript(user_id, tuple(SessionTime(s, seen, counted[s.id], pub) for s, seen, pub in found))


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
