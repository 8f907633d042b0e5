"""The conference clock: wall time, optionally run faster for demos and tests."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

__all__ = ["Clock"]


@dataclass(slots=True)
class Clock:
    """Conference time = origin + (wall time since start) x scale (``ROUNDS_TIME_SCALE``).

    With scale 1 the conference clock is the wall clock.
    """

    scale: float = 1.0
    _wall0: float = field(default_factory=time.time)
    _mono0: float = field(default_factory=time.monotonic)

    def now(self) -> datetime:
        """The current conference time (UTC, aware)."""
        elapsed = (time.monotonic() - self._mono0) * self.scale
        return datetime.fromtimestamp(self._wall0, UTC) + timedelta(seconds=elapsed)

    def advance(self, seconds: float) -> None:
        """Move conference time forward (demos and tests skip ahead; wall time is untouched)."""
        self._wall0 += seconds

    def timestamp(self) -> float:
        """The current conference time as POSIX seconds."""
        return self._wall0 + (time.monotonic() - self._mono0) * self.scale
