"""What several server processes must share live: rate limits, presence, Socket.IO emits.

Redis when ``REDIS_URL`` is set, in-process otherwise. Redis is never the only copy of a record.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from typing import Protocol

import redis.asyncio as aioredis
import socketio
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

__all__ = ["Coordination", "InProcess", "RedisCoordination", "coordination_for"]

log = logging.getLogger("rounds.coord")


class Coordination(Protocol):
    async def hit(self, key: str, limit: int, window_s: float) -> bool:
        """Count one event under ``key``; False once more than ``limit`` fell in this window."""

    async def presence_add(self, room: str, member: str) -> int:
        """Record one more connection of ``member`` in ``room``; returns its connection count."""

    async def presence_remove(self, room: str, member: str) -> int:
        """Record one connection fewer; returns what remains (0: the member left)."""

    async def presence(self, room: str) -> set[str]:
        """Members with at least one connection in ``room``."""

    def socketio_manager(self) -> socketio.AsyncManager:
        """The Socket.IO client manager: Redis pub/sub across processes, or in-process."""

    async def ping(self) -> bool:
        """Whether the coordination backend answers."""

    async def close(self) -> None: ...


class InProcess:
    """Coordination for a single process."""

    def __init__(self) -> None:
        self._hits: dict[tuple[str, int], int] = defaultdict(int)
        self._rooms: dict[str, dict[str, int]] = defaultdict(dict)

    async def hit(self, key: str, limit: int, window_s: float) -> bool:
        window = int(time.monotonic() // window_s)
        if len(self._hits) > 100_000:  # forget old windows
            self._hits = defaultdict(int, {k: v for k, v in self._hits.items() if k[1] >= window - 1})
        self._hits[(key, window)] += 1
        return self._hits[(key, window)] <= limit

    async def presence_add(self, room: str, member: str) -> int:
        members = self._rooms[room]
        members[member] = members.get(member, 0) + 1
        return members[member]

    async def presence_remove(self, room: str, member: str) -> int:
        members = self._rooms[room]
        left = max(0, members.get(member, 0) - 1)
        if left:
            members[member] = left
        else:
            members.pop(member, None)
        return left

    async def presence(self, room: str) -> set[str]:
        return set(self._rooms.get(room, {}))

    def socketio_manager(self) -> socketio.AsyncManager:
        return socketio.AsyncManager()

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        return None


class RedisCoordination:
    """Coordination through one Redis shared by every process."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._fallback = InProcess()
        # from_url gives no retries: after a Redis restart the first command on each pooled
        # connection would fail. Retry with backoff so a restart is a pause, not an error.
        self.redis = aioredis.from_url(
            url, decode_responses=True, socket_connect_timeout=2,
            retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=5),
            retry_on_error=[aioredis.ConnectionError, aioredis.TimeoutError],
        )

    async def hit(self, key: str, limit: int, window_s: float) -> bool:
        window = int(time.time() // window_s)
        name = f"rounds:rl:{key}:{window}"
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.incr(name)
                pipe.expire(name, int(window_s) + 1)
                count, _ = await pipe.execute()
        except (aioredis.RedisError, OSError):
            # Redis is down: count in this process until it is back rather than refuse everyone.
            log.warning("Redis unreachable; rate limits are per process meanwhile")
            return await self._fallback.hit(key, limit, window_s)
        return int(count) <= limit

    async def presence_add(self, room: str, member: str) -> int:
        return int(await self.redis.hincrby(f"rounds:presence:{room}", member, 1))

    async def presence_remove(self, room: str, member: str) -> int:
        key = f"rounds:presence:{room}"
        left = int(await self.redis.hincrby(key, member, -1))
        if left <= 0:
            await self.redis.hdel(key, member)
        return max(0, left)

    async def presence(self, room: str) -> set[str]:
        counts = await self.redis.hgetall(f"rounds:presence:{room}")
        return {str(m) for m, c in counts.items() if int(c) > 0}

    def socketio_manager(self) -> socketio.AsyncManager:
        return socketio.AsyncRedisManager(self.url)

    async def ping(self) -> bool:
        try:
            return bool(await self.redis.ping())
        except (aioredis.RedisError, OSError):
            return False

    async def close(self) -> None:
        await self.redis.aclose()


def coordination_for(redis_url: str) -> Coordination:
    """Redis coordination for a URL, in-process for an empty one."""
    return RedisCoordination(redis_url) if redis_url else InProcess()
