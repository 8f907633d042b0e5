"""A newcomer opens the lobby, registers, signs out and in again, and sees the agenda."""

from __future__ import annotations

from pathlib import Path

from aiohttp.test_utils import TestServer
from playwright.async_api import BrowserContext, expect

from tests.browser.conftest import screenshot_path, sign_in


async def test_register_sign_in_and_see_the_agenda(server: TestServer, context: BrowserContext, tmp_path: Path) -> None:
    base = str(server.make_url("")).rstrip("/")
    page = await context.new_page()
    await page.goto(base + "/")
    await expect(page.get_by_role("heading", name="Cardiometabolic Medicine Update 2026")).to_be_visible()
    live = page.locator("li.session.live")
    await expect(live).to_have_count(1)
    await expect(live.get_by_role("link")).to_have_text("Heart Failure in 2026: What Changed in the Guidelines")
    await expect(page.locator("li.session.non-accredited")).to_contain_text("Industry-supported by Meridian Pharma")

    await page.get_by_role("link", name="Register").click()
    await page.get_by_label("Full name").fill("Grace <b>Hopper</b>, MD")
    await page.get_by_label("Email").fill("grace@example.org")
    await page.get_by_label("Password").fill("a long enough password")
    await page.get_by_label("Profession").select_option("physician")
    await page.get_by_label("NPI").fill("1234567893")
    await page.get_by_role("button", name="Create account").click()
    await page.wait_for_url(base + "/")
    # The name is shown as text, never as markup.
    await expect(page.locator(".who")).to_contain_text("Grace <b>Hopper</b>, MD")

    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("link", name="Sign in")).to_be_visible()
    await sign_in(page, base, "grace@example.org", "a long enough password")
    await expect(page.locator(".agenda")).to_have_count(2)
    await expect(page.get_by_role("heading", level=2).first).to_contain_text("Day 1")
    # Signed in again, the agenda is on screen (not just in the DOM) under the user's name.
    await expect(page.locator(".agenda").first).to_be_visible()
    await expect(page.locator("li.session.live").get_by_role("link")).to_be_visible()
    await expect(page.locator(".who")).to_contain_text("Grace <b>Hopper</b>, MD")
    await page.screenshot(path=screenshot_path(tmp_path, "lobby"), full_page=True)


async def test_wrong_password_shows_a_reason(server: TestServer, context: BrowserContext) -> None:
    base = str(server.make_url("")).rstrip("/")
    page = await context.new_page()
    await page.goto(base + "/login")
    await page.get_by_label("Email").fill("nobody@example.org")
    await page.get_by_label("Password").fill("whatever it is")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_have_text("email or password is wrong")
