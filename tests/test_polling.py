"""The realtime layer on long-polling, bounded queues and reserved names (issue 13, items 6, 12, 14)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio
from aiohttp.test_utils import TestClient, TestServer

from server.evidence import EVIDENCE
from server.settings import Settings
from server.state import METRICS, SIO
from tests.conftest import Person, SioFactory, make_settings

S = "heart-failure-2026"


@pytest.fixture
def settings(tmp_path: Path, conference_file: Path) -> Settings:
    return make_settings(tmp_path / "data", conference_file, socket_queue_max=20, sockets_per_user=3)


@pytest.fixture
async def polling(server: TestServer, client: TestClient) -> AsyncIterator[Any]:
    """Factory of Socket.IO clients that may only long-poll (as behind a proxy without WebSocket).

    It depends on ``client``, whose teardown closes the server, so that its clients go first.
    """
    clients: list[socketio.AsyncClient] = []

    async def connect(person: Person, namespace: str) -> socketio.AsyncClient:
        client = socketio.AsyncClient(reconnection=False)
        await client.connect(str(server.make_url("/")), namespaces=[namespace], auth={"token": person.token},
                             transports=["polling"], wait_timeout=10)
        assert client.transport() == "polling"
        clients.append(client)
        return client

    yield connect
    for one in clients:
        # A polite polling disconnect waits for the pending long poll (up to the ping interval).
        await one.eio.disconnect(abort=True)


class Recorder:
    """Events of one namespace in arrival order, acks included (as ``("ack", event)``)."""

    def __init__(self, client: socketio.AsyncClient, namespace: str, events: tuple[str, ...]) -> None:
        self.client, self.namespace = client, namespace
        self.items: list[tuple[str, Any]] = []
        self._changed = asyncio.Event()
        for event in events:
            client.on(event, self._handler(event), namespace=namespace)

    def _handler(self, event: str) -> Any:
        async def handle(data: Any) -> None:
            self.items.append((event, data))
            self._changed.set()
        return handle

    async def call(self, event: str, data: Any) -> dict[str, Any]:
        ack: dict[str, Any] = await self.client.call(event, data, namespace=self.namespace, timeout=10)
        self.items.append(("ack", event))
        return ack

    async def wait(self, event: str, timeout: float = 10) -> Any:
        async def look() -> Any:
            while True:
                for name, data in self.items:
                    if name == event:
                        return data
                self._changed.clear()
                await self._changed.wait()
        return await asyncio.wait_for(look(), timeout)


@pytest.mark.parametrize("transport", ["polling", "websocket"])
async def test_qa_works_on_each_transport_and_broadcasts_come_before_the_ack(
        people: dict[str, Person], polling: Any, sio: SioFactory, transport: str) -> None:
    async def connect(person: Person) -> socketio.AsyncClient:
        return await (polling(person, "/qa") if transport == "polling" else sio(person, "/qa"))

    mod = Recorder(await connect(people["moderator"]), "/qa", ("question",))
    asker = Recorder(await connect(people["attendee"]), "/qa", ("question",))
    viewer = Recorder(await connect(people["attendee2"]), "/qa", ("question",))
    for who in (mod, asker, viewer):
        assert (await who.call("join", {"session": S}))["ok"]
    asked = await asker.call("ask", {"session": S, "text": "Does this reach us without WebSocket?"})
    assert asked["ok"], asked
    qid = asked["question"]["id"]
    # The author's own copy was queued on the same socket before the ack: it is already here.
    assert [name for name, _ in asker.items][-2:] == ["question", "ack"]
    await mod.wait("question")
    approved = await mod.call("moderate", {"question": qid, "action": "approve"})
    assert approved["ok"]
    seen = await viewer.wait("question")
    assert seen["id"] == qid and seen["status"] == "approved"


async def test_watch_heartbeats_count_over_long_polling(people: dict[str, Person], polling: Any,
                                                        server: TestServer) -> None:
    app = server.app
    await app[EVIDENCE].viewer_started(S, "v1", people["attendee"].user.id)
    client = await polling(people["attendee"], "/watch")
    ack = await client.call("heartbeat", {"session": S, "visible": True, "playing": True}, namespace="/watch",
                            timeout=10)
    assert ack["ok"] is True and ack["counting"] is True


@pytest.mark.parametrize("event", ["connect", "disconnect", "connect_error", "disconnecting"])
async def test_reserved_event_names_from_clients_are_refused(people: dict[str, Person], sio: SioFactory,
                                                             server: TestServer, event: str) -> None:
    client = await sio(people["attendee"], "/qa")
    gauge = server.app[METRICS].sockets.labels("/qa")
    before = gauge._value.get()
    ack = await client.call(event, {"session": S}, namespace="/qa", timeout=10)
    assert ack["ok"] is False and ack["error"] == "unknown_event" and "reserved" in ack["reason"]
    # The namespace's own connect/disconnect handlers did not run: still connected and counted once.
    assert gauge._value.get() == before
    assert (await client.call("join", {"session": S}, namespace="/qa", timeout=10))["ok"]


class RawPolling:
    """A hand-made Engine.IO v4 long-polling client, to send what libraries refuse to."""

    def __init__(self, http: aiohttp.ClientSession, base: str) -> None:
        self.http, self.base, self.sid = http, base, ""

    async def open(self, namespace: str, token: str) -> None:
        async with self.http.get(f"{self.base}/socket.io/?EIO=4&transport=polling") as r:
            self.sid = json.loads((await r.text())[1:])["sid"]
        await self.send(f"0{namespace},{json.dumps({'token': token})}")
        assert any(p.startswith(f"40{namespace},") for p in await self.poll())

    async def send(self, packet: str) -> None:
        async with self.http.post(f"{self.base}/socket.io/?EIO=4&transport=polling&sid={self.sid}",
                                  data=("4" + packet).encode()) as r:
            assert r.status == 200, await r.text()

    async def poll(self) -> list[str]:
        async with self.http.get(f"{self.base}/socket.io/?EIO=4&transport=polling&sid={self.sid}") as r:
            return (await r.text()).split("\x1e")


async def test_undecodable_payloads_get_an_error_ack(people: dict[str, Person], server: TestServer) -> None:
    async with aiohttp.ClientSession() as http:
        raw = RawPolling(http, str(server.make_url("")).rstrip("/"))
        await raw.open("/qa", people["attendee"].token)
        await raw.send('2/qa,7["ask",' + "[" * 3000 + "]" * 3000 + "]")
        await raw.send('2/qa,8["vote",{"question":' + "9" * 5000 + "}]")
        answers: list[str] = []
        while len([p for p in answers if p.startswith("43/qa,")]) < 2:
            answers += await asyncio.wait_for(raw.poll(), 10)
        acks = {p[6]: json.loads(p[7:])[0] for p in answers if p.startswith("43/qa,")}
        assert acks["7"]["ok"] is False and acks["7"]["error"] == "bad_request"
        assert acks["8"]["ok"] is False and "too many digits" in acks["8"]["reason"]


async def test_a_socket_that_never_reads_is_closed_and_counted(people: dict[str, Person],
                                                               server: TestServer) -> None:
    app = server.app
    async with aiohttp.ClientSession() as http:
        raw = RawPolling(http, str(server.make_url("")).rstrip("/"))
        await raw.open("/qa", people["attendee"].token)
        await raw.send('2/qa,1["join",{"session":"' + S + '"}]')
        assert any(p.startswith("43/qa,1") for p in await asyncio.wait_for(raw.poll(), 10))
        # From now on it never polls: broadcasts pile up in its queue until the limit (20).
        for n in range(25):
            await app[SIO].emit("stage", {"n": n, "pad": "x" * 1000}, room=f"{S}:all", namespace="/qa")
        assert app[METRICS].slow_readers.labels("/qa")._value.get() == 1
        assert raw.sid not in app[SIO].eio.sockets or app[SIO].eio.sockets[raw.sid].closed


async def test_one_account_cannot_open_unbounded_sockets(people: dict[str, Person], sio: SioFactory,
                                                         server: TestServer) -> None:
    for _ in range(3):
        await sio(people["attendee"], "/qa")
    fourth = socketio.AsyncClient(reconnection=False)
    refusals: list[Any] = []
    fourth.on("connect_error", refusals.append, namespace="/qa")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await fourth.connect(str(server.make_url("/")), namespaces=["/qa"], auth={"token": people["attendee"].token},
                             transports=["websocket"], wait_timeout=10)
    assert refusals, "the refusal reached the client"
    assert "too many connections" in json.dumps(refusals[0]), refusals
    await fourth.disconnect()
    await sio(people["attendee2"], "/qa")  # others are not affected


async def test_entering_a_booth_again_does_not_resend_its_history(people: dict[str, Person], sio: SioFactory) -> None:
    staff = await sio(people["exhibitor"], "/hall")
    assert (await staff.call("enter", {"booth": "meridian"}, namespace="/hall", timeout=10))["ok"]
    for n in range(3):
        sent = await staff.call("chat", {"booth": "meridian", "text": f"welcome {n}"}, namespace="/hall", timeout=10)
        assert sent["ok"], sent
    visitor = await sio(people["attendee"], "/hall")
    first = await visitor.call("enter", {"booth": "meridian"}, namespace="/hall", timeout=10)
    assert first["ok"] and len(first["messages"]) == 3
    again = await visitor.call("enter", {"booth": "meridian"}, namespace="/hall", timeout=10)
    assert again == {"ok": True, "role": "visitor", "booth": {"id": "meridian", "org": again["booth"]["org"]},
                     "already": True}
