"""Socket.IO client helpers for the /qa tests (in-process and multi-process)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import socketio

NS = "/qa"


class Inbox:
    """Every server event a client received, and a way to await one."""

    def __init__(self, client: socketio.AsyncClient, events: tuple[str, ...] = ("question", "retract", "stage",
                                                                                   "resync")) -> None:
        self.items: list[tuple[str, Any]] = []
        self._changed = asyncio.Event()
        for name in events:
            client.on(name, self._handler(name), namespace=NS)

    def _handler(self, name: str) -> Callable[[Any], Any]:
        async def handle(data: Any) -> None:
            self.items.append((name, data))
            self._changed.set()
        return handle

    async def wait(self, event: str, pred: Callable[[Any], bool] = lambda d: True, timeout: float = 5) -> Any:
        async def look() -> Any:
            while True:
                for name, data in self.items:
                    if name == event and pred(data):
                        return data
                self._changed.clear()
                await self._changed.wait()
        return await asyncio.wait_for(look(), timeout)

    def of(self, event: str) -> list[Any]:
        return [d for n, d in self.items if n == event]


async def call(client: socketio.AsyncClient, event: str, data: Any) -> dict[str, Any]:
    return await client.call(event, data, namespace=NS, timeout=10)  # type: ignore[no-any-return]
