"""Pure RTP helpers for the relay: keyframes, packetizing once, header extensions."""

from __future__ import annotations

import struct
from collections.abc import Sequence

from . import internals

# Version 2; the X bit is added when header extensions are present.
RTP_HEADER = struct.Struct("!BBHII")
MID_URI = "urn:ietf:params:rtp-hdrext:sdes:mid"
ABS_SEND_TIME_URI = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
_H264_IDR = 5
_H264_SPS = 7


def is_keyframe(codec: str, data: bytes) -> bool:
    """Whether an encoded frame can be decoded on its own (audio frames always can)."""
    if codec == "VP8":
        # RFC 6386 section 9.1: bit 0 of the frame tag is 0 for a key frame.
        return len(data) > 0 and not data[0] & 0x01
    if codec == "H264":
        return any(nal and nal[0] & 0x1F in (_H264_IDR, _H264_SPS) for nal in h264_units(data))
    return True


def h264_units(data: bytes) -> list[bytes]:
    """Split an Annex-B bitstream into NAL units."""
    return [nal for nal in internals.h264_split(data) if nal]


class Packetizer:
    """Turns encoded frames of one track into RTP payloads, once for every viewer."""

    __slots__ = ("_picture_id", "codec")

    def __init__(self, codec: str, picture_id: int = 0) -> None:
        self.codec = codec
        self._picture_id = picture_id & 0x7FFF

    def payloads(self, data: bytes) -> list[bytes]:
        """RTP payloads of one frame (RFC 7741 for VP8, RFC 6184 for H.264, RFC 7587 for Opus)."""
        if self.codec == "VP8":
            payloads = internals.vp8_packetize(data, self._picture_id)
            self._picture_id = (self._picture_id + 1) & 0x7FFF
            return payloads
        if self.codec == "H264":
            return internals.h264_packetize(h264_units(data))
        return [data]


def abs_send_time(ntp: int) -> bytes:
    """The 24-bit abs-send-time value (6.18 fixed point seconds) for an NTP timestamp."""
    return ((ntp >> 14) & 0xFFFFFF).to_bytes(3, "big")


class ExtensionBlock:
    """RFC 8285 one-byte header extensions of one viewer's stream: mid, abs-send-time."""

    __slots__ = ("_head", "_tail", "_with_time", "first_byte")

    def __init__(self, ids: dict[str, int], mid: str | None) -> None:
        head = b""
        size = 0
        mid_id = ids.get(MID_URI)
        if mid_id is not None and 0 < mid_id < 15 and mid and len(mid.encode()) <= 16:
            raw = mid.encode()
            head += bytes([(mid_id << 4) | (len(raw) - 1)]) + raw
            size += 1 + len(raw)
        time_id = ids.get(ABS_SEND_TIME_URI)
        self._with_time = time_id is not None and 0 < time_id < 15
        if self._with_time:
            assert time_id is not None
            head += bytes([(time_id << 4) | 2])
            size += 4
        padding = -size % 4
        self._tail = b"\x00" * padding
        self.first_byte = 0x90 if size else 0x80
        self._head = (
            (b"\xbe\xde" + struct.pack("!H", (size + padding) // 4) + head) if size else b""
        )

    def block(self, send_time: bytes) -> bytes:
        """The extension bytes for packets sent at ``send_time`` (from :func:`abs_send_time`)."""
        if self._with_time:
            return self._head + send_time + self._tail
        return self._head + self._tail


def rtp_packets(
    payloads: Sequence[bytes],
    payload_type: int,
    sequence: int,
    timestamp: int,
    ssrc: int,
    first_byte: int,
    extensions: bytes,
) -> list[bytes]:
    """Serialize one frame's payloads; the marker bit goes on the last packet."""
    pack = RTP_HEADER.pack
    last = len(payloads) - 1
    out = []
    for i, payload in enumerate(payloads):
        second = payload_type | 0x80 if i == last else payload_type
        out.append(pack(first_byte, second, sequence, timestamp, ssrc) + extensions + payload)
        sequence = (sequence + 1) & 0xFFFF
    return out
