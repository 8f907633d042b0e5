"""The exhibit hall's rules: what booth staff may see of a visitor, leads, analytics (pure).

Nothing that identifies a visitor (name, email, user id) reaches a booth's staff unless the
visitor shared it with that booth: staff see a per-booth pseudonym instead, an HMAC of the
server's secret, the booth and the user id, so it is stable, differs from booth to booth and
cannot be turned back into a user id without the secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import statistics
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, unquote

from .accounts import User
from .authz import Action, allowed
from .catalogue import Booth
from .errors import BadRequest
from .reports.table import csv_text

__all__ = [
    "FIELDS", "MAX_TEXT", "Analytics", "ChatMessage", "HourCount", "Lead", "Thread", "Visit",
    "analytics", "analytics_json", "booth_json", "content_disposition", "hall_key", "is_staff", "lead_csv", "lead_json",
    "message_json", "parse_fields", "pseudonym", "safe_filename", "sorted_booths", "upload_type", "visitor_hash",
    "visitor_label",
]  # fmt: skip

# What a visitor can choose to share with a booth; name and email are always offered.
FIELDS = ("name", "email", "profession", "organisation")
MAX_TEXT = 1000
TIERS = ("platinum", "gold", "silver", "bronze", "society")

# Uploaded resources: type by extension, confirmed by the file's first bytes. No HTML, SVG or
# anything else a browser might render as a page from our origin.
_UPLOAD_TYPES: dict[str, tuple[str, tuple[bytes, ...]]] = {
    ".pdf": ("application/pdf", (b"%PDF-",)),
    ".png": ("image/png", (b"\x89PNG\r\n\x1a\n",)),
    ".jpg": ("image/jpeg", (b"\xff\xd8\xff",)),
    ".jpeg": ("image/jpeg", (b"\xff\xd8\xff",)),
    ".txt": ("text/plain; charset=utf-8", ()),
    ".csv": ("text/csv; charset=utf-8", ()),
}
_MARKUP = re.compile(rb"<\s*(html|script|svg|!doctype|body|iframe)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Lead:
    """What one visitor chose to share with one booth, as it was when they shared it."""

    id: int
    booth: str
    user_id: int
    fields: tuple[str, ...]
    name: str
    email: str
    profession: str
    organisation: str
    shared_at: datetime

    def value(self, name: str) -> str | None:
        """The shared value of a field, or None if the visitor did not share it."""
        return str(getattr(self, name)) if name in self.fields else None


@dataclass(frozen=True, slots=True)
class ChatMessage:
    id: int
    booth: str
    thread: int | None  # None: the booth's public chat
    author_id: int
    from_staff: bool
    staff_name: str  # staff are named to visitors; empty for visitors' messages
    text: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Thread:
    """A private conversation between one visitor and a booth's staff."""

    id: int
    booth: str
    visitor_id: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Visit:
    """One anonymous stay in a booth; ``visitor`` is a per-booth hash, never a user id."""

    visitor: str
    entered_at: datetime
    left_at: datetime | None


@dataclass(frozen=True, slots=True)
class HourCount:
    hour: datetime
    visits: int
    downloads: int


@dataclass(frozen=True, slots=True)
class Analytics:
    visits: int
    unique_visitors: int
    median_dwell_s: float | None  # finished visits only
    downloads: int
    per_hour: tuple[HourCount, ...]


def hall_key(secret: bytes) -> bytes:
    """The key of the hall's pseudonyms and visit hashes, derived from the server secret."""
    return hmac.new(secret, b"rounds.hall.v1", hashlib.sha256).digest()


def _mac(key: bytes, purpose: str, booth: str, user_id: int) -> bytes:
    return hmac.new(key, f"{purpose}\x00{booth}\x00{user_id}".encode(), hashlib.sha256).digest()


def pseudonym(key: bytes, booth: str, user_id: int) -> str:
    """The name a visitor who has not shared goes by in one booth: stable, not reversible."""
    code = base64.b32encode(_mac(key, "pseudonym", booth, user_id)[:5]).decode()[:6]
    return f"Visitor {code}"


def visitor_hash(key: bytes, booth: str, user_id: int) -> str:
    """The anonymous identity under which a booth's visits are counted."""
    return _mac(key, "visit", booth, user_id).hex()[:32]


def is_staff(user: User, booth: str) -> bool:
    """Whether ``user`` acts as staff in ``booth`` (its staff, or an organizer)."""
    return allowed(user, Action.STAFF_BOOTH, booth)


def visitor_label(key: bytes, booth: str, user_id: int, lead: Lead | None) -> str:
    """How booth staff see a visitor: the shared name, else the shared email, else the pseudonym."""
    if lead is not None:
        for name in ("name", "email"):
            value = lead.value(name)
            if value:
                return value
    return pseudonym(key, booth, user_id)


def parse_fields(raw: object) -> tuple[str, ...]:
    """The fields a visitor chose to share, in canonical order; raises :class:`BadRequest`."""
    if not isinstance(raw, list) or not raw or not all(isinstance(f, str) for f in raw):
        raise BadRequest(f"fields must be a non-empty list of: {', '.join(FIELDS)}", field="fields")
    unknown = sorted(set(raw) - set(FIELDS))
    if unknown:
        raise BadRequest(f"cannot share {', '.join(unknown)}; choose from {', '.join(FIELDS)}", field="fields")
    return tuple(f for f in FIELDS if f in raw)


def message_json(
    key: bytes, msg: ChatMessage, *, for_staff: bool, leads: Mapping[int, Lead] | None = None
) -> dict[str, Any]:
    """A chat message as one audience sees it: staff see shared names, visitors only pseudonyms."""
    if msg.from_staff:
        author = msg.staff_name
    elif for_staff:
        author = visitor_label(key, msg.booth, msg.author_id, (leads or {}).get(msg.author_id))
    else:
        # Other visitors never learn who someone is, even if that person shared with the booth.
        author = pseudonym(key, msg.booth, msg.author_id)
    return {
        "id": msg.id,
        "booth": msg.booth,
        "thread": msg.thread,
        "from": "staff" if msg.from_staff else "visitor",
        "author": author,
        "text": msg.text,
        "at": msg.at.isoformat(),
    }


def lead_json(lead: Lead) -> dict[str, Any]:
    """A lead for its booth's staff: each field's value if shared, else None."""
    return {
        "id": lead.id,
        **{name: lead.value(name) for name in FIELDS},
        "fields": list(lead.fields),
        "shared_at": lead.shared_at.isoformat(),
    }


def lead_csv(leads: Iterable[Lead]) -> str:
    """Leads as CSV, one row per visitor who shared, blank cells for fields not shared."""
    return csv_text([*FIELDS, "shared_fields", "shared_at"],
                    ([*(lead.value(f) for f in FIELDS), " ".join(lead.fields), lead.shared_at.isoformat()]
                     for lead in leads))


def _hour(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


def analytics(visits: Sequence[Visit], downloads: Sequence[datetime]) -> Analytics:
    """Visits, unique visitors, median dwell of finished visits, downloads, all per hour too."""
    dwell = [(v.left_at - v.entered_at).total_seconds() for v in visits if v.left_at is not None]
    visit_hours = Counter(_hour(v.entered_at) for v in visits)
    download_hours = Counter(_hour(at) for at in downloads)
    hours = sorted(set(visit_hours) | set(download_hours))
    return Analytics(
        visits=len(visits),
        unique_visitors=len({v.visitor for v in visits}),
        median_dwell_s=round(statistics.median(dwell), 1) if dwell else None,
        downloads=len(downloads),
        per_hour=tuple(HourCount(h, visit_hours[h], download_hours[h]) for h in hours),
    )


def analytics_json(result: Analytics) -> dict[str, Any]:
    return {
        "visits": result.visits,
        "unique_visitors": result.unique_visitors,
        "median_dwell_s": result.median_dwell_s,
        "downloads": result.downloads,
        "per_hour": [
            {"hour": h.hour.isoformat(), "visits": h.visits, "downloads": h.downloads} for h in result.per_hour
        ],
    }


def sorted_booths(booths: Iterable[Booth]) -> list[Booth]:
    """Booths by tier (platinum first, unknown tiers last), then by organisation."""
    rank = {tier: i for i, tier in enumerate(TIERS)}
    return sorted(booths, key=lambda b: (rank.get(b.tier, len(TIERS)), b.org.lower()))


def booth_json(booth: Booth, files: Sequence[Mapping[str, Any]], staff_online: Sequence[str]) -> dict[str, Any]:
    """A booth as the hall shows it to anyone signed in (never who its visitors are)."""
    links = [
        {"title": r.title, "url": f"/hall/{booth.id}/links/{i}", "kind": "link"}
        for i, r in enumerate(booth.resources)
    ]
    return {
        "id": booth.id,
        "org": booth.org,
        "tier": booth.tier,
        "description": booth.description,
        "resources": links + [dict(f) for f in files],
        "staff_online": list(staff_online),
        "logo": f"/booths/{booth.id}/logo" if booth.logo is not None else None,
    }


def safe_filename(name: str) -> str:
    """A file name safe to show and to put in a header: no path, no control characters."""
    # Browsers percent-encode quotes and line breaks in multipart file names; aiohttp encodes more.
    name = unicodedata.normalize("NFC", unquote(name)).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '"<>:|?*').strip(" .")
    return name[:120] or "file"


def upload_type(filename: str, head: bytes) -> str:
    """The Content-Type of an allowed upload; raises :class:`BadRequest` for any other file."""
    dot = filename.rfind(".")
    ext = filename[dot:].lower() if dot >= 0 else ""
    if ext not in _UPLOAD_TYPES:
        allowed_ext = ", ".join(sorted(_UPLOAD_TYPES))
        raise BadRequest(f"files of this type cannot be uploaded; allowed: {allowed_ext}", field="file")
    content_type, magics = _UPLOAD_TYPES[ext]
    if magics and not any(head.startswith(m) for m in magics):
        raise BadRequest(f"the file's content is not {ext[1:].upper()}", field="file")
    if not magics:
        if b"\x00" in head or _MARKUP.search(head):
            raise BadRequest("text files must be plain text (no markup)", field="file")
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.start < len(head) - 4:  # a character cut at the end of the sample is fine
                raise BadRequest("text files must be UTF-8", field="file") from None
    return content_type


def content_disposition(filename: str) -> str:
    """An ``attachment`` header value with an ASCII fallback and the UTF-8 name (RFC 6266)."""
    ascii_name = filename.encode("ascii", "replace").decode().replace("?", "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
