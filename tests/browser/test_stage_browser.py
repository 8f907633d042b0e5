"""A faculty member goes live from the studio in Chromium; an attendee plays it on the session page."""

from __future__ import annotations

from pathlib import Path

from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page

from server.accounts import Role
from server.http.media import HUB
from tests.conftest import add_person

from .conftest import screenshot_path, sign_in

LIVE = "heart-failure-2026"


async def open_session(page: Page, base: str) -> None:
    await page.goto(f"{base}/sessions/{LIVE}")
    acknowledge = page.locator("#acknowledge")
    if await acknowledge.count():  # the accredited session's disclosure comes first
        await acknowledge.click()
        await page.wait_for_url(f"{base}/sessions/{LIVE}")


async def test_studio_publishes_and_the_session_page_plays(
    server: TestServer, browser: Browser, tmp_path: Path
) -> None:
    base = str(server.make_url("")).rstrip("/")
    await add_person(server.app, "ana.okafor@demo.rounds", Role.FACULTY, password="faculty-pass-1")
    await add_person(
        server.app, "maria.lopez@demo.rounds", Role.ATTENDEE, password="attendee-pass-1"
    )
    studio_context = await browser.new_context(permissions=["camera", "microphone"])
    viewer_context = await browser.new_context()
    try:
        studio = await studio_context.new_page()
        await sign_in(studio, base, "ana.okafor@demo.rounds", "faculty-pass-1", f"/studio/{LIVE}")
        await studio.wait_for_function("() => document.getElementById('studio-camera').videoWidth > 0")
        await studio.get_by_role("button", name="Go live").click()
        await studio.wait_for_function(
            "() => document.getElementById('studio-status').textContent.startsWith('Live')"
        )

        viewer = await viewer_context.new_page()
        await sign_in(viewer, base, "maria.lopez@demo.rounds", "attendee-pass-1", "/")
        await open_session(viewer, base)
        await viewer.wait_for_function("() => document.getElementById('player-main').videoWidth > 0")
        first = await viewer.evaluate("document.getElementById('player-main').currentTime")
        await viewer.wait_for_function(
            f"() => document.getElementById('player-main').currentTime > {first} + 0.5", timeout=10_000
        )
        assert await viewer.evaluate("document.getElementById('player').dataset.status") == "live"
        assert await viewer.locator("#player-overlay").text_content() == ""
        await viewer.screenshot(path=screenshot_path(tmp_path, "stage-viewer"))
        await studio.screenshot(path=screenshot_path(tmp_path, "stage-studio"))
        assert server.app[HUB].stats().viewers == 1

        await studio.get_by_role("button", name="Stop").click()
        await viewer.wait_for_function(
            "() => document.getElementById('player').dataset.status === 'paused'"
        )
        assert "paused" in (await viewer.locator("#player-overlay").text_content() or "")
    finally:
        await studio_context.close()
        await viewer_context.close()
