"""Offer checks, announced addresses and TURN credentials."""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path

import pytest

from media import InvalidOffer, turn_credentials
from media.sdp import announce, read_offer

OFFERS = Path(__file__).parent / "offers"


def sample(name: str) -> str:
    """A stored offer, CRLF line ends intact."""
    return (OFFERS / f"{name}.sdp").read_bytes().decode()


@pytest.mark.parametrize("name", ["aiortc-publish", "chromium-publish", "obs-publish"])
def test_real_publish_offers_are_accepted_for_publishing_only(name: str) -> None:
    text = sample(name)
    offer = read_offer(text, "publish")
    assert {t.kind for t in offer.tracks} == {"audio", "video"}
    with pytest.raises(InvalidOffer, match="direction must be"):
        read_offer(text, "subscribe")


@pytest.mark.parametrize("name", ["aiortc-subscribe", "chromium-subscribe"])
def test_real_subscribe_offers_are_accepted_for_watching_only(name: str) -> None:
    text = sample(name)
    assert read_offer(text, "subscribe").tracks
    with pytest.raises(InvalidOffer):
        read_offer(text, "publish")


def test_screen_share_is_marked_by_content_slides() -> None:
    text = sample("chromium-publish")
    video = text.index("m=video")
    end = text.index("\r\n", video) + 2
    marked = text[:end] + "a=content:slides\r\n" + text[end:]
    tracks = read_offer(marked, "publish").tracks
    assert [(t.kind, t.screen) for t in tracks] == [("audio", False), ("video", True)]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "must be an SDP offer"),
        ("hello", "starts with 'v=0'"),
        ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n", "no m= line"),
        ("v=0\r\nm=video x RTP/SAVPF 96\r\n", "cannot be parsed"),
    ],
)
def test_malformed_offers_are_refused_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(InvalidOffer, match=reason):
        read_offer(text, "publish")


def test_offer_without_supported_codec_is_refused() -> None:
    text = sample("obs-publish").replace("H264/90000", "AV1/90000")
    with pytest.raises(InvalidOffer, match="no supported codec"):
        read_offer(text, "publish")


def test_offer_without_ice_credentials_is_refused() -> None:
    text = sample("obs-publish").replace("a=ice-pwd:3kwJ7FiE+6ZWuE8cX5f0Qe\r\n", "")
    with pytest.raises(InvalidOffer, match="ice-pwd"):
        read_offer(text, "publish")


def test_announce_rewrites_host_candidates_and_connection_lines() -> None:
    answer = "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 127.0.0.1\r\na=candidate:abc 1 udp 2130706431 127.0.0.1 40000 typ host\r\na=candidate:def 1 udp 1694498815 198.51.100.1 40001 typ srflx raddr 127.0.0.1 rport 40000\r\n"
    rewritten = announce(answer, "203.0.113.7")
    assert "a=candidate:abc 1 udp 2130706431 203.0.113.7 40000 typ host" in rewritten
    assert "c=IN IP4 203.0.113.7" in rewritten
    assert "198.51.100.1 40001 typ srflx" in rewritten


def test_turn_credentials_follow_the_coturn_rest_scheme() -> None:
    username, credential = turn_credentials("s3cret", "user42", 3600, 1_700_000_000.9)
    assert username == "1700003600:user42"
    expected = hmac.new(b"s3cret", b"1700003600:user42", hashlib.sha1).digest()
    assert base64.b64decode(credential) == expected
    # computed with: printf 1700003600:user42 | openssl dgst -sha1 -hmac s3cret -binary | base64
    assert credential == "LfNTgs8yFlhZRzKiBE0DOvzR2rk="


def test_turn_credentials_refuse_a_bad_ttl_or_user() -> None:
    with pytest.raises(ValueError):
        turn_credentials("s", "u", 0, 0)
    with pytest.raises(ValueError):
        turn_credentials("s", "a:b", 60, 0)


async def test_loopback_only_server_ignores_the_peers_other_interfaces() -> None:
    """With ice_addresses on loopback, no connectivity check leaves loopback."""
    from aiortc import RTCPeerConnection, RTCSessionDescription

    from media.ice import restrict_host_addresses
    from tests.media.media_peers import offer_of

    client, server = RTCPeerConnection(), RTCPeerConnection()
    try:
        client.addTransceiver("video", direction="recvonly")
        offer = await offer_of(client)
        extra = "a=candidate:9 1 udp 2122260223 192.0.2.77 50000 typ host\r\n"
        mangled = offer.replace("a=end-of-candidates\r\n", extra + "a=end-of-candidates\r\n", 1)
        if extra not in mangled:  # no end-of-candidates line: add after the first candidate
            mangled = offer.replace("a=candidate:", extra + "a=candidate:", 1)
        await server.setRemoteDescription(RTCSessionDescription(mangled, "offer"))
        connection = server.getTransceivers()[0].receiver.transport.transport.iceGatherer._connection
        assert any(c.host == "192.0.2.77" for c in connection._remote_candidates)
        restrict_host_addresses(server, ("127.0.0.1",))
        hosts = {c.host for c in connection._remote_candidates}
        assert hosts and all(h in ("127.0.0.1", "::1") for h in hosts)
    finally:
        await client.close()
        await server.close()
