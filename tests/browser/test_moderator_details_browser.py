"""The moderator console's details: merge by picking a question, Enter submits the dismiss reason,
done items keep readable contrast, singular "1 vote", and a vote button named by its own text."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, expect

from server.catalogue import Role
from tests.browser.conftest import screenshot_path, sign_in
from tests.conftest import SioFactory, add_person
from tests.qa_support import NS, call

pytestmark = pytest.mark.browser

S = "heart-failure-2026"

CONTRAST = """(node) => {
  const rgb = (c) => c.match(/[\\d.]+/g).slice(0, 3).map(Number);
  const lum = (c) => { const [r, g, b] = rgb(c).map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  let bg = node; while (bg && getComputedStyle(bg).backgroundColor.startsWith("rgba(0, 0, 0, 0")) bg = bg.parentElement;
  const a = lum(getComputedStyle(node).color), b = lum(getComputedStyle(bg).backgroundColor);
  const style = getComputedStyle(node.closest("li"));
  return { ratio: (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05), opacity: Number(style.opacity) };
}"""


async def test_merge_by_picking_enter_dismisses_and_done_items_stay_readable(
        server: TestServer, browser: Browser, sio: SioFactory, tmp_path: Path) -> None:
    base = str(server.make_url("")).rstrip("/")
    maria = await add_person(server.app, "maria@example.org", Role.ATTENDEE, name="Maria Lopez")
    await add_person(server.app, "sam.reyes@demo.rounds", Role.MODERATOR, name="Sam Reyes", password="moderator-pass-1")
    learner = await sio(maria, NS)
    await call(learner, "join", {"session": S})
    texts = ["What is the ARNI starting dose?", "Which ARNI dose do you start with?", "Off-topic question"]
    ids = [(await call(learner, "ask", {"session": S, "text": t}))["question"]["id"] for t in texts]

    context = await browser.new_context()
    context.set_default_timeout(15_000)
    try:
        console = await context.new_page()
        await sign_in(console, base, "sam.reyes@demo.rounds", "moderator-pass-1", f"/sessions/{S}/moderate")
        pending = console.locator('[data-qa="pending"] li')
        await expect(pending).to_have_count(3)
        await pending.filter(has_text=texts[0]).get_by_role("button", name="Approve").click()
        await expect(console.locator('[data-qa="approved"] li')).to_have_count(1)

        await pending.filter(has_text=texts[1]).get_by_role("button", name="Merge").click()
        dialog = console.locator('[data-qa="dialog"]')
        picker = dialog.get_by_label(f"Merge #{ids[1]} into")
        await expect(picker).to_be_visible()
        await expect(dialog.locator("textarea")).to_be_hidden()
        await picker.select_option(str(ids[0]))
        await dialog.get_by_role("button", name="OK").click()
        done = console.locator('[data-qa="done"] li')
        await expect(done.filter(has_text=texts[1])).to_contain_text(f"Merged into #{ids[0]}")

        await pending.filter(has_text=texts[2]).get_by_role("button", name="Dismiss").click()
        reason = dialog.get_by_label("Reason for dismissing")
        await reason.fill("Not about this session")
        await reason.press("Enter")
        await expect(dialog).to_be_hidden()
        await expect(done.filter(has_text=texts[2])).to_contain_text("Dismissed: Not about this session")

        for item in [done.filter(has_text=texts[1]), done.filter(has_text=texts[2])]:
            for part in [item.locator(".qa-text"), item.locator(".qa-meta"), item.locator(".qa-reason")]:
                measured = await part.evaluate(CONTRAST)
                assert measured["opacity"] == 1 and measured["ratio"] >= 4.5, measured
        await console.screenshot(path=str(screenshot_path(tmp_path, "moderate-done")), full_page=True)

        await call(learner, "vote", {"question": ids[0], "on": True})
        await expect(console.locator('[data-qa="approved"] li .qa-meta')).to_contain_text("· 1 vote")
        attendee = await context.new_page()  # the moderator watches the audience list too
        await attendee.goto(f"{base}/sessions/{S}")
        vote = attendee.locator('[data-qa="list"] li').first.locator("button.qa-vote")
        await expect(vote).to_have_text("▲1 vote")
        await expect(attendee.get_by_role("button", name="1 vote", exact=True)).to_have_count(1)
    finally:
        await context.close()
