"""The learner's profile (issue 12, finding 4): a page and an API for the identifiers credit needs,
checked (NPI check digit, e-Profile ID, birth day, licence state, time zone), audited, feeding the
next claim and the certificate; conference-file accounts carry the same fields."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pypdf
import pytest
from aiohttp.test_utils import TestClient
from hypothesis import given
from hypothesis import strategies as st

from server.app import create_app
from server.catalogue import Role
from server.profile import ProfileRejected, npi_valid, parse_profile
from server.settings import Settings
from server.state import ACCOUNTS, CATALOGUE, ENGINE, SETTINGS
from server.store.credit import CreditStore
from server.tokens import mint_token
from tests.conftest import DEMO, Person, add_person, make_settings
from tests.credit_support import HF, after_the_session, audit_rows, evaluate, watch, watch_together

People = dict[str, Person]


@pytest.fixture
def settings(tmp_path: Path, conference_file: Path) -> Settings:
    return make_settings(tmp_path / "data", conference_file, heartbeat_tolerance_s=7200)


# -- the rules --------------------------------------------------------------------------------


def test_npi_check_digit_follows_the_cms_rule() -> None:
    assert npi_valid("1234567893")  # CMS's worked example: 80840 + 123456789 -> check digit 3
    assert npi_valid("1558598797")
    assert not npi_valid("1234567890") and not npi_valid("123456789") and not npi_valid("3234567893")
    assert not npi_valid("12345678a3")


@given(st.integers(100_000_000, 299_999_999))
def test_exactly_one_check_digit_makes_an_npi_valid(nine: int) -> None:
    body = str(nine)
    valid = [d for d in "0123456789" if npi_valid(body + d)]
    assert len(valid) == (1 if body[0] in "12" else 0)


@pytest.mark.parametrize(("fields", "field"), [
    ({"npi": "1234567890"}, "npi"),
    ({"nabp_eprofile_id": "12ab"}, "nabp_eprofile_id"),
    ({"birth_month": "2", "birth_day": "30"}, "birth_day"),
    ({"birth_month": "13", "birth_day": "1"}, "birth_month"),
    ({"birth_month": "4"}, "birth_day"),
    ({"licence_state": "ZZ"}, "licence_state"),
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"profession": "wizard"}, "profession"),
    ({"certificate_name": "<script>alert(1)</script>"}, "certificate_name"),
    ({"certificate_name": "x" * 201}, "certificate_name"),
    ({"degree": "M.D.; DROP"}, "degree"),
    ({"report_permission": "perhaps"}, "report_permission"),
    ({"shoe_size": "11"}, "shoe_size"),
    ({"npi": 1234567893}, "npi"),
])
def test_bad_profile_fields_are_refused_by_name(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(ProfileRejected) as info:
        parse_profile(fields)
    assert info.value.extra["field"] == field and info.value.status == 400


# -- the page and the API ---------------------------------------------------------------------


async def csrf_of(client: TestClient, path: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', await (await client.get(path)).text())
    assert match is not None
    return match.group(1)


async def test_the_profile_page_saves_with_csrf_escapes_and_audits(client: TestClient) -> None:
    assert (await client.get("/profile", allow_redirects=False)).status == 303  # sign in first
    await add_person(client.app, "ada@example.org", Role.ATTENDEE, password="a long password 1")
    login = await client.post("/login", data={"email": "ada@example.org", "password": "a long password 1",
                                              "csrf": await csrf_of(client, "/login")}, allow_redirects=False)
    assert login.status == 303
    page = await (await client.get("/profile")).text()
    assert 'href="/profile"' in page and 'id="profile-form"' in page and "Report my completion" in page
    form = {"certificate_name": 'Ada "Lovelace" & Babbage, MD', "degree": "MD", "profession": "physician",
            "npi": "1234567893", "board": "ABIM", "board_id": "A-1", "licence_state": "il", "licence": "036-1",
            "report_permission": "on", "timezone": "Europe/London"}
    assert (await client.post("/profile", data=form, allow_redirects=False)).status == 403  # no CSRF token
    token = await csrf_of(client, "/profile")
    saved = await client.post("/profile", data=form | {"csrf": token}, allow_redirects=False)
    assert saved.status == 303 and saved.headers["Location"] == "/profile?saved=1"
    html = await (await client.get("/profile?saved=1")).text()
    assert 'value="Ada &#34;Lovelace&#34; &amp; Babbage, MD"' in html and 'id="profile-saved"' in html
    body = (await (await client.get("/api/me/profile")).json())["profile"]
    assert body["licence_state"] == "IL" and body["report_permission"] is True and body["npi"] == "1234567893"
    bad = await client.post("/profile", data=form | {"csrf": token, "npi": "1234567890"})
    assert bad.status == 400 and 'data-field="npi"' in await bad.text()
    assert (await (await client.get("/api/me/profile")).json())["profile"]["npi"] == "1234567893"  # unchanged
    rows = [r for r in await audit_rows(client.app) if r.action == "profile.update"]
    assert len(rows) == 1 and rows[0].actor == "ada@example.org" and rows[0].after["npi"] == "1234567893"
    assert rows[0].before["npi"] == ""


async def test_the_api_refuses_bad_input_and_writes_nothing(client: TestClient, people: People) -> None:
    maria = people["attendee"]
    assert (await client.put("/api/me/profile", json={"npi": "1234567893"})).status == 401
    for body in ({"npi": "1111111111"}, {"birth_month": 2, "birth_day": 31}, [1, 2], {"timezone": 5}):
        resp = await client.put("/api/me/profile", json=body, headers=maria.auth)
        assert resp.status == 400, body
    resp = await client.put("/api/me/profile", json={"npi": "1111111111"}, headers=maria.auth)
    assert (await resp.json())["field"] == "npi"
    assert not [r for r in await audit_rows(client.app) if r.action.startswith("profile.")]


async def test_profile_edits_feed_the_next_claim_and_the_certificate(client: TestClient, people: People) -> None:
    priya = people["pharmacist"]
    await watch(client.app, priya, HF, 75)
    await evaluate(client, priya, HF)
    after_the_session(client.app)
    claim = {"credit_type": "acpe", "amount": "1.25", "attest": True}
    refused = await client.post(f"/api/sessions/{HF}/claim", json=claim, headers=priya.auth)
    body = await refused.json()
    assert refused.status == 400 and body["error"] == "nabp_profile_missing" and body["profile"] == "/profile"
    form = await client.post(f"/sessions/{HF}/claim", data={"credit_type": "acpe", "amount": "1.25", "attest": "on"},
                             headers=priya.auth)
    assert form.status == 400 and '<a href="/profile" id="fix-profile">' in await form.text()
    profile = {"profession": "pharmacist", "nabp_eprofile_id": "1234567", "birth_month": 3, "birth_day": 14,
               "certificate_name": "Priya R. Shah, PharmD"}
    assert (await client.put("/api/me/profile", json=profile, headers=priya.auth)).status == 200
    assert (await client.post(f"/api/sessions/{HF}/claim", json=claim, headers=priya.auth)).status == 201
    pdf = await client.get("/certificates/acpe.pdf", headers=priya.auth)
    text = " ".join(pypdf.PdfReader(io.BytesIO(await pdf.read())).pages[0].extract_text().split())
    assert "Priya R. Shah, PharmD" in text


async def test_an_organizer_correction_runs_the_same_checks_as_a_claim(client: TestClient, people: People) -> None:
    priya, organizer = people["pharmacist"], people["organizer"]
    fix = {"email": priya.user.email, "session": HF, "credit_type": "acpe", "amount": "1.25", "reason": "review"}
    resp = await client.post("/api/organizer/credit/corrections", json=fix, headers=organizer.auth)
    assert resp.status == 400 and (await resp.json())["error"] == "nabp_profile_missing"
    assert await CreditStore(client.app[ENGINE]).claims(priya.user.id) == []


async def test_conference_file_accounts_carry_profile_fields(tmp_path: Path, aiohttp_client: Any) -> None:
    client: TestClient = await aiohttp_client(create_app(make_settings(tmp_path / "data", DEMO,
                                                                       heartbeat_tolerance_s=7200)))
    app = client.app

    async def person(email: str) -> Person:
        user = await app[ACCOUNTS].by_email(email)
        assert user is not None
        return Person(user, mint_token(app[SETTINGS].secret_key, user.id, 3600))

    maria, priya = await person("maria.lopez@demo.rounds"), await person("priya.shah@demo.rounds")
    mine = (await (await client.get("/api/me/profile", headers=maria.auth)).json())["profile"]
    assert mine["report_permission"] is True and npi_valid(mine["npi"])
    theirs = (await (await client.get("/api/me/profile", headers=priya.auth)).json())["profile"]
    assert theirs["nabp_eprofile_id"] and theirs["birth_month"] and theirs["birth_day"]
    for who in (maria, priya):
        info = await (await client.get(f"/api/sessions/{HF}", headers=who.auth)).json()
        await client.post(f"/api/sessions/{HF}/disclosure", json={"version": info["disclosure"]["version"]},
                          headers=who.auth)
    await watch_together(app, [maria, priya], HF, 75)
    for who in (maria, priya):
        await evaluate(client, who, HF)
    after_the_session(app)
    for who, ctype in ((maria, "ama_pra_1"), (priya, "acpe")):
        resp = await client.post(f"/api/sessions/{HF}/claim", json={"credit_type": ctype, "amount": "1.25",
                                                                    "attest": True}, headers=who.auth)
        assert resp.status == 201, await resp.text()
    org = await person("organizer@demo.rounds")
    learners = list(csv.DictReader(io.StringIO(await (await client.get("/organizer/credit/learners.csv",
                                                                        headers=org.auth)).text())))
    assert [(r["last_name"], r["credit_type"]) for r in learners] == [("Lopez", "ama_pra_1")]  # not empty
    cpe = list(csv.DictReader(io.StringIO(await (await client.get("/organizer/credit/cpe.csv", headers=org.auth)).text())))
    session = app[CATALOGUE].session(HF)
    assert session is not None
    assert [(r["activity_id"], r["contact_hours"]) for r in cpe] == [(session.uan, "1.25")]  # the session's UAN
    zone = ZoneInfo(app[CATALOGUE].conference.timezone)
    assert cpe[0]["participation_date"] == session.start.astimezone(zone).date().isoformat()  # the session's date
