"""The suite's own PostgreSQL and Redis: real servers, their own ports and dirs, clean stops."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests import services
from tests.services import (
    PostgresServer,
    RedisServer,
    ServiceError,
    ServiceUnavailable,
    find_postgres_bin_dir,
    find_redis_server,
)

SHARED_PORTS = {5432, 6379}


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[PostgresServer]:
    with PostgresServer() as server:
        yield server


@pytest.fixture(scope="module")
def own_redis() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture
def occupied_port() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def processes_in(directory: Path) -> list[int]:
    """Pids whose working directory is inside directory (servers and their children)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cwd = os.readlink(entry / "cwd")
            except OSError:
                continue
            if cwd.startswith(str(directory)):
                found.append(int(entry.name))
    return found


def refuses_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


async def test_postgres_round_trips_a_value_on_the_port_it_reports(
    own_postgres: PostgresServer,
) -> None:
    assert own_postgres.port not in SHARED_PORTS
    conn = await asyncpg.connect(own_postgres.dsn)
    try:
        assert await conn.fetchval("SHOW port") == str(own_postgres.port)
        # The data directory proves it is our cluster, not the machine's.
        assert await conn.fetchval("SHOW data_directory") == str(own_postgres.data_dir)
        await conn.execute("CREATE TEMP TABLE note (body text)")
        await conn.execute("INSERT INTO note VALUES ($1)", "grand rounds")
        assert await conn.fetchval("SELECT body FROM note") == "grand rounds"
    finally:
        await conn.close()


async def test_postgres_url_opens_the_rounds_database_with_sqlalchemy(
    own_postgres: PostgresServer,
) -> None:
    assert own_postgres.url == f"postgresql+asyncpg://postgres@127.0.0.1:{own_postgres.port}/rounds"
    engine = create_async_engine(own_postgres.url)
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT current_database()"))).scalar_one() == "rounds"
    finally:
        await engine.dispose()


async def test_fresh_databases_are_empty_and_independent(own_postgres: PostgresServer) -> None:
    first = await own_postgres.create_database_async()
    second = await own_postgres.create_database_async()
    assert first != second
    a = await asyncpg.connect(first.replace("+asyncpg", ""))
    b = await asyncpg.connect(second.replace("+asyncpg", ""))
    try:
        assert await a.fetchval("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == 0
        await a.execute("CREATE TABLE only_here (id int)")
        assert await b.fetchval("SELECT to_regclass('only_here')") is None
    finally:
        await a.close()
        await b.close()


def test_database_from_template_copies_its_tables(own_postgres: PostgresServer) -> None:
    own_postgres.create_database("schema_template")
    own_postgres.psql(
        "CREATE TABLE attendee (id int); INSERT INTO attendee VALUES (7)",
        database="schema_template",
    )
    copy = own_postgres.create_database(template="schema_template")
    name = copy.rsplit("/", 1)[1]
    assert own_postgres.psql("SELECT id FROM attendee", database=name) == "7"
    own_postgres.drop_database(name)
    assert own_postgres.psql(f"SELECT count(*) FROM pg_database WHERE datname = '{name}'") == "0"


def test_database_names_must_be_plain_identifiers(own_postgres: PostgresServer) -> None:
    with pytest.raises(ValueError, match="not a plain database name"):
        own_postgres.create_database("x; DROP DATABASE rounds")


async def test_redis_round_trips_a_value_on_the_port_it_reports(own_redis: RedisServer) -> None:
    assert own_redis.port not in SHARED_PORTS
    assert own_redis.url == f"redis://127.0.0.1:{own_redis.port}/0"
    client = aioredis.from_url(own_redis.url, decode_responses=True)
    try:
        assert await client.config_get("port") == {"port": str(own_redis.port)}
        assert await client.config_get("dir") == {"dir": str(own_redis.dir)}
        await client.set("room", "hall")
        assert await client.get("room") == "hall"
    finally:
        await client.aclose()


async def test_redis_restart_keeps_its_port_and_clients_reconnect(
    own_redis: RedisServer,
) -> None:
    # from_url clients get no retries unless given one (redis-py 8: Retry(NoBackoff(), 0)).
    retry = Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=5)
    client = aioredis.from_url(own_redis.url, decode_responses=True, retry=retry)
    try:
        await client.set("presence", "1")
        before = (await client.info("server"))["run_id"]
        port, pid = own_redis.port, own_redis.pid

        own_redis.restart()

        assert own_redis.port == port
        assert own_redis.url == f"redis://127.0.0.1:{port}/0"
        assert own_redis.pid != pid
        # The pooled connection died with the old server; the retry reconnects it.
        assert await asyncio.wait_for(client.ping(), timeout=10)
        assert (await client.info("server"))["run_id"] != before
        assert await client.get("presence") is None  # a new, empty server: nothing persisted
        await client.set("presence", "2")
        assert await client.get("presence") == "2"
    finally:
        await client.aclose()


def test_stopped_redis_leaves_no_process_port_or_dir() -> None:
    server = RedisServer().start()
    directory, port = server.dir, server.port
    assert directory is not None and processes_in(directory)
    server.stop()
    assert not directory.exists()
    assert processes_in(directory) == []
    assert refuses_connections(port)
    server.stop()  # idempotent


def test_stopped_postgres_leaves_no_process_port_or_dir() -> None:
    server = PostgresServer().start()
    directory, port = server.dir, server.port
    assert directory is not None and len(processes_in(directory)) > 1  # postmaster + helpers
    server.stop()
    assert not directory.exists()
    assert processes_in(directory) == []
    assert refuses_connections(port)


def test_redis_that_cannot_bind_fails_with_its_log(occupied_port: int) -> None:
    server = RedisServer(port=occupied_port)
    with pytest.raises(ServiceError, match="Address already in use"):
        server.start()
    assert server.dir is None


def test_postgres_that_cannot_bind_fails_with_its_log(occupied_port: int) -> None:
    server = PostgresServer(port=occupied_port)
    with pytest.raises(ServiceError, match="Address already in use") as failure:
        server.start()
    assert "--- postgres log ---" in str(failure.value)
    assert server.dir is None


def test_lost_race_for_a_picked_port_retries_on_another(
    occupied_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    picks = iter([occupied_port])
    real_free_port = services.free_port
    monkeypatch.setattr(services, "free_port", lambda: next(picks, None) or real_free_port())
    with RedisServer() as server:
        assert server.port not in (occupied_port, *SHARED_PORTS)
        assert "Address already in use" in server.log_path.read_text()


def test_highest_postgres_version_with_server_binaries_is_chosen(tmp_path: Path) -> None:
    for version, tools in {
        "9": ("initdb", "postgres"),
        "15": ("initdb", "postgres"),
        "16": ("psql",),
    }.items():
        (tmp_path / version / "bin").mkdir(parents=True)
        for tool in tools:
            (tmp_path / version / "bin" / tool).touch()
    assert find_postgres_bin_dir(tmp_path) == tmp_path / "15" / "bin"


def test_missing_binaries_say_make_test_installs_them(tmp_path: Path) -> None:
    with pytest.raises(ServiceUnavailable, match="`make test` installs them"):
        find_postgres_bin_dir(tmp_path)
    with pytest.raises(ServiceUnavailable, match="redis-server"):
        find_redis_server((str(tmp_path / "redis-server"),))
    with pytest.raises(ServiceUnavailable, match="`make test` installs them"):
        PostgresServer(bin_dir=tmp_path)
