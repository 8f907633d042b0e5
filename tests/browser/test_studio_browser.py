"""A presenter gets back on air with one press of Go live after the server restarts under them,
and the studio says what state it is in (badge, elapsed time, microphone level, disabled buttons)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import socketio
from playwright.async_api import Browser, expect

from server.accounts import Role
from server.app import create_app
from server.http.media import HUB
from server.settings import Settings
from tests.conftest import add_person
from tests.qa_support import NS, call

from .conftest import screenshot_path, sign_in

pytestmark = pytest.mark.browser

LIVE = "heart-failure-2026"


async def test_go_live_again_with_one_press_after_a_server_restart(
    settings: Settings, aiohttp_server: Any, browser: Browser, tmp_path: Path
) -> None:
    first = create_app(settings)
    # A restart drops open sockets at once (the page has /qa and /polls ones): no graceful wait.
    server = await aiohttp_server(first, host="127.0.0.1", shutdown_timeout=0.5)
    port = server.port
    base = str(server.make_url("")).rstrip("/")
    await add_person(first, "ana.okafor@demo.rounds", Role.FACULTY, password="faculty-pass-1")
    context = await browser.new_context(permissions=["camera", "microphone"])
    context.set_default_timeout(15_000)
    try:
        studio = await context.new_page()
        await sign_in(studio, base, "ana.okafor@demo.rounds", "faculty-pass-1", f"/studio/{LIVE}")
        go_live, stop = studio.get_by_role("button", name="Go live"), studio.get_by_role("button", name="Stop")
        await expect(stop).to_be_disabled()
        assert await stop.evaluate("b => getComputedStyle(b).cursor") == "not-allowed"
        await studio.wait_for_function("() => document.getElementById('studio-camera').videoWidth > 0")
        await studio.wait_for_function("() => document.getElementById('studio-level').value > 0")  # fake mic beeps
        await go_live.click()
        await expect(studio.locator("#studio-state")).to_have_text("Live")
        await expect(go_live).to_be_disabled()
        await expect(studio.locator("#studio-elapsed")).not_to_have_text("00:00", timeout=3_000)
        # The session's own faculty sees its viewer count (nobody watches yet).
        await expect(studio.locator("#studio-viewers")).to_have_text("0")
        assert first[HUB].stats().publishers == 1

        # An approved question shows beside the preview (the faculty view, embedded).
        learner = await add_person(first, "maria@example.org", Role.ATTENDEE)
        moderator = await add_person(first, "sam.reyes@demo.rounds", Role.MODERATOR)
        clients = []
        for person in (learner, moderator):
            client = socketio.AsyncClient(reconnection=False)
            await client.connect(base, namespaces=[NS], auth={"token": person.token}, transports=["websocket"])
            await call(client, "join", {"session": LIVE})
            clients.append(client)
        qid = (await call(clients[0], "ask", {"session": LIVE, "text": "Does eGFR change the dose?"}))["question"]["id"]
        assert (await call(clients[1], "moderate", {"question": qid, "action": "approve"}))["ok"]
        await expect(studio.locator("#faculty-view [data-qa=list] li")).to_contain_text(["Does eGFR change the dose?"])
        for client in clients:
            await client.disconnect()
        await studio.screenshot(path=str(screenshot_path(tmp_path, "studio-live")), full_page=True)

        await server.close()  # the server restarts: every WebRTC peer it held is gone
        await expect(studio.locator("#studio-state")).to_have_text("Interrupted", timeout=20_000)
        await expect(studio.locator("#studio-status")).to_contain_text("Press Go live")
        await expect(go_live).to_be_enabled()
        second = create_app(settings)
        await aiohttp_server(second, host="127.0.0.1", port=port)

        await go_live.click()  # one press
        await expect(studio.locator("#studio-state")).to_have_text("Live")
        assert second[HUB].stats().publishers == 1
        await stop.click()
        await expect(studio.locator("#studio-state")).to_have_text("Not live")
        await expect(go_live).to_be_enabled()
    finally:
        await context.close()
