"""The per-viewer send path: SRTP-protect and sendto, without aiortc's per-packet coroutines.

aiortc's ``RTCRtpSender`` would encode or pack every frame again for every viewer
and await four coroutines per packet. The relay packetizes each frame once and
writes already-serialized RTP here; the library internals this needs (the
nominated pair's socket, the outbound SRTP session) come from ``media.internals``.

The viewer's bounded queue is its socket's kernel send buffer (``SO_SNDBUF`` set
to ``queue_bytes``): when it is full, ``sendto`` fails with EAGAIN and the rest of
the frame is dropped for that viewer only.
"""

from __future__ import annotations

import socket
import sys
from typing import Any

from aiortc import RTCDtlsTransport

from . import internals

_UDP_SEGMENT = getattr(socket, "UDP_SEGMENT", 103)  # linux/udp.h
_GSO_SEGMENTS = 32


class Wire:
    """One viewer's DTLS-SRTP transport, seen as a datagram sink."""

    __slots__ = (
        "_addr",
        "_dtls",
        "_gso",
        "_protector",
        "_queue_bytes",
        "_sock",
        "_udp",
    )

    def __init__(self, dtls: RTCDtlsTransport, queue_bytes: int) -> None:
        self._dtls = dtls
        self._queue_bytes = queue_bytes
        self._udp: Any = None
        self._sock: Any = None
        self._addr: tuple[str, int] | None = None
        self._protector: internals.SrtpProtector | None = None
        self._gso = sys.platform == "linux"

    def ready(self) -> bool:
        """Whether DTLS is connected and a candidate pair is nominated; refreshes the route."""
        route = internals.nominated_route(self._dtls)
        if route is None:
            self._udp = None
            return False
        if route.udp is not self._udp:
            self._udp = route.udp
            self._sock = route.sock
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self._queue_bytes)
            self._protector = internals.SrtpProtector.of(self._dtls)
        self._addr = route.addr
        return not route.udp.is_closing()

    @property
    def refused(self) -> int:
        """Packets SRTP refused (too long for its buffer, or a replayed index)."""
        return self._protector.refused if self._protector is not None else 0

    def backlog(self) -> int:
        """Bytes asyncio holds for this socket because the kernel said EAGAIN earlier."""
        udp = self._udp
        return int(udp.get_write_buffer_size()) if udp is not None else 0

    def send(self, packets: list[bytes]) -> int:
        """Protect and send serialized RTP packets (after :meth:`ready`); returns how many went."""
        assert self._protector is not None
        protected = self._protector.protect(packets)
        if self._gso and len(protected) > 1:
            return self._send_segmented(protected)
        return self._send_each(protected)

    def _send_each(self, protected: list[bytes]) -> int:
        sendto = self._sock.sendto
        addr = self._addr
        sent = 0
        for datagram in protected:
            try:
                sendto(datagram, addr)
            except OSError:  # BlockingIOError: the viewer's queue is full
                return sent
            sent += 1
        return sent

    def _send_segmented(self, protected: list[bytes]) -> int:
        # UDP GSO (Linux 4.18+): equal-sized datagrams (the last may be shorter) leave in
        # one sendmsg; a frame's packets are all full-sized but the last.
        sent = 0
        while sent < len(protected):
            size = len(protected[sent])
            end = sent + 1
            while (
                end < len(protected) and end - sent < _GSO_SEGMENTS and len(protected[end]) == size
            ):
                end += 1
            if end < len(protected) and end - sent < _GSO_SEGMENTS and len(protected[end]) < size:
                end += 1  # a shorter last segment rides along
            if end - sent == 1:
                if self._send_each(protected[sent:end]) == 0:
                    return sent
            else:
                control = [(socket.SOL_UDP, _UDP_SEGMENT, size.to_bytes(2, sys.byteorder))]
                try:
                    self._sock.sendmsg([b"".join(protected[sent:end])], control, 0, self._addr)
                except BlockingIOError:
                    return sent
                except OSError:
                    self._gso = False  # no GSO on this path: send one by one from now on
                    return sent + self._send_each(protected[sent:])
            sent = end
        return sent
