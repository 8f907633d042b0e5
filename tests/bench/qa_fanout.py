"""Q&A fan-out benchmark: one session room, N websocket clients, one approval a second, a vote storm.

The Rounds server runs as its own process (``python -m server.cli serve``, SQLite); the same run
measures a minimal python-socketio broadcast server for comparison. Clients are light raw
websocket clients speaking Engine.IO 4 / Socket.IO 5, spread over two worker processes, and offer
permessage-deflate as browsers do. Latency is measured from the moment the moderator sends
``moderate approve`` (minimal server: the ``go`` event) to each client's receipt of the
broadcast (one machine, one clock). Server CPU is the server process's user+system time over the
broadcast phase, less its idle baseline (pings) measured just before, divided by the number of
broadcasts; "fan-out ms" is the Rounds server's own wall time spent encoding and writing them.

    python tests/bench/qa_fanout.py                      # 250, 500, 1000, 2000 clients
    python tests/bench/qa_fanout.py --sizes 250 --broadcasts 5 --storm-s 5   # a quick look
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import re
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

SESSION = "heart-failure-2026"
SECRET = "bench-secret-key"
HZ = os.sysconf("SC_CLK_TCK")


# -- a light Engine.IO/Socket.IO websocket client -----------------------------------------------

class WsClient(asyncio.Protocol):
    """One raw websocket speaking Engine.IO 4 / Socket.IO 5 in namespace /qa."""

    def __init__(self, on_event: Any) -> None:
        self.buf = bytearray()
        self.handshaken = asyncio.get_running_loop().create_future()
        self.connected_ns = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self.inflater: Any = None
        self.acks: dict[int, asyncio.Future[Any]] = {}
        self.next_ack = 0
        self.on_event = on_event
        self.upgraded = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.upgraded:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buf[:end]).decode("latin-1")
            del self.buf[: end + 4]
            if " 101 " not in head.split("\r\n", 1)[0]:
                self.handshaken.set_exception(ConnectionError(head.split("\r\n", 1)[0]))
                return
            if "permessage-deflate" in head.lower():
                self.inflater = zlib.decompressobj(-15)
            self.upgraded = True
            self.handshaken.set_result(None)
        while True:
            if len(self.buf) < 2:
                return
            b0, b1 = self.buf[0], self.buf[1]
            size, pos = b1 & 0x7F, 2
            if size == 126:
                if len(self.buf) < 4:
                    return
                size, pos = struct.unpack_from("!H", self.buf, 2)[0], 4
            elif size == 127:
                if len(self.buf) < 10:
                    return
                size, pos = struct.unpack_from("!Q", self.buf, 2)[0], 10
            if len(self.buf) < pos + size:
                return
            payload = bytes(self.buf[pos: pos + size])
            del self.buf[: pos + size]
            opcode = b0 & 0x0F
            if b0 & 0x40:  # RSV1: a compressed message
                payload = self.inflater.decompress(payload + b"\x00\x00\xff\xff")
            if opcode == 1:
                self._message(payload.decode())
            elif opcode == 9:
                self._send(payload, 0xA)

    def _send(self, payload: bytes, opcode: int = 1) -> None:
        mask = os.urandom(4)
        size = len(payload)
        if size < 126:
            header = struct.pack("!BB", 0x80 | opcode, 0x80 | size)
        elif size < 65536:
            header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, size)
        else:
            header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, size)
        key = int.from_bytes((mask * (size // 4 + 1))[:size], "big")
        masked = (int.from_bytes(payload, "big") ^ key).to_bytes(size, "big") if size else b""
        assert self.transport is not None
        self.transport.write(header + mask + masked)

    def _message(self, text: str) -> None:
        kind = text[:1]
        if kind == "2":  # Engine.IO ping
            self._send(b"3")
        elif kind == "4":
            self._socketio(text[1:])

    def _socketio(self, text: str) -> None:
        if text.startswith("0/qa,"):
            if not self.connected_ns.done():
                self.connected_ns.set_result(json.loads(text[5:]))
        elif text.startswith("4/qa,"):
            if not self.connected_ns.done():
                self.connected_ns.set_exception(ConnectionError(text))
        elif text.startswith("2/qa,"):
            event = json.loads(text[5:])
            self.on_event(event[0], event[1] if len(event) > 1 else None)
        elif text.startswith("3/qa,"):
            match = re.match(r"3/qa,(\d+)", text)
            assert match is not None
            future = self.acks.pop(int(match.group(1)), None)
            if future is not None and not future.done():
                future.set_result(json.loads(text[match.end():])[0])

    async def call(self, event: str, data: Any) -> Any:
        self.next_ack += 1
        ack = self.next_ack
        future = asyncio.get_running_loop().create_future()
        self.acks[ack] = future
        self._send(f"42/qa,{ack}{json.dumps([event, data])}".encode())
        return await asyncio.wait_for(future, 60)


async def ws_connect(host: str, port: int, token: str | None, on_event: Any) -> WsClient:
    loop = asyncio.get_running_loop()
    _, client = await loop.create_connection(lambda: WsClient(on_event), host, port)
    key = base64.b64encode(os.urandom(16)).decode()
    request = (f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {host}:{port}\r\n"
               f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               "Sec-WebSocket-Version: 13\r\n"
               "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n")
    assert client.transport is not None
    client.transport.write(request.encode())
    await asyncio.wait_for(client.handshaken, 30)
    auth = json.dumps({"token": token}) if token else "{}"
    client._send(f"40/qa,{auth}".encode())
    await asyncio.wait_for(client.connected_ns, 30)
    return client


# -- worker process: many clients ------------------------------------------------------------

async def worker(host: str, port: int, tokens: list[str]) -> None:
    received: dict[int, list[float]] = {}  # approved question id -> receipt times
    updates: list[dict[int, int]] = [{} for _ in tokens]  # per client: question id -> events
    best_votes: list[int] = [0] * len(tokens)

    def handler(index: int) -> Any:
        def on_event(event: str, data: Any) -> None:
            now = time.time()
            if event != "question" or not isinstance(data, dict):
                return
            qid = data.get("id")
            counts = updates[index]
            counts[qid] = counts.get(qid, 0) + 1
            if data.get("status") == "approved" and counts[qid] == 1:
                received.setdefault(qid, []).append(now)
            best_votes[index] = max(best_votes[index], data.get("votes", 0))
        return on_event

    clients: list[WsClient] = []
    failed = 0
    sem = asyncio.Semaphore(40)

    async def one(i: int, token: str) -> None:
        nonlocal failed
        async with sem:
            try:
                client = await ws_connect(host, port, token or None, handler(i))
                ack = await client.call("join", {"session": SESSION})
                assert ack.get("ok"), ack
                clients.append(client)
            except Exception as exc:  # noqa: BLE001 - counted and reported
                failed += 1
                print(json.dumps({"error": repr(exc)}), file=sys.stderr, flush=True)

    await asyncio.gather(*(one(i, t) for i, t in enumerate(tokens)))
    print(json.dumps({"ready": len(clients), "failed": failed}), flush=True)
    reader = asyncio.StreamReader()
    await asyncio.get_running_loop().connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        cmd = json.loads(line)
        if cmd["cmd"] == "report":
            print(json.dumps({"received": received}), flush=True)
        elif cmd["cmd"] == "storm":
            for counts in updates:
                counts.pop(cmd["question"], None)
            acks: list[float] = []
            refused = 0

            async def vote(client: WsClient, question: int, within: float, acks: list[float]) -> None:
                nonlocal refused
                await asyncio.sleep(random.uniform(0, within))  # spread over the storm
                t0 = time.time()
                ack = await client.call("vote", {"question": question, "up": True})
                acks.append(time.time() - t0)
                refused += 0 if ack.get("ok") else 1

            await asyncio.gather(*(vote(c, cmd["question"], cmd["seconds"], acks) for c in clients))
            await asyncio.sleep(2.0)  # the last coalesced update
            print(json.dumps({"acks": acks, "refused": refused,
                              "updates": [u.get(cmd["question"], 0) for u in updates],
                              "best_votes": best_votes}), flush=True)
        elif cmd["cmd"] == "quit":
            break
    for client in clients:
        if client.transport is not None:
            client.transport.close()


# -- the minimal python-socketio server ------------------------------------------------------

def minimal_server(port: int) -> None:
    import socketio
    from aiohttp import web

    sio = socketio.AsyncServer(async_mode="aiohttp")
    app = web.Application()
    sio.attach(app)

    class Qa(socketio.AsyncNamespace):  # type: ignore[misc]
        async def on_connect(self, sid: str, environ: Any, auth: Any = None) -> None:
            pass

        async def on_join(self, sid: str, data: Any) -> dict[str, Any]:
            await self.enter_room(sid, data["session"])
            return {"ok": True}

        async def on_go(self, sid: str, data: Any) -> dict[str, Any]:
            await self.emit("question", data, room=SESSION)
            return {"ok": True}

    sio.register_namespace(Qa("/qa"))
    print("ready", flush=True)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


# -- the driver ------------------------------------------------------------------------------

def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ


async def idle_cpu(pid: int, seconds: float = 3.0) -> float:
    """The server's CPU seconds per second with every client connected and nothing asked.

    Engine.IO pings (every client, every 25 s) cost CPU too; the per-broadcast figure leaves
    this baseline out.
    """
    cpu0 = cpu_seconds(pid)
    await asyncio.sleep(seconds)
    return (cpu_seconds(pid) - cpu0) / seconds


async def fanout_seconds(port: int) -> float:
    """The Rounds server's own count of seconds spent delivering Q&A broadcasts."""
    import aiohttp

    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/metrics") as response:
        text = await response.text()
    match = re.search(r"^rounds_qa_fanout_seconds_total ([0-9.e+-]+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as http:
        for _ in range(300):  # an external process: a bounded poll
            if proc.poll() is not None:
                raise SystemExit("server exited")
            try:
                async with http.get(url) as response:
                    if response.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise SystemExit("server not ready")


class Workers:
    def __init__(self, port: int, tokens: list[str], processes: int) -> None:
        share = [tokens[i::processes] for i in range(processes)]
        self.procs = [
            subprocess.Popen([sys.executable, __file__, "--role", "clients", "--port", str(port)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, env={**os.environ,
                             "BENCH_TOKENS": json.dumps(part)})
            for part in share
        ]

    async def read_all(self) -> list[dict[str, Any]]:
        loop = asyncio.get_running_loop()
        return [json.loads(await loop.run_in_executor(None, p.stdout.readline)) for p in self.procs]  # type: ignore[union-attr]

    def send(self, cmd: dict[str, Any]) -> None:
        for p in self.procs:
            assert p.stdin is not None
            p.stdin.write((json.dumps(cmd) + "\n").encode())
            p.stdin.flush()

    def close(self) -> None:
        self.send({"cmd": "quit"})
        for p in self.procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()


def summarise(sent: dict[int, float], reports: list[dict[str, Any]], clients: int) -> dict[str, float]:
    latencies: list[float] = []
    for report in reports:
        for qid, times in report["received"].items():
            t0 = sent.get(int(qid))
            if t0 is not None:
                latencies.extend(1000 * (t - t0) for t in times)
    latencies.sort()
    expected = clients * len(sent)
    pick = (lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]) if latencies else (lambda q: 0.0)
    return {"p50": pick(0.50), "p99": pick(0.99), "max": latencies[-1] if latencies else 0.0,
            "delivered": len(latencies) / expected if expected else 0.0}


async def prepare_rounds(data_dir: Path, conference: Path, size: int) -> tuple[list[str], str, str]:
    from server.catalogue import Role
    from server.settings import load_settings
    from server.store.accounts import AccountStore
    from server.store.db import connect, migrate
    from server.tokens import mint_token

    settings = load_settings(env={}, data_dir=data_dir, conference=conference, secret_key=SECRET.encode())
    engine = connect(settings.db_url)
    await migrate(engine)
    store = AccountStore(engine)
    tokens = []
    for i in range(size):
        user = await store.create(f"bench{i}@example.org", f"Bench {i}", Role.ATTENDEE)
        tokens.append(mint_token(settings.secret_key, user.id, 7200))
    mod = await store.create("sam.reyes@demo.rounds", "Sam Reyes", Role.MODERATOR)
    asker = await store.create("asker@example.org", "Asker", Role.ATTENDEE)
    await engine.dispose()
    return tokens, mint_token(settings.secret_key, mod.id, 7200), mint_token(settings.secret_key, asker.id, 7200)


def conference_file(tmp: Path) -> Path:
    text = (ROOT / "config" / "demo-conference.toml").read_text(encoding="utf-8")
    text = text.replace('logo = "logos/', f'logo = "{ROOT}/config/logos/')  # copied elsewhere
    path = tmp / "conference.toml"
    path.write_text(re.split(r"\n# -+ demo accounts", text)[0] + "\n", encoding="utf-8")
    return path


async def run_rounds(size: int, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    import socketio

    data_dir = tmp / f"rounds-{size}"
    conference = conference_file(tmp)
    tokens, mod_token, asker_token = await prepare_rounds(data_dir, conference, size)
    port = free_port()
    env = {**os.environ, "ROUNDS_DATA_DIR": str(data_dir), "ROUNDS_CONFERENCE": str(conference),
           "ROUNDS_SECRET_KEY": SECRET, "ROUNDS_QA_QUESTIONS_PER_MINUTE": "100000", "ROUNDS_LOG_LEVEL": "warning",
           "DATABASE_URL": "", "REDIS_URL": ""}
    profile = ["-m", "cProfile", "-o", args.profile] if args.profile else []
    server = subprocess.Popen([sys.executable, *profile, "-m", "server.cli", "serve", "--host", "127.0.0.1",  # noqa: ASYNC220
                               "--port", str(port)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    workers: Workers | None = None
    try:
        await wait_ready(f"http://127.0.0.1:{port}/readyz", server)
        workers = Workers(port, tokens, args.workers)
        ready = await workers.read_all()
        url = f"http://127.0.0.1:{port}/"
        mod, asker = socketio.AsyncClient(), socketio.AsyncClient()
        await mod.connect(url, namespaces=["/qa"], auth={"token": mod_token}, transports=["websocket"])
        await asker.connect(url, namespaces=["/qa"], auth={"token": asker_token}, transports=["websocket"])
        sent: dict[int, float] = {}
        idle = await idle_cpu(server.pid)
        cpu0, wall0 = cpu_seconds(server.pid), time.monotonic()
        fanout0 = await fanout_seconds(port)
        for i in range(args.broadcasts):
            question = (await asker.call("ask", {"session": SESSION, "text": f"Benchmark question {i}: " + "x" * 150},
                                         namespace="/qa"))["question"]
            await asyncio.sleep(1.0)  # one approval a second
            sent[question["id"]] = time.time()
            ack = await mod.call("moderate", {"question": question["id"], "action": "approve"}, namespace="/qa")
            assert ack["ok"], ack
        await asyncio.sleep(2.0)
        cpu = cpu_seconds(server.pid) - cpu0 - idle * (time.monotonic() - wall0)
        fanout = await fanout_seconds(port) - fanout0
        workers.send({"cmd": "report"})
        result = summarise(sent, await workers.read_all(), sum(r["ready"] for r in ready))
        result["cpu_ms"] = 1000 * cpu / args.broadcasts
        result["fanout_ms"] = 1000 * fanout / args.broadcasts
        result["clients"] = sum(r["ready"] for r in ready)
        if args.storm_s > 0:
            target = next(iter(sent))
            cpu0 = cpu_seconds(server.pid)
            workers.send({"cmd": "storm", "question": target, "seconds": args.storm_s})
            storms = await workers.read_all()
            acks = sorted(a for s in storms for a in s["acks"])
            updates = [u for s in storms for u in s["updates"]]
            result["storm"] = {
                "votes": len(acks), "refused": sum(s["refused"] for s in storms),
                "ack_p50": 1000 * acks[len(acks) // 2], "ack_p99": 1000 * acks[int(0.99 * (len(acks) - 1))],
                "updates_per_client": statistics.mean(updates), "updates_max": max(updates),
                "final_votes_seen": min(v for s in storms for v in s["best_votes"]),
                "cpu_s": cpu_seconds(server.pid) - cpu0,
            }
        await mod.disconnect()
        await asker.disconnect()
        return result
    finally:
        if workers is not None:
            workers.close()
        server.send_signal(signal.SIGINT)  # a clean exit (and the profile written, with --profile)
        server.wait(30)


async def run_minimal(size: int, args: argparse.Namespace) -> dict[str, Any]:
    import socketio

    port = free_port()
    server = subprocess.Popen([sys.executable, __file__, "--role", "minimal-server", "--port", str(port)],  # noqa: ASYNC220
                              stdout=subprocess.DEVNULL)
    workers: Workers | None = None
    try:
        await wait_ready(f"http://127.0.0.1:{port}/socket.io/?EIO=4&transport=polling", server)
        workers = Workers(port, [""] * size, args.workers)
        ready = await workers.read_all()
        driver = socketio.AsyncClient()
        await driver.connect(f"http://127.0.0.1:{port}/", namespaces=["/qa"], transports=["websocket"])
        sent: dict[int, float] = {}
        idle = await idle_cpu(server.pid)
        cpu0, wall0 = cpu_seconds(server.pid), time.monotonic()
        for i in range(args.broadcasts):
            await asyncio.sleep(1.0)
            payload = {"id": i + 1, "session": SESSION, "text": f"Benchmark question {i}: " + "x" * 150,
                       "status": "approved", "votes": 0, "pinned": False, "on_stage": False, "anonymous": False,
                       "edited": False, "merged_into": None, "created_at": "2026-11-25T10:00:00+00:00",
                       "version": 2, "author": {"name": "Asker"}}
            sent[i + 1] = time.time()
            await driver.call("go", payload, namespace="/qa")
        await asyncio.sleep(2.0)
        cpu = cpu_seconds(server.pid) - cpu0 - idle * (time.monotonic() - wall0)
        workers.send({"cmd": "report"})
        result = summarise(sent, await workers.read_all(), sum(r["ready"] for r in ready))
        result["cpu_ms"] = 1000 * cpu / args.broadcasts
        result["clients"] = sum(r["ready"] for r in ready)
        await driver.disconnect()
        return result
    finally:
        if workers is not None:
            workers.close()
        server.terminate()
        server.wait(20)


def table(rows: list[tuple[str, int, dict[str, Any]]]) -> str:
    lines = [("| server | clients | p50 ms | p99 ms | max ms | delivered | server CPU ms / broadcast | "
              "of which fan-out ms |"),
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, size, r in rows:
        fanout = f"{r['fanout_ms']:.1f}" if "fanout_ms" in r else "–"
        lines.append(f"| {name} | {r['clients']} | {r['p50']:.1f} | {r['p99']:.1f} | {r['max']:.1f} | "
                     f"{100 * r['delivered']:.1f}% | {r['cpu_ms']:.1f} | {fanout} |")
    storms = [(size, r["storm"]) for name, size, r in rows if "storm" in r]
    if storms:
        lines += ["", ("| vote storm: clients | votes | refused | vote ack p50 ms | p99 ms | "
                       "updates per client (mean/max) | final count seen | server CPU s |"),
                  "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for size, s in storms:
            lines.append(f"| {size} | {s['votes']} | {s['refused']} | {s['ack_p50']:.1f} | {s['ack_p99']:.1f} | "
                         f"{s['updates_per_client']:.1f} / {s['updates_max']} | {s['final_votes_seen']} | "
                         f"{s['cpu_s']:.2f} |")
    return "\n".join(lines)


async def main(args: argparse.Namespace) -> None:
    rows: list[tuple[str, int, dict[str, Any]]] = []
    with tempfile.TemporaryDirectory(prefix="rounds-qa-bench-") as tmp:
        for size in args.sizes:
            rows.append(("Rounds /qa", size, await run_rounds(size, args, Path(tmp))))
            print(table(rows[-1:]), flush=True)
            if not args.skip_minimal:
                rows.append(("minimal python-socketio", size, await run_minimal(size, args)))
                print(table(rows[-1:]), flush=True)
    print("\n" + table(rows))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--role", default="driver", choices=["driver", "clients", "minimal-server"])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")], default=[250, 500, 1000, 2000])
    parser.add_argument("--broadcasts", type=int, default=10)
    parser.add_argument("--storm-s", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--skip-minimal", action="store_true")
    parser.add_argument("--profile", help="run the Rounds server under cProfile, writing this file")
    options = parser.parse_args()
    if options.role == "clients":
        asyncio.run(worker("127.0.0.1", options.port, json.loads(os.environ["BENCH_TOKENS"])))
    elif options.role == "minimal-server":
        minimal_server(options.port)
    else:
        asyncio.run(main(options))
