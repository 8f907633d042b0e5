"""Conference-day soak (issue 13): one server process under a crowd and abusive clients at once.

One ``rounds serve``-equivalent process (the real app behind the guarded listener, SQLite) and a
driver process. The crowd: ``--sockets`` attendees on ``/watch`` (a ``--polling`` share on
long-polling, the rest on websocket) beating every ``--interval`` s with media flowing, ``--signins``
sign-ins in the first ``--ramp`` s all through one trusted proxy from one client address (a
hospital NAT), and ``--registrations`` registrations a minute (each from its own address). The
abusers (``--no-abuse`` leaves them out, for the baseline): slowloris connections, slow
``/login`` bodies, anonymous 10 MB POSTs, Socket.IO connections that never read, a password
guesser on a speaker's account, reserved event names and undecodable payloads.

Reported: 5xx answers (server-side from ``/metrics`` and as the clients saw them), legitimate
actions refused, heartbeat round trips (p50/p99) for the run with and without abusers, what the
abusers achieved (still open at the end), and the server's RSS over time.

Not covered (say so in the figures): WHEP viewers (the issue's 150); their per-user limits and
frame gaps belong to the media work.

    python tests/bench/conference_day.py            # 10 minutes, 2,000 sockets, 300 sign-ins
    python tests/bench/conference_day.py --quick    # 60 s, 200 sockets, 60 sign-ins
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import aiohttp
import socketio
import sqlalchemy as sa

from server.catalogue import Role
from server.passwords import hash_password
from server.settings import load_settings
from server.store.accounts import AccountStore
from server.store.db import connect, migrate
from server.store.schema import users
from server.tokens import mint_token

SECRET = b"conference-day-soak"
S = "heart-failure-2026"
PASSWORD = "correct horse battery"
NAT = "203.0.113.10"


def conference(directory: Path) -> Path:
    text = (ROOT / "config" / "demo-conference.toml").read_text(encoding="utf-8")
    text = text.replace('logo = "logos/', f'logo = "{ROOT}/config/logos/')  # copied elsewhere
    text = re.split(r"\n# -+ demo accounts", text)[0] + "\n"
    text = re.sub(r"\nattention_checks = \{[^}]*\}", "", text)
    path = directory / "conference.toml"
    path.write_text(text, encoding="utf-8")
    return path


def settings_for(data: Path, interval: int) -> Any:
    return load_settings(env={}, data_dir=data, conference=conference(data), secret_key=SECRET,
                         trusted_proxies="127.0.0.1", ice_addresses="127.0.0.1", heartbeat_s=interval,
                         heartbeat_tolerance_s=interval * 3)


async def prepare(data: Path, sockets: int, signins: int) -> dict[str, Any]:
    """Accounts straight into the database (one Argon2 hash shared by the sign-in accounts)."""
    engine = connect(f"sqlite+aiosqlite:///{data / 'rounds.db'}")
    await migrate(engine)
    store = AccountStore(engine)
    organizer = await store.create("organizer@soak.test", "Organizer", Role.ORGANIZER)
    speaker = await store.create("speaker@soak.test", "Speaker", Role.FACULTY)
    attendees = [await store.create(f"a{i}@soak.test", f"Attendee {i}", Role.ATTENDEE, profession="physician")
                 for i in range(sockets)]
    hashed = hash_password(PASSWORD)
    signers = [f"s{i}@soak.test" for i in range(signins)]
    async with engine.begin() as conn:
        for email in signers:
            await conn.execute(users.insert().values(email=email, name=email, role="attendee", password_hash=hashed,
                                                     profession="nurse", created_at=sa.func.now()))
        await conn.execute(users.update().where(users.c.id == speaker.id).values(password_hash=hashed))
    await engine.dispose()
    return {"organizer": mint_token(SECRET, organizer.id, 86400),
            "attendees": [(a.id, mint_token(SECRET, a.id, 86400)) for a in attendees], "signers": signers}


def server_main(data: str, interval: int, viewer_ids: list[int], ready: Any) -> None:
    """The server process: the real app behind the listener ``rounds serve`` uses."""

    async def run() -> None:
        from server.app import create_app
        from server.evidence import EVIDENCE
        from server.http.connections import listen

        settings = settings_for(Path(data), interval)
        app = create_app(settings)
        listening = await listen(app, settings, "127.0.0.1", 0)
        for uid in viewer_ids:  # media flowing for every attendee, as the relay would report it
            await app[EVIDENCE].viewer_started(S, f"viewer-{uid}", uid)
        ready.put((os.getpid(), listening.port))
        await asyncio.Event().wait()

    asyncio.run(run())


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Tally:
    def __init__(self) -> None:
        self.rtts: list[float] = []
        self.refused: dict[str, int] = {}
        self.done: dict[str, int] = {}
        self.client_5xx = 0

    def ok(self, what: str) -> None:
        self.done[what] = self.done.get(what, 0) + 1

    def no(self, what: str) -> None:
        self.refused[what] = self.refused.get(what, 0) + 1


async def attendee(url: str, token: str, polling: bool, interval: float, until: float, tally: Tally) -> None:
    client = socketio.AsyncClient(reconnection=False)
    try:
        await client.connect(url, namespaces=["/watch"], auth={"token": token},
                             transports=["polling"] if polling else ["websocket"], wait_timeout=30)
    except (socketio.exceptions.ConnectionError, OSError, TimeoutError):
        tally.no("socket connect")
        return
    tally.ok("socket connect")
    await asyncio.sleep(random.uniform(0, interval))
    try:
        while time.monotonic() < until:
            began = time.perf_counter()
            try:
                ack = await client.call("heartbeat", {"session": S, "visible": True, "playing": True},
                                        namespace="/watch", timeout=30)
            except (socketio.exceptions.SocketIOError, OSError, TimeoutError):
                tally.no("heartbeat")
            else:
                tally.rtts.append(time.perf_counter() - began)
                (tally.ok if ack.get("ok") else tally.no)("heartbeat")
            await asyncio.sleep(interval)
    finally:
        if polling:
            await client.eio.disconnect(abort=True)
        else:
            await client.disconnect()


async def form_post(http: aiohttp.ClientSession, base: str, path: str, data: dict[str, str], forwarded: str,
                    tally: Tally) -> int:
    headers = {"X-Forwarded-For": forwarded}
    async with http.get(base + path, headers=headers) as page:
        csrf = re.search(r'name="csrf" value="([^"]+)"', await page.text())
    data = {**data, "csrf": csrf.group(1) if csrf else ""}
    async with http.post(base + path, data=data, headers=headers, allow_redirects=False) as r:
        if r.status >= 500:
            tally.client_5xx += 1
        return r.status


async def signins(base: str, emails: list[str], ramp: float, tally: Tally) -> None:
    async def one(email: str, delay: float) -> None:
        await asyncio.sleep(delay)
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            status = await form_post(http, base, "/login", {"email": email, "password": PASSWORD}, NAT, tally)
            (tally.ok if status == 303 else tally.no)("sign-in")
    await asyncio.gather(*(one(e, ramp * i / max(1, len(emails))) for i, e in enumerate(emails)))


async def registrations(base: str, per_minute: int, until: float, tally: Tally) -> None:
    n = 0
    while time.monotonic() < until:
        n += 1
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            form = {"name": f"New {n}", "email": f"new{n}-{random.randrange(10**9)}@soak.test", "password": PASSWORD,
                    "profession": "other"}
            status = await form_post(http, base, "/register", form, f"198.51.100.{n % 250 + 1}", tally)
            (tally.ok if status == 303 else tally.no)("registration")
        await asyncio.sleep(60 / per_minute)


async def abusers(host: str, port: int, base: str, organizer: str, until: float, out: dict[str, Any]) -> None:
    """Slowloris, slow bodies, 10 MB POSTs, sockets that never read, a guesser, reserved events."""
    opened: list[asyncio.StreamWriter] = []
    counts = {"slowloris": 0, "slow_bodies": 0, "big_posts": 0, "guesses": 0, "big_post_413": 0}

    async def trickle(head: bytes, kind: str) -> None:
        while time.monotonic() < until:
            try:
                reader, writer = await asyncio.open_connection(host, port)
            except OSError:
                await asyncio.sleep(1)
                continue
            counts[kind] += 1
            opened.append(writer)
            try:
                writer.write(head)
                while time.monotonic() < until and not reader.at_eof():
                    await asyncio.sleep(2)
                    writer.write(b"a")
                    await writer.drain()
            except (OSError, ConnectionError):
                pass
            writer.close()

    async def big_post() -> None:
        while time.monotonic() < until:
            try:
                reader, writer = await asyncio.open_connection(host, port)
                writer.write(b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                             b"Content-Length: 10485760\r\n\r\n" + b"a" * 65536)
                await writer.drain()
                status = await asyncio.wait_for(reader.readline(), 10)
                counts["big_posts"] += 1
                counts["big_post_413"] += status.startswith(b"HTTP/1.1 413")
                writer.close()
            except (OSError, ConnectionError, TimeoutError):
                pass
            await asyncio.sleep(0.5)

    async def guesser() -> None:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            tally = Tally()
            while time.monotonic() < until:
                await form_post(http, base, "/login", {"email": "speaker@soak.test", "password": "guess guess"},
                                "192.0.2.66", tally)
                counts["guesses"] += 1
                await asyncio.sleep(0.2)

    async def never_reads() -> None:
        # Raw long-polling sockets that join nothing and never poll again, plus reserved names.
        async with aiohttp.ClientSession() as http:
            for _ in range(30):
                async with http.get(base + "/socket.io/?EIO=4&transport=polling") as r:
                    sid = json.loads((await r.text())[1:])["sid"]
                url = f"{base}/socket.io/?EIO=4&transport=polling&sid={sid}"
                async with http.post(url, data=("40/watch," + json.dumps({"token": organizer})).encode()):
                    pass
                async with http.post(url, data=b'42/watch,1["disconnect",{}]\x1e42/watch,2["x",' + b"[" * 3000 +
                                     b"]" * 3000 + b"]"):
                    pass

    slow_head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: "
    slow_body = (b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                 b"Content-Length: 100000\r\n\r\nemail=")
    tasks = [*(trickle(slow_head, "slowloris") for _ in range(150)),
             *(trickle(slow_body, "slow_bodies") for _ in range(100)),
             *(big_post() for _ in range(10)), guesser(), never_reads()]
    await asyncio.gather(*tasks, return_exceptions=True)
    out.update(counts)


async def metrics(base: str, organizer: str) -> str:
    async with aiohttp.ClientSession() as http, \
            http.get(base + "/metrics", headers={"Authorization": f"Bearer {organizer}"}) as r:
        return await r.text()


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000 if values else float("nan")


async def soak(args: argparse.Namespace, abuse: bool) -> dict[str, Any]:
    data = Path(tempfile.mkdtemp(prefix="rounds-soak-"))
    prepared = await prepare(data, args.sockets, args.signins)
    ctx = mp.get_context("spawn")
    ready = ctx.Queue()
    proc = ctx.Process(target=server_main, args=(str(data), args.interval, [a for a, _ in prepared["attendees"]], ready))
    proc.start()
    pid, port = ready.get(timeout=120)
    base = f"http://127.0.0.1:{port}"
    tally, abuse_out, memory = Tally(), {}, []
    began = time.monotonic()
    until = began + args.duration

    async def sample() -> None:
        while time.monotonic() < until:
            memory.append((round(time.monotonic() - began), round(rss_mb(pid), 1)))
            await asyncio.sleep(5)

    crowd = [attendee(base + "/", token, i < args.sockets * args.polling, args.interval, until, tally)
             for i, (_, token) in enumerate(prepared["attendees"])]
    jobs = [sample(), signins(base, prepared["signers"], args.ramp, tally),
            registrations(base, args.registrations, until, tally), *crowd]
    if abuse:
        jobs.append(abusers("127.0.0.1", port, base, prepared["organizer"], until, abuse_out))
    await asyncio.gather(*jobs)
    text = await metrics(base, prepared["organizer"])
    proc.terminate()
    proc.join(10)
    server_5xx = sum(float(m.group(2)) for m in re.finditer(r'rounds_http_requests_total\{route="([^"]*)",status="5\d\d"\} (\S+)', text))
    slow = sum(float(v) for v in re.findall(r"rounds_socket_slow_readers_total\{[^}]*\} (\S+)", text))
    after_first_minute = [mb for t, mb in memory if t >= min(60, args.duration / 3)]
    return {
        "abuse": abuse, "heartbeats": len(tally.rtts), "rtt_p50_ms": round(pct(tally.rtts, 0.5), 1),
        "rtt_p99_ms": round(pct(tally.rtts, 0.99), 1), "server_5xx": server_5xx, "client_5xx": tally.client_5xx,
        "done": tally.done, "refused": tally.refused, "abusers": abuse_out, "slow_readers_closed": slow,
        "rss_mb": memory, "rss_growth_after_first_minute_mb":
            round(after_first_minute[-1] - after_first_minute[0], 1) if len(after_first_minute) > 1 else 0.0,
        "median_rtt_ms": round(statistics.median(tally.rtts) * 1000, 1) if tally.rtts else None,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="60 s, 200 sockets, 60 sign-ins, 50 registrations/min")
    parser.add_argument("--duration", type=float, default=600)
    parser.add_argument("--sockets", type=int, default=2000)
    parser.add_argument("--polling", type=float, default=0.2, help="share of sockets on long-polling")
    parser.add_argument("--signins", type=int, default=300)
    parser.add_argument("--ramp", type=float, default=60, help="the sign-ins arrive within this many seconds")
    parser.add_argument("--registrations", type=int, default=50, help="per minute")
    parser.add_argument("--interval", type=int, default=15, help="heartbeat interval, seconds")
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.duration, args.sockets, args.signins, args.ramp = 60, 200, 60, 20
    runs = [] if args.no_baseline else [await soak(args, abuse=False)]
    runs.append(await soak(args, abuse=True))
    for run in runs:
        print(json.dumps(run, indent=1))


if __name__ == "__main__":
    asyncio.run(main())
