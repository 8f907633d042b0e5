"""Accounts: who a user is, and the rules for registering one (pure)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from .catalogue import Role
from .conference_file import PROFESSIONS
from .errors import BadRequest

__all__ = ["Registration", "User", "parse_registration", "valid_email", "valid_unicode"]

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s]{2,}$")


@dataclass(frozen=True, slots=True)
class User:
    """A signed-in person with their role and assignments."""

    id: int
    email: str
    name: str
    role: Role
    profession: str = "other"
    faculty_of: frozenset[str] = field(default_factory=frozenset)
    moderates: frozenset[str] = field(default_factory=frozenset)
    staffs: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True, slots=True)
class Registration:
    """What an attendee gives when registering."""

    name: str
    email: str
    password: str
    profession: str
    organisation: str = ""
    npi: str = ""
    board_id: str = ""
    licence: str = ""
    nabp_eprofile_id: str = ""
    dob_month: int | None = None
    dob_day: int | None = None
    report_permission: bool = False


def valid_unicode(text: str) -> bool:
    """Whether ``text`` can be stored and shown: no lone surrogates (``"\\ud800"`` from JSON)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def valid_email(text: str) -> str:
    """The address lower-cased; raises :class:`BadRequest` if it is not one."""
    text = text.strip().lower()
    if not valid_unicode(text) or not _EMAIL.match(text) or len(text) > 254:
        raise BadRequest("enter a valid email address", field="email")
    return text


def _digits(form: Mapping[str, str], name: str, lengths: tuple[int, int], label: str) -> str:
    value = form.get(name, "").strip()
    if value and (not value.isdigit() or not lengths[0] <= len(value) <= lengths[1]):
        span = f"{lengths[0]}" if lengths[0] == lengths[1] else f"{lengths[0]} to {lengths[1]}"
        raise BadRequest(f"{label} must be {span} digits", field=name)
    return value


def parse_registration(form: Mapping[str, str]) -> Registration:
    """Validate a registration form; raises :class:`BadRequest` naming the field."""
    name = form.get("name", "").strip()
    if not name or len(name) > 200:
        raise BadRequest("enter your name (up to 200 characters)", field="name")
    email = valid_email(form.get("email", ""))
    password = form.get("password", "")
    if not 10 <= len(password) <= 200:
        raise BadRequest("choose a password of 10 to 200 characters", field="password")
    profession = form.get("profession", "")
    if profession not in PROFESSIONS:
        raise BadRequest(f"choose a profession: {', '.join(PROFESSIONS)}", field="profession")
    month, day = form.get("dob_month", "").strip(), form.get("dob_day", "").strip()
    dob_month = dob_day = None
    if month or day:
        try:
            dob_month, dob_day = int(month), int(day)
        except ValueError:
            raise BadRequest("month and day of birth must be numbers", field="dob_month") from None
        if not (1 <= dob_month <= 12 and 1 <= dob_day <= 31):
            raise BadRequest("month and day of birth are out of range", field="dob_month")
    board_id = form.get("board_id", "").strip()
    licence = form.get("licence", "").strip()
    organisation = form.get("organisation", "").strip()
    for label, value in (("board ID", board_id), ("licence", licence), ("organisation", organisation)):
        if len(value) > (200 if label == "organisation" else 40):
            raise BadRequest(f"{label} is too long", field=label.replace(" ", "_").lower())
    return Registration(
        name=name,
        email=email,
        password=password,
        profession=profession,
        organisation=organisation,
        npi=_digits(form, "npi", (10, 10), "NPI"),
        board_id=board_id,
        licence=licence,
        nabp_eprofile_id=_digits(form, "nabp_eprofile_id", (6, 7), "NABP e-Profile ID"),
        dob_month=dob_month,
        dob_day=dob_day,
        report_permission=form.get("report_permission", "") in ("on", "yes", "true", "1"),
    )
