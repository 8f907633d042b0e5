"""Live captions (CART) as WebVTT cues: timing a live caption, writing and reading WebVTT.

Plain rules, values in and values out. The format is the W3C's "WebVTT: The Web Video Text
Tracks Format" (Candidate Recommendation, 10 May 2018, https://www.w3.org/TR/webvtt1/):
§4.1 "WebVTT file structure" (the ``WEBVTT`` signature, blocks separated by blank lines, cue
timings ``[hh:]mm:ss.ttt --> [hh:]mm:ss.ttt`` with minutes and seconds 00-59) and §4.2 "cue
text" (``&`` and ``<`` written as character references; no ``-->`` and no blank line inside a
cue). Cue times are relative to the session's scheduled start, so the file lines up with the
session's recording timeline.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from .errors import BadRequest

__all__ = [
    "MAX_CUES",
    "MAX_CUE_TEXT",
    "Cue",
    "live_cue",
    "parse_vtt",
    "timestamp",
    "to_vtt",
    "visible_cues",
]  # fmt: skip

MAX_CUE_TEXT = 500  # characters of one caption
MAX_CUES = 20_000  # cues in an uploaded file (about 12 hours of live captions)
_MIN_MS, _MAX_MS, _MS_PER_WORD = 1_500, 6_000, 400  # how long a live caption stays up


@dataclass(frozen=True, slots=True)
class Cue:
    """One caption: shown from ``start_ms`` to ``end_ms`` after the session's start."""

    start_ms: int
    end_ms: int
    text: str

    def json(self) -> dict[str, object]:
        return {"start_ms": self.start_ms, "end_ms": self.end_ms, "text": self.text}


def clean_text(text: object) -> str:
    """A caption's text: lines trimmed, blank lines dropped; refuses empty or overlong text."""
    if not isinstance(text, str):
        raise BadRequest("a caption needs text", field="text")
    lines = [" ".join(line.split()) for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    cleaned = "\n".join(line for line in lines if line)
    if not cleaned:
        raise BadRequest("a caption needs text", field="text")
    if len(cleaned) > MAX_CUE_TEXT:
        raise BadRequest(f"a caption has at most {MAX_CUE_TEXT} characters", field="text")
    return cleaned


def live_cue(text: object, now: datetime, session_start: datetime) -> Cue:
    """The cue for a caption sent at ``now``: it starts then and stays up for its reading time."""
    cleaned = clean_text(text)
    start = max(0, int((now - session_start).total_seconds() * 1000))
    duration = min(_MAX_MS, max(_MIN_MS, _MS_PER_WORD * len(cleaned.split())))
    return Cue(start, start + duration, cleaned)


def visible_cues(cues: list[Cue]) -> list[Cue]:
    """Cues in start order, each ending no later than the next one starts (one caption at a time)."""
    ordered = sorted(cues, key=lambda c: (c.start_ms, c.end_ms))
    out = []
    for i, cue in enumerate(ordered):
        end = cue.end_ms
        if i + 1 < len(ordered) and ordered[i + 1].start_ms > cue.start_ms:
            end = min(end, ordered[i + 1].start_ms)
        out.append(Cue(cue.start_ms, end, cue.text))
    return out


def timestamp(ms: int) -> str:
    """A WebVTT timestamp with hours always present: ``01:02:03.004``."""
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&nbsp;", "\u00a0").replace("&amp;", "&")


def to_vtt(cues: list[Cue], title: str = "") -> str:
    """A WebVTT file of ``cues`` (numbered 1..n), LF line endings, UTF-8 text."""
    header = "WEBVTT" + (f" - {' '.join(title.split()).replace('-->', '->')}" if title.strip() else "")
    blocks = [header]
    for n, cue in enumerate(visible_cues(cues), 1):
        blocks.append(f"{n}\n{timestamp(cue.start_ms)} --> {timestamp(cue.end_ms)}\n{_escape(cue.text)}")
    return "\n\n".join(blocks) + "\n"


_TS = r"(?:(\d{2,}):)?([0-5]\d):([0-5]\d)\.(\d{3})"
_TIMING = re.compile(rf"^{_TS}[ \t]+-->[ \t]+{_TS}(?:[ \t]+.*)?$")
_TAG = re.compile(r"</?[^>\s]*[^>]*>")


def _ms(hours: str | None, minutes: str, seconds: str, millis: str) -> int:
    return ((int(hours or 0) * 60 + int(minutes)) * 60 + int(seconds)) * 1000 + int(millis)


def parse_vtt(text: str) -> list[Cue]:
    """The cues of a WebVTT file; refuses a malformed one with the line at fault.

    Cue identifiers and settings are accepted and dropped, NOTE, STYLE and REGION blocks skipped,
    markup tags (``<v Speaker>``, ``<i>``) removed from the text: captions are shown as text.
    """
    text = text.removeprefix("\ufeff")
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    first = lines[0]
    if not (first == "WEBVTT" or (first.startswith("WEBVTT") and first[6] in " \t")):
        raise BadRequest("not a WebVTT file: the first line must be WEBVTT", field="file", line=1)
    cues: list[Cue] = []
    i = 1
    while i < len(lines) and lines[i] != "":  # the rest of the header block
        if "-->" in lines[i]:
            raise BadRequest(f"line {i + 1}: a blank line must follow the WEBVTT line", field="file", line=i + 1)
        i += 1
    while i < len(lines):
        if lines[i] == "":
            i += 1
            continue
        start = i
        block = []
        while i < len(lines) and lines[i] != "":
            block.append(lines[i])
            i += 1
        if block[0].split(" ", 1)[0].split("\t", 1)[0] in ("NOTE", "STYLE", "REGION") and "-->" not in block[0]:
            continue
        at = 0 if "-->" in block[0] else 1  # an optional cue identifier line
        if at >= len(block) or not (timing := _TIMING.match(block[at])):
            raise BadRequest(f"line {start + at + 1}: expected cue timings like 00:00:01.000 --> 00:00:04.000",
                             field="file", line=start + at + 1)
        begin, end = _ms(*timing.groups()[:4]), _ms(*timing.groups()[4:])
        if end <= begin:
            raise BadRequest(f"line {start + at + 1}: a cue must end after it starts", field="file",
                             line=start + at + 1)
        body = [_unescape(_TAG.sub("", line)).strip() for line in block[at + 1:]]
        if any("-->" in line for line in block[at + 1:]):
            raise BadRequest(f"line {start + at + 2}: cue text may not contain -->", field="file",
                             line=start + at + 2)
        cue_text = "\n".join(line for line in body if line)
        if cue_text:
            cues.append(Cue(begin, end, cue_text[:MAX_CUE_TEXT]))
        if len(cues) > MAX_CUES:
            raise BadRequest(f"a caption file has at most {MAX_CUES} cues", field="file")
    return cues
