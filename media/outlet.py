"""One viewer's m-line: gets a feed's packetized frames and sends them as its own stream."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiortc import RTCRtpTransceiver, clock
from aiortc.rtp import (
    RTCP_PSFB_FIR,
    RTCP_PSFB_PLI,
    RTCP_RTPFB_NACK,
    AnyRtcpPacket,
    RtcpPsfbPacket,
    RtcpRrPacket,
    RtcpRtpfbPacket,
    RtcpSrPacket,
)

from . import internals
from .history import Budget, SendHistory, SentFrame, may_resend
from .rtp import RTP_HEADER, ExtensionBlock, abs_send_time, rtp_packets
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
    for codec in internals.codecs(transceiver):
        name = codec.name
        if name == "H264" and str(codec.parameters.get("packetization-mode")) != "1":
            continue
        if name in ("VP8", "H264", "opus") and name not in found and codec.payloadType is not None:
            found[name] = codec.payloadType
    return found


# A viewer's own PLIs reach the publisher at most once per this many keyframe intervals.
VIEWER_PLI_INTERVALS = 4


def rtx_types(transceiver: RTCRtpTransceiver) -> dict[int, int]:
    """The negotiated RTX payload type (RFC 4588) for each media payload type that has one."""
    found: dict[int, int] = {}
    for codec in internals.codecs(transceiver):
        apt = codec.parameters.get("apt")
        if codec.name.lower() == "rtx" and isinstance(apt, int) and codec.payloadType is not None:
            found.setdefault(apt, codec.payloadType)
    return found


@dataclass(frozen=True, slots=True)
class Repair:
    """How an outlet answers NACKs: history kept and its per-viewer byte budget."""

    history_s: float = 1.0
    budget_bytes_s: int = 256 * 1024


class Outlet:
    """Sends whichever feed is attached to one viewer's sendonly transceiver."""

    def __init__(
        self,
        transceiver: RTCRtpTransceiver,
        queue_bytes: int,
        on_report: Callable[[int, int], None] | None = None,
        repair: Repair | None = None,
    ) -> None:
        self.kind = transceiver.kind
        self.feed: Feed | None = None
        self.dropped_packets = 0
        self.sent_packets = 0
        # NACKed packets resent, refused for the budget, and gone from the history.
        self.retransmitted = 0
        self.over_budget = 0
        self.unrepairable = 0
        self.picture_losses = 0
        self._keyframe_at = -float("inf")
        self._pli_at = -float("inf")
        repair = repair or Repair()
        self._history = SendHistory(repair.history_s)
        self._budget = Budget(repair.budget_bytes_s)
        self._rtx_types = rtx_types(transceiver)
        self._rtx_sequence = random.randrange(1 << 15)
        self._sender = transceiver.sender
        self._wire = Wire(transceiver.sender.transport, queue_bytes)
        self._ssrc, self._rtx_ssrc = internals.sender_ssrcs(transceiver.sender)
        self._types = payload_types(transceiver)
        self._on_report = on_report
        ids = {ext.uri: ext.id for ext in internals.header_extensions(transceiver)}
        self._ext = ExtensionBlock(ids, transceiver.mid)
        self._sequence = random.randrange(1 << 15)
        self._offset = 0
        self._last_out: int | None = None
        self._last_sent_at = 0.0
        self._rebase = True
        self._awaiting_keyframe = self.kind == "video"
        self._unsupported: str | None = None
        # The viewer's RTCP for this stream comes here first: PLI/FIR and NACK are the
        # relay's to answer (aiortc's sender never saw the packets); reports go on to aiortc.
        internals.intercept_rtcp(transceiver.sender, self.on_rtcp)

    @property
    def ssrc(self) -> int:
        """The SSRC of this viewer's stream."""
        return self._ssrc

    def on_rtcp(self, packet: AnyRtcpPacket) -> bool:
        """Handle the viewer's feedback on this stream; False lets aiortc see it too."""
        if isinstance(packet, RtcpPsfbPacket):
            if packet.fmt in (RTCP_PSFB_PLI, RTCP_PSFB_FIR):
                self.picture_lost()
                return True
            return False
        if isinstance(packet, RtcpRtpfbPacket):
            if packet.fmt == RTCP_RTPFB_NACK:
                self.on_nack(packet.lost)
            return True
        if isinstance(packet, (RtcpRrPacket, RtcpSrPacket)) and self._on_report is not None:
            for report in packet.reports:
                if report.ssrc == self._ssrc:
                    self._on_report(self._ssrc, report.highest_sequence)
        return False

    def on_nack(self, lost: list[int]) -> None:
        """The viewer lost these packets: resend them from the history, within the budget.

        With RTX negotiated (RFC 4588 section 4) a repair goes on the RTX stream: its own
        payload type, SSRC and sequence numbers, the original sequence number in the first
        two bytes of the payload; otherwise the packet is sent again as it was.
        A packet gone from the history cannot be repaired: a keyframe (within the feed's
        budget) is then the way out.
        """
        wire = self._wire
        if not lost or not wire.ready() or wire.backlog():
            return
        now = time.monotonic()
        history, budget = self._history, self._budget
        ext = self._ext
        first_byte = ext.first_byte
        block = ext.block(abs_send_time(clock.current_ntp_time()))
        pack = RTP_HEADER.pack
        packets: list[bytes] = []
        missing = False
        for sequence in lost:
            found = history.find(sequence, now)
            if found is None:
                missing = True
                continue
            frame, index = found
            if not may_resend(frame, index, now):
                continue
            payload = frame.payloads[index]
            last = index == len(frame.payloads) - 1
            rtx = self._rtx_types.get(frame.payload_type)
            size = 12 + len(block) + len(payload) + (2 if rtx is not None else 0)
            if not budget.take(size, now):
                self.over_budget += 1
                continue
            if rtx is None:
                second = frame.payload_type | 0x80 if last else frame.payload_type
                packets.append(
                    pack(first_byte, second, sequence, frame.timestamp, self._ssrc)
                    + block
                    + payload
                )
            else:
                second = rtx | 0x80 if last else rtx
                packets.append(
                    pack(first_byte, second, self._rtx_sequence, frame.timestamp, self._rtx_ssrc)
                    + block
                    + sequence.to_bytes(2, "big")
                    + payload
                )
                self._rtx_sequence = (self._rtx_sequence + 1) & 0xFFFF
        if packets:
            self.retransmitted += wire.send(packets)
        if missing:
            self.unrepairable += 1
            if self.kind == "video" and self.feed is not None:
                self.feed.request_keyframe()

    def attach(self, feed: Feed | None) -> None:
        """Switch this m-line to ``feed`` (or to nothing) without renegotiation."""
        if feed is self.feed:
            return
        if self.feed is not None:
            self.feed.outlets.discard(self)
        self.feed = feed
        self._history.clear()
        self._rebase = True
        self._awaiting_keyframe = self.kind == "video"
        if feed is not None:
            # The keyframe is asked for by deliver(), once this viewer's DTLS is up.
            feed.outlets.add(self)

    def picture_lost(self) -> None:
        """The viewer reported picture loss: ask the publisher for a keyframe.

        Not when this viewer got one less than the feed's keyframe interval ago (its
        PLI most likely crossed that keyframe on the way), and at most once per
        VIEWER_PLI_INTERVALS intervals per viewer, so that one viewer on a bad link
        cannot set the keyframe rate of everyone else.
        """
        feed = self.feed
        if feed is None or self.kind != "video":
            return
        now = time.monotonic()
        interval = feed.keyframe_interval
        if now - self._keyframe_at < interval:
            return
        if now - self._pli_at < VIEWER_PLI_INTERVALS * interval:
            return
        self._pli_at = now
        self.picture_losses += 1
        feed.request_keyframe()

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
        if frame.keyframe and self.kind == "video":
            self._keyframe_at = time.monotonic()
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
        self._history.add(SentFrame(self._sequence, frame.payloads, timestamp, payload_type, now))
        sent = wire.send(packets)
        if sent < count:
            self._drop(count - sent)
        self._sequence = (self._sequence + count) & 0xFFFF
        self._last_out = timestamp
        self._last_sent_at = now
        self.sent_packets += sent
        # Feed the sender's RTCP sender reports so the viewer can sync audio and video.
        internals.note_sent(self._sender, frame.ntp, timestamp, sent, frame.octets)
