"""On a phone (390×844) the player stays in view while the learner uses the Q&A below it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, expect

from server.app import create_app
from server.catalogue import Role
from server.settings import Settings
from tests.browser.conftest import screenshot_path, sign_in
from tests.conftest import add_person

pytestmark = pytest.mark.browser

S = "heart-failure-2026"
IN_VIEW = """(el) => { const r = el.getBoundingClientRect();
  return r.top >= 0 && r.bottom <= window.innerHeight && r.left >= 0 && r.right <= window.innerWidth; }"""


async def test_video_and_question_box_are_both_in_view_on_a_phone(
        server: TestServer, browser: Browser, tmp_path: Path) -> None:
    base = str(server.make_url("")).rstrip("/")
    await add_person(server.app, "grace@example.org", Role.ATTENDEE, name="Grace Hopper", password="attendee-pass-1")
    context = await browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    context.set_default_timeout(15_000)
    try:
        page = await context.new_page()
        await sign_in(page, base, "grace@example.org", "attendee-pass-1", f"/sessions/{S}/disclosure")
        await page.locator("#acknowledge").click()
        await page.wait_for_url(f"{base}/sessions/{S}")
        await page.screenshot(path=str(screenshot_path(tmp_path, "phone-session-top")))
        box = page.get_by_label("Your question")
        await box.scroll_into_view_if_needed()
        await box.fill("Does the ARNI dose change with eGFR?")
        video, controls = page.locator("#player-main"), page.locator(".player-controls")
        assert await box.evaluate(IN_VIEW), "the question box is out of view"
        assert await video.evaluate(IN_VIEW), "the video scrolled away"
        assert await controls.evaluate(IN_VIEW)
        assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scroll
        covered = await page.evaluate("""() => {
          const v = document.getElementById('player-main').getBoundingClientRect();
          const b = document.getElementById('qa-text').getBoundingClientRect();
          return !(b.bottom <= v.top || b.top >= v.bottom); }""")
        assert not covered, "the player covers the question box"
        await page.get_by_role("button", name="Ask").click()
        await expect(page.locator('[data-qa="mine"] li')).to_contain_text("waiting for a moderator")
        await page.screenshot(path=str(screenshot_path(tmp_path, "phone-session-qa")))
    finally:
        await context.close()


async def test_the_player_says_reconnecting_while_the_server_is_down(
        settings: Settings, aiohttp_server: Any, browser: Browser) -> None:
    first = create_app(settings)
    server = await aiohttp_server(first, host="127.0.0.1", shutdown_timeout=0.5)
    port, base = server.port, str(server.make_url("")).rstrip("/")
    await add_person(first, "grace@example.org", Role.ATTENDEE, password="attendee-pass-1")
    context = await browser.new_context()
    context.set_default_timeout(15_000)
    try:
        page = await context.new_page()
        await sign_in(page, base, "grace@example.org", "attendee-pass-1", f"/sessions/{S}/disclosure")
        await page.locator("#acknowledge").click()
        await page.wait_for_url(f"{base}/sessions/{S}")
        overlay = page.locator("#player-overlay")
        await expect(overlay).to_have_text("Waiting for the session to start.")
        await server.close()
        await expect(overlay).to_contain_text("Reconnecting…")
        await expect(page.locator("#player")).to_have_attribute("data-offline", "true")
        await aiohttp_server(create_app(settings), host="127.0.0.1", port=port)
        await expect(overlay).to_have_text("Waiting for the session to start.", timeout=20_000)
        await expect(page.locator("#player")).to_have_attribute("data-offline", "false")
    finally:
        await context.close()
