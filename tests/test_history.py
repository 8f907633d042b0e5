"""History is never rewritten (issue 12, finding 8): once a session has evidence or claims, an
import that changes its id, times, breaks, designation or disclosures is refused with what it
would affect; ``rounds import --amend`` makes a new version and the records keep theirs."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from server.catalogue import Role
from server.credit import Basis, CreditClaim, CreditType
from server.errors import HistoryRewrite
from server.settings import ROOT
from server.store.accounts import AccountStore
from server.store.attendance import media_evidence
from server.store.catalogue import load_catalogue, session_versions
from server.store.credit import CreditStore, credit_claims
from server.store.db import connect, migrate
from server.store.load import import_file
from server.store.schema import audit_log
from tests.conftest import DEMO, absolute_logos
from tests.processes import clean_env

HF = "heart-failure-2026"
FIXED = absolute_logos(DEMO.read_text(encoding="utf-8")).replace('first_day = "demo"', "first_day = 2026-06-11")
NOW = datetime(2026, 6, 11, 20, 0, tzinfo=UTC)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = connect(f"sqlite+aiosqlite:///{tmp_path / 'rounds.db'}")
    await migrate(engine)
    yield engine
    await engine.dispose()


def file(tmp_path: Path, text: str, name: str = "conf.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


async def with_records(engine: AsyncEngine, tmp_path: Path) -> int:
    """Import the conference; one learner has evidence and a claim for HF."""
    await import_file(engine, file(tmp_path, FIXED), now=NOW)
    user = await AccountStore(engine).create("learner@example.org", "Lee Learner", Role.ATTENDEE, "", "physician")
    async with engine.begin() as conn:
        await conn.execute(media_evidence.insert().values(session_id=HF, user_id=user.id, kind="viewer",
                                                          resource="r1", started=True, at=1.0, instance="i"))
    await CreditStore(engine).claim(CreditClaim(user.id, HF, CreditType.AMA_PRA_1, Basis.LEARNER, Decimal("1.25"),
                                                NOW), actor=user.email)
    return user.id


async def test_renaming_a_session_with_records_is_refused_and_nothing_is_written(
        engine: AsyncEngine, tmp_path: Path) -> None:
    await with_records(engine, tmp_path)
    renamed = file(tmp_path, FIXED.replace(f'id = "{HF}"', 'id = "heart-failure-2026-b"')
                   .replace(f'live_session = "{HF}"', 'live_session = "heart-failure-2026-b"'), "renamed.toml")
    with pytest.raises(HistoryRewrite) as info:
        await import_file(engine, renamed, now=NOW)
    message = str(info.value)
    assert f"{HF} (removed or renamed): 1 learner with evidence, 1 claim" in message and "--amend" in message
    assert "\n" not in message
    assert (await load_catalogue(engine)).session(HF) is not None  # the previous import still stands


async def test_changing_times_breaks_designation_or_disclosures_is_refused(engine: AsyncEngine, tmp_path: Path) -> None:
    await with_records(engine, tmp_path)
    for old, new, what in (
            ('start = "day 1, 09:00"', 'start = "day 1, 08:55"', "start"),
            ('breaks = [{ start = "day 1, 09:45", end = "day 1, 09:50" }]',
             'breaks = [{ start = "day 1, 09:40", end = "day 1, 09:50" }]', "breaks"),
            ("credits = { ama_pra_1 = 1.25, ancc = 1.25, acpe = 1.25 }",
             "credits = { ama_pra_1 = 1.0, ancc = 1.25, acpe = 1.25 }", "credits"),
            ("Advisory board (ended 2025)", "Consultant (ended 2025)", "disclosure")):
        assert old in FIXED
        with pytest.raises(HistoryRewrite) as info:
            await import_file(engine, file(tmp_path, FIXED.replace(old, new, 1), "changed.toml"), now=NOW)
        assert f"{HF} ({what}" in str(info.value) or f", {what}" in str(info.value), (what, str(info.value))
    async with engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(session_versions)
                                   .where(session_versions.c.session_id == HF))).scalar() == 1


async def test_sessions_without_records_may_change_and_the_change_is_audited(engine: AsyncEngine,
                                                                            tmp_path: Path) -> None:
    await with_records(engine, tmp_path)
    moved = FIXED.replace('start = "day 1, 14:45"\nend = "day 1, 15:45"', 'start = "day 1, 15:00"\nend = "day 1, 16:00"')
    assert moved != FIXED
    summary = await import_file(engine, file(tmp_path, moved, "moved.toml"), now=NOW)
    assert summary["sessions_changed"] == 1
    async with engine.connect() as conn:
        rows = list(await conn.execute(sa.select(audit_log).where(audit_log.c.action.startswith("catalogue."))))
    assert [(r.action, r.subject) for r in rows] == [("catalogue.change", "session:lipids-update")]


async def test_amend_makes_a_new_version_and_old_records_keep_theirs(engine: AsyncEngine, tmp_path: Path) -> None:
    uid = await with_records(engine, tmp_path)
    later = file(tmp_path, FIXED.replace('start = "day 1, 09:00"', 'start = "day 1, 08:55"', 1), "later.toml")
    await import_file(engine, later, now=NOW, amend=True)
    assert (await load_catalogue(engine)).session(HF).start == datetime(2026, 6, 11, 13, 55, tzinfo=UTC)  # type: ignore[union-attr]
    async with engine.connect() as conn:
        versions = [tuple(r) for r in await conn.execute(
            sa.select(session_versions.c.version).where(session_versions.c.session_id == HF)
            .order_by(session_versions.c.version))]
        claim = (await conn.execute(sa.select(credit_claims).where(credit_claims.c.user_id == uid))).one()
        audit = (await conn.execute(sa.select(audit_log).where(audit_log.c.action == "catalogue.amend"))).one()
    assert versions == [(1,), (2,)]
    assert claim.session_version == 1 and claim.quarters == 5  # made under version 1, untouched
    assert audit.before["version"] == 1 and audit.after["version"] == 2
    assert audit.before["start"] != audit.after["start"] and audit.actor == "rounds import --amend"
    # New claims are made under the new version.
    other = await AccountStore(engine).create("new@example.org", "New", Role.ATTENDEE, "", "physician")
    await CreditStore(engine).claim(CreditClaim(other.id, HF, CreditType.AMA_PRA_1, Basis.LEARNER, Decimal("0.5"),
                                                NOW), actor="new@example.org")
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(credit_claims).where(credit_claims.c.user_id == other.id))).one()
    assert row.session_version == 2


def test_the_cli_refuses_in_one_line_and_amend_passes(tmp_path: Path) -> None:
    def rounds(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "server.cli", *args], check=False, capture_output=True, text=True,
                              env=clean_env(ROUNDS_DATA_DIR=str(tmp_path / "data")), cwd=ROOT, timeout=60)

    assert rounds("import", str(file(tmp_path, FIXED))).returncode == 0

    async def seed() -> None:
        engine = connect(f"sqlite+aiosqlite:///{tmp_path / 'data' / 'rounds.db'}")
        async with engine.begin() as conn:
            await conn.execute(media_evidence.insert().values(session_id=HF, user_id=1, kind="viewer",
                                                              resource="r1", started=True, at=1.0, instance="i"))
        await engine.dispose()

    import asyncio

    asyncio.run(seed())
    changed = file(tmp_path, FIXED.replace('end = "day 1, 10:30"', 'end = "day 1, 10:45"', 1), "changed.toml")
    refused = rounds("import", str(changed))
    assert refused.returncode == 2 and refused.stdout == ""
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rounds: this import would rewrite the history of")
    assert f"{HF} (end): 1 learner with evidence, 0 claims" in lines[0]
    done = rounds("import", "--amend", str(changed))
    assert done.returncode == 0, done.stderr
    assert "sessions changed: 1" in done.stdout


async def test_an_amended_rename_keeps_the_old_claims_in_the_exports(engine: AsyncEngine, tmp_path: Path) -> None:
    from server.reports.credit import export_credits
    from server.store.schema import users

    uid = await with_records(engine, tmp_path)
    async with engine.begin() as conn:
        await conn.execute(users.update().where(users.c.id == uid).values(report_permission=True))
        await conn.execute(credit_claims.insert().values(
            user_id=uid, session_id=HF, credit_type="acpe", basis="learner", quarters=5, attested_at=NOW,
            updated_at=NOW))
    renamed = file(tmp_path, FIXED.replace(f'id = "{HF}"', 'id = "heart-failure-2026-b"'), "renamed.toml")
    await import_file(engine, renamed, now=NOW, amend=True)
    cat = await load_catalogue(engine)
    assert cat.session(HF) is None
    learners = await export_credits(engine, cat, fmt="csv")
    rows = [r for r in csv.DictReader(io.StringIO(learners)) if r["credit_type"] == "ama_pra_1"]
    assert [(r["first_name"], r["last_name"], r["credits"]) for r in rows] == [("Lee", "Learner", "1.25")]  # old id
    cpe = list(csv.DictReader(io.StringIO(await export_credits(engine, cat, fmt="cpe"))))
    # its UAN and date from the stored version
    assert [(r["activity_id"], r["participation_date"], r["contact_hours"]) for r in cpe] == [
        ("0812-0000-26-001-L01-P", "2026-06-11", "1.25")]


async def test_evidence_recorded_before_an_amendment_counts_under_its_own_version(
        engine: AsyncEngine, tmp_path: Path) -> None:
    """Finding 8: changing the times re-attributed stored evidence (4,233 s became 4,438 s)."""
    from server.store.attendance import AttendanceStore, watch_stretches
    from server.transcript import compute

    first = file(tmp_path, FIXED)
    await import_file(engine, first, now=NOW - timedelta(days=1))  # version 1 in force from the day before
    user = await AccountStore(engine).create("l@example.org", "L", Role.ATTENDEE, "", "physician")
    cat = await load_catalogue(engine)
    hf = cat.session(HF)
    assert hf is not None
    s = hf.start.timestamp()
    async with engine.begin() as conn:  # watched 09:00 to 10:00 local
        await conn.execute(media_evidence.insert().values(session_id=HF, user_id=user.id, kind="viewer",
                                                          resource="r1", started=True, at=s - 600, instance="i"))
        await conn.execute(media_evidence.insert().values(session_id=HF, user_id=user.id, kind="viewer",
                                                          resource="r1", started=False, at=s + 3600, instance="i"))
        await conn.execute(watch_stretches.insert().values(session_id=HF, user_id=user.id, tab="t", start=s,
                                                           end=s + 3600))

    async def seconds() -> float:
        catalogue = await load_catalogue(engine)
        recorded = {sid: rec for (_, sid), rec in (await AttendanceStore(engine).recorded(user_id=user.id)).items()}
        line = compute(user.id, catalogue, recorded, NOW.timestamp()).session(HF)
        assert line is not None
        return line.watch_seconds

    before = await seconds()
    assert before == 55 * 60  # minus the 09:45-09:50 break of version 1 (version 2's would cut 10 minutes)
    moved = FIXED.replace('start = "day 1, 09:00"', 'start = "day 1, 08:55"', 1).replace(
        'breaks = [{ start = "day 1, 09:45", end = "day 1, 09:50" }]',
        'breaks = [{ start = "day 1, 09:40", end = "day 1, 09:50" }]', 1)
    await import_file(engine, file(tmp_path, moved, "moved.toml"), now=NOW, amend=True)
    assert (await load_catalogue(engine)).session(HF).start.timestamp() == s - 300  # type: ignore[union-attr]
    assert await seconds() == before  # recorded under version 1: counted under version 1
