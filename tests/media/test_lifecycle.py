"""Stage states, resources and evidence over a session's life, with real peers."""

from __future__ import annotations

import asyncio
import dataclasses
from itertools import pairwise

import pytest
from media_peers import EvidenceLog, client_socket, connected, publish, watch

from media import Full, MediaHub, MediaSettings, SessionEnded, UnknownResource


async def test_stop_ends_a_viewer_and_reports_it_stopped(
    hub: MediaHub, evidence: EvidenceLog
) -> None:
    publisher = await publish(hub, "s1")
    viewer = await watch(hub, "s1", user_id=7)
    try:
        await evidence.wait_event("viewer_started", viewer.resource_id)
        assert hub.describe(viewer.resource_id).user_id == 7
        closed = asyncio.Event()
        viewer.pc.on(
            "connectionstatechange", lambda: viewer.pc.connectionState == "closed" and closed.set()
        )
        await hub.stop(viewer.resource_id)
        stopped = await evidence.wait_event("viewer_stopped", viewer.resource_id)
        assert (stopped.session_id, stopped.user_id) == ("s1", 7)
        await asyncio.wait_for(closed.wait(), 5)
        with pytest.raises(UnknownResource):
            await hub.stop(viewer.resource_id)
        with pytest.raises(UnknownResource):
            hub.describe(viewer.resource_id)
        assert hub.stats().viewers == 0
    finally:
        await viewer.close()
        await publisher.pc.close()


async def test_stop_ends_a_publisher_and_viewers_see_paused(
    hub: MediaHub, evidence: EvidenceLog
) -> None:
    publisher = await publish(hub, "s1", user_id=3)
    viewer = await watch(hub, "s1")
    try:
        await viewer.frames(5)
        assert hub.stage("s1").live
        mark = len(evidence.stages)
        await hub.stop(publisher.resource_id)
        state = await evidence.wait_stage("s1", "paused", after=mark)
        assert state.feeds == () and state.publishers == 0
        await evidence.wait_event("publisher_stopped", publisher.resource_id)
        await evidence.wait_event("viewer_stopped", viewer.resource_id)
    finally:
        await viewer.close()
        await publisher.pc.close()


async def test_viewer_waits_while_idle_and_recovers_after_publisher_returns(
    hub: MediaHub, evidence: EvidenceLog
) -> None:
    viewer = await watch(hub, "s1")
    first = second = None
    try:
        await connected(viewer.pc)
        assert hub.stage("s1").status == "idle"
        assert not any(e.what == "viewer_started" for e in evidence.events)
        first = await publish(hub, "s1")
        await viewer.frames(10)
        await evidence.wait_event("viewer_started", viewer.resource_id)
        mark = len(evidence.stages)
        await first.pc.close()  # the publisher drops without a DELETE
        await evidence.wait_stage("s1", "paused", after=mark)
        await evidence.wait_event("viewer_stopped", viewer.resource_id)
        second = await publish(hub, "s1")
        seen = len(viewer.numbers)
        await viewer.frames(20)
        resumed = viewer.numbers[seen:]
        if resumed[0] > resumed[1]:
            # The client's jitter buffer released the old stream's last frame first.
            resumed = resumed[1:]
        assert resumed[0] < 30, "frames should come from the returning publisher's new stream"
        assert all(b > a for a, b in pairwise(resumed))
        assert hub.stage("s1").live
    finally:
        await viewer.close()
        for client in (first, second):
            if client is not None:
                await client.pc.close()


async def test_publisher_that_vanishes_is_dropped_after_the_timeout(
    hub: MediaHub, evidence: EvidenceLog
) -> None:
    publisher = await publish(hub, "s1")
    try:
        await evidence.wait_event("publisher_started", publisher.resource_id)
        client_socket(publisher.pc).close()  # network gone: no BYE, no DTLS close
        await evidence.wait_event("publisher_stopped", publisher.resource_id, timeout=6)
        assert hub.stage("s1").status == "paused"
    finally:
        await publisher.pc.close()


async def test_viewer_that_vanishes_is_reported_stopped_and_removed(
    hub: MediaHub, evidence: EvidenceLog
) -> None:
    publisher = await publish(hub, "s1")
    viewer = await watch(hub, "s1")
    try:
        await evidence.wait_event("viewer_started", viewer.resource_id)
        client_socket(viewer.pc).close()
        await evidence.wait_event("viewer_stopped", viewer.resource_id, timeout=6)

        async def gone() -> None:
            while hub.stats().viewers:
                await asyncio.sleep(0.1)

        await asyncio.wait_for(gone(), 6)
    finally:
        await viewer.close()
        await publisher.pc.close()


async def test_end_session_shows_ended_and_refuses_newcomers(
    hub: MediaHub, evidence: EvidenceLog
) -> None:
    publisher = await publish(hub, "s1")
    viewer = await watch(hub, "s1")
    try:
        await evidence.wait_event("viewer_started", viewer.resource_id)
        await hub.end_session("s1")
        await evidence.wait_stage("s1", "ended")
        await evidence.wait_event("viewer_stopped", viewer.resource_id)
        await evidence.wait_event("publisher_stopped", publisher.resource_id)
        assert hub.stage("s1").status == "ended"
        assert hub.stats().viewers == 0 and hub.stats().publishers == 0
        with pytest.raises(SessionEnded):
            await publish(hub, "s1")
        with pytest.raises(SessionEnded):
            await watch(hub, "s1")
    finally:
        await viewer.close()
        await publisher.pc.close()


async def test_viewer_beyond_the_limit_gets_full(
    media_settings: MediaSettings, evidence: EvidenceLog
) -> None:
    hub = MediaHub(dataclasses.replace(media_settings, max_viewers=1, retry_after_s=12), evidence)
    viewer = await watch(hub, "s1")
    try:
        await connected(viewer.pc)  # only connected viewers hold capacity
        with pytest.raises(Full) as raised:
            await watch(hub, "s1")
        assert raised.value.retry_after_s == 12
        assert hub.stats().viewers == 1
    finally:
        await viewer.close()
        await hub.close()


async def test_panel_viewers_see_every_publisher_in_its_slot(
    hub: MediaHub, evidence: EvidenceLog
) -> None:
    first = await publish(hub, "panel", user_id=1)
    second = await publish(hub, "panel", user_id=2, audio=False)
    viewer = await watch(hub, "panel", slots=2)
    try:
        await viewer.frames(20)

        async def second_slot() -> None:
            while viewer.slot_frames.get(1, 0) < 20:
                await asyncio.sleep(0.05)

        await asyncio.wait_for(second_slot(), 5)
        state = hub.stage("panel")
        video = {f.slot: f.user_id for f in state.feeds if f.kind == "video"}
        assert video == {0: 1, 1: 2}
        assert [f.user_id for f in state.feeds if f.kind == "audio"] == [1]
        assert state.publishers == 2 and state.viewers == 1
        assert state.to_json()["status"] == "live"
    finally:
        await viewer.close()
        await first.pc.close()
        await second.pc.close()


async def test_a_publisher_that_never_connects_is_dropped_and_shown_on_the_stage(
    media_settings: MediaSettings, evidence: EvidenceLog
) -> None:
    from aiortc import RTCPeerConnection
    from media_peers import offer_of

    hub = MediaHub(dataclasses.replace(media_settings, pending_timeout_s=1.0), evidence)
    hub.on_stage_change(evidence.stage)
    pc = RTCPeerConnection()
    try:
        pc.addTransceiver("video", direction="sendonly")
        resource = await hub.publish("s1", 1, await offer_of(pc))  # the answer is never used
        state = await evidence.wait_stage("s1", "idle", timeout=10)  # the only stage change
        assert state.publish_error is not None
        assert state.publish_error.startswith("ICE failed") and "within 1 s" in state.publish_error
        with pytest.raises(UnknownResource):
            hub.describe(resource.id)
    finally:
        await pc.close()
        await hub.close()
