"""Rounds in processes of its own: the ``rounds`` command and ``rounds serve``, as an operator runs them."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field

from server.settings import ROOT
from tests.services import free_port

# What a developer's shell may export that would point a child at a server the tests did not start.
_INHERITED = ("ROUNDS_", "DATABASE_URL", "REDIS_URL", "PG")


def clean_env(**overrides: str) -> dict[str, str]:
    """This process's environment without Rounds and database settings, plus ``overrides``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_INHERITED)}
    env.update(overrides)
    return env


async def run_rounds(env: dict[str, str], *args: str, timeout: float = 60) -> tuple[int, str, str]:
    """``rounds ARGS...`` in a process of its own: (exit code, stdout, stderr)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "server", *args, cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@dataclass
class Served:
    """A running ``rounds serve``; ``output`` collects what it printed."""

    proc: asyncio.subprocess.Process
    url: str
    output: bytearray = field(default_factory=bytearray)


@asynccontextmanager
async def serving(env: dict[str, str], port: int | None = None, timeout: float = 60) -> AsyncIterator[Served]:
    """``rounds serve`` on a free loopback port, ready once it says it is serving; stopped after."""
    port = port or free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "server", "serve", "--host", "127.0.0.1", "--port", str(port),
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    served = Served(proc, f"http://127.0.0.1:{port}/")
    assert proc.stdout is not None
    stdout = proc.stdout

    async def started() -> None:
        while b"serving on" not in (line := await stdout.readline()):
            served.output += line
            assert line, f"the server exited before serving:\n{served.output.decode()[-3000:]}"

    async def drain() -> None:  # keep reading, so a chatty server never blocks on a full pipe
        while chunk := await stdout.read(65536):
            served.output += chunk

    drainer: asyncio.Task[None] | None = None
    try:
        await asyncio.wait_for(started(), timeout)
        drainer = asyncio.create_task(drain())
        yield served
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 15)
            except TimeoutError:
                proc.kill()
        await proc.wait()
        if drainer is not None:
            with suppress(asyncio.CancelledError):
                await asyncio.wait_for(drainer, 5)
