"""A clinician visits a booth, chats and shares contact details; the exhibitor's console, in a
second browser context, sees the message (under a pseudonym first) and then the lead."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, expect

from server.catalogue import Role
from tests.browser.conftest import screenshot_path, sign_in
from tests.conftest import add_person

pytestmark = pytest.mark.browser

PASSWORD = "correct-horse-battery"


async def signed_in_page(browser: Browser, server: TestServer, email: str, target: str) -> Page:
    base = str(server.make_url("/")).rstrip("/")
    context = await browser.new_context(base_url=base)
    context.set_default_timeout(15_000)
    page = await context.new_page()
    await sign_in(page, base, email, PASSWORD, target)
    return page


async def test_attendee_chats_and_shares_and_the_console_sees_message_and_lead(
    server: TestServer, browser: Browser, tmp_path: Path
) -> None:
    await add_person(server.app, "pat.lee@demo.rounds", Role.EXHIBITOR, name="Pat Lee", password=PASSWORD)
    await add_person(server.app, "maria.lopez@demo.rounds", Role.ATTENDEE, name="Maria Lopez", password=PASSWORD)

    console = await signed_in_page(browser, server, "pat.lee@demo.rounds", "/exhibitor?booth=meridian")
    await expect(console.locator("[data-console=status]")).to_have_text("connected")
    await console.fill("#res-title", "Dosing card")
    await console.set_input_files("#res-file", files=[{"name": "dosing.pdf", "mimeType": "application/pdf",
                                                       "buffer": b"%PDF-1.4 dosing card"}])
    await console.click("[data-console=upload] button[type=submit]")
    await expect(console.locator("[data-console=files] li").last).to_contain_text("Dosing card (dosing.pdf)")
    booth = await signed_in_page(browser, server, "maria.lopez@demo.rounds", "/hall/meridian")
    await expect(booth.locator("[data-hall=status]")).to_have_text("connected")
    await expect(booth.locator("[data-hall=staff]")).to_have_text("Staff online: Pat Lee")
    await expect(booth.locator(".resources")).to_contain_text("Dosing card")
    await expect(console.locator("[data-console=visitors]")).to_have_text("1")
    pseudonym = (await booth.locator("[data-hall=pseudonym]").text_content() or "").strip()
    assert pseudonym.startswith("Visitor ")

    await booth.fill("#chat-text", "<b>Do you have</b> a dosing card?")
    await booth.click("[data-hall=chat] button[type=submit]")
    own = booth.locator("[data-hall=messages] li").last
    await expect(own.locator(".author")).to_have_text("You")
    seen = console.locator("[data-console=messages] li").last
    await expect(seen.locator(".text")).to_have_text("<b>Do you have</b> a dosing card?")  # text, not markup
    await expect(seen.locator(".author")).to_have_text(pseudonym)
    assert "Maria" not in (await console.content())

    await console.fill("#console-text", "Yes, see our resources.")
    await console.click("[data-console=chat] button[type=submit]")
    reply = booth.locator("[data-hall=messages] li").last
    await expect(reply.locator(".author")).to_have_text("Pat Lee (staff)")

    await booth.click("[data-hall=share] button[type=submit]")
    await expect(booth.locator("[data-hall=shared-fields]")).to_have_text("name, email")
    lead = console.locator("[data-console=leads] tr")
    await expect(lead).to_have_count(1)
    await expect(lead.locator("td").nth(0)).to_have_text("Maria Lopez")
    await expect(lead.locator("td").nth(1)).to_have_text("maria.lopez@demo.rounds")
    await expect(lead.locator("td").nth(2)).to_have_text("")
    await expect(lead.locator("td").nth(4)).to_have_text("name, email")
    await expect(console.locator("[data-console=named]")).to_have_text("Maria Lopez")

    shots = screenshot_path(tmp_path, "hall-booth"), screenshot_path(tmp_path, "hall-console")
    await booth.screenshot(path=str(shots[0]), full_page=True)
    await console.screenshot(path=str(shots[1]), full_page=True)
    assert all(shot.stat().st_size > 0 for shot in shots)


async def test_leaving_an_accredited_session_for_the_hall_is_a_choice(server: TestServer, browser: Browser,
                                                                      tmp_path: Path) -> None:
    await add_person(server.app, "maria.lopez@demo.rounds", Role.ATTENDEE, name="Maria Lopez", password=PASSWORD)
    # The accredited session opens on its disclosure screen; the hall link from there is still a way out
    # of accredited education.
    page = await signed_in_page(browser, server, "maria.lopez@demo.rounds", "/")
    await page.goto("/sessions/heart-failure-2026")
    await page.click("header.site a[href^='/hall']")
    await expect(page.locator("h1")).to_have_text("You are leaving the accredited education")
    await page.screenshot(path=str(screenshot_path(tmp_path, "hall-leaving")))
    await page.click("[data-choice=continue]")
    await expect(page.locator("h1")).to_have_text("Exhibit hall")
    await expect(page.locator(".booth-card").first).to_contain_text("Meridian Pharma")
    await page.screenshot(path=str(screenshot_path(tmp_path, "hall")), full_page=True)
