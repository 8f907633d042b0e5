"""What several server processes must share live: rate limits, presence, Socket.IO emits.

Redis when ``REDIS_URL`` is set, in-process otherwise. Redis is never the only copy of a record.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import defaultdict
from typing import Protocol

import redis.asyncio as aioredis
import socketio
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from .sio_internals import BoundedDelivery, RoundsRedisManager

__all__ = ["Coordination", "InProcess", "RedisCoordination", "coordination_for"]

log = logging.getLogger("rounds.coord")
_SEP = "\x1f"  # between member and process id in a presence field


class Coordination(Protocol):
    async def hit(self, key: str, limit: int, window_s: float) -> bool:
        """Count one event under ``key``; False once more than ``limit`` fell in this window."""

    async def failures(self, key: str) -> tuple[int, float]:
        """How many failures were recorded under ``key``, and when the last was (epoch seconds)."""

    async def fail(self, key: str, ttl_s: float, at: float) -> int:
        """Record one failure at ``at`` under ``key`` (forgotten ``ttl_s`` after the last); the count."""

    async def forget(self, key: str) -> None:
        """Forget the failures under ``key``."""

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
        self._failures: dict[str, tuple[int, float, float]] = {}  # count, last, forget at

    async def hit(self, key: str, limit: int, window_s: float) -> bool:
        window = int(time.monotonic() // window_s)
        if len(self._hits) > 100_000:  # forget old windows
            self._hits = defaultdict(int, {k: v for k, v in self._hits.items() if k[1] >= window - 1})
        self._hits[(key, window)] += 1
        return self._hits[(key, window)] <= limit

    async def failures(self, key: str) -> tuple[int, float]:
        count, last, until = self._failures.get(key, (0, 0.0, 0.0))
        return (count, last) if until > time.time() else (0, 0.0)

    async def fail(self, key: str, ttl_s: float, at: float) -> int:
        now = time.time()
        if len(self._failures) > 100_000:
            self._failures = {k: v for k, v in self._failures.items() if v[2] > now}
        count, _ = await self.failures(key)
        self._failures[key] = (count + 1, at, now + ttl_s)
        return count + 1

    async def forget(self, key: str) -> None:
        self._failures.pop(key, None)

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
        return BoundedDelivery()

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        return None


class RedisCoordination:
    """Coordination through one Redis shared by every process."""

    def __init__(self, url: str, presence_ttl_s: float = 30.0) -> None:
        self.url = url
        self.process = secrets.token_hex(8)
        self.presence_ttl_s = presence_ttl_s
        self._local: dict[str, dict[str, int]] = {}
        self._refresher: asyncio.Task[None] | None = None
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

    async def failures(self, key: str) -> tuple[int, float]:
        try:
            raw = await self.redis.hmget(f"rounds:fail:{key}", ["n", "t"])
        except (aioredis.RedisError, OSError):
            return await self._fallback.failures(key)
        return (int(raw[0] or 0), float(raw[1] or 0.0))

    async def fail(self, key: str, ttl_s: float, at: float) -> int:
        name = f"rounds:fail:{key}"
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.hincrby(name, "n", 1)
                pipe.hset(name, "t", repr(at))
                pipe.expire(name, max(1, int(ttl_s)))
                count, _, _ = await pipe.execute()
        except (aioredis.RedisError, OSError):
            return await self._fallback.fail(key, ttl_s, at)
        return int(count)

    async def forget(self, key: str) -> None:
        try:
            await self.redis.delete(f"rounds:fail:{key}")
        except (aioredis.RedisError, OSError):
            await self._fallback.forget(key)

    # Presence: each process writes its own connection counts, field "member<SEP>process" of the
    # room's hash, and keeps a short-lived "alive" key. A crashed process's entries stop
    # counting when its key expires; after a Redis restart the refresher writes them again.
    # So Redis holds nothing that a process could not rebuild from its live connections.

    async def presence_add(self, room: str, member: str) -> int:
        mine = self._local.setdefault(room, {})
        mine[member] = mine.get(member, 0) + 1
        await self._publish(room, member)
        return (await self._members(room)).get(member, 0)

    async def presence_remove(self, room: str, member: str) -> int:
        mine = self._local.setdefault(room, {})
        left = mine.get(member, 0) - 1
        if left > 0:
            mine[member] = left
        else:
            mine.pop(member, None)
        await self._publish(room, member)
        return (await self._members(room)).get(member, 0)

    async def presence(self, room: str) -> set[str]:
        return set(await self._members(room))

    async def _publish(self, room: str, member: str) -> None:
        self._start_refresher()
        count = self._local.get(room, {}).get(member, 0)
        field = f"{member}{_SEP}{self.process}"
        async with self.redis.pipeline(transaction=True) as pipe:
            if count:
                pipe.hset(f"rounds:presence:{room}", field, count)
            else:
                pipe.hdel(f"rounds:presence:{room}", field)
            pipe.set(f"rounds:alive:{self.process}", 1, ex=max(1, round(self.presence_ttl_s)))
            await pipe.execute()

    async def _members(self, room: str) -> dict[str, int]:
        """Connection counts per member, over the processes that are alive."""
        fields = await self.redis.hgetall(f"rounds:presence:{room}")
        entries: list[tuple[str, str, int]] = []
        for field, value in fields.items():
            member, sep, process = str(field).rpartition(_SEP)
            if sep:
                entries.append((member, process, int(value)))
        processes = sorted({process for _, process, _ in entries})
        alive = dict(zip(processes, await self.redis.mget([f"rounds:alive:{p}" for p in processes]),
                         strict=True)) if processes else {}
        counts: dict[str, int] = {}
        for member, process, n in entries:
            if alive.get(process) is not None and n > 0:
                counts[member] = counts.get(member, 0) + n
        return counts

    def _start_refresher(self) -> None:
        if self._refresher is None or self._refresher.done():
            self._refresher = asyncio.get_running_loop().create_task(self._refresh())

    async def _refresh(self) -> None:
        """Keep this process alive in Redis and its presence written (again, after a restart)."""
        while True:
            await asyncio.sleep(self.presence_ttl_s / 3)
            try:
                async with self.redis.pipeline(transaction=False) as pipe:
                    pipe.set(f"rounds:alive:{self.process}", 1, ex=max(1, round(self.presence_ttl_s)))
                    for room, members in self._local.items():
                        for member, count in members.items():
                            pipe.hset(f"rounds:presence:{room}", f"{member}{_SEP}{self.process}", count)
                    await pipe.execute()
            except (aioredis.RedisError, OSError):
                log.warning("Redis unreachable; presence will be written again when it is back")

    def socketio_manager(self) -> socketio.AsyncManager:
        return RoundsRedisManager(self.url)

    async def ping(self) -> bool:
        try:
            return bool(await self.redis.ping())
        except (aioredis.RedisError, OSError):
            return False

    async def close(self) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
        try:  # a clean stop takes this process's presence with it at once
            await self.redis.delete(f"rounds:alive:{self.process}")
        except (aioredis.RedisError, OSError):
            pass
        await self.redis.aclose()


def coordination_for(redis_url: str) -> Coordination:
    """Redis coordination for a URL, in-process for an empty one."""
    return RedisCoordination(redis_url) if redis_url else InProcess()
