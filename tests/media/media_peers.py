"""Real aiortc client peers for the media tests: a patterned publisher and counting viewers."""

from __future__ import annotations

import asyncio
import fractions
import math
import time
from dataclasses import dataclass, field

import av
from aiortc import (
    MediaStreamTrack,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
    VideoStreamTrack,
)
from aiortc.mediastreams import MediaStreamError

from media import MediaHub, StageState
from media.ice import restrict_host_addresses

WIDTH, HEIGHT = 320, 240
BITS = 12
_BLOCK = WIDTH // BITS
_DARK, _LIGHT = 16, 235


class PatternTrack(VideoStreamTrack):
    """Video whose frame n shows n as BITS black/white bars, so order can be checked."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = pattern_frame(self.count)
        self.count += 1
        frame.pts, frame.time_base = pts, time_base
        return frame


def pattern_frame(number: int) -> av.VideoFrame:
    """A frame showing ``number`` (mod 2**BITS) as bars, most significant bit left."""
    frame = av.VideoFrame(WIDTH, HEIGHT, "yuv420p")
    luma = frame.planes[0]
    row = bytearray(luma.line_size)
    for bit in range(BITS):
        value = _LIGHT if number >> (BITS - 1 - bit) & 1 else _DARK
        row[bit * _BLOCK : (bit + 1) * _BLOCK] = bytes([value]) * _BLOCK
    luma.update(bytes(row) * HEIGHT)
    for chroma in frame.planes[1:]:
        chroma.update(b"\x80" * chroma.buffer_size)
    return frame


def read_pattern(frame: av.VideoFrame) -> int:
    """The number a received pattern frame shows."""
    if frame.format.name != "yuv420p" or frame.width != WIDTH:
        frame = frame.reformat(width=WIDTH, height=HEIGHT, format="yuv420p")
    luma = frame.planes[0]
    data = bytes(luma)
    y = HEIGHT // 2
    number = 0
    for bit in range(BITS):
        x = bit * _BLOCK + _BLOCK // 2
        number = number << 1 | (data[y * luma.line_size + x] > 128)
    return number


class ToneTrack(MediaStreamTrack):
    """A 440 Hz tone, 20 ms frames of 48 kHz mono s16, paced in real time."""

    kind = "audio"
    _SAMPLES = 960

    def __init__(self) -> None:
        super().__init__()
        self._sent = 0
        self._start: float | None = None

    async def recv(self) -> av.AudioFrame:
        if self._start is None:
            self._start = time.monotonic()
        await asyncio.sleep(max(0.0, self._start + self._sent * 0.02 - time.monotonic()))
        first = self._sent * self._SAMPLES
        data = b"".join(
            int(8000 * math.sin(2 * math.pi * 440 * (first + i) / 48000)).to_bytes(
                2, "little", signed=True
            )
            for i in range(self._SAMPLES)
        )
        frame = av.AudioFrame(format="s16", layout="mono", samples=self._SAMPLES)
        frame.planes[0].update(data)
        frame.sample_rate = 48000
        frame.pts, frame.time_base = first, fractions.Fraction(1, 48000)
        self._sent += 1
        return frame


def prefer(pc: RTCPeerConnection, codec: str) -> None:
    """Offer only ``codec`` (e.g. "video/H264") on the video transceivers."""
    caps = RTCRtpSender.getCapabilities("video")
    chosen = [c for c in caps.codecs if c.mimeType == codec]
    for transceiver in pc.getTransceivers():
        if transceiver.kind == "video":
            transceiver.setCodecPreferences(chosen)


async def offer_of(pc: RTCPeerConnection, addresses: tuple[str, ...] = ("127.0.0.1",)) -> str:
    """Create and set the local offer, gathering on ``addresses`` only (loopback by default)."""
    offer = await pc.createOffer()
    restrict_host_addresses(pc, addresses)
    await pc.setLocalDescription(offer)
    return pc.localDescription.sdp


async def connected(pc: RTCPeerConnection, timeout: float = 10) -> None:
    """Wait until the peer connection is connected."""
    done = asyncio.Event()

    def check() -> None:
        if pc.connectionState == "connected":
            done.set()

    pc.on("connectionstatechange", check)
    check()
    await asyncio.wait_for(done.wait(), timeout)


@dataclass
class PublisherClient:
    pc: RTCPeerConnection
    video: PatternTrack
    resource_id: str


async def publish(
    hub: MediaHub,
    session_id: str,
    user_id: int = 1,
    codec: str = "video/VP8",
    audio: bool = True,
    addresses: tuple[str, ...] = ("127.0.0.1",),
) -> PublisherClient:
    """Publish a pattern video (and a tone) into ``session_id`` from a real aiortc peer."""
    pc = RTCPeerConnection()
    video = PatternTrack()
    pc.addTransceiver(video, direction="sendonly")
    if audio:
        pc.addTransceiver(ToneTrack(), direction="sendonly")
    prefer(pc, codec)
    try:
        resource = await hub.publish(session_id, user_id, await offer_of(pc, addresses))
    except BaseException:
        await pc.close()
        raise
    await pc.setRemoteDescription(RTCSessionDescription(resource.answer_sdp, "answer"))
    await connected(pc)
    return PublisherClient(pc, video, resource.id)


@dataclass
class ViewerClient:
    """A watching peer that decodes its first video slot and records the pattern numbers."""

    pc: RTCPeerConnection
    resource_id: str
    numbers: list[int] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)
    audio_frames: int = 0
    slot_frames: dict[int, int] = field(default_factory=dict)
    audio_peak: int = 0
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _waiters: list[tuple[int, asyncio.Future[None]]] = field(default_factory=list)

    async def frames(self, count: int, timeout: float = 10) -> None:
        """Wait until ``count`` more video frames have arrived."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((len(self.numbers) + count, future))
        await asyncio.wait_for(future, timeout)

    def _arrived(self, number: int) -> None:
        self.numbers.append(number)
        self.arrivals.append(time.monotonic())
        for want, future in list(self._waiters):
            if len(self.numbers) >= want and not future.done():
                future.set_result(None)
                self._waiters.remove((want, future))

    async def close(self) -> None:
        await self.pc.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def watch(
    hub: MediaHub,
    session_id: str,
    user_id: int = 2,
    slots: int = 1,
    codecs: str | None = None,
    addresses: tuple[str, ...] = ("127.0.0.1",),
) -> ViewerClient:
    """Subscribe with ``slots`` recvonly video+audio pairs and start counting."""
    pc = RTCPeerConnection()
    for _ in range(slots):
        pc.addTransceiver("video", direction="recvonly")
    for _ in range(slots):
        pc.addTransceiver("audio", direction="recvonly")
    if codecs is not None:
        prefer(pc, codecs)
    viewer = ViewerClient(pc, "")

    @pc.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        videos = [t.receiver.track for t in pc.getTransceivers() if t.kind == "video"]
        if track.kind == "video" and track is videos[0]:
            viewer.tasks.append(asyncio.ensure_future(count_video(viewer, track)))
        elif track.kind == "video":
            viewer.tasks.append(
                asyncio.ensure_future(_count_slot(viewer, track, videos.index(track)))
            )
        elif track.kind == "audio" and not any(t.get_name() == "audio" for t in viewer.tasks):
            viewer.tasks.append(
                asyncio.ensure_future(
                    _count_audio(viewer, track),
                )
            )
            viewer.tasks[-1].set_name("audio")

    try:
        resource = await hub.subscribe(session_id, user_id, await offer_of(pc, addresses))
    except BaseException:
        await pc.close()
        raise
    viewer.resource_id = resource.id
    await pc.setRemoteDescription(RTCSessionDescription(resource.answer_sdp, "answer"))
    return viewer


async def count_video(viewer: ViewerClient, track: MediaStreamTrack) -> None:
    try:
        while True:
            frame = await track.recv()
            assert isinstance(frame, av.VideoFrame)
            viewer._arrived(read_pattern(frame))
    except MediaStreamError:
        pass


async def _count_slot(viewer: ViewerClient, track: MediaStreamTrack, slot: int) -> None:
    try:
        while True:
            await track.recv()
            viewer.slot_frames[slot] = viewer.slot_frames.get(slot, 0) + 1
    except MediaStreamError:
        pass


def client_socket(pc: RTCPeerConnection) -> asyncio.DatagramTransport:
    """The UDP socket transport a client peer connection's media flows through."""
    connection = pc.getTransceivers()[0].receiver.transport.transport._connection
    return connection._nominated[1].protocol.transport


async def _count_audio(viewer: ViewerClient, track: MediaStreamTrack) -> None:
    try:
        while True:
            frame = await track.recv()
            assert isinstance(frame, av.AudioFrame)
            viewer.audio_frames += 1
            data = bytes(frame.planes[0])
            peak = max(
                abs(int.from_bytes(data[i : i + 2], "little", signed=True))
                for i in range(0, min(len(data), 400), 2)
            )
            viewer.audio_peak = max(viewer.audio_peak, peak)
    except MediaStreamError:
        pass


@dataclass(frozen=True, slots=True)
class Event:
    what: str
    session_id: str
    resource_id: str
    user_id: int


class EvidenceLog:
    """An Evidence implementation that keeps what it was told and lets tests await it."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.stages: list[StageState] = []
        self._changed = asyncio.Condition()

    async def _add(self, what: str, session_id: str, resource_id: str, user_id: int) -> None:
        async with self._changed:
            self.events.append(Event(what, session_id, resource_id, user_id))
            self._changed.notify_all()

    async def viewer_started(self, session_id: str, viewer_id: str, user_id: int) -> None:
        await self._add("viewer_started", session_id, viewer_id, user_id)

    async def viewer_stopped(self, session_id: str, viewer_id: str, user_id: int) -> None:
        await self._add("viewer_stopped", session_id, viewer_id, user_id)

    async def publisher_started(self, session_id: str, publisher_id: str, user_id: int) -> None:
        await self._add("publisher_started", session_id, publisher_id, user_id)

    async def publisher_stopped(self, session_id: str, publisher_id: str, user_id: int) -> None:
        await self._add("publisher_stopped", session_id, publisher_id, user_id)

    async def stage(self, state: StageState) -> None:
        async with self._changed:
            self.stages.append(state)
            self._changed.notify_all()

    async def wait_event(self, what: str, resource_id: str, timeout: float = 10) -> Event:
        """Wait for an event about one resource."""

        def find() -> Event | None:
            return next(
                (e for e in self.events if e.what == what and e.resource_id == resource_id), None
            )

        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: find() is not None), timeout)
        found = find()
        assert found is not None
        return found

    async def wait_stage(
        self, session_id: str, status: str, after: int = 0, timeout: float = 10
    ) -> StageState:
        """Wait for a stage message with ``status``, among those after index ``after``."""

        def find() -> StageState | None:
            return next(
                (
                    s
                    for s in self.stages[after:]
                    if s.session_id == session_id and s.status == status
                ),
                None,
            )

        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: find() is not None), timeout)
        found = find()
        assert found is not None
        return found
