"""Chromium (Debian's, never a downloaded one) driven by Playwright, on loopback only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from aiortc import RTCPeerConnection, RTCSessionDescription
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from tests.conftest import Person
from tests.media.media_peers import PatternTrack, connected, offer_of

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    context = await browser.new_context(permissions=["camera", "microphone"])
    context.set_default_timeout(15_000)
    yield context
    await context.close()


async def sign_in(page: Page, base: str, email: str, password: str, next_path: str = "/") -> None:
    """Sign in through the real login form."""
    await page.goto(f"{base}/login?next={next_path}")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"{base}{next_path}")


async def publish_pattern(server: TestServer, faculty: Person, session_id: str) -> RTCPeerConnection:
    """A faculty member publishes a synthetic camera through WHIP with a real aiortc peer."""
    pc = RTCPeerConnection()
    pc.addTransceiver(PatternTrack(), direction="sendonly")
    async with aiohttp.ClientSession() as http, http.post(
            server.make_url(f"/whip/{session_id}"), data=await offer_of(pc),
            headers={**faculty.auth, "Content-Type": "application/sdp"}) as resp:
        assert resp.status == 201, await resp.text()
        answer = await resp.text()
    await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
    await connected(pc)
    return pc


def screenshot_path(tmp_path: Path, name: str) -> Path:
    path = tmp_path / "screenshots" / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path
