"""Attendance end to end: real aiortc peers through WHIP/WHEP, real /watch heartbeat clients,
a conference clock compressed x60 through settings; the result read back from the transcript API
and from ``rounds export attendance`` (a separate process on the same data directory).
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
from pathlib import Path
from typing import Any

import pytest
import socketio
from aiohttp import web
from aiohttp.test_utils import TestClient
from aiortc import RTCPeerConnection, RTCSessionDescription

from server.evidence import EVIDENCE
from server.settings import Settings
from server.state import CLOCK
from tests.conftest import Person, SioFactory, make_settings
from tests.media.media_peers import PatternTrack, ToneTrack, connected, offer_of
from tests.processes import clean_env, run_rounds

S = "heart-failure-2026"
NS = "/watch"
SCALE = 60.0


@pytest.fixture
def settings(tmp_path: Path, conference_file: Path) -> Settings:
    # No attention checks here (test_watch_realtime covers them): the expected time stays exact.
    text = re.sub(r"\nattention_checks = \{[^}]*\}", "", conference_file.read_text(encoding="utf-8"))
    path = tmp_path / "conference.toml"
    path.write_text(text, encoding="utf-8")
    return make_settings(tmp_path / "data", path, time_scale=SCALE)


class Started:
    """Wraps the app's real evidence sink to let the test await ``viewer_started`` per user."""

    def __init__(self, app: web.Application) -> None:
        self.counts: dict[int, int] = {}
        self.changed = asyncio.Event()
        evidence = app[EVIDENCE]
        original = evidence.viewer_started

        async def viewer_started(session_id: str, viewer_id: str, user_id: int) -> None:
            await original(session_id, viewer_id, user_id)
            self.counts[user_id] = self.counts.get(user_id, 0) + 1
            self.changed.set()

        evidence.viewer_started = viewer_started  # type: ignore[method-assign]

    async def wait(self, user_id: int, count: int, timeout: float = 15) -> None:
        async def look() -> None:
            while self.counts.get(user_id, 0) < count:
                self.changed.clear()
                await self.changed.wait()
        await asyncio.wait_for(look(), timeout)


async def whip(client: TestClient, person: Person) -> tuple[RTCPeerConnection, str]:
    pc = RTCPeerConnection()
    pc.addTransceiver(PatternTrack(), direction="sendonly")
    pc.addTransceiver(ToneTrack(), direction="sendonly")
    resp = await client.post(f"/whip/{S}", data=await offer_of(pc),
                             headers={**person.auth, "Content-Type": "application/sdp"})
    assert resp.status == 201, await resp.text()
    await pc.setRemoteDescription(RTCSessionDescription(await resp.text(), "answer"))
    await connected(pc)
    return pc, resp.headers["Location"]


async def whep(client: TestClient, person: Person) -> tuple[RTCPeerConnection, str]:
    pc = RTCPeerConnection()
    pc.addTransceiver("video", direction="recvonly")
    pc.addTransceiver("audio", direction="recvonly")
    resp = await client.post(f"/whep/{S}", data=await offer_of(pc),
                             headers={**person.auth, "Content-Type": "application/sdp"})
    assert resp.status == 201, await resp.text()
    await pc.setRemoteDescription(RTCSessionDescription(await resp.text(), "answer"))
    return pc, resp.headers["Location"]


async def beat(client: socketio.AsyncClient, tab: str, visible: bool = True) -> dict[str, Any]:
    ack = await client.call("heartbeat", {"session": S, "visible": visible, "playing": True, "tab": tab},
                            namespace=NS, timeout=10)
    assert ack["ok"], ack
    return ack  # type: ignore[no-any-return]


async def rounds_export(settings: Settings, fmt: str) -> tuple[int, str, str]:
    """``rounds export attendance --session S --format FMT`` in its own process."""
    env = clean_env(ROUNDS_DATA_DIR=str(settings.data_dir), ROUNDS_SECRET_KEY="test-secret-key")
    return await run_rounds(env, "export", "attendance", "--session", S, "--format", fmt)


async def export_csv(settings: Settings) -> list[dict[str, str]]:
    code, out, err = await rounds_export(settings, "csv")
    assert code == 0, err
    return list(csv.DictReader(io.StringIO(out)))


async def test_two_viewers_and_two_tabs_of_one_attendee_count_once_in_transcript_and_csv(
        app: web.Application, client: TestClient, people: dict[str, Person], sio: SioFactory,
        settings: Settings) -> None:
    clock = app[CLOCK]
    maria, tom, priya = people["attendee"], people["attendee2"], people["pharmacist"]
    started = Started(app)
    publisher, _ = await whip(client, people["faculty"])
    laptop, laptop_url = await whep(client, maria)
    phone, _ = await whep(client, maria)
    toms, _ = await whep(client, tom)  # media, never a heartbeat: counts nothing
    peers = [publisher, laptop, phone, toms]
    try:
        await started.wait(maria.user.id, 2)
        await started.wait(tom.user.id, 1)
        tab_a, tab_b = await sio(maria, NS), await sio(maria, NS)
        priya_tab = await sio(priya, NS)  # heartbeats, no media: counts nothing

        first_before = clock.timestamp()
        await asyncio.gather(beat(tab_a, "a"), beat(tab_b, "b"), beat(priya_tab, "p"))
        first_after = clock.timestamp()
        await asyncio.sleep(1.0)  # one conference minute with both players and both tabs
        both = await asyncio.gather(beat(tab_a, "a"), beat(tab_b, "b", visible=False), beat(priya_tab, "p"))
        assert both[0]["counting"] is True and both[1]["counting"] is False and both[2]["counting"] is False

        # The laptop's player goes away (DELETE): the phone keeps the media flowing.
        assert (await client.delete(laptop_url, headers=maria.auth)).status == 200
        await asyncio.sleep(0.5)
        last_before = clock.timestamp()
        final = await beat(tab_a, "a")
        last_after = clock.timestamp()
        assert final["counting"] is True

        low, high = last_before - first_after, last_after - first_before
        assert low - 1 <= final["watch_seconds"] <= high + 1

        body = await (await client.get("/api/me/transcript", headers=maria.auth)).json()
        (line,) = body["sessions"]
        assert line["id"] == S and low - 1 <= line["watch_seconds"] <= high + 1
        assert body["total"]["watch_seconds"] == line["watch_seconds"]
        for person in (tom, priya):
            other = await (await client.get("/api/me/transcript", headers=person.auth)).json()
            assert [s["watch_seconds"] for s in other["sessions"]] == [0]

        rows = {r["email"]: r for r in await export_csv(settings)}
        assert int(rows[maria.user.email]["watch_seconds"]) == line["watch_seconds"]
        assert rows[maria.user.email]["from"] and rows[maria.user.email]["to"] > rows[maria.user.email]["from"]
        assert rows[tom.user.email]["watch_seconds"] == "0" and rows[priya.user.email]["watch_seconds"] == "0"
        assert people["faculty"].user.email in rows  # the faculty's publishing time is there too
        assert int(rows[people["faculty"].user.email]["faculty_seconds"]) >= line["watch_seconds"]
        code, out, err = await rounds_export(settings, "pdf")
        assert code == 2 and out == "" and "only as csv" in err
    finally:
        for pc in peers:
            await pc.close()
