"""The send path's batching: UDP GSO must deliver exactly the datagrams, in order."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from media.wire import Wire


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(2)
    yield sender, receiver
    sender.close()
    receiver.close()


def wire_on(sender: socket.socket, receiver: socket.socket, gso: bool) -> Wire:
    wire = Wire.__new__(Wire)
    wire._sock = sender
    wire._addr = receiver.getsockname()
    wire._gso = gso
    return wire


@pytest.mark.parametrize("gso", [True, False])
@pytest.mark.parametrize(
    "sizes",
    [
        [1310, 1310, 1310, 700],  # a typical frame: full packets and a short last one
        [1310, 700, 1310, 1310],  # a short one in the middle ends a batch
        [1310] * 70,  # more than one batch of segments
        [200],
        [900, 1310],  # a longer one after a shorter: separate sends
    ],
)
def test_every_datagram_arrives_once_in_order(
    pair: tuple[socket.socket, socket.socket], sizes: list[int], gso: bool
) -> None:
    sender, receiver = pair
    datagrams = [bytes([i % 256]) * size for i, size in enumerate(sizes)]
    wire = wire_on(sender, receiver, gso)
    sent = wire._send_segmented(datagrams) if gso else wire._send_each(datagrams)
    assert sent == len(datagrams)
    assert [receiver.recv(2048) for _ in datagrams] == datagrams
