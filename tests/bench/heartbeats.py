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

Baseline (this machine is noisy: ratios, not absolute times): after the Rounds run, the same run
drives a minimal python-socketio server (``socketio.AsyncServer`` on aiohttp, a ``/watch``
namespace whose ``heartbeat`` handler only checks the payload's shape and acks a constant) with
the same driver or clients, and prints both figures and their ratio. ``--no-baseline`` skips it.

    python tests/bench/heartbeats.py                          # 10,000 attendees, direct, SQLite
    python tests/bench/heartbeats.py --database-url postgresql://...   # on PostgreSQL
    python tests/bench/heartbeats.py --mode real --attendees 1000 --processes 2
    python tests/bench/heartbeats.py --attendees 1000 --duration 10 --warmup 5   # a quick look
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import socketio
from aiohttp import web
from bench_conference import conference_without_checks

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


Trigger = Callable[[str, str, dict[str, Any]], Awaitable[Any]]


async def drive(args: argparse.Namespace, trigger: Trigger, sids: list[str],
                batches: Callable[[], int] | None, profile: bool) -> dict[str, Any]:
    """Send every attendee's heartbeat through ``trigger`` at its phase; measure the window."""
    payloads = [{"session": S, "visible": True, "playing": True, "tab": f"t{i}"} for i in range(len(sids))]
    latencies: list[tuple[float, float]] = []  # (sent at, latency)
    failures = 0
    pending: set[asyncio.Task[None]] = set()

    async def one(i: int) -> None:
        nonlocal failures
        sent = time.perf_counter()
        ack = await trigger("heartbeat", sids[i], payloads[i])
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
            window = {"t": now, "cpu": time.process_time(), "batches": batches() if batches else 0}
            if profile:
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
    if profile:
        import pstats
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(35)
    result: dict[str, Any] = {"cpu": cpu, "wall": wall, "failures": failures}
    if batches:
        result["batches"] = batches() - window["batches"]
    await asyncio.gather(*pending)
    measured = [lat for at, lat in latencies if window["t"] <= at < window["t"] + wall]
    return result | {"beats": len(measured), "latencies": measured}


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
    return await drive(args, ns.trigger_event, sids, lambda: app[LEDGER].writer.batches, args.profile)


# -- the baseline: a minimal python-socketio server --------------------------------------------

ACK = {"ok": True, "watch_seconds": 0, "counting": True, "attention": None, "attention_poll": False}


class MinimalWatch(socketio.AsyncNamespace):  # type: ignore[misc]
    """``heartbeat`` checks the payload's shape and acks a constant: no authz, no storage."""

    async def on_heartbeat(self, sid: str, data: Any) -> dict[str, Any]:
        ok = (isinstance(data, dict) and isinstance(data.get("session"), str)
              and isinstance(data.get("visible"), bool) and isinstance(data.get("playing"), bool)
              and isinstance(data.get("tab", ""), str))
        return ACK if ok else {"ok": False, "error": "bad_request", "reason": "bad heartbeat"}


async def start_minimal() -> tuple[web.AppRunner, int, MinimalWatch, socketio.AsyncServer]:
    """A plain ``socketio.AsyncServer`` on aiohttp (default settings) on a free loopback port."""
    sio = socketio.AsyncServer(async_mode="aiohttp")
    ns = MinimalWatch(NS)
    sio.register_namespace(ns)
    app = web.Application()
    sio.attach(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, port, ns, sio


async def direct_minimal(args: argparse.Namespace, ns: MinimalWatch, sio: socketio.AsyncServer) -> dict[str, Any]:
    sids = [await sio.manager.connect(f"eio-{i}", NS) for i in range(args.attendees)]
    return await drive(args, ns.trigger_event, sids, None, False)


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
    return await clients(args, port, tokens, args.profile)


async def clients(args: argparse.Namespace, port: int, tokens: list[str], profile: bool) -> dict[str, Any]:
    """Run the client processes against ``port``; measure this (the server) process's CPU."""
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
    if profile:
        import cProfile
        profiler = cProfile.Profile()
        profiler.enable()
    await asyncio.sleep(args.duration)
    cpu, wall = time.process_time() - cpu0, time.time() - t0
    if profile:
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


async def baseline(args: argparse.Namespace) -> dict[str, Any]:
    """The same driver or clients against the minimal server, in this process."""
    gc.collect()  # the Rounds run's garbage is not the baseline's
    runner, port, ns, sio = await start_minimal()
    try:
        if args.mode == "direct":
            return await direct_minimal(args, ns, sio)
        return await clients(args, port, [f"token-{i}" for i in range(args.attendees)], False)
    finally:
        await runner.cleanup()


def figures(prefix: str, result: dict[str, Any], digits: int = 1) -> None:
    beats, lat = result["beats"], result["latencies"]
    print(f"{prefix}heartbeats acknowledged in {result['wall']:.1f} s: {beats} ({beats / result['wall']:.0f}/s), "
          f"failed: {result['failures']}")
    print(f"{prefix}server CPU: {result['cpu'] / result['wall']:.3f} core, "
          f"{1000 * result['cpu'] / max(beats, 1):.3f} ms per heartbeat")
    print(f"{prefix}ack latency ms: p50 {1000 * statistics.median(lat):.{digits}f}, "
          f"p99 {1000 * percentile(lat, 0.99):.{digits}f}, max {1000 * max(lat):.{digits}f}")


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
    parser.add_argument("--no-baseline", action="store_true", help="skip the minimal python-socketio server")
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
    base = None if args.no_baseline else await baseline(args)
    beats = result["beats"]
    db = "PostgreSQL" if args.database_url else "SQLite (WAL)"
    print(f"mode={args.mode} attendees={args.attendees} interval={args.interval:g}s db={db} "
          f"cpus={os.cpu_count()} python={sys.version.split()[0]} python-socketio={version('python-socketio')}")
    figures("", result)
    if "batches" in result:
        print(f"evidence transactions in the window: {result['batches']} "
              f"({result['batches'] / result['wall']:.0f}/s, {beats / max(result['batches'], 1):.1f} beats each)")
    print(f"evidence writes: {batches} transactions, {rows} rows (whole run)")
    if base is None:
        return
    figures("baseline, minimal python-socketio: ", base, digits=3)  # direct mode: microseconds
    per_beat = (result["cpu"] / max(beats, 1)) / (base["cpu"] / max(base["beats"], 1))
    p99 = percentile(result["latencies"], 0.99) / percentile(base["latencies"], 0.99)
    print(f"rounds / minimal python-socketio, same run: CPU per heartbeat {per_beat:.2f}x, p99 {p99:.2f}x")


if __name__ == "__main__":
    asyncio.run(main())
