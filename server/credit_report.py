"""The organizer's credit report, built in one pass over every learner (the batch path).

``server.transcript.compute_all`` turns every learner's stored evidence into transcripts, and
``server.credit_transcript.transcripts`` turns those into credit, sharing the programme and the
session rules; each learner's rows for every session come out of that single pass. Values in,
values out: the loader in ``server.http.credit_reports`` reads everything with a handful of
queries, whatever the number of learners.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .catalogue import Catalogue
from .credit import CreditClaim, Learner, evaluation_outside
from .credit_transcript import CreditInputs, Measured, transcripts
from .store.attendance import Recorded
from .transcript import Transcript, compute_all

__all__ = ["Attendee", "evaluation_seconds", "measured_of", "report_rows"]


def measured_of(t: Transcript, since: Mapping[str, float] | None = None) -> dict[str, Measured]:
    """Credit's view of a transcript: time counted once across parallel sessions, faculty time.

    ``since`` (session id -> conference second of the learner's first disclosure acknowledgement)
    drops watch time before it: nothing a learner watched before the disclosure counts.
    """
    # The transcript's intervals are normalised (disjoint): summing them is their total.
    out = {}
    for s in t.sessions:
        start = (since or {}).get(s.session.id, float("-inf"))
        watched = float(sum(max(0.0, e - max(b, start)) for b, e in s.counted))
        out[s.session.id] = Measured(watched, float(sum(e - b for b, e in s.published)) if s.published else 0.0)
    return out


def evaluation_seconds(t: Transcript, spans: Mapping[str, tuple[float, float]]) -> dict[str, float]:
    """Session id -> evaluation seconds that count (ANCC): only where the learner was not watching."""
    if not spans:
        return {}
    watching = [iv for s in t.sessions for iv in s.counted]
    return {sid: evaluation_outside(span, watching) for sid, span in spans.items()}


@dataclass(frozen=True, slots=True)
class Attendee:
    """One learner's inputs to the report."""

    user_id: int
    name: str
    email: str
    profession: str
    learner: Learner
    faculty_of: frozenset[str]
    recorded: Mapping[str, Recorded]
    evaluation_spans: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    claims: tuple[CreditClaim, ...] = ()
    acks: Mapping[str, tuple[str, datetime]] = field(default_factory=dict)  # session -> (version, at)
    ack_starts: Mapping[str, float] = field(default_factory=dict)  # gated session -> first acknowledgement


def report_rows(catalogue: Catalogue, attendees: Iterable[Attendee], until: float, now: datetime,
                only: frozenset[str] | None = None) -> dict[str, list[dict[str, Any]]]:
    """Session id -> one row per learner who attended, presented or claimed (in ``only``, or all)."""
    people = list(attendees)
    times = compute_all(catalogue, ((a.user_id, a.recorded) for a in people), until)
    seen: list[tuple[Attendee, Transcript]] = []

    def inputs() -> Iterator[CreditInputs]:
        for a in people:
            t = next(times)
            seen.append((a, t))
            yield (a.learner, a.faculty_of, measured_of(t, a.ack_starts), evaluation_seconds(t, a.evaluation_spans),
                   a.claims)

    out: dict[str, list[dict[str, Any]]] = {}
    for entries in transcripts(catalogue, inputs(), now):
        a, t = seen[-1]
        lines = {s.session.id: s for s in t.sessions}
        credited = {e.session.id: e for e in entries}
        for sid in sorted(set(lines) | set(credited) | {c.session_id for c in a.claims}):
            if only is not None and sid not in only:
                continue
            line, entry = lines.get(sid), credited.get(sid)
            ack = a.acks.get(sid)
            out.setdefault(sid, []).append({
                "user_id": a.user_id, "name": a.name, "email": a.email, "profession": a.profession,
                "watch_seconds": int(line.watch_seconds) if line else 0,
                "counted_seconds": int(line.counted_seconds) if line else 0,
                "faculty_seconds": int(line.faculty_seconds) if line else 0,
                # The attendance record carries the disclosure the learner saw before engaging.
                "disclosure_version": ack[0] if ack else None,
                "disclosure_acknowledged_at": ack[1].isoformat() if ack else None,
                **(entry.json() if entry else {"eligible": {}, "claimed": {}, "status": "not_attended"}),
            })
    for rows in out.values():
        rows.sort(key=lambda r: r["user_id"])
    return out
