"""The hall is a grid of booths in tier order, each with its mark, and a search narrows it."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, expect

from server.catalogue import Role
from tests.browser.conftest import screenshot_path, sign_in
from tests.conftest import add_person

pytestmark = pytest.mark.browser


async def test_the_hall_is_a_searchable_grid_by_tier(server: TestServer, browser: Browser, tmp_path: Path) -> None:
    base = str(server.make_url("")).rstrip("/")
    await add_person(server.app, "maria@example.org", Role.ATTENDEE, password="correct-horse-battery")
    context = await browser.new_context()
    context.set_default_timeout(15_000)
    try:
        page = await context.new_page()
        await sign_in(page, base, "maria@example.org", "correct-horse-battery", "/hall")
        cards = page.locator(".booth-card")
        await expect(cards).to_have_count(4)
        assert [await c.get_attribute("data-tier") for c in await cards.all()] == ["platinum", "gold", "silver", "society"]
        tops = [(await c.bounding_box() or {}).get("y") for c in await cards.all()]
        assert len(set(tops)) < len(tops), "the cards should sit side by side on a desktop"
        # Meridian has a logo from the conference file (loaded under the page's CSP); the society
        # has none and keeps its monogram.
        logo = cards.first.locator("img.booth-logo")
        await expect(logo).to_have_attribute("alt", "Meridian Pharma logo")
        await page.wait_for_function("() => document.querySelector('img.booth-logo').naturalWidth > 0")
        await expect(cards.last.locator(".booth-logo")).to_have_text("RH")
        await page.screenshot(path=str(screenshot_path(tmp_path, "hall-grid")), full_page=True)

        await page.get_by_label("Search booths").fill("glucose")
        await expect(page.locator(".booth-card:not([hidden])")).to_have_count(1)
        await expect(page.locator(".booth-card:not([hidden]) h3")).to_have_text("GlucoWatch Devices")
        await expect(page.locator("#hall-count")).to_have_text("1 booth")
        await page.get_by_label("Search booths").fill("")
        await page.get_by_label("Tier").select_option("gold")
        await expect(page.locator(".booth-card:not([hidden]) h3")).to_have_text(["Cardiova Therapeutics"])
        await page.get_by_label("Search booths").fill("nothing like this")
        await expect(page.locator("#hall-none")).to_be_visible()
        await page.get_by_label("Search booths").fill("")
        await page.get_by_label("Tier").select_option("")
        await page.locator('.booth-card[data-booth="meridian"] a.button').click()
        await expect(page.locator("h1")).to_contain_text("Meridian Pharma")
        await page.set_viewport_size({"width": 390, "height": 844})
        await page.screenshot(path=str(screenshot_path(tmp_path, "booth-phone")), full_page=True)
    finally:
        await context.close()
