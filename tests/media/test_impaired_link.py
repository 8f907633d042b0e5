"""A viewer behind a lossy, delayed link keeps watching, and costs the others nothing.

The link is tests/media/netlab.py: network namespaces, veth pairs and a userspace
bridge that drops 2% of the packets each way and delays them 25 ms each way (50 ms
RTT). Short on purpose (a few seconds); tests/bench/impaired_link.py has the table.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from itertools import pairwise

import pytest
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from media_peers import EvidenceLog, ViewerClient, connected, count_video, publish, watch
from netlab import NetLab, without_candidates

from media import MediaHub, MediaSettings
from media.feed import Feed


@pytest.fixture
async def lab_hub(
    netlab: NetLab, media_settings: MediaSettings
) -> AsyncIterator[tuple[NetLab, MediaHub]]:
    with netlab.inside(netlab.srv):
        settings = dataclasses.replace(media_settings, ice_addresses=(netlab.server_ip,))
        hub = MediaHub(settings, EvidenceLog())
        try:
            yield netlab, hub
        finally:
            await hub.close()
            await netlab.stop_bridge()


async def impaired_viewer(lab: NetLab, hub: MediaHub, session: str) -> ViewerClient:
    """An aiortc viewer in the viewer namespace, reaching the relay only through the bridge."""
    with lab.inside(lab.view):
        pc = RTCPeerConnection()
        pc.addTransceiver("video", direction="recvonly")
        pc.addTransceiver("audio", direction="recvonly")
        offer = await pc.createOffer()
        await pc.setLocalDescription(offer)  # gathers on the viewer's veth
    viewer = ViewerClient(pc, "")

    @pc.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        if track.kind == "video":
            viewer.tasks.append(asyncio.ensure_future(count_video(viewer, track)))

    resource = await hub.subscribe(session, 9, without_candidates(pc.localDescription.sdp))
    viewer.resource_id = resource.id
    answer = await lab.route_answer(resource.answer_sdp)
    await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
    return viewer


def video_feed(hub: MediaHub) -> Feed:
    publisher = next(iter(hub._publishers.values()))
    return next(f for f in publisher.feeds if f.kind == "video")


async def test_two_percent_loss_and_50ms_rtt_keeps_decoding_without_extra_keyframes(
    lab_hub: tuple[NetLab, MediaHub],
) -> None:
    lab, hub = lab_hub
    await lab.start_bridge(loss=0.02, delay_ms=25, seed=7)
    with lab.inside(lab.srv):
        here = (lab.server_ip,)
        publisher = await publish(hub, "s1", addresses=here)
        clean = await watch(hub, "s1", user_id=3, addresses=here)
        lossy = await impaired_viewer(lab, hub, "s1")
        try:
            await connected(lossy.pc)
            await clean.frames(10)
            await lossy.frames(10)
            feed = video_feed(hub)
            outlet = hub._viewers[lossy.resource_id].outlets["video"][0]
            keyframes, clean_start, lossy_start = (
                feed.keyframes,
                len(clean.numbers),
                len(lossy.numbers),
            )
            await clean.frames(120, timeout=20)  # 4 s at 30 fps
            clean_frames = len(clean.numbers) - clean_start
            lossy_frames = len(lossy.numbers) - lossy_start
            # The lossy viewer decodes (nearly) every frame the clean one does, in order.
            assert lossy_frames >= 0.9 * clean_frames, (lossy_frames, clean_frames)
            numbers = lossy.numbers[lossy_start:]
            assert sum(1 for a, b in pairwise(numbers) if b - a != 1) <= 2
            assert outlet.retransmitted > 0
            # The clean viewer saw no keyframe beyond what the lossy one may cost (one).
            assert feed.keyframes - keyframes <= 1
        finally:
            await lossy.close()
            await clean.close()
            await publisher.pc.close()
    await lab.stop_bridge()
    assert lab.counts["down"]["dropped"] > 0
