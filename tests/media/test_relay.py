"""The relay with real aiortc peers on loopback."""

from __future__ import annotations

import asyncio
from itertools import pairwise

from media_peers import EvidenceLog, client_socket, publish, watch

from media import MediaHub


def assert_in_order(numbers: list[int]) -> None:
    steps = [b - a for a, b in pairwise(numbers)]
    assert all(step > 0 for step in steps), f"out of order or repeated: {numbers}"


async def test_pattern_arrives_in_order_on_every_viewer(
    hub: MediaHub, evidence: EvidenceLog
) -> None:
    publisher = await publish(hub, "s1")
    viewers = [await watch(hub, "s1", user_id=10 + i) for i in range(3)]
    try:
        await asyncio.gather(*(v.frames(60) for v in viewers))
        for viewer in viewers:
            assert_in_order(viewer.numbers)
            # Forwarding drops nothing on loopback: consecutive numbers after the first keyframe.
            assert viewer.numbers[-1] - viewer.numbers[0] == len(viewer.numbers) - 1
            assert viewer.audio_frames > 0 and viewer.audio_peak > 2000
            await evidence.wait_event("viewer_started", viewer.resource_id)
    finally:
        for viewer in viewers:
            await viewer.close()
        await publisher.pc.close()


async def test_late_joiner_gets_a_picture_within_one_second(hub: MediaHub) -> None:
    publisher = await publish(hub, "s1")
    first = await watch(hub, "s1")
    await first.frames(45)  # well past the publisher's first keyframe
    loop = asyncio.get_running_loop()
    started = loop.time()
    late = await watch(hub, "s1")
    try:
        await late.frames(1, timeout=1.0)
        assert loop.time() - started < 1.0
        await late.frames(10)
        assert_in_order(late.numbers)
        assert late.numbers[0] > first.numbers[0] + 40
    finally:
        await late.close()
        await first.close()
        await publisher.pc.close()


async def test_stalled_viewer_does_not_delay_the_others_and_is_reported_stopped(
    hub: MediaHub, evidence: EvidenceLog
) -> None:
    publisher = await publish(hub, "s1")
    stalled = await watch(hub, "s1", user_id=5)
    healthy = await watch(hub, "s1", user_id=6)
    try:
        await asyncio.gather(stalled.frames(15), healthy.frames(15))
        await evidence.wait_event("viewer_started", stalled.resource_id)
        client_socket(stalled.pc).pause_reading()
        mark = len(healthy.numbers)
        await evidence.wait_event("viewer_stopped", stalled.resource_id, timeout=8)
        await healthy.frames(30)
        numbers = healthy.numbers[mark:]
        assert numbers[-1] - numbers[0] == len(numbers) - 1, "the healthy viewer lost frames"
        gaps = [b - a for a, b in pairwise(healthy.arrivals[mark:])]
        assert max(gaps) < 0.5
        assert not any(
            e.what == "viewer_stopped" and e.resource_id == healthy.resource_id
            for e in evidence.events
        )
    finally:
        await stalled.close()
        await healthy.close()
        await publisher.pc.close()
