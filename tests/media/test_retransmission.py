"""NACKs answered from each outlet's history: RTX where negotiated, else the packet again."""

from __future__ import annotations

import struct
from collections.abc import Callable
from itertools import pairwise
from typing import Any

from aiortc import RTCPeerConnection
from media_peers import connected, publish, watch

from media import MediaHub
from media.history import RING, Budget, SendHistory, SentFrame, may_resend
from media.outlet import Outlet


def drop_incoming(pc: RTCPeerConnection, drop: Callable[[bytes], bool]) -> list[int]:
    """Drop datagrams the client receives for which ``drop`` says so (before SRTP); counts them."""
    connection = pc.getTransceivers()[0].receiver.transport.transport._connection
    protocol: Any = connection._nominated[1].protocol
    original = protocol.datagram_received
    dropped = [0]

    def received(data: bytes, addr: Any) -> None:
        if drop(data):
            dropped[0] += 1
            return
        original(data, addr)

    protocol.datagram_received = received
    return dropped


def every_nth_first_time(ssrc: int, n: int) -> Callable[[bytes], bool]:
    """Drop every n-th RTP packet of ``ssrc`` the first time its sequence number is seen."""
    seen: set[int] = set()

    def drop(data: bytes) -> bool:
        if len(data) < 12 or not 128 <= data[0] < 192 or 192 <= data[1] <= 223:
            return False  # not RTP (RTCP, DTLS, STUN)
        sequence, _, packet_ssrc = struct.unpack_from("!HII", data, 2)
        if packet_ssrc != ssrc or sequence in seen:
            return False
        seen.add(sequence)
        return sequence % n == 0

    return drop


def video_outlet(hub: MediaHub, resource_id: str) -> Outlet:
    return hub._viewers[resource_id].outlets["video"][0]


async def lossy_viewer_sees_every_frame(hub: MediaHub, codecs: str | None) -> Outlet:
    publisher = await publish(hub, "s1")
    viewer = await watch(hub, "s1", codecs=codecs)
    try:
        await connected(viewer.pc)
        outlet = video_outlet(hub, viewer.resource_id)
        dropped = drop_incoming(viewer.pc, every_nth_first_time(outlet.ssrc, 5))
        await viewer.frames(15)
        start = len(viewer.numbers)
        await viewer.frames(90, timeout=15)
        numbers = viewer.numbers[start:]
        # 20% of the video packets lost on the way, yet every frame decoded, in order.
        assert dropped[0] >= 15
        assert all(b - a == 1 for a, b in pairwise(numbers)), numbers
        assert outlet.retransmitted >= dropped[0] - 3  # the last few may still be on their way
        assert outlet.unrepairable == 0 and outlet.over_budget == 0
        return outlet
    finally:
        await viewer.close()
        await publisher.pc.close()


async def test_nacks_are_answered_with_rtx(hub: MediaHub) -> None:
    outlet = await lossy_viewer_sees_every_frame(hub, None)
    assert outlet._rtx_types  # aiortc's viewer negotiated rtx: repairs went on the RTX stream


async def test_nacks_are_answered_with_the_packet_again_without_rtx(hub: MediaHub) -> None:
    outlet = await lossy_viewer_sees_every_frame(hub, "video/VP8")
    assert not outlet._rtx_types


def test_history_finds_packets_by_sequence_number_for_a_second() -> None:
    history = SendHistory(keep_s=1.0)
    history.add(SentFrame(65534, [b"a", b"b", b"c"], 9000, 96, sent_at=10.0))  # wraps at 2**16
    history.add(SentFrame(1, [b"d"], 12000, 96, sent_at=10.03))
    found = history.find(0, now=10.5)
    assert found is not None and found[0].payloads[found[1]] == b"c"
    assert history.find(2, now=10.5) is None  # never sent
    assert history.find(65535, now=11.2) is None  # older than a second
    # A slot reused by a later packet no longer answers for the old sequence number.
    history.add(SentFrame(1 + RING, [b"e"], 15000, 96, sent_at=10.6))
    assert history.find(1, now=10.7) is None


def test_a_packet_is_resent_once_per_guard_and_the_budget_caps_bytes() -> None:
    frame = SentFrame(0, [b"x"], 0, 96, sent_at=0.0)
    assert may_resend(frame, 0, 1.0)
    assert not may_resend(frame, 0, 1.01)  # a repeated NACK before the repair could arrive
    assert may_resend(frame, 0, 1.1)
    budget = Budget(rate=10_000, burst_s=0.1)  # 1,000-byte bursts, 10 kB/s
    assert budget.take(600, 0.0) and not budget.take(600, 0.0)
    assert budget.take(600, 0.03)  # 300 bytes came back in 30 ms
    spent = sum(1200 for t in range(100) if budget.take(1200, 0.1 + t * 0.01))
    assert spent <= 10_000 * 1.0 + 1000


def drop_outgoing(pc: RTCPeerConnection, drop: Callable[[bytes], bool]) -> None:
    """Drop datagrams a client sends for which ``drop`` says so."""
    connection = pc.getTransceivers()[0].receiver.transport.transport._connection
    protocol: Any = connection._nominated[1].protocol
    original = protocol.send_data

    async def send(data: bytes, addr: Any) -> None:
        if not drop(data):
            await original(data, addr)

    protocol.send_data = send


async def test_the_relay_nacks_the_publisher_again_when_a_repair_is_lost(hub: MediaHub) -> None:
    publisher = await publish(hub, "s1")
    viewer = await watch(hub, "s1")
    try:
        await viewer.frames(10)
        sender: Any = next(t for t in publisher.pc.getTransceivers() if t.kind == "video").sender
        media_ssrc, rtx_ssrc = sender._ssrc, sender._rtx_ssrc
        lost: dict[str, int] = {}

        def drop(data: bytes) -> bool:
            if len(data) < 12 or not 128 <= data[0] < 192 or 192 <= data[1] <= 223:
                return False
            ssrc = struct.unpack_from("!I", data, 8)[0]
            sequence = struct.unpack_from("!H", data, 2)[0]
            if ssrc == media_ssrc and "packet" not in lost:
                lost["packet"] = sequence
                return True
            # The publisher's first repair (RTX, or the same packet again) is lost too.
            repair = ssrc == rtx_ssrc or ssrc == media_ssrc and sequence == lost.get("packet")
            if repair and "packet" in lost and "repair" not in lost:
                lost["repair"] = sequence
                return True
            return False

        drop_outgoing(publisher.pc, drop)
        feed = next(f for f in hub._publishers[publisher.resource_id].feeds if f.kind == "video")
        start = len(viewer.numbers)
        # No further loss follows, so only the feed's own retry can bring the packet back.
        await viewer.frames(45, timeout=5)
        assert lost.keys() == {"packet", "repair"}
        assert feed.nack_retries >= 1
        numbers = viewer.numbers[start:]
        assert all(b - a == 1 for a, b in pairwise(numbers)), numbers
    finally:
        await viewer.close()
        await publisher.pc.close()
