"""A userspace UDP bridge that drops and delays packets (this kernel has no netem).

Runs inside the middle network namespace of tests/media/netlab.py. On stdin, one
JSON object per line: {"to": [host, port], "listen": host} opens a pair of
sockets, one on ``listen`` (the viewer's side) and one towards ``to`` (the
server's side), and answers {"port": n} with the viewer-side port. Datagrams are
forwarded both ways; each direction drops a share ``--loss`` of them (seeded, so
runs repeat) and holds each for ``--delay-ms`` (+/- ``--jitter-ms``, order kept).
On EOF it prints {"forwarded": ..., "dropped": ...} per direction and exits.

usage: udp_bridge.py --loss 0.02 --delay-ms 25 [--jitter-ms 0] [--seed 1] [--down-only]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import socket
import sys
from typing import Any


class Direction:
    """One way through the bridge, with its own loss and delay."""

    def __init__(self, loss: float, delay: float, jitter: float, rng: random.Random) -> None:
        self.loss = loss
        self.delay = delay
        self.jitter = jitter
        self.rng = rng
        self.forwarded = 0
        self.dropped = 0
        self._last_due = 0.0

    def pass_on(self, send: Any, data: bytes, addr: Any) -> None:
        if self.loss and self.rng.random() < self.loss:
            self.dropped += 1
            return
        self.forwarded += 1
        loop = asyncio.get_running_loop()
        wait = self.delay + (self.rng.uniform(-self.jitter, self.jitter) if self.jitter else 0.0)
        due = max(loop.time() + max(0.0, wait), self._last_due)  # keep the order
        self._last_due = due
        if due <= loop.time():
            send(data, addr)
        else:
            loop.call_at(due, send, data, addr)


class Side(asyncio.DatagramProtocol):
    def __init__(self, on_datagram: Any) -> None:
        self.on_datagram = on_datagram
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.on_datagram(data, addr)

    def error_received(self, exc: Exception) -> None:
        pass


async def open_pair(message: dict[str, Any], down: Direction, up: Direction) -> int:
    loop = asyncio.get_running_loop()
    server = (message["to"][0], int(message["to"][1]))
    viewer_addr: list[Any] = [None]

    def from_viewer(data: bytes, addr: Any) -> None:
        viewer_addr[0] = addr
        up.pass_on(server_side.transport.sendto, data, server)

    def from_server(data: bytes, _addr: Any) -> None:
        if viewer_addr[0] is not None:
            down.pass_on(viewer_side.transport.sendto, data, viewer_addr[0])

    _, viewer_side = await loop.create_datagram_endpoint(
        lambda: Side(from_viewer), local_addr=(message["listen"], 0), family=socket.AF_INET
    )
    _, server_side = await loop.create_datagram_endpoint(
        lambda: Side(from_server), remote_addr=server, family=socket.AF_INET
    )
    port: int = viewer_side.transport.get_extra_info("sockname")[1]
    return port


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--loss", type=float, default=0.0)
    parser.add_argument("--delay-ms", type=float, default=0.0)
    parser.add_argument("--jitter-ms", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--down-only", action="store_true", help="lose only towards the viewer")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    delay, jitter = args.delay_ms / 1000, args.jitter_ms / 1000
    down = Direction(args.loss, delay, jitter, rng)
    up = Direction(0.0 if args.down_only else args.loss, delay, jitter, rng)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        port = await open_pair(json.loads(line), down, up)
        sys.stdout.write(json.dumps({"port": port}) + "\n")
        sys.stdout.flush()
    counts = {
        "down": {"forwarded": down.forwarded, "dropped": down.dropped},
        "up": {"forwarded": up.forwarded, "dropped": up.dropped},
    }
    sys.stdout.write(json.dumps(counts) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(main())
