"""One time zone rule: a viewer in Berlin sees the agenda and booth chat in the conference's zone
(America/Chicago) with their own time beside it; a viewer in Chicago sees one time. The learner
picks sessions into their own agenda and exports it as iCalendar."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, expect

from server.catalogue import Role
from server.state import CATALOGUE
from tests.browser.conftest import screenshot_path, sign_in
from tests.conftest import add_person

pytestmark = pytest.mark.browser

PASSWORD = "correct-horse-battery"


async def test_times_follow_the_conference_zone_with_the_viewers_own_and_the_agenda_exports(
        server: TestServer, browser: Browser, tmp_path: Path) -> None:
    base = str(server.make_url("")).rstrip("/")
    await add_person(server.app, "maria@example.org", Role.ATTENDEE, name="Maria Lopez", password=PASSWORD)
    session = server.app[CATALOGUE].sessions[0]
    chicago = session.start.astimezone(ZoneInfo("America/Chicago")).strftime("%H:%M")
    berlin = session.start.astimezone(ZoneInfo("Europe/Berlin")).strftime("%H:%M")

    away = await browser.new_context(timezone_id="Europe/Berlin")
    home = await browser.new_context(timezone_id="America/Chicago")
    try:
        page = await away.new_page()
        await sign_in(page, base, "maria@example.org", PASSWORD, "/")
        first = page.locator(f'li.session[data-session="{session.id}"] .when time').first
        await expect(first).to_have_text(f"{chicago} ({berlin} your time)")

        picks = page.get_by_role("button", name="Add to my agenda")
        await picks.nth(0).click()
        await picks.nth(1).click()  # the first is now "In my agenda ✓": this is the third session
        await page.get_by_label("Show only my agenda").check()
        await expect(page.locator("li.session:not([hidden])")).to_have_count(2)
        export = page.get_by_role("link", name="Export my agenda (.ics)")
        href = await export.get_attribute("href") or ""
        ids = href.split("sessions=")[1].split(",")
        assert len(ids) == 2 and ids[0] == session.id
        text = await page.evaluate(f"fetch({href!r}).then(r => r.text())")
        assert text.count("BEGIN:VEVENT") == 2 and "\r\n" in text
        start = re.search(r"DTSTART:(\d{8}T\d{6}Z)", text)
        assert start and datetime.strptime(start.group(1), "%Y%m%dT%H%M%SZ").strftime("%H:%M") == \
            session.start.astimezone(ZoneInfo("UTC")).strftime("%H:%M")
        await page.screenshot(path=str(screenshot_path(tmp_path, "agenda-mine")), full_page=True)
        await page.reload()  # the choice is kept in this browser
        await expect(page.locator("li.session.picked")).to_have_count(2)

        await page.goto(f"{base}/hall/meridian")
        await expect(page.locator("[data-hall=status]")).to_have_text("connected")
        await page.fill("#chat-text", "What time is it?")
        await page.click("[data-hall=chat] button[type=submit]")
        sent = page.locator("[data-hall=messages] li time").last
        await expect(sent.locator(".your-time")).to_contain_text("your time")

        local = await home.new_page()
        await sign_in(local, base, "maria@example.org", PASSWORD, "/")
        await expect(local.locator(f'li.session[data-session="{session.id}"] .when time').first).to_have_text(chicago)
    finally:
        await away.close()
        await home.close()
