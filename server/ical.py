"""A learner's agenda as iCalendar (RFC 5545), values in and values out.

What the file follows, by section of RFC 5545 ("Internet Calendaring and Scheduling Core Object
Specification (iCalendar)", September 2009):

- §3.1 content lines end in CRLF and are folded so that no line is longer than 75 octets
  (excluding the line break): the continuation starts with one space; a fold never splits a
  UTF-8 multi-octet character.
- §3.3.5 DATE-TIME in UTC form (``19980119T070000Z``), so no VTIMEZONE is needed.
- §3.3.11 TEXT escapes backslash, semicolon, comma and newline (``\\\\``, ``\\;``, ``\\,``, ``\\n``).
- §3.6 / §3.6.1 a VCALENDAR with VERSION and PRODID (§3.7.3, §3.7.4), one VEVENT per session.
- §3.8.4.7 UID (globally unique: session id @ conference id) and §3.8.7.2 DTSTAMP (required in
  a VEVENT; the moment the file was made, in UTC).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = ["Event", "calendar", "escape_text", "fold", "utc_stamp"]

PRODID = "-//Rounds//Conference agenda//EN"


@dataclass(frozen=True, slots=True)
class Event:
    uid: str
    start: datetime
    end: datetime
    summary: str
    description: str = ""
    location: str = ""
    url: str = ""


def utc_stamp(value: datetime) -> str:
    """RFC 5545 §3.3.5 form #2, UTC: ``20260314T150000Z``."""
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def escape_text(value: str) -> str:
    """RFC 5545 §3.3.11 TEXT."""
    value = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return value.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n")


def fold(line: str) -> str:
    """RFC 5545 §3.1: at most 75 octets a line, continuations start with a space, CRLF ends each."""
    out: list[str] = []
    current, size = "", 0
    limit = 75
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > limit:
            out.append(current)
            current, size = " ", 1  # the leading space counts towards the next line's 75
        current += char
        size += width
    out.append(current)
    return "\r\n".join(out) + "\r\n"


def calendar(events: Iterable[Event], name: str, now: datetime) -> str:
    """The VCALENDAR text of ``events``."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODID}", "CALSCALE:GREGORIAN", "METHOD:PUBLISH",
             f"X-WR-CALNAME:{escape_text(name)}"]
    stamp = utc_stamp(now)
    for event in events:
        lines += ["BEGIN:VEVENT", f"UID:{event.uid}", f"DTSTAMP:{stamp}", f"DTSTART:{utc_stamp(event.start)}",
                  f"DTEND:{utc_stamp(event.end)}", f"SUMMARY:{escape_text(event.summary)}"]
        if event.description:
            lines.append(f"DESCRIPTION:{escape_text(event.description)}")
        if event.location:
            lines.append(f"LOCATION:{escape_text(event.location)}")
        if event.url:
            lines.append(f"URL:{event.url}")
        lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    return "".join(fold(line) for line in lines)
