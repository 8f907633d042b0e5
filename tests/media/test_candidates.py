"""Remote ICE candidates: malformed ones ignored, a few per m= line, only allowed addresses."""

from __future__ import annotations

import dataclasses
import logging

import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from media_peers import EvidenceLog, connected, offer_of

from media import MediaHub, MediaSettings, internals
from media.ice import remote_address_filter
from media.sdp import MAX_CANDIDATES, candidate_ok, sift_candidates, usable_address

BAD = [
    "1 1 udp 2122260223 127.0.0.1 0 typ host",  # port 0
    "2 1 udp 2122260223 127.0.0.1 70000 typ host",  # port past 65535
    "3 1 udp 2122260223 127.0.0.1 -5 typ host",
    "4 1 udp 2122260223 0.0.0.0 5000 typ host",
    "5 1 udp 2122260223 224.0.0.251 5353 typ host",
    "6 1 udp 2122260223 255.255.255.255 5000 typ host",
    "7 1 udp 2122260223 ::ffff:127.0.0.1 5000 typ host",
    "8 1 udp 2122260223 not-an-address 5000 typ host",
    "9 1 tcp 2122260223 127.0.0.1 9 typ host tcptype active",
    "10 2 udp 2122260223 127.0.0.1 5001 typ host",  # RTCP component: muxed in WebRTC
    "11 1 udp 99999999999 127.0.0.1 5000 typ host",
    "12 1 udp 1 127.0.0.1 5000 typ nonsense",
    "13 1 udp 1 127.0.0.1 5000 typ srflx raddr 0.0.0.0 rport 99999",
    "garbage",
]


@pytest.mark.parametrize("value", BAD)
def test_malformed_candidates_are_refused(value: str) -> None:
    assert not candidate_ok(value, usable_address)


def test_well_formed_candidates_pass() -> None:
    assert candidate_ok("1 1 udp 2122260223 192.0.2.7 50000 typ host generation 0", usable_address)
    assert candidate_ok("1 1 UDP 1 2001:db8::1 1 typ relay raddr 192.0.2.1 rport 3", usable_address)
    assert candidate_ok(
        "1 1 udp 1 1f4712db-ea17-4bcf-a596-105139dfd8bf.local 5 typ host", usable_address
    )


def test_at_most_a_few_per_media_line_and_only_allowed_networks() -> None:
    allow = remote_address_filter((), ("192.0.2.0/24",))
    lines = [f"a=candidate:{i} 1 udp 1 192.0.2.{i} {4000 + i} typ host" for i in range(20)]
    lines.append("a=candidate:99 1 udp 1 198.51.100.1 4000 typ host")
    sdp = "\r\n".join(["v=0", "m=video 9 UDP/TLS/RTP/SAVPF 96", *lines, "m=audio 9 x 111", *lines])
    kept = [line for line in sift_candidates(sdp, allow).split("\r\n") if "candidate" in line]
    assert len(kept) == 2 * MAX_CANDIDATES
    assert not any("198.51.100.1" in line for line in kept)
    assert not remote_address_filter(("127.0.0.1",), ())("192.0.2.1")  # loopback-only server
    assert remote_address_filter(("127.0.0.1",), ())("127.0.0.1")


async def test_hostile_candidates_are_never_checked_and_the_viewer_still_connects(
    media_settings: MediaSettings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    hub = MediaHub(
        dataclasses.replace(media_settings, ice_remote_networks=("127.0.0.0/8",)), EvidenceLog()
    )
    pc = RTCPeerConnection()
    try:
        pc.addTransceiver("video", direction="recvonly")
        offer = await offer_of(pc)
        extra = "".join(f"a=candidate:{value}\r\n" for value in BAD)
        extra += "".join(
            f"a=candidate:x{i} 1 udp 2122260223 127.0.0.{i + 2} {40000 + i} typ host\r\n"
            for i in range(12)
        )
        hostile = offer.replace("a=candidate:", extra + "a=candidate:", 1)
        assert extra in hostile
        resource = await hub.subscribe("s1", 2, hostile)
        viewer = hub._viewers[resource.id]
        remote = [
            c
            for connection in internals.ice_connections(viewer.pc)
            for c in connection._remote_candidates
        ]
        assert 0 < len(remote) <= MAX_CANDIDATES
        assert all(1 <= c.port <= 65535 and c.host.startswith("127.") for c in remote)
        await pc.setRemoteDescription(RTCSessionDescription(resource.answer_sdp, "answer"))
        await connected(pc)
    finally:
        await pc.close()
        await hub.close()
    assert "Fatal write error" not in caplog.text
    assert "Traceback" not in caplog.text
