"""Recording: each published track's forwarded frames muxed into .mkv, no re-encoding."""

from __future__ import annotations

import fractions
import logging
import queue
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import av

logger = logging.getLogger(__name__)

_CODEC_NAMES = {"VP8": "vp8", "H264": "h264", "opus": "opus"}
_NAME = re.compile(
    r"^(?P<stamp>\d{8}T\d{6}Z)-(?P<publisher>[\w-]+)-(?P<track>\d+)-(?P<kind>audio|video)\.mkv$"
)
_SAFE = re.compile(r"^[\w-]{1,128}$", re.ASCII)
# The session's captions, kept beside its recordings when its stage ends (WebVTT).
CAPTIONS_NAME = "captions.vtt"
# Frames waiting for the disk before the recorder starts dropping them.
_QUEUE_FRAMES = 600


@dataclass(frozen=True, slots=True)
class Recording:
    """A recorded track on disk."""

    session_id: str
    publisher_id: str
    kind: str
    path: Path
    size: int
    started_at: datetime


def recording_path(
    root: Path, session_id: str, publisher_id: str, track: int, kind: str, now: datetime
) -> Path:
    """Where a track recording goes: ``<root>/<session>/<UTC start>-<publisher>-<n>-<kind>.mkv``.

    Characters other than letters, digits, ``_`` and ``-`` in the ids become ``_``.
    """
    session_id, publisher_id = _safe(session_id), _safe(publisher_id)
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return root / session_id / f"{stamp}-{publisher_id}-{track}-{kind}.mkv"


def captions_path(root: Path, session_id: str) -> Path:
    """Where a session's captions go beside its recordings: ``<root>/<session>/captions.vtt``."""
    return root / _safe(session_id) / CAPTIONS_NAME


def _safe(name: str) -> str:
    return re.sub(r"[^\w-]", "_", name, flags=re.ASCII)[:128] or "_"


def list_recordings(root: Path, session_id: str | None = None) -> tuple[Recording, ...]:
    """Recordings under ``root``, oldest first, optionally of one session."""
    if not root.is_dir():
        return ()
    found = []
    folders = [root / _safe(session_id)] if session_id is not None else sorted(root.iterdir())
    for folder in folders:
        if not folder.is_dir() or not _SAFE.match(folder.name):
            continue
        for path in folder.iterdir():
            if path.name == CAPTIONS_NAME and path.is_file():
                stat = path.stat()
                when = datetime.fromtimestamp(stat.st_mtime, UTC)
                found.append(Recording(folder.name, "", "captions", path, stat.st_size, when))
                continue
            match = _NAME.match(path.name)
            if match is None or not path.is_file():
                continue
            started = datetime.strptime(match["stamp"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            found.append(
                Recording(
                    folder.name,
                    match["publisher"],
                    match["kind"],
                    path,
                    path.stat().st_size,
                    started,
                )
            )
    return tuple(sorted(found, key=lambda r: (r.started_at, r.path.name)))


class Recorder:
    """Writes one track's encoded frames to a Matroska file on a thread of its own.

    The event loop only enqueues; a slow disk drops frames here, never stalls viewers.
    """

    def __init__(self, path: Path, codec: str, clock_rate: int) -> None:
        self.path = path
        self.dropped_frames = 0
        self._codec = _CODEC_NAMES[codec]
        self._time_base = fractions.Fraction(1, clock_rate)
        self._queue: queue.Queue[tuple[bytes, int, bool] | None] = queue.Queue(_QUEUE_FRAMES)
        self._thread = threading.Thread(target=self._run, name=f"record-{path.name}", daemon=True)
        self._started = False
        self._closed = False

    def write(self, data: bytes, timestamp: int, keyframe: bool) -> None:
        """Queue one frame (``timestamp`` in the codec's clock); video starts at a keyframe."""
        if self._closed:
            return
        if not self._started:
            if not keyframe:
                return
            self._started = True
            self._thread.start()
        try:
            self._queue.put_nowait((data, timestamp, keyframe))
        except queue.Full:
            self.dropped_frames += 1

    def close(self) -> None:
        """Finish the file; blocks until the writer thread has flushed it."""
        if self._closed:
            return
        self._closed = True
        if self._started:
            self._queue.put(None)
            self._thread.join()

    def _run(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with av.open(str(self.path), "w", format="matroska") as container:
                stream = container.add_stream(self._codec)
                stream.time_base = self._time_base
                last = -1
                while (item := self._queue.get()) is not None:
                    data, timestamp, keyframe = item
                    # Matroska needs increasing timestamps; a publisher's clock may repeat.
                    timestamp = max(timestamp, last + 1)
                    last = timestamp
                    packet = av.Packet(data)
                    packet.pts = packet.dts = timestamp
                    packet.time_base = self._time_base
                    packet.is_keyframe = keyframe
                    packet.stream = stream
                    container.mux(packet)
        except Exception:  # a broken disk must not take the relay down
            logger.exception("recording %s failed", self.path)
            while self._queue.get() is not None:
                pass
