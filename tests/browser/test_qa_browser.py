"""An attendee page and a moderator console in two Chromium contexts: ask, approve, upvote, stage."""

from __future__ import annotations

from pathlib import Path

from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, BrowserContext, expect

from server.catalogue import Role
from tests.browser.conftest import screenshot_path, sign_in
from tests.conftest import add_person

S = "heart-failure-2026"
QUESTION = "Does <img src=x onerror=alert(1)> change the ARNI dose?"


async def test_question_travels_from_attendee_to_moderator_and_onto_the_stage(
        server: TestServer, browser: Browser, context: BrowserContext, tmp_path: Path) -> None:
    base = str(server.make_url("")).rstrip("/")
    await add_person(server.app, "maria@example.org", Role.ATTENDEE, name="Maria Lopez", password="attendee-pass-1")
    await add_person(server.app, "sam.reyes@demo.rounds", Role.MODERATOR, name="Sam Reyes",
                     password="moderator-pass-1")
    attendee = await context.new_page()
    dialogs: list[str] = []
    attendee.on("dialog", lambda d: dialogs.append(d.message))
    # Learners read the faculty disclosure before an accredited session (issue 7's gate).
    await sign_in(attendee, base, "maria@example.org", "attendee-pass-1", f"/sessions/{S}/disclosure")
    await attendee.locator("#acknowledge").click()
    await attendee.wait_for_url(f"{base}/sessions/{S}")
    await expect(attendee.locator('#qa [data-qa="status"]')).to_have_text("live")

    mod_context = await browser.new_context()
    mod_context.set_default_timeout(15_000)
    try:
        console = await mod_context.new_page()
        await sign_in(console, base, "sam.reyes@demo.rounds", "moderator-pass-1", f"/sessions/{S}/moderate")
        await expect(console.locator('[data-qa="status"]')).to_have_text("live")

        await attendee.get_by_label("Your question").fill(QUESTION)
        await attendee.get_by_label("Ask anonymously").check()
        await attendee.get_by_role("button", name="Ask").click()
        await expect(attendee.locator('[data-qa="mine"] li')).to_contain_text("waiting for a moderator")

        pending = console.locator('[data-qa="pending"] li')
        await expect(pending).to_have_count(1)
        await expect(pending).to_contain_text(QUESTION)  # shown as text, not markup
        await expect(pending).to_contain_text("Maria Lopez (anonymous to the audience)")
        await console.keyboard.press("j")
        await console.keyboard.press("a")  # approve with the keyboard
        approved = console.locator('[data-qa="approved"] li')
        await expect(approved).to_have_count(1)

        item = attendee.locator('[data-qa="list"] li')
        await expect(item).to_contain_text(QUESTION)
        await expect(item).to_contain_text("Anonymous")
        await item.get_by_role("button").click()
        await expect(item.get_by_role("button")).to_have_attribute("aria-pressed", "true")
        await expect(approved).to_contain_text("1 vote")

        await approved.get_by_role("button", name="On stage").click()
        await expect(attendee.locator('#qa [data-qa="stage-text"]')).to_have_text(QUESTION)
        await expect(attendee.locator('[data-qa="mine"] li')).to_contain_text("visible to everyone")
        assert await attendee.locator("#qa img").count() == 0 and dialogs == []

        await attendee.screenshot(path=screenshot_path(tmp_path, "qa-attendee"), full_page=True)
        await console.screenshot(path=screenshot_path(tmp_path, "qa-moderator"), full_page=True)
        assert screenshot_path(tmp_path, "qa-attendee").stat().st_size > 10_000
        assert screenshot_path(tmp_path, "qa-moderator").stat().st_size > 10_000
    finally:
        await mod_context.close()
