"""Pure RTP helpers: keyframes, packetizing once, headers aiortc and browsers parse."""

from __future__ import annotations

import fractions

import av
from aiortc.codecs import depayload
from aiortc.codecs.h264 import H264Encoder
from aiortc.rtcrtpparameters import (
    RTCRtpCodecParameters,
    RTCRtpHeaderExtensionParameters,
    RTCRtpParameters,
)
from aiortc.rtp import HeaderExtensionsMap, RtpPacket
from media_peers import pattern_frame

from media.rtp import (
    ABS_SEND_TIME_URI,
    MID_URI,
    ExtensionBlock,
    Packetizer,
    abs_send_time,
    is_keyframe,
    rtp_packets,
)

VP8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=96)
H264 = RTCRtpCodecParameters(mimeType="video/H264", clockRate=90000, payloadType=97)


def encoded(codec: str, count: int) -> list[bytes]:
    context = av.CodecContext.create("libvpx" if codec == "VP8" else "libx264", "w")
    context.width, context.height, context.pix_fmt = 320, 240, "yuv420p"
    context.time_base = fractions.Fraction(1, 30)
    if codec == "H264":
        context.options = {"tune": "zerolatency", "preset": "ultrafast"}
    out = []
    for number in range(count):
        frame = pattern_frame(number)
        frame.pts = number
        frame.time_base = context.time_base
        out.append(b"".join(bytes(p) for p in context.encode(frame)))
    return out


def test_first_encoded_frame_is_a_keyframe_and_the_next_are_not() -> None:
    for codec in ("VP8", "H264"):
        frames = encoded(codec, 5)
        assert [is_keyframe(codec, f) for f in frames] == [True, False, False, False, False]
    assert is_keyframe("opus", b"\x01\x02")
    assert not is_keyframe("VP8", b"")


def test_packetized_frame_depayloads_to_the_same_bytes() -> None:
    for codec, params in (("VP8", VP8), ("H264", H264)):
        packetizer = Packetizer(codec)
        for frame in encoded(codec, 3):
            payloads = packetizer.payloads(frame)
            assert all(len(p) <= 1300 for p in payloads)
            rebuilt = b"".join(depayload(params, p) for p in payloads)
            if codec == "H264":
                # The depacketizer yields Annex-B units with 4-byte start codes.
                assert list(H264Encoder._split_bitstream(rebuilt)) == list(
                    H264Encoder._split_bitstream(frame)
                )
            else:
                assert rebuilt == frame


def test_rtp_packets_parse_with_mid_and_abs_send_time() -> None:
    ids = {MID_URI: 4, ABS_SEND_TIME_URI: 2}
    block = ExtensionBlock(ids, "1")
    send_time = abs_send_time(0x1234_5678_9ABC_DEF0)
    packets = rtp_packets(
        [b"a" * 10, b"b" * 7],
        96,
        0xFFFF,
        123456,
        0xDEADBEEF,
        block.first_byte,
        block.block(send_time),
    )
    extensions = HeaderExtensionsMap()
    extensions.configure(
        RTCRtpParameters(
            headerExtensions=[RTCRtpHeaderExtensionParameters(id=i, uri=u) for u, i in ids.items()]
        )
    )
    first, second = (RtpPacket.parse(p, extensions) for p in packets)
    assert (first.sequence_number, second.sequence_number) == (0xFFFF, 0)
    assert (first.marker, second.marker) == (0, 1)
    assert first.timestamp == 123456 and first.ssrc == 0xDEADBEEF and first.payload_type == 96
    assert first.extensions.mid == "1"
    assert first.extensions.abs_send_time == int.from_bytes(send_time, "big")
    assert (first.payload, second.payload) == (b"a" * 10, b"b" * 7)


def test_rtp_packets_without_negotiated_extensions_have_no_extension_header() -> None:
    block = ExtensionBlock({}, "0")
    (packet,) = rtp_packets([b"x"], 111, 1, 2, 3, block.first_byte, block.block(b"\0\0\0"))
    parsed = RtpPacket.parse(packet)
    assert parsed.payload == b"x" and parsed.extensions.mid is None
    assert packet[0] == 0x80
