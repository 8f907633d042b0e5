"""Impaired-link table: a GStreamer 720p publisher, Chromium viewers, a lossy delayed bridge.

For each codec (VP8, H.264) and link (0/2/5% loss each way, with and without 25 ms
each way = 50 ms RTT) one run of ``--seconds``: the publisher (webrtcbin, Debian's
python3) and the relay sit in the server namespace, one Chromium viewer behind
the bridge (tests/media/netlab.py) and a clean Chromium viewer next to the relay.
Figures come from each viewer's own getStats(): frames decoded per second,
total freeze duration (Chromium's freeze: a frame interval over
max(3 x the average, average + 150 ms)), keyframes decoded, NACKs and PLIs sent;
and from the relay: packets retransmitted, PLIs sent upstream.

    .venv/bin/python tests/bench/impaired_link.py                 # the full table (~8 min)
    .venv/bin/python tests/bench/impaired_link.py --quick         # VP8 at 2% and 5%, 50 ms RTT
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import stat
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "media"))

from netlab import NetLab, without_candidates
from playwright.async_api import Page, async_playwright

from media import MediaHub, MediaSettings

GST = ROOT / "tests" / "media" / "gst_publisher.py"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]
KEYINT = {"VP8": 128, "H264": 250}  # GStreamer's own defaults-ish: ~4.3 s and ~8.3 s

OFFER_JS = """async () => {
  const pc = new RTCPeerConnection();
  window.pc = pc;
  pc.addTransceiver('video', {direction: 'recvonly'});
  pc.addTransceiver('audio', {direction: 'recvonly'});
  pc.ontrack = (e) => {
    const v = document.createElement(e.track.kind);
    v.autoplay = true; v.playsInline = true;
    if (e.track.kind === 'video') v.muted = true; else v.volume = 0.01;
    v.srcObject = new MediaStream([e.track]);
    document.body.appendChild(v);
    v.play().catch(() => {});
  };
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((done) => {
    if (pc.iceGatheringState === 'complete') return done();
    pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && done();
    setTimeout(done, 2000);
  });
  return pc.localDescription.sdp;
}"""
STATS_JS = """async () => {
  const out = {};
  (await window.pc.getStats()).forEach((s) => {
    if (s.type === 'inbound-rtp') out[s.kind] = s;
  });
  out.state = window.pc.connectionState;
  return out;
}"""


def wrapper(ns: str, directory: Path) -> str:
    """A Chromium launcher that starts the browser inside network namespace ``ns``."""
    path = directory / f"chromium-{ns}"
    path.write_text(f'#!/bin/sh\nexec ip netns exec {ns} {CHROMIUM} "$@"\n')
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


async def gst_publish(
    lab: NetLab, hub: MediaHub, codec: str, uplink: bool = False
) -> asyncio.subprocess.Process:
    """webrtcbin next to the relay, or (``uplink``) behind the lossy bridge."""
    ns, address = (lab.view, lab.viewer_ip) if uplink else (lab.srv, lab.server_ip)
    process = await asyncio.create_subprocess_exec(
        "ip", "netns", "exec", ns, "/usr/bin/python3", str(GST), codec,
        f"--address={address}", "--width=1280", "--height=720", "--kbps=1500",
        f"--keyint={KEYINT[codec]}", "--pattern=smpte horizontal-speed=4",
        *(["--nack", "--fec"] if uplink else []),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None and process.stdin is not None

    async def message(key: str) -> Any:
        assert process.stdout is not None
        while True:
            line = await asyncio.wait_for(process.stdout.readline(), 20)
            if not line:
                raise RuntimeError("the GStreamer publisher exited")
            body = json.loads(line)
            if "error" in body:
                raise RuntimeError(body["error"])
            if key in body and (key != "state" or body["state"] == "connected"):
                return body[key]

    offer = await message("offer")
    with lab.inside(lab.srv):
        resource = await hub.publish("bench", 1, without_candidates(offer) if uplink else offer)
    answer = await lab.route_answer(resource.answer_sdp) if uplink else resource.answer_sdp
    process.stdin.write((json.dumps({"answer": answer}) + "\n").encode())
    await message("state")
    return process


async def chromium_viewer(page: Page, lab: NetLab, hub: MediaHub, impaired: bool, user: int) -> str:
    offer = await page.evaluate(OFFER_JS)
    with lab.inside(lab.srv):
        resource = await hub.subscribe("bench", user, without_candidates(offer))
    answer = resource.answer_sdp
    if impaired:
        answer = await lab.route_answer(answer)
    await page.evaluate("(sdp) => window.pc.setRemoteDescription({type: 'answer', sdp})", answer)
    return resource.id


async def one_run(
    codec: str,
    loss: float,
    delay_ms: float,
    seconds: float,
    browsers: dict[str, Any],
    down_only: bool = False,
    uplink: bool = False,
) -> dict[str, Any]:
    lab = NetLab()
    lab.up()
    hub = None
    publisher = None
    try:
        await lab.start_bridge(loss=loss, delay_ms=delay_ms, seed=11, down_only=down_only)
        with lab.inside(lab.srv):
            settings = MediaSettings(ice_addresses=(lab.server_ip,))
            hub = MediaHub(settings, _NoEvidence())
        publisher = await gst_publish(lab, hub, codec, uplink)
        pages = {}
        for role in ("clean", "impaired"):
            browser = await browsers["launch"](
                wrapper(lab.view if role == "impaired" and not uplink else lab.srv, browsers["dir"])
            )
            browsers["open"].append(browser)
            pages[role] = await browser.new_page()
        ids = {}
        for user, (role, page) in enumerate(pages.items(), start=2):
            impaired = role == "impaired" and not uplink
            ids[role] = await chromium_viewer(page, lab, hub, impaired, user)
        await asyncio.sleep(4)  # connect and settle (a join costs one keyframe)
        start = {role: await page.evaluate(STATS_JS) for role, page in pages.items()}
        feed = next(f for p in hub._publishers.values() for f in p.feeds if f.kind == "video")
        plis_before, keyframes_before = feed.plis_sent, feed.keyframes
        outlet = hub._viewers[ids["impaired"]].outlets["video"][0]
        resent_before = outlet.retransmitted
        audio = next(f for p in hub._publishers.values() for f in p.feeds if f.kind == "audio")
        audio_before, video_before = audio.frames, feed.frames
        await asyncio.sleep(seconds)
        print(
            f"  relay in {seconds}s: video frames {feed.frames - video_before}, "
            f"audio frames {audio.frames - audio_before}",
            file=sys.stderr,
        )
        end = {role: await page.evaluate(STATS_JS) for role, page in pages.items()}
        row: dict[str, Any] = {
            "codec": codec,
            "loss": loss,
            "rtt_ms": 2 * delay_ms,
            "down_only": down_only,
            "uplink": uplink,
        }
        for role in pages:
            a, b = start[role].get("video", {}), end[role].get("video", {})
            row[role] = {
                "state": end[role]["state"],
                "fps": round((b.get("framesDecoded", 0) - a.get("framesDecoded", 0)) / seconds, 1),
                "frozen_s_per_min": round(
                    (b.get("totalFreezesDuration", 0) - a.get("totalFreezesDuration", 0))
                    * 60 / seconds, 2),
                "keyframes": b.get("keyFramesDecoded", 0) - a.get("keyFramesDecoded", 0),
                "nacks": b.get("nackCount", 0) - a.get("nackCount", 0),
                "plis": b.get("pliCount", 0) - a.get("pliCount", 0),
                "audio_concealed_pct": _concealed(start[role].get("audio"), end[role].get("audio")),
            }  # fmt: skip
        row["relay"] = {
            "retransmitted": outlet.retransmitted - resent_before,
            "plis_upstream": feed.plis_sent - plis_before,
            "keyframes_from_publisher": feed.keyframes - keyframes_before,
            "over_budget": outlet.over_budget,
            "unrepairable": outlet.unrepairable,
        }
        return row
    finally:
        for browser in browsers["open"]:
            await browser.close()
        browsers["open"].clear()
        if publisher is not None and publisher.returncode is None:
            assert publisher.stdin is not None
            publisher.stdin.close()
            try:
                await asyncio.wait_for(publisher.wait(), 5)
            except TimeoutError:
                publisher.kill()
        if hub is not None:
            await hub.close()
        await lab.stop_bridge()
        row_counts = lab.counts
        lab.down()
        if row_counts:
            print("  bridge:", json.dumps(row_counts), file=sys.stderr)


def _concealed(a: dict[str, Any] | None, b: dict[str, Any] | None) -> float | None:
    if not a or not b:
        return None
    samples = b.get("totalSamplesReceived", 0) - a.get("totalSamplesReceived", 0)
    concealed = b.get("concealedSamples", 0) - a.get("concealedSamples", 0)
    return round(100 * concealed / samples, 2) if samples else None


class _NoEvidence:
    async def viewer_started(self, *_: object) -> None: ...
    async def viewer_stopped(self, *_: object) -> None: ...
    async def publisher_started(self, *_: object) -> None: ...
    async def publisher_stopped(self, *_: object) -> None: ...


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    parser.add_argument("--down-only", action="store_true", help="lose only towards viewers")
    parser.add_argument(
        "--uplink",
        action="store_true",
        help="the publisher is behind the bridge (NACK and Opus FEC on); both viewers clean",
    )
    parser.add_argument("--only", help="e.g. VP8:0.02:25 (codec:loss:one-way delay ms)")
    args = parser.parse_args()
    if args.quick:
        runs = [("VP8", 0.02, 25.0), ("VP8", 0.05, 25.0)]
    else:
        runs = [
            (codec, loss, delay)
            for codec in ("VP8", "H264")
            for loss in (0.0, 0.02, 0.05)
            for delay in (0.0, 25.0)
        ]
    if args.only:
        codec, loss, delay = args.only.split(":")
        runs = [(codec, float(loss), float(delay))]
    rows = []
    with tempfile.TemporaryDirectory(prefix="r11-bench-") as directory:
        async with async_playwright() as playwright:

            async def launch(executable: str) -> Any:
                return await playwright.chromium.launch(
                    executable_path=executable, args=CHROMIUM_ARGS
                )

            browsers: dict[str, Any] = {"launch": launch, "dir": Path(directory), "open": []}
            for codec, loss, delay in runs:
                row = await one_run(
                    codec, loss, delay, args.seconds, browsers, args.down_only, args.uplink
                )
                rows.append(row)
                print(json.dumps(row), flush=True)
    print()
    print(
        "| codec | loss each way | RTT | impaired fps | frozen s/min | clean fps | clean keyframes/min | audio concealed (impaired) | resent | PLIs upstream |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        i, c, relay = r["impaired"], r["clean"], r["relay"]
        per_min = 60 / args.seconds
        print(
            f"| {r['codec']} | {r['loss']:.0%} | {r['rtt_ms']:.0f} ms | {i['fps']} | "
            f"{i['frozen_s_per_min']} | {c['fps']} | {c['keyframes'] * per_min:.1f} | "
            f"{i['audio_concealed_pct']}% | {relay['retransmitted']} | {relay['plis_upstream']} |"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    _ = os


if __name__ == "__main__":
    asyncio.run(main())
