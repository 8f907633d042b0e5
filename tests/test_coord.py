"""Coordination: the same rate limits and presence in-process and through a real Redis."""

from __future__ import annotations

import asyncio

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


async def test_presence_is_summed_over_processes(redis_server: RedisServer) -> None:
    one, two = RedisCoordination(redis_server.url), RedisCoordination(redis_server.url)
    try:
        assert await one.presence_add("booth-x", "7") == 1
        assert await two.presence_add("booth-x", "7") == 2
        assert await one.presence_remove("booth-x", "7") == 1
        assert await one.presence("booth-x") == {"7"}
        await two.close()  # a clean stop takes its connections with it
        assert await one.presence("booth-x") == set()
    finally:
        await one.close()


async def test_a_crashed_process_stops_counting_when_its_lease_expires(redis_server: RedisServer) -> None:
    import redis.asyncio as aioredis

    crashed = RedisCoordination(redis_server.url, presence_ttl_s=30)
    alive = RedisCoordination(redis_server.url)
    try:
        await crashed.presence_add("booth-y", "crashed-visitor")
        await alive.presence_add("booth-y", "live-visitor")
        assert await alive.presence("booth-y") == {"crashed-visitor", "live-visitor"}
        # The crash: its process stops refreshing and its lease runs out (expire it now
        # instead of waiting 30 s); its fields are still in the hash.
        assert crashed._refresher is not None
        crashed._refresher.cancel()
        async with aioredis.from_url(redis_server.url) as r:
            await r.delete(f"rounds:alive:{crashed.process}")
            assert await r.hlen("rounds:presence:booth-y") == 2
        assert await alive.presence("booth-y") == {"live-visitor"}
    finally:
        await alive.close()
        await crashed.redis.aclose()


async def test_presence_is_written_again_after_a_redis_restart(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with RedisServer() as server:
        coord = RedisCoordination(server.url, presence_ttl_s=1.5)
        try:
            await coord.presence_add("booth-z", "3")
            server.restart()  # an empty Redis on the same port
            assert await coord.presence("booth-z") == set()
            # The refresher rewrites this process's presence within a third of the lease.
            async def healed() -> None:
                while await coord.presence("booth-z") != {"3"}:
                    await asyncio.sleep(0.1)  # bounded by wait_for; the refresher runs on its own clock

            await asyncio.wait_for(healed(), 5)
        finally:
            await coord.close()
