"""Credit for learners: disclosure gate, evaluation, attestation and claim, transcript, certificates.

``setup(app)`` also wires the organizer's reports (``credit_reports``), the transcript hook of the
watch-time feature and the disclosure fields of ``GET /api/sessions/{id}``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp_jinja2
from aiohttp import web

from .. import disclosure_gate
from ..accounts import User
from ..authz import Action, allowed
from ..catalogue import Session, SessionState
from ..credit import ClaimRejected, CreditType, disclosure_version, parse_claim
from ..credit_transcript import TranscriptEntry, session_rule
from ..errors import BadRequest, Conflict, DisclosureRequired, NotFound
from ..state import CATALOGUE, CLOCK, ENGINE
from ..store.credit import CreditStore
from ..transcript import Transcript, transcript_extras
from ..verification import require_verified
from . import credit_reports, credit_requests, profile
from .api import json_object, session_extras
from .credit_service import (
    CREDIT_STORE,
    certificate_pdf,
    evaluation_token,
    ledger,
    make_claim,
    request_more,
    submit_evaluation,
    verification,
)
from .identity import current_user, require, signed_in
from .pages import login_redirect, session_gates

__all__ = ["routes", "setup"]

routes = web.RouteTableDef()


def _session(request: web.Request) -> Session:
    session = request.app[CATALOGUE].session(request.match_info["id"])
    if session is None:
        raise NotFound("there is no such session")
    return session


async def _page_user(request: web.Request, action: Action, target: str | None = None) -> User:
    """The signed-in user allowed to ``action``; anonymous browsers go to the login page."""
    if await current_user(request) is None:
        raise login_redirect(request)
    return await require(request, action, target)


_gated = disclosure_gate.gated


async def _disclosure_gate(request: web.Request, session: Session, user: User) -> web.StreamResponse | None:
    if not _gated(user, session):
        return None
    if await request.app[CREDIT_STORE].acknowledged(user.id, session.id, disclosure_version(session)):
        return None
    raise web.HTTPSeeOther(f"/sessions/{session.id}/disclosure")


# -- disclosure -------------------------------------------------------------------------------


@routes.get("/sessions/{id}/disclosure", name="credit_disclosure")
async def disclosure_page(request: web.Request) -> web.StreamResponse:
    """The disclosure screen an accredited session shows before its player."""
    session = _session(request)
    await _page_user(request, Action.WATCH, session.id)
    context = {"session": session, "version": disclosure_version(session)}
    return aiohttp_jinja2.render_template("disclosure.html", request, context)


async def _acknowledge(request: web.Request, session: Session, version: str) -> User:
    user = await require(request, Action.WATCH, session.id)
    if not session.accredited:
        raise BadRequest("this session is not accredited: it has no disclosure to acknowledge")
    if version != disclosure_version(session):
        raise BadRequest("the disclosure changed since you opened it; read it again", field="version")
    await request.app[CREDIT_STORE].acknowledge(user.id, session.id, version, request.app[CLOCK].now())
    request.app[disclosure_gate.GATE].remember(user.id, session.id, version)
    return user


@routes.post("/sessions/{id}/disclosure")
async def acknowledge_form(request: web.Request) -> web.StreamResponse:
    session = _session(request)
    await _page_user(request, Action.WATCH, session.id)
    await _acknowledge(request, session, str((await request.post()).get("version", "")))
    raise web.HTTPSeeOther(f"/sessions/{session.id}")


@routes.post("/api/sessions/{id}/disclosure")
async def acknowledge_api(request: web.Request) -> web.Response:
    """``{"version"}``: acknowledge the disclosure version shown by ``GET /api/sessions/{id}``."""
    session = _session(request)
    await require(request, Action.WATCH, session.id)  # who is asking, before reading what they sent
    body = await json_object(request)
    await _acknowledge(request, session, str(body.get("version", "")))
    return web.json_response({"acknowledged": True, "version": disclosure_version(session)})


# -- evaluation -------------------------------------------------------------------------------


@routes.get("/sessions/{id}/evaluation", name="credit_evaluation")
async def evaluation_page(request: web.Request) -> web.StreamResponse:
    session = _session(request)
    user = await _page_user(request, Action.CLAIM_CREDIT)
    if not session.evaluation:
        raise NotFound("this session has no evaluation")
    context = {"session": session, "token": evaluation_token(request.app, user, session), "error": None}
    return aiohttp_jinja2.render_template("evaluation.html", request, context)


@routes.post("/sessions/{id}/evaluation")
async def evaluation_form(request: web.Request) -> web.StreamResponse:
    session = _session(request)
    user = await _page_user(request, Action.CLAIM_CREDIT)
    form = await request.post()
    answers = {q.id: str(form[q.id]) for q in session.evaluation if str(form.get(q.id, "")).strip()}
    try:
        await submit_evaluation(request.app, user, session, answers, str(form.get("token", "")))
    except BadRequest as exc:
        context = {"session": session, "token": str(form.get("token", "")), "error": exc.reason,
                   "answers": answers}
        return aiohttp_jinja2.render_template("evaluation.html", request, context, status=400)
    raise web.HTTPSeeOther(f"/sessions/{session.id}/claim")


@routes.get("/api/sessions/{id}/evaluation")
async def evaluation_api(request: web.Request) -> web.Response:
    """The evaluation's questions and a token that starts its clock (ANCC counts the time)."""
    session = _session(request)
    user = await require(request, Action.CLAIM_CREDIT)
    questions = [{"id": q.id, "text": q.text, "kind": q.kind, "required": q.required} for q in session.evaluation]
    return web.json_response({"questions": questions, "token": evaluation_token(request.app, user, session)})


@routes.post("/api/sessions/{id}/evaluation")
async def evaluation_submit_api(request: web.Request) -> web.Response:
    """``{"answers": {question id: answer}, "token"}`` -> 201 with the seconds counted."""
    session = _session(request)
    user = await require(request, Action.CLAIM_CREDIT)
    body = await json_object(request)
    answers = body.get("answers")
    if not isinstance(answers, dict):
        raise BadRequest("answers must be an object of question id -> answer", field="answers")
    seconds = await submit_evaluation(request.app, user, session, answers, str(body.get("token", "")))
    return web.json_response({"evaluated": True, "seconds": seconds}, status=201)


# -- claims -----------------------------------------------------------------------------------


@routes.get("/sessions/{id}/claim", name="credit_claim")
async def claim_page(request: web.Request) -> web.StreamResponse:
    """The attestation, pre-filled with the measured amount (editable downwards only)."""
    session = _session(request)
    user = await _page_user(request, Action.CLAIM_CREDIT)
    entry = await _entry(request.app, user, session)
    return aiohttp_jinja2.render_template("claim.html", request, _claim_context(request, session, entry))


def _claim_context(request: web.Request, session: Session, entry: TranscriptEntry | None,
                   error: str | None = None, fix: str = "") -> dict[str, Any]:
    cat = request.app[CATALOGUE]
    zone = ZoneInfo(cat.conference.timezone)
    now = request.app[CLOCK].now()
    deadline = cat.conference.claims_close(cat.sessions)
    return {"session": session, "entry": entry, "error": error, "fix": fix,
            "live": session.state(now) is SessionState.LIVE, "open": now >= session.end,
            "opens_at": f"{session.end.astimezone(zone):%H:%M %Z, %d %B %Y}",
            "closed": deadline is not None and now > deadline,
            "deadline": f"{deadline.astimezone(zone):%d %B %Y, %H:%M %Z}" if deadline else "",
            "maximum": {t: Decimal(q * 25).scaleb(-2) for t in CreditType
                        if (q := _cap(request, session, t))}}


def _cap(request: web.Request, session: Session, ctype: CreditType) -> int:
    rule = session_rule(session, request.app[CATALOGUE].conference)
    return rule.cap(ctype) if rule is not None else 0


@routes.post("/sessions/{id}/claim")
async def claim_form(request: web.Request) -> web.StreamResponse:
    session = _session(request)
    user = await _page_user(request, Action.CLAIM_CREDIT)
    form = await request.post()
    payload = {"credit_type": str(form.get("credit_type", "")), "amount": str(form.get("amount", "")),
               "attest": form.get("attest") in ("on", "yes", "true")}
    try:
        await make_claim(request.app, user, session, parse_claim(payload))
    except (ClaimRejected, BadRequest, DisclosureRequired, Conflict) as exc:
        entry = await _entry(request.app, user, session)
        context = _claim_context(request, session, entry, exc.reason, str(exc.extra.get("profile", "")))
        return aiohttp_jinja2.render_template("claim.html", request, context, status=400)
    raise web.HTTPSeeOther("/transcript")


@routes.post("/api/sessions/{id}/claim")
async def claim_api(request: web.Request) -> web.Response:
    """``{"credit_type", "amount", "attest": true}`` -> 201 with the claim; 400 with a reason; 409."""
    session = _session(request)
    user = await require(request, Action.CLAIM_CREDIT)
    claim, amended = await make_claim(request.app, user, session, parse_claim(await json_object(request)))
    return web.json_response({"claim": {"session": claim.session_id, "credit_type": claim.credit_type.value,
                                        "amount": str(claim.amount), "basis": claim.basis.value,
                                        "attested_at": claim.attested_at.isoformat()},
                              "amended": amended}, status=200 if amended else 201)


@routes.post("/api/sessions/{id}/credit-requests")
async def request_api(request: web.Request) -> web.Response:
    """``{"credit_type", "amount", "reason", "attest": true}``: ask for more than measured (organizer queue)."""
    session = _session(request)
    user = await require(request, Action.CLAIM_CREDIT)
    found = await request_more(request.app, user, session, await json_object(request))
    return web.json_response({"request": found.json()}, status=201)


@routes.post("/sessions/{id}/credit-requests")
async def request_form(request: web.Request) -> web.StreamResponse:
    session = _session(request)
    user = await _page_user(request, Action.CLAIM_CREDIT)
    form = {k: str(v) for k, v in (await request.post()).items() if isinstance(v, str)}
    payload: dict[str, Any] = {**form, "attest": form.get("attest") in ("on", "yes", "true")}
    try:
        await request_more(request.app, user, session, payload)
    except (ClaimRejected, BadRequest, DisclosureRequired, Conflict) as exc:
        entry = await _entry(request.app, user, session)
        context = _claim_context(request, session, entry, exc.reason)
        return aiohttp_jinja2.render_template("claim.html", request, context, status=400)
    raise web.HTTPSeeOther("/transcript")


# -- transcript, certificates, verification ---------------------------------------------------


@routes.get("/transcript", name="credit_transcript")
async def transcript_page(request: web.Request) -> web.StreamResponse:
    """Every session attended: watch time, eligible and claimed credit, status; certificates."""
    if await current_user(request) is None:
        raise login_redirect(request)
    user = await signed_in(request)
    entries, totals = await ledger(request.app, user)
    cat = request.app[CATALOGUE]
    requests = [(r, cat.session(r.session_id)) for r in await request.app[CREDIT_STORE].requests(user_id=user.id)]
    context = {"entries": entries, "totals": totals, "can_claim": allowed(user, Action.CLAIM_CREDIT),
               "requests": requests}
    return aiohttp_jinja2.render_template("transcript.html", request, context)


@routes.get("/certificates/{credit_type}.pdf", name="credit_certificate")
async def certificate(request: web.Request) -> web.StreamResponse:
    """The certificate of one credit type for this conference (claimed credit)."""
    user = await _page_user(request, Action.CLAIM_CREDIT)
    await require_verified(request.app, user)
    try:
        ctype = CreditType(request.match_info["credit_type"])
    except ValueError:
        raise NotFound("no such credit type") from None
    code, pdf = await certificate_pdf(request.app, user, ctype, str(request.url.origin()))
    return web.Response(body=pdf, content_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="certificate-{ctype.value}-{code}.pdf"'})


@routes.get("/verify/{code}", name="credit_verify")
async def verify(request: web.Request) -> web.StreamResponse:
    """Public: confirms a certificate's holder, activity, date, credit type and amount, nothing else."""
    facts = await verification(request.app, request.match_info["code"][:20])
    if "application/json" in request.headers.get("Accept", ""):
        return web.json_response(facts)
    return aiohttp_jinja2.render_template("verify.html", request, {"facts": facts})


# -- hooks ------------------------------------------------------------------------------------


async def _entry(app: web.Application, user: User, session: Session) -> TranscriptEntry | None:
    entries, _ = await ledger(app, user)
    return next((e for e in entries if e.session.id == session.id), None)


async def _transcript_extra(app: web.Application, user: User, transcript: Transcript) -> dict[str, Any]:
    entries, totals = await ledger(app, user, transcript)
    asked: dict[str, list[dict[str, Any]]] = {}
    for r in await app[CREDIT_STORE].requests(user_id=user.id):
        asked.setdefault(r.session_id, []).append({k: v for k, v in r.json().items() if k not in ("user_id",)})
    return {"sessions": {e.session.id: e.json() | {"requests": asked.get(e.session.id, [])} for e in entries},
            "total": {"claimed": {t.value: str(a) for t, a in totals.items()}}}


async def _session_extra(request: web.Request, session: Session, user: User | None) -> dict[str, Any]:
    if not session.accredited:
        return {}
    version = disclosure_version(session)
    done = user is not None and await request.app[CREDIT_STORE].acknowledged(user.id, session.id, version)
    return {"disclosure": {"version": version, "acknowledged": done,
                           "required": user is not None and _gated(user, session)}}


async def _store(app: web.Application) -> AsyncIterator[None]:
    app[CREDIT_STORE] = CreditStore(app[ENGINE])  # the engine opens in the storage context before
    yield


def setup(app: web.Application) -> None:
    """Credit: learner pages and API, the disclosure gate, organizer reports, transcript fields."""
    app.cleanup_ctx.append(_store)
    disclosure_gate.install(app)
    app.router.add_routes(routes)
    credit_reports.setup(app)
    credit_requests.setup(app)
    profile.setup(app)
    session_gates(app).append(_disclosure_gate)
    session_extras(app).append(_session_extra)
    transcript_extras(app).append(_transcript_extra)
