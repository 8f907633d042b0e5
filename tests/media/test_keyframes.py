"""Keyframes on a budget: a join costs one, after the viewer's DTLS; PLIs are shared."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiortc import RTCSessionDescription
from media_peers import connected, offer_of, publish, watch

from media import MediaHub
from media.feed import Feed


async def until(condition: Callable[[], bool], timeout: float = 10) -> None:
    """Wait (polling the relay's counters, which have no event) until ``condition`` holds."""

    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), timeout)


def video_feed(hub: MediaHub) -> Feed:
    publisher = next(iter(hub._publishers.values()))
    return next(f for f in publisher.feeds if f.kind == "video")


async def test_a_join_costs_one_keyframe_asked_for_once_dtls_is_up(hub: MediaHub) -> None:
    from aiortc import RTCPeerConnection

    publisher = await publish(hub, "s1")
    feed = video_feed(hub)
    pc = RTCPeerConnection()
    try:
        pc.addTransceiver("video", direction="recvonly")
        resource = await hub.subscribe("s1", 2, await offer_of(pc))
        frames = feed.frames
        await until(lambda: feed.frames >= frames + 10)  # frames pass, the viewer has no DTLS
        assert feed.plis_sent == 0
        await pc.setRemoteDescription(RTCSessionDescription(resource.answer_sdp, "answer"))
        await connected(pc)
        outlet = hub._viewers[resource.id].outlets["video"][0]
        await until(lambda: outlet.sent_packets > 0)
        frames = feed.frames
        await until(lambda: feed.frames >= frames + 45)  # 1.5 s more: a deferred PLI would be out
        assert feed.plis_sent == 1
    finally:
        await pc.close()
        await publisher.pc.close()


async def test_viewers_joining_together_share_keyframes(hub: MediaHub) -> None:
    publisher = await publish(hub, "s1")
    viewers = await asyncio.gather(*(watch(hub, "s1", user_id=10 + i) for i in range(4)))
    try:
        await asyncio.gather(*(v.frames(45) for v in viewers))
        assert 1 <= video_feed(hub).plis_sent <= 4
    finally:
        await asyncio.gather(*(v.close() for v in viewers))
        await publisher.pc.close()


async def test_one_viewer_flooding_plis_does_not_set_everyones_keyframe_rate(
    hub: MediaHub,
) -> None:
    publisher = await publish(hub, "s1")
    clean = await watch(hub, "s1", user_id=3)
    noisy = await watch(hub, "s1", user_id=4)
    try:
        await asyncio.gather(clean.frames(15), noisy.frames(15))
        feed = video_feed(hub)
        before = feed.plis_sent
        receiver: Any = next(t for t in noisy.pc.getTransceivers() if t.kind == "video").receiver
        ssrc = hub._viewers[noisy.resource_id].outlets["video"][0].ssrc
        # 30 real PLIs over the wire in 3 s (what a viewer that cannot decode would send).
        for _ in range(30):
            await receiver._send_rtcp_pli(ssrc)
            await clean.frames(3)
        # The per-viewer limit lets one through per 2 s (4 x the 0.5 s interval).
        assert feed.plis_sent - before <= 2
    finally:
        await clean.close()
        await noisy.close()
        await publisher.pc.close()
