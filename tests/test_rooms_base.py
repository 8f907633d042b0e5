"""Every namespace authenticates at connect and answers every call with an acknowledgement."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import socketio
from aiohttp import web
from aiohttp.test_utils import TestServer

from server.app import create_app
from server.errors import NotAllowed
from server.rooms.base import RoundsNamespace, get_bool, get_int, get_str
from server.settings import Settings
from server.state import SIO
from tests.conftest import Person


class EchoNamespace(RoundsNamespace):
    async def on_echo(self, sid: str, data: dict[str, Any]) -> dict[str, Any]:
        return {"text": get_str(data, "text", 10), "n": get_int(data, "n", maximum=5),
                "flag": get_bool(data, "flag", False), "who": self.user(sid).email}

    async def on_refuse(self, sid: str, data: dict[str, Any]) -> dict[str, Any]:
        raise NotAllowed("not today")

    async def on_crash(self, sid: str, data: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("secret internals")

    async def on_limited(self, sid: str, data: dict[str, Any]) -> dict[str, Any]:
        await self.limit(self.user(sid), "limited", 2)
        return {}


@pytest.fixture
async def app(settings: Settings) -> web.Application:
    app = create_app(settings)
    app[SIO].register_namespace(EchoNamespace("/echo", app))
    return app


async def call(client: socketio.AsyncClient, event: str, data: Any) -> dict[str, Any]:
    return await client.call(event, data, namespace="/echo", timeout=5)  # type: ignore[no-any-return]


async def test_connect_with_token_and_call(sio: Callable[..., Awaitable[socketio.AsyncClient]],
                                           people: dict[str, Person]) -> None:
    client = await sio(people["attendee"], "/echo")
    ack = await call(client, "echo", {"text": " hi ", "n": 3})
    assert ack == {"ok": True, "text": "hi", "n": 3, "flag": False, "who": "maria.lopez@demo.rounds"}


@pytest.mark.parametrize("auth", [None, {"token": "forged"}, {"token": 42}])
async def test_connect_without_valid_auth_is_refused(server: TestServer, auth: Any) -> None:
    client = socketio.AsyncClient(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(str(server.make_url("/")), namespaces=["/echo"], auth=auth,
                             transports=["websocket"], wait_timeout=5)


@pytest.mark.parametrize(
    ("event", "data", "error"),
    [
        ("nope", {}, "unknown_event"),
        ("echo", "a string", "bad_request"),
        ("echo", {"text": "x" * 11, "n": 1}, "bad_request"),
        ("echo", {"text": "ok", "n": True}, "bad_request"),
        ("echo", {"text": "ok", "n": 9}, "bad_request"),
        ("refuse", {}, "not_allowed"),
        ("crash", {}, "internal"),
    ],
)
async def test_refusals_come_back_as_error_acks(sio: Callable[..., Awaitable[socketio.AsyncClient]],
                                                people: dict[str, Person], event: str, data: Any, error: str) -> None:
    client = await sio(people["attendee"], "/echo")
    ack = await call(client, event, data)
    assert ack["ok"] is False and ack["error"] == error and ack["reason"]
    assert "secret internals" not in ack["reason"]


async def test_rate_limit_is_per_user(sio: Callable[..., Awaitable[socketio.AsyncClient]],
                                      people: dict[str, Person]) -> None:
    first = await sio(people["attendee"], "/echo")
    other = await sio(people["attendee2"], "/echo")
    acks = [await call(first, "limited", {}) for _ in range(3)]
    assert [a["ok"] for a in acks] == [True, True, False] and acks[2]["error"] == "rate_limited"
    assert (await call(other, "limited", {}))["ok"] is True


async def test_connected_sockets_are_counted_in_metrics(server: TestServer, sio: Callable[..., Awaitable[socketio.AsyncClient]],
                                                        people: dict[str, Person]) -> None:
    client = await sio(people["attendee"], "/echo")
    await call(client, "echo", {"text": "a", "n": 1})
    from server.state import METRICS

    assert server.app[METRICS].sockets.labels("/echo")._value.get() == 1


async def test_browser_session_cookie_authenticates_a_socket(server: TestServer, people: dict[str, Person]) -> None:
    from aiohttp import ClientSession, CookieJar

    from server.state import ACCOUNTS
    from tests.account_support import REGISTRATION

    base = str(server.make_url(""))
    async with ClientSession(base, cookie_jar=CookieJar(unsafe=True)) as http:
        page = await (await http.get("/register")).text()
        csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        await http.post("/register", data=dict(REGISTRATION, csrf=csrf))
        cookie = http.cookie_jar.filter_cookies(server.make_url("/"))["rounds_session"].value
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(base, namespaces=["/echo"], headers={"Cookie": f"rounds_session={cookie}"},
                         transports=["websocket"], wait_timeout=5)
    try:
        ack = await call(client, "echo", {"text": "hi", "n": 1})
        assert ack["who"] == "grace@example.org"
        assert await server.app[ACCOUNTS].by_email("grace@example.org") is not None
    finally:
        await client.disconnect()
