"""The booth console keeps its chat across reloads: a visitor's private message, sent while the
console was open, is listed after a reload with presence and the earlier public messages, and can be
answered from there."""

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


async def signed_in_page(browser: Browser, server: TestServer, email: str, target: str) -> tuple[Page, list[str]]:
    base = str(server.make_url("/")).rstrip("/")
    context = await browser.new_context(base_url=base)
    context.set_default_timeout(15_000)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await sign_in(page, base, email, PASSWORD, target)
    return page, errors


async def test_console_lists_threads_presence_and_messages_after_reload_and_answers(
    server: TestServer, browser: Browser, tmp_path: Path
) -> None:
    await add_person(server.app, "pat.lee@demo.rounds", Role.EXHIBITOR, name="Pat Lee", password=PASSWORD)
    await add_person(server.app, "maria.lopez@demo.rounds", Role.ATTENDEE, name="Maria Lopez", password=PASSWORD)
    console, console_errors = await signed_in_page(browser, server, "pat.lee@demo.rounds", "/exhibitor?booth=meridian")
    await expect(console.locator("[data-console=status]")).to_have_text("connected")
    booth, _ = await signed_in_page(browser, server, "maria.lopez@demo.rounds", "/hall/meridian")
    await expect(booth.locator("[data-hall=status]")).to_have_text("connected")

    await booth.fill("#chat-text", "Public question")
    await booth.click("[data-hall=chat] button[type=submit]")
    await expect(console.locator("[data-console=messages] li .text")).to_have_text(["Public question"])
    await booth.click("[data-hall=tab-private]")
    await booth.fill("#chat-text", "Private question about dosing")
    await booth.click("[data-hall=chat] button[type=submit]")
    await expect(booth.locator("[data-hall=private] li .text")).to_have_text(["Private question about dosing"])

    await console.reload()
    await expect(console.locator("[data-console=status]")).to_have_text("connected")
    await expect(console.locator("[data-console=messages] li .text")).to_have_text(["Public question"])
    await expect(console.locator("[data-console=visitors]")).to_have_text("1")
    tabs = console.locator("[data-console=threads] [role=tab]")
    await expect(tabs).to_have_count(2)
    await expect(tabs.nth(0).locator(".label")).to_have_text("Public chat")
    thread_tab = tabs.nth(1)
    await expect(thread_tab.locator(".unread")).to_have_text("1")

    await thread_tab.click()
    await expect(thread_tab).to_have_attribute("aria-selected", "true")
    await expect(console.locator("[data-console=messages] li .text")).to_have_text(["Private question about dosing"])
    await console.fill("#console-text", "Happy to help privately.")
    await console.click("[data-console=chat] button[type=submit]")
    await expect(booth.locator("[data-hall=private] li .text")).to_have_text(
        ["Private question about dosing", "Happy to help privately."])
    await expect(booth.locator("[data-hall=messages] li .text")).to_have_text(["Public question"])

    await tabs.nth(0).click()  # back to the public chat from the template's own tab
    await expect(console.locator("[data-console=messages] li .text")).to_have_text(["Public question"])
    await console.screenshot(path=str(screenshot_path(tmp_path, "console-after-reload")), full_page=True)
    assert console_errors == []
