"""Amounts as pages show them, the error page's header and heading, and the favicon."""

from __future__ import annotations

from decimal import Decimal

import pytest
from aiohttp.test_utils import TestClient

from server.catalogue import Role
from server.display import amount_text, credit_phrase
from tests.conftest import add_person


@pytest.mark.parametrize(("amount", "ctype", "text"), [
    (Decimal("1.00"), "ama_pra_1", "1 AMA PRA Category 1 Credit™"),
    (1.0, "ama_pra_1", "1 AMA PRA Category 1 Credit™"),
    (Decimal("1.25"), "ama_pra_1", "1.25 AMA PRA Category 1 Credits™"),
    (Decimal("0.50"), "ancc", "0.5 ANCC contact hours"),
    (Decimal(2), "acpe", "2 ACPE contact hours"),
    (Decimal(1), "participation", "1 participation hour"),
    (Decimal(3), "unknown_type", "3 unknown_type"),
])
def test_credit_phrase_is_singular_for_exactly_one(amount: object, ctype: str, text: str) -> None:
    assert credit_phrase(amount, ctype) == text


def test_amount_text_drops_trailing_zeros_only() -> None:
    assert [amount_text(a) for a in ("10", "10.0", "0.25", "1E+1", "n/a")] == ["10", "10", "0.25", "10", "n/a"]


async def test_a_signed_in_user_s_404_page_says_not_found_once_and_offers_no_sign_in(client: TestClient) -> None:
    person = await add_person(client.server.app, "maria@example.org", Role.ATTENDEE, name="Maria Lopez")
    resp = await client.get("/no/such/page", headers={**person.auth, "Accept": "text/html"})
    html = await resp.text()
    assert resp.status == 404
    assert html.lower().count("not found") == 2  # the <title> and the heading, not a repeated reason
    assert 'href="/login"' not in html and "Maria Lopez" in html

    anonymous = await client.get("/no/such/page", headers={"Accept": "text/html"})
    assert anonymous.status == 404 and 'href="/login"' in await anonymous.text()


async def test_every_page_links_the_favicon_and_it_is_served(client: TestClient) -> None:
    page = await client.get("/", headers={"Accept": "text/html"})
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in await page.text()
    icon = await client.get("/static/favicon.svg")
    assert icon.status == 200 and (await icon.text()).startswith("<svg")
