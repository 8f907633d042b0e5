"""Durability: SIGKILL the server mid-watch, restart it on the same data directory, and find the
watch time stored up to at most one heartbeat interval before the kill.

The server runs as ``python -m server.cli serve`` subprocesses; media flows from a real aiortc
publisher to a real aiortc viewer through WHIP/WHEP; a real Socket.IO client beats every second
as a page would. Wall clock = conference clock here (time scale 1): restarting re-anchors a
compressed clock, so a crash test needs the real one.
"""

from __future__ import annotations

import asyncio
import re
import signal
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio
from aiortc import RTCPeerConnection, RTCSessionDescription

from tests.media.media_peers import PatternTrack, connected, offer_of
from tests.processes import clean_env, run_rounds, serving

S = "heart-failure-2026"
NS = "/watch"
HEARTBEAT_S = 1.0
pytestmark = pytest.mark.slow


def environment(data_dir: Path, conference: Path) -> dict[str, str]:
    return clean_env(ROUNDS_DATA_DIR=str(data_dir), ROUNDS_CONFERENCE=str(conference),
                     ROUNDS_SECRET_KEY="sigkill-test-key", ROUNDS_HEARTBEAT_S=str(int(HEARTBEAT_S)),
                     ROUNDS_HEARTBEAT_TOLERANCE_S="3", ROUNDS_ICE_ADDRESSES="127.0.0.1", ROUNDS_TIME_SCALE="1",
                     ROUNDS_LOG_LEVEL="warning")


async def rounds(env: dict[str, str], *args: str) -> str:
    code, out, err = await run_rounds(env, *args)
    assert code == 0, err
    return out.strip()


async def sdp_post(http: aiohttp.ClientSession, url: str, token: str, pc: RTCPeerConnection) -> str:
    async with http.post(url, data=await offer_of(pc), headers={
            "Authorization": f"Bearer {token}", "Content-Type": "application/sdp"}) as resp:
        assert resp.status == 201, await resp.text()
        return await resp.text()


async def test_sigkill_mid_watch_loses_at_most_one_heartbeat_of_watch_time(tmp_path: Path,
                                                                          conference_file: Path) -> None:
    conference = tmp_path / "conference.toml"
    conference.write_text(re.sub(r"\nattention_checks = \{[^}]*\}", "", conference_file.read_text("utf-8")), "utf-8")
    env = environment(tmp_path / "data", conference)
    await rounds(env, "import", str(conference))
    await rounds(env, "users", "add", "ana.okafor@demo.rounds", "--role", "faculty", "--password", "")
    await rounds(env, "users", "add", "maria@kill.test", "--role", "attendee", "--password", "")
    faculty, maria = await rounds(env, "token", "ana.okafor@demo.rounds"), await rounds(env, "token", "maria@kill.test")
    publisher, viewer = RTCPeerConnection(), RTCPeerConnection()
    client = socketio.AsyncClient(reconnection=False)
    async with aiohttp.ClientSession() as http:
        async with serving(env) as served:
            base, server = served.url.rstrip("/"), served.proc
            auth = {"Authorization": f"Bearer {maria}"}
            async with http.get(f"{base}/api/sessions/{S}", headers=auth) as resp:  # the disclosure first
                version = (await resp.json())["disclosure"]["version"]
            async with http.post(f"{base}/api/sessions/{S}/disclosure", json={"version": version}, headers=auth) as resp:
                assert resp.status == 200
            publisher.addTransceiver(PatternTrack(), direction="sendonly")
            answer = await sdp_post(http, f"{base}/whip/{S}", faculty, publisher)
            await publisher.setRemoteDescription(RTCSessionDescription(answer, "answer"))
            await connected(publisher)
            viewer.addTransceiver("video", direction="recvonly")
            answer = await sdp_post(http, f"{base}/whep/{S}", maria, viewer)
            await viewer.setRemoteDescription(RTCSessionDescription(answer, "answer"))
            await connected(viewer)

            await client.connect(base, namespaces=[NS], auth={"token": maria}, transports=["websocket"],
                                 wait_timeout=10)

            async def beat() -> dict[str, Any]:
                ack = await client.call("heartbeat", {"session": S, "visible": True, "playing": True, "tab": "t"},
                                        namespace=NS, timeout=10)
                assert ack["ok"], ack
                return ack  # type: ignore[no-any-return]

            # The page beats every second, as watch.js does; counting starts once media is stored.
            acks = [await beat()]
            while not acks[-1]["counting"]:
                await asyncio.sleep(HEARTBEAT_S)
                acks.append(await beat())
            counting_since = time.time()
            for _ in range(4):
                await asyncio.sleep(HEARTBEAT_S)
                acks.append(await beat())
            await asyncio.sleep(HEARTBEAT_S / 2)  # killed in the middle of an interval
            server.send_signal(signal.SIGKILL)
            killed_at = time.time()
            await server.wait()
        await client.disconnect()
        await viewer.close()
        await publisher.close()
        watched_until_kill = killed_at - counting_since
        assert acks[-1]["watch_seconds"] >= 3

        async with serving(env) as served:
            base = served.url.rstrip("/")
            async with http.get(f"{base}/api/me/transcript", headers={"Authorization": f"Bearer {maria}"}) as resp:
                body = await resp.json()
            (line,) = body["sessions"]
            stored = line["watch_seconds"]
            # Nothing invented, at most one heartbeat interval (plus a second of rounding) lost.
            assert stored <= watched_until_kill + HEARTBEAT_S + 1
            assert stored >= watched_until_kill - HEARTBEAT_S - 1
            assert stored >= acks[-1]["watch_seconds"]

            # The dead process's media interval was closed: heartbeats without media add nothing.
            again = socketio.AsyncClient(reconnection=False)
            await again.connect(base, namespaces=[NS], auth={"token": maria}, transports=["websocket"],
                                wait_timeout=10)
            try:
                first = await again.call("heartbeat", {"session": S, "visible": True, "playing": True, "tab": "t2"},
                                         namespace=NS, timeout=10)
                await asyncio.sleep(HEARTBEAT_S)
                second = await again.call("heartbeat", {"session": S, "visible": True, "playing": True, "tab": "t2"},
                                          namespace=NS, timeout=10)
            finally:
                await again.disconnect()
            assert first["counting"] is False and second["watch_seconds"] == first["watch_seconds"] == stored


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
# getfixturevalue("pg_url") starts the suite's PostgreSQL (initdb, a subprocess) on the test's loop
# when this is the first test to need it: the harness's cost, not the code under test's.
@pytest.mark.blocks_loop("may start the suite's PostgreSQL server from inside the test")
async def test_media_left_open_by_a_dead_process_closes_at_its_last_sign_of_life(
        database: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    from server.attendance import media_intervals, total_seconds
    from server.store.attendance import AttendanceStore, EvidenceWriter
    from server.store.db import connect, migrate
    from server.transcript import INF

    url = (request.getfixturevalue("pg_url") if database == "postgresql"
           else f"sqlite+aiosqlite:///{tmp_path / 'rounds.db'}")
    engine = connect(url.replace("postgresql://", "postgresql+asyncpg://", 1))
    try:
        await migrate(engine)
        dead, alive = EvidenceWriter(engine, linger_s=0), EvidenceWriter(engine, linger_s=0)
        dead.media(S, 7, "viewer", "gone", True, 1000.0, "dead")
        dead.media(S, 7, "viewer", "closed", True, 1000.0, "dead")
        dead.media(S, 7, "viewer", "closed", False, 1005.0, "dead")
        dead.touch("dead", 1030.0, time.time() - 3600)
        await dead.commit()
        alive.media(S, 8, "viewer", "live", True, 1010.0, "alive")
        alive.touch("alive", 1040.0, time.time())
        await alive.commit()
        store = AttendanceStore(engine)
        assert await store.close_stale("alive", time.time() - 10) == 1
        assert await store.close_stale("alive", time.time() - 10) == 0  # done once, forgotten
        seven = await store.one(7, S)
        assert [iv for iv in media_intervals(seven.media, INF)] == [(1000.0, 1030.0)]
        assert total_seconds(media_intervals((await store.one(8, S)).media, INF)) == INF  # the live one is open
        assert await store.latest() == 1040.0
    finally:
        await engine.dispose()
