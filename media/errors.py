"""Media errors; ``server/errors.py`` maps them to HTTP statuses and acks."""

from __future__ import annotations


class MediaError(Exception):
    """Base of every error the media layer raises on purpose."""

    code = "media_error"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InvalidOffer(MediaError):
    """The SDP offer cannot be used (malformed, wrong direction, no usable codec)."""

    code = "invalid_offer"


class Full(MediaError):
    """This process already serves its maximum number of viewers."""

    code = "full"

    def __init__(self, reason: str, retry_after_s: int = 30) -> None:
        super().__init__(reason)
        self.retry_after_s = retry_after_s


class TooManyResources(MediaError):
    """This user already holds the most WHEP resources allowed in this session."""

    code = "too_many_resources"


class UnknownResource(MediaError):
    """No WHIP/WHEP resource with that id (already stopped, or never existed)."""

    code = "unknown_resource"


class SessionEnded(MediaError):
    """The session was ended; nobody can publish into it or watch it live any more."""

    code = "session_ended"
