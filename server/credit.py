"""CME credit rules (issue 7): watch seconds -> credit per type, faculty credit, claim checks.

Pure: values in, values out. Credit amounts are ``Decimal`` with two places ("1.25") on the
outside and whole quarter-credits (``int``) inside, never binary floats. Time is in conference
seconds as in ``server.attendance``. Every rule cites its source in ``docs/credit.md``.
"""

from __future__ import annotations

import enum
import functools
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation

from server.catalogue import Session
from server.errors import BadRequest, Conflict, DisclosureRequired

__all__ = [
    "AlreadyClaimed",
    "AmountAboveEligible",
    "AmountNotPositive",
    "AttestationMissing",
    "Basis",
    "ClaimNotOpen",
    "ClaimRejected",
    "ClaimRequest",
    "ClaimsClosed",
    "CreditClaim",
    "CreditType",
    "CreditTypeNotApplicable",
    "CreditTypeNotOffered",
    "DisclosureRequired",
    "EvaluationRequired",
    "Learner",
    "NotQuarterStep",
    "PharmacyProfileMissing",
    "Profession",
    "Rounding",
    "SessionCredit",
    "SessionStatus",
    "acpe_contact_hours",
    "ama_credit",
    "ancc_contact_hours",
    "applicable_types",
    "ceu",
    "claim_window",
    "credit_amount",
    "designated_quarters",
    "disclosure_version",
    "evaluation_outside",
    "faculty_eligible",
    "learner_eligible",
    "parse_amount",
    "parse_claim",
    "participation_credit",
    "quarters",
    "quarters_of",
    "session_entry",
    "split_name",
    "validate_claim",
]

QUARTER_SECONDS = 900  # 15 minutes: the AMA's credit increment (0.25 credit)


class CreditType(enum.StrEnum):
    """Credit types a conference may offer; the values are stored and exported, never change them."""

    AMA_PRA_1 = "ama_pra_1"  # AMA PRA Category 1 Credit(TM), physicians (MD/DO)
    ANCC = "ancc"  # nursing contact hours
    ACPE = "acpe"  # pharmacy CE (contact hours, reported to CPE Monitor)
    PARTICIPATION = "participation"  # certificate of participation, everyone else


class Profession(enum.StrEnum):
    """A learner's profession as the conference file and registration spell it."""

    PHYSICIAN = "physician"  # MD or DO
    NURSE = "nurse"
    PHARMACIST = "pharmacist"
    PHYSICIAN_ASSISTANT = "physician assistant"
    OTHER = "other"


class Rounding(enum.StrEnum):
    """Conference setting ``credit_rounding``: nearest quarter (AMA default) or always down."""

    NEAREST = "nearest"
    DOWN = "down"


# Which professions each professional credit type is for; everyone else gets participation.
_FOR: Mapping[CreditType, frozenset[Profession]] = {
    CreditType.AMA_PRA_1: frozenset({Profession.PHYSICIAN}),
    CreditType.ANCC: frozenset({Profession.NURSE}),
    CreditType.ACPE: frozenset({Profession.PHARMACIST}),
}

_QUARTER_AMOUNTS: dict[int, Decimal] = {}


def _amount(q: int) -> Decimal:
    """Quarter count -> Decimal with two places (cached: the benchmark asks millions of times)."""
    amount = _QUARTER_AMOUNTS.get(q)
    if amount is None:
        amount = _QUARTER_AMOUNTS.setdefault(q, Decimal(q * 25).scaleb(-2))
    return amount


# -- errors ---------------------------------------------------------------------------------


class ClaimRejected(BadRequest):
    """A credit claim that cannot be accepted (400 with a reason)."""

    code = "claim_rejected"


class AmountAboveEligible(ClaimRejected):
    code = "amount_above_eligible"


class NotQuarterStep(ClaimRejected):
    code = "not_quarter_step"


class AmountNotPositive(ClaimRejected):
    code = "amount_not_positive"


class AttestationMissing(ClaimRejected):
    code = "attestation_missing"


class EvaluationRequired(ClaimRejected):
    code = "evaluation_required"


class CreditTypeNotApplicable(ClaimRejected):
    code = "credit_type_not_applicable"


class CreditTypeNotOffered(ClaimRejected):
    code = "credit_type_not_offered"


class PharmacyProfileMissing(ClaimRejected):
    code = "nabp_profile_missing"


class AlreadyClaimed(Conflict):
    """A second claim of one credit type for one session (corrections go through the organizer)."""

    code = "already_claimed"


class ClaimNotOpen(Conflict):
    """Claiming opens when the session's live window ends (so an early claim cannot lock credit low)."""

    code = "claim_not_open"


class ClaimsClosed(Conflict):
    """The conference's claim deadline has passed: claims and amendments go through an organizer."""

    code = "claims_closed"


def claim_window(now: datetime, session_end: datetime, deadline: datetime | None) -> None:
    """Raise ClaimNotOpen before the session ends and ClaimsClosed after the deadline."""
    if now < session_end:
        raise ClaimNotOpen(f"claiming opens when the session ends ({session_end.isoformat()})",
                           opens_at=session_end.isoformat())
    if deadline is not None and now > deadline:
        raise ClaimsClosed(f"the claim deadline ({deadline.isoformat()}) has passed; ask an organizer",
                           deadline=deadline.isoformat())


# -- time -> credit -------------------------------------------------------------------------


def quarters(seconds: float, rounding: Rounding = Rounding.NEAREST) -> int:
    """Whole quarter hours in ``seconds``: to the nearest (halves up) or rounded down."""
    if not seconds > 0:  # also rejects NaN
        return 0
    if rounding is Rounding.DOWN:
        return int(seconds // QUARTER_SECONDS)
    # 7 min 30 s and above -> 1 quarter; integer-valued floats make this exact.
    return int((seconds + QUARTER_SECONDS / 2) // QUARTER_SECONDS)


def quarters_of(amount: Decimal) -> int:
    """Quarter count of a credit amount; raises NotQuarterStep unless it is a multiple of 0.25."""
    q = amount * 4
    if q != q.to_integral_value():
        raise NotQuarterStep(f"{amount} is not a multiple of 0.25")
    return int(q)


@dataclass(frozen=True, slots=True)
class SessionCredit:
    """A session's credit designation, as the conference file declares it."""

    accredited_seconds: float  # the accredited timeline's length
    maximum: Mapping[CreditType, Decimal]  # designated maximum per offered credit type
    minimum_fraction: Decimal = Decimal("0.5")  # of accredited time; below it, no credit
    rounding: Rounding = Rounding.NEAREST  # AMA PRA Category 1 (and so participation): nearest or down
    acpe_completion: Decimal = Decimal("0.9")  # ACPE: fraction of accredited time that completes it
    _max_quarters: dict[CreditType, int] = field(init=False, repr=False, compare=False)
    _min_seconds: float = field(init=False, repr=False, compare=False)
    _offers: frozenset[CreditType] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        caps = {ctype: quarters_of(amount) for ctype, amount in self.maximum.items()}
        if CreditType.PARTICIPATION not in caps and caps:
            # Participation is for the same activity: cap it like the largest designation.
            caps[CreditType.PARTICIPATION] = max(caps.values())
        object.__setattr__(self, "_max_quarters", caps)
        object.__setattr__(self, "_offers", frozenset(caps))
        object.__setattr__(self, "_min_seconds", float(self.minimum_fraction) * self.accredited_seconds)

    @classmethod
    def of(cls, accredited_seconds: float, credits: Mapping[str, Decimal],
           min_participation: Decimal, rounding: str, acpe_completion: Decimal = Decimal("0.9")) -> SessionCredit:
        """Build from the catalogue's spelling (``Session.credits``, ``Conference.credit_rounding``)."""
        return cls(accredited_seconds, {CreditType(k): Decimal(v) for k, v in credits.items()},
                   Decimal(min_participation), Rounding(rounding), Decimal(acpe_completion))

    def offers(self) -> frozenset[CreditType]:
        """Credit types this session can award (participation comes with any designation)."""
        return self._offers

    def cap(self, ctype: CreditType) -> int:
        """Designated maximum of ``ctype`` in quarters (0 if not offered)."""
        return self._max_quarters.get(ctype, 0)

    def rounding_of(self, ctype: CreditType) -> Rounding:
        """How ``ctype`` rounds: ANCC always down to the quarter hour; AMA and participation by setting."""
        return Rounding.DOWN if ctype is CreditType.ANCC else self.rounding


def credit_amount(seconds: float, rule: SessionCredit, ctype: CreditType,
                  participation_seconds: float | None = None) -> Decimal:
    """Credit for ``seconds`` of countable time: quarter steps, minimum 0.25, capped.

    No credit when participation (``participation_seconds``, default ``seconds``) is below the
    session's minimum fraction of its accredited time. Rounding follows ``rule.rounding_of(ctype)``.
    """
    watched = seconds if participation_seconds is None else participation_seconds
    if watched < rule._min_seconds or watched <= 0:
        return _amount(0)
    q = quarters(seconds, rule.rounding_of(ctype))
    cap = rule.cap(ctype)
    return _amount(min(cap, q))  # q < 1 -> 0: the minimum award is 0.25


def ama_credit(rule: SessionCredit, watch_seconds: float) -> Decimal:
    """AMA PRA Category 1 Credit: quarter credits of participation, nearest or down, capped (AMA PRA Booklet)."""
    return credit_amount(watch_seconds, rule, CreditType.AMA_PRA_1)


def participation_credit(rule: SessionCredit, watch_seconds: float) -> Decimal:
    """A certificate of participation states the AMA figure for the same time (AMA PRA Booklet)."""
    if watch_seconds < rule._min_seconds or watch_seconds <= 0:
        return _amount(0)
    return _amount(min(rule.cap(CreditType.PARTICIPATION), quarters(watch_seconds, rule.rounding)))


def ancc_contact_hours(rule: SessionCredit, watch_seconds: float, evaluation_seconds: float = 0.0) -> Decimal:
    """Nursing contact hours: watch time plus evaluation time *not overlapping* counted watch time,
    rounded down to the quarter hour, capped; the minimum participation is judged on watch time."""
    return credit_amount(watch_seconds + max(evaluation_seconds, 0.0), rule, CreditType.ANCC,
                         participation_seconds=watch_seconds)


def acpe_contact_hours(rule: SessionCredit, watch_seconds: float) -> Decimal:
    """Pharmacy CE for one session (its own UAN): the whole designation once its completion
    requirement is met (``acpe_completion`` of the accredited time), otherwise none; no partial credit."""
    if rule.accredited_seconds <= 0 or watch_seconds <= 0:
        return _amount(0)
    if watch_seconds < float(rule.acpe_completion) * rule.accredited_seconds:
        return _amount(0)
    return _amount(rule.cap(CreditType.ACPE))


def evaluation_outside(span: tuple[float, float] | None, watched: Iterable[tuple[float, float]]) -> float:
    """Seconds of the evaluation ``span`` (opened, submitted) outside the ``watched`` intervals.

    ANCC counts the time spent evaluating, but a minute spent watching and evaluating at once is
    one minute: evaluation time counts only where it does not overlap counted watch time.
    """
    if span is None or not span[1] > span[0]:
        return 0.0
    start, end = span
    covered = 0.0
    for s, e in sorted(watched):
        lo, hi = max(s, start), min(e, end)
        if hi > lo:
            covered += hi - lo
            start = max(start, hi)  # intervals may overlap: count each second once
    return max(0.0, (span[1] - span[0]) - covered)


def applicable_types(offered: Iterable[CreditType], profession: Profession) -> tuple[CreditType, ...]:
    """The credit types that apply to a learner: professional ones, else participation."""
    return _applicable(frozenset(offered), profession)


@functools.cache
def _applicable(offered: frozenset[CreditType], profession: Profession) -> tuple[CreditType, ...]:
    mine = tuple(t for t in CreditType if t in offered and profession in _FOR.get(t, ()))
    if mine:
        return mine
    return (CreditType.PARTICIPATION,) if CreditType.PARTICIPATION in offered else ()


def learner_eligible(rule: SessionCredit, profession: Profession, watch_seconds: float,
                     evaluation_seconds: float = 0.0) -> dict[CreditType, Decimal]:
    """Eligible credit per applicable type for a learner's (once-counted) watch time.

    Each credit type has its own rule: ``ama_credit``, ``ancc_contact_hours`` (with the
    evaluation time that does not overlap watching), ``acpe_contact_hours`` (whole session or
    nothing), ``participation_credit`` (the AMA figure). Faculty use ``faculty_eligible``.
    """
    out: dict[CreditType, Decimal] = {}
    for ctype in _applicable(rule._offers, profession):
        if ctype is CreditType.ANCC:
            out[ctype] = ancc_contact_hours(rule, watch_seconds, evaluation_seconds)
        elif ctype is CreditType.ACPE:
            out[ctype] = acpe_contact_hours(rule, watch_seconds)
        elif ctype is CreditType.PARTICIPATION:
            out[ctype] = participation_credit(rule, watch_seconds)
        else:
            out[ctype] = ama_credit(rule, watch_seconds)
    return out


def faculty_eligible(rule: SessionCredit, profession: Profession,
                     presenting_seconds: float) -> dict[CreditType, Decimal]:
    """Faculty credit: 2 AMA PRA Category 1 Credits per hour of own presentation, physicians only.

    Only in a session designated for AMA PRA Category 1 Credit. Quarter hours of presentation
    (rounded by the conference's setting) earn 0.5 credit each, not capped by the designated
    maximum. Faculty may not also claim learner credit for the sessions they present in.
    """
    if profession is not Profession.PHYSICIAN or CreditType.AMA_PRA_1 not in rule._offers:
        return {}
    return {CreditType.AMA_PRA_1: _amount(2 * quarters(presenting_seconds, rule.rounding))}


def ceu(hours: Decimal) -> Decimal:
    """ACPE contact hours -> CEUs as CPE Monitor reports them (10 contact hours = 1 CEU)."""
    return hours.scaleb(-1)


# -- claims ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Learner:
    """What the claim rules need to know about a learner."""

    profession: Profession
    nabp_eprofile_id: str = ""  # pharmacists: NABP e-Profile ID
    birth_mmdd: str = ""  # pharmacists: month and day of birth, "MMDD"

    @property
    def cpe_ready(self) -> bool:
        """True when CPE Monitor can accept this learner's credit (ID and a real MMDD)."""
        if not (self.nabp_eprofile_id.isdigit() and len(self.birth_mmdd) == 4 and self.birth_mmdd.isdigit()):
            return False
        month, day = int(self.birth_mmdd[:2]), int(self.birth_mmdd[2:])
        return 1 <= month <= 12 and 1 <= day <= (29 if month == 2 else 30 if month in (4, 6, 9, 11) else 31)


@dataclass(frozen=True, slots=True)
class ClaimRequest:
    """A learner's claim: how much of which credit type, attested."""

    credit_type: CreditType
    amount: Decimal
    attest: bool


def parse_amount(value: object) -> Decimal:
    """A credit amount from JSON (number or string); raises ClaimRejected if it is not one."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ClaimRejected("amount must be a number")
    try:
        amount = Decimal(str(value).strip())  # str(float) is the shortest repr: 1.25 -> "1.25"
    except InvalidOperation:
        raise ClaimRejected("amount must be a number") from None
    if not amount.is_finite():
        raise ClaimRejected("amount must be a finite number")
    # "1e1000000" overflows the arithmetic below and "1e-999999999" underflows to 0: no credit
    # amount needs more than 6 digits either side of the point.
    if amount and not -6 <= amount.adjusted() <= 6:
        raise ClaimRejected("amount is out of range: credit is claimed in steps of 0.25")
    return amount


def parse_claim(payload: Mapping[str, object]) -> ClaimRequest:
    """``{"credit_type", "amount", "attest"}`` -> ClaimRequest; raises ClaimRejected."""
    raw_type = payload.get("credit_type")
    try:
        ctype = CreditType(raw_type) if isinstance(raw_type, str) else None
    except ValueError:
        ctype = None
    if ctype is None:
        raise ClaimRejected(f"credit_type must be one of {', '.join(t.value for t in CreditType)}")
    return ClaimRequest(ctype, parse_amount(payload.get("amount")), payload.get("attest") is True)


def validate_claim(claim: ClaimRequest, *, learner: Learner, eligible: Mapping[CreditType, Decimal],
                   offered: Iterable[CreditType], evaluation_required: bool = False,
                   evaluation_done: bool = False) -> Decimal:
    """The amount to record for a valid claim (two places).

    Raises, in this order: CreditTypeNotOffered, CreditTypeNotApplicable, AttestationMissing,
    EvaluationRequired, PharmacyProfileMissing, AmountNotPositive, NotQuarterStep,
    AmountAboveEligible. ``eligible`` is ``learner_eligible`` or ``faculty_eligible``.
    """
    ctype = claim.credit_type
    offered = set(offered)
    if ctype not in offered and ctype not in eligible:
        raise CreditTypeNotOffered(f"this session does not offer {ctype.value}")
    if ctype not in eligible and ctype not in applicable_types(offered, learner.profession):
        raise CreditTypeNotApplicable(f"{ctype.value} does not apply to the profession {learner.profession.value}; "
                                      "if your profession is wrong, correct it in your profile", profile="/profile")
    if not claim.attest:
        raise AttestationMissing("the attestation must be accepted")
    if evaluation_required and not evaluation_done:
        raise EvaluationRequired("complete the session evaluation before claiming")
    if ctype is CreditType.ACPE and not learner.cpe_ready:
        raise PharmacyProfileMissing("pharmacy credit needs your NABP e-Profile ID and month/day of birth: "
                                     "add them to your profile", profile="/profile")
    if claim.amount <= 0:
        raise AmountNotPositive("the amount must be at least 0.25")
    q = quarters_of(claim.amount)
    limit = quarters_of(eligible.get(ctype, _amount(0)))
    if q > limit:
        raise AmountAboveEligible(f"{claim.amount} is more than the {_amount(limit)} you are eligible for",
                                  eligible=str(_amount(limit)))
    return _amount(q)



# -- records, transcript and disclosure (issue 7, the stored side) ---------------------------


class Basis(enum.StrEnum):
    """Why credit was claimed: as a learner, or as faculty presenting (AMA 2 credits/hour)."""

    LEARNER = "learner"
    FACULTY = "faculty"


@dataclass(frozen=True, slots=True)
class CreditClaim:
    """One recorded claim: who, which session, which credit type, how much (claimed, not maximum)."""

    user_id: int
    session_id: str
    credit_type: CreditType
    basis: Basis
    amount: Decimal
    attested_at: datetime


class SessionStatus(enum.StrEnum):
    """Where a learner stands with one session's credit (the transcript's ``status``)."""

    NOT_ACCREDITED = "not_accredited"
    IN_PROGRESS = "in_progress"  # still live: the eligible amount may grow
    NOT_ELIGIBLE = "not_eligible"  # below the minimum participation or nothing watched
    EVALUATION_REQUIRED = "evaluation_required"
    CLAIMABLE = "claimable"
    CLAIMED = "claimed"


def session_entry(rule: SessionCredit | None, eligible: Mapping[CreditType, Decimal],
                  claimed: Mapping[CreditType, Decimal], *, live: bool, evaluation_required: bool,
                  evaluation_done: bool) -> SessionStatus:
    """The status of one session on a learner's transcript."""
    if rule is None:
        return SessionStatus.NOT_ACCREDITED
    if claimed:
        return SessionStatus.CLAIMED
    if live:
        return SessionStatus.IN_PROGRESS
    if not any(eligible.values()):
        return SessionStatus.NOT_ELIGIBLE
    if evaluation_required and not evaluation_done:
        return SessionStatus.EVALUATION_REQUIRED
    return SessionStatus.CLAIMABLE


def disclosure_version(session: Session) -> str:
    """A hash of everything the disclosure screen shows: any change asks for a new acknowledgement."""
    shown = {
        "people": [[d.name, d.role, d.mitigated, [[r.company, r.nature, r.ended, r.mitigation] for r in d.relationships]]
                   for d in session.disclosures],
        "supporters": list(session.commercial_supporters),
    }
    return hashlib.sha256(json.dumps(shown, sort_keys=True).encode()).hexdigest()[:32]


def designated_quarters(sessions: Iterable[Session], ctype: CreditType) -> int:
    """The activity's designated maximum of ``ctype`` in quarters, for the designation statement.

    The sum of the sessions' designations, but never more than the accredited time itself
    (parallel sessions count once, AMA PRA Booklet).
    """
    chosen = [s for s in sessions if s.accredited and (ctype.value in s.credits or
                                                        (ctype is CreditType.PARTICIPATION and s.credits))]
    caps = sum(quarters_of(Decimal(s.credits.get(ctype.value, max(s.credits.values())))) for s in chosen)
    spans = sorted((sp.start.timestamp(), sp.end.timestamp()) for s in chosen for sp in s.accredited_timeline())
    covered, end = 0.0, float("-inf")
    for a, b in spans:
        if b > end:
            covered += b - max(a, end)
            end = b
    return min(caps, int(covered // QUARTER_SECONDS))


def split_name(name: str) -> tuple[str, str]:
    """First and last name from a display name, without credentials ("Ana Okafor, MD" -> Ana, Okafor)."""
    words = name.split(",", 1)[0].split()
    if not words:
        return "", ""
    if len(words) == 1:
        return words[0], ""
    return words[0], " ".join(words[1:])
