"""The SQL engine (SQLite by default, PostgreSQL with ``DATABASE_URL``) and migrations."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

__all__ = ["MIGRATION_LOCK", "connect", "migrate"]

MIGRATIONS = Path(__file__).with_name("migrations")
# PostgreSQL advisory lock key held while migrating: every Rounds process uses the same one, so
# processes starting together on one database migrate one after the other.
MIGRATION_LOCK = int.from_bytes(b"rounds:migrate", "big") % 2**63


def connect(url: str) -> AsyncEngine:
    """An async engine for ``url``; SQLite files get WAL and foreign keys."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30})

        @sa.event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            # WAL lets the server and the `rounds` command read while the other writes.
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def _alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


async def migrate(engine: AsyncEngine) -> None:
    """Bring the schema to the newest revision, one process at a time.

    PostgreSQL: a transaction-level advisory lock (released at commit) on ``MIGRATION_LOCK``.
    SQLite: ``BEGIN IMMEDIATE`` takes the database file's write lock before Alembic reads the
    current revision (waiting up to ``busy_timeout``). Either way the second process waits, then
    finds the schema current and changes nothing.
    """

    def upgrade(connection: sa.Connection) -> None:
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        elif connection.dialect.name == "sqlite":
            # The pysqlite driver emits no BEGIN of its own (and none before DDL): take the lock here.
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        cfg = _alembic_config()
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "heads")

    async def run(url: sa.URL) -> None:
        own = connect(url.render_as_string(hide_password=False))
        try:
            async with own.begin() as conn:
                await conn.run_sync(upgrade)
        finally:
            await own.dispose()

    # Alembic is synchronous: compiling and running the DDL of a fresh database takes ~0.5 s of
    # CPU, so it runs on its own loop in a worker thread, not on the server's.
    await asyncio.to_thread(asyncio.run, run(engine.url))
