"""Third-party publishers: GStreamer's webrtcbin publishes over WHIP, an aiortc viewer decodes.

webrtcbin runs in Debian's python3 (PyGObject, GStreamer 1.22) in a subprocess,
see gst_publisher.py; its offer is POSTed to /whip with a bearer token like any
WHIP client's. It offers ``a=setup:actpass`` with an RSA certificate: Rounds must
answer as DTLS server (``passive``), since as client aiortc offers only ECDHE-ECDSA.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from aiortc import RTCPeerConnection, RTCSessionDescription
from media_peers import ViewerClient, offer_of, read_pattern

from server.http.media import HUB
from tests.conftest import Person

LIVE = "heart-failure-2026"
SDP = {"Content-Type": "application/sdp"}
SCRIPT = Path(__file__).with_name("gst_publisher.py")
SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's, where python3-gi and the GStreamer typelibs are


class Gst:
    """The publisher subprocess and its JSON-lines protocol."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.states: list[str] = []

    async def next(self, key: str, timeout: float = 10) -> Any:
        assert self.process.stdout is not None
        while True:
            line = await asyncio.wait_for(self.process.stdout.readline(), timeout)
            assert line, "the GStreamer publisher exited"
            message = json.loads(line)
            assert "error" not in message, message["error"]
            if "state" in message:
                self.states.append(message["state"])
            if key in message:
                return message[key]

    async def state(self, wanted: str, timeout: float = 10) -> None:
        while wanted not in self.states:
            await self.next("state", timeout)

    def send(self, **message: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps(message) + "\n").encode())


@pytest.fixture
async def gst(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    started: list[Gst] = []

    async def start(codec: str) -> Gst:
        process = await asyncio.create_subprocess_exec(
            SYSTEM_PYTHON,
            str(SCRIPT),
            codec,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        started.append(Gst(process))
        return started[-1]

    yield start
    for publisher in started:
        process = publisher.process
        if process.returncode is None:
            assert process.stdin is not None
            process.stdin.close()
            try:
                await asyncio.wait_for(process.wait(), 5)
            except TimeoutError:
                process.kill()
                await process.wait()


async def gst_publishes(client: TestClient, faculty: Person, gst: Any, codec: str) -> Gst:
    publisher: Gst = await gst(codec)
    offer = await publisher.next("offer")
    assert "a=setup:actpass" in offer
    reply = await client.post(f"/whip/{LIVE}", data=offer.encode(), headers={**SDP, **faculty.auth})
    assert reply.status == 201, await reply.text()
    answer = await reply.text()
    assert "a=setup:passive" in answer
    publisher.send(answer=answer)
    await publisher.state("connected")
    return publisher


async def watch(client: TestClient, person: Person) -> ViewerClient:
    pc = RTCPeerConnection()
    pc.addTransceiver("video", direction="recvonly")
    pc.addTransceiver("audio", direction="recvonly")
    viewer = ViewerClient(pc, "")

    async def count(track: Any) -> None:
        from aiortc.mediastreams import MediaStreamError

        try:
            while True:
                viewer._arrived(read_pattern(await track.recv()))
        except MediaStreamError:
            pass

    @pc.on("track")
    def on_track(track: Any) -> None:
        if track.kind == "video":
            viewer.tasks.append(asyncio.ensure_future(count(track)))

    offer = await offer_of(pc)
    reply = await client.post(f"/whep/{LIVE}", data=offer.encode(), headers={**SDP, **person.auth})
    assert reply.status == 201, await reply.text()
    await pc.setRemoteDescription(RTCSessionDescription(await reply.text(), "answer"))
    return viewer


@pytest.mark.parametrize("codec", ["VP8", "H264"])
async def test_gstreamer_webrtcbin_publishes_and_a_viewer_decodes(
    client: TestClient, people: dict[str, Person], gst: Any, codec: str
) -> None:
    await gst_publishes(client, people["faculty"], gst, codec)
    viewer = await watch(client, people["attendee"])
    try:
        await viewer.frames(45, timeout=15)  # 1.5 s of 30 fps, decoded by the viewer
        state = client.app[HUB].stage(LIVE)
        assert state.status == "live" and state.publish_error is None
        feed = next(f for f in state.feeds if f.kind == "video")
        assert feed.user_id == people["faculty"].user.id
    finally:
        await viewer.close()


async def test_a_failed_dtls_handshake_is_logged_and_shown_on_the_stage(
    client: TestClient,
    people: dict[str, Person],
    gst: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Offered as "passive", the publisher makes Rounds the DTLS client: aiortc's
    # ECDHE-ECDSA-only cipher list then meets GStreamer's RSA certificate.
    publisher: Gst = await gst("VP8")
    offer = (await publisher.next("offer")).replace("a=setup:actpass", "a=setup:passive")
    reply = await client.post(
        f"/whip/{LIVE}", data=offer.encode(), headers={**SDP, **people["faculty"].auth}
    )
    assert reply.status == 201
    answer = await reply.text()
    assert "a=setup:active" in answer
    hub = client.app[HUB]
    # webrtcbin as DTLS server sometimes never answers aiortc's ClientHello at all: then
    # the publisher is dropped after pending_timeout_s, with that reason.
    hub.settings = dataclasses.replace(hub.settings, pending_timeout_s=3.0)
    changed = asyncio.Event()

    async def listen(state: Any) -> None:
        if state.publish_error:
            changed.set()

    hub.on_stage_change(listen)
    publisher.send(answer=answer)
    await asyncio.wait_for(changed.wait(), 10)
    error = hub.stage(LIVE).publish_error
    assert error is not None and error.startswith("DTLS handshake failed")
    assert any(
        r.levelno == logging.WARNING and "DTLS handshake failed" in r.getMessage()
        for r in caplog.records
    )


CHROMIUM_VIEWER_JS = """async () => {
  const pc = new RTCPeerConnection();
  window.pc = pc;
  pc.addTransceiver('video', {direction: 'recvonly'});
  pc.addTransceiver('audio', {direction: 'recvonly'});
  pc.ontrack = (e) => {
    if (e.track.kind !== 'video') return;
    const v = document.createElement('video');
    v.muted = true; v.autoplay = true; v.playsInline = true;
    v.srcObject = new MediaStream([e.track]);
    document.body.appendChild(v);
  };
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((done) => {
    if (pc.iceGatheringState === 'complete') return done();
    pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && done();
  });
  return pc.localDescription.sdp;
}"""
DECODED_JS = """async (wanted) => {
  for (;;) {
    let video = null;
    (await window.pc.getStats()).forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') video = s;
    });
    if (video && video.framesDecoded >= wanted) {
      return {frames: video.framesDecoded, codec: video.codecId, width: video.frameWidth};
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}"""


@pytest.mark.browser
@pytest.mark.parametrize("codec", ["VP8", "H264"])
async def test_gstreamer_publishes_and_chromium_decodes(
    client: TestClient, people: dict[str, Person], gst: Any, codec: str
) -> None:
    from playwright.async_api import async_playwright

    from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS

    await gst_publishes(client, people["faculty"], gst, codec)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            offer = await asyncio.wait_for(page.evaluate(CHROMIUM_VIEWER_JS), 10)
            reply = await client.post(
                f"/whep/{LIVE}", data=offer.encode(), headers={**SDP, **people["attendee"].auth}
            )
            assert reply.status == 201, await reply.text()
            answer = await reply.text()
            await page.evaluate(
                "(sdp) => window.pc.setRemoteDescription({type: 'answer', sdp})", answer
            )
            decoded = await asyncio.wait_for(page.evaluate(DECODED_JS, 45), 20)
            assert decoded["frames"] >= 45 and decoded["width"] == 320
            mime = await page.evaluate(
                """async () => {
                  let mime = null;
                  (await window.pc.getStats()).forEach((s) => {
                    if (s.type === 'codec' && s.mimeType.startsWith('video/')) mime = s.mimeType;
                  });
                  return mime;
                }"""
            )
            assert mime == f"video/{codec}"
        finally:
            await browser.close()
