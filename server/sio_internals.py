"""Every use of python-socketio and python-engineio beyond their documented API, in one place.

The server plugs into the libraries at two documented seams: ``client_manager=`` (a manager
subclass whose ``emit`` delivers broadcasts) and ``serializer=`` (a ``Packet`` subclass that
decodes what clients send). Inside those, a few attributes are not documented: the Engine.IO
socket table and queues, and the per-connection environ. They are named only here;
:func:`check` runs at start-up and ``tests/test_sio_internals.py`` is the canary that fails
when an upgrade moves them. ``pyproject.toml`` pins both libraries to the tested minor version.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

import socketio
from engineio import packet as eio_packet
from socketio import packet as sio_packet

__all__ = [
    "REFUSED_PREFIX",
    "RESERVED_EVENTS",
    "SUPPORTED",
    "UNDECODABLE",
    "BoundedDelivery",
    "RoundsPacket",
    "RoundsRedisManager",
    "check",
    "queued",
    "socketio_server",
]

log = logging.getLogger("rounds.realtime")

# The versions this module was written against (the pins in pyproject.toml).
SUPPORTED = {"python-socketio": "5.18.", "python-engineio": "4.15."}

# Names the Socket.IO protocol reserves for the library itself; a client sending one as an event
# would otherwise run the namespace's connect/disconnect handlers (socket.io docs, "Emit
# cheatsheet": reserved events).
RESERVED_EVENTS = frozenset({"connect", "connect_error", "disconnect", "disconnecting",
                             "newListener", "removeListener"})
REFUSED_PREFIX = "\x00reserved:"
UNDECODABLE = "\x00undecodable"
# Writes between two chances for other tasks to run: a 2,000-socket room is ~8 slices.
_CHUNK = 256


class RoundsPacket(sio_packet.Packet):  # type: ignore[misc]
    """Socket.IO packets whose events from clients cannot pose as the library's own.

    A client event named ``connect`` is renamed ``REFUSED_PREFIX + "connect"`` so the namespace
    refuses it with an error ack; an event whose JSON cannot be read (nested thousands deep, a
    number of more than 4,300 digits) becomes ``UNDECODABLE`` instead of a logged traceback.
    """

    def decode(self, encoded_packet: Any) -> int:
        try:
            count: int = super().decode(encoded_packet)
        except (ValueError, RecursionError):
            if getattr(self, "packet_type", None) != sio_packet.EVENT:
                raise
            self.data = [UNDECODABLE]
            return 0
        if self.packet_type in (sio_packet.EVENT, sio_packet.BINARY_EVENT) and isinstance(self.data, list) \
                and self.data and isinstance(self.data[0], str) and self.data[0] in RESERVED_EVENTS:
            self.data[0] = REFUSED_PREFIX + self.data[0]
        return count


def queued(sio: socketio.AsyncServer, eio_sid: str) -> int:
    """Packets waiting in one Engine.IO socket's send queue (0 if it is gone)."""
    sock = sio.eio.sockets.get(eio_sid)
    return 0 if sock is None else int(sock.queue.qsize())


class BoundedDelivery(socketio.AsyncManager):  # type: ignore[misc]
    """``AsyncManager`` whose broadcasts are encoded once and never queue without bound.

    python-socketio's ``emit`` encodes once, then starts a task per recipient. Here each recipient
    costs one put into its Engine.IO socket's queue, the same queue acks and every other packet of
    that socket go through, so a broadcast and an ack stay in the order they were sent, on
    websocket and long-polling alike. A socket whose queue already holds ``queue_limit`` packets
    is not reading: it is disconnected and counted, instead of growing the server.
    """

    queue_limit = 1000
    on_slow_reader: Callable[[str], None] | None = None  # namespace -> count it (metrics)

    async def emit(self, event: str, data: Any, namespace: str, room: Any = None, skip_sid: Any = None,
                   callback: Any = None, to: Any = None, **kwargs: Any) -> None:
        room = to or room
        if callback is not None or namespace not in self.rooms:
            await super().emit(event, data, namespace, room=room, skip_sid=skip_sid, callback=callback, **kwargs)
            return
        args = list(data) if isinstance(data, tuple) else ([] if data is None else [data])
        encoded = self.server.packet_class(sio_packet.EVENT, namespace=namespace, data=[event, *args]).encode()
        if isinstance(encoded, list):  # binary attachments: rare, the library's own path
            await super().emit(event, data, namespace, room=room, skip_sid=skip_sid, **kwargs)
            return
        pkt = eio_packet.Packet(eio_packet.MESSAGE, encoded)
        skip = set(skip_sid) if isinstance(skip_sid, list | tuple | set) else {skip_sid}
        sockets = self.server.eio.sockets
        slow: list[str] = []
        for count, (sid, eio_sid) in enumerate(list(self.get_participants(namespace, room)), 1):
            if count % _CHUNK == 0:
                await asyncio.sleep(0)  # let calls (votes, asks) in between a large room's puts
            if sid in skip:
                continue
            sock = sockets.get(eio_sid)
            if sock is None or sock.closed or sock.closing:
                continue
            if sock.queue.qsize() >= self.queue_limit:
                slow.append(eio_sid)
                continue
            await sock.send(pkt)  # an unbounded asyncio.Queue: put() does not suspend
        for eio_sid in slow:
            await drop_slow_reader(self.server, eio_sid, namespace)
            if self.on_slow_reader is not None:
                self.on_slow_reader(namespace)


class RoundsRedisManager(socketio.AsyncRedisManager, BoundedDelivery):  # type: ignore[misc]
    """Redis pub/sub between processes; each process delivers locally through BoundedDelivery.

    ``AsyncPubSubManager`` hands every published emit to ``super().emit`` for local delivery,
    which this class order makes :meth:`BoundedDelivery.emit`.
    """


async def drop_slow_reader(sio: socketio.AsyncServer, eio_sid: str, namespace: str) -> None:
    """Close a connection that does not read what is sent to it (its queue is full)."""
    sock = sio.eio.sockets.get(eio_sid)
    log.warning("closing a %s connection that is not reading (%d packets waiting)", namespace,
                queued(sio, eio_sid))
    request = (sio.environ.get(eio_sid) or {}).get("aiohttp.request")
    if sock is not None and not sock.closed:
        # abort: no CLOSE packet into a queue nobody reads, and no waiting for it to drain
        await sock.close(wait=False, abort=True, reason=sio.eio.reason.TRANSPORT_ERROR)
    transport = getattr(request, "transport", None)
    if transport is not None and not transport.is_closing():
        transport.abort()  # a websocket writer stuck on a full socket buffer ends here


def socketio_server(manager: socketio.AsyncManager, **options: Any) -> socketio.AsyncServer:
    """The Rounds Socket.IO server: our packet class and manager, on aiohttp."""
    check()
    return socketio.AsyncServer(async_mode="aiohttp", client_manager=manager, serializer=RoundsPacket,
                                **options)


def check() -> None:
    """Refuse to start on library versions whose internals this module was not written for."""
    for dist, prefix in SUPPORTED.items():
        found = version(dist)
        if not found.startswith(prefix):
            raise RuntimeError(f"{dist} {found} is installed; Rounds supports {prefix}x "
                               "(server/sio_internals.py relies on its internals)")
    probe = socketio.AsyncServer(async_mode="aiohttp")
    for owner, name in ((probe, "environ"), (probe.eio, "sockets"), (probe.eio, "reason")):
        if not hasattr(owner, name):
            raise RuntimeError(f"python-socketio internals changed: no {type(owner).__name__}.{name}")
    for name in ("queue", "closed", "closing", "send", "close"):
        if name not in _socket_attributes():
            raise RuntimeError(f"python-engineio internals changed: no AsyncSocket.{name}")


def _socket_attributes() -> set[str]:
    from engineio.async_socket import AsyncSocket

    class _Server:
        def create_queue(self) -> asyncio.Queue[Any]:
            return asyncio.Queue()

    sock = AsyncSocket(_Server(), "probe")
    return set(dir(sock)) | set(vars(sock))
