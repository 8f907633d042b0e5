"""``rounds export credits``: the accreditor's learner-completion file and CPE Monitor's file."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine

from ..catalogue import Catalogue
from ..credit import CreditClaim, CreditType, ceu, split_name
from ..errors import BadRequest
from ..store.catalogue import session_history
from ..store.credit import CreditStore
from .table import csv_text

__all__ = ["CPE_COLUMNS", "LEARNER_COLUMNS", "cpe_csv", "credit_export", "export_credits",
           "learner_completion_csv"]

LEARNER_COLUMNS = ("first_name", "last_name", "dob_month", "dob_day", "npi", "licence", "board_id", "profession",
                   "activity_id", "credit_type", "credits", "completion_date", "report_permission")
CPE_COLUMNS = ("nabp_eprofile_id", "dob_mmdd", "first_name", "last_name", "activity_id", "participation_date",
               "contact_hours", "ceus")


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
    return csv_text(LEARNER_COLUMNS, rows, line_end="\n")


def cpe_csv(found: list[tuple[CreditClaim, Any]], cat: Catalogue,
            past: Mapping[str, Mapping[str, Any]] | None = None) -> str:
    """Pharmacists' ACPE credit in the shape CPE Monitor asks for: one row per session (its own UAN),
    dated the day the session took place (the participation date), with hours and CEUs.

    ``past`` describes sessions the conference file no longer has (renamed or dropped under
    ``--amend``) from their last stored version, so their claims are still reported.
    """
    zone = ZoneInfo(cat.conference.timezone)
    rows = []
    for claim, r in found:
        if claim.credit_type is not CreditType.ACPE:
            continue
        session = cat.session(claim.session_id)
        if session is not None:
            uan, start = session.uan, session.start
        elif past and claim.session_id in past:
            uan, start = past[claim.session_id].get("uan", ""), datetime.fromisoformat(past[claim.session_id]["start_at"])
        else:
            continue
        first, last_name = split_name(r.name)
        mmdd = f"{r.dob_month:02d}{r.dob_day:02d}" if r.dob_month and r.dob_day else ""
        rows.append((r.nabp_eprofile_id, mmdd, first, last_name, uan or cat.conference.id,
                     start.astimezone(zone).date().isoformat(), claim.amount, ceu(claim.amount)))
    return csv_text(CPE_COLUMNS, rows, line_end="\n")


async def credit_export(store: CreditStore, cat: Catalogue, fmt: str) -> str:
    """Format ``csv`` (learner completion) or ``cpe`` (CPE Monitor) of every claim in ``cat``."""
    # Sessions the file no longer has keep their claims (history is never rewritten): they are
    # the conference's sessions too, described by their last stored version.
    async with store.engine.connect() as conn:
        past = {sid: f for sid, (_, f) in (await session_history(conn, cat.conference.id)).items()
                if cat.session(sid) is None}
    found = await store.claims_with_learners([s.id for s in cat.sessions] + sorted(past))
    if fmt == "csv":
        return learner_completion_csv(found, cat)
    if fmt == "cpe":
        return cpe_csv(found, cat, past)
    raise BadRequest(f"unknown format {fmt!r}: use csv or cpe", field="format")


async def export_credits(engine: AsyncEngine, catalogue: Catalogue, *, fmt: str) -> str:
    """``rounds export credits --format csv|cpe [--conference ID]``."""
    return await credit_export(CreditStore(engine), catalogue, fmt)
