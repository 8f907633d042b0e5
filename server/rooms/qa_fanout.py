"""A cheaper send path for room broadcasts: one pre-built websocket frame, written to each socket.

python-socketio's ``AsyncManager.emit`` encodes a packet once, then spends a task, a queue put,
a writer wake-up, a UTF-8 encode, a frame and (when the client negotiated permessage-deflate) a
compression per recipient (see docs/performance.md). Here the Engine.IO message is encoded and
framed once per broadcast and written straight to the transport of every local socket that
connected over websocket directly. The frame is sent uncompressed (RSV1 clear), which RFC 7692
section 6 allows on a deflate connection; it leaves the connection's compression context alone.

Sockets that came in over long-polling (their transport is not the websocket's), or whose write
buffer is backed up, fall back to python-socketio's own send path.

With a pub/sub manager (Redis) the manager still carries every emit between processes: the local
delivery of each emit for our namespace, ours or another process's, comes here.
"""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import Iterable
from typing import Any

import socketio
from engineio import packet as eio_packet
from socketio import packet as sio_packet
from socketio.async_pubsub_manager import AsyncPubSubManager

__all__ = ["Fanout", "websocket_frame"]

# Above this much unsent data a client is slow; it gets the ordinary (awaiting) send path.
_BACKLOG_LIMIT = 256 * 1024
# Writes between two chances for other tasks to run: a 2,000-socket room is ~8 slices.
_CHUNK = 256


def websocket_frame(payload: bytes) -> bytes:
    """An unmasked, uncompressed, final text frame (RFC 6455 section 5.2)."""
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x81, size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", 0x81, 126, size)
    else:
        header = struct.pack("!BBQ", 0x81, 127, size)
    return header + payload


class Fanout:
    """Room broadcasts of one namespace, written once per room instead of once per task."""

    def __init__(self, sio: socketio.AsyncServer, namespace: str) -> None:
        self.sio = sio
        self.namespace = namespace
        self.transports: dict[str, asyncio.WriteTransport] = {}
        self.fast = 0  # frames written directly
        self.slow = 0  # sends through python-socketio's path
        self.seconds = 0.0  # time spent delivering (encode, frame, writes)
        self.largest = 0.0  # the longest single delivery, seconds
        self.recent: dict[str, float] = {}  # room -> seconds its last delivery took
        self._pubsub = isinstance(sio.manager, AsyncPubSubManager)
        if self._pubsub:
            self._hook_pubsub()

    def register(self, sid: str) -> None:
        """Remember the transport of a socket that connected over websocket directly."""
        environ = self.sio.get_environ(sid, self.namespace) or {}
        request = environ.get("aiohttp.request")
        direct = "transport=websocket" in environ.get("QUERY_STRING", "") and \
            environ.get("HTTP_UPGRADE", "").lower() == "websocket"
        transport = getattr(request, "transport", None) if direct else None
        if transport is not None:
            self.transports[sid] = transport

    def forget(self, sid: str) -> None:
        self.transports.pop(sid, None)

    async def emit(self, event: str, data: Any, room: str | list[str] | None) -> None:
        """Send ``event`` to a room of this namespace, on every process."""
        if self._pubsub:
            # The manager delivers locally through our hook, then publishes to the others.
            await self.sio.emit(event, data, room=room, namespace=self.namespace)
        else:
            await self.deliver(event, data, room)

    async def deliver(self, event: str, data: Any, room: str | list[str] | None,
                      skip_sid: Iterable[str] | str | None = None) -> None:
        """Send ``event`` to this process's members of ``room`` (None: the whole namespace)."""
        began = time.perf_counter()
        text = self.sio.packet_class(sio_packet.EVENT, namespace=self.namespace, data=[event, data]).encode()
        assert isinstance(text, str)  # JSON payloads only; binary would be a list of parts
        frame = websocket_frame(b"4" + text.encode())  # "4": Engine.IO MESSAGE
        skip = {skip_sid} if isinstance(skip_sid, str) else set(skip_sid or ())
        slow: list[str] = []
        sockets = self.sio.eio.sockets
        for count, (sid, eio_sid) in enumerate(self.sio.manager.get_participants(self.namespace, room), 1):
            if count % _CHUNK == 0:
                await asyncio.sleep(0)  # let calls (votes, asks) in between a large room's writes
            if sid in skip:
                continue
            transport = self.transports.get(sid)
            eio_socket = sockets.get(eio_sid)
            if eio_socket is None or eio_socket.closed or eio_socket.closing:
                continue
            if transport is None or transport.is_closing() or transport.get_write_buffer_size() > _BACKLOG_LIMIT:
                slow.append(eio_sid)
                continue
            transport.write(frame)
            self.fast += 1
        if slow:
            self.slow += len(slow)
            pkt = eio_packet.Packet(eio_packet.MESSAGE, text)
            await asyncio.gather(*(self.sio._send_eio_packet(eio_sid, pkt) for eio_sid in slow))
        spent = time.perf_counter() - began
        self.seconds += spent
        self.largest = max(self.largest, spent)
        if isinstance(room, str):
            self.recent[room] = spent

    def _hook_pubsub(self) -> None:
        manager = self.sio.manager
        original = manager._handle_emit

        async def handle_emit(message: dict[str, Any]) -> None:
            # Our namespace's events without callbacks take the fast path; the rest is untouched.
            if message.get("namespace") != self.namespace or message.get("callback") or message.get("binary"):
                await original(message)
                return
            data = message["data"]
            if isinstance(data, list) and len(data) == 1:
                data = data[0]
            await self.deliver(message["event"], data, message.get("room"), message.get("skip_sid"))

        # An instance attribute shadows the method for this one manager only.
        manager._handle_emit = handle_emit
