"""Settings of the media layer, built by ``server/`` from its own settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class IceServer:
    """A STUN or TURN server as the W3C ``RTCIceServer`` dictionary names it.

    ``secret`` marks a TURN server using coturn's REST API scheme
    (``use-auth-secret``): clients get ephemeral credentials from
    :func:`media.turn_credentials`, never the secret itself.
    """

    urls: tuple[str, ...]
    username: str | None = None
    credential: str | None = None
    secret: str | None = None


@dataclass(frozen=True, slots=True)
class MediaSettings:
    """Everything ``MediaHub`` needs; defaults suit one process on a public host."""

    # Host addresses to gather ICE candidates on; () = every non-loopback interface.
    ice_addresses: tuple[str, ...] = ()
    # Address announced instead of the gathered host address (server behind 1:1 NAT).
    ice_announce: str | None = None
    ice_servers: tuple[IceServer, ...] = ()
    # Viewers per process; one more gets media.Full (HTTP 503 + Retry-After).
    max_viewers: int = 500
    retry_after_s: int = 30
    # One .mkv per published track when set.
    recordings_dir: Path | None = None
    # At most one PLI upstream per published track per interval.
    keyframe_min_interval_s: float = 0.5
    # Bytes a viewer's socket may hold unsent before its frames are dropped.
    viewer_queue_bytes: int = 512 * 1024
    # A viewer whose receiver reports stop advancing this long stops "receiving".
    receiver_report_timeout_s: float = 5.0
    # A viewer with no RTCP at all this long (after some) is gone: its resource closes.
    viewer_gone_timeout_s: float = 10.0
    # A publisher sending no media this long is dropped (stage goes "paused").
    publisher_timeout_s: float = 5.0
    # How often liveness is checked.
    watchdog_interval_s: float = 0.5
    # WHEP resources one user may hold in one session; one more gets media.TooManyResources.
    max_viewers_per_user: int = 3
    # A viewer (or publisher) whose peer connection has not connected this long is dropped;
    # until it connects it does not count against max_viewers.
    pending_timeout_s: float = 10.0
    # Networks (CIDR) the server may send ICE checks to; () = any unicast address.
    ice_remote_networks: tuple[str, ...] = ()
    # How much of what each outlet sent is kept to answer NACKs.
    retransmit_history_s: float = 1.0
    # Bytes per second of retransmissions one viewer may get per stream.
    retransmit_budget_bytes_s: int = 256 * 1024
