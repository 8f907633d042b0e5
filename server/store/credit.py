"""Credit records: disclosure acknowledgements, evaluations, claims, certificates, and the audit log.

Every credit change (a claim, an organizer's correction, a certificate) is written together with
its ``audit_log`` row in one transaction: no credit changes without its trace. Amounts are stored
as whole quarter-credits (integers), never floats.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..credit import AlreadyClaimed, Basis, CreditClaim, CreditType, quarters_of
from ..errors import Conflict, NotFound
from .schema import assignments, audit_log, metadata, users

__all__ = ["AuditEntry", "Certificate", "CreditRequest", "CreditStore", "ReportRecords", "certificates", "credit_claims", "credit_requests",
           "disclosure_acks", "evaluations"]

disclosure_acks = sa.Table(
    "disclosure_acks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("session_id", sa.String(64), nullable=False),
    sa.Column("version", sa.String(64), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("user_id", "session_id", "version"),
)

evaluations = sa.Table(
    "evaluations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("session_id", sa.String(64), nullable=False),
    sa.Column("answers", sa.JSON, nullable=False),
    sa.Column("seconds", sa.Float, nullable=False),  # time spent on it (ANCC counts it)
    sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("user_id", "session_id"),
)

credit_claims = sa.Table(
    "credit_claims",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("session_id", sa.String(64), nullable=False, index=True),
    sa.Column("credit_type", sa.String(20), nullable=False),
    sa.Column("basis", sa.String(10), nullable=False),  # learner | faculty (the faculty claims)
    sa.Column("quarters", sa.Integer, nullable=False),
    sa.Column("attested_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    # The version of the session (``session_versions``) the claim was made under: a later
    # ``rounds import --amend`` of its times or designation does not rewrite it.
    sa.Column("session_version", sa.Integer, nullable=False, server_default="1"),
    sa.UniqueConstraint("user_id", "session_id", "credit_type"),
)

certificates = sa.Table(
    "certificates",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("code", sa.String(20), nullable=False, unique=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("conference_id", sa.String(64), nullable=False),
    sa.Column("credit_type", sa.String(20), nullable=False),
    sa.Column("quarters", sa.Integer, nullable=False),
    # What the certificate said when issued, so /verify shows it even if names change later.
    sa.Column("holder", sa.String(200), nullable=False),
    sa.Column("activity", sa.String(300), nullable=False),
    sa.Column("dates", sa.String(100), nullable=False),
    sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
)

credit_requests = sa.Table(
    "credit_requests",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("session_id", sa.String(64), nullable=False),
    sa.Column("credit_type", sa.String(20), nullable=False),
    sa.Column("quarters", sa.Integer, nullable=False),  # asked for
    sa.Column("measured_quarters", sa.Integer, nullable=False),  # what the rules gave when asked
    sa.Column("reason", sa.String(1000), nullable=False),
    sa.Column("status", sa.String(10), nullable=False),  # pending | approved | refused
    sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("decided_by", sa.String(254), nullable=True),
    sa.Column("note", sa.String(1000), nullable=False, server_default=""),
)

# Unambiguous letters and digits (no 0/O, 1/I/L) for codes read off paper.
_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes for timezone=True columns; they were stored as UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _amount(q: int) -> Decimal:
    return Decimal(q * 25).scaleb(-2)


def new_code() -> str:
    """A verification code such as ``K7QM-2XWD-HT9P``."""
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(12))
    return "-".join(raw[i:i + 4] for i in range(0, 12, 4))


@dataclass(frozen=True, slots=True)
class Certificate:
    """An issued certificate as ``/verify/{code}`` confirms it."""

    code: str
    user_id: int
    conference_id: str
    credit_type: CreditType
    amount: Decimal
    holder: str
    activity: str
    dates: str
    issued_at: datetime
    superseded: bool


@dataclass(frozen=True, slots=True)
class CreditRequest:
    """A learner's request for more credit than measured (up to the designation), with a reason."""

    id: int
    user_id: int
    session_id: str
    credit_type: CreditType
    amount: Decimal
    measured: Decimal
    reason: str
    status: str  # pending | approved | refused
    requested_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    note: str

    def json(self) -> dict[str, Any]:
        return {"id": self.id, "user_id": self.user_id, "session": self.session_id,
                "credit_type": self.credit_type.value, "amount": str(self.amount), "measured": str(self.measured),
                "reason": self.reason, "status": self.status, "requested_at": self.requested_at.isoformat(),
                "decided_at": self.decided_at.isoformat() if self.decided_at else None,
                "decided_by": self.decided_by, "note": self.note}


def _request(row: Any) -> CreditRequest:
    return CreditRequest(row.id, row.user_id, row.session_id, CreditType(row.credit_type), _amount(row.quarters),
                         _amount(row.measured_quarters), row.reason, row.status, _aware(row.requested_at),
                         _aware(row.decided_at) if row.decided_at else None, row.decided_by, row.note)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One row of the append-only audit log."""

    id: int
    at: datetime
    actor: str
    action: str
    subject: str
    before: Any
    after: Any


def _claim(row: Any) -> CreditClaim:
    return CreditClaim(row.user_id, row.session_id, CreditType(row.credit_type), Basis(row.basis),
                       _amount(row.quarters), _aware(row.attested_at))


def _certificate(row: Any) -> Certificate:
    return Certificate(row.code, row.user_id, row.conference_id, CreditType(row.credit_type),
                       _amount(row.quarters), row.holder, row.activity, row.dates, _aware(row.issued_at),
                       row.superseded_at is not None)


def _claim_json(claim: CreditClaim | None) -> dict[str, Any] | None:
    if claim is None:
        return None
    return {"user_id": claim.user_id, "session": claim.session_id, "credit_type": claim.credit_type.value,
            "basis": claim.basis.value, "amount": str(claim.amount)}


@dataclass(frozen=True, slots=True)
class ReportRecords:
    """What the organizer's batch credit report reads for its learners, per user id (or email)."""

    users: list[Any]  # user rows, by id
    assignments: dict[str, dict[str, set[str]]]  # email -> kind (faculty, moderator) -> targets
    evaluations: dict[int, dict[str, tuple[float, float]]]  # session -> (opened, submitted)
    acks: dict[int, dict[str, tuple[str, datetime]]]  # session -> (latest version, when)
    first_acks: dict[int, dict[str, float]]  # session -> first acknowledgement (conference second)
    claims: dict[int, list[CreditClaim]]


class CreditStore:
    """Queries on the credit tables; writes append to the audit log in the same transaction."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def profile(self, user_id: int) -> Any:
        """The user's reporting profile (profession, NABP e-Profile ID, month/day of birth, ...)."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(users).where(users.c.id == user_id))).first()
        if row is None:
            raise NotFound("no such user")
        return row

    # -- disclosure -------------------------------------------------------------------------

    async def acknowledged(self, user_id: int, session_id: str, version: str) -> bool:
        """Whether the user acknowledged this version of the session's disclosure."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(disclosure_acks.c.id).where(
                disclosure_acks.c.user_id == user_id, disclosure_acks.c.session_id == session_id,
                disclosure_acks.c.version == version))).first()
        return row is not None

    async def first_acknowledgements(self, user_id: int) -> dict[str, datetime]:
        """Session id -> the user's first disclosure acknowledgement there (any version)."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(sa.select(disclosure_acks.c.session_id, sa.func.min(disclosure_acks.c.at))
                                      .where(disclosure_acks.c.user_id == user_id)
                                      .group_by(disclosure_acks.c.session_id))
            return {r[0]: _aware(r[1]) for r in rows}

    async def acknowledgements(self, session_id: str) -> dict[int, tuple[str, datetime]]:
        """User id -> (version, time) of their latest acknowledgement of this session's disclosure."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(sa.select(disclosure_acks.c.user_id, disclosure_acks.c.version,
                                                disclosure_acks.c.at)
                                      .where(disclosure_acks.c.session_id == session_id)
                                      .order_by(disclosure_acks.c.at, disclosure_acks.c.id))
            return {r.user_id: (r.version, _aware(r.at)) for r in rows}

    async def acknowledged_any(self, user_id: int, session_id: str) -> bool:
        """Whether the user acknowledged any version of the session's disclosure (claims need one)."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(disclosure_acks.c.id).where(
                disclosure_acks.c.user_id == user_id, disclosure_acks.c.session_id == session_id).limit(1))).first()
        return row is not None

    async def acknowledge(self, user_id: int, session_id: str, version: str, at: datetime) -> None:
        """Record the acknowledgement (once per version; again is a no-op)."""
        try:
            async with self.engine.begin() as conn:
                await conn.execute(disclosure_acks.insert().values(
                    user_id=user_id, session_id=session_id, version=version, at=at))
        except IntegrityError:
            pass

    # -- evaluations ------------------------------------------------------------------------

    async def save_evaluation(self, user_id: int, session_id: str, answers: dict[str, Any], seconds: float,
                              at: datetime) -> None:
        """Store a learner's evaluation; raises Conflict for a second one."""
        try:
            async with self.engine.begin() as conn:
                await conn.execute(evaluations.insert().values(
                    user_id=user_id, session_id=session_id, answers=answers, seconds=seconds, submitted_at=at))
        except IntegrityError:
            raise Conflict("you have already evaluated this session") from None

    async def evaluation_seconds(self, user_id: int) -> dict[str, float]:
        """Session id -> time the user spent on its evaluation, for every evaluation they gave."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(sa.select(evaluations.c.session_id, evaluations.c.seconds)
                                      .where(evaluations.c.user_id == user_id))
            return {r.session_id: float(r.seconds) for r in rows}

    async def evaluation_spans(self, user_id: int) -> dict[str, tuple[float, float]]:
        """Session id -> (opened, submitted) of the user's evaluation, in conference seconds."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(sa.select(evaluations.c.session_id, evaluations.c.seconds,
                                                evaluations.c.submitted_at).where(evaluations.c.user_id == user_id))
            out = {}
            for r in rows:
                end = _aware(r.submitted_at).timestamp()
                out[r.session_id] = (end - float(r.seconds), end)
            return out

    # -- claims -----------------------------------------------------------------------------

    async def claims(self, user_id: int) -> list[CreditClaim]:
        """Every claim of one user, in session order of claiming."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(sa.select(credit_claims).where(credit_claims.c.user_id == user_id)
                                      .order_by(credit_claims.c.id))
            return [_claim(r) for r in rows if r.quarters > 0]

    async def claim(self, claim: CreditClaim, actor: str) -> CreditClaim:
        """Record a claim with its audit row; raises AlreadyClaimed for a second of that type."""
        try:
            async with self.engine.begin() as conn:
                await conn.execute(credit_claims.insert().values(
                    user_id=claim.user_id, session_id=claim.session_id, credit_type=claim.credit_type.value,
                    basis=claim.basis.value, quarters=quarters_of(claim.amount), attested_at=claim.attested_at,
                    updated_at=claim.attested_at, session_version=_current_version(claim.session_id)))
                await self._audit(conn, claim.attested_at, actor, "credit.claim", _subject(claim),
                                  None, _claim_json(claim))
        except IntegrityError:
            raise AlreadyClaimed(f"you already claimed {claim.credit_type.value} for this session; "
                                 "ask the organizer for a correction") from None
        return claim

    async def amend(self, claim: CreditClaim, actor: str) -> CreditClaim:
        """Change a learner's own standing claim to ``claim.amount`` (audited as ``credit.amend``)."""
        where = (credit_claims.c.user_id == claim.user_id, credit_claims.c.session_id == claim.session_id,
                 credit_claims.c.credit_type == claim.credit_type.value)
        async with self.engine.begin() as conn:
            row = (await conn.execute(sa.select(credit_claims).where(*where))).first()
            if row is None:
                raise NotFound("there is no claim to amend")
            before = _claim(row)
            await conn.execute(credit_claims.update().where(*where).values(
                quarters=quarters_of(claim.amount), updated_at=claim.attested_at,
                session_version=_current_version(claim.session_id)))
            await self._audit(conn, claim.attested_at, actor, "credit.amend", _subject(claim), _claim_json(before),
                              _claim_json(claim))
        return claim

    async def correct(self, user_id: int, session_id: str, ctype: CreditType, basis: Basis, amount: Decimal,
                      actor: str, reason: str, at: datetime) -> tuple[CreditClaim | None, CreditClaim]:
        """An organizer's correction (0 withdraws the claim); returns (before, after), both audited."""
        after = CreditClaim(user_id, session_id, ctype, basis, amount, at)
        where = (credit_claims.c.user_id == user_id, credit_claims.c.session_id == session_id,
                 credit_claims.c.credit_type == ctype.value)
        async with self.engine.begin() as conn:
            row = (await conn.execute(sa.select(credit_claims).where(*where))).first()
            before = _claim(row) if row is not None and row.quarters > 0 else None
            if row is None:
                await conn.execute(credit_claims.insert().values(
                    user_id=user_id, session_id=session_id, credit_type=ctype.value, basis=basis.value,
                    quarters=quarters_of(amount), attested_at=at, updated_at=at))
            else:
                await conn.execute(credit_claims.update().where(*where).values(
                    quarters=quarters_of(amount), basis=basis.value, updated_at=at))
            after_json = _claim_json(after) | {"reason": reason}  # type: ignore[operator]
            await self._audit(conn, at, actor, "credit.correct", _subject(after), _claim_json(before), after_json)
        return before, after

    async def session_claims(self, session_id: str) -> list[CreditClaim]:
        """Every standing claim for one session."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(sa.select(credit_claims).where(credit_claims.c.session_id == session_id,
                                                                     credit_claims.c.quarters > 0))
            return [_claim(r) for r in rows]

    async def report_records(self, with_evidence: set[int], session_ids: set[str] | None) -> ReportRecords:
        """Users with evidence (``with_evidence``) or claims in ``session_ids`` (None: anywhere), with
        their assignments, evaluations, acknowledgements and claims: five queries, whatever their number."""
        async with self.engine.connect() as conn:
            claim_rows = list(await conn.execute(sa.select(credit_claims).where(credit_claims.c.quarters > 0)
                                                 .order_by(credit_claims.c.id)))
            ids = with_evidence | {r.user_id for r in claim_rows if session_ids is None or r.session_id in session_ids}
            user_rows = sorted(await conn.execute(sa.select(users).where(users.c.id.in_(ids))), key=lambda r: r.id)
            kinds: dict[str, dict[str, set[str]]] = {}
            for r in await conn.execute(sa.select(assignments).where(
                    assignments.c.email.in_([r.email for r in user_rows]))):
                kinds.setdefault(r.email, {}).setdefault(r.kind, set()).add(r.target)
            spans: dict[int, dict[str, tuple[float, float]]] = {}
            for r in await conn.execute(sa.select(evaluations.c.user_id, evaluations.c.session_id, evaluations.c.seconds,
                                                  evaluations.c.submitted_at).where(evaluations.c.user_id.in_(ids))):
                end = _aware(r.submitted_at).timestamp()
                spans.setdefault(r.user_id, {})[r.session_id] = (end - float(r.seconds), end)
            acks: dict[int, dict[str, tuple[str, datetime]]] = {}
            first: dict[int, dict[str, float]] = {}
            for r in await conn.execute(sa.select(disclosure_acks).where(disclosure_acks.c.user_id.in_(ids))
                                        .order_by(disclosure_acks.c.at, disclosure_acks.c.id)):
                at = _aware(r.at)
                acks.setdefault(r.user_id, {})[r.session_id] = (r.version, at)
                first.setdefault(r.user_id, {}).setdefault(r.session_id, at.timestamp())
        claims: dict[int, list[CreditClaim]] = {}
        for r in claim_rows:
            claims.setdefault(r.user_id, []).append(_claim(r))
        return ReportRecords(user_rows, kinds, spans, acks, first, claims)

    async def claims_with_learners(self, session_ids: Sequence[str]) -> list[tuple[CreditClaim, Any]]:
        """Standing claims of these sessions with each learner's reporting profile (exports)."""
        query = (sa.select(credit_claims, users.c.name, users.c.email, users.c.profession, users.c.npi,
                           users.c.board_id, users.c.licence, users.c.nabp_eprofile_id, users.c.dob_month,
                           users.c.dob_day, users.c.report_permission)
                 .join(users, users.c.id == credit_claims.c.user_id)
                 .where(credit_claims.c.session_id.in_(list(session_ids)), credit_claims.c.quarters > 0)
                 .order_by(users.c.name, credit_claims.c.id))
        async with self.engine.connect() as conn:
            return [(_claim(r), r) for r in await conn.execute(query)]

    # -- requests above the measured amount -------------------------------------------------

    async def request(self, user_id: int, session_id: str, ctype: CreditType, amount: Decimal, measured: Decimal,
                      reason: str, actor: str, at: datetime) -> CreditRequest:
        """File a request (one pending per learner, session and type); audited as ``credit.request``."""
        async with self.engine.begin() as conn:
            pending = (await conn.execute(sa.select(credit_requests.c.id).where(
                credit_requests.c.user_id == user_id, credit_requests.c.session_id == session_id,
                credit_requests.c.credit_type == ctype.value, credit_requests.c.status == "pending"))).first()
            if pending is not None:
                raise Conflict("you already have a pending request for this credit; an organizer will answer it",
                               request=pending.id)
            result = await conn.execute(credit_requests.insert().values(
                user_id=user_id, session_id=session_id, credit_type=ctype.value, quarters=quarters_of(amount),
                measured_quarters=quarters_of(measured), reason=reason, status="pending", requested_at=at))
            rid = result.inserted_primary_key[0] if result.inserted_primary_key else None
            row = (await conn.execute(sa.select(credit_requests).where(credit_requests.c.id == rid))).one()
            found = _request(row)
            await self._audit(conn, at, actor, "credit.request", f"request:{found.id}", None, found.json())
        return found

    async def requests(self, *, user_id: int | None = None, status: str | None = None) -> list[CreditRequest]:
        """Requests, oldest first (the organizer's queue, or one learner's)."""
        query = sa.select(credit_requests).order_by(credit_requests.c.id)
        if user_id is not None:
            query = query.where(credit_requests.c.user_id == user_id)
        if status is not None:
            query = query.where(credit_requests.c.status == status)
        async with self.engine.connect() as conn:
            return [_request(r) for r in await conn.execute(query)]

    async def decide(self, request_id: int, approve: bool, note: str, actor: str, at: datetime) -> CreditRequest:
        """Approve or refuse a pending request (audited as ``credit.request.approve|refuse``)."""
        async with self.engine.begin() as conn:
            row = (await conn.execute(sa.select(credit_requests).where(credit_requests.c.id == request_id))).first()
            if row is None:
                raise NotFound("no such request")
            before = _request(row)
            if before.status != "pending":
                raise Conflict(f"this request was already {before.status}")
            status = "approved" if approve else "refused"
            await conn.execute(credit_requests.update().where(credit_requests.c.id == request_id).values(
                status=status, decided_at=at, decided_by=actor, note=note))
            if approve:  # the learner attested to this amount with the request: it becomes their claim
                where = (credit_claims.c.user_id == before.user_id, credit_claims.c.session_id == before.session_id,
                         credit_claims.c.credit_type == before.credit_type.value)
                old = (await conn.execute(sa.select(credit_claims).where(*where))).first()
                q = quarters_of(before.amount)
                if old is None:
                    await conn.execute(credit_claims.insert().values(
                        user_id=before.user_id, session_id=before.session_id, credit_type=before.credit_type.value,
                        basis=Basis.LEARNER.value, quarters=q, attested_at=before.requested_at, updated_at=at))
                else:
                    await conn.execute(credit_claims.update().where(*where).values(quarters=q, updated_at=at))
                claim = CreditClaim(before.user_id, before.session_id, before.credit_type, Basis.LEARNER,
                                    before.amount, before.requested_at)
                after_claim = _claim_json(claim) | {"request": request_id}  # type: ignore[operator]
                await self._audit(conn, at, actor, "credit.claim", _subject(claim),
                                  _claim_json(_claim(old)) if old is not None and old.quarters > 0 else None,
                                  after_claim)
            after = _request((await conn.execute(sa.select(credit_requests)
                                                 .where(credit_requests.c.id == request_id))).one())
            await self._audit(conn, at, actor, f"credit.request.{'approve' if approve else 'refuse'}",
                              f"request:{request_id}", before.json(), after.json())
        return after

    async def granted(self, user_id: int, session_id: str, ctype: CreditType) -> Decimal | None:
        """The largest approved request of this learner, session and type (None: none approved)."""
        async with self.engine.connect() as conn:
            q = (await conn.execute(sa.select(sa.func.max(credit_requests.c.quarters)).where(
                credit_requests.c.user_id == user_id, credit_requests.c.session_id == session_id,
                credit_requests.c.credit_type == ctype.value, credit_requests.c.status == "approved"))).scalar()
        return None if q is None else _amount(int(q))

    # -- certificates -----------------------------------------------------------------------

    async def certificate_for(self, user_id: int, conference_id: str, ctype: CreditType, amount: Decimal,
                              holder: str, activity: str, dates: str, at: datetime, actor: str) -> Certificate:
        """The user's current certificate for that amount, issuing (and auditing) a new one if changed."""
        q = quarters_of(amount)
        where = (certificates.c.user_id == user_id, certificates.c.conference_id == conference_id,
                 certificates.c.credit_type == ctype.value, certificates.c.superseded_at.is_(None))
        async with self.engine.begin() as conn:
            row = (await conn.execute(sa.select(certificates).where(*where))).first()
            if row is not None and row.quarters == q and row.holder == holder:
                return _certificate(row)
            if row is not None:  # the claims changed (a correction): the old one stops verifying as current
                await conn.execute(certificates.update().where(certificates.c.id == row.id).values(superseded_at=at))
            code = new_code()
            await conn.execute(certificates.insert().values(
                code=code, user_id=user_id, conference_id=conference_id, credit_type=ctype.value, quarters=q,
                holder=holder, activity=activity, dates=dates, issued_at=at))
            await self._audit(conn, at, actor, "credit.certificate", f"certificate:{code}",
                              None if row is None else {"code": row.code, "amount": str(_amount(row.quarters))},
                              {"code": code, "user_id": user_id, "credit_type": ctype.value, "amount": str(amount)})
            new = (await conn.execute(sa.select(certificates).where(certificates.c.code == code))).one()
            return _certificate(new)

    async def certificate(self, code: str) -> Certificate:
        """The certificate with this code; raises NotFound."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(certificates).where(certificates.c.code == code.upper()))).first()
        if row is None:
            raise NotFound("no certificate has this verification code")
        return _certificate(row)

    # -- audit ------------------------------------------------------------------------------

    async def audit(self, limit: int = 200, prefix: str = "credit.") -> list[AuditEntry]:
        """The newest credit entries of the audit log, newest first."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(sa.select(audit_log).where(audit_log.c.action.startswith(prefix))
                                      .order_by(audit_log.c.id.desc()).limit(limit))
            return [AuditEntry(r.id, _aware(r.at), r.actor, r.action, r.subject, r.before, r.after) for r in rows]

    @staticmethod
    async def _audit(conn: AsyncConnection, at: datetime, actor: str, action: str, subject: str,
                     before: Any, after: Any) -> None:
        await conn.execute(audit_log.insert().values(at=at, actor=actor, action=action, subject=subject,
                                                     before=before, after=after))


def _current_version(session_id: str) -> Any:
    """The session's newest version (1 before any import recorded one), as a SQL scalar."""
    from .catalogue import session_versions

    return sa.func.coalesce(sa.select(sa.func.max(session_versions.c.version))
                            .where(session_versions.c.session_id == session_id).scalar_subquery(), 1)


def _subject(claim: CreditClaim) -> str:
    return f"user:{claim.user_id} session:{claim.session_id} {claim.credit_type.value}"

