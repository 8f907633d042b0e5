"""An impaired link made of network namespaces, veth pairs and a userspace UDP bridge.

    [r11-<id>-srv]  10.211.<n>.1 ==veth== 10.211.<n>.2  [r11-<id>-mid]  10.212.<n>.2 ==veth== 10.212.<n>.1  [r11-<id>-view]
       relay, publisher,                                 udp_bridge.py                                      impaired viewer
       clean viewers                                    (drops, delays)

The middle namespace does not forward IP: the only way between the server and the
impaired viewer is the bridge, which the test opens for the server's ICE candidate
and writes into the viewer's answer (the server sees the bridge as a
peer-reflexive candidate). Every address lives in namespaces made here, which are
deleted (with their veths) when the lab closes, even after a failure.

Sockets join a namespace when created: :meth:`NetLab.inside` switches the calling
thread (the event loop's) into a namespace for the duration of a block, so the
relay and aiortc peers of one test process can sit on either side.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

CLONE_NEWNET = 0x40000000
BRIDGE = Path(__file__).with_name("udp_bridge.py")
_libc = ctypes.CDLL(None, use_errno=True)


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


def _setns(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"setns({path}): {os.strerror(error)}")
    finally:
        os.close(fd)


class NetLab:
    """Three namespaces (server, middle, viewer) and the bridge process between them."""

    def __init__(self) -> None:
        self.id = secrets.token_hex(3)
        n = int(self.id[:2], 16) % 250 + 1
        self.srv, self.mid, self.view = (f"r11-{self.id}-{r}" for r in ("srv", "mid", "view"))
        self.server_ip = f"10.211.{n}.1"
        self.mid_server_ip = f"10.211.{n}.2"
        self.mid_viewer_ip = f"10.212.{n}.2"
        self.viewer_ip = f"10.212.{n}.1"
        self._made: list[str] = []
        self.bridge: asyncio.subprocess.Process | None = None
        self.counts: dict[str, Any] = {}

    def up(self) -> None:
        """Create the namespaces and links (needs root)."""
        try:
            for ns in (self.srv, self.mid, self.view):
                _ip("netns", "add", ns)
                self._made.append(ns)
                _ip("-n", ns, "link", "set", "lo", "up")
            links = (
                (self.srv, self.server_ip, "a", self.mid, self.mid_server_ip),
                (self.view, self.viewer_ip, "b", self.mid, self.mid_viewer_ip),
            )
            for ns, ip, tag, peer_ns, peer_ip in links:
                near, far = f"r11{self.id}{tag}0", f"r11{self.id}{tag}1"
                _ip("link", "add", near, "netns", ns, "type", "veth", "peer", far, "netns", peer_ns)
                _ip("-n", ns, "addr", "add", f"{ip}/24", "dev", near)
                _ip("-n", peer_ns, "addr", "add", f"{peer_ip}/24", "dev", far)
                _ip("-n", ns, "link", "set", near, "up")
                _ip("-n", peer_ns, "link", "set", far, "up")
        except BaseException:
            self.down()
            raise

    def down(self) -> None:
        """Delete every namespace made (their veths go with them)."""
        for ns in reversed(self._made):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
        self._made.clear()

    @contextlib.contextmanager
    def inside(self, ns: str) -> Iterator[None]:
        """Run the block with the calling thread in namespace ``ns`` (sockets made stay there)."""
        before = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        try:
            _setns(f"/run/netns/{ns}")
            try:
                yield
            finally:
                if _libc.setns(before, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), "cannot return to the original namespace")
        finally:
            os.close(before)

    async def start_bridge(
        self,
        loss: float,
        delay_ms: float = 0.0,
        jitter_ms: float = 0.0,
        seed: int = 1,
        down_only: bool = False,
    ) -> None:
        """Start the dropping, delaying bridge in the middle namespace."""
        self.bridge = await asyncio.create_subprocess_exec(
            "ip",
            "netns",
            "exec",
            self.mid,
            sys.executable,
            str(BRIDGE),
            f"--loss={loss}",
            f"--delay-ms={delay_ms}",
            f"--jitter-ms={jitter_ms}",
            f"--seed={seed}",
            *(["--down-only"] if down_only else []),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )

    async def open_path(self, server_port: int) -> int:
        """A bridge port on the viewer's side that leads to the server's ``server_port``."""
        bridge = self.bridge
        assert bridge is not None and bridge.stdin is not None and bridge.stdout is not None
        message = {"to": [self.server_ip, server_port], "listen": self.mid_viewer_ip}
        bridge.stdin.write((json.dumps(message) + "\n").encode())
        line = await asyncio.wait_for(bridge.stdout.readline(), 10)
        port: int = json.loads(line)["port"]
        return port

    async def route_answer(self, answer_sdp: str) -> str:
        """The server's answer with its candidates replaced by bridge ports."""
        pattern = re.compile(
            rf"^(a=candidate:\S+ 1 udp \d+ ){re.escape(self.server_ip)} (\d+)( typ host.*)$",
            re.IGNORECASE,
        )
        lines = []
        for line in answer_sdp.split("\r\n"):
            match = pattern.match(line)
            if match:
                port = await self.open_path(int(match.group(2)))
                line = f"{match.group(1)}{self.mid_viewer_ip} {port}{match.group(3)}"
            elif line.startswith("a=candidate:"):
                continue
            lines.append(line)
        return "\r\n".join(lines)

    async def stop_bridge(self) -> None:
        """Stop the bridge and keep what it counted (``counts``)."""
        bridge = self.bridge
        self.bridge = None
        if bridge is None:
            return
        if bridge.returncode is None:
            assert bridge.stdin is not None and bridge.stdout is not None
            bridge.stdin.close()
            try:
                out = await asyncio.wait_for(bridge.stdout.read(), 5)
                self.counts = json.loads(out.decode().strip().splitlines()[-1])
            except (TimeoutError, ValueError, IndexError):
                bridge.kill()
            await bridge.wait()


def without_candidates(sdp: str) -> str:
    """An offer without candidates, not ended either: the server learns the viewer's address
    from its checks through the bridge (a peer-reflexive candidate)."""
    return "\r\n".join(
        line
        for line in sdp.split("\r\n")
        if not line.startswith(("a=candidate:", "a=end-of-candidates"))
    )
