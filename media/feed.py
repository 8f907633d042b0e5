"""A published track: taps the receiver's reassembled frames and fans them out."""

from __future__ import annotations

import asyncio
import logging
import queue
import random
import time
from typing import TYPE_CHECKING, Literal

from aiortc import RTCRtpReceiver, clock
from aiortc.jitterbuffer import JitterFrame
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from . import internals
from .outlet import Forwarded
from .recorder import Recorder
from .rtp import Packetizer, abs_send_time, is_keyframe

if TYPE_CHECKING:
    from .outlet import Outlet

logger = logging.getLogger(__name__)

# aiortc's receiver NACKs a lost packet once, when the gap appears; a lost repair then
# waits for the next gap. The feed asks again every NACK_RETRY_S, at most NACK_RETRIES times.
NACK_RETRY_S = 0.06
NACK_RETRIES = 4
_NACK_TICK_S = 0.02


class FrameTap(internals.FrameSink):
    """Stands in for an ``RTCRtpReceiver``'s decoder queue: frames go to the relay, undecoded.

    The receiver's idle decoder thread just waits here for the ``None`` that stops it.
    """

    def __init__(self, feed: Feed) -> None:
        self._feed = feed
        self._end: queue.SimpleQueue[None] = queue.SimpleQueue()

    def put(self, item: tuple[RTCRtpCodecParameters, JitterFrame] | None) -> None:
        """Called by the receiver on the event loop with each frame, or None to stop."""
        if item is None:
            self._end.put(None)
        else:
            self._feed.on_frame(*item)

    def get(self) -> None:
        """Called by the receiver's idle decoder thread."""
        return self._end.get()


class Feed:
    """One audio or video track of a publisher, relayed to attached outlets."""

    def __init__(
        self,
        feed_id: str,
        kind: Literal["audio", "video"],
        screen: bool,
        receiver: RTCRtpReceiver,
        keyframe_min_interval_s: float,
        recorder: Recorder | None = None,
    ) -> None:
        self.id = feed_id
        self.kind = kind
        self.screen = screen
        self.slot = -1
        self.outlets: set[Outlet] = set()
        self.frames = 0
        # PLIs sent to the publisher, and keyframes that came through.
        self.plis_sent = 0
        self.keyframes = 0
        self.last_frame_at = time.monotonic()
        self.codec: str | None = None
        self._receiver = receiver
        self._interval = keyframe_min_interval_s
        self._recorder = recorder
        self._packetizer: Packetizer | None = None
        self._last_request = -float("inf")
        self._deferred: asyncio.TimerHandle | None = None
        self._outstanding = False
        self.nack_retries = 0
        self._missing: dict[int, tuple[float, int]] = {}
        self._nack_timer: asyncio.TimerHandle | None = None
        if kind == "video":
            self._nack_timer = asyncio.get_running_loop().call_later(
                _NACK_TICK_S, self._retry_nacks
            )
        self._tasks: set[asyncio.Task[None]] = set()
        internals.tap_frames(receiver, FrameTap(self))
        if kind == "audio":
            internals.forward_audio_unbuffered(receiver)

    def on_frame(self, codec: RTCRtpCodecParameters, frame: JitterFrame) -> None:
        """Packetize one reassembled frame once and hand it to every outlet."""
        name = codec.name
        data = frame.data
        if self._packetizer is None or self._packetizer.codec != name:
            self._packetizer = Packetizer(name, random.randrange(1 << 15))
            self.codec = name
        payloads = self._packetizer.payloads(data)
        if not payloads:
            return
        keyframe = is_keyframe(name, data)
        if keyframe and self.kind == "video":
            self.keyframes += 1
            # Whatever was asked for has come: nobody needs the deferred request any more.
            self._outstanding = False
            if self._deferred is not None:
                self._deferred.cancel()
                self._deferred = None
        ntp = clock.current_ntp_time()
        forwarded = Forwarded(
            name,
            payloads,
            frame.timestamp,
            keyframe,
            abs_send_time(ntp),
            ntp,
            codec.clockRate,
            len(data),
        )
        self.frames += 1
        self.last_frame_at = time.monotonic()
        for outlet in tuple(self.outlets):
            outlet.deliver(forwarded)
        if self._recorder is not None:
            self._recorder.write(data, frame.timestamp, keyframe)

    @property
    def keyframe_interval(self) -> float:
        """The feed's keyframe budget: at most one PLI upstream per this many seconds."""
        return self._interval

    def request_keyframe(self) -> None:
        """Ask the publisher for a keyframe (PLI), within the feed's keyframe budget.

        Shared by every viewer: at most one PLI per interval; none while one is on its
        way (until a keyframe arrives, or two intervals pass in case the PLI was lost);
        a deferred one is cancelled when a keyframe comes through first.
        """
        if self.kind != "video" or self._deferred is not None:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        if self._outstanding and now - self._last_request < 2 * self._interval:
            return
        wait = self._last_request + self._interval - now
        if wait > 0:
            # Coalesce: one request goes out when the interval has passed.
            self._deferred = loop.call_later(wait, self._send_pli)
        else:
            self._send_pli()

    def _send_pli(self) -> None:
        self._deferred = None
        self._last_request = asyncio.get_running_loop().time()
        self._outstanding = True
        self.plis_sent += 1
        rtx = internals.rtx_ssrcs(self._receiver)
        for source in self._receiver.getSynchronizationSources():
            if source.source not in rtx:
                task = asyncio.ensure_future(internals.send_pli(self._receiver, source.source))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    def _retry_nacks(self) -> None:
        """NACK again what the publisher's repairs have not brought yet (see NACK_RETRY_S)."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        missing = internals.missing_packets(self._receiver)
        known = self._missing
        for sequence in [s for s in known if s not in missing]:
            del known[sequence]
        due = []
        for sequence in missing:
            entry = known.get(sequence)
            if entry is None:
                known[sequence] = (now, 0)  # just NACKed by the receiver itself
                continue
            first, tries = entry
            if tries < NACK_RETRIES and now - first >= NACK_RETRY_S * (tries + 1):
                known[sequence] = (first, tries + 1)
                due.append(sequence)
        if due:
            self.nack_retries += len(due)
            rtx = internals.rtx_ssrcs(self._receiver)
            for source in self._receiver.getSynchronizationSources():
                if source.source not in rtx:
                    task = asyncio.ensure_future(
                        internals.send_nack(self._receiver, source.source, sorted(due))
                    )
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
        self._nack_timer = loop.call_later(_NACK_TICK_S, self._retry_nacks)

    async def close(self) -> None:
        """Detach outlets, cancel pending requests and finish the recording."""
        if self._nack_timer is not None:
            self._nack_timer.cancel()
            self._nack_timer = None
        if self._deferred is not None:
            self._deferred.cancel()
            self._deferred = None
        for outlet in tuple(self.outlets):
            outlet.attach(None)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._recorder is not None:
            await asyncio.to_thread(self._recorder.close)
