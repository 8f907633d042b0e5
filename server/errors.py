"""The Rounds error tree, and the one place that turns errors into HTTP and Socket.IO answers."""

from __future__ import annotations

from typing import Any

__all__ = [
    "BadRequest",
    "Conflict",
    "CsrfFailed",
    "DisclosureRequired",
    "EmailUnverified",
    "HistoryRewrite",
    "NotAllowed",
    "NotAuthenticated",
    "NotFound",
    "RateLimited",
    "RequestTimeout",
    "RoundsError",
    "TooLarge",
    "Unavailable",
    "UnknownEvent",
    "error_ack",
    "error_body",
]


class RoundsError(Exception):
    """Base of every error a user may see; ``code`` is stable, the message is for humans."""

    status = 500
    code = "internal"

    def __init__(self, reason: str = "", **extra: Any) -> None:
        super().__init__(reason or self.code.replace("_", " "))
        self.reason = reason or self.code.replace("_", " ")
        self.extra = extra


class BadRequest(RoundsError):
    status = 400
    code = "bad_request"


class UnknownEvent(BadRequest):
    code = "unknown_event"


class NotAuthenticated(RoundsError):
    status = 401
    code = "not_authenticated"


class NotAllowed(RoundsError):
    status = 403
    code = "not_allowed"


class CsrfFailed(NotAllowed):
    code = "csrf"


class DisclosureRequired(NotAllowed):
    """An accredited session's current disclosure is not acknowledged yet (ACCME Standard 3:
    learners see it before they engage), so nothing the learner does there counts or is accepted."""

    code = "disclosure_required"


class EmailUnverified(NotAllowed):
    code = "email_unverified"


class NotFound(RoundsError):
    status = 404
    code = "not_found"


class Conflict(RoundsError):
    status = 409
    code = "conflict"


class HistoryRewrite(Conflict):
    """An import would change sessions that already have evidence or claims (use --amend)."""

    code = "history_rewrite"


class RequestTimeout(RoundsError):
    status = 408
    code = "request_timeout"


class TooLarge(RoundsError):
    status = 413
    code = "too_large"


class RateLimited(RoundsError):
    status = 429
    code = "rate_limited"


class Unavailable(RoundsError):
    """Temporarily unable to serve (full, or a dependency down); ``retry_after`` in seconds."""

    status = 503
    code = "unavailable"


def error_body(exc: RoundsError) -> dict[str, Any]:
    """The JSON body of an HTTP error answer."""
    return {"error": exc.code, "reason": exc.reason, **exc.extra}


def error_ack(exc: RoundsError) -> dict[str, Any]:
    """The acknowledgement of a refused Socket.IO call."""
    return {"ok": False, "error": exc.code, "reason": exc.reason, **exc.extra}
