"""Sign-in rules: how long an account waits after wrong passwords (no transport, no storage)."""

from __future__ import annotations

import math

__all__ = ["retry_after", "signin_delay"]


def signin_delay(failures: int, free: int, max_s: float) -> float:
    """Seconds the next attempt must wait after ``failures`` wrong passwords in a row.

    The first ``free`` failures cost nothing; then the wait doubles (1, 2, 4 ... s) up to
    ``max_s``. A growing delay, not a lock: guessing is slowed to one try per ``max_s`` while the
    owner, who fails a few times at most, is never shut out for longer than ``max_s``.
    """
    if failures < free:
        return 0.0
    return float(min(max_s, 2 ** min(failures - free, 62)))


def retry_after(failures: int, last_at: float, now: float, free: int, max_s: float) -> int:
    """Whole seconds until the next attempt is allowed (0: allowed now)."""
    wait = last_at + signin_delay(failures, free, max_s) - now
    return max(0, math.ceil(wait)) if failures >= free else 0
