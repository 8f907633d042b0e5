"""The conference catalogue: conference, tracks, sessions, disclosures, booths (pure values)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

__all__ = [
    "LOGO_TYPES",
    "AttentionChecks",
    "Booth",
    "BoothResource",
    "Catalogue",
    "Conference",
    "Disclosure",
    "EvaluationQuestion",
    "Format",
    "Relationship",
    "Role",
    "Session",
    "SessionState",
    "Span",
    "Track",
    "logo_type",
]


class Role(enum.StrEnum):
    ATTENDEE = "attendee"
    FACULTY = "faculty"
    MODERATOR = "moderator"
    EXHIBITOR = "exhibitor"
    ORGANIZER = "organizer"


class Format(enum.StrEnum):
    LECTURE = "lecture"
    CASE_PRESENTATION = "case presentation"
    PANEL = "panel"
    WORKSHOP = "workshop"


class SessionState(enum.StrEnum):
    UPCOMING = "upcoming"
    LIVE = "live"
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class Span:
    """A half-open stretch of conference time ``[start, end)``."""

    start: datetime
    end: datetime

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


@dataclass(frozen=True, slots=True)
class Relationship:
    """A financial relationship with an ineligible company within the past 24 months."""

    company: str
    nature: str
    ended: bool = False  # it ended within the past 24 months (still disclosed, ACCME Standard 3.1)
    mitigation: str = ""  # how it was mitigated (ACCME Standard 3.4); required for every relationship


@dataclass(frozen=True, slots=True)
class Disclosure:
    """One person's relevant financial relationships (none is a disclosure too)."""

    name: str
    role: str  # "faculty", "planner", "reviewer", "moderator", ...
    relationships: tuple[Relationship, ...] = ()
    mitigated: bool = False  # every relationship has a recorded mitigation (never assumed)
    email: str = ""


@dataclass(frozen=True, slots=True)
class AttentionChecks:
    """Prompts at random moments between ``min_gap_s`` and ``max_gap_s`` (conference seconds)."""

    min_gap_s: int
    max_gap_s: int


@dataclass(frozen=True, slots=True)
class EvaluationQuestion:
    id: str
    text: str
    kind: str  # "scale" (1-5), "yesno" or "text"
    required: bool = True


@dataclass(frozen=True, slots=True)
class Track:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    title: str
    track: str
    format: Format
    start: datetime
    end: datetime
    faculty: tuple[str, ...]  # emails
    faculty_names: tuple[str, ...]
    moderators: tuple[str, ...]
    credits: dict[str, Decimal]  # credit type -> designated maximum
    accredited: bool
    min_participation: Decimal = Decimal("0.5")
    premoderation: bool = True
    industry_supporter: str = ""
    commercial_supporters: tuple[str, ...] = ()
    description: str = ""
    breaks: tuple[Span, ...] = ()
    disclosures: tuple[Disclosure, ...] = ()
    attention_checks: AttentionChecks | None = None
    evaluation: tuple[EvaluationQuestion, ...] = ()
    uan: str = ""  # ACPE Universal Activity Number: each session offering ACPE credit has its own
    day: int = 1
    # Earlier versions (``rounds import --amend``): (in force until, accredited spans in conference
    # seconds), oldest first; evidence recorded while a version was in force counts under it.
    history: tuple[tuple[float, tuple[tuple[float, float], ...]], ...] = ()  # the conference day it belongs to, as the file numbers them

    def state(self, now: datetime) -> SessionState:
        """Upcoming before its start, live within its window, ended after."""
        if now < self.start:
            return SessionState.UPCOMING
        if now < self.end:
            return SessionState.LIVE
        return SessionState.ENDED

    @property
    def window(self) -> Span:
        return Span(self.start, self.end)

    def accredited_timeline(self) -> tuple[Span, ...]:
        """The live window minus breaks; empty for a non-accredited session."""
        if not self.accredited:
            return ()
        spans: list[Span] = []
        cursor = self.start
        for brk in sorted(self.breaks, key=lambda b: b.start):
            if brk.start > cursor:
                spans.append(Span(cursor, min(brk.start, self.end)))
            cursor = max(cursor, brk.end)
        if cursor < self.end:
            spans.append(Span(cursor, self.end))
        return tuple(spans)

    def publishing_window(self, margin: timedelta) -> Span:
        return Span(self.start - margin, self.end + margin)


@dataclass(frozen=True, slots=True)
class BoothResource:
    title: str
    url: str


# A booth logo's extension -> (Content-Type, how its first bytes begin). SVG: markup, checked apart.
LOGO_TYPES: dict[str, tuple[str, tuple[bytes, ...]]] = {
    ".png": ("image/png", (b"\x89PNG\r\n\x1a\n",)),
    ".jpg": ("image/jpeg", (b"\xff\xd8\xff",)),
    ".jpeg": ("image/jpeg", (b"\xff\xd8\xff",)),
    ".webp": ("image/webp", (b"RIFF",)),
    ".svg": ("image/svg+xml", (b"<svg", b"<?xml")),
}


def logo_type(name: str, head: bytes) -> str | None:
    """The Content-Type of a booth logo named ``name`` starting with ``head``; None if it is not
    a PNG, JPEG, WebP or SVG image (checked by extension and first bytes)."""
    dot = name.rfind(".")
    ext = name[dot:].lower() if dot >= 0 else ""
    if ext not in LOGO_TYPES:
        return None
    content_type, magics = LOGO_TYPES[ext]
    start = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if not any(start.startswith(m) for m in magics):
        return None
    if ext == ".webp" and head[8:12] != b"WEBP":
        return None
    if ext == ".svg" and b"<svg" not in head:
        return None
    return content_type


@dataclass(frozen=True, slots=True)
class Booth:
    id: str
    org: str
    tier: str
    description: str
    staff: tuple[str, ...]  # emails
    resources: tuple[BoothResource, ...] = ()
    logo: str | None = None  # absolute path of the checked logo image (conference file ``logo``)


@dataclass(frozen=True, slots=True)
class Conference:
    id: str
    name: str
    timezone: str
    provider: str
    location: str
    accreditation_statement: str
    designation_statements: dict[str, str]
    credit_types: tuple[str, ...]
    credit_rounding: str = "nearest"  # AMA PRA Category 1 (and participation): "nearest" or "down"
    acpe_completion: Decimal = Decimal("0.9")  # ACPE: fraction of a session's accredited time that completes it
    claim_deadline: datetime | None = None  # claims and amendments close then (None: 60 days after the last session)

    def claims_close(self, sessions: tuple[Session, ...]) -> datetime | None:
        """When claiming and amending close: the file's ``claim_deadline`` or 60 days after the last session."""
        if self.claim_deadline is not None:
            return self.claim_deadline
        if not sessions:
            return None
        return max(s.end for s in sessions) + timedelta(days=60)


@dataclass(frozen=True, slots=True)
class Catalogue:
    """A whole conference as loaded from a conference file."""

    conference: Conference
    tracks: tuple[Track, ...]
    sessions: tuple[Session, ...]
    booths: tuple[Booth, ...]
    _by_id: dict[str, Session] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_id.update({s.id: s for s in self.sessions})

    def session(self, session_id: str) -> Session | None:
        return self._by_id.get(session_id)

    def booth(self, booth_id: str) -> Booth | None:
        return next((b for b in self.booths if b.id == booth_id), None)

    def sessions_in(self, state: SessionState, now: datetime) -> list[Session]:
        return [s for s in self.sessions if s.state(now) is state]

    def days(self) -> list[tuple[str, list[Session]]]:
        """Sessions grouped by conference day (as the file numbers them), in time order.

        The label is the local date of the day's first session.
        """
        from zoneinfo import ZoneInfo

        zone = ZoneInfo(self.conference.timezone)
        days: dict[int, list[Session]] = {}
        for s in sorted(self.sessions, key=lambda s: (s.start, s.track)):
            days.setdefault(s.day, []).append(s)
        return [(v[0].start.astimezone(zone).strftime("%A %d %B %Y"), v) for _, v in sorted(days.items())]
