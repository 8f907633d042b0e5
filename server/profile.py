"""A learner's profile: the identifiers their credit needs (pure: values in, values out).

The name as printed on certificates, degree, profession, NPI (CMS check digit), certifying board
and board ID (MOC), licence state and number, NABP e-Profile ID and month/day of birth (CPE
Monitor), the opt-in permission to report completion to the learner's board, and a time zone.
The profile page, the JSON API and conference-file accounts all go through :func:`parse_profile`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import BadRequest

__all__ = ["FIELDS", "PROFESSIONS", "US_STATES", "Profile", "ProfileRejected", "npi_valid", "parse_profile"]

PROFESSIONS = ("physician", "nurse", "pharmacist", "physician assistant", "other")
US_STATES = frozenset(
    ["AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA", "PR", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "VI", "WA", "WV", "WI", "WY", "GU", "AS", "MP"])
_DEGREE = re.compile(r"^[A-Za-z][A-Za-z.\- ,]{0,39}$")
_TEXT = re.compile(r"^[^\x00-\x1f\x7f<>]*$")  # printable, no markup characters
_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
FIELDS = ("certificate_name", "degree", "profession", "npi", "board", "board_id", "licence_state", "licence",
          "nabp_eprofile_id", "birth_month", "birth_day", "report_permission", "timezone")


class ProfileRejected(BadRequest):
    """A profile field that cannot be stored (400, ``field`` names it)."""

    code = "profile_rejected"


@dataclass(frozen=True, slots=True)
class Profile:
    """What Rounds keeps about a learner for their credit."""

    certificate_name: str = ""  # as printed on certificates (empty: the account name)
    degree: str = ""  # MD, DO, RN, PharmD, PA-C, ...
    profession: str = "other"
    npi: str = ""  # National Provider Identifier, 10 digits with a valid check digit
    board: str = ""  # certifying board for MOC, e.g. ABIM
    board_id: str = ""
    licence_state: str = ""  # two-letter US state or territory
    licence: str = ""
    nabp_eprofile_id: str = ""  # NABP e-Profile ID (CPE Monitor)
    birth_month: int | None = None
    birth_day: int | None = None
    report_permission: bool = False  # opt-in: report completion data to the learner's board
    timezone: str = ""

    def json(self) -> dict[str, Any]:
        return asdict(self)


def npi_valid(npi: str) -> bool:
    """The NPI check digit: the Luhn formula over the 9 digits with the 80840 prefix (CMS, NPI check digit)."""
    if len(npi) != 10 or not npi.isdigit() or npi[0] not in "12":
        return False
    total = 24  # the digits of the 80840 prefix, doubled as the formula does
    for i, ch in enumerate(reversed(npi[:9])):
        d = int(ch)
        if i % 2 == 0:  # double every other digit, starting with the rightmost of the nine
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    return (10 - total % 10) % 10 == int(npi[9])


def _text(fields: Mapping[str, Any], name: str, limit: int) -> str:
    value = fields.get(name, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ProfileRejected(f"{name.replace('_', ' ')} must be text", field=name)
    value = " ".join(value.split())
    if len(value) > limit or not _TEXT.match(value):
        raise ProfileRejected(f"{name.replace('_', ' ')}: up to {limit} characters, no < or >", field=name)
    return value


def _int(fields: Mapping[str, Any], name: str) -> int | None:
    value = fields.get(name)
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        raise ProfileRejected(f"{name.replace('_', ' ')} must be a number", field=name)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    if isinstance(value, int):
        return value
    raise ProfileRejected(f"{name.replace('_', ' ')} must be a number", field=name)


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in (None, "", "off", "no", "false", "0"):
        return False
    if value in ("on", "yes", "true", "1"):
        return True
    raise ProfileRejected("report permission is yes or no", field="report_permission")


def parse_profile(fields: Mapping[str, Any]) -> Profile:
    """Validate every profile field; raises ProfileRejected (400) naming the first bad field."""
    unknown = sorted(set(fields) - set(FIELDS) - {"csrf"})
    if unknown:
        raise ProfileRejected(f"no profile field {unknown[0]!r}", field=unknown[0])
    name = _text(fields, "certificate_name", 200)
    degree = _text(fields, "degree", 40)
    if degree and not _DEGREE.match(degree):
        raise ProfileRejected("degree: letters, dots and commas, e.g. MD or PharmD", field="degree")
    profession = _text(fields, "profession", 40) or "other"
    if profession not in PROFESSIONS:
        raise ProfileRejected(f"profession is one of {', '.join(PROFESSIONS)}", field="profession")
    npi = _text(fields, "npi", 10)
    if npi and not npi_valid(npi):
        raise ProfileRejected("this is not a valid NPI: 10 digits starting with 1 or 2, with a correct check digit",
                              field="npi")
    state = _text(fields, "licence_state", 2).upper()
    if state and state not in US_STATES:
        raise ProfileRejected("licence state: a two-letter US state or territory code, e.g. IL", field="licence_state")
    eprofile = _text(fields, "nabp_eprofile_id", 10)
    if eprofile and not (eprofile.isdigit() and 6 <= len(eprofile) <= 10):
        raise ProfileRejected("the NABP e-Profile ID is a number of 6 to 10 digits", field="nabp_eprofile_id")
    month, day = _int(fields, "birth_month"), _int(fields, "birth_day")
    if (month is None) != (day is None):
        raise ProfileRejected("give both the month and the day of birth, or neither",
                              field="birth_day" if day is None else "birth_month")
    if month is not None and day is not None:
        if not 1 <= month <= 12:
            raise ProfileRejected("month of birth is 1 to 12", field="birth_month")
        if not 1 <= day <= _DAYS[month - 1]:
            raise ProfileRejected("that day does not exist in that month", field="birth_day")
    zone = _text(fields, "timezone", 64)
    if zone:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ProfileRejected(f"unknown time zone {zone!r}; e.g. America/Chicago", field="timezone") from None
    return Profile(name, degree, profession, npi, _text(fields, "board", 80), _text(fields, "board_id", 40), state,
                   _text(fields, "licence", 40), eprofile, month, day, _flag(fields.get("report_permission")), zone)
