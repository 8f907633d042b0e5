"""Relay fan-out benchmark: server CPU per viewer, Rounds relay vs aiortc's MediaRelay.

One publisher sends a clip encoded ONCE ahead of time (VP8, 30 fps, ~1.5 Mbit/s) as
packets, so its cost is not the server's. Viewers run in separate client processes
and count frames from RTP marker bits without decoding (one checker viewer decodes).
The server process reports its own CPU time (all its threads).

    python tests/bench/relay_fanout.py --quick     # a table in under 5 minutes
    python tests/bench/relay_fanout.py             # the full sweep

The relay keeps each viewer's last second of packets for retransmission; the
"rounds 2%" rows are the same relay with every counting viewer losing 2% of its
video packets at random and NACKing each one (RFC 4585 generic NACK, sent through
its real aiortc receiver), so they show what answering NACKs costs per viewer.
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import itertools
import json
import os
import random
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import av
from aiohttp import ClientSession, web
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamError

from media import MediaHub, MediaSettings
from media.ice import restrict_host_addresses

LOOPBACK = ("127.0.0.1",)
CACHE = Path(os.environ.get("ROUNDS_BENCH_CACHE", "/tmp/rounds-bench"))
FPS = 30
CLIP_FRAMES = 300  # 10 s, a keyframe every 2 s so the loop point is one
VIEWERS_PER_PROCESS = 25


# -- the clip, encoded once ----------------------------------------------------------


def clip_path(width: int, height: int) -> Path:
    """Encode (once, cached) the benchmark clip: length-prefixed VP8 frames."""
    path = CACHE / f"clip-{width}x{height}.vp8"
    if path.exists():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    context = av.CodecContext.create("libvpx", "w")
    context.width, context.height, context.pix_fmt = width, height, "yuv420p"
    context.time_base = fractions.Fraction(1, FPS)
    context.bit_rate = 1_500_000
    context.gop_size = 2 * FPS
    context.options = {
        "deadline": "realtime",
        "cpu-used": "8",
        "lag-in-frames": "0",
        "minrate": "1500000",
        "maxrate": "1500000",
        "qmax": "56",
    }
    # A panning picture of random 8x8 blocks with a noisy band: detailed enough to fill
    # 1.5 Mbit/s, predictable enough that the rate control holds it there.
    blocks = os.urandom((width // 8 + 1) * (height // 8 + 1))
    rows = []
    for y in range(height):
        base = (y // 8) * (width // 8 + 1)
        rows.append(bytes(blocks[base + x // 8] for x in range(width)))
    band = 16 * 640 * 360 // (width * height) + 2
    middle = height // 2
    out = bytearray()
    for number in range(CLIP_FRAMES):
        frame = av.VideoFrame(width, height, "yuv420p")
        luma = frame.planes[0]
        shift = (number * 4) % width
        noise = os.urandom(width * band)
        picture = b"".join(
            (
                noise[(y % band) * width : (y % band + 1) * width]
                if middle <= y < middle + band
                else row[shift:] + row[:shift]
            )
            + bytes(luma.line_size - width)
            for y, row in enumerate(rows)
        )
        luma.update(picture)
        for chroma in frame.planes[1:]:
            chroma.update(bytes([(number * 3) % 256]) * chroma.buffer_size)
        frame.pts = number
        if number % (2 * FPS) == 0:
            frame.pict_type = av.video.frame.PictureType.I
        for packet in context.encode(frame):
            data = bytes(packet)
            out += struct.pack("!I", len(data)) + data
    for packet in context.encode(None):
        data = bytes(packet)
        out += struct.pack("!I", len(data)) + data
    path.write_bytes(bytes(out))
    return path


def read_clip(path: Path) -> list[bytes]:
    """The clip's frames."""
    raw = path.read_bytes()
    frames, pos = [], 0
    while pos < len(raw):
        (size,) = struct.unpack_from("!I", raw, pos)
        frames.append(raw[pos + 4 : pos + 4 + size])
        pos += 4 + size
    return frames


class ClipTrack(MediaStreamTrack):
    """Pre-encoded frames as av.Packets at 30 fps: the sender packs them, no encoding."""

    kind = "video"

    def __init__(self, frames: list[bytes]) -> None:
        super().__init__()
        self._frames = frames
        self._count = 0
        self._start = time.monotonic()

    async def recv(self) -> av.Packet:
        await asyncio.sleep(max(0.0, self._start + self._count / FPS - time.monotonic()))
        packet = av.Packet(self._frames[self._count % len(self._frames)])
        packet.pts = self._count * (90000 // FPS)
        packet.time_base = fractions.Fraction(1, 90000)
        self._count += 1
        return packet


# -- processes -------------------------------------------------------------------------


class NullEvidence:
    async def viewer_started(self, session_id: str, viewer_id: str, user_id: int) -> None: ...
    async def viewer_stopped(self, session_id: str, viewer_id: str, user_id: int) -> None: ...
    async def publisher_started(self, session_id: str, publisher_id: str, user_id: int) -> None: ...
    async def publisher_stopped(self, session_id: str, publisher_id: str, user_id: int) -> None: ...


async def serve(design: str) -> None:
    """The server under test: WHIP/WHEP-shaped POSTs and its CPU time, on loopback."""
    hub = MediaHub(MediaSettings(ice_addresses=LOOPBACK, max_viewers=10_000), NullEvidence())
    relay = MediaRelay()
    users = itertools.count(2)
    source: list[MediaStreamTrack] = []
    pcs: list[RTCPeerConnection] = []

    async def whip(request: web.Request) -> web.Response:
        offer = await request.text()
        if design == "rounds":
            return web.Response(text=(await hub.publish("bench", 1, offer)).answer_sdp)
        pc = RTCPeerConnection()
        pcs.append(pc)
        pc.on("track", lambda track: source.append(track))
        return web.Response(text=await answer(pc, offer))

    async def whep(request: web.Request) -> web.Response:
        offer = await request.text()
        if design == "rounds":
            # Every viewer is someone else (one user may hold only a few WHEP resources).
            user = next(users)
            return web.Response(text=(await hub.subscribe("bench", user, offer)).answer_sdp)
        pc = RTCPeerConnection()
        pcs.append(pc)
        await pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
        pc.addTrack(relay.subscribe(source[0]))
        restrict_host_addresses(pc, LOOPBACK)
        await pc.setLocalDescription(await pc.createAnswer())
        return web.Response(text=pc.localDescription.sdp)

    async def cpu(request: web.Request) -> web.Response:
        times = os.times()
        return web.json_response(
            {
                "cpu": time.process_time(),
                "user": times.user,
                "system": times.system,
                "wall": time.monotonic(),
            }
        )

    app = web.Application()
    app.router.add_post("/whip", whip)
    app.router.add_post("/whep", whep)
    app.router.add_get("/cpu", cpu)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(json.dumps({"port": site._server.sockets[0].getsockname()[1]}), flush=True)  # type: ignore[union-attr]
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the pipe closes


async def answer(pc: RTCPeerConnection, offer: str) -> str:
    await pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
    restrict_host_addresses(pc, LOOPBACK)
    await pc.setLocalDescription(await pc.createAnswer())
    return pc.localDescription.sdp


async def offer_sdp(pc: RTCPeerConnection) -> str:
    offer = await pc.createOffer()
    restrict_host_addresses(pc, LOOPBACK)
    await pc.setLocalDescription(offer)
    return pc.localDescription.sdp


async def publish(url: str, clip: Path) -> None:
    """Publish the clip, then idle until stdin closes."""
    pc = RTCPeerConnection()
    transceiver = pc.addTransceiver(ClipTrack(read_clip(clip)), direction="sendonly")
    transceiver.setCodecPreferences(
        [c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType == "video/VP8"]
    )
    async with ClientSession() as http, http.post(f"{url}/whip", data=await offer_sdp(pc)) as reply:
        await pc.setRemoteDescription(RTCSessionDescription(await reply.text(), "answer"))
    print(json.dumps({"published": True}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await pc.close()


async def view(url: str, count: int, check: bool, loss: float = 0.0) -> None:
    """Run ``count`` viewers; answer each stdin line with their frame counts.

    With ``loss``, each counting viewer drops that share of its first-time video
    packets and NACKs them (the repairs arrive on the RTX stream and are counted).
    """
    rng = random.Random(len(sys.argv) + count)
    frames = [0] * count
    decoded = {"frames": 0, "width": 0, "height": 0}
    pcs = []
    async with ClientSession() as http:
        for index in range(count):
            pc = RTCPeerConnection()
            transceiver = pc.addTransceiver("video", direction="recvonly")
            sdp = await offer_sdp(pc)
            if check and index == 0:
                pc.on("track", lambda track: asyncio.ensure_future(decode(track, decoded)))
            else:
                # Count frames from the marker bits of the (cleartext) RTP headers as
                # datagrams arrive: no SRTP, parsing or decoding, so the viewer processes
                # stay light and the server's figure is not distorted by them.
                connection = transceiver.receiver.transport.transport._connection
                nack = None
                if loss:
                    nack = nacker(transceiver.receiver, loss, rng)
                for protocol in connection._protocols:
                    protocol.datagram_received = counter(
                        frames, index, protocol.datagram_received, nack
                    )
            # Ride out scheduling hiccups of a busy machine without kernel drops.
            for protocol in transceiver.receiver.transport.transport._connection._protocols:
                protocol.transport.get_extra_info("socket").setsockopt(
                    socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20
                )
            async with http.post(f"{url}/whep", data=sdp) as reply:
                await pc.setRemoteDescription(RTCSessionDescription(await reply.text(), "answer"))
            pcs.append(pc)
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str] = asyncio.Queue()
    threading.Thread(
        target=lambda: [loop.call_soon_threadsafe(lines.put_nowait, x) for x in sys.stdin],
        daemon=True,
    ).start()
    print(json.dumps({"ready": count}), flush=True)
    while (await lines.get()).strip() != "quit":
        counts = list(frames)
        if check:
            counts[0] = decoded["frames"]
        print(
            json.dumps({"frames": counts, "decoded": decoded, "at": time.monotonic()}), flush=True
        )
    for pc in pcs:
        await pc.close()


def nacker(receiver: Any, loss: float, rng: random.Random) -> Any:
    """Decide which video packets are "lost" and NACK them through the real receiver."""
    main: list[int] = []
    tasks: set[asyncio.Future[None]] = set()

    def lose(data: bytes) -> bool:
        sequence, ssrc = struct.unpack_from("!H", data, 2)[0], struct.unpack_from("!I", data, 8)[0]
        if not main:
            main.append(ssrc)  # the first stream seen is the media one; RTX comes later
        if ssrc != main[0] or rng.random() >= loss:
            return False
        task = asyncio.ensure_future(receiver._send_rtcp_nack(ssrc, [sequence]))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        return True

    return lose


def counter(frames: list[int], index: int, original: Any, lose: Any = None) -> Any:
    def count(data: bytes, addr: Any) -> None:
        # RTP and RTCP start with version 2 (RFC 7983); RTCP packet types 64-95 (RFC 5761).
        if 128 <= data[0] < 192 and not 64 <= data[1] & 0x7F < 96:
            if lose is not None and lose(data):
                return
            if data[1] & 0x80:  # the marker bit ends a video frame
                frames[index] += 1
            return
        original(data, addr)  # STUN, DTLS and RTCP go on to aioice / aiortc

    return count


async def decode(track: MediaStreamTrack, decoded: dict[str, int]) -> None:
    try:
        while True:
            frame = await track.recv()
            decoded["frames"] += 1
            decoded["width"], decoded["height"] = frame.width, frame.height
    except MediaStreamError:
        pass


# -- the orchestrator ------------------------------------------------------------------


class Child:
    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"child {self.proc.args} exited")
        return dict(json.loads(line))

    def ask(self) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write("report\n")
        self.proc.stdin.flush()
        return self.read()

    def stop(self) -> None:
        if self.proc.stdin is not None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def measure(
    design: str, width: int, height: int, levels: list[int], window: float, loss: float = 0.0
) -> list[dict[str, Any]]:
    """Grow the audience level by level; per level: server CPU-s/s and fps per viewer."""
    clip = clip_path(width, height)
    server = Child("serve", design)
    url = f"http://127.0.0.1:{server.read()['port']}"
    publisher = Child("publish", url, str(clip))
    publisher.read()
    viewers: list[Child] = []
    total = 0
    rows = []
    try:
        import urllib.request

        def cpu() -> tuple[float, float]:
            with urllib.request.urlopen(f"{url}/cpu") as reply:
                body = json.loads(reply.read())
            return body["cpu"], body["wall"]

        for level in levels:
            while total < level:
                # The first process holds only the checker, which decodes.
                count = 1 if not viewers else min(VIEWERS_PER_PROCESS, level - total)
                child = Child(
                    "view", url, str(count), "--check" if not viewers else "", f"--loss={loss}"
                )
                child.read()
                viewers.append(child)
                total += count
            time.sleep(min(3.0, window))  # let new viewers get their first keyframe
            before = [v.ask() for v in viewers]
            cpu0, wall0 = cpu()
            time.sleep(window)
            cpu1, wall1 = cpu()
            after = [v.ask() for v in viewers]
            elapsed = wall1 - wall0
            # Each process's own clock: answers to "report" may be late on a busy machine.
            fps = [
                (b - a) / (y["at"] - x["at"])
                for x, y in zip(before, after, strict=True)
                for a, b in zip(x["frames"], y["frames"], strict=True)
            ]
            checked = after[0]["decoded"] if after else {}
            rows.append(
                {
                    "design": f"{design} {loss:.0%}" if loss else design,
                    "size": f"{width}x{height}",
                    "viewers": level,
                    "cpu": (cpu1 - cpu0) / elapsed,
                    "fps_min": min(fps) if fps else None,
                    "fps_median": statistics.median(fps) if fps else None,
                    "checked": f"{checked.get('width', 0)}x{checked.get('height', 0)}"
                    if checked
                    else "-",
                }
            )
            print(format_row(rows[-1]), flush=True)
    finally:
        for child in viewers:
            child.stop()
        publisher.stop()
        server.stop()
    return rows


def format_row(row: dict[str, Any]) -> str:
    fps = "-" if row["fps_min"] is None else f"{row['fps_min']:5.1f} / {row['fps_median']:5.1f}"
    return f"| {row['design']:6} | {row['size']:9} | {row['viewers']:7} | {row['cpu']:7.3f} | {fps:13} | {row['checked']:9} |"


def fit(rows: list[dict[str, Any]]) -> tuple[float, float]:
    """Least-squares base and per-viewer CPU-s/s."""
    xs = [r["viewers"] for r in rows]
    ys = [r["cpu"] for r in rows]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mean_x) ** 2 for x in xs
    )
    return mean_y - slope * mean_x, slope


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "mode", nargs="?", default="bench", choices=["bench", "serve", "publish", "view"]
    )
    parser.add_argument("args", nargs="*")
    parser.add_argument(
        "--quick", action="store_true", help="fewer levels, shorter windows (< 5 min)"
    )
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--loss", type=float, default=0.0, help="(view) share of packets lost")
    options = parser.parse_args()
    if options.mode == "serve":
        profile = os.environ.get("ROUNDS_BENCH_PROFILE")  # a path: cProfile the server
        if profile:
            import cProfile

            cProfile.run(f"asyncio.run(serve({options.args[0]!r}))", profile)
        else:
            asyncio.run(serve(options.args[0]))
    elif options.mode == "publish":
        asyncio.run(publish(options.args[0], Path(options.args[1])))
    elif options.mode == "view":
        asyncio.run(
            view(
                options.args[0],
                int(options.args[1]),
                options.check or "--check" in options.args,
                options.loss,
            )
        )
    else:
        bench(options.quick)


def bench(quick: bool) -> None:
    window = 4.0 if quick else 10.0
    plans = {
        "rounds": [0, 10, 25, 50] if quick else [0, 25, 50, 100, 150],
        "naive": [0, 1, 2] if quick else [0, 1, 2, 4],
        "rounds 2%": [0, 10, 25, 50] if quick else [0, 25, 50, 100, 150],
    }
    sizes = [(640, 360), (1280, 720)]
    print("| design | size      | viewers | CPU-s/s | fps min / med | checked   |")
    print("| ------ | --------- | ------- | ------- | ------------- | --------- |")
    summary = []
    for width, height in sizes:
        for plan, levels in plans.items():
            design, _, lossy = plan.partition(" ")
            rows = measure(design, width, height, levels, window, 0.02 if lossy else 0.0)
            design = plan
            base, slope = fit([r for r in rows if r["viewers"] == 0 or (r["fps_min"] or 0) >= 29])
            full = [
                r for r in rows if r["viewers"] and r["fps_min"] is not None and r["fps_min"] >= 29
            ]
            summary.append(
                (
                    design,
                    f"{width}x{height}",
                    base,
                    slope,
                    max((r["viewers"] for r in full), default=0),
                )
            )
    print()
    print(
        "| design | size      | base CPU-s/s | per viewer mCPU-s/s | N for one core (fit) | largest N measured at >= 29 fps |"
    )
    print(
        "| ------ | --------- | ------------ | ------------------- | -------------------- | ------------------------------- |"
    )
    for design, size, base, slope, measured in summary:
        one_core = int((1 - base) / slope) if slope > 0 else 0
        print(
            f"| {design:6} | {size:9} | {base:12.3f} | {slope * 1000:19.2f} | {one_core:20} | {measured:31} |"
        )
    for size in {s[1] for s in summary}:
        ours = next(s for s in summary if s[0] == "rounds" and s[1] == size)[3]
        naive = next(s for s in summary if s[0] == "naive" and s[1] == size)[3]
        if ours > 0:
            print(f"{size}: MediaRelay costs {naive / ours:.0f}x more per extra viewer")
        lossy = next((s for s in summary if s[0] == "rounds 2%" and s[1] == size), None)
        if lossy is not None and ours > 0:
            print(f"{size}: 2% loss on every viewer (NACKs answered) costs {lossy[3] / ours:.2f}x")


if __name__ == "__main__":
    main()
