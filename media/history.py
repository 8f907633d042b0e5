"""What an outlet sent lately, to answer a viewer's NACKs (RFC 4585) by retransmission (RFC 4588).

As in the SFUs that do this (mediasoup's ``RtpStreamSend`` storage, LiveKit's
per-down-track sequencer): each viewer's stream keeps, for its own sequence
numbers, where the packet came from; the payload bytes themselves are the
feed's, shared by every viewer, so the history costs a slot per packet, not a copy.
A packet is resent at most once per ``RESEND_GUARD_S`` (a repeated NACK
arriving before the first repair could), and a token bucket caps the bytes one
viewer's repairs may take.
"""

from __future__ import annotations

from collections.abc import Sequence

# Slots in the ring (a power of two): enough for 1 s at ~2,000 packets/s.
RING = 2048
RESEND_GUARD_S = 0.04


class SentFrame:
    """One frame as an outlet sent it: its first sequence number and the shared payloads."""

    __slots__ = ("first", "payload_type", "payloads", "resent", "sent_at", "timestamp")

    def __init__(
        self,
        first: int,
        payloads: Sequence[bytes],
        timestamp: int,
        payload_type: int,
        sent_at: float,
    ) -> None:
        self.first = first
        self.payloads = payloads
        self.timestamp = timestamp
        self.payload_type = payload_type
        self.sent_at = sent_at
        self.resent: dict[int, float] | None = None


class SendHistory:
    """The last ``keep_s`` seconds of one outlet's packets, by sequence number."""

    __slots__ = ("_keep", "_ring")

    def __init__(self, keep_s: float) -> None:
        self._keep = keep_s
        self._ring: list[SentFrame | None] = [None] * RING

    def add(self, frame: SentFrame) -> None:
        """Remember a frame just sent (its packets carry ``first``, ``first + 1``, ...)."""
        ring = self._ring
        mask = RING - 1
        first = frame.first
        for i in range(len(frame.payloads)):
            ring[(first + i) & mask] = frame

    def find(self, sequence: int, now: float) -> tuple[SentFrame, int] | None:
        """The frame and packet index of ``sequence``, if still kept."""
        frame = self._ring[sequence & (RING - 1)]
        if frame is None or now - frame.sent_at > self._keep:
            return None
        index = (sequence - frame.first) & 0xFFFF
        if index >= len(frame.payloads):
            return None
        return frame, index

    def clear(self) -> None:
        """Forget everything (the outlet switched feeds)."""
        self._ring = [None] * RING


def may_resend(frame: SentFrame, index: int, now: float) -> bool:
    """False when this packet was resent less than RESEND_GUARD_S ago; else marks it resent."""
    resent = frame.resent
    if resent is None:
        frame.resent = resent = {}
    last = resent.get(index)
    if last is not None and now - last < RESEND_GUARD_S:
        return False
    resent[index] = now
    return True


class Budget:
    """A token bucket: at most ``rate`` bytes per second, bursts of ``burst_s`` worth."""

    __slots__ = ("_at", "_burst", "_rate", "_tokens")

    def __init__(self, rate: float, burst_s: float = 0.25) -> None:
        self._rate = rate
        self._burst = rate * burst_s
        self._tokens = self._burst
        self._at: float | None = None

    def take(self, size: int, now: float) -> bool:
        """Spend ``size`` bytes if the bucket holds them."""
        if self._at is not None:
            self._tokens = min(self._burst, self._tokens + (now - self._at) * self._rate)
        self._at = now
        if size > self._tokens:
            return False
        self._tokens -= size
        return True
