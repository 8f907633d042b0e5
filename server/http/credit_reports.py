"""The organizer's credit reports: per-session attendance and claims, corrections, audit log, exports.

Only organizers see or change any of it (``Action.VIEW_REPORTS`` / ``Action.CORRECT_CREDIT``);
every correction is written with its audit row (who, when, before, after) and nothing edits the
audit log. ``rounds export credits --format csv|cpe`` prints the same exports as the downloads.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from ..authz import Action
from ..catalogue import Catalogue, Session
from ..cli import exporter
from ..credit import (
    Basis,
    CreditClaim,
    CreditType,
    CreditTypeNotApplicable,
    CreditTypeNotOffered,
    Profession,
    applicable_types,
    ceu,
    faculty_eligible,
    parse_amount,
    quarters_of,
    split_name,
)
from ..credit_transcript import basis_for, learner_of, session_rule
from ..errors import BadRequest, NotFound
from ..spreadsheet import csv_text
from ..state import ACCOUNTS, CATALOGUE, CLOCK, ENGINE
from ..store.attendance import AttendanceStore
from ..store.credit import CreditStore
from ..transcript import transcript_for
from .api import json_object
from .credit_service import CREDIT_STORE, ledger
from .exports import csv_download
from .identity import current_user, require
from .pages import login_redirect

__all__ = ["CPE_COLUMNS", "LEARNER_COLUMNS", "cpe_csv", "learner_completion_csv", "routes", "setup"]

routes = web.RouteTableDef()
LEARNER_COLUMNS = ("first_name", "last_name", "dob_month", "dob_day", "npi", "licence", "board_id", "profession",
                   "activity_id", "credit_type", "credits", "completion_date", "report_permission")
CPE_COLUMNS = ("nabp_eprofile_id", "dob_mmdd", "first_name", "last_name", "activity_id", "participation_date",
               "contact_hours", "ceus")


def _csv(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    return csv_text(header, rows, lineterminator="\n")


def _per_learner(found: list[tuple[CreditClaim, Any]]) -> dict[tuple[int, CreditType], tuple[Any, Decimal, datetime]]:
    """Claims summed per (learner, credit type), with the latest claim as the completion moment."""
    out: dict[tuple[int, CreditType], tuple[Any, Decimal, datetime]] = {}
    for claim, row in found:
        key = (claim.user_id, claim.credit_type)
        _, total, last = out.get(key, (row, Decimal("0.00"), claim.attested_at))
        out[key] = (row, total + claim.amount, max(last, claim.attested_at))
    return out


def learner_completion_csv(found: list[tuple[CreditClaim, Any]], cat: Catalogue) -> str:
    """The accreditor's learner-completion file: only learners who gave permission to report."""
    zone = ZoneInfo(cat.conference.timezone)
    rows = []
    for (_, ctype), (r, total, last) in _per_learner(found).items():
        if not r.report_permission:
            continue
        first, last_name = split_name(r.name)
        rows.append((first, last_name, r.dob_month or "", r.dob_day or "", r.npi, r.licence, r.board_id,
                     r.profession, cat.conference.id, ctype.value, total, last.astimezone(zone).date().isoformat(),
                     "yes"))
    return _csv(LEARNER_COLUMNS, rows)


def cpe_csv(found: list[tuple[CreditClaim, Any]], cat: Catalogue) -> str:
    """Pharmacists' ACPE credit in the shape CPE Monitor asks for (e-Profile ID, MMDD, hours, CEUs)."""
    zone = ZoneInfo(cat.conference.timezone)
    rows = []
    for (_, ctype), (r, total, last) in _per_learner(found).items():
        if ctype is not CreditType.ACPE:
            continue
        first, last_name = split_name(r.name)
        mmdd = f"{r.dob_month:02d}{r.dob_day:02d}" if r.dob_month and r.dob_day else ""
        rows.append((r.nabp_eprofile_id, mmdd, first, last_name, cat.conference.id,
                     last.astimezone(zone).date().isoformat(), total, ceu(total)))
    return _csv(CPE_COLUMNS, rows)


async def _export_text(store: CreditStore, cat: Catalogue, fmt: str) -> str:
    found = await store.claims_with_learners([s.id for s in cat.sessions])
    if fmt == "csv":
        return learner_completion_csv(found, cat)
    if fmt == "cpe":
        return cpe_csv(found, cat)
    raise BadRequest(f"unknown format {fmt!r}: use csv or cpe", field="format")


@exporter("credits")
async def export_credits(engine: AsyncEngine, catalogue: Catalogue, args: argparse.Namespace) -> str:
    """``rounds export credits --format csv|cpe [--conference ID]``."""
    return await _export_text(CreditStore(engine), catalogue, args.format)


# -- reports ----------------------------------------------------------------------------------


async def session_report(app: web.Application, session: Session) -> list[dict[str, Any]]:
    """Who attended one session, for how long, eligible and claimed credit."""
    store = app[CREDIT_STORE]
    recorded = await AttendanceStore(app[ENGINE]).recorded(session_id=session.id)
    user_ids = {uid for uid, _ in recorded} | {c.user_id for c in await store.session_claims(session.id)}
    rows = []
    for uid in sorted(user_ids):
        user = await app[ACCOUNTS].by_id(uid)
        if user is None:
            continue
        t = await transcript_for(app, uid)
        entries, _ = await ledger(app, user, t)
        entry = next((e for e in entries if e.session.id == session.id), None)
        line = t.session(session.id)
        rows.append({
            "user_id": uid, "name": user.name, "email": user.email, "profession": user.profession,
            "watch_seconds": int(line.watch_seconds) if line else 0,
            "counted_seconds": int(line.counted_seconds) if line else 0,
            "faculty_seconds": int(line.faculty_seconds) if line else 0,
            **(entry.json() if entry else {"eligible": {}, "claimed": {}, "status": "not_attended"}),
        })
    return rows


def _report_session(request: web.Request, name: str = "session") -> Session | None:
    sid = request.query.get(name) or request.match_info.get("id")
    if not sid:
        return None
    session = request.app[CATALOGUE].session(sid)
    if session is None:
        raise NotFound(f"no session {sid!r}")
    return session


@routes.get("/organizer/credit", name="credit_reports")
async def reports_page(request: web.Request) -> web.StreamResponse:
    """Attendance and claims of one session, the correction form, the audit log."""
    if await current_user(request) is None:
        raise login_redirect(request)
    await require(request, Action.VIEW_REPORTS)
    session = _report_session(request)
    context = {
        "sessions": [s for s in request.app[CATALOGUE].sessions if s.accredited],
        "session": session,
        "rows": await session_report(request.app, session) if session else [],
        "audit": await request.app[CREDIT_STORE].audit(),
        "credit_types": [t.value for t in CreditType],
        "error": request.query.get("error", "")[:300],
        "done": request.query.get("done") == "1",
    }
    return aiohttp_jinja2.render_template("organizer/credit.html", request, context)


@routes.get("/api/organizer/credit/sessions/{id}")
async def report_api(request: web.Request) -> web.Response:
    await require(request, Action.VIEW_REPORTS)
    session = _report_session(request)
    assert session is not None
    return web.json_response({"session": session.id, "attendees": await session_report(request.app, session)})


@routes.get("/api/organizer/credit/audit")
async def audit_api(request: web.Request) -> web.Response:
    await require(request, Action.VIEW_REPORTS)
    entries = await request.app[CREDIT_STORE].audit()
    return web.json_response({"entries": [
        {"id": e.id, "at": e.at.isoformat(), "actor": e.actor, "action": e.action, "subject": e.subject,
         "before": e.before, "after": e.after} for e in entries]})


async def correct(request: web.Request, fields: dict[str, Any]) -> dict[str, Any]:
    """An organizer's correction of one learner's claim; raises 400/403/404 with a reason."""
    actor = await require(request, Action.CORRECT_CREDIT)
    app = request.app
    session = app[CATALOGUE].session(str(fields.get("session", "")))
    if session is None:
        raise NotFound("choose a session of this conference", field="session")
    rule = session_rule(session, app[CATALOGUE].conference)
    if rule is None:
        raise CreditTypeNotOffered("this session is not accredited for credit")
    target = await app[ACCOUNTS].by_email(str(fields.get("email", "")).strip())
    if target is None:
        raise NotFound("no account with this email", field="email")
    try:
        ctype = CreditType(str(fields.get("credit_type", "")))
    except ValueError:
        raise BadRequest("choose a credit type", field="credit_type") from None
    amount = parse_amount(fields.get("amount"))
    reason = str(fields.get("reason", "")).strip()
    if not reason or len(reason) > 500:
        raise BadRequest("give the reason for the correction (up to 500 characters)", field="reason")
    basis = basis_for(session, target.faculty_of)
    profile = await app[CREDIT_STORE].profile(target.id)
    learner = learner_of(profile.profession, profile.nabp_eprofile_id, profile.dob_month, profile.dob_day)
    if basis is Basis.FACULTY:
        limit = faculty_eligible(rule, Profession.PHYSICIAN, rule.accredited_seconds).get(ctype, Decimal(0))
        applies = ctype in faculty_eligible(rule, learner.profession, rule.accredited_seconds)
    else:
        limit = Decimal(rule.cap(ctype) * 25).scaleb(-2)
        applies = ctype in applicable_types(rule.offers(), learner.profession)
    if not applies:
        raise CreditTypeNotApplicable(f"{ctype.value} does not apply to this learner in this session")
    if amount < 0 or quarters_of(amount) > quarters_of(limit):
        raise BadRequest(f"the amount must be between 0 and {limit}", field="amount")
    before, after = await app[CREDIT_STORE].correct(target.id, session.id, ctype, basis, amount, actor.email,
                                                    reason, app[CLOCK].now())
    return {"before": None if before is None else str(before.amount), "after": str(after.amount),
            "session": session.id, "email": target.email, "credit_type": ctype.value}


@routes.post("/api/organizer/credit/corrections")
async def correct_api(request: web.Request) -> web.Response:
    """``{"email", "session", "credit_type", "amount", "reason"}`` -> 201 with before and after."""
    await require(request, Action.CORRECT_CREDIT)  # who is asking, before reading what they sent
    return web.json_response(await correct(request, await json_object(request)), status=201)


@routes.post("/organizer/credit/corrections")
async def correct_form(request: web.Request) -> web.StreamResponse:
    if await current_user(request) is None:
        raise login_redirect(request)
    form = {k: str(v) for k, v in (await request.post()).items() if isinstance(v, str)}
    where = f"/organizer/credit?session={form.get('session', '')}"
    try:
        await correct(request, form)
    except (BadRequest, NotFound) as exc:
        raise web.HTTPSeeOther(where + "&" + _query(error=exc.reason)) from None
    raise web.HTTPSeeOther(where + "&done=1")


def _query(**values: str) -> str:
    return urlencode(values)


async def _download(request: web.Request, fmt: str, name: str) -> web.Response:
    user = await require(request, Action.VIEW_REPORTS)
    cat = request.app[CATALOGUE]
    text = await _export_text(request.app[CREDIT_STORE], cat, fmt)
    return await csv_download(request, user, f"credit.export_{name}", f"conference:{cat.conference.id}", text,
                              f"{name}-{cat.conference.id}.csv")


@routes.get("/organizer/credit/learners.csv", name="credit_learners_csv")
async def learners_csv(request: web.Request) -> web.Response:
    """The learner-completion export (learners who gave permission to report)."""
    return await _download(request, "csv", "learner-completion")


@routes.get("/organizer/credit/cpe.csv", name="credit_cpe_csv")
async def cpe_download(request: web.Request) -> web.Response:
    """Pharmacists' credit for CPE Monitor."""
    return await _download(request, "cpe", "cpe-monitor")


def setup(app: web.Application) -> None:
    """The organizer's credit routes."""
    app.router.add_routes(routes)
