"""The organizer's credit reports: per-session attendance and claims, corrections, audit log, exports.

Only organizers see or change any of it (``Action.VIEW_REPORTS`` / ``Action.CORRECT_CREDIT``);
every correction is written with its audit row (who, when, before, after) and nothing edits the
audit log. ``rounds export credits --format csv|cpe`` prints the same exports as the downloads.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web

from .. import disclosure_gate
from ..accounts import User
from ..authz import Action
from ..catalogue import Role, Session
from ..credit import (
    Basis,
    CreditType,
    CreditTypeNotApplicable,
    CreditTypeNotOffered,
    PharmacyProfileMissing,
    Profession,
    applicable_types,
    faculty_eligible,
    parse_amount,
    quarters_of,
)
from ..credit_report import Attendee, report_rows
from ..credit_transcript import basis_for, learner_of, session_rule
from ..errors import BadRequest, NotFound
from ..reports.credit import credit_export
from ..state import ACCOUNTS, CATALOGUE, CLOCK, ENGINE
from ..store.attendance import AttendanceStore, Recorded
from .api import json_object
from .credit_service import CREDIT_STORE
from .exports import csv_download
from .identity import current_user, require
from .pages import login_redirect

__all__ = ["routes", "setup"]

routes = web.RouteTableDef()


# -- reports ----------------------------------------------------------------------------------


async def attendees(app: web.Application, session_ids: Iterable[str] | None = None) -> list[Attendee]:
    """Everyone with evidence or claims (in these sessions, or anywhere): a handful of queries in all."""
    cat = app[CATALOGUE]
    recorded = await AttendanceStore(app[ENGINE]).recorded()  # every session: parallel sessions count once
    wanted = None if session_ids is None else set(session_ids)
    found = await app[CREDIT_STORE].report_records(
        {uid for uid, sid in recorded if wanted is None or sid in wanted}, wanted)
    evidence: dict[int, dict[str, Recorded]] = {}
    for (uid, sid), rec in recorded.items():
        evidence.setdefault(uid, {})[sid] = rec
    out = []
    for r in found.users:
        mine = found.assignments.get(r.email, {})
        user = User(r.id, r.email, r.name, Role(r.role), r.profession, frozenset(mine.get("faculty", ())),
                    frozenset(mine.get("moderator", ())))
        starts = {s.id: found.first_acks.get(r.id, {}).get(s.id, float("inf")) for s in cat.sessions
                  if disclosure_gate.gated(user, s)}
        out.append(Attendee(r.id, r.name, r.email, r.profession,
                            learner_of(r.profession, r.nabp_eprofile_id, r.dob_month, r.dob_day),
                            user.faculty_of, evidence.get(r.id, {}), found.evaluations.get(r.id, {}),
                            tuple(found.claims.get(r.id, ())), found.acks.get(r.id, {}), starts))
    return out


async def session_report(app: web.Application, session: Session) -> list[dict[str, Any]]:
    """Who attended one session, for how long, eligible and claimed credit (the batch path)."""
    people = await attendees(app, [session.id])
    rows = report_rows(app[CATALOGUE], people, app[CLOCK].timestamp(), app[CLOCK].now(), frozenset({session.id}))
    return rows.get(session.id, [])


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
    if ctype is CreditType.ACPE and amount > 0 and not learner.cpe_ready:  # the same check as a claim
        raise PharmacyProfileMissing("this pharmacist's profile has no NABP e-Profile ID and month/day of birth; "
                                     "CPE Monitor cannot accept the credit", profile="/profile")
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
    text = await credit_export(request.app[CREDIT_STORE], cat, fmt)
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
