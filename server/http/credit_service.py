"""What the credit routes do with the app's state: ledgers, claims, evaluations, certificates.

Shared by the learner pages, the JSON API and the organizer's reports, so every path computes
credit the same way (``server.credit_transcript``) from the watch-time feature's transcript.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from itsdangerous import BadSignature, URLSafeSerializer

from .. import disclosure_gate
from ..accounts import User
from ..catalogue import Catalogue, Session
from ..certificates import TITLES, CertificateText, render_certificate
from ..credit import (
    Basis,
    ClaimRequest,
    CreditClaim,
    CreditType,
    CreditTypeNotApplicable,
    CreditTypeNotOffered,
    claim_window,
    designated_quarters,
    parse_claim,
    validate_claim,
)
from ..credit_report import evaluation_seconds, measured_of
from ..credit_transcript import (
    Measured,
    TranscriptEntry,
    basis_for,
    certificate_totals,
    eligible_for,
    learner_of,
    session_rule,
    transcript,
)
from ..errors import BadRequest, NotFound, RoundsError
from ..state import CATALOGUE, CLOCK, ENGINE, SETTINGS
from ..store.catalogue import session_history
from ..store.credit import CreditRequest, CreditStore
from ..store.profile import ProfileStore
from ..transcript import Transcript, transcript_for

__all__ = ["CREDIT_STORE", "EVALUATION_MAX_SECONDS", "Superseded", "certificate_pdf", "conference_dates",
           "evaluation_token", "ledger", "make_claim", "measured_of", "request_more", "submit_evaluation", "verification"]

CREDIT_STORE = web.AppKey("credit_store", CreditStore)
# ANCC counts the time spent on the evaluation; a form left open for hours must not become credit.
EVALUATION_MAX_SECONDS = 900.0
_TEXT_MAX = 2000


class Superseded(RoundsError):
    """A certificate replaced by a corrected one (410): it no longer states the holder's credit."""

    status = 410
    code = "superseded"


async def conference_sessions(app: web.Application) -> list[str]:
    """The conference's session ids, with those a ``--amend`` import renamed or dropped (their claims stand)."""
    cat = app[CATALOGUE]
    async with app[CREDIT_STORE].engine.connect() as conn:
        stored = await session_history(conn, cat.conference.id)
    return [s.id for s in cat.sessions] + sorted(sid for sid in stored if cat.session(sid) is None)


async def evaluation_credit(app: web.Application, user: User, t: Transcript) -> dict[str, float]:
    """Session id -> evaluation seconds that count (ANCC): only where the learner was not watching."""
    return evaluation_seconds(t, await app[CREDIT_STORE].evaluation_spans(user.id))


async def ack_starts(app: web.Application, user: User) -> dict[str, float]:
    """Gated sessions -> when the user first acknowledged a disclosure there (inf: never)."""
    first = await app[CREDIT_STORE].first_acknowledgements(user.id)
    return {s.id: first[s.id].timestamp() if s.id in first else float("inf")
            for s in app[CATALOGUE].sessions if disclosure_gate.gated(user, s)}


async def ledger(app: web.Application, user: User, t: Transcript | None = None
                 ) -> tuple[list[TranscriptEntry], dict[CreditType, Decimal]]:
    """A user's credit transcript and claimed totals per credit type."""
    store, cat = app[CREDIT_STORE], app[CATALOGUE]
    t = t or await transcript_for(app, user.id)
    profile = await store.profile(user.id)
    learner = learner_of(profile.profession, profile.nabp_eprofile_id, profile.dob_month, profile.dob_day)
    claims = await store.claims(user.id)
    evaluations = await evaluation_credit(app, user, t)
    measured = measured_of(t, await ack_starts(app, user))
    entries = transcript(cat, learner, user.faculty_of, measured, evaluations, claims, app[CLOCK].now())
    return entries, certificate_totals(claims, await conference_sessions(app))


async def make_claim(app: web.Application, user: User, session: Session, req: ClaimRequest) -> tuple[CreditClaim, bool]:
    """Validate and record a claim, or amend the learner's standing one; returns (claim, amended).

    Raises ClaimNotOpen while the session is live, ClaimsClosed after the conference's deadline,
    DisclosureRequired, or ClaimRejected (400) with the reason.
    """
    store, cat = app[CREDIT_STORE], app[CATALOGUE]
    rule = session_rule(session, cat.conference)
    if rule is None:
        raise CreditTypeNotOffered("this session is not accredited for credit")
    now = app[CLOCK].now()
    basis = basis_for(session, user.faculty_of)
    if basis is Basis.LEARNER:
        await disclosure_gate.require(app, user, session)  # the current version (ACCME Standard 3)
    claim_window(now, session.end, cat.conference.claims_close(cat.sessions))
    standing = next((c for c in await store.claims(user.id)
                     if c.session_id == session.id and c.credit_type is req.credit_type), None)
    profile = await store.profile(user.id)
    learner = learner_of(profile.profession, profile.nabp_eprofile_id, profile.dob_month, profile.dob_day)
    t = await transcript_for(app, user.id)
    measured = measured_of(t, await ack_starts(app, user)).get(session.id, Measured())
    evaluation = (await evaluation_credit(app, user, t)).get(session.id)
    eligible = eligible_for(rule, basis, learner.profession, measured, evaluation)
    granted = await store.granted(user.id, session.id, req.credit_type)
    if granted is not None and granted > eligible.get(req.credit_type, Decimal(0)):
        eligible[req.credit_type] = granted  # an organizer approved a request above the measured amount
    amount = validate_claim(req, learner=learner, eligible=eligible, offered=rule.offers(),
                            evaluation_required=bool(session.evaluation) and basis is Basis.LEARNER,
                            evaluation_done=evaluation is not None)
    claim = CreditClaim(user.id, session.id, req.credit_type, basis, amount, now)
    if standing is not None:
        return await store.amend(claim, actor=user.email), True
    return await store.claim(claim, actor=user.email), False


async def request_more(app: web.Application, user: User, session: Session, payload: Mapping[str, Any]) -> CreditRequest:
    """A learner's request for more credit than measured, up to the designation, with a written reason.

    Goes to the organizers' queue (``credit.request`` in the audit log); the same checks as a claim
    apply (window, disclosure, credit type, identifiers, attestation, quarter steps).
    """
    store, cat = app[CREDIT_STORE], app[CATALOGUE]
    rule = session_rule(session, cat.conference)
    if rule is None:
        raise CreditTypeNotOffered("this session is not accredited for credit")
    req = parse_claim(payload)
    reason = payload.get("reason")
    if not isinstance(reason, str) or not 10 <= len(reason.strip()) <= 1000:
        raise BadRequest("explain in 10 to 1,000 characters why the measured amount is too low", field="reason")
    basis = basis_for(session, user.faculty_of)
    if basis is Basis.LEARNER:
        await disclosure_gate.require(app, user, session)
    claim_window(app[CLOCK].now(), session.end, cat.conference.claims_close(cat.sessions))
    profile = await store.profile(user.id)
    learner = learner_of(profile.profession, profile.nabp_eprofile_id, profile.dob_month, profile.dob_day)
    t = await transcript_for(app, user.id)
    measured_time = measured_of(t, await ack_starts(app, user)).get(session.id, Measured())
    evaluation = (await evaluation_credit(app, user, t)).get(session.id)
    eligible = eligible_for(rule, basis, learner.profession, measured_time, evaluation)
    measured = eligible.get(req.credit_type, Decimal("0.00"))
    # Up to the designation, for the credit types that apply to this learner (faculty: their own rule).
    ceiling = {t: Decimal(rule.cap(t) * 25).scaleb(-2) for t in eligible} if basis is Basis.LEARNER else eligible
    if req.credit_type is CreditType.ACPE:
        raise CreditTypeNotApplicable("ACPE credit is for completing the whole session; it cannot be requested "
                                      "above what was measured")
    amount = validate_claim(req, learner=learner, eligible=ceiling, offered=rule.offers(),
                            evaluation_required=bool(session.evaluation) and basis is Basis.LEARNER,
                            evaluation_done=evaluation is not None)
    if amount <= measured:
        raise BadRequest(f"you can claim {measured} directly; a request is for more than the measured amount",
                         field="amount", eligible=str(measured))
    return await store.request(user.id, session.id, req.credit_type, amount, measured, reason.strip(), user.email,
                               app[CLOCK].now())


def _serializer(app: web.Application) -> URLSafeSerializer:
    return URLSafeSerializer(app[SETTINGS].secret_key, salt="rounds.evaluation")


def evaluation_token(app: web.Application, user: User, session: Session) -> str:
    """A signed note of when this user opened this session's evaluation (conference time)."""
    return _serializer(app).dumps([user.id, session.id, app[CLOCK].timestamp()])


def _answer(kind: str, value: Any) -> Any:
    if kind == "scale":
        if isinstance(value, bool) or str(value).strip() not in ("1", "2", "3", "4", "5"):
            raise ValueError("choose 1 to 5")
        return int(str(value).strip())
    if kind == "yesno":
        text = {True: "yes", False: "no"}.get(value, str(value).strip().lower()) if isinstance(value, bool) \
            else str(value).strip().lower()
        if text not in ("yes", "no"):
            raise ValueError("answer yes or no")
        return text
    if not isinstance(value, str | int | float) or len(str(value)) > _TEXT_MAX:
        raise ValueError(f"write up to {_TEXT_MAX} characters")
    return str(value).strip()


async def submit_evaluation(app: web.Application, user: User, session: Session, answers: dict[str, Any],
                            token: str) -> float:
    """Validate and store an evaluation; returns the seconds counted for it (capped)."""
    if not session.evaluation:
        raise NotFound("this session has no evaluation")
    try:
        uid, sid, started = _serializer(app).loads(token)
    except (BadSignature, ValueError, TypeError):
        raise BadRequest("the evaluation form expired; reload it", field="token") from None
    if uid != user.id or sid != session.id or not isinstance(started, int | float):
        raise BadRequest("this evaluation form was opened for another session or person", field="token")
    questions = {q.id: q for q in session.evaluation}
    unknown = sorted(set(answers) - set(questions))
    if unknown:
        raise BadRequest(f"no question {unknown[0]!r} in this evaluation", field=unknown[0])
    clean: dict[str, Any] = {}
    for q in session.evaluation:
        value = answers.get(q.id)
        if value is None or (isinstance(value, str) and not value.strip()):
            if q.required:
                raise BadRequest(f"answer: {q.text}", field=q.id)
            continue
        try:
            clean[q.id] = _answer(q.kind, value)
        except ValueError as exc:
            raise BadRequest(f"{q.text}: {exc}", field=q.id) from None
    seconds = min(max(app[CLOCK].timestamp() - float(started), 0.0), EVALUATION_MAX_SECONDS)
    await app[CREDIT_STORE].save_evaluation(user.id, session.id, clean, seconds, app[CLOCK].now())
    return seconds


def conference_dates(cat: Catalogue) -> str:
    """The activity's dates in its own time zone: "11 June 2026", "11–12 June 2026", ..."""
    if not cat.sessions:
        return ""
    zone = ZoneInfo(cat.conference.timezone)
    first = min(s.start for s in cat.sessions).astimezone(zone)
    last = max(s.end for s in cat.sessions).astimezone(zone)
    if first.date() == last.date():
        return f"{first.day} {first:%B %Y}"
    if (first.year, first.month) == (last.year, last.month):
        return f"{first.day}–{last.day} {last:%B %Y}"
    if first.year == last.year:
        return f"{first.day} {first:%B} – {last.day} {last:%B %Y}"
    return f"{first.day} {first:%B %Y} – {last.day} {last:%B %Y}"


def _designation(cat: Catalogue, ctype: CreditType, claimed: Decimal) -> str:
    template = cat.conference.designation_statements.get(ctype.value, "")
    # The designation names the activity's maximum; the participation statement names the hours attended.
    if ctype is CreditType.PARTICIPATION:
        value = str(claimed)
    else:
        value = str(Decimal(designated_quarters(cat.sessions, ctype) * 25).scaleb(-2))
    return template.replace("{credits}", value)


async def certificate_pdf(app: web.Application, user: User, ctype: CreditType, origin: str) -> tuple[str, bytes]:
    """(verification code, PDF) of the user's certificate of ``ctype``; raises NotFound before a claim."""
    cat, store = app[CATALOGUE], app[CREDIT_STORE]
    totals = certificate_totals(await store.claims(user.id), await conference_sessions(app))
    amount = totals.get(ctype)
    if amount is None:
        raise NotFound(f"you have not claimed any {TITLES[ctype.value][1]} at this conference yet")
    now: datetime = app[CLOCK].now()
    dates = conference_dates(cat)
    holder = (await ProfileStore(app[ENGINE]).get(user.id)).certificate_name or user.name  # as the learner wants it
    cert = await store.certificate_for(user.id, cat.conference.id, ctype, amount, holder, cat.conference.name,
                                       dates, now, actor=user.email)
    text = CertificateText(
        holder=holder, provider=cat.conference.provider, activity=cat.conference.name, dates=dates,
        location=cat.conference.location or "online", credit_type=ctype.value, amount=amount,
        accreditation_statement=cat.conference.accreditation_statement,
        designation_statement=_designation(cat, ctype, amount), code=cert.code,
        verify_url=f"{origin}/verify/{cert.code}",
        issued=f"{cert.issued_at.astimezone(ZoneInfo(cat.conference.timezone)):%d %B %Y}",
    )
    # reportlab is CPU work (tens of ms): keep it off the event loop.
    return cert.code, await asyncio.to_thread(render_certificate, text)


async def verification(app: web.Application, code: str) -> dict[str, str]:
    """What ``/verify/{code}`` may show; raises NotFound (unknown) or Superseded (corrected since)."""
    cert = await app[CREDIT_STORE].certificate(code.strip())
    if cert.superseded:
        raise Superseded("this certificate was replaced by a corrected one; ask its holder for the new one")
    return {"holder": cert.holder, "activity": cert.activity, "date": cert.dates,
            "credit_type": cert.credit_type.value, "credit_name": TITLES[cert.credit_type.value][1],
            "amount": str(cert.amount)}
