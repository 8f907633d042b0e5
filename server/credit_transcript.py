"""A learner's credit transcript (pure): measured time + evaluations + claims -> per-session credit.

Values in, values out, so the pages, the API, the exports and the benchmark compute credit one way.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from .catalogue import Catalogue, Conference, Session
from .credit import (
    Basis,
    CreditClaim,
    CreditType,
    Learner,
    Profession,
    SessionCredit,
    SessionStatus,
    faculty_eligible,
    learner_eligible,
    session_entry,
)

__all__ = ["CreditInputs", "Measured", "TranscriptEntry", "basis_for", "certificate_totals", "eligible_for", "learner_of",
           "session_rule", "transcript", "transcripts"]

_RULES: dict[tuple[int, str], tuple[Session, SessionCredit]] = {}
TEACHING = "credit for teaching"  # faculty credit's label (AMA: 2 credits per hour presented)
LEARNING = "credit for participation"


@dataclass(frozen=True, slots=True)
class Measured:
    """What the watch-time feature measured for one user in one session (conference seconds)."""

    watch_seconds: float = 0.0  # attributed once across parallel sessions
    presenting_seconds: float = 0.0  # own publishing time inside the accredited timeline (faculty)


@dataclass(frozen=True, slots=True)
class TranscriptEntry:
    """One session on a transcript."""

    session: Session
    basis: Basis
    measured: Measured
    evaluation_seconds: float | None  # None: not evaluated
    eligible: dict[CreditType, Decimal]
    claimed: dict[CreditType, Decimal]
    status: SessionStatus

    @property
    def evaluation_required(self) -> bool:
        """Learners answer the evaluation the conference file configures; faculty do not."""
        return bool(self.session.evaluation) and self.basis is Basis.LEARNER

    def json(self) -> dict[str, Any]:
        """The credit fields ``GET /api/me/transcript`` adds to a session."""
        return {
            "eligible": {t.value: str(a) for t, a in self.eligible.items()},
            "claimed": {t.value: str(a) for t, a in self.claimed.items()},
            "status": self.status.value,
            "basis": self.basis.value,
            "label": TEACHING if self.basis is Basis.FACULTY else LEARNING,
            "evaluation": "done" if self.evaluation_seconds is not None else
                          ("required" if self.evaluation_required else "none"),
        }


def session_rule(session: Session, conference: Conference) -> SessionCredit | None:
    """The session's credit designation, or None when it is not accredited (cached per session)."""
    if not session.accredited or not session.credits:
        return None
    key = (id(session), f"{conference.credit_rounding}:{conference.acpe_completion}")
    hit = _RULES.get(key)
    if hit is not None and hit[0] is session:
        return hit[1]
    seconds = sum(span.seconds for span in session.accredited_timeline())
    rule = SessionCredit.of(seconds, session.credits, session.min_participation, conference.credit_rounding,
                            conference.acpe_completion)
    _RULES[key] = (session, rule)
    return rule


def learner_of(profession: str, nabp_eprofile_id: str = "", dob_month: int | None = None,
               dob_day: int | None = None) -> Learner:
    """The claim rules' view of a user profile (unknown professions count as "other")."""
    try:
        prof = Profession(profession)
    except ValueError:
        prof = Profession.OTHER
    mmdd = f"{dob_month:02d}{dob_day:02d}" if dob_month and dob_day else ""
    return Learner(prof, nabp_eprofile_id or "", mmdd)


def basis_for(session: Session, faculty_of: Iterable[str]) -> Basis:
    """Faculty of a session claim faculty credit for it, never learner credit (AMA)."""
    return Basis.FACULTY if session.id in set(faculty_of) else Basis.LEARNER


def eligible_for(rule: SessionCredit, basis: Basis, profession: Profession, measured: Measured,
                 evaluation_seconds: float | None) -> dict[CreditType, Decimal]:
    """Eligible credit per applicable credit type for one session."""
    if basis is Basis.FACULTY:
        return faculty_eligible(rule, profession, measured.presenting_seconds)
    return learner_eligible(rule, profession, measured.watch_seconds, evaluation_seconds or 0.0)


def transcript(catalogue: Catalogue, learner: Learner, faculty_of: Iterable[str],
               measured: Mapping[str, Measured], evaluations: Mapping[str, float],
               claims: Iterable[CreditClaim], now: datetime) -> list[TranscriptEntry]:
    """Every session the user attended, presented or claimed, in programme order."""
    return _entries(_programme(catalogue), learner, faculty_of, measured, evaluations, claims, now)


# One learner for ``transcripts``: (learner, faculty_of, measured, evaluations, claims).
CreditInputs = tuple[Learner, Iterable[str], Mapping[str, Measured], Mapping[str, float], Iterable[CreditClaim]]


def transcripts(catalogue: Catalogue, people: Iterable[CreditInputs],
                now: datetime) -> Iterator[list[TranscriptEntry]]:
    """``transcript`` for many users at once, sharing the programme and the session rules.

    ``people`` holds ``(learner, faculty_of, measured, evaluations, claims)``; yields each one's
    entries in order, equal to ``transcript``'s.
    """
    programme = _programme(catalogue)
    for learner, faculty_of, measured, evaluations, claims in people:
        yield _entries(programme, learner, faculty_of, measured, evaluations, claims, now)


# session, its id, its designation (None: not accredited or did not build), has an evaluation
_Row = tuple[Session, str, SessionCredit | None, bool]


def _entries(programme: tuple[Conference, tuple[_Row, ...]], learner: Learner, faculty_of: Iterable[str],
             measured: Mapping[str, Measured], evaluations: Mapping[str, float],
             claims: Iterable[CreditClaim], now: datetime) -> list[TranscriptEntry]:
    faculty = frozenset(faculty_of)
    claimed: dict[str, dict[CreditType, Decimal]] = {}
    for c in claims:
        claimed.setdefault(c.session_id, {})[c.credit_type] = c.amount
    profession = learner.profession
    conference, rows = programme
    entries = []
    for session, sid, rule, evaluated in rows:
        m = measured.get(sid)
        mine = claimed.get(sid)
        if mine is None and (m is None or not (m.watch_seconds > 0 or m.presenting_seconds > 0)):
            continue
        m = m or _NOTHING
        mine = mine or {}
        basis = Basis.FACULTY if sid in faculty else Basis.LEARNER
        if rule is None:  # not accredited (cheap), or a designation that raises, as it did before this cache
            rule = session_rule(session, conference)
        evaluation = evaluations.get(sid)
        eligible = {} if rule is None else eligible_for(rule, basis, profession, m, evaluation)
        status = session_entry(rule, eligible, mine, live=session.start <= now < session.end,
                               evaluation_required=evaluated and basis is Basis.LEARNER,
                               evaluation_done=evaluation is not None)
        entries.append(TranscriptEntry(session, basis, m, evaluation, eligible, dict(mine), status))
    return entries


_NOTHING = Measured()
_ORDER: dict[int, tuple[Catalogue, tuple[Conference, tuple[_Row, ...]]]] = {}


def _programme(catalogue: Catalogue) -> tuple[Conference, tuple[_Row, ...]]:
    """The catalogue's sessions in programme order with their rules (cached per catalogue: the benchmark's hot path)."""
    hit = _ORDER.get(id(catalogue))
    if hit is None or hit[0] is not catalogue:
        if len(_ORDER) > 4096:  # catalogues reloaded many times: start over
            _ORDER.clear()
        order = sorted(catalogue.sessions, key=lambda s: (s.start, s.id))
        rows = tuple((s, s.id, _rule_or_none(s, catalogue.conference), bool(s.evaluation)) for s in order)
        hit = (catalogue, (catalogue.conference, rows))
        _ORDER[id(catalogue)] = hit
    return hit[1]


def _rule_or_none(session: Session, conference: Conference) -> SessionCredit | None:
    # A designation that does not build is built again (and raises) only when its session is
    # shown, as before this cache: one bad session does not break every transcript.
    try:
        return session_rule(session, conference)
    except Exception:  # noqa: BLE001 -- re-raised by session_rule in _entries
        return None


def certificate_totals(claims: Iterable[CreditClaim], session_ids: Iterable[str]) -> dict[CreditType, Decimal]:
    """Claimed credit per type over a conference's sessions (what its certificates state)."""
    ids = set(session_ids)
    totals: dict[CreditType, Decimal] = {}
    for c in claims:
        if c.session_id in ids and c.amount > 0:
            totals[c.credit_type] = totals.get(c.credit_type, Decimal("0.00")) + c.amount
    return totals
