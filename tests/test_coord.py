"""Coordination: the same rate limits and presence in-process and through a real Redis."""

from __future__ import annotations

import pytest

from server.coord import Coordination, InProcess, RedisCoordination
from tests.services import RedisServer, free_port


@pytest.fixture(params=["in-process", "redis"])
async def coord(request: pytest.FixtureRequest) -> Coordination:
    if request.param == "in-process":
        yield InProcess()
        return
    server: RedisServer = request.getfixturevalue("redis_server")
    import redis

    with redis.Redis.from_url(server.url) as r:
        r.flushall()
    coord = RedisCoordination(server.url)
    yield coord
    await coord.close()


async def test_rate_limit_allows_up_to_the_limit_per_key(coord: Coordination) -> None:
    assert [await coord.hit("k", 2, 60) for _ in range(3)] == [True, True, False]
    assert await coord.hit("other", 2, 60)


async def test_presence_counts_connections_per_member(coord: Coordination) -> None:
    assert await coord.presence_add("booth", "a") == 1
    assert await coord.presence_add("booth", "a") == 2
    await coord.presence_add("booth", "b")
    assert await coord.presence("booth") == {"a", "b"}
    assert await coord.presence_remove("booth", "a") == 1
    assert await coord.presence_remove("booth", "a") == 0
    assert await coord.presence("booth") == {"b"}


async def test_rate_limits_fall_back_to_the_process_while_redis_is_down() -> None:
    coord = RedisCoordination(f"redis://127.0.0.1:{free_port()}/0")
    try:
        assert not await coord.ping()
        assert [await coord.hit("k", 1, 60) for _ in range(2)] == [True, False]
    finally:
        await coord.close()
