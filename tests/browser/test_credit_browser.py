"""An attendee in Chromium: disclosure gate, watching, evaluation, attestation, claim, certificate, /verify.

The first test steps the conference clock (the one faked part) and records the watching through
the watch-time feature's interfaces, so its amounts are exact; the second watches for real: a
faculty aiortc peer publishes through WHIP, the page plays through WHEP and beats on /watch on a
x200 clock, and the measured amount travels to the certificate.
"""

from __future__ import annotations

import io
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pypdf
import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, BrowserContext, expect

from server.app import create_app
from server.catalogue import Role
from server.display import credit_phrase
from server.settings import Settings
from server.state import ENGINE
from server.store.credit import disclosure_acks
from tests.browser.conftest import publish_pattern, screenshot_path, sign_in
from tests.conftest import add_person, make_settings
from tests.credit_support import HF, after_the_session, set_profile, watch

pytestmark = pytest.mark.browser


@pytest.fixture
def settings(tmp_path: Path, conference_file: Path) -> Settings:
    return make_settings(tmp_path / "data", conference_file, heartbeat_tolerance_s=7200)


async def test_attendee_passes_the_gate_watches_evaluates_claims_and_verifies_a_certificate(
        server: TestServer, context: BrowserContext, tmp_path: Path) -> None:
    base = str(server.make_url("")).rstrip("/")
    app = server.app
    maria = await add_person(app, "maria@example.org", Role.ATTENDEE, name="Maria Lopez, MD",
                             password="attendee-pass-1", acknowledged=False)
    await set_profile(app, maria, npi="1234567890", report_permission=True)
    page = await context.new_page()
    await sign_in(page, base, "maria@example.org", "attendee-pass-1")

    # The accredited session sends the learner to its disclosure first.
    await page.goto(f"{base}/sessions/{HF}")
    await page.wait_for_url(f"{base}/sessions/{HF}/disclosure")
    await expect(page.locator("table.disclosures")).to_contain_text("Cardiova Therapeutics")
    await expect(page.locator("main")).to_contain_text("have been mitigated")
    await page.screenshot(path=screenshot_path(tmp_path, "1-disclosure"), full_page=True)
    await page.locator("#acknowledge").click()
    await page.wait_for_url(f"{base}/sessions/{HF}")
    async with app[ENGINE].connect() as conn:
        recorded = list(await conn.execute(sa.select(disclosure_acks.c.user_id, disclosure_acks.c.session_id)))
    assert [tuple(r) for r in recorded] == [(maria.user.id, HF)]
    await page.screenshot(path=screenshot_path(tmp_path, "2-session"), full_page=True)

    # 75 minutes of watching from 09:10: 70 counted minutes (a 5-minute break) -> 1.25 credits.
    await watch(app, maria, HF, 75)
    after_the_session(app)  # claiming opens when the session ends

    await page.goto(f"{base}/transcript")
    row = page.locator(f'tr[data-session="{HF}"]')
    await expect(row).to_contain_text("1.25 AMA PRA Category 1 Credits™")
    await page.goto(f"{base}/sessions/{HF}/claim")
    await page.locator("#go-evaluation").click()
    await page.wait_for_url(f"{base}/sessions/{HF}/evaluation")
    await page.get_by_label("4", exact=True).check()
    await page.get_by_label("Yes", exact=True).check()
    await page.get_by_label("One thing you will change in your practice:").fill("Start SGLT2i <earlier>")
    await page.screenshot(path=screenshot_path(tmp_path, "3-evaluation"), full_page=True)
    await page.locator("#submit-evaluation").click()
    await page.wait_for_url(f"{base}/sessions/{HF}/claim")

    amount = page.locator("#amount-ama_pra_1")
    await expect(amount).to_have_value("1.25")  # pre-filled with the measured amount
    await amount.fill("2")
    await expect(amount).to_have_value("1.25")  # editable downwards only
    await amount.fill("1")
    await expect(page.locator("form.claim output")).to_have_text("1")
    await page.locator("#attest-ama_pra_1").check()
    await page.screenshot(path=screenshot_path(tmp_path, "4-attestation"), full_page=True)
    await page.locator("#claim-ama_pra_1").click()
    await page.wait_for_url(f"{base}/transcript")
    await expect(row.locator('[data-claimed="ama_pra_1"]')).to_have_text("1 AMA PRA Category 1 Credit™")
    await expect(row).to_contain_text("claimed")
    await page.screenshot(path=screenshot_path(tmp_path, "5-transcript"), full_page=True)

    async with page.expect_download() as info:
        await page.locator("#certificate-ama_pra_1").click()
    download = await info.value
    saved = tmp_path / "certificate.pdf"
    await download.save_as(saved)
    text = " ".join(pypdf.PdfReader(io.BytesIO(saved.read_bytes())).pages[0].extract_text().split())
    assert "Maria Lopez, MD" in text and "claimed 1.00 AMA PRA Category 1 Credits™" in text
    code = re.search(r"Verification code: ([A-Z0-9-]{14})", text)
    assert code is not None

    public = await context.browser.new_context()  # type: ignore[union-attr]
    try:
        verifier = await public.new_page()
        await verifier.goto(f"{base}/verify/{code.group(1)}")
        await expect(verifier.locator("#verify-holder")).to_have_text("Maria Lopez, MD")
        await expect(verifier.locator("#verify-amount")).to_have_text("1.00 AMA PRA Category 1 Credits™")
        await expect(verifier.locator("main")).not_to_contain_text("maria@example.org")
        await verifier.screenshot(path=screenshot_path(tmp_path, "6-verify"), full_page=True)
    finally:
        await public.close()


@pytest.fixture
def real_settings(tmp_path: Path, conference_file: Path) -> Settings:
    """x200 clock from the session's start, a heartbeat a second, no attention checks (the watch
    test covers those), a quarter of the accredited time as the minimum participation."""
    text = conference_file.read_text(encoding="utf-8")
    text = re.sub(r"attention_checks = \{[^}]*\}\n", "", text).replace("minutes_in = 10", "minutes_in = 0")
    text = text.replace("min_participation = 0.5\n", "min_participation = 0.25\n", 1)
    path = tmp_path / "conference.toml"
    path.write_text(text, encoding="utf-8")
    return make_settings(tmp_path / "data", path, time_scale=200, heartbeat_s=1)


async def test_watch_time_from_the_real_player_becomes_the_certified_credit(
        real_settings: Settings, aiohttp_server: Any, browser: Browser, tmp_path: Path) -> None:
    server = await aiohttp_server(create_app(real_settings), host="127.0.0.1")
    base = str(server.make_url("")).rstrip("/")
    faculty = await add_person(server.app, "ana.okafor@demo.rounds", Role.FACULTY)
    await add_person(server.app, "tom@example.org", Role.ATTENDEE, name="Tom Nguyen, RN", profession="nurse",
                     password="attendee-pass-2", acknowledged=False)
    publisher = await publish_pattern(server, faculty, HF)
    context = await browser.new_context()
    context.set_default_timeout(20_000)
    try:
        page = await context.new_page()
        await sign_in(page, base, "tom@example.org", "attendee-pass-2")
        await page.goto(f"{base}/sessions/{HF}")
        await page.locator("#acknowledge").click()
        await page.wait_for_url(f"{base}/sessions/{HF}")
        await expect(page.locator('[data-watch="status"]')).to_have_text("Counting your watch time.", timeout=30_000)
        # 31 conference minutes of real watching (WHEP media + visible, playing heartbeats): more
        # than 30, as ANCC contact hours round down to the quarter hour.
        await page.wait_for_function(
            "() => { const t = document.querySelector('[data-watch=\"time\"]').textContent.split(':').map(Number);"
            " return t.reduce((a, b) => a * 60 + b, 0) >= 31 * 60; }", timeout=30_000)
        await page.screenshot(path=screenshot_path(tmp_path, "real-1-watching"), full_page=True)
        await page.goto(f"{base}/transcript")  # leave the player: watching stops here
        after_the_session(server.app)  # claiming opens when the session ends

        await page.goto(f"{base}/sessions/{HF}/evaluation")
        await page.get_by_label("5", exact=True).check()
        await page.get_by_label("Yes", exact=True).check()
        await page.locator("#submit-evaluation").click()
        await page.wait_for_url(f"{base}/sessions/{HF}/claim")
        measured = await page.locator("#amount-ancc").input_value()
        assert Decimal(measured) >= Decimal("0.50")
        await page.locator("#attest-ancc").check()
        await page.screenshot(path=screenshot_path(tmp_path, "real-2-attestation"), full_page=True)
        await page.locator("#claim-ancc").click()
        await page.wait_for_url(f"{base}/transcript")
        claimed = credit_phrase(Decimal(measured), "ancc")  # "0.75 ANCC contact hours"
        await expect(page.locator(f'tr[data-session="{HF}"] [data-claimed="ancc"]')).to_have_text(claimed)

        async with page.expect_download() as info:
            await page.locator("#certificate-ancc").click()
        saved = tmp_path / "certificate-ancc.pdf"
        await (await info.value).save_as(saved)
        text = " ".join(pypdf.PdfReader(io.BytesIO(saved.read_bytes())).pages[0].extract_text().split())
        assert f"claimed {Decimal(measured):.2f} ANCC nursing contact hours" in text
        code = re.search(r"Verification code: ([A-Z0-9-]{14})", text)
        assert code is not None
        await page.goto(f"{base}/verify/{code.group(1)}")
        await expect(page.locator("#verify-amount")).to_have_text(f"{Decimal(measured):.2f} ANCC nursing contact hours")
        await page.screenshot(path=screenshot_path(tmp_path, "real-3-verify"), full_page=True)
    finally:
        await context.close()
        await publisher.close()
