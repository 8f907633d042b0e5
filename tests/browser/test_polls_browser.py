"""A poll from open to results across two browser contexts: the session's moderator opens a
prepared poll, an attendee answers it, the moderator sees the count live and shares the results,
which then appear on the attendee's page (counts only)."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, BrowserContext, expect

from server.catalogue import Role
from tests.browser.conftest import screenshot_path, sign_in
from tests.conftest import add_person

pytestmark = pytest.mark.browser

S = "heart-failure-2026"
QUESTION = "Which drug class would you start first in a new HFrEF patient with NYHA class II symptoms?"


async def test_a_poll_goes_from_open_to_shared_results(
        server: TestServer, browser: Browser, context: BrowserContext, tmp_path: Path) -> None:
    base = str(server.make_url("")).rstrip("/")
    await add_person(server.app, "sam.reyes@demo.rounds", Role.MODERATOR, name="Sam Reyes", password="moderator-pass-1")
    await add_person(server.app, "grace@example.org", Role.ATTENDEE, name="Grace Hopper", password="attendee-pass-1")
    attendee = await context.new_page()
    await sign_in(attendee, base, "grace@example.org", "attendee-pass-1", f"/sessions/{S}/disclosure")
    await attendee.locator("#acknowledge").click()
    await attendee.wait_for_url(f"{base}/sessions/{S}")
    await expect(attendee.locator('[data-polls="status"]')).to_have_text("live")
    await expect(attendee.locator('[data-polls="empty"]')).to_be_visible()

    mod_context = await browser.new_context()
    mod_context.set_default_timeout(15_000)
    try:
        moderator = await mod_context.new_page()
        await sign_in(moderator, base, "sam.reyes@demo.rounds", "moderator-pass-1", f"/sessions/{S}")
        prepared = moderator.locator('[data-polls="prepared"] li')
        await expect(prepared).to_have_count(2)
        await prepared.filter(has_text=QUESTION).get_by_role("button", name="Open").click()
        run = moderator.locator('[data-polls="list"] li.poll')
        await expect(run).to_have_count(1)
        await expect(run.locator(".poll-results .count").first).to_have_text("0 · 0%")

        poll = attendee.locator('[data-polls="list"] li.poll')
        await expect(poll.locator(".poll-question")).to_have_text(QUESTION)
        await poll.get_by_label("SGLT2 inhibitor").check()
        await poll.get_by_role("button", name="Answer").click()
        await expect(poll).to_contain_text("Your answer: SGLT2 inhibitor.")
        await expect(poll).to_contain_text("Results appear when the presenter shares them.")
        await expect(poll.locator(".poll-results")).to_have_count(0)

        counts = run.locator(".poll-results .count")
        await expect(counts).to_have_text(["0 · 0%", "0 · 0%", "1 · 100%", "0 · 0%"])  # live, anonymous
        assert "Grace" not in (await run.text_content() or "")
        await run.get_by_role("button", name="Share results").click()
        await expect(poll.locator(".poll-results .count")).to_have_text(["0 · 0%", "0 · 0%", "1 · 100%", "0 · 0%"])
        await expect(poll.locator(".poll-results li.mine")).to_contain_text("SGLT2 inhibitor")
        await run.get_by_role("button", name="Close poll").click()
        await expect(poll).to_contain_text("1 · 100%")
        await expect(poll.get_by_role("button", name="Answer")).to_have_count(0)

        await attendee.reload()  # the answer and the shared results come back on join
        await expect(attendee.locator('[data-polls="list"] li.poll')).to_contain_text("Your answer: SGLT2 inhibitor.")
        await attendee.screenshot(path=str(screenshot_path(tmp_path, "poll-attendee")), full_page=True)
        await moderator.screenshot(path=str(screenshot_path(tmp_path, "poll-moderator")), full_page=True)
    finally:
        await mod_context.close()
