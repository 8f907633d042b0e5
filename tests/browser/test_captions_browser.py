"""A captioner (an outside CART service with the session's caption key) posts captions over HTTP;
a viewer with CC on sees each over the video within a second, and they land in the WebVTT."""

from __future__ import annotations

import re
import time
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import BrowserContext, expect

from server.catalogue import Role
from server.state import CATALOGUE, CLOCK
from tests.browser.conftest import screenshot_path, sign_in
from tests.conftest import add_person

pytestmark = pytest.mark.browser

S = "heart-failure-2026"


async def test_captions_from_a_captioner_appear_within_a_second_and_land_in_the_webvtt(
        server: TestServer, context: BrowserContext, tmp_path: Path) -> None:
    base = str(server.make_url("")).rstrip("/")
    organizer = await add_person(server.app, "org@demo.rounds", Role.ORGANIZER)
    await add_person(server.app, "grace@example.org", Role.ATTENDEE, name="Grace Hopper", password="attendee-pass-1")
    page = await context.new_page()
    await sign_in(page, base, "grace@example.org", "attendee-pass-1", f"/sessions/{S}/disclosure")
    await page.locator("#acknowledge").click()
    await page.wait_for_url(f"{base}/sessions/{S}")
    cc = page.get_by_role("button", name="CC captions")
    await expect(cc).to_have_attribute("aria-pressed", "false")
    await cc.click()
    await expect(cc).to_have_attribute("aria-pressed", "true")

    async with aiohttp.ClientSession() as http:
        async with http.post(server.make_url(f"/api/sessions/{S}/caption-key"), headers=organizer.auth) as resp:
            assert resp.status == 201
            key = (await resp.json())["key"]
        captioner = {"Authorization": f"Bearer {key}"}
        # The page hears captions once its /captions socket has joined the session: then time one.
        await expect(page.locator("#player")).to_have_attribute("data-captions", "joined")
        started = time.monotonic()
        async with http.post(server.make_url(f"/api/sessions/{S}/captions"), headers=captioner,
                             json={"text": "Good morning, and welcome to <Heart Failure> & more."}) as resp:
            assert resp.status == 201, await resp.text()
            cue = (await resp.json())["cue"]
        cue_box = page.locator("#player-cue")
        await expect(cue_box).to_have_text("Good morning, and welcome to <Heart Failure> & more.", timeout=1_000)
        elapsed = time.monotonic() - started
        assert elapsed < 1.0
        stage = await page.locator("#player-stage").bounding_box()
        shown = await cue_box.bounding_box()
        assert stage and shown and stage["y"] < shown["y"] < stage["y"] + stage["height"]  # over the video
        await page.screenshot(path=str(screenshot_path(tmp_path, "captions-desktop")))

        async with http.post(server.make_url(f"/api/sessions/{S}/captions"), headers=captioner,
                             json={"text": "Today: the 2026 guideline changes."}) as resp:
            assert resp.status == 201
        await expect(cue_box).to_have_text("Today: the 2026 guideline changes.", timeout=1_000)
        async with http.post(server.make_url(f"/api/sessions/{S}/captions"),
                             headers={"Authorization": "Bearer rcap_wrong"}, json={"text": "x"}) as resp:
            assert resp.status == 401

    session = server.app[CATALOGUE].session(S)
    assert session is not None
    expected_ms = (server.app[CLOCK].now() - session.start).total_seconds() * 1000
    assert abs(cue["start_ms"] - expected_ms) < 60_000  # relative to the session's start
    vtt = await page.evaluate(f"fetch('/sessions/{S}/captions.vtt').then(r => r.text())")
    assert vtt.startswith("WEBVTT")
    blocks = vtt.strip().split("\n\n")
    assert blocks[1].splitlines()[2] == "Good morning, and welcome to &lt;Heart Failure&gt; &amp; more."
    timing = re.fullmatch(r"(\d{2}):([0-5]\d):([0-5]\d)\.(\d{3}) --> (\d{2}):([0-5]\d):([0-5]\d)\.(\d{3})",
                          blocks[1].splitlines()[1])
    assert timing is not None
    h, m, s, ms = map(int, timing.groups()[:4])
    assert ((h * 60 + m) * 60 + s) * 1000 + ms == cue["start_ms"]
    assert blocks[2].splitlines()[2] == "Today: the 2026 guideline changes."

    await cc.click()  # off again: the caption is no longer shown
    await expect(page.locator("#player-captions")).to_be_hidden()
