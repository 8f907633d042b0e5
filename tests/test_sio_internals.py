"""Canary for server/sio_internals.py: fails when a python-socketio/engineio upgrade moves
what that module relies on, before it can fail in production."""

from __future__ import annotations

import asyncio
import re
import tomllib
from importlib.metadata import version

import pytest
import socketio
from engineio.async_socket import AsyncSocket
from socketio import packet as sio_packet
from socketio.async_pubsub_manager import AsyncPubSubManager

from server import sio_internals
from server.settings import ROOT
from server.sio_internals import (
    REFUSED_PREFIX,
    UNDECODABLE,
    BoundedDelivery,
    RoundsPacket,
    RoundsRedisManager,
)


def test_the_installed_libraries_are_the_supported_ones_and_pinned() -> None:
    sio_internals.check()  # the start-up check passes on what is installed
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for dist, prefix in sio_internals.SUPPORTED.items():
        assert version(dist).startswith(prefix)
        pin = next(d for d in deps if d.startswith(dist + ">"))
        major, minor = prefix.rstrip(".").split(".")
        assert re.fullmatch(rf"{dist}>={major}\.{minor}(\.\d+)?,<{major}\.{int(minor) + 1}", pin), pin


def test_the_check_refuses_an_unsupported_version(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sio_internals.SUPPORTED, "python-socketio", "9.9.")
    with pytest.raises(RuntimeError, match="python-socketio .* Rounds supports 9.9.x"):
        sio_internals.check()


def test_packets_from_clients_decode_as_expected() -> None:
    assert RoundsPacket(encoded_packet='2/qa,5["ask",{"text":"hi"}]').data == ["ask", {"text": "hi"}]
    refused = RoundsPacket(encoded_packet='2/qa,5["connect",{}]')
    assert refused.data[0] == REFUSED_PREFIX + "connect" and refused.id == 5 and refused.namespace == "/qa"
    deep = RoundsPacket(encoded_packet='2/qa,6["ask",' + "[" * 5000 + "]" * 5000 + "]")
    assert deep.data == [UNDECODABLE] and deep.id == 6
    assert RoundsPacket(encoded_packet='0/qa,{"token":"t"}').data == {"token": "t"}
    # What the library itself sends keeps its names (the server encodes, never decodes, these).
    assert RoundsPacket(sio_packet.EVENT, data=["connect"]).encode() == '2["connect"]'


def test_engineio_sockets_have_what_the_bounded_delivery_uses() -> None:
    class Server:
        def create_queue(self) -> asyncio.Queue[object]:
            return asyncio.Queue()

    sock = AsyncSocket(Server(), "probe")
    assert isinstance(sock.queue, asyncio.Queue) and sock.closed is False and sock.closing is False
    server = socketio.AsyncServer(async_mode="aiohttp")
    assert isinstance(server.environ, dict) and isinstance(server.eio.sockets, dict)
    assert hasattr(server.eio.reason, "TRANSPORT_ERROR")


def test_pubsub_managers_deliver_locally_through_the_bounded_path() -> None:
    # AsyncPubSubManager calls super().emit for local delivery: that must be BoundedDelivery.emit.
    mro = RoundsRedisManager.__mro__
    assert mro.index(AsyncPubSubManager) < mro.index(BoundedDelivery) < mro.index(socketio.AsyncManager)
