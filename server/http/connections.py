"""The listening socket of ``rounds serve``: a cap on open connections and a deadline for the
first request head (slowloris), in front of aiohttp's own protocol.

aiohttp closes idle keep-alive connections (``keepalive_timeout``) but has no deadline for a
request head that trickles in a byte at a time, and no cap on connections; both live here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from ..settings import Settings

__all__ = ["ConnectionGuard", "Listening", "listen"]

log = logging.getLogger("rounds.http")


class ConnectionGuard:
    """A protocol factory wrapping aiohttp's, counting what it refuses."""

    def __init__(self, factory: Callable[[], asyncio.Protocol], max_connections: int,
                 header_timeout_s: float) -> None:
        self.factory = factory
        self.max_connections = max_connections
        self.header_timeout_s = header_timeout_s
        self.open = 0
        self.refused = 0  # over the connection cap
        self.timed_out = 0  # no complete request head in time

    def __call__(self) -> asyncio.Protocol:
        return _Guarded(self)


class _Guarded(asyncio.Protocol):
    def __init__(self, guard: ConnectionGuard) -> None:
        self.guard = guard
        self.inner: asyncio.Protocol | None = None
        self.transport: asyncio.Transport | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.tail = b""
        self.head_seen = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        guard = self.guard
        guard.open += 1
        assert isinstance(transport, asyncio.Transport)  # TCP
        self.transport = transport
        if guard.open > guard.max_connections:
            guard.refused += 1
            transport.abort()  # connection_lost follows and gives the slot back
            return
        self.inner = guard.factory()
        self.inner.connection_made(transport)
        self.timer = asyncio.get_running_loop().call_later(guard.header_timeout_s, self._too_slow)

    def data_received(self, data: bytes) -> None:
        if not self.head_seen:
            seen = self.tail + data
            if b"\r\n\r\n" in seen:
                self.head_seen = True
                if self.timer is not None:
                    self.timer.cancel()
            else:
                self.tail = seen[-3:]
        if self.inner is not None:
            self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received() if self.inner is not None else None

    def pause_writing(self) -> None:
        if self.inner is not None:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.inner is not None:
            self.inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self.guard.open -= 1
        if self.timer is not None:
            self.timer.cancel()
        if self.inner is not None:
            self.inner.connection_lost(exc)

    def _too_slow(self) -> None:
        if not self.head_seen and self.transport is not None and not self.transport.is_closing():
            self.guard.timed_out += 1
            self.transport.abort()


@dataclass
class Listening:
    """A running server: stop it with :meth:`close`."""

    runner: web.AppRunner
    server: asyncio.Server
    guard: ConnectionGuard

    @property
    def port(self) -> int:
        return int(self.server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        self.server.close()
        await self.runner.cleanup()


async def listen(app: web.Application, settings: Settings, host: str, port: int) -> Listening:
    """Serve ``app`` on ``host:port`` (0: a free port) behind the guard."""
    runner = web.AppRunner(app, access_log=None, keepalive_timeout=settings.keepalive_timeout_s)
    await runner.setup()
    assert runner.server is not None
    guard = ConnectionGuard(runner.server, settings.max_connections, settings.header_timeout_s)
    server = await asyncio.get_running_loop().create_server(guard, host, port, reuse_address=True, backlog=1024)
    return Listening(runner, server, guard)
