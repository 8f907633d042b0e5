"""Chromium (Debian's, never a downloaded one) driven by Playwright, on loopback only."""

from __future__ import annotations

import json
import select
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import playwright
import pytest
from aiohttp.test_utils import TestServer
from aiortc import RTCPeerConnection, RTCSessionDescription
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from tests.conftest import Person
from tests.media.media_peers import PatternTrack, connected, offer_of

HERE = Path(__file__).parent
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


@pytest.fixture(scope="session")
def chromium_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One Chromium for the whole session (Playwright's launchServer); tests connect to it.

    Each test still gets its own Playwright connection and its own contexts, which close when the
    test disconnects; only the browser process, the slow part to start, is shared.
    """
    driver = Path(playwright.__file__).parent / "driver"
    options = {"executablePath": CHROMIUM, "args": CHROMIUM_ARGS, "headless": True}
    log = tmp_path_factory.mktemp("chromium") / "server.log"
    with log.open("w") as err, subprocess.Popen(
            [str(driver / "node"), str(HERE / "browser_server.js"), str(driver / "package"), json.dumps(options)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True) as proc:
        assert proc.stdout is not None and proc.stdin is not None
        try:
            ready, _, _ = select.select([proc.stdout], [], [], 60)
            endpoint = proc.stdout.readline().strip() if ready else ""
            if not endpoint.startswith("ws://"):
                raise RuntimeError(f"Chromium did not start: {log.read_text()}")
            yield endpoint
            proc.stdin.close()  # the script closes the browser, then exits
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


@pytest.fixture
async def browser(chromium_endpoint: str) -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        browser = await pw.chromium.connect(chromium_endpoint)
        yield browser
        await browser.close()  # a connected browser: closes this test's contexts, disconnects


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
