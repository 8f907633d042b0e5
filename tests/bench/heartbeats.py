"""Heartbeat ingestion benchmark: 10,000 simulated attendees, one heartbeat each per 15 s.

What is measured: one real server process (the real app: settings, SQLite in WAL mode or
PostgreSQL, the ``/watch`` namespace, the evidence ledger and its group-commit writer). Each
simulated attendee has media flowing (stored through ``app[EVIDENCE]``, as the media layer
would) and beats with its own tab at a fixed phase, so beats arrive evenly: 10,000 / 15 s
= 667 heartbeats per second.

How the heartbeats arrive (say which, the issue asks):

- ``--mode direct`` (default): the ingestion path is driven directly. Each attendee is a
  connection registered with python-socketio's manager, and each heartbeat enters through
  ``WatchNamespace.trigger_event("heartbeat", sid, payload)``, the call python-socketio makes
  for a decoded packet; everything after it is what a real client gets (validation, authz,
  ledger, SQL commit before the ack). Not included: websocket framing and Socket.IO packet
  encode/decode. 10,000 Python websocket clients would saturate this 2-core machine before the
  server does.
- ``--mode real --attendees N``: N real python-socketio clients over websockets in
  ``--processes`` client processes, same rate per attendee; latency measured by the clients.

CPU is the server process's CPU time (user+sys) during the measured window divided by the
heartbeats acknowledged in it; in direct mode it includes the driver (creating the calls),
so it is an upper bound. p99 is the time from sending a heartbeat to its acknowledgement.

    python tests/bench/heartbeats.py                          # 10,000 attendees, direct, SQLite
    python tests/bench/heartbeats.py --database-url postgresql://...   # on PostgreSQL
    python tests/bench/heartbeats.py --mode real --attendees 1000 --processes 2
    python tests/bench/heartbeats.py --attendees 1000 --duration 10 --warmup 5   # a quick look
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from aiohttp import web

from server.accounts import User
from server.app import create_app
from server.catalogue import Role
from server.evidence import EVIDENCE, LEDGER
from server.http.attendance import WATCH
from server.settings import load_settings
from server.state import ACCOUNTS, SETTINGS, SIO
from server.tokens import mint_token

S = "heart-failure-2026"
NS = "/watch"


def conference_without_checks(directory: Path) -> Path:
    """The demo conference without demo accounts or attention checks (prompts are not measured)."""
    text = (ROOT / "config" / "demo-conference.toml").read_text(encoding="utf-8")
    text = re.split(r"\n# -+ demo accounts", text)[0] + "\n"
    text = re.sub(r"\nattention_checks = \{[^}]*\}", "", text)
    path = directory / "conference.toml"
    path.write_text(text, encoding="utf-8")
    return path


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def start(args: argparse.Namespace, data: Path) -> tuple[web.AppRunner, int]:
    settings = load_settings(env={}, data_dir=data, conference=conference_without_checks(data),
                             database_url=args.database_url, secret_key=b"bench", heartbeat_s=int(args.interval),
                             ice_addresses="127.0.0.1")
    app = create_app(settings)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, port


async def media_for(app: web.Application, user_ids: list[int]) -> None:
    """Media flowing to every attendee's player, stored as the media layer would report it."""
    evidence = app[EVIDENCE]
    for i in range(0, len(user_ids), 500):
        await asyncio.gather(*(evidence.viewer_started(S, f"v{u}", u) for u in user_ids[i:i + 500]))


async def direct(args: argparse.Namespace, app: web.Application) -> dict[str, Any]:
    ns = app[WATCH]
    manager = app[SIO].manager
    user_ids = list(range(1_000_001, 1_000_001 + args.attendees))
    sids = []
    for uid in user_ids:
        sid = await manager.connect(f"eio-{uid}", NS)
        ns.users[sid] = User(uid, f"a{uid}@bench.test", f"Attendee {uid}", Role.ATTENDEE, "physician")
        sids.append(sid)
    await media_for(app, user_ids)
    payloads = [{"session": S, "visible": True, "playing": True, "tab": f"t{uid}"} for uid in user_ids]
    latencies: list[tuple[float, float]] = []  # (sent at, latency)
    failures = 0
    pending: set[asyncio.Task[None]] = set()

    async def one(i: int) -> None:
        nonlocal failures
        sent = time.perf_counter()
        ack = await ns.trigger_event("heartbeat", sids[i], payloads[i])
        latencies.append((sent, time.perf_counter() - sent))
        if not ack.get("ok"):
            failures += 1

    rate = args.attendees / args.interval
    t0 = time.perf_counter()
    end = t0 + args.warmup + args.duration
    sent = 0
    window: dict[str, float] = {}
    while (now := time.perf_counter()) < end:
        if not window and now >= t0 + args.warmup:
            window = {"t": now, "cpu": time.process_time(), "batches": app[LEDGER].writer.batches}
            if args.profile:
                import cProfile
                profiler = cProfile.Profile()
                profiler.enable()
        due = int((now - t0) * rate)
        while sent < due:
            task = asyncio.create_task(one(sent % args.attendees))
            pending.add(task)
            task.add_done_callback(pending.discard)
            sent += 1
        await asyncio.sleep(0.005)
    cpu, wall = time.process_time() - window["cpu"], time.perf_counter() - window["t"]
    batches = app[LEDGER].writer.batches - window["batches"]
    if args.profile:
        import pstats
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(35)
    await asyncio.gather(*pending)
    measured = [lat for at, lat in latencies if window["t"] <= at < window["t"] + wall]
    return {"beats": len(measured), "cpu": cpu, "wall": wall, "latencies": measured, "failures": failures,
            "batches": batches}


def client_process(url: str, tokens: list[str], interval: float, warmup: float, duration: float,
                   start_at: float, out: Any) -> None:
    """A client process: one real Socket.IO client per token, each beating every ``interval``."""
    import socketio

    async def run() -> list[tuple[float, float, bool]]:
        clients = []
        for token in tokens:
            c = socketio.AsyncClient(reconnection=False)
            await c.connect(url, namespaces=[NS], auth={"token": token}, transports=["websocket"], wait_timeout=30)
            clients.append(c)
        results: list[tuple[float, float, bool]] = []
        await asyncio.sleep(max(0.0, start_at - time.time()))
        stop = time.time() + warmup + duration

        async def beat_forever(i: int, c: Any) -> None:
            await asyncio.sleep(interval * i / len(clients))
            while time.time() < stop:
                sent = time.time()
                ack = await c.call("heartbeat", {"session": S, "visible": True, "playing": True, "tab": f"t{i}"},
                                   namespace=NS, timeout=30)
                results.append((sent, time.time() - sent, bool(ack.get("ok"))))
                await asyncio.sleep(max(0.0, interval - (time.time() - sent)))

        await asyncio.gather(*(beat_forever(i, c) for i, c in enumerate(clients)))
        for c in clients:
            await c.disconnect()
        return results

    out.put(asyncio.run(run()))


async def real(args: argparse.Namespace, app: web.Application, port: int) -> dict[str, Any]:
    users = [await app[ACCOUNTS].create(f"a{i}@bench.test", f"Attendee {i}", Role.ATTENDEE, "", "physician")
             for i in range(args.attendees)]
    await media_for(app, [u.id for u in users])
    tokens = [mint_token(app[SETTINGS].secret_key, u.id, 3600) for u in users]
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    start_at = time.time() + 5 + args.attendees / 200  # time for every client to connect
    shares = [tokens[i::args.processes] for i in range(args.processes)]
    procs = [ctx.Process(target=client_process, args=(f"http://127.0.0.1:{port}", share, args.interval,
                                                      args.warmup, args.duration, start_at, out))
             for share in shares]
    for p in procs:
        p.start()
    await asyncio.sleep(max(0.0, start_at + args.warmup - time.time()))
    cpu0, t0 = time.process_time(), time.time()
    if args.profile:
        import cProfile
        profiler = cProfile.Profile()
        profiler.enable()
    await asyncio.sleep(args.duration)
    cpu, wall = time.process_time() - cpu0, time.time() - t0
    if args.profile:
        import pstats
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
    results: list[tuple[float, float, bool]] = []
    for _ in procs:
        results += await asyncio.get_running_loop().run_in_executor(None, out.get)
    for p in procs:
        p.join()
    measured = [(lat, ok) for at, lat, ok in results if t0 <= at < t0 + wall]
    return {"beats": len(measured), "cpu": cpu, "wall": wall, "latencies": [lat for lat, _ in measured],
            "failures": sum(1 for _, ok in measured if not ok)}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mode", choices=["direct", "real"], default="direct")
    parser.add_argument("--attendees", type=int, default=10_000)
    parser.add_argument("--interval", type=float, default=15.0, help="seconds between one attendee's beats")
    parser.add_argument("--warmup", type=float, default=20.0, help="seconds before measuring (first beats load)")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds measured")
    parser.add_argument("--processes", type=int, default=2, help="client processes (real mode)")
    parser.add_argument("--profile", action="store_true", help="cProfile the measured window")
    parser.add_argument("--database-url", default="", help="PostgreSQL URL (default: SQLite in a temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        runner, port = await start(args, Path(tmp))
        app = runner.app
        try:
            result = await (direct(args, app) if args.mode == "direct" else real(args, app, port))
            writer = app[LEDGER].writer
            batches, rows = writer.batches, writer.rows
        finally:
            await runner.cleanup()
    beats, lat = result["beats"], result["latencies"]
    db = "PostgreSQL" if args.database_url else "SQLite (WAL)"
    print(f"mode={args.mode} attendees={args.attendees} interval={args.interval:g}s db={db} "
          f"cpus={os.cpu_count()} python={sys.version.split()[0]}")
    print(f"heartbeats acknowledged in {result['wall']:.1f} s: {beats} ({beats / result['wall']:.0f}/s), "
          f"failed: {result['failures']}")
    print(f"server CPU: {result['cpu'] / result['wall']:.3f} core, "
          f"{1000 * result['cpu'] / max(beats, 1):.3f} ms per heartbeat")
    print(f"ack latency ms: p50 {1000 * statistics.median(lat):.1f}, p99 {1000 * percentile(lat, 0.99):.1f}, "
          f"max {1000 * max(lat):.1f}")
    if "batches" in result:
        print(f"evidence transactions in the window: {result['batches']} "
              f"({result['batches'] / result['wall']:.0f}/s, {beats / max(result['batches'], 1):.1f} beats each)")
    print(f"evidence writes: {batches} transactions, {rows} rows (whole run)")


if __name__ == "__main__":
    asyncio.run(main())
