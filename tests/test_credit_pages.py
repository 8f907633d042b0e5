"""Credit pages (forms, organizer reports) and the credit store on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from server.catalogue import Role
from server.credit import AlreadyClaimed, Basis, CreditClaim, CreditType
from server.errors import Conflict, NotFound
from server.settings import Settings
from server.store.accounts import AccountStore
from server.store.credit import CreditStore
from server.store.db import connect, migrate
from tests.conftest import Person, make_settings
from tests.credit_support import HF, acknowledge, after_the_session, audit_rows, evaluate, watch

pytestmark = pytest.mark.unacknowledged  # these tests pass the disclosure gate themselves

People = dict[str, Person]


@pytest.fixture
def settings(tmp_path: Path, conference_file: Path) -> Settings:
    return make_settings(tmp_path / "data", conference_file, heartbeat_tolerance_s=7200)


async def test_claim_form_rerenders_with_the_reason_and_records_nothing(client: TestClient, people: People) -> None:
    maria = people["attendee"]
    await acknowledge(client, maria, HF)
    await watch(client.app, maria, HF, 75)
    live = await (await client.get(f"/sessions/{HF}/claim", headers=maria.auth)).text()
    assert 'id="claim-opens"' in live and "<form" not in live.split("<main", 1)[1]  # no claim while live
    after_the_session(client.app)
    page = await client.get(f"/sessions/{HF}/claim", headers=maria.auth)
    assert 'href="/sessions/heart-failure-2026/evaluation"' in await page.text()  # evaluation first
    await evaluate(client, maria, HF)
    after_the_session(client.app)  # claiming opens when the session ends
    html = await (await client.get(f"/sessions/{HF}/claim", headers=maria.auth)).text()
    assert 'max="1.25"' in html and 'value="1.25"' in html
    assert "commensurate with the extent of my participation" in html
    form = {"credit_type": "ama_pra_1", "amount": "1.5", "attest": "on"}
    resp = await client.post(f"/sessions/{HF}/claim", data=form, headers=maria.auth)
    assert resp.status == 400 and "more than the 1.25 you are eligible for" in await resp.text()
    resp = await client.post(f"/sessions/{HF}/claim", data=form | {"amount": "1", "attest": ""}, headers=maria.auth)
    assert resp.status == 400 and "attestation must be accepted" in await resp.text()
    assert not await audit_rows(client.app)
    resp = await client.post(f"/sessions/{HF}/claim", data=form | {"amount": "1"}, headers=maria.auth,
                             allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/transcript"


async def test_evaluation_form_escapes_and_keeps_answers_on_error(client: TestClient, people: People) -> None:
    maria = people["attendee"]
    page = await (await client.get(f"/sessions/{HF}/evaluation", headers=maria.auth)).text()
    token = re.search(r'name="token" value="([^"]+)"', page)
    assert token is not None
    resp = await client.post(f"/sessions/{HF}/evaluation", headers=maria.auth,
                             data={"token": token.group(1), "objectives": "5", "change": "<script>x</script>"})
    html = await resp.text()
    assert resp.status == 400 and "The content was free of commercial bias." in html
    assert "<script>x</script>" not in html and "&lt;script&gt;x&lt;/script&gt;" in html
    ok = await client.post(f"/sessions/{HF}/evaluation", headers=maria.auth, allow_redirects=False,
                           data={"token": token.group(1), "objectives": "5", "bias": "yes"})
    assert ok.status == 303 and ok.headers["Location"] == f"/sessions/{HF}/claim"


async def test_sessions_without_an_evaluation_have_no_evaluation_page(client: TestClient, people: People) -> None:
    resp = await client.get("/sessions/diabetic-kidney-case/evaluation", headers=people["attendee"].auth)
    assert resp.status == 404


async def test_transcript_page_lists_sessions_with_status_and_certificates(client: TestClient, people: People) -> None:
    maria = people["attendee"]
    await acknowledge(client, maria, HF)
    await watch(client.app, maria, HF, 75)
    await evaluate(client, maria, HF)
    after_the_session(client.app)  # claiming opens when the session ends
    await client.post(f"/api/sessions/{HF}/claim", json={"credit_type": "ama_pra_1", "amount": "1.25", "attest": True},
                      headers=maria.auth)
    html = await (await client.get("/transcript", headers=maria.auth)).text()
    assert "Heart Failure in 2026" in html and "70 min" in html
    assert 'href="/certificates/ama_pra_1.pdf"' in html and "1.25 AMA PRA Category 1 Credits™" in html
    empty = await (await client.get("/transcript", headers=people["attendee2"].auth)).text()
    assert "No sessions attended yet." in empty
    assert (await client.get("/transcript", allow_redirects=False)).status == 303


async def test_organizer_reports_section_links_exports_and_session_reports(client: TestClient, people: People) -> None:
    html = await (await client.get("/organizer", headers=people["organizer"].auth)).text()
    assert "Credit reports" in html and 'href="/organizer/credit/learners.csv"' in html
    assert 'href="/organizer/credit?session=heart-failure-2026"' in html
    assert "industry-lunch" not in html.split("Credit reports", 1)[1]  # only accredited sessions


async def test_organizer_corrects_through_the_form_and_sees_the_audit_log(client: TestClient, people: People) -> None:
    maria, organizer = people["attendee"], people["organizer"]
    await acknowledge(client, maria, HF)
    await watch(client.app, maria, HF, 75)
    await evaluate(client, maria, HF)
    after_the_session(client.app)  # claiming opens when the session ends
    await client.post(f"/api/sessions/{HF}/claim", json={"credit_type": "ama_pra_1", "amount": "1.25", "attest": True},
                      headers=maria.auth)
    page = await (await client.get(f"/organizer/credit?session={HF}", headers=organizer.auth)).text()
    assert maria.user.email in page and "70 min" in page
    form = {"session": HF, "email": maria.user.email, "credit_type": "ama_pra_1", "amount": "0.75",
            "reason": "left during the case <discussion>"}
    resp = await client.post("/organizer/credit/corrections", data=form, headers=organizer.auth,
                             allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"].endswith("&done=1")
    page = await (await client.get(resp.headers["Location"], headers=organizer.auth)).text()
    assert "Correction recorded in the audit log." in page
    audit = page.split('id="audit"', 1)[1]
    assert "credit.correct" in audit and "1.25" in audit and "0.75" in audit
    assert "left during the case &lt;discussion&gt;" in audit
    bad = await client.post("/organizer/credit/corrections", data=form | {"amount": "0.3"}, headers=organizer.auth,
                            allow_redirects=False)
    assert bad.status == 303 and "error=" in bad.headers["Location"]
    assert len([r for r in await audit_rows(client.app) if r.action == "credit.correct"]) == 1
    assert (await client.get("/organizer/credit", headers=people["moderator"].auth)).status == 403
    refused = await client.post("/organizer/credit/corrections", data=form, headers=people["moderator"].auth)
    assert refused.status == 403


@pytest.fixture(params=["sqlite", "postgresql"])
async def engine(request: pytest.FixtureRequest, settings: Settings) -> AsyncIterator[AsyncEngine]:
    chosen = settings if request.param == "sqlite" else request.getfixturevalue("pg_settings")
    engine = connect(chosen.db_url)
    await migrate(engine)
    yield engine
    await engine.dispose()


async def test_credit_store_contract(engine: AsyncEngine) -> None:
    users = AccountStore(engine)
    ada = await users.create("ada@example.org", "Ada Lovelace, MD", Role.ATTENDEE, profession="physician")
    store = CreditStore(engine)
    now = datetime(2026, 6, 11, 15, 0, tzinfo=UTC)
    assert not await store.acknowledged_any(ada.id, HF)
    await store.acknowledge(ada.id, HF, "v1", now)
    await store.acknowledge(ada.id, HF, "v1", now)
    assert await store.acknowledged(ada.id, HF, "v1") and not await store.acknowledged(ada.id, HF, "v2")
    await store.save_evaluation(ada.id, HF, {"objectives": 4}, 120.0, now)
    with pytest.raises(Conflict):
        await store.save_evaluation(ada.id, HF, {"objectives": 5}, 1.0, now)
    assert await store.evaluation_seconds(ada.id) == {HF: 120.0}
    claim = CreditClaim(ada.id, HF, CreditType.AMA_PRA_1, Basis.LEARNER, Decimal("1.25"), now)
    await store.claim(claim, actor=ada.email)
    with pytest.raises(AlreadyClaimed):
        await store.claim(claim, actor=ada.email)
    assert await store.claims(ada.id) == [claim]
    before, after = await store.correct(ada.id, HF, CreditType.AMA_PRA_1, Basis.LEARNER, Decimal("0.50"),
                                        "organizer@example.org", "review", now)
    assert before == claim and after.amount == Decimal("0.50")
    cert = await store.certificate_for(ada.id, "conf", CreditType.AMA_PRA_1, Decimal("0.50"), "Ada Lovelace, MD",
                                       "Conf", "11 June 2026", now, actor=ada.email)
    assert (await store.certificate(cert.code.lower())).amount == Decimal("0.50")
    again = await store.certificate_for(ada.id, "conf", CreditType.AMA_PRA_1, Decimal("0.50"), "Ada Lovelace, MD",
                                        "Conf", "11 June 2026", now, actor=ada.email)
    assert again.code == cert.code
    with pytest.raises(NotFound):
        await store.certificate("ZZZZ-ZZZZ-ZZZZ")
    found = await store.claims_with_learners([HF])
    assert [(c.amount, r.name) for c, r in found] == [(Decimal("0.50"), "Ada Lovelace, MD")]
    assert [e.action for e in await store.audit()] == ["credit.certificate", "credit.correct", "credit.claim"]
