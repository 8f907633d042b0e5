"""Connection limits and header/body deadlines (issue 13, item 7)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from server.app import create_app
from server.http.connections import Listening, listen
from server.settings import Settings
from tests.conftest import Person, make_settings


@pytest.fixture
def settings(tmp_path: Path, conference_file: Path) -> Settings:
    return make_settings(tmp_path / "data", conference_file, header_timeout_s=0.3, body_timeout_s=0.3,
                         max_connections=4)


@pytest.fixture
async def listening(settings: Settings) -> AsyncIterator[Listening]:
    """The app served as ``rounds serve`` serves it (guarded listening socket), on a free port."""
    served = await listen(create_app(settings), settings, "127.0.0.1", 0)
    yield served
    await served.close()


async def _closed(reader: asyncio.StreamReader, within: float = 3) -> bytes:
    """What the server sent before closing (it must close within ``within`` seconds)."""
    return await asyncio.wait_for(reader.read(), within)


async def test_a_request_head_that_trickles_in_is_cut_off(listening: Listening) -> None:
    streams = [await asyncio.open_connection("127.0.0.1", listening.port) for _ in range(3)]
    for _, writer in streams:
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # ... and never the end of the head
        await writer.drain()
    for reader, writer in streams:
        assert await _closed(reader) == b""
        writer.close()
    assert listening.guard.timed_out == 3
    # An ordinary request still works.
    reader, writer = await asyncio.open_connection("127.0.0.1", listening.port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert (await _closed(reader)).startswith(b"HTTP/1.1 200")
    writer.close()


async def test_connections_beyond_the_cap_are_closed_at_once(listening: Listening) -> None:
    held = [await asyncio.open_connection("127.0.0.1", listening.port) for _ in range(4)]
    reader, writer = await asyncio.open_connection("127.0.0.1", listening.port)
    assert await _closed(reader, within=1) == b""
    writer.close()
    assert listening.guard.refused == 1
    # The held ones are served (the head arrives before their deadline).
    first_reader, first_writer = held[0]
    first_writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert (await _closed(first_reader)).startswith(b"HTTP/1.1 200")
    for _, w in held:
        w.close()


@pytest.mark.parametrize(("path", "content_type"), [("/login", "application/x-www-form-urlencoded"),
                                                   ("/whep/heart-failure-2026", "application/sdp")])
async def test_a_body_that_trickles_in_is_cut_off(server: TestServer, people: dict[str, Person], path: str,
                                                  content_type: str) -> None:
    reader, writer = await asyncio.open_connection(server.host, server.port)
    auth = f"Authorization: Bearer {people['attendee'].token}\r\n" if path.startswith("/whep") else ""
    writer.write(f"POST {path} HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: {content_type}\r\n"
                 "Content-Length: 1000\r\n\r\nv=0".encode())
    await writer.drain()
    assert await _closed(reader) == b""  # closed at the 0.3 s deadline, without an answer
    writer.close()
