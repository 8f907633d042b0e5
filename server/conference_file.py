"""Read and validate a conference file (TOML or YAML); errors name the field and the line."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from .catalogue import (
    AttentionChecks,
    Booth,
    BoothResource,
    Catalogue,
    Conference,
    Disclosure,
    EvaluationQuestion,
    Format,
    Relationship,
    Role,
    Session,
    Span,
    Track,
    logo_type,
)
from .profile import FIELDS as PROFILE_FIELDS
from .profile import Profile, ProfileRejected, parse_profile

__all__ = ["Account", "ConferenceFile", "ConferenceFileError", "load_conference", "parse_conference"]

CREDIT_TYPES = ("ama_pra_1", "ancc", "acpe", "participation")
PROFESSIONS = ("physician", "nurse", "pharmacist", "physician assistant", "other")
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_DAY_TIME = re.compile(r"^day\s+(\d{1,2})\s*,\s*(\d{1,2}):(\d{2})$", re.IGNORECASE)
_UAN = re.compile(r"^\d{4}-\d{4}-\d{2}-\d{3}-L\d{2}-[PT]$")  # ACPE UAN of a live activity
_OWNER_OR_EMPLOYEE = re.compile(r"\b(owner|ownership|employee|employed|employment)\b", re.IGNORECASE)
T = TypeVar("T")
Path_ = tuple[str | int, ...]


class ConferenceFileError(ValueError):
    """A conference file that cannot be loaded: ``str()`` names the file, line and field."""

    def __init__(self, message: str, field: str = "", line: int | None = None, file: str = "") -> None:
        where = file or "conference file"
        if line is not None:
            where += f", line {line}"
        if field:
            where += f", {field}"
        super().__init__(f"{where}: {message}")
        self.field = field
        self.line = line


@dataclass(frozen=True, slots=True)
class Account:
    """An account the conference file asks for (demo accounts, staff, faculty)."""

    email: str
    name: str
    role: Role
    password: str = ""
    profession: str = "other"
    profile: Profile | None = None  # the learner-profile fields the file gives (None: none)


@dataclass(frozen=True, slots=True)
class ConferenceFile:
    catalogue: Catalogue
    accounts: tuple[Account, ...]
    day_one: datetime | None = None  # what "day 1, 00:00" is
    demo: bool = False  # day 1 anchored to the import (first_day = "demo")


def load_conference(path: Path, now: datetime | None = None) -> ConferenceFile:
    """Read a ``.toml``, ``.yaml`` or ``.yml`` conference file.

    Raises :class:`ConferenceFileError` naming the field and line of the first problem.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConferenceFileError(f"cannot read: {exc}", file=str(path)) from None
    kind = "yaml" if path.suffix.lower() in (".yaml", ".yml") else "toml"
    return parse_conference(text, kind=kind, now=now, filename=str(path))


def parse_conference(
    text: str, kind: str = "toml", now: datetime | None = None, filename: str = ""
) -> ConferenceFile:
    """Parse conference file text; ``now`` anchors a demo conference's relative days."""
    try:
        if kind == "yaml":
            data = yaml.safe_load(text)
        else:
            data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConferenceFileError(f"not valid TOML: {exc}", file=filename) from None
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        raise ConferenceFileError(
            f"not valid YAML: {getattr(exc, 'problem', exc)}",
            line=None if line is None else line + 1,
            file=filename,
        ) from None
    locate = _toml_locator(text) if kind != "yaml" else _yaml_locator(text)
    reader = _Reader(locate, filename, now or datetime.now(UTC))
    return reader.read(data)


class _Reader:
    def __init__(self, locate: Callable[[Path_], int | None], filename: str, now: datetime) -> None:
        self.locate = locate
        self.filename = filename
        self.now = now
        self.demo = False

    def fail(self, path: Path_, message: str) -> ConferenceFileError:
        field = ".".join(f"[{p}]" if isinstance(p, int) else p for p in path).replace(".[", "[")
        return ConferenceFileError(message, field=field, line=self.locate(path), file=self.filename)

    def get(self, obj: Mapping[str, Any], path: Path_, key: str, kind: type[T], default: Any = ...) -> T:
        if not isinstance(obj, Mapping):
            raise self.fail(path, "must be a table")
        if key not in obj:
            if default is ...:
                raise self.fail(path + (key,), "is required")
            return default  # type: ignore[no-any-return]
        value = obj[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self.fail(path + (key,), f"must be a {kind.__name__}, not {type(value).__name__}")
        if isinstance(value, str) and not value.strip():
            raise self.fail(path + (key,), "must not be empty")
        return value

    def items(self, obj: Mapping[str, Any], path: Path_, key: str) -> list[Any]:
        value = obj.get(key, []) if isinstance(obj, Mapping) else []
        if not isinstance(value, list):
            raise self.fail(path + (key,), "must be a list")
        return value

    def ident(self, obj: Mapping[str, Any], path: Path_, seen: set[str]) -> str:
        value = self.get(obj, path, "id", str)
        if not _ID.match(value):
            raise self.fail(path + ("id",), "must be lower-case letters, digits and dashes")
        if value in seen:
            raise self.fail(path + ("id",), f"{value!r} is used twice")
        seen.add(value)
        return value

    def read(self, data: Any) -> ConferenceFile:
        if not isinstance(data, Mapping):
            raise self.fail((), "must be a table of conference, tracks, sessions, booths")
        conf_raw = self.get(data, (), "conference", dict)
        conference = self.conference(conf_raw)
        zone = ZoneInfo(conference.timezone)
        tracks = self.tracks(data)
        day_one = self.day_one(data, conf_raw, zone)
        self.register = self.disclosure_register(data)
        self.disclosed: dict[str, tuple[tuple[tuple[str, str, bool], ...], Path_]] = {}
        sessions = self.sessions(data, day_one, zone, {t.id for t in tracks}, conference)
        if "claim_deadline" in conf_raw:
            deadline = self.when(conf_raw, ("conference",), "claim_deadline", day_one, zone)
            if sessions and deadline < max(s.end for s in sessions):
                raise self.fail(("conference", "claim_deadline"), "must be after the last session ends")
            conference = replace(conference, claim_deadline=deadline)
        booths = self.booths(data)
        accounts = self.accounts(data)
        catalogue = Catalogue(conference, tuple(tracks), tuple(sessions), tuple(booths))
        return ConferenceFile(catalogue, tuple(accounts), day_one, self.demo)

    def conference(self, raw: Mapping[str, Any]) -> Conference:
        p: Path_ = ("conference",)
        cid = self.get(raw, p, "id", str)
        if not _ID.match(cid):
            raise self.fail(p + ("id",), "must be lower-case letters, digits and dashes")
        timezone = self.get(raw, p, "timezone", str)
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise self.fail(p + ("timezone",), f"unknown time zone {timezone!r}") from None
        types = self.items(raw, p, "credit_types")
        for i, ctype in enumerate(types):
            if ctype not in CREDIT_TYPES:
                raise self.fail(p + ("credit_types", i), f"unknown credit type {ctype!r}; one of {', '.join(CREDIT_TYPES)}")
        statements = self.get(raw, p, "designation_statements", dict, {})
        rounding = self.rounding(raw, p)
        completion = self.decimal(raw, p, "acpe_completion", Decimal("0.9"))
        if not Decimal(0) < completion <= Decimal(1):
            raise self.fail(p + ("acpe_completion",), "must be a fraction above 0 and at most 1")
        return Conference(
            id=cid,
            name=self.get(raw, p, "name", str),
            timezone=timezone,
            provider=self.get(raw, p, "provider", str),
            location=self.get(raw, p, "location", str, "online"),
            accreditation_statement=self.get(raw, p, "accreditation_statement", str),
            designation_statements={str(k): str(v) for k, v in statements.items()},
            credit_types=tuple(types) or ("participation",),
            credit_rounding=rounding,
            acpe_completion=completion,
        )

    def rounding(self, raw: Mapping[str, Any], p: Path_) -> str:
        """``credit_rounding``: one word for AMA credit, or a table per credit type (ANCC: down only)."""
        value = raw.get("credit_rounding", "nearest")
        table = value if isinstance(value, Mapping) else {"ama_pra_1": value}
        where = p + ("credit_rounding",)
        for ctype, how in table.items():
            at = where + (ctype,) if isinstance(value, Mapping) else where
            if how not in ("nearest", "down"):
                raise self.fail(at, "must be 'nearest' or 'down'")
            if ctype == "ancc" and how != "down":
                raise self.fail(at, "ANCC contact hours are rounded down to the quarter hour")
            if ctype == "acpe":
                raise self.fail(at, "ACPE credit is per session, whole or none: it is not rounded")
            if ctype == "participation":
                raise self.fail(at, "participation states the AMA figure: set ama_pra_1")
            if ctype not in CREDIT_TYPES:
                raise self.fail(at, f"unknown credit type {ctype!r}")
        return str(table.get("ama_pra_1", "nearest"))

    def tracks(self, data: Mapping[str, Any]) -> list[Track]:
        seen: set[str] = set()
        return [
            Track(self.ident(raw, ("tracks", i), seen), self.get(raw, ("tracks", i), "name", str))
            for i, raw in enumerate(self.items(data, (), "tracks"))
        ]

    def day_one(self, data: Mapping[str, Any], conf: Mapping[str, Any], zone: ZoneInfo) -> datetime:
        """Midnight of day 1, or for a demo the moment that puts ``live_session`` live now."""
        p: Path_ = ("conference",)
        first = conf.get("first_day")
        if first == "demo":
            self.demo = True
            demo = self.get(conf, p, "demo", dict)
            live_id = self.get(demo, p + ("demo",), "live_session", str)
            minutes_in = self.get(demo, p + ("demo",), "minutes_in", int, 10)
            for i, raw in enumerate(self.items(data, (), "sessions")):
                if isinstance(raw, Mapping) and raw.get("id") == live_id:
                    offset = self.offset(raw, ("sessions", i), "start")
                    return self.now - timedelta(minutes=minutes_in) - offset
            raise self.fail(p + ("demo", "live_session"), f"no session {live_id!r}")
        if isinstance(first, date) and not isinstance(first, datetime):
            return datetime.combine(first, time(0), zone)
        if isinstance(first, str):
            try:
                return datetime.combine(date.fromisoformat(first), time(0), zone)
            except ValueError:
                pass
        raise self.fail(p + ("first_day",), "must be a date (2026-06-11) or \"demo\"")

    def offset(self, obj: Mapping[str, Any], path: Path_, key: str) -> timedelta:
        raw = self.get(obj, path, key, str)
        match = _DAY_TIME.match(raw.strip())
        if not match:
            raise self.fail(path + (key,), f"{raw!r} is not a time like \"day 1, 09:00\"")
        day, hour, minute = (int(g) for g in match.groups())
        if day < 1 or hour > 23 or minute > 59:
            raise self.fail(path + (key,), f"{raw!r} is not a valid day and time")
        return timedelta(days=day - 1, hours=hour, minutes=minute)

    def when(self, obj: Mapping[str, Any], path: Path_, key: str, day_one: datetime, zone: ZoneInfo) -> datetime:
        if self.demo:
            # A demo's day 1 is not a local midnight: plain elapsed time, no DST gaps.
            return day_one + self.offset(obj, path, key)
        # Wall-clock arithmetic in the conference's zone, so "day 2, 09:00" stays 09:00 across DST.
        local = day_one.astimezone(zone).replace(tzinfo=None) + self.offset(obj, path, key)
        return local.replace(tzinfo=zone).astimezone(UTC)

    def sessions(
        self, data: Mapping[str, Any], day_one: datetime, zone: ZoneInfo, tracks: set[str], conf: Conference
    ) -> list[Session]:
        seen: set[str] = set()
        uans: dict[str, str] = {}
        sessions = []
        for i, raw in enumerate(self.items(data, (), "sessions")):
            p: Path_ = ("sessions", i)
            sid = self.ident(raw, p, seen)
            track = self.get(raw, p, "track", str)
            if tracks and track not in tracks:
                raise self.fail(p + ("track",), f"unknown track {track!r}")
            fmt = self.get(raw, p, "format", str)
            if fmt not in {f.value for f in Format}:
                raise self.fail(p + ("format",), f"unknown format {fmt!r}; one of {', '.join(f.value for f in Format)}")
            start = self.when(raw, p, "start", day_one, zone)
            end = self.when(raw, p, "end", day_one, zone)
            if end <= start:
                raise self.fail(p + ("end",), "must be after start")
            accredited = self.get(raw, p, "accredited", bool, True)
            credits = self.credits(raw, p, conf, accredited)
            breaks = []
            for j, brk in enumerate(self.items(raw, p, "breaks")):
                span = Span(self.when(brk, p + ("breaks", j), "start", day_one, zone),
                            self.when(brk, p + ("breaks", j), "end", day_one, zone))
                if not (start <= span.start < span.end <= end):
                    raise self.fail(p + ("breaks", j), "must lie inside the session, start before end")
                breaks.append(span)
            min_part = self.decimal(raw, p, "min_participation", Decimal("0.5"))
            if not Decimal(0) <= min_part <= Decimal(1):
                raise self.fail(p + ("min_participation",), "must be a fraction between 0 and 1")
            faculty_raw = self.items(raw, p, "faculty")
            faculty = tuple(self.email(f, p + ("faculty", j)) for j, f in enumerate(faculty_raw))
            moderators = tuple(self.email(m, p + ("moderators", j)) for j, m in enumerate(self.items(raw, p, "moderators")))
            supporter = self.get(raw, p, "industry_supporter", str, "")
            if supporter and accredited:
                raise self.fail(p + ("industry_supporter",), "an industry-supported session cannot be accredited")
            instruction = (end - start).total_seconds() - sum((b.end - b.start).total_seconds() for b in _merged(breaks))
            for ctype, amount in credits.items():
                if amount * 3600 > Decimal(str(instruction)):
                    raise self.fail(p + ("credits", ctype), f"designates {amount} hours but the session has only "
                                    f"{instruction / 3600:.2f} hours of instruction (its time minus breaks)")
            uan = self.get(raw, p, "uan", str, "").strip()
            if "acpe" in credits:
                if not _UAN.match(uan):
                    raise self.fail(p + ("uan",), "a session offering ACPE credit needs its own live-activity UAN "
                                    "like 0123-0000-26-001-L01-P")
                if uan in uans:
                    raise self.fail(p + ("uan",), f"UAN {uan} is already used by session {uans[uan]!r}")
                uans[uan] = sid
            disclosures = self.session_disclosures(raw, p, accredited, faculty, moderators)
            sessions.append(
                Session(
                    id=sid,
                    title=self.get(raw, p, "title", str),
                    track=track,
                    format=Format(fmt),
                    start=start,
                    end=end,
                    faculty=faculty,
                    faculty_names=tuple(self.get(raw, p, "faculty_names", list, [str(f) for f in faculty])),
                    moderators=moderators,
                    credits=credits,
                    accredited=accredited,
                    min_participation=min_part,
                    premoderation=self.get(raw, p, "premoderation", bool, True),
                    industry_supporter=supporter,
                    commercial_supporters=tuple(str(s) for s in self.items(raw, p, "commercial_supporters")),
                    description=self.get(raw, p, "description", str, ""),
                    breaks=tuple(breaks),
                    disclosures=disclosures,
                    attention_checks=self.attention(raw, p),
                    evaluation=tuple(self.evaluation(raw, p)),
                    uan=uan,
                    day=self.offset(raw, p, "start").days + 1,
                )
            )
        return sessions

    def decimal(self, obj: Mapping[str, Any], path: Path_, key: str, default: Decimal) -> Decimal:
        if key not in obj:
            return default
        value = obj[key]
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise self.fail(path + (key,), "must be a number")
        try:
            return Decimal(str(value))
        except InvalidOperation:
            raise self.fail(path + (key,), "must be a number") from None

    def credits(self, raw: Mapping[str, Any], p: Path_, conf: Conference, accredited: bool) -> dict[str, Decimal]:
        table = self.get(raw, p, "credits", dict, {})
        credits = {}
        for ctype in table:
            if ctype not in conf.credit_types:
                raise self.fail(p + ("credits", ctype), f"credit type {ctype!r} is not offered by the conference")
            amount = self.decimal(table, p + ("credits",), ctype, Decimal(0))
            if amount <= 0 or (amount * 4) % 1:
                raise self.fail(p + ("credits", ctype), "must be a positive multiple of 0.25")
            credits[ctype] = amount
        if credits and not accredited:
            raise self.fail(p + ("credits",), "a non-accredited session designates no credit")
        return credits

    def email(self, value: Any, path: Path_) -> str:
        if not isinstance(value, str) or "@" not in value or len(value) > 254:
            raise self.fail(path, f"{value!r} is not an email address")
        return value.strip().lower()

    def disclosure(self, d: Mapping[str, Any], dp: Path_, role: str) -> Disclosure:
        """One person's disclosure: each relationship with its nature, whether it ended, how it was
        mitigated; or an explicit ``none = true`` (no relevant financial relationships)."""
        none = self.get(d, dp, "none", bool, False)
        shared = self.get(d, dp, "mitigation", str, "").strip()
        rels = []
        for k, r in enumerate(self.items(d, dp, "relationships")):
            rp = dp + ("relationships", k)
            method = self.get(r, rp, "mitigation", str, "").strip() or shared
            if not method:
                raise self.fail(rp + ("mitigation",), "record how this relationship was mitigated "
                                "(e.g. peer review of content); nothing is assumed mitigated")
            rels.append(Relationship(self.get(r, rp, "company", str), self.get(r, rp, "nature", str),
                                     self.get(r, rp, "ended", bool, False), method))
        if none and rels:
            raise self.fail(dp + ("none",), "says no relevant financial relationships but lists some")
        if d.get("mitigated") is True and not rels:
            raise self.fail(dp + ("mitigated",), "claims a mitigation but records no relationship or method")
        if not none and not rels:
            raise self.fail(dp + ("relationships",), "list the relationships, or write none = true for "
                            "\"no relevant financial relationships\"")
        if "mitigated" in d and d.get("mitigated") is not True and rels:
            raise self.fail(dp + ("mitigated",), "every relevant relationship must be mitigated before the activity")
        return Disclosure(name=self.get(d, dp, "name", str), role=role, relationships=tuple(rels),
                          mitigated=bool(rels), email=str(d.get("email", "")).strip().lower())

    def disclosure_register(self, data: Mapping[str, Any]) -> dict[str, tuple[Disclosure, Path_]]:
        """``[[disclosures]]``: one entry per person in control of content, by email."""
        out: dict[str, tuple[Disclosure, Path_]] = {}
        for i, d in enumerate(self.items(data, (), "disclosures")):
            dp: Path_ = ("disclosures", i)
            email = self.email(self.get(d, dp, "email", str), dp + ("email",))
            if email in out:
                raise self.fail(dp + ("email",), f"{email} has two entries; keep one per person")
            out[email] = (self.disclosure(d, dp, "faculty"), dp)
        return out

    def session_disclosures(self, raw: Mapping[str, Any], p: Path_, accredited: bool,
                            faculty: tuple[str, ...], moderators: tuple[str, ...]) -> tuple[Disclosure, ...]:
        """What the session's disclosure screen lists: its own entries, then everyone else in control
        of its content (faculty, moderators, planners, reviewers) from the register."""
        listed: list[tuple[Disclosure, Path_]] = []
        for j, d in enumerate(self.items(raw, p, "disclosures")):
            dp = p + ("disclosures", j)
            listed.append((self.disclosure(d, dp, self.get(d, dp, "role", str, "faculty")), dp))
        people: list[tuple[str, str, Path_]] = [(e, "faculty", p + ("faculty", j)) for j, e in enumerate(faculty)]
        people += [(e, "moderator", p + ("moderators", j)) for j, e in enumerate(moderators)]
        for role, key in (("planner", "planners"), ("reviewer", "reviewers")):
            people += [(self.email(e, p + (key, j)), role, p + (key, j)) for j, e in enumerate(self.items(raw, p, key))]
        own = {d.email: (d, dp) for d, dp in listed if d.email}
        ordered: list[tuple[Disclosure, Path_]] = []
        done: set[str] = set()
        for email, role, where in people:  # faculty first, in programme order, then the others
            if email in done:
                continue
            found = own.get(email) or self.register.get(email)
            if found is None:
                if accredited:
                    raise self.fail(where, f"{email} is in control of accredited content but has no disclosure; "
                                    "add them to [[disclosures]]")
                continue
            done.add(email)
            ordered.append(found if email in own else (replace(found[0], role=role), found[1]))
        ordered += [(d, dp) for d, dp in listed if d.email not in done]
        listed = ordered
        if accredited:
            for d, dp in listed:
                self.check_disclosure(d, dp)
        return tuple(d for d, _ in listed)

    def check_disclosure(self, d: Disclosure, dp: Path_) -> None:
        """ACCME Standard 3: no owner or employee of an ineligible company in control of accredited
        content; one person's disclosures agree wherever they appear."""
        for k, r in enumerate(d.relationships):
            if _OWNER_OR_EMPLOYEE.search(r.nature) and not r.ended:
                raise self.fail(dp + ("relationships", k, "nature"), f"an owner or employee of {r.company} (an "
                                "ineligible company) cannot be faculty or planner of accredited education")
        key = d.email or d.name.strip().lower()
        facts = tuple(sorted((r.company.strip().lower(), r.nature.strip().lower(), r.ended) for r in d.relationships))
        first = self.disclosed.get(key)
        if first is None:
            self.disclosed[key] = (facts, dp)
        elif first[0] != facts:
            other = self.fail(first[1], "")
            raise self.fail(dp, f"conflicts with {d.name}'s disclosure at {other.field}"
                            + (f" (line {other.line})" if other.line else ""))

    def attention(self, raw: Mapping[str, Any], p: Path_) -> AttentionChecks | None:
        if "attention_checks" not in raw:
            return None
        a = self.get(raw, p, "attention_checks", dict)
        ap = p + ("attention_checks",)
        lo, hi = self.get(a, ap, "min_gap_s", int), self.get(a, ap, "max_gap_s", int)
        if not 0 < lo <= hi:
            raise self.fail(ap, "needs 0 < min_gap_s <= max_gap_s")
        return AttentionChecks(lo, hi)

    def evaluation(self, raw: Mapping[str, Any], p: Path_) -> list[EvaluationQuestion]:
        out = []
        seen: set[str] = set()
        for j, q in enumerate(self.items(raw, p, "evaluation")):
            qp = p + ("evaluation", j)
            kind = self.get(q, qp, "kind", str, "scale")
            if kind not in ("scale", "yesno", "text"):
                raise self.fail(qp + ("kind",), "must be scale, yesno or text")
            out.append(EvaluationQuestion(self.ident(q, qp, seen), self.get(q, qp, "text", str), kind,
                                          self.get(q, qp, "required", bool, True)))
        return out

    def logo(self, raw: Mapping[str, Any], p: Path_) -> str | None:
        """A booth's ``logo``: an image file relative to the conference file, checked now.

        Text parsed without a file name (the copy the store keeps) keeps no logo: the store
        remembers the paths it checked at import (``load_catalogue``)."""
        if "logo" not in raw:
            return None
        name = self.get(raw, p, "logo", str)
        if "://" in name or name.startswith("//"):
            raise self.fail(p + ("logo",), "must be an image file beside the conference file, not a URL")
        if not self.filename:
            return None  # text without a file (a stored copy): no directory to find the logo in
        path = (Path(self.filename).parent / name).resolve()
        try:
            with path.open("rb") as fh:
                head = fh.read(512)
        except OSError:
            raise self.fail(p + ("logo",), f"cannot read the logo file {str(path)!r}") from None
        if logo_type(path.name, head) is None:
            raise self.fail(p + ("logo",), f"{name!r} is not a PNG, JPEG, WebP or SVG image")
        return str(path)

    def booths(self, data: Mapping[str, Any]) -> list[Booth]:
        seen: set[str] = set()
        out = []
        for i, raw in enumerate(self.items(data, (), "booths")):
            p: Path_ = ("booths", i)
            resources = []
            for j, r in enumerate(self.items(raw, p, "resources")):
                url = self.get(r, p + ("resources", j), "url", str)
                if not url.startswith(("https://", "http://", "/")):
                    raise self.fail(p + ("resources", j, "url"), "must be an http(s) link or a path")
                resources.append(BoothResource(self.get(r, p + ("resources", j), "title", str), url))
            out.append(Booth(
                id=self.ident(raw, p, seen),
                org=self.get(raw, p, "org", str),
                tier=self.get(raw, p, "tier", str, "standard"),
                description=self.get(raw, p, "description", str, ""),
                staff=tuple(self.email(s, p + ("staff", j)) for j, s in enumerate(self.items(raw, p, "staff"))),
                resources=tuple(resources),
                logo=self.logo(raw, p),
            ))
        return out

    def accounts(self, data: Mapping[str, Any]) -> list[Account]:
        out = []
        seen: set[str] = set()
        for i, raw in enumerate(self.items(data, (), "accounts")):
            p: Path_ = ("accounts", i)
            email = self.email(self.get(raw, p, "email", str), p + ("email",))
            if email in seen:
                raise self.fail(p + ("email",), f"{email!r} is listed twice")
            seen.add(email)
            role = self.get(raw, p, "role", str)
            if role not in {r.value for r in Role}:
                raise self.fail(p + ("role",), f"unknown role {role!r}")
            profession = self.get(raw, p, "profession", str, "other")
            if profession not in PROFESSIONS:
                raise self.fail(p + ("profession",), f"unknown profession {profession!r}")
            given = {k: raw[k] for k in PROFILE_FIELDS if k in raw and k != "profession"}
            profile = None
            if given:
                try:
                    profile = parse_profile({**given, "profession": profession})
                except ProfileRejected as exc:
                    raise self.fail(p + (str(exc.extra.get("field", "")),), exc.reason) from None
            out.append(Account(email, self.get(raw, p, "name", str), Role(role),
                               self.get(raw, p, "password", str, ""), profession, profile))
        return out


def _merged(spans: list[Span]) -> list[Span]:
    out: list[Span] = []
    for span in sorted(spans, key=lambda b: b.start):
        if out and span.start <= out[-1].end:
            out[-1] = Span(out[-1].start, max(out[-1].end, span.end))
        else:
            out.append(span)
    return out


def _toml_locator(text: str) -> Callable[[Path_], int | None]:
    """Best-effort line of a field in TOML text: the n-th ``[[table]]`` header, then the key."""
    lines = text.splitlines()

    def locate(path: Path_) -> int | None:
        start, stop, line = 0, len(lines), None
        header: list[str] = []
        keys = list(path)
        while keys:
            part = keys.pop(0)
            if isinstance(part, int):
                continue
            nth = keys[0] if keys and isinstance(keys[0], int) else None
            name = ".".join(header + [part])
            pattern = re.compile(rf"^\s*\[\[?\s*{re.escape(name)}\s*\]\]?\s*(#.*)?$")
            hits = [n for n in range(start, stop) if pattern.match(lines[n])]
            if hits:
                idx = hits[nth] if nth is not None and nth < len(hits) else hits[0]
                line = idx + 1
                nxt = [n for n in range(idx + 1, stop) if re.match(r"^\s*\[", lines[n])
                       and not re.match(rf"^\s*\[\[?\s*{re.escape(name)}\.", lines[n])]
                start, stop = idx + 1, (nxt[0] if nxt else stop)
                header.append(part)
                continue
            key = re.compile(rf"^\s*{re.escape(part)}\s*=")
            found = [n for n in range(start, stop) if key.match(lines[n])]
            if found:
                return found[0] + 1
            return line
        return line

    return locate


def _yaml_locator(text: str) -> Callable[[Path_], int | None]:
    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        root = None

    def locate(path: Path_) -> int | None:
        node = root
        line = None
        for part in path:
            if isinstance(node, yaml.MappingNode):
                match = next((v for k, v in node.value if k.value == part), None)
                key = next((k for k, v in node.value if k.value == part), None)
                if match is None:
                    return line
                line = (key or match).start_mark.line + 1
                node = match
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
                node = node.value[part]
                line = node.start_mark.line + 1
            else:
                return line
        return line

    return locate
