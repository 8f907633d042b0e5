"""The /watch namespace end to end: real server, real Socket.IO clients, compressed clock (x60).

Watch time needs media evidence too; here it comes through ``app[EVIDENCE]`` (the object the
media layer calls), the real aiortc path is in test_attendance_e2e.py. Time passing on the
conference clock is the point of several tests: they move it with ``Clock.advance`` (``later``)
instead of waiting on real time. The clock also runs x60, so attention checks (timers in real
time) come within a second or two.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import socketio
from aiohttp import web
from aiohttp.test_utils import TestClient

from server.attendance import Interval, MediaEvent
from server.catalogue import Role
from server.evidence import EVIDENCE, LEDGER
from server.settings import Settings
from server.state import CLOCK
from server.store.attendance import Recorded
from server.transcript import compute
from tests.conftest import Person, SioFactory, add_person, make_settings

S = "heart-failure-2026"  # live now, accredited, break 35-40 conference minutes from now
NS = "/watch"
SCALE = 60.0


@pytest.fixture
def attention_gap(request: pytest.FixtureRequest) -> tuple[int, int] | None:
    """Parametrize (indirect) to give the live session quick attention checks; none otherwise."""
    return getattr(request, "param", None)


@pytest.fixture
def settings(tmp_path: Path, conference_file: Path, attention_gap: tuple[int, int] | None) -> Settings:
    text = conference_file.read_text(encoding="utf-8")
    if attention_gap is None:
        text = re.sub(r"\nattention_checks = \{[^}]*\}", "", text)
    else:
        text = re.sub(r"attention_checks = \{[^}]*\}",
                      f"attention_checks = {{ min_gap_s = {attention_gap[0]}, max_gap_s = {attention_gap[1]} }}",
                      text)
    path = tmp_path / "conference.toml"
    path.write_text(text, encoding="utf-8")
    return make_settings(tmp_path / "data", path, time_scale=SCALE)


class Inbox:
    """Events a client received, and a way to await one."""

    def __init__(self, client: socketio.AsyncClient, event: str) -> None:
        self.items: list[Any] = []
        self._changed = asyncio.Event()

        async def handle(data: Any) -> None:
            self.items.append(data)
            self._changed.set()

        client.on(event, handle, namespace=NS)

    async def nth(self, n: int, timeout: float = 10) -> Any:
        """The n-th event (1-based), waiting for it if it has not arrived."""

        async def look() -> Any:
            while len(self.items) < n:
                self._changed.clear()
                await self._changed.wait()
            return self.items[n - 1]

        return await asyncio.wait_for(look(), timeout)


async def beat(client: socketio.AsyncClient, visible: bool = True, playing: bool = True, session: str = S,
               **extra: Any) -> dict[str, Any]:
    return await client.call("heartbeat", {"session": session, "visible": visible, "playing": playing, **extra},
                             namespace=NS, timeout=10)  # type: ignore[no-any-return]


def now(app: web.Application) -> float:
    return app[CLOCK].timestamp()


def later(app: web.Application, seconds: float) -> None:
    """``seconds`` of conference time pass (the clock skips ahead; nothing waits)."""
    app[CLOCK].advance(seconds)


async def test_watch_time_rises_while_media_flows_and_the_page_is_visible_and_playing(
        people: dict[str, Person], sio: SioFactory, app: web.Application) -> None:
    maria = people["attendee"].user
    await app[EVIDENCE].viewer_started(S, "v1", maria.id)
    client = await sio(people["attendee"], NS)
    first = await beat(client)
    assert first == {"ok": True, "watch_seconds": 0, "counting": True, "attention": None,
                     "attention_poll": False}
    t0 = now(app)
    later(app, 30)
    second = await beat(client)
    t1 = now(app)
    assert second["ok"] and second["counting"] is True
    assert 0.5 * SCALE - 1 <= second["watch_seconds"] <= t1 - t0 + 1


async def test_two_tabs_and_two_devices_do_not_count_twice(people: dict[str, Person], sio: SioFactory,
                                                          app: web.Application) -> None:
    maria = people["attendee"].user
    await app[EVIDENCE].viewer_started(S, "laptop", maria.id)
    await app[EVIDENCE].viewer_started(S, "phone", maria.id)
    tab1, tab2 = await sio(people["attendee"], NS), await sio(people["attendee"], NS)
    start = now(app)
    await asyncio.gather(beat(tab1, tab="a"), beat(tab2, tab="b"))
    later(app, 30)
    one, two = await asyncio.gather(beat(tab1, tab="a"), beat(tab2, tab="b"))
    elapsed = now(app) - start
    assert max(one["watch_seconds"], two["watch_seconds"]) <= elapsed + 1
    assert max(one["watch_seconds"], two["watch_seconds"]) >= 0.5 * SCALE - 1


async def test_a_hidden_or_paused_page_does_not_count(people: dict[str, Person], sio: SioFactory,
                                                      app: web.Application) -> None:
    maria = people["attendee"].user
    await app[EVIDENCE].viewer_started(S, "v1", maria.id)
    client = await sio(people["attendee"], NS)
    assert (await beat(client, visible=False))["counting"] is False
    later(app, 18)
    hidden = await beat(client, visible=False)
    assert hidden["watch_seconds"] == 0
    later(app, 18)
    paused = await beat(client, playing=False)
    assert paused["watch_seconds"] == 0 and paused["counting"] is False
    # Visible and playing from now on: only the time since this beat counts.
    shown_before = now(app)
    assert (await beat(client))["counting"] is True
    shown_after = now(app)
    later(app, 18)
    last_before = now(app)
    watched = (await beat(client))["watch_seconds"]
    assert last_before - shown_after - 1 <= watched <= now(app) - shown_before + 1


async def test_heartbeats_without_media_count_nothing(people: dict[str, Person], sio: SioFactory,
                                                      app: web.Application) -> None:
    client = await sio(people["attendee"], NS)
    assert (await beat(client))["counting"] is False
    later(app, 18)
    assert (await beat(client))["watch_seconds"] == 0


async def test_media_stopping_stops_the_clock(people: dict[str, Person], sio: SioFactory,
                                              app: web.Application) -> None:
    maria = people["attendee"].user
    await app[EVIDENCE].viewer_started(S, "v1", maria.id)
    client = await sio(people["attendee"], NS)
    await beat(client)
    later(app, 18)
    await app[EVIDENCE].viewer_stopped(S, "v1", maria.id)
    stopped_at = (await beat(client))["watch_seconds"]
    later(app, 18)
    after = await beat(client)
    assert after["watch_seconds"] == stopped_at and after["counting"] is False


async def test_bad_heartbeats_get_error_acks_and_store_nothing(people: dict[str, Person], sio: SioFactory,
                                                               app: web.Application) -> None:
    client = await sio(people["attendee"], NS)
    call: Callable[..., Any] = client.call
    unknown = await call("heartbeat", {"session": "nope", "visible": True, "playing": True}, namespace=NS)
    assert unknown["ok"] is False and unknown["error"] == "not_found"
    wrong = await call("heartbeat", {"session": S, "visible": "yes", "playing": True}, namespace=NS)
    assert wrong["ok"] is False and wrong["error"] == "bad_request" and wrong["field"] == "visible"
    not_dict = await call("heartbeat", "hello", namespace=NS)
    assert not_dict["ok"] is False and not_dict["error"] == "bad_request"
    long_tab = await beat(client, tab="x" * 65)
    assert long_tab["ok"] is False and long_tab["field"] == "tab"
    unknown_event = await call("teleport", {}, namespace=NS)
    assert unknown_event["ok"] is False and unknown_event["error"] == "unknown_event"
    no_prompt = await call("attention", {"session": S, "prompt": "made-up"}, namespace=NS)
    assert no_prompt["ok"] is False and no_prompt["error"] == "not_found"
    recorded = await app[LEDGER].store.recorded(user_id=people["attendee"].user.id)
    assert recorded == {}


async def test_a_flood_of_heartbeats_is_refused(people: dict[str, Person], sio: SioFactory) -> None:
    client = await sio(people["attendee"], NS)
    acks = await asyncio.gather(*(beat(client) for _ in range(12)))
    assert any(a["ok"] is False and a["error"] == "rate_limited" for a in acks)


async def test_connecting_without_signing_in_is_refused(sio: SioFactory) -> None:
    with pytest.raises(socketio.exceptions.ConnectionError):
        await sio(None, NS)


@pytest.mark.parametrize("attention_gap", [(60, 70)], indirect=True)
async def test_an_attention_check_stops_the_clock_until_answered(people: dict[str, Person], sio: SioFactory,
                                                                app: web.Application) -> None:
    maria = people["attendee"]
    await app[EVIDENCE].viewer_started(S, "v1", maria.user.id)
    tab1, tab2 = await sio(maria, NS), await sio(maria, NS)
    inbox1, inbox2 = Inbox(tab1, "attention"), Inbox(tab2, "attention")
    other = await sio(people["attendee2"], NS)
    await beat(tab1, tab="a")
    await beat(tab2, tab="b")
    prompt = await inbox1.nth(1, timeout=10)  # 60-70 conference seconds = 1-1.2 s
    assert prompt["session"] == S and (await inbox2.nth(1, timeout=5)) == prompt
    shown = now(app)
    waiting = await beat(tab1, tab="a")
    assert waiting["attention"] == prompt["prompt"] and waiting["counting"] is False
    later(app, 30)  # 30 conference seconds not answered: they do not count
    stuck = await beat(tab1, tab="a")
    assert stuck["watch_seconds"] <= waiting["watch_seconds"] + 1
    stolen = await other.call("attention", {"session": S, "prompt": prompt["prompt"]}, namespace=NS)
    assert stolen["ok"] is False and stolen["error"] == "not_found"
    answered = await tab2.call("attention", {"session": S, "prompt": prompt["prompt"]}, namespace=NS)
    assert answered["ok"] is True and answered["attention"] is None
    again = await tab2.call("attention", {"session": S, "prompt": prompt["prompt"]}, namespace=NS)
    assert again["ok"] is False and again["error"] == "conflict"
    later(app, 18)
    after = await beat(tab1, tab="a")
    assert after["attention"] is None
    # Time between the prompt and the answer is out: the total is less than the time since start.
    stored = await app[LEDGER].store.one(maria.user.id, S)
    (p,) = stored.prompts.values()
    assert p.answered_at is not None and p.answered_at - p.shown_at >= 0.5 * SCALE - 1
    assert p.shown_at <= shown
    assert after["watch_seconds"] >= stuck["watch_seconds"]


async def test_transcript_lists_watched_sessions_for_the_caller_only(people: dict[str, Person], sio: SioFactory,
                                                                     app: web.Application, client: TestClient) -> None:
    maria = people["attendee"]
    await app[EVIDENCE].viewer_started(S, "v1", maria.user.id)
    tab = await sio(maria, NS)
    await beat(tab)
    later(app, 30)
    acked = (await beat(tab))["watch_seconds"]
    resp = await client.get("/api/me/transcript", headers=maria.auth)
    assert resp.status == 200
    body = await resp.json()
    (line,) = body["sessions"]
    assert line["id"] == S and line["title"].startswith("Heart Failure")
    assert acked <= line["watch_seconds"] <= acked + 1 and line["counted_seconds"] == line["watch_seconds"]
    assert body["total"]["watch_seconds"] == line["watch_seconds"] and body["total"]["sessions"] == 1
    other = await (await client.get("/api/me/transcript", headers=people["attendee2"].auth)).json()
    assert other["sessions"] == [] and other["total"]["watch_seconds"] == 0
    anonymous = await client.get("/api/me/transcript")
    assert anonymous.status == 401


async def test_transcript_extras_add_fields_per_session_and_total(people: dict[str, Person], sio: SioFactory,
                                                                  app: web.Application, client: TestClient) -> None:
    from server.transcript import transcript_extras

    async def credit(app: web.Application, user: Any, transcript: Any) -> dict[str, Any]:
        return {"sessions": {s.session.id: {"eligible": "0.25"} for s in transcript.sessions},
                "total": {"claimed": "0"}}

    transcript_extras(app).append(credit)
    await app[EVIDENCE].viewer_started(S, "v1", people["attendee"].user.id)
    await beat(await sio(people["attendee"], NS))
    body = await (await client.get("/api/me/transcript", headers=people["attendee"].auth)).json()
    assert body["sessions"][0]["eligible"] == "0.25" and body["total"]["claimed"] == "0"


async def test_faculty_publishing_time_is_in_their_transcript(people: dict[str, Person], app: web.Application,
                                                              client: TestClient) -> None:
    ana = people["faculty"]
    await app[EVIDENCE].publisher_started(S, "p1", ana.user.id)
    later(app, 18)
    await app[EVIDENCE].publisher_stopped(S, "p1", ana.user.id)
    body = await (await client.get("/api/me/transcript", headers=ana.auth)).json()
    (line,) = body["sessions"]
    assert line["faculty_seconds"] >= 0.3 * SCALE - 1 and line["watch_seconds"] == 0


def test_parallel_sessions_count_once_in_the_conference_total(settings: Settings) -> None:
    from server.conference_file import load_conference

    catalogue = load_conference(settings.conference).catalogue
    panel, workshop = catalogue.session("hypertension-panel"), catalogue.session("insulin-workshop")
    assert panel is not None and workshop is not None and panel.start == workshop.start
    t = panel.start.timestamp()

    def watching(a: float, b: float) -> Recorded:
        rec = Recorded()
        rec.media.append(MediaEvent(t + a, "v", True))
        rec.stretches.append(Interval(t + a, t + b))
        return rec

    transcript = compute(1, catalogue, {panel.id: watching(0, 1800), workshop.id: watching(900, 2700)}, t + 3600)
    assert transcript.session(panel.id).watch_seconds == 1800  # type: ignore[union-attr]
    assert transcript.session(workshop.id).watch_seconds == 1800  # type: ignore[union-attr]
    assert transcript.watch_seconds == 2700
    assert sum(s.counted_seconds for s in transcript.sessions) == 2700


async def test_exhibitors_may_watch_and_organizers_see_live_figures(people: dict[str, Person], sio: SioFactory,
                                                                   app: web.Application, client: TestClient) -> None:
    pat = people["exhibitor"]
    ack = await beat(await sio(pat, NS))
    assert ack["ok"] is True
    figures = await (await client.get(f"/api/sessions/{S}", headers=people["organizer"].auth)).json()
    assert figures["watching"] == 1
    hidden = await (await client.get(f"/api/sessions/{S}", headers=people["attendee"].auth)).json()
    assert "watching" not in hidden
    metrics = await (await client.get("/metrics")).text()
    assert f'rounds_watching{{session="{S}"}} 1.0' in metrics
    assert "rounds_evidence_transactions_total" in metrics


async def test_watch_time_is_stored_the_same_on_postgresql(pg_settings: Settings, people: Any = None) -> None:
    from aiohttp.test_utils import TestServer

    from server.app import create_app

    app = create_app(pg_settings.replace(time_scale=SCALE))
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        maria = await add_person(app, "maria@pg.test", Role.ATTENDEE)
        await app[EVIDENCE].viewer_started(S, "v1", maria.user.id)
        client = socketio.AsyncClient(reconnection=False)
        await client.connect(str(server.make_url("/")), namespaces=[NS], auth={"token": maria.token},
                             transports=["websocket"], wait_timeout=10)
        try:
            await beat(client, tab="t")
            later(app, 30)
            acked = (await beat(client, tab="t"))["watch_seconds"]
        finally:
            await client.disconnect()
        stored = await app[LEDGER].store.one(maria.user.id, S)
        assert stored.tabs["t"].watching is True and len(stored.media) == 1
        assert acked >= 0.5 * SCALE - 1
    finally:
        await server.close()


async def test_an_attention_check_reaches_and_is_answered_from_a_page_on_another_process(
        tmp_path: Path, conference_file: Path, redis_server: Any) -> None:
    from aiohttp.test_utils import TestServer

    from server.app import create_app

    text = re.sub(r"attention_checks = \{[^}]*\}", "attention_checks = { min_gap_s = 60, max_gap_s = 70 }",
                  conference_file.read_text(encoding="utf-8"))
    path = tmp_path / "conference.toml"
    path.write_text(text, encoding="utf-8")
    import redis

    with redis.Redis.from_url(redis_server.url) as r:
        r.flushall()
    settings = make_settings(tmp_path / "data", path, time_scale=SCALE, redis_url=redis_server.url)
    servers = []
    clients: list[socketio.AsyncClient] = []
    try:
        for _ in range(2):  # two server processes' apps on one database and one Redis
            server = TestServer(create_app(settings), host="127.0.0.1")
            await server.start_server()
            servers.append(server)
        one = servers[0]
        maria = await add_person(one.app, "maria@two.test", Role.ATTENDEE)
        await one.app[EVIDENCE].viewer_started(S, "v1", maria.user.id)
        for server in servers:
            c = socketio.AsyncClient(reconnection=False)
            await c.connect(str(server.make_url("/")), namespaces=[NS], auth={"token": maria.token},
                            transports=["websocket"], wait_timeout=10)
            clients.append(c)
        on_one, on_two = clients
        inbox_two = Inbox(on_two, "attention")
        assert (await beat(on_two, tab="b"))["ok"]  # joins the attendee's room on process two
        await beat(on_one, tab="a")  # watching on process one: its timer shows the prompt
        prompt = await inbox_two.nth(1, timeout=10)
        answered = await on_two.call("attention", {"session": S, "prompt": prompt["prompt"]}, namespace=NS)
        assert answered["ok"] is True, answered
        assert (await beat(on_one, tab="a"))["attention"] is None  # process one knows it is answered
        stored = await one.app[LEDGER].store.one(maria.user.id, S)
        ours = stored.prompts[prompt["prompt"]]
        assert ours.answered_at is not None
        # Both processes planned a prompt; one was shown (a next one may follow the answer).
        assert [p for p in stored.prompts.values() if p.shown_at <= ours.answered_at] == [ours]
    finally:
        for c in clients:
            await c.disconnect()
        for server in servers:
            await server.close()
