"""Certificates: the PDF's text (pypdf), its verification code, and the public /verify page."""

from __future__ import annotations

import io
import re
from decimal import Decimal
from pathlib import Path

import pypdf
import pytest
from aiohttp.test_utils import TestClient

from server.catalogue import Role
from server.certificates import CertificateText, render_certificate
from server.settings import Settings
from tests.conftest import Person, add_person, make_settings
from tests.credit_support import HF, acknowledge, after_the_session, evaluate, set_profile, watch

People = dict[str, Person]


@pytest.fixture
def settings(tmp_path: Path, conference_file: Path) -> Settings:
    return make_settings(tmp_path / "data", conference_file, heartbeat_tolerance_s=7200)


def pdf_text(data: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(data))
    assert len(reader.pages) == 1
    return " ".join(reader.pages[0].extract_text().split())


async def claimed(client: TestClient, person: Person, ctype: str = "ama_pra_1", amount: str = "1.00") -> None:
    await acknowledge(client, person, HF)
    await watch(client.app, person, HF, 75)
    await evaluate(client, person, HF)
    after_the_session(client.app)  # claiming opens when the session ends
    resp = await client.post(f"/api/sessions/{HF}/claim", json={"credit_type": ctype, "amount": amount,
                                                                 "attest": True}, headers=person.auth)
    assert resp.status == 201, await resp.text()


async def certificate(client: TestClient, person: Person, ctype: str = "ama_pra_1") -> tuple[str, str]:
    resp = await client.get(f"/certificates/{ctype}.pdf", headers=person.auth)
    assert resp.status == 200 and resp.content_type == "application/pdf"
    text = pdf_text(await resp.read())
    code = re.search(r"Verification code: ([A-Z0-9-]{14})", text)
    assert code is not None, text
    return text, code.group(1)


async def test_certificate_states_the_claimed_credit_and_everything_an_accreditor_asks(
        client: TestClient, people: People) -> None:
    maria = people["attendee"]
    await claimed(client, maria, amount="1.00")  # eligible 1.25: the certificate says what was claimed
    text, code = await certificate(client, maria)
    for expected in ("Maria.Lopez", "Lakeshore Institute for Continuing Medical Education",
                     "Cardiometabolic Medicine Update 2026", "live activity", "online",
                     "claimed 1.00 AMA PRA Category 1 Credits™", "jointly accredited by the Accreditation Council",
                     "designates this live activity for a maximum of", "Physicians should claim only the credit"):
        assert expected in text, expected
    assert "1.25" not in text
    assert re.search(r"\d{1,2}(–\d{1,2})? [A-Z][a-z]+ \d{4}", text)  # the activity's dates
    assert f"/verify/{code}" in text


async def test_the_same_claims_give_the_same_certificate_code(client: TestClient, people: People) -> None:
    maria = people["attendee"]
    await claimed(client, maria)
    assert (await certificate(client, maria))[1] == (await certificate(client, maria))[1]


async def test_verify_confirms_holder_activity_date_type_amount_and_nothing_else(
        client: TestClient, people: People) -> None:
    maria = people["attendee"]
    await set_profile(client.app, maria, npi="1234567890", board_id="ABIM-77", dob_month=2, dob_day=9)
    await claimed(client, maria)
    _, code = await certificate(client, maria)
    facts = await (await client.get(f"/verify/{code}", headers={"Accept": "application/json"})).json()
    assert set(facts) == {"holder", "activity", "date", "credit_type", "credit_name", "amount"}
    assert facts["holder"] == maria.user.name and facts["amount"] == "1.00" and facts["credit_type"] == "ama_pra_1"
    page = await client.get(f"/verify/{code.lower()}")  # public: no credentials; codes read off paper
    assert page.status == 200
    html = await page.text()
    assert maria.user.name in html and "1.00 AMA PRA Category 1 Credits™" in html
    for private in (maria.user.email, "1234567890", "ABIM-77"):
        assert private not in html


async def test_unknown_verification_codes_are_404(client: TestClient) -> None:
    assert (await client.get("/verify/AAAA-BBBB-CCCC")).status == 404
    assert (await client.get("/verify/" + "x" * 300)).status == 404


async def test_a_correction_issues_a_new_certificate_and_the_old_code_stops_verifying(
        client: TestClient, people: People) -> None:
    maria = people["attendee"]
    await claimed(client, maria)
    _, old = await certificate(client, maria)
    fix = {"email": maria.user.email, "session": HF, "credit_type": "ama_pra_1", "amount": "0.75", "reason": "audit"}
    assert (await client.post("/api/organizer/credit/corrections", json=fix,
                              headers=people["organizer"].auth)).status == 201
    text, new = await certificate(client, maria)
    assert new != old and "claimed 0.75 AMA PRA" in text
    assert (await client.get(f"/verify/{old}")).status == 410
    assert (await (await client.get(f"/verify/{new}", headers={"Accept": "application/json"})).json())["amount"] == "0.75"


async def test_no_certificate_before_a_claim_and_none_for_exhibitors(client: TestClient, people: People) -> None:
    assert (await client.get("/certificates/ama_pra_1.pdf", headers=people["attendee"].auth)).status == 404
    assert (await client.get("/certificates/bogus.pdf", headers=people["attendee"].auth)).status == 404
    assert (await client.get("/certificates/ama_pra_1.pdf", headers=people["exhibitor"].auth)).status == 403


async def test_everyone_else_gets_a_participation_certificate(client: TestClient, people: People) -> None:
    pa = await add_person(client.app, "pa@example.org", Role.ATTENDEE, name="Sam Rivera, PA-C",
                          profession="physician assistant")
    await claimed(client, pa, ctype="participation", amount="1.25")
    text, _ = await certificate(client, pa, "participation")
    assert "Certificate of Participation" in text and "claimed 1.25 hours of participation" in text
    assert "confirms participation in 1.25 hours" in text


def test_names_cannot_inject_pdf_markup() -> None:
    cert = CertificateText("<b>Eve</b> & <font size=40>Co</font>", "P", "A", "1 June 2026", "online",
                           "ama_pra_1", Decimal("0.25"), "acc", "des", "AAAA-BBBB-CCCC", "http://x/verify/AAAA-BBBB-CCCC",
                           "1 June 2026")
    text = pdf_text(render_certificate(cert))
    assert "<b>Eve</b> & <font size=40>Co</font>" in text
