"""The same storage contract on SQLite and on a real PostgreSQL the suite started."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from server.catalogue import Role
from server.errors import Conflict, NotFound
from server.settings import ROOT, Settings
from server.store.accounts import AccountStore
from server.store.catalogue import load_catalogue
from server.store.db import connect, migrate
from server.store.load import import_file
from tests.conftest import absolute_logos

DEMO = ROOT / "config" / "demo-conference.toml"


@pytest.fixture(params=["sqlite", "postgresql"])
async def engine(request: pytest.FixtureRequest, settings: Settings) -> AsyncEngine:
    chosen = settings if request.param == "sqlite" else request.getfixturevalue("pg_settings")
    engine = connect(chosen.db_url)
    await migrate(engine)
    yield engine
    await engine.dispose()


async def test_migrations_are_idempotent(engine: AsyncEngine) -> None:
    await migrate(engine)
    async with engine.connect() as conn:
        tables = await conn.run_sync(lambda c: sa.inspect(c).get_table_names())
    assert {"users", "conferences", "sessions", "booths", "assignments", "audit_log"} <= set(tables)


async def test_accounts_are_unique_by_email_case_insensitively(engine: AsyncEngine) -> None:
    store = AccountStore(engine)
    user = await store.create("Ada@Example.org", "Ada", Role.ATTENDEE, "long password here", "physician")
    assert user.email == "ada@example.org" and user.role is Role.ATTENDEE
    with pytest.raises(Conflict):
        await store.create("ada@example.org", "Ada again", Role.ATTENDEE)
    assert (await store.by_email("ADA@example.org")) == user
    assert await store.by_id(user.id + 1000) is None


async def test_import_creates_catalogue_accounts_and_assignments(engine: AsyncEngine) -> None:
    summary = await import_file(engine, DEMO)
    assert summary["sessions"] == 10 and summary["accounts_created"] == 11
    store = AccountStore(engine)
    ana = await store.by_email("ana.okafor@demo.rounds")
    assert ana is not None and "hypertension-panel" in ana.faculty_of
    assert await store.emails(Role.MODERATOR, session="insulin-workshop") == ["jo.kim@demo.rounds"]
    assert await store.emails(booth="cardiova") == ["max.weber@demo.rounds"]
    catalogue = await load_catalogue(engine)
    assert catalogue.conference.id == "cardiometabolic-2026"


async def test_reimport_updates_without_duplicating_or_resetting_passwords(engine: AsyncEngine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    await import_file(engine, DEMO)
    before = await AccountStore(engine).password_hash("maria.lopez@demo.rounds")
    changed = tmp_path / "conf.toml"
    changed.write_text(absolute_logos(DEMO.read_text()).replace("Lipids Beyond Statins", "Lipids Beyond Statins (updated)")
                       .replace('moderators = ["jo.kim@demo.rounds"]\ncredits = { ama_pra_1 = 2.0, ancc = 2.0, acpe = 2.0 }',
                                'moderators = ["sam.reyes@demo.rounds"]\ncredits = { ama_pra_1 = 2.0, ancc = 2.0, acpe = 2.0 }'))
    summary = await import_file(engine, changed)
    assert summary["accounts_created"] == 0
    assert await AccountStore(engine).password_hash("maria.lopez@demo.rounds") == before
    catalogue = await load_catalogue(engine)
    assert catalogue.session("lipids-update").title.endswith("(updated)")  # type: ignore[union-attr]
    assert await AccountStore(engine).emails(Role.MODERATOR, session="insulin-workshop") == ["sam.reyes@demo.rounds"]
    async with engine.connect() as conn:
        assert (await conn.execute(sa.text("SELECT count(*) FROM sessions"))).scalar() == 10


async def test_loading_before_any_import_says_what_to_do(engine: AsyncEngine) -> None:
    with pytest.raises(NotFound, match="rounds import"):
        await load_catalogue(engine)


async def test_demo_times_round_trip_exactly(engine: AsyncEngine) -> None:
    now = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    await import_file(engine, DEMO, now=now)
    catalogue = await load_catalogue(engine)
    live = catalogue.session("heart-failure-2026")
    assert live is not None and live.state(now).value == "live"
