"""The private names the relay relies on: checked at start-up, and the SRTP size guard."""

from __future__ import annotations

import os
import struct

import pylibsrtp
import pytest
from media_peers import EvidenceLog

from media import Incompatible, MediaHub, MediaSettings, internals


def test_canary_every_private_name_exists_in_the_installed_versions() -> None:
    # Fails on an upgrade that renamed or removed one: pin again, or port media/internals.py.
    assert internals.missing() == []
    internals.verify()


def test_a_missing_name_stops_the_hub_with_a_clear_message(
    monkeypatch: pytest.MonkeyPatch, media_settings: MediaSettings
) -> None:
    from aiortc import RTCRtpSender

    gone = (*internals._ATTRIBUTES, (RTCRtpSender, "_RTCRtpSender__renamed_in_2027"))
    monkeypatch.setattr(internals, "_ATTRIBUTES", gone)
    with pytest.raises(Incompatible) as raised:
        MediaHub(media_settings, EvidenceLog())
    message = str(raised.value)
    assert "aiortc.rtcrtpsender.RTCRtpSender._RTCRtpSender__renamed_in_2027" in message
    assert "aiortc 1.16" in message and "pyproject.toml" in message


def test_a_missing_method_is_named_too(monkeypatch: pytest.MonkeyPatch) -> None:
    from aiortc import RTCRtpReceiver

    monkeypatch.delattr(RTCRtpReceiver, "_send_rtcp_pli")
    assert internals.missing() == ["aiortc.rtcrtpreceiver.RTCRtpReceiver._send_rtcp_pli"]


def _sessions() -> tuple[pylibsrtp.Session, pylibsrtp.Session]:
    key = os.urandom(30)
    tx = pylibsrtp.Policy(key=key, ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND)
    rx = pylibsrtp.Policy(key=key, ssrc_type=pylibsrtp.Policy.SSRC_ANY_INBOUND)
    return pylibsrtp.Session(tx), pylibsrtp.Session(rx)


def _rtp(sequence: int, payload_size: int) -> bytes:
    return struct.pack("!BBHII", 0x80, 111, sequence, 1000, 0x1234) + b"\xab" * payload_size


def test_srtp_size_guard_refuses_an_oversized_packet_and_keeps_going() -> None:
    tx, rx = _sessions()
    protector = internals.SrtpProtector(tx)
    assert protector.limit == 1500 - pylibsrtp.SRTP_MAX_TRAILER_LEN
    small, oversized, after = _rtp(1, 1000), _rtp(2, 1495 - 12), _rtp(3, 200)
    assert len(oversized) == 1495
    out = protector.protect([small, oversized, after])
    # The 1,495-byte packet is refused (it would have made libsrtp write past the buffer).
    assert protector.refused == 1
    assert [rx.unprotect(bytes(p)) for p in out] == [small, after]
    # pylibsrtp's own check agrees on the limit.
    with pytest.raises(ValueError):
        tx.protect(oversized)
    limit = _rtp(4, protector.limit - 12)
    assert rx.unprotect(bytes(protector.protect([limit])[0])) == limit


def test_audio_pass_through_forwards_in_order_without_waiting_for_gaps() -> None:
    from aiortc.rtp import RtpPacket

    buffer = internals.PassThrough()
    got = []
    for sequence in (10, 11, 13, 14, 12, 14, 15):  # 12 lost then late, 14 duplicated
        packet = RtpPacket(payload_type=111, sequence_number=sequence, timestamp=sequence * 960)
        packet._data = bytes([sequence])  # type: ignore[attr-defined]
        pli, frame = buffer.add(packet)
        assert pli is False
        if frame is not None:
            got.append(frame.data[0])
    assert got == [10, 11, 13, 14, 15]
