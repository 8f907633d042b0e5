"""The media layer: WebRTC publishing (WHIP), watching (WHEP), the relay and recording.

This is the only module ``server/`` imports from ``media``.
"""

from .errors import (
    Full,
    InvalidOffer,
    MediaError,
    SessionEnded,
    TooManyResources,
    UnknownResource,
)
from .hub import MediaHub
from .internals import Incompatible
from .recorder import Recording, captions_path, list_recordings
from .session import Evidence, Resource, ResourceInfo, StageListener
from .settings import IceServer, MediaSettings
from .stage import FeedInfo, HubStats, SessionStats, StageState, Status
from .turn import turn_credentials

__all__ = [
    "Evidence",
    "FeedInfo",
    "Full",
    "HubStats",
    "IceServer",
    "Incompatible",
    "InvalidOffer",
    "MediaError",
    "MediaHub",
    "MediaSettings",
    "Recording",
    "Resource",
    "ResourceInfo",
    "SessionEnded",
    "SessionStats",
    "StageListener",
    "StageState",
    "Status",
    "TooManyResources",
    "UnknownResource",
    "captions_path",
    "list_recordings",
    "turn_credentials",
]
