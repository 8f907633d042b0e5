"""The exhibit hall's pure rules: pseudonyms, what staff see, leads, CSV, analytics, uploads."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.accounts import User
from server.catalogue import Booth, BoothResource, Role
from server.errors import BadRequest
from server.hall import (
    FIELDS,
    ChatMessage,
    Lead,
    Visit,
    analytics,
    booth_json,
    content_disposition,
    hall_key,
    is_staff,
    lead_csv,
    lead_json,
    message_json,
    parse_fields,
    pseudonym,
    safe_filename,
    sorted_booths,
    upload_type,
    visitor_hash,
    visitor_label,
)

KEY = hall_key(b"server-secret")
T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)


def lead(fields: tuple[str, ...], user_id: int = 7) -> Lead:
    return Lead(1, "meridian", user_id, fields, "Maria Lopez" if "name" in fields else "",
                "maria@example.org" if "email" in fields else "", "physician" if "profession" in fields else "",
                "", T0)


def visitor_message(author_id: int = 7) -> ChatMessage:
    return ChatMessage(5, "meridian", None, author_id, False, "", "hello", T0)


def test_pseudonym_is_stable_and_differs_per_booth_user_and_secret() -> None:
    assert pseudonym(KEY, "meridian", 7) == pseudonym(KEY, "meridian", 7)
    assert pseudonym(KEY, "meridian", 7) != pseudonym(KEY, "cardiova", 7)
    assert pseudonym(KEY, "meridian", 7) != pseudonym(KEY, "meridian", 8)
    assert pseudonym(KEY, "meridian", 7) != pseudonym(hall_key(b"other-secret"), "meridian", 7)


@given(st.integers(min_value=1, max_value=10**9))
def test_pseudonym_and_visit_hash_never_contain_the_user_id(user_id: int) -> None:
    name = pseudonym(KEY, "meridian", user_id)
    assert name.startswith("Visitor ") and len(name) == len("Visitor ") + 6
    assert visitor_hash(KEY, "meridian", user_id) != str(user_id)
    assert visitor_hash(KEY, "meridian", user_id) != visitor_hash(KEY, "cardiova", user_id)


def test_staff_see_a_pseudonym_until_the_visitor_shares_a_name_or_email() -> None:
    anonymous = pseudonym(KEY, "meridian", 7)
    assert visitor_label(KEY, "meridian", 7, None) == anonymous
    assert visitor_label(KEY, "meridian", 7, lead(("profession",))) == anonymous
    assert visitor_label(KEY, "meridian", 7, lead(("email",))) == "maria@example.org"
    assert visitor_label(KEY, "meridian", 7, lead(("name", "email"))) == "Maria Lopez"


def test_a_message_shows_staff_the_shared_name_but_other_visitors_only_the_pseudonym() -> None:
    leads = {7: lead(("name",))}
    to_staff = message_json(KEY, visitor_message(), for_staff=True, leads=leads)
    to_visitors = message_json(KEY, visitor_message(), for_staff=False, leads=leads)
    assert to_staff["author"] == "Maria Lopez"
    assert to_visitors["author"] == pseudonym(KEY, "meridian", 7)
    for view in (to_staff, to_visitors):
        assert set(view) == {"id", "booth", "thread", "from", "author", "text", "at"}
        assert 7 not in view.values()


def test_staff_messages_carry_the_staff_name() -> None:
    msg = ChatMessage(6, "meridian", None, 3, True, "Pat Lee", "welcome", T0)
    assert message_json(KEY, msg, for_staff=False)["author"] == "Pat Lee"
    assert message_json(KEY, msg, for_staff=False)["from"] == "staff"


def test_lead_json_has_only_the_shared_values() -> None:
    view = lead_json(lead(("name", "email")))
    assert view["name"] == "Maria Lopez" and view["email"] == "maria@example.org"
    assert view["profession"] is None and view["organisation"] is None
    assert view["fields"] == ["name", "email"] and view["shared_at"] == T0.isoformat()
    assert "user_id" not in view


def test_a_lead_never_reveals_a_stored_value_of_a_field_not_shared() -> None:
    sneaky = Lead(1, "meridian", 7, ("name",), "Maria", "maria@example.org", "physician", "Acme", T0)
    assert lead_json(sneaky)["email"] is None and lead_json(sneaky)["organisation"] is None


@pytest.mark.parametrize("raw", [None, [], "name", ["name", 3], ["npi"], ["name", "password"]])
def test_parse_fields_refuses_anything_but_a_list_of_known_fields(raw: object) -> None:
    with pytest.raises(BadRequest):
        parse_fields(raw)


def test_parse_fields_orders_and_deduplicates() -> None:
    assert parse_fields(["email", "name", "email"]) == ("name", "email")
    assert parse_fields(list(FIELDS)) == FIELDS


def test_lead_csv_has_a_header_blank_unshared_cells_and_defuses_formulas() -> None:
    formula = Lead(2, "meridian", 8, ("name", "email"), "=HYPERLINK(\"http://x\")", "+1@x.org", "", "", T0)
    rows = list(csv.reader(io.StringIO(lead_csv([lead(("name",)), formula]))))
    assert rows[0] == [*FIELDS, "shared_fields", "shared_at"]
    assert rows[1][:4] == ["Maria Lopez", "", "", ""] and rows[1][4] == "name"
    assert rows[2][0].startswith("'=") and rows[2][1].startswith("'+")


def test_analytics_counts_visits_unique_visitors_median_dwell_and_downloads_per_hour() -> None:
    visits = [
        Visit("a", T0, T0 + timedelta(seconds=60)),
        Visit("a", T0 + timedelta(minutes=30), T0 + timedelta(minutes=30, seconds=120)),
        Visit("b", T0 + timedelta(minutes=70), T0 + timedelta(minutes=70, seconds=600)),
        Visit("c", T0 + timedelta(minutes=75), None),  # still inside: no dwell yet
    ]
    downloads = [T0 + timedelta(minutes=5), T0 + timedelta(minutes=65), T0 + timedelta(minutes=66)]
    result = analytics(visits, downloads)
    assert (result.visits, result.unique_visitors, result.downloads) == (4, 3, 3)
    assert result.median_dwell_s == 120
    assert [(h.hour, h.visits, h.downloads) for h in result.per_hour] == [
        (T0, 2, 1), (T0 + timedelta(hours=1), 2, 2)]


def test_analytics_of_an_empty_booth() -> None:
    result = analytics([], [])
    assert (result.visits, result.unique_visitors, result.median_dwell_s, result.per_hour) == (0, 0, None, ())


@given(st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=40))
def test_median_dwell_lies_between_the_shortest_and_longest_visit(seconds: list[int]) -> None:
    visits = [Visit(str(i), T0, T0 + timedelta(seconds=s)) for i, s in enumerate(seconds)]
    median = analytics(visits, []).median_dwell_s
    assert median is not None and min(seconds) <= median <= max(seconds)


def test_staff_are_the_booths_own_staff_and_organizers() -> None:
    pat = User(1, "pat@x.org", "Pat", Role.EXHIBITOR, staffs=frozenset({"meridian"}))
    olivia = User(2, "o@x.org", "Olivia", Role.ORGANIZER)
    maria = User(3, "m@x.org", "Maria", Role.ATTENDEE)
    assert is_staff(pat, "meridian") and not is_staff(pat, "cardiova")
    assert is_staff(olivia, "cardiova") and not is_staff(maria, "meridian")


def test_booths_sort_by_tier_then_name_and_link_resources_through_the_counter() -> None:
    booths = [Booth("s", "Society", "society", "", ()), Booth("b", "Beta", "gold", "", ()),
              Booth("a", "Alpha", "gold", "", ()), Booth("p", "Plat", "platinum", "", (),
                                                         (BoothResource("PI", "https://example.org/pi.pdf"),))]
    assert [b.id for b in sorted_booths(booths)] == ["p", "a", "b", "s"]
    view = booth_json(booths[3], [], ["Pat"])
    assert view["resources"] == [{"title": "PI", "url": "/hall/p/links/0", "kind": "link"}]
    assert view["staff_online"] == ["Pat"]


@pytest.mark.parametrize(("name", "head", "expected"), [
    ("leaflet.pdf", b"%PDF-1.7\n...", "application/pdf"),
    ("logo.PNG", b"\x89PNG\r\n\x1a\n....", "image/png"),
    ("photo.jpeg", b"\xff\xd8\xff\xe0", "image/jpeg"),
    ("notes.txt", "Dosing: 10 mg — once daily".encode(), "text/plain; charset=utf-8"),
])
def test_allowed_uploads_get_their_checked_type(name: str, head: bytes, expected: str) -> None:
    assert upload_type(name, head) == expected


@pytest.mark.parametrize(("name", "head"), [
    ("page.html", b"<html><script>alert(1)</script>"),
    ("image.svg", b"<svg onload=alert(1)>"),
    ("fake.pdf", b"<html>not a pdf"),
    ("fake.png", b"%PDF-1.4"),
    ("notes.txt", b"hello <script>alert(1)</script>"),
    ("notes.txt", b"\x00\x01binary"),
    ("noextension", b"%PDF-1.4"),
    ("tool.exe", b"MZ\x90\x00"),
])
def test_other_uploads_are_refused(name: str, head: bytes) -> None:
    with pytest.raises(BadRequest):
        upload_type(name, head)


def test_file_names_lose_paths_and_header_breaking_characters() -> None:
    assert safe_filename("../../etc/passwd") == "passwd"
    assert safe_filename("C:\\Users\\x\\Leaflet \"v2\".pdf") == "Leaflet v2.pdf"
    assert safe_filename("a\r\nSet-Cookie: x.pdf") == "aSet-Cookie x.pdf"
    assert safe_filename("...") == "file"


def test_content_disposition_is_always_an_attachment_with_a_utf8_name() -> None:
    value = content_disposition("Fiche posologie é.pdf")
    assert value.startswith("attachment; filename=\"Fiche posologie _.pdf\"")
    assert "filename*=UTF-8''Fiche%20posologie%20%C3%A9.pdf" in value
