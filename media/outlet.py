"""One viewer's m-line: gets a feed's packetized frames and sends them as its own stream."""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiortc import RTCRtpTransceiver

from .rtp import ExtensionBlock, rtp_packets
from .wire import Wire

if TYPE_CHECKING:
    from .feed import Feed

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Forwarded:
    """One frame of a published track, packetized once and shared by every outlet."""

    codec: str
    payloads: list[bytes]
    timestamp: int
    keyframe: bool
    send_time: bytes
    ntp: int
    clock_rate: int
    octets: int


def payload_types(transceiver: RTCRtpTransceiver) -> dict[str, int]:
    """Negotiated payload type per codec name; for H.264 only packetization-mode 1."""
    found: dict[str, int] = {}
    for codec in transceiver._codecs:
        name = codec.name
        if name == "H264" and str(codec.parameters.get("packetization-mode")) != "1":
            continue
        if name in ("VP8", "H264", "opus") and name not in found and codec.payloadType is not None:
            found[name] = codec.payloadType
    return found


class Outlet:
    """Sends whichever feed is attached to one viewer's sendonly transceiver."""

    def __init__(self, transceiver: RTCRtpTransceiver, queue_bytes: int) -> None:
        self.kind = transceiver.kind
        self.feed: Feed | None = None
        self.dropped_packets = 0
        self.sent_packets = 0
        self._sender: Any = transceiver.sender
        self._wire = Wire(transceiver.sender.transport, queue_bytes)
        self._ssrc: int = transceiver.sender._ssrc
        self._types = payload_types(transceiver)
        ids = {ext.uri: ext.id for ext in transceiver._headerExtensions}
        self._ext = ExtensionBlock(ids, transceiver.mid)
        self._sequence = random.randrange(1 << 15)
        self._offset = 0
        self._last_out: int | None = None
        self._last_sent_at = 0.0
        self._rebase = True
        self._awaiting_keyframe = self.kind == "video"
        self._unsupported: str | None = None
        # A viewer's PLI/FIR reaches the sender; on the packet path the sender cannot
        # act on it, so it becomes a (rate-limited) keyframe request to the publisher.
        sender: Any = transceiver.sender
        sender._send_keyframe = self.picture_lost

    def attach(self, feed: Feed | None) -> None:
        """Switch this m-line to ``feed`` (or to nothing) without renegotiation."""
        if feed is self.feed:
            return
        if self.feed is not None:
            self.feed.outlets.discard(self)
        self.feed = feed
        self._rebase = True
        self._awaiting_keyframe = self.kind == "video"
        if feed is not None:
            feed.outlets.add(self)
            feed.request_keyframe()

    def picture_lost(self) -> None:
        """The viewer reported picture loss: ask the publisher for a keyframe."""
        if self.feed is not None:
            self.feed.request_keyframe()

    def _drop(self, packets: int) -> None:
        self.dropped_packets += packets
        if self.kind == "video":
            self._awaiting_keyframe = True
            if self.feed is not None:
                self.feed.request_keyframe()

    def deliver(self, frame: Forwarded) -> None:
        """Send one frame, unless gated (waiting for a keyframe) or the viewer is backed up."""
        wire = self._wire
        if not wire.ready():
            self._awaiting_keyframe = self.kind == "video"
            return
        if self._awaiting_keyframe:
            if not frame.keyframe:
                if self.feed is not None:
                    self.feed.request_keyframe()
                return
            self._awaiting_keyframe = False
        if wire.backlog():
            # The socket was full moments ago: drop rather than queue, recover at a keyframe.
            self._drop(len(frame.payloads))
            return
        payload_type = self._types.get(frame.codec)
        if payload_type is None:
            if self._unsupported != frame.codec:
                self._unsupported = frame.codec
                logger.info("viewer did not negotiate %s; not forwarding it", frame.codec)
            return
        now = time.monotonic()
        if self._rebase:
            # Keep the viewer's RTP clock continuous across publishers and pauses.
            self._rebase = False
            if self._last_out is None:
                self._offset = random.randrange(1 << 32) - frame.timestamp
            else:
                gap = max(1, int((now - self._last_sent_at) * frame.clock_rate))
                self._offset = self._last_out + gap - frame.timestamp
        timestamp = (frame.timestamp + self._offset) & 0xFFFFFFFF
        packets = rtp_packets(
            frame.payloads,
            payload_type,
            self._sequence,
            timestamp,
            self._ssrc,
            self._ext.first_byte,
            self._ext.block(frame.send_time),
        )
        count = len(packets)
        sent = wire.send(packets)
        if sent < count:
            self._drop(count - sent)
        self._sequence = (self._sequence + count) & 0xFFFF
        self._last_out = timestamp
        self._last_sent_at = now
        self.sent_packets += sent
        # Feed the sender's RTCP sender reports so the viewer can sync audio and video.
        sender = self._sender
        sender._RTCRtpSender__ntp_timestamp = frame.ntp
        sender._RTCRtpSender__rtp_timestamp = timestamp
        sender._RTCRtpSender__packet_count += sent
        sender._RTCRtpSender__octet_count += frame.octets
