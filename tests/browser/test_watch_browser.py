"""An attendee opens a live session in Chromium, passes the disclosure to the player, sees their
running watch time rise, gets an attention check and answers it. The faculty publishes with a
real aiortc peer through WHIP; the page watches through WHEP (player.js) and beats on /watch.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import BrowserContext, expect

from server.catalogue import Role
from server.settings import Settings
from tests.browser.conftest import publish_pattern, screenshot_path, sign_in
from tests.conftest import add_person, make_settings

S = "heart-failure-2026"
pytestmark = pytest.mark.browser


@pytest.fixture
def settings(tmp_path: Path, conference_file: Path) -> Settings:
    # x60 clock, a heartbeat a second, an attention check 2-2.2 s (120-130 conference s) into watching.
    text = re.sub(r"attention_checks = \{[^}]*\}", "attention_checks = { min_gap_s = 120, max_gap_s = 130 }",
                  conference_file.read_text(encoding="utf-8"))
    path = tmp_path / "conference.toml"
    path.write_text(text, encoding="utf-8")
    return make_settings(tmp_path / "data", path, time_scale=60, heartbeat_s=1)


async def test_attendee_sees_watch_time_rise_and_answers_an_attention_check(
        server: TestServer, context: BrowserContext, tmp_path: Path) -> None:
    app = server.app
    base = str(server.make_url("")).rstrip("/")
    faculty = await add_person(app, "ana.okafor@demo.rounds", Role.FACULTY)
    await add_person(app, "grace@example.org", Role.ATTENDEE, name="Grace Hopper", password="a long enough password")
    publisher = await publish_pattern(server, faculty, S)
    try:
        page = await context.new_page()
        await sign_in(page, base, "grace@example.org", "a long enough password")
        await page.goto(f"{base}/sessions/{S}")
        if "/disclosure" in page.url:  # the accredited session's disclosure comes first
            await page.locator("#acknowledge").click()
            await page.wait_for_url(f"{base}/sessions/{S}")

        watch_time = page.locator('[data-watch="time"]')
        await expect(watch_time).to_be_visible()
        await expect(page.locator('[data-watch="status"]')).to_have_text("Counting your watch time.", timeout=20_000)
        await page.wait_for_function(
            "() => { const t = document.querySelector('[data-watch=\"time\"]').textContent.split(':').map(Number);"
            " return t.reduce((a, b) => a * 60 + b, 0) >= 60; }", timeout=20_000)

        dialog = page.get_by_role("alertdialog", name="Are you still following the session?")
        await expect(dialog).to_be_visible(timeout=20_000)
        await expect(page.locator('[data-watch="status"]')).to_contain_text("Paused")
        await page.screenshot(path=screenshot_path(tmp_path, "watch-attention"), full_page=True)
        await dialog.get_by_role("button", name="Yes, I'm here").click()
        await expect(dialog).to_be_hidden()
        await expect(page.locator('[data-watch="status"]')).to_have_text("Counting your watch time.", timeout=10_000)
        await page.screenshot(path=screenshot_path(tmp_path, "watch-counting"), full_page=True)
        assert screenshot_path(tmp_path, "watch-attention").stat().st_size > 10_000
    finally:
        await publisher.close()
