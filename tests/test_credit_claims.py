"""Claims that cannot trap a learner (issue 12, findings 5 and 6): claiming opens when the session
ends, a claim can be amended up to the eligible amount until the conference's deadline, and a
learner may ask for more than measured through the organizers' queue. Every change is audited."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from server.settings import Settings
from server.state import CATALOGUE, CLOCK
from tests.conftest import Person, make_settings
from tests.credit_support import (
    HF,
    acknowledge,
    advance,
    after_the_session,
    audit_rows,
    evaluate,
    watch,
)

People = dict[str, Person]
MIN = 60


@pytest.fixture
def settings(tmp_path: Path, conference_file: Path) -> Settings:
    return make_settings(tmp_path / "data", conference_file, heartbeat_tolerance_s=7200)


async def claim(client: TestClient, person: Person, amount: Any, credit_type: str = "ama_pra_1") -> Any:
    return await client.post(f"/api/sessions/{HF}/claim", headers=person.auth,
                             json={"credit_type": credit_type, "amount": amount, "attest": True})


async def ask(client: TestClient, person: Person, amount: Any, reason: Any = "My tab was in the background while I "
              "listened to the whole lecture", credit_type: str = "ama_pra_1") -> Any:
    return await client.post(f"/api/sessions/{HF}/credit-requests", headers=person.auth,
                             json={"credit_type": credit_type, "amount": amount, "reason": reason, "attest": True})


async def line(client: TestClient, person: Person) -> dict[str, Any]:
    body = await (await client.get("/api/me/transcript", headers=person.auth)).json()
    return next(s for s in body["sessions"] if s["id"] == HF)  # type: ignore[no-any-return]


async def test_an_early_claim_is_refused_until_the_session_ends_then_amended(client: TestClient, people: People) -> None:
    maria = people["attendee"]
    await acknowledge(client, maria, HF)
    await evaluate(client, maria, HF)
    await watch(client.app, maria, HF, 58)  # 09:10 -> 10:08: minute 68 of the session, 53 counted
    early = await claim(client, maria, "0.75")
    body = await early.json()
    assert early.status == 409 and body["error"] == "claim_not_open"
    hf = client.app[CATALOGUE].session(HF)
    assert hf is not None and body["opens_at"] == hf.end.isoformat()
    page = await (await client.get(f"/sessions/{HF}/claim", headers=maria.auth)).text()
    assert 'id="claim-opens"' in page and 'name="amount"' not in page  # the page does not invite it

    await watch(client.app, maria, HF, 22, tab="later")  # to 10:30: 75 counted minutes
    after_the_session(client.app)
    assert (await line(client, maria))["eligible"] == {"ama_pra_1": "1.25"}
    assert (await claim(client, maria, "0.75")).status == 201
    amended = await claim(client, maria, "1.25")
    assert amended.status == 200 and (await amended.json())["amended"] is True
    assert (await line(client, maria))["claimed"] == {"ama_pra_1": "1.25"}
    above = await claim(client, maria, "1.50")
    assert above.status == 400 and (await above.json())["error"] == "amount_above_eligible"
    log = [r for r in await audit_rows(client.app) if r.action.startswith("credit.")]
    assert [r.action for r in log] == ["credit.claim", "credit.amend"]
    assert log[1].before["amount"] == "0.75" and log[1].after["amount"] == "1.25"


async def test_claims_and_amendments_close_at_the_conference_deadline(client: TestClient, people: People) -> None:
    maria = people["attendee"]
    await acknowledge(client, maria, HF)
    await evaluate(client, maria, HF)
    await watch(client.app, maria, HF, 75)
    after_the_session(client.app)
    assert (await claim(client, maria, "0.75")).status == 201
    cat = client.app[CATALOGUE]
    deadline = cat.conference.claims_close(cat.sessions)
    assert deadline is not None
    advance(client.app, (deadline - client.app[CLOCK].now()).total_seconds() + 60)
    late = await claim(client, maria, "1.25")
    assert late.status == 409 and (await late.json())["error"] == "claims_closed"
    assert (await line(client, maria))["claimed"] == {"ama_pra_1": "0.75"}


async def test_a_request_above_the_measured_amount_goes_through_the_organizer_queue(
        client: TestClient, people: People) -> None:
    maria, organizer, tom = people["attendee"], people["organizer"], people["attendee2"]
    await acknowledge(client, maria, HF)
    await evaluate(client, maria, HF)
    await watch(client.app, maria, HF, 55)  # 50 counted minutes: 0.75 measured
    after_the_session(client.app)
    assert (await line(client, maria))["eligible"] == {"ama_pra_1": "0.75"}

    for bad, reason, code in ((1.5, None, "amount_above_eligible"), ("x", None, "claim_rejected"),
                              (0.75, None, "bad_request"), (1.25, "short", "bad_request"),
                              (1.25, 42, "bad_request")):
        resp = await ask(client, maria, bad, **({} if reason is None else {"reason": reason}))
        assert resp.status == 400 and (await resp.json())["error"] == code, (bad, reason)
    assert (await (await ask(client, tom, 1.0)).json())["error"] == "credit_type_not_applicable"  # a nurse
    assert not [r for r in await audit_rows(client.app) if r.action.startswith("credit.request")]

    made = await ask(client, maria, "1.25")
    assert made.status == 201
    request = (await made.json())["request"]
    assert request["status"] == "pending" and request["measured"] == "0.75" and request["amount"] == "1.25"
    assert (await ask(client, maria, "1.00")).status == 409  # one pending request at a time

    assert (await client.get("/api/organizer/credit/requests", headers=maria.auth)).status == 403
    assert (await client.post(f"/api/organizer/credit/requests/{request['id']}", json={"decision": "approve"},
                              headers=maria.auth)).status == 403
    queue = await (await client.get("/api/organizer/credit/requests?status=pending", headers=organizer.auth)).json()
    assert [r["id"] for r in queue["requests"]] == [request["id"]]
    page = await (await client.get("/organizer/credit/requests", headers=organizer.auth)).text()
    assert "My tab was in the background" in page and 'value="approve"' in page
    bad = await client.post(f"/api/organizer/credit/requests/{request['id']}", json={"decision": "maybe"},
                            headers=organizer.auth)
    assert bad.status == 400

    ok = await client.post(f"/api/organizer/credit/requests/{request['id']}",
                           json={"decision": "approve", "note": "Attestation accepted"}, headers=organizer.auth)
    assert ok.status == 200 and (await ok.json())["request"]["status"] == "approved"
    again = await client.post(f"/api/organizer/credit/requests/{request['id']}", json={"decision": "refuse",
                              "note": "no"}, headers=organizer.auth)
    assert again.status == 409
    mine = await line(client, maria)
    assert mine["claimed"] == {"ama_pra_1": "1.25"}
    assert [(r["status"], r["note"]) for r in mine["requests"]] == [("approved", "Attestation accepted")]
    html = await (await client.get("/transcript", headers=maria.auth)).text()
    assert 'id="my-requests"' in html and "Attestation accepted" in html
    actions = [r.action for r in await audit_rows(client.app) if r.action.startswith("credit.")]
    assert actions == ["credit.request", "credit.claim", "credit.request.approve"]  # one transaction


async def test_a_refused_request_reaches_the_transcript_with_its_reason(client: TestClient, people: People) -> None:
    maria, organizer = people["attendee"], people["organizer"]
    await acknowledge(client, maria, HF)
    await evaluate(client, maria, HF)
    await watch(client.app, maria, HF, 55)
    after_the_session(client.app)
    request = (await (await ask(client, maria, "1.25")).json())["request"]
    path = f"/api/organizer/credit/requests/{request['id']}"
    assert (await client.post(path, json={"decision": "refuse"}, headers=organizer.auth)).status == 400  # needs a note
    done = await client.post(path, json={"decision": "refuse", "note": "The player was paused <b>30 min</b>"},
                             headers=organizer.auth)
    assert done.status == 200
    mine = await line(client, maria)
    assert "claimed" not in mine or mine["claimed"] == {}
    assert mine["requests"][0]["status"] == "refused"
    html = await (await client.get("/transcript", headers=maria.auth)).text()
    assert "&lt;b&gt;30 min&lt;/b&gt;" in html and "<b>30 min</b>" not in html
    assert [r.action for r in await audit_rows(client.app) if r.action.startswith("credit.")] == [
        "credit.request", "credit.request.refuse"]
