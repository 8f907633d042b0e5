"""What viewers see of a session: values only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Status = Literal["idle", "live", "paused", "ended"]


@dataclass(frozen=True, slots=True)
class FeedInfo:
    """One published track and the viewer slot it plays in.

    ``slot`` is the index among the viewer's video (or audio) m-lines, in offer order:
    the same for every viewer, so one stage message serves them all.
    """

    slot: int
    kind: Literal["audio", "video"]
    user_id: int
    publisher_id: str
    screen: bool


@dataclass(frozen=True, slots=True)
class StageState:
    """``idle`` (nobody published yet), ``live``, ``paused`` (publishers gone) or ``ended``."""

    session_id: str
    status: Status
    feeds: tuple[FeedInfo, ...] = ()
    publishers: int = 0
    viewers: int = 0
    # Why the last publisher that tried failed to connect (e.g. its DTLS handshake).
    publish_error: str | None = None

    @property
    def live(self) -> bool:
        """Whether a publisher is on."""
        return self.status == "live"

    def to_json(self) -> dict[str, object]:
        """The stage message pages get (no viewer count: organizers read that elsewhere)."""
        return {
            "session": self.session_id,
            "status": self.status,
            "feeds": [
                {
                    "slot": f.slot,
                    "kind": f.kind,
                    "user_id": f.user_id,
                    "publisher": f.publisher_id,
                    "screen": f.screen,
                }
                for f in self.feeds
            ],
            "publish_error": self.publish_error,
        }


@dataclass(frozen=True, slots=True)
class SessionStats:
    """Live figures of one session for /metrics."""

    session_id: str
    publishers: int
    viewers: int
    receiving: int


@dataclass(frozen=True, slots=True)
class HubStats:
    """Live figures of the whole hub for /metrics."""

    sessions: tuple[SessionStats, ...]
    viewers: int
    publishers: int
    # Packets not sent to viewers whose socket was backed up, since the hub started.
    dropped_packets: int
