"""End to end on a compressed clock: watch (real /watch heartbeat clients), evaluate, attest, claim,
download the certificate; the amount agrees on the transcript, in the PDF and in the CSV export;
an organizer's correction lands in the audit log with before and after."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pypdf
import pytest
from aiohttp.test_utils import TestClient

from server.credit import CreditType, learner_eligible
from server.credit_transcript import session_rule
from server.evidence import EVIDENCE
from server.settings import ROOT, Settings
from server.state import CATALOGUE, CLOCK
from tests.conftest import Person, SioFactory, make_settings
from tests.credit_support import HF, acknowledge, audit_rows, evaluate, set_profile

People = dict[str, Person]
SCALE = 600  # one real second is ten conference minutes


@pytest.fixture
def settings(tmp_path: Path, conference_file: Path) -> Settings:
    # One real second is ten conference minutes here, so a loaded machine's setup time can cost a
    # learner a quarter of the session: ACPE's whole-session rule (tested step by step in
    # test_credit_rules_by_type.py) is set to half the session so the export is what this tests.
    relaxed = tmp_path / "conference.toml"
    relaxed.write_text(conference_file.read_text(encoding="utf-8").replace("acpe_completion = 0.8",
                                                                            "acpe_completion = 0.5"), encoding="utf-8")
    return make_settings(tmp_path / "data", relaxed, time_scale=SCALE)


async def watch_until_the_end(client: TestClient, sio: SioFactory, person: Person) -> int:
    """A real page: heartbeats every conference heartbeat interval, answers attention checks, until HF ends."""
    app = client.app
    session = app[CATALOGUE].session(HF)
    assert session is not None
    watcher = await sio(person, "/watch")
    answered: list[str] = []

    async def on_attention(data: dict[str, Any]) -> None:
        ack = await watcher.call("attention", {"session": HF, "prompt": data["prompt"]}, namespace="/watch")
        assert ack["ok"], ack
        answered.append(data["prompt"])

    watcher.on("attention", on_attention, namespace="/watch")
    await app[EVIDENCE].viewer_started(HF, f"player-{person.user.id}", person.user.id)
    beat = app[CLOCK].now
    # The page's heartbeat timer runs in real seconds: heartbeat_s of conference time would be 25 ms
    # here, so beat every 0.5 s (5 conference minutes), well inside the tolerance (45 s x scale).
    pace = 0.5
    last: dict[str, Any] = {}
    while beat() < session.end:
        last = await watcher.call("heartbeat", {"session": HF, "visible": True, "playing": True}, namespace="/watch")
        assert last["ok"], last
        await asyncio.sleep(pace)  # a client's timer, not a wait for an event
    await watcher.call("heartbeat", {"session": HF, "visible": False, "playing": False}, namespace="/watch")
    await app[EVIDENCE].viewer_stopped(HF, f"player-{person.user.id}", person.user.id)
    return int(last["watch_seconds"])


async def rounds_export(settings: Settings, fmt: str) -> tuple[int, str, str]:
    """``rounds export credits --format FMT`` against the running server's data directory."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROUNDS_") and k not in ("DATABASE_URL", "REDIS_URL")}
    env["ROUNDS_DATA_DIR"] = str(settings.data_dir)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "server", "export", "credits", "--format", fmt, env=env, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def export(settings: Settings, fmt: str) -> list[dict[str, str]]:
    code, out, err = await rounds_export(settings, fmt)
    assert code == 0, err
    return list(csv.DictReader(io.StringIO(out)))


async def test_watch_evaluate_attest_claim_certificate_export_and_correct(
        client: TestClient, sio: SioFactory, people: People, settings: Settings) -> None:
    maria, tom, organizer = people["attendee"], people["attendee2"], people["organizer"]
    await set_profile(client.app, maria, npi="1234567890", board_id="ABIM-1", licence="IL-36-1",
                      dob_month=4, dob_day=2, report_permission=True)
    await set_profile(client.app, tom, report_permission=False)
    for person in (maria, tom):
        await acknowledge(client, person, HF)
    watched = await asyncio.gather(*(watch_until_the_end(client, sio, p) for p in (maria, tom)))
    assert all(w > 45 * 60 for w in watched), watched

    # Transcript: eligible is the rules' credit for the time counted once.
    body = await (await client.get("/api/me/transcript", headers=maria.auth)).json()
    line = next(s for s in body["sessions"] if s["id"] == HF)
    rule = session_rule(client.app[CATALOGUE].session(HF), client.app[CATALOGUE].conference)  # type: ignore[arg-type]
    assert rule is not None
    from server.credit import Profession

    expected = learner_eligible(rule, Profession.PHYSICIAN, line["counted_seconds"])[CreditType.AMA_PRA_1]
    assert line["eligible"] == {"ama_pra_1": str(expected)} and expected >= Decimal("1.00")
    assert line["status"] == "evaluation_required"

    for person in (maria, tom):
        await evaluate(client, person, HF)
    amount = expected - Decimal("0.25")  # attest to less than the measured amount: claimed, not maximum
    resp = await client.post(f"/api/sessions/{HF}/claim", headers=maria.auth,
                             json={"credit_type": "ama_pra_1", "amount": str(amount), "attest": True})
    assert resp.status == 201, await resp.text()
    resp = await client.post(f"/api/sessions/{HF}/claim", headers=tom.auth,
                             json={"credit_type": "ancc", "amount": "1.00", "attest": True})
    assert resp.status == 201, await resp.text()

    body = await (await client.get("/api/me/transcript", headers=maria.auth)).json()
    line = next(s for s in body["sessions"] if s["id"] == HF)
    assert line["claimed"] == {"ama_pra_1": str(amount)} and line["status"] == "claimed"

    pdf = await client.get("/certificates/ama_pra_1.pdf", headers=maria.auth)
    assert pdf.status == 200
    text = " ".join(pypdf.PdfReader(io.BytesIO(await pdf.read())).pages[0].extract_text().split())
    assert f"claimed {amount} AMA PRA Category 1 Credits™" in text

    rows = await export(settings, "csv")
    assert [(r["first_name"], r["last_name"], r["credit_type"], r["credits"]) for r in rows] == [
        ("Maria.Lopez", "", "ama_pra_1", str(amount))]  # tom gave no permission to report
    assert rows[0]["npi"] == "1234567890" and rows[0]["dob_month"] == "4" and rows[0]["dob_day"] == "2"
    assert rows[0]["board_id"] == "ABIM-1" and rows[0]["licence"] == "IL-36-1" and rows[0]["report_permission"] == "yes"
    assert rows[0]["completion_date"]

    corrected = amount - Decimal("0.25")
    fix = {"email": maria.user.email, "session": HF, "credit_type": "ama_pra_1", "amount": str(corrected),
           "reason": "attendance review"}
    resp = await client.post("/api/organizer/credit/corrections", json=fix, headers=organizer.auth)
    assert resp.status == 201
    log = [r for r in await audit_rows(client.app) if r.action == "credit.correct"]
    assert len(log) == 1 and log[0].actor == organizer.user.email
    assert log[0].before["amount"] == str(amount) and log[0].after["amount"] == str(corrected)
    assert (await export(settings, "csv"))[0]["credits"] == str(corrected)
    downloaded = await client.get("/organizer/credit/learners.csv", headers=organizer.auth)
    assert downloaded.status == 200
    assert next(csv.DictReader(io.StringIO(await downloaded.text())))["credits"] == str(corrected)


async def test_cpe_export_lists_pharmacists_acpe_credit(client: TestClient, people: People, settings: Settings,
                                                        sio: SioFactory) -> None:
    priya = people["pharmacist"]
    await set_profile(client.app, priya, nabp_eprofile_id="7654321", dob_month=11, dob_day=5)
    await acknowledge(client, priya, HF)
    await watch_until_the_end(client, sio, priya)
    await evaluate(client, priya, HF)
    resp = await client.post(f"/api/sessions/{HF}/claim", headers=priya.auth,
                             json={"credit_type": "acpe", "amount": "1.00", "attest": True})
    assert resp.status == 201, await resp.text()
    rows = await export(settings, "cpe")
    assert [(r["nabp_eprofile_id"], r["dob_mmdd"], r["contact_hours"], r["ceus"]) for r in rows] == [
        ("7654321", "1105", "1.00", "0.100")]
    assert rows[0]["activity_id"] == "0812-0000-26-001-L01-P"  # the session's own UAN
    code, _, err = await rounds_export(settings, "xml")
    assert code != 0 and "unknown format" in err
