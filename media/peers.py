"""Server-side peer connections: a publisher (WHIP resource) and a viewer (WHEP resource)."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Literal

from aiortc import MediaStreamTrack, RTCPeerConnection, RTCRtpTransceiver

from .feed import Feed
from .outlet import Outlet, Repair


class Publisher:
    """A WHIP resource: one peer connection whose tracks become feeds."""

    def __init__(
        self, resource_id: str, session_id: str, user_id: int, pc: RTCPeerConnection
    ) -> None:
        self.id = resource_id
        self.session_id = session_id
        self.user_id = user_id
        self.pc = pc
        self.feeds: list[Feed] = []
        self.live = False
        self.closing = False
        self.created_at = time.monotonic()

    def last_media_at(self) -> float:
        """When the most recent frame of any of its feeds arrived."""
        return max((feed.last_frame_at for feed in self.feeds), default=self.created_at)


class IdleTrack(MediaStreamTrack):
    """The sender's own track: never yields, so aiortc's per-viewer RTP loop stays asleep.

    (With no track at all ``RTCRtpSender`` polls every 20 ms, per viewer.)
    """

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self._never: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def recv(self) -> Any:
        """Wait until the sender is stopped."""
        await self._never

    def stop(self) -> None:
        """Release the waiting sender."""
        super().stop()
        if not self._never.done():
            self._never.cancel()


class Viewer:
    """A WHEP resource: one peer connection of sendonly m-lines, each fed by an outlet."""

    def __init__(
        self, resource_id: str, session_id: str, user_id: int, pc: RTCPeerConnection
    ) -> None:
        self.id = resource_id
        self.session_id = session_id
        self.user_id = user_id
        self.pc = pc
        self.outlets: dict[Literal["audio", "video"], list[Outlet]] = {"audio": [], "video": []}
        self.receiving = False
        self.connected = False
        self.closing = False
        self.created_at = time.monotonic()
        self.last_report_at: float | None = None
        self.last_progress_at: float | None = None
        self._highest: dict[int, int] = {}

    def add_outlet(
        self, transceiver: RTCRtpTransceiver, queue_bytes: int, repair: Repair | None = None
    ) -> Outlet:
        """Make ``transceiver`` a sendonly slot and watch the viewer's receiver reports on it."""
        transceiver.direction = "sendonly"
        transceiver.sender.replaceTrack(IdleTrack(transceiver.kind))
        outlet = Outlet(transceiver, queue_bytes, self._report, repair)
        kind: Literal["audio", "video"] = "audio" if transceiver.kind == "audio" else "video"
        self.outlets[kind].append(outlet)
        return outlet

    def note_report(self, ssrc: int, highest_sequence: int) -> bool:
        """Record a receiver report block; True when it shows new packets arrived."""
        now = time.monotonic()
        self.last_report_at = now
        if self._highest.get(ssrc) == highest_sequence:
            return False
        self._highest[ssrc] = highest_sequence
        self.last_progress_at = now
        return True

    def dropped_packets(self) -> int:
        """Packets this viewer's outlets dropped because its socket was backed up."""
        return sum(o.dropped_packets for outlets in self.outlets.values() for o in outlets)

    def all_outlets(self) -> list[Outlet]:
        """Every outlet, video first."""
        return self.outlets["video"] + self.outlets["audio"]

    def _report(self, ssrc: int, highest_sequence: int) -> None:
        if self.on_report is not None:
            self.on_report(self, ssrc, highest_sequence)

    # Set by the hub: called with each receiver report block for one of our streams.
    on_report: Any = None
