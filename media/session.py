"""A session's stage bookkeeping, and the values the hub hands to ``server/``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from .feed import Feed
from .peers import Publisher, Viewer
from .stage import FeedInfo, StageState

StageListener = Callable[[StageState], Awaitable[None]]


class Evidence(Protocol):
    """Viewing evidence the media layer reports; ``server/`` implements it (attendance)."""

    async def viewer_started(self, session_id: str, viewer_id: str, user_id: int) -> None: ...
    async def viewer_stopped(self, session_id: str, viewer_id: str, user_id: int) -> None: ...
    async def publisher_started(self, session_id: str, publisher_id: str, user_id: int) -> None: ...
    async def publisher_stopped(self, session_id: str, publisher_id: str, user_id: int) -> None: ...


@dataclass(frozen=True, slots=True)
class Resource:
    """A created WHIP/WHEP resource: its id (for the Location header) and the SDP answer."""

    id: str
    answer_sdp: str


@dataclass(frozen=True, slots=True)
class ResourceInfo:
    """Who owns a resource, so ``server/`` can authorize its DELETE."""

    id: str
    session_id: str
    user_id: int
    kind: Literal["publisher", "viewer"]


class Session:
    """One session's publishers, viewers and feed slots."""

    def __init__(self, session_id: str) -> None:
        self.id = session_id
        self.ended = False
        self.was_live = False
        # Why the last publisher that tried could not connect (cleared when one goes live).
        self.last_error: str | None = None
        self.publishers: dict[str, Publisher] = {}
        self.viewers: dict[str, Viewer] = {}
        self.slots: dict[str, dict[int, tuple[Feed, Publisher]]] = {"audio": {}, "video": {}}

    def state(self) -> StageState:
        live = [p for p in self.publishers.values() if p.live]
        status: Literal["idle", "live", "paused", "ended"]
        if self.ended:
            status = "ended"
        elif live:
            status = "live"
        else:
            status = "paused" if self.was_live else "idle"
        feeds = tuple(
            FeedInfo(slot, feed.kind, publisher.user_id, publisher.id, feed.screen)
            for kind in ("video", "audio")
            for slot, (feed, publisher) in sorted(self.slots[kind].items())
        )
        return StageState(self.id, status, feeds, len(live), len(self.viewers), self.last_error)
