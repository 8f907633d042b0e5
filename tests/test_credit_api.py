"""Credit API: claims (201 / 400 with reasons / 409), evaluation, transcript fields, corrections."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from server.evidence import EVIDENCE, LEDGER
from server.settings import Settings
from server.state import CATALOGUE
from tests.conftest import Person, make_settings
from tests.credit_support import (
    HF,
    acknowledge,
    advance,
    audit_rows,
    claim,
    evaluate,
    ready,
    set_profile,
    transcript,
    watch,
)

pytestmark = pytest.mark.unacknowledged  # these tests pass the disclosure gate themselves

People = dict[str, Person]


@pytest.fixture
def settings(tmp_path: Path, conference_file: Path) -> Settings:
    # Two heartbeats may bound a long stretch: tests step the clock instead of beating every 15 s.
    return make_settings(tmp_path / "data", conference_file, heartbeat_tolerance_s=7200)


async def test_claim_records_the_measured_amount_and_the_transcript_shows_it(client: TestClient, people: People) -> None:
    maria = people["attendee"]
    await ready(client, maria)  # 09:10-10:25 minus the 5 min break = 70 min -> 1.25
    before = await transcript(client, maria)
    assert before[HF]["eligible"] == {"ama_pra_1": "1.25"}
    assert before[HF]["claimed"] == {} and before[HF]["status"] == "in_progress"
    resp = await claim(client, maria, 1.25)
    assert resp.status == 201, await resp.text()
    body = await resp.json()
    assert body["claim"] == body["claim"] | {"session": HF, "credit_type": "ama_pra_1", "amount": "1.25",
                                             "basis": "learner"}
    after = await transcript(client, maria)
    assert after[HF]["claimed"] == {"ama_pra_1": "1.25"} and after[HF]["status"] == "claimed"
    assert after["_total"]["claimed"] == {"ama_pra_1": "1.25"}


async def test_a_lower_claim_is_recorded_as_claimed_not_the_maximum(client: TestClient, people: People) -> None:
    maria = people["attendee"]
    await ready(client, maria)
    assert (await claim(client, maria, "0.5")).status == 201
    assert (await transcript(client, maria))[HF]["claimed"] == {"ama_pra_1": "0.50"}


@pytest.mark.parametrize(("amount", "attest", "code"), [
    (1.5, True, "amount_above_eligible"),
    (0.3, True, "not_quarter_step"),
    (0, True, "amount_not_positive"),
    (-0.25, True, "amount_not_positive"),
    ("lots", True, "claim_rejected"),
    (None, True, "claim_rejected"),
    (1.0, False, "attestation_missing"),
    (1.0, "yes", "attestation_missing"),
])
async def test_bad_claims_get_400_with_a_reason_and_record_nothing(
        client: TestClient, people: People, amount: Any, attest: Any, code: str) -> None:
    maria = people["attendee"]
    await ready(client, maria)
    resp = await claim(client, maria, amount, attest=attest)
    assert resp.status == 400
    body = await resp.json()
    assert body["error"] == code and body["reason"]
    assert (await transcript(client, maria))[HF]["claimed"] == {}
    assert not [r for r in await audit_rows(client.app) if r.action == "credit.claim"]


async def test_claim_above_eligible_names_the_eligible_amount(client: TestClient, people: People) -> None:
    maria = people["attendee"]
    await ready(client, maria)
    body = await (await claim(client, maria, 1.5)).json()
    assert body["eligible"] == "1.25"


async def test_claim_before_the_evaluation_is_refused(client: TestClient, people: People) -> None:
    maria = people["attendee"]
    await acknowledge(client, maria, HF)
    await watch(client.app, maria, HF, 75)
    resp = await claim(client, maria, 1.0)
    assert resp.status == 400 and (await resp.json())["error"] == "evaluation_required"
    assert (await transcript(client, maria))[HF]["evaluation"] == "required"


async def test_claim_without_the_disclosure_acknowledged_is_refused(client: TestClient, people: People) -> None:
    maria = people["attendee"]
    await watch(client.app, maria, HF, 75)
    resp = await claim(client, maria, 1.0)
    assert resp.status == 403 and (await resp.json())["error"] == "disclosure_required"


async def test_a_second_claim_of_the_same_type_amends_the_first(client: TestClient, people: People) -> None:
    maria = people["attendee"]
    await ready(client, maria)
    assert (await claim(client, maria, 0.5)).status == 201
    second = await claim(client, maria, 1.25)
    assert second.status == 200 and (await second.json())["amended"] is True
    assert (await transcript(client, maria))[HF]["claimed"] == {"ama_pra_1": "1.25"}
    assert (await claim(client, maria, 1.5)).status == 400  # never above the eligible amount
    assert [r.action for r in await audit_rows(client.app)] == ["credit.claim", "credit.amend"]


async def test_ama_credit_is_for_physicians_only(client: TestClient, people: People) -> None:
    tom = people["attendee2"]  # nurse
    await ready(client, tom)
    resp = await claim(client, tom, 1.0, credit_type="ama_pra_1")
    assert resp.status == 400 and (await resp.json())["error"] == "credit_type_not_applicable"
    assert (await transcript(client, tom))[HF]["eligible"].keys() == {"ancc"}


async def test_nursing_contact_hours_count_the_time_spent_on_the_evaluation(client: TestClient, people: People) -> None:
    tom, maria = people["attendee2"], people["attendee"]
    for person in (tom, maria):
        await acknowledge(client, person, HF)
    # Both watch 09:10-10:00 (45 counted minutes: 0.75); the nurse then spends 15 minutes evaluating
    # after watching (no overlap): 60 minutes, 1.00 contact hour (ANCC rounds down).
    ledger, hf = client.app[LEDGER], client.app[CATALOGUE].session(HF)
    assert hf is not None
    for person in (tom, maria):
        await client.app[EVIDENCE].viewer_started(HF, f"viewer-{person.user.id}", person.user.id)
        await ledger.heartbeat(person.user.id, hf, "tab", True, True)
    advance(client.app, 50 * 60)
    for person in (tom, maria):
        await ledger.heartbeat(person.user.id, hf, "tab", False, False)
    await evaluate(client, tom, HF, minutes_spent=15, app=client.app)
    await evaluate(client, maria, HF)
    assert (await transcript(client, tom))[HF]["eligible"] == {"ancc": "1.00"}
    assert (await transcript(client, maria))[HF]["eligible"] == {"ama_pra_1": "0.75"}
    assert (await claim(client, tom, "1.00", credit_type="ancc")).status == 201


async def test_pharmacy_credit_needs_the_nabp_profile_and_birth_day(client: TestClient, people: People) -> None:
    priya = people["pharmacist"]
    await ready(client, priya)
    refused = await claim(client, priya, 1.25, credit_type="acpe")
    assert refused.status == 400 and (await refused.json())["error"] == "nabp_profile_missing"
    await set_profile(client.app, priya, nabp_eprofile_id="1234567", dob_month=3, dob_day=14)
    assert (await claim(client, priya, 1.25, credit_type="acpe")).status == 201


async def test_below_the_minimum_participation_nothing_is_eligible(client: TestClient, people: People) -> None:
    maria = people["attendee"]
    await acknowledge(client, maria, HF)
    await watch(client.app, maria, HF, 30)  # 30 of 85 accredited minutes: under half
    await evaluate(client, maria, HF)
    advance(client.app, 60 * 60)  # the session has ended
    line = (await transcript(client, maria))[HF]
    assert line["eligible"] == {"ama_pra_1": "0.00"} and line["status"] == "not_eligible"
    assert (await claim(client, maria, 0.25)).status == 400


async def test_non_accredited_sessions_offer_no_credit(client: TestClient, people: People) -> None:
    resp = await claim(client, people["attendee"], 0.25, session="industry-lunch")
    assert resp.status == 400 and (await resp.json())["error"] == "credit_type_not_offered"


async def test_faculty_claim_two_credits_per_hour_of_their_own_presentation(client: TestClient, people: People) -> None:
    ana = people["faculty"]
    evidence = client.app[EVIDENCE]
    await evidence.publisher_started(HF, "camera", ana.user.id)
    advance(client.app, 60 * 60)  # 09:10-10:10 minus the break: 55 minutes -> 4 quarter hours
    await evidence.publisher_stopped(HF, "camera", ana.user.id)
    line = (await transcript(client, ana))[HF]
    assert line["eligible"] == {"ama_pra_1": "2.00"} and line["basis"] == "faculty"
    resp = await claim(client, ana, 2)
    assert resp.status == 201 and (await resp.json())["claim"]["basis"] == "faculty"


async def test_exhibitors_cannot_claim_credit(client: TestClient, people: People) -> None:
    resp = await claim(client, people["exhibitor"], 0.25)
    assert resp.status == 403


async def test_claims_need_a_signed_in_user_and_a_json_object(client: TestClient, people: People) -> None:
    assert (await client.post(f"/api/sessions/{HF}/claim", json={})).status in (401, 403)
    resp = await client.post(f"/api/sessions/{HF}/claim", data=b"[1, 2]", headers=people["attendee"].auth)
    assert resp.status == 400
    resp = await client.post(f"/api/sessions/{HF}/claim", data=b"{not json", headers=people["attendee"].auth)
    assert resp.status == 400
    assert (await client.post("/api/sessions/nope/claim", json={}, headers=people["attendee"].auth)).status == 404


async def test_evaluation_rejects_bad_answers_and_a_second_submission(client: TestClient, people: People) -> None:
    maria = people["attendee"]
    form = await (await client.get(f"/api/sessions/{HF}/evaluation", headers=maria.auth)).json()
    url = f"/api/sessions/{HF}/evaluation"
    for answers in ({"objectives": 9, "bias": "yes"}, {"objectives": 4}, {"objectives": 4, "bias": "maybe"},
                    {"objectives": 4, "bias": "yes", "extra": "x"}):
        resp = await client.post(url, json={"answers": answers, "token": form["token"]}, headers=maria.auth)
        assert resp.status == 400, answers
    forged = await client.post(url, json={"answers": {"objectives": 4, "bias": "yes"}, "token": "x.y"},
                               headers=maria.auth)
    assert forged.status == 400 and (await forged.json())["field"] == "token"
    other = await (await client.get(f"/api/sessions/{HF}/evaluation", headers=people["attendee2"].auth)).json()
    stolen = await client.post(url, json={"answers": {"objectives": 4, "bias": "yes"}, "token": other["token"]},
                               headers=maria.auth)
    assert stolen.status == 400
    ok = await client.post(url, json={"answers": {"objectives": 4, "bias": "no"}, "token": form["token"]},
                           headers=maria.auth)
    assert ok.status == 201
    again = await client.post(url, json={"answers": {"objectives": 4, "bias": "no"}, "token": form["token"]},
                              headers=maria.auth)
    assert again.status == 409


async def test_organizer_correction_is_audited_with_before_and_after(client: TestClient, people: People) -> None:
    maria, organizer = people["attendee"], people["organizer"]
    await ready(client, maria)
    assert (await claim(client, maria, 1.25)).status == 201
    fix = {"email": maria.user.email, "session": HF, "credit_type": "ama_pra_1", "amount": "1.00",
           "reason": "video feed lost 15 minutes"}
    resp = await client.post("/api/organizer/credit/corrections", json=fix, headers=organizer.auth)
    assert resp.status == 201, await resp.text()
    assert await resp.json() == {"before": "1.25", "after": "1.00", "session": HF, "email": maria.user.email,
                                 "credit_type": "ama_pra_1"}
    assert (await transcript(client, maria))[HF]["claimed"] == {"ama_pra_1": "1.00"}
    rows = [r for r in await audit_rows(client.app) if r.action.startswith("credit.")]
    assert [r.action for r in rows] == ["credit.claim", "credit.correct"]
    assert rows[0].actor == maria.user.email and rows[0].after["amount"] == "1.25" and rows[0].before is None
    assert rows[1].actor == organizer.user.email
    assert rows[1].before["amount"] == "1.25" and rows[1].after["amount"] == "1.00"
    assert rows[1].after["reason"] == "video feed lost 15 minutes"
    log = await (await client.get("/api/organizer/credit/audit", headers=organizer.auth)).json()
    assert [e["action"] for e in log["entries"]] == ["credit.correct", "credit.claim"]


@pytest.mark.parametrize("who", ["moderator", "exhibitor", "attendee", "faculty"])
async def test_only_organizers_correct_credit_or_read_reports(client: TestClient, people: People, who: str) -> None:
    fix = {"email": people["attendee"].user.email, "session": HF, "credit_type": "ama_pra_1", "amount": "1.00",
           "reason": "r"}
    person = people[who]
    assert (await client.post("/api/organizer/credit/corrections", json=fix, headers=person.auth)).status == 403
    assert (await client.get("/api/organizer/credit/audit", headers=person.auth)).status == 403
    assert (await client.get(f"/api/organizer/credit/sessions/{HF}", headers=person.auth)).status == 403
    assert (await client.get("/organizer/credit/learners.csv", headers=person.auth)).status == 403
    assert not await audit_rows(client.app)


@pytest.mark.parametrize(("change", "field"), [
    ({"amount": "1.3"}, "not_quarter_step"),
    ({"amount": "9"}, "bad_request"),
    ({"reason": ""}, "bad_request"),
    ({"email": "nobody@example.org"}, "not_found"),
    ({"session": "industry-lunch"}, "credit_type_not_offered"),
    ({"credit_type": "ancc"}, "credit_type_not_applicable"),
    ({"credit_type": "bogus"}, "bad_request"),
])
async def test_bad_corrections_are_refused_and_not_audited(client: TestClient, people: People,
                                                           change: dict[str, str], field: str) -> None:
    fix = {"email": people["attendee"].user.email, "session": HF, "credit_type": "ama_pra_1", "amount": "1.00",
           "reason": "r"} | change
    resp = await client.post("/api/organizer/credit/corrections", json=fix, headers=people["organizer"].auth)
    assert resp.status in (400, 404) and (await resp.json())["error"] == field
    assert not await audit_rows(client.app)


async def test_session_report_lists_attendance_eligible_and_claimed(client: TestClient, people: People) -> None:
    maria = people["attendee"]
    await ready(client, maria)
    await claim(client, maria, 1.0)
    report = await (await client.get(f"/api/organizer/credit/sessions/{HF}", headers=people["organizer"].auth)).json()
    (line,) = report["attendees"]
    assert line["email"] == maria.user.email and line["counted_seconds"] >= 69 * 60
    assert line["eligible"] == {"ama_pra_1": "1.25"} and line["claimed"] == {"ama_pra_1": "1.00"}
