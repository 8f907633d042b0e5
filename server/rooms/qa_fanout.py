"""Q&A room broadcasts, through python-socketio's client manager (``client_manager=``).

Every broadcast is ``AsyncServer.emit``: the manager (``BoundedDelivery`` in
``sio_internals.py``, or its Redis subclass across processes) encodes the packet once and puts it
into each recipient's Engine.IO queue, the queue its acks also go through. So a broadcast and
the ack of the call that caused it arrive in the order they were sent, on websocket and
long-polling alike, and a socket that stops reading is closed instead of queueing without bound.
The counters here feed ``/metrics``.
"""

from __future__ import annotations

import time
from typing import Any

import socketio

from ..sio_internals import BoundedDelivery

__all__ = ["Fanout"]


class Fanout:
    """Room broadcasts of one namespace, timed for /metrics and the vote throttle."""

    def __init__(self, sio: socketio.AsyncServer, namespace: str) -> None:
        self.sio = sio
        self.namespace = namespace
        self.broadcasts = 0  # emits made
        self.seconds = 0.0  # time spent delivering (encode and queue puts)
        self.largest = 0.0  # the longest single delivery, seconds
        self.recent: dict[str, float] = {}  # room -> seconds its last delivery took

    async def emit(self, event: str, data: Any, room: str | list[str] | None) -> None:
        """Send ``event`` to a room of this namespace (None: all of it), on every process."""
        began = time.perf_counter()
        await self.sio.emit(event, data, room=room, namespace=self.namespace)
        spent = time.perf_counter() - began
        self.broadcasts += 1
        self.seconds += spent
        self.largest = max(self.largest, spent)
        if isinstance(room, str):
            self.recent[room] = spent

    async def deliver(self, event: str, data: Any, room: str | list[str] | None) -> None:
        """Send ``event`` to this process's members of ``room`` only (not through pub/sub)."""
        # BoundedDelivery.emit is the local half of every manager here, Redis or not.
        await BoundedDelivery.emit(self.sio.manager, event, data, self.namespace, room=room)
