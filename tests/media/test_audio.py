"""Audio is forwarded as it arrives: uplink loss stays uplink loss; Opus FEC is asked for."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

from media_peers import publish, watch

from media import MediaHub
from media.sdp import opus_fec

OFFERS = Path(__file__).parent / "offers"


def drop_outgoing(pc: Any, ssrc: int, every: int) -> list[int]:
    """Drop every ``every``-th RTP packet of ``ssrc`` the client sends; returns [sent, dropped]."""
    connection = pc.getTransceivers()[0].receiver.transport.transport._connection
    protocol = connection._nominated[1].protocol
    original = protocol.send_data
    counts = [0, 0]

    async def send(data: bytes, addr: Any) -> None:
        rtp = len(data) >= 12 and 128 <= data[0] < 192 and not 192 <= data[1] <= 223
        if rtp and struct.unpack_from("!I", data, 8)[0] == ssrc:
            counts[0] += 1
            if counts[0] % every == 0:
                counts[1] += 1
                return
        await original(data, addr)

    protocol.send_data = send
    return counts


async def test_uplink_audio_loss_is_not_amplified(hub: MediaHub) -> None:
    publisher = await publish(hub, "s1")
    viewer = await watch(hub, "s1")
    try:
        await viewer.frames(10)
        audio = next(t for t in publisher.pc.getTransceivers() if t.kind == "audio")
        feed = next(f for p in hub._publishers.values() for f in p.feeds if f.kind == "audio")
        counts = drop_outgoing(publisher.pc, audio.sender._ssrc, every=20)  # 5% uplink loss
        forwarded_before = feed.frames
        await viewer.frames(90)  # 3 s: ~150 audio packets
        in_flight = 3
        sent, dropped = counts
        forwarded = feed.frames - forwarded_before
        assert dropped >= 6
        # Every packet that arrived was forwarded: nothing queued ahead of a gap was thrown away.
        assert forwarded >= sent - dropped - in_flight
    finally:
        await viewer.close()
        await publisher.pc.close()


def test_answers_ask_for_opus_in_band_fec() -> None:
    answer = (
        "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111 63\r\n"
        "a=rtpmap:111 opus/48000/2\r\na=rtpmap:63 red/48000/2"
    )
    assert "a=fmtp:111 minptime=10;useinbandfec=1" in opus_fec(answer).split("\r\n")
    kept = opus_fec(answer + "\r\na=fmtp:111 minptime=10;useinbandfec=1")
    assert kept.count("useinbandfec") == 1
    assert "a=fmtp:111 stereo=1;useinbandfec=1" in opus_fec(answer + "\r\na=fmtp:111 stereo=1")


async def test_the_whip_answer_to_a_browser_carries_useinbandfec(hub: MediaHub) -> None:
    offer = (OFFERS / "chromium-publish.sdp").read_text()
    resource = await hub.publish("s1", 1, offer)
    assert "useinbandfec=1" in resource.answer_sdp
    await hub.stop(resource.id)
