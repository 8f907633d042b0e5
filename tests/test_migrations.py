"""Migrations: one head, and concurrent starts of several processes on one fresh database."""

from __future__ import annotations

import asyncio
import sys

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory

from server.settings import ROOT, Settings
from server.store.db import _alembic_config, connect
from server.store.schema import metadata

STARTS = 4  # processes starting at once on one database
MIGRATE = """
import asyncio, sys
from server.store.db import connect, migrate

async def main() -> None:
    engine = connect(sys.argv[1])
    try:
        await migrate(engine)
    finally:
        await engine.dispose()

asyncio.run(main())
"""


def test_the_migrations_have_exactly_one_head() -> None:
    heads = ScriptDirectory.from_config(_alembic_config()).get_heads()
    assert len(heads) == 1, f"join the heads with a merge revision: {sorted(heads)}"


async def _concurrent_migrations_leave_one_schema(url: str) -> None:
    starts = [await asyncio.create_subprocess_exec(sys.executable, "-c", MIGRATE, url, cwd=ROOT,
                                                   stderr=asyncio.subprocess.PIPE) for _ in range(STARTS)]
    for start in starts:
        _, err = await asyncio.wait_for(start.communicate(), 60)
        assert start.returncode == 0, err.decode()
    engine = connect(url)
    try:
        async with engine.connect() as conn:
            versions = (await conn.execute(sa.text("SELECT version_num FROM alembic_version"))).scalars().all()
            tables = await conn.run_sync(lambda c: set(sa.inspect(c).get_table_names()))
    finally:
        await engine.dispose()
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert versions == [head]
    assert set(metadata.tables) <= tables


async def test_concurrent_migrations_on_sqlite_leave_one_schema(settings: Settings) -> None:
    await _concurrent_migrations_leave_one_schema(settings.db_url)


@pytest.mark.slow
async def test_concurrent_migrations_on_postgresql_leave_one_schema(pg_settings: Settings) -> None:
    await _concurrent_migrations_leave_one_schema(pg_settings.db_url)
