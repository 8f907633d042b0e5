"""Shared fixtures: settings on a temp data directory, a real app, people of every role, clients."""

from __future__ import annotations

import asyncio
import email
import email.message
import email.policy
import gc
import importlib
import queue
import re
import socket
import sys
import threading
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import socketio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from server.accounts import User
from server.app import create_app
from server.catalogue import Role
from server.settings import ROOT, Settings, load_settings
from server.state import ACCOUNTS, ENGINE, SETTINGS
from server.tokens import mint_token
from tests.services import PostgresServer, RedisServer

DEMO = ROOT / "config" / "demo-conference.toml"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL the suite starts itself (free port, temp dir, as the postgres user)."""
    with PostgresServer() as server:
        yield server


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A redis-server the suite starts itself; tests sharing it use their own keys."""
    with RedisServer() as server:
        yield server


@pytest.fixture
def pg_url(postgres_server: PostgresServer) -> str:
    """A fresh, empty PostgreSQL database for one test."""
    return postgres_server.create_database()


@pytest.fixture
def pg_settings(tmp_path: Path, conference_file: Path, pg_url: str) -> Settings:
    return make_settings(tmp_path / "data", conference_file, database_url=pg_url)


@pytest.fixture
def redis_settings(tmp_path: Path, conference_file: Path, redis_server: RedisServer) -> Settings:
    import redis

    with redis.Redis.from_url(redis_server.url) as r:  # each test starts on an empty Redis
        r.flushall()
    return make_settings(tmp_path / "data", conference_file, redis_url=redis_server.url)


def absolute_logos(text: str) -> str:
    """The demo conference's text with its booth logos as absolute paths (for copies elsewhere)."""
    return text.replace('logo = "logos/', f'logo = "{DEMO.parent}/logos/')


@pytest.fixture(scope="session")
def conference_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo conference without its demo accounts (tests make the people they need)."""
    text = absolute_logos(DEMO.read_text(encoding="utf-8"))
    text = re.split(r"\n# -+ demo accounts", text)[0] + "\n"
    path = tmp_path_factory.mktemp("conference") / "conference.toml"
    path.write_text(text, encoding="utf-8")
    return path


def make_settings(data_dir: Path, conference: Path, **overrides: Any) -> Settings:
    """Settings isolated from the environment, media on loopback only."""
    values: dict[str, Any] = {
        "data_dir": data_dir, "conference": conference, "ice_addresses": "127.0.0.1",
        "secret_key": b"test-secret-key", "login_attempts": 1000,
    }
    values.update(overrides)
    return load_settings(env={}, **values)


@pytest.fixture
def settings(tmp_path: Path, conference_file: Path) -> Settings:
    return make_settings(tmp_path / "data", conference_file)


@pytest.fixture
async def app(settings: Settings) -> web.Application:
    return create_app(settings)


@pytest.fixture
async def server(app: web.Application, aiohttp_server: Callable[..., Awaitable[TestServer]]) -> TestServer:
    """The app served on a free loopback port."""
    return await aiohttp_server(app, host="127.0.0.1")


@pytest.fixture
async def client(server: TestServer, aiohttp_client: Callable[..., Awaitable[TestClient]]) -> TestClient:
    return await aiohttp_client(server)


@dataclass(frozen=True, slots=True)
class Person:
    user: User
    token: str

    @property
    def auth(self) -> dict[str, str]:
        """HTTP headers that authenticate as this person."""
        return {"Authorization": f"Bearer {self.token}"}


async def add_person(app: web.Application, email: str, role: Role, name: str = "", profession: str = "physician",
                     password: str = "", acknowledged: bool = True) -> Person:
    """A new account with a token; ``acknowledged``: it has acknowledged every current disclosure."""
    user = await app[ACCOUNTS].create(email, name or email.split("@")[0].title(), role, password, profession)
    person = Person(user, mint_token(app[SETTINGS].secret_key, user.id, 3600))
    if acknowledged:
        await acknowledge_all(app, [person])
    return person


@pytest.fixture
async def people(server: TestServer, request: pytest.FixtureRequest) -> dict[str, Person]:
    """One person per role, assigned as in the demo conference.

    ``faculty`` teaches and ``moderator`` moderates ``heart-failure-2026``; ``exhibitor`` staffs
    ``meridian``; ``other_moderator`` moderates only day-2 sessions; ``attendee2`` is a second learner.
    Everyone has acknowledged every accredited session's current disclosure, as a learner does
    before watching, unless the test is marked ``unacknowledged`` (the disclosure gate's tests).
    """
    return await _people(server.app, request.node.get_closest_marker("unacknowledged") is None)


async def acknowledge_all(app: web.Application, persons: Any) -> None:
    """Record each person's acknowledgement of every accredited session's current disclosure."""
    from server.credit import disclosure_version
    from server.state import CATALOGUE, CLOCK
    from server.store.credit import CreditStore

    store = CreditStore(app[ENGINE])
    for person in persons:
        for session in app[CATALOGUE].sessions:
            if session.accredited:
                await store.acknowledge(person.user.id, session.id, disclosure_version(session), app[CLOCK].now())


async def _people(app: web.Application, acknowledged: bool) -> dict[str, Person]:
    spec = {
        "organizer": ("organizer@demo.rounds", Role.ORGANIZER, "other"),
        "faculty": ("ana.okafor@demo.rounds", Role.FACULTY, "physician"),
        "faculty2": ("li.chen@demo.rounds", Role.FACULTY, "physician"),
        "moderator": ("sam.reyes@demo.rounds", Role.MODERATOR, "other"),
        "other_moderator": ("jo.kim@demo.rounds", Role.MODERATOR, "other"),
        "exhibitor": ("pat.lee@demo.rounds", Role.EXHIBITOR, "other"),
        "other_exhibitor": ("max.weber@demo.rounds", Role.EXHIBITOR, "other"),
        "attendee": ("maria.lopez@demo.rounds", Role.ATTENDEE, "physician"),
        "attendee2": ("tom.nguyen@demo.rounds", Role.ATTENDEE, "nurse"),
        "pharmacist": ("priya.shah@demo.rounds", Role.ATTENDEE, "pharmacist"),
    }
    return {key: await add_person(app, email, role, profession=prof, acknowledged=acknowledged)
            for key, (email, role, prof) in spec.items()}


SioFactory = Callable[..., Awaitable[socketio.AsyncClient]]


@pytest.fixture
async def sio(server: TestServer, client: TestClient) -> AsyncIterator[SioFactory]:
    """Factory of connected Socket.IO clients: ``await sio(person, "/qa")``.

    It depends on ``client`` so that its clients disconnect before the server closes.
    """
    clients: list[socketio.AsyncClient] = []
    url = str(server.make_url("/"))

    async def connect(person: Person | None, namespace: str, **kwargs: Any) -> socketio.AsyncClient:
        client = socketio.AsyncClient(reconnection=kwargs.pop("reconnection", False))
        auth = {"token": person.token} if person is not None else None
        await client.connect(url, namespaces=[namespace], auth=auth, transports=["websocket"],
                             wait_timeout=10, **kwargs)
        clients.append(client)
        return client

    yield connect
    for opened in clients:
        if opened.connected:
            await opened.disconnect()


# --- issue 13: shared fixtures for hardening tests (one block) -------------------------------

# Like aiohttp's own suite, a test fails when its event loop ran one callback longer than this:
# on conference day a blocked loop freezes every socket and stream of the process.
LOOP_BLOCK_LIMIT_S = 0.1
# Measured as the loop thread's CPU time, so that a test is not failed because this shared
# 2-core machine descheduled the whole process; a callback that sleeps or waits on blocking I/O
# burns no CPU and is caught by wall time past this (generous, for the same reason) limit.
LOOP_WALL_LIMIT_S = 1.0
_slow_callbacks: list[tuple[float, str]] = []
_handle_run = asyncio.events.Handle._run
_running: dict[int, tuple[float, list[str]]] = {}  # thread -> (callback start, stack seen by the watchdog)


def _timed_run(self: asyncio.events.Handle) -> None:
    thread = threading.get_ident()
    stack: list[str] = []
    start, cpu_start, gc_start = time.perf_counter(), time.thread_time(), _gc_seconds[0]
    modules = len(sys.modules)
    _running[thread] = (start, stack)
    try:
        _handle_run(self)
    finally:
        _running.pop(thread, None)
        # A full collection of the test process's heap (hypothesis, SQLAlchemy, many apps) is the
        # harness's cost, not the code's: it does not count.
        gc_spent = _gc_seconds[0] - gc_start
        took, cpu = time.perf_counter() - start - gc_spent, time.thread_time() - cpu_start - gc_spent
        # A first import (a test importing a helper module, compiled and assertion-rewritten)
        # happens once per process; a server imports everything before its loop serves.
        imported = len(sys.modules) != modules
        if (cpu > LOOP_BLOCK_LIMIT_S or took > LOOP_WALL_LIMIT_S) and not imported:
            owner = getattr(self._callback, "__self__", None)  # the task a step belongs to
            what = repr(owner if isinstance(owner, asyncio.Task) else self)[:300]
            what += f" (CPU {cpu * 1000:.0f} ms)"
            _slow_callbacks.append((took, what + ("\n" + "".join(stack) if stack else "")))


def _watchdog() -> None:
    """Records where a blocked loop is stuck, so the failure names the culprit."""
    while True:
        time.sleep(LOOP_BLOCK_LIMIT_S / 2)
        now = time.perf_counter()
        for thread, (start, stack) in list(_running.items()):
            if not stack and now - start > LOOP_BLOCK_LIMIT_S * 1.5:
                frame = sys._current_frames().get(thread)
                if frame is not None:
                    stack.extend(traceback.format_stack(frame)[-8:])


_gc_seconds = [0.0, 0.0]  # total, start of the current collection


def _time_gc(phase: str, info: dict[str, int]) -> None:
    if phase == "start":
        _gc_seconds[1] = time.perf_counter()
    else:
        _gc_seconds[0] += time.perf_counter() - _gc_seconds[1]


gc.callbacks.append(_time_gc)
asyncio.events.Handle._run = _timed_run  # type: ignore[method-assign]
threading.Thread(target=_watchdog, name="loop-watchdog", daemon=True).start()
# create_app imports its features lazily: import them now, or the first test to build an app
# would spend the imports on its event loop (a server imports them before its loop runs).
for _feature in ("attendance", "credit", "hall", "media", "qa"):
    importlib.import_module(f"server.http.{_feature}")


@pytest.fixture(autouse=True)
def _fail_on_blocked_loop(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fails the test if a callback blocked its event loop (LOOP_BLOCK_LIMIT_S of CPU, or LOOP_WALL_LIMIT_S).

    ``@pytest.mark.blocks_loop("why")`` exempts a test whose blocking is the thing under test.
    """
    _slow_callbacks.clear()
    yield
    if request.node.get_closest_marker("blocks_loop") is None and _slow_callbacks:
        worst = max(_slow_callbacks)
        pytest.fail(f"the event loop was blocked {worst[0] * 1000:.0f} ms by {worst[1]} "
                    f"({len(_slow_callbacks)} callbacks over {LOOP_BLOCK_LIMIT_S * 1000:.0f} ms)")


@dataclass
class Mailbox:
    """A real SMTP server (aiosmtpd) on a free loopback port, and the messages it received."""

    port: int
    inbox: queue.Queue[email.message.EmailMessage]

    async def next(self, timeout: float = 10) -> email.message.EmailMessage:
        """The next message received (waiting for it in a worker thread, not on the loop)."""
        return await asyncio.to_thread(self.inbox.get, True, timeout)


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    from aiosmtpd.controller import Controller

    inbox: queue.Queue[email.message.EmailMessage] = queue.Queue()

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            inbox.put(email.message_from_bytes(envelope.content, policy=email.policy.default))
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield Mailbox(port, inbox)
    finally:
        controller.stop()


def mail_settings(data_dir: Path, conference: Path, mailbox: Mailbox, **overrides: Any) -> Settings:
    """Settings that send mail to ``mailbox``."""
    return make_settings(data_dir, conference, smtp_host="127.0.0.1", smtp_port=mailbox.port,
                         smtp_starttls=False, **overrides)
