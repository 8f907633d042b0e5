"""Real PostgreSQL and Redis servers that the test suite starts itself.

Each server runs from a fresh temp dir on a free 127.0.0.1 port and is
stopped (and its dir removed) by ``stop()``, by ``with``, or at exit. The
machine's own servers on 5432 and 6379 are never touched.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Self, TypedDict

__all__ = [
    "PostgresServer", "RedisServer", "ServiceError", "ServiceUnavailable",
    "find_postgres_bin_dir", "find_redis_server", "free_port",
]  # fmt: skip

INSTALL_HINT = "`make test` installs them (apt packages `postgresql` and `redis-server`)"
PG_ROOT = Path("/usr/lib/postgresql")
SHARED_PORTS = frozenset({5432, 6379})  # the machine's own servers: never ours
START_TIMEOUT = 60.0  # generous: two cores shared by several test runs
STOP_TIMEOUT = 15.0
_DB_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_PR_SET_PDEATHSIG = 1


class ServiceError(RuntimeError):
    """A test server failed to start, answer or stop."""


class ServiceUnavailable(ServiceError):
    """The server's binaries are not installed."""


def free_port() -> int:
    """Return a currently free TCP port on 127.0.0.1 (never 5432 or 6379)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        if port not in SHARED_PORTS:
            return port


def find_postgres_bin_dir(root: Path = PG_ROOT) -> Path:
    """Return the bin dir of the highest PostgreSQL version under root; raise ServiceUnavailable."""
    candidates = [
        path
        for path in root.glob("*/bin")
        if path.parent.name.isdigit()
        and (path / "initdb").is_file()
        and (path / "postgres").is_file()
    ]
    if not candidates:
        raise ServiceUnavailable(
            f"PostgreSQL server binaries not found under {root}/*/bin; {INSTALL_HINT}"
        )
    return max(candidates, key=lambda path: int(path.parent.name))


def find_redis_server(
    candidates: Sequence[str] = ("redis-server", "/usr/bin/redis-server"),
) -> Path:
    """Return the path of redis-server; raise ServiceUnavailable."""
    for candidate in candidates:
        found = shutil.which(candidate)
        if found:
            return Path(found)
    raise ServiceUnavailable(f"redis-server not found ({', '.join(candidates)}); {INSTALL_HINT}")


def _clean_env(user: pwd.struct_passwd | None) -> dict[str, str]:
    # PG* variables would redirect psql; C messages keep the readiness lines we match untranslated.
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    env["LC_ALL"] = "C"
    if user is not None:
        env.update(HOME=user.pw_dir, USER=user.pw_name, LOGNAME=user.pw_name)
    return env


class _Identity(TypedDict, total=False):
    user: int
    group: int
    extra_groups: list[int]


def _identity(user: pwd.struct_passwd | None) -> _Identity:
    # Popen switches uid/gid itself: unlike `runuser`, nothing sits between us and the
    # server, so our signals (SIGINT = PostgreSQL's fast shutdown) reach it unchanged.
    if user is None:
        return {}
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


def _death_signal(sig: signal.Signals) -> Callable[[], None] | None:
    """Return a preexec_fn that kills the child with sig if the test process dies."""
    # PR_SET_PDEATHSIG fires when the forking *thread* exits, so only use it from the
    # main thread; a server started from an executor thread would die with that thread.
    if threading.current_thread() is not threading.main_thread():
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return lambda: prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)


def _tail(path: Path, limit: int = 4000) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return text[-limit:]


class _LogPump:
    """Copies a child's output to a log file and notes when its readiness line appears."""

    def __init__(self, stream: IO[bytes], log_path: Path, marker: bytes) -> None:
        self._stream = stream
        self._log_path = log_path
        self._marker = marker
        self._settled = threading.Event()  # readiness line seen, or output closed
        self.ready = False
        self.closed = False
        self._thread = threading.Thread(target=self._run, name=f"log:{log_path.name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with self._log_path.open("ab") as log, self._stream:
            for line in iter(self._stream.readline, b""):
                log.write(line)
                log.flush()
                if not self.ready and self._marker in line:
                    self.ready = True
                    self._settled.set()
        self.closed = True
        self._settled.set()

    def wait_ready(self, timeout: float) -> bool:
        """Block until the readiness line or the end of output; True if ready."""
        self._settled.wait(timeout)
        return self.ready

    def join(self, timeout: float) -> None:
        """Wait for the output to close (all of the server's processes gone)."""
        self._thread.join(timeout)


class _Service:
    """One server process in a temp dir: start, readiness, signals, cleanup."""

    name = "service"
    ready_line = b""
    stop_signal = signal.SIGTERM
    death_signal = signal.SIGTERM  # sent by the kernel if the test process dies first

    def __init__(self, port: int | None, user: pwd.struct_passwd | None = None) -> None:
        self._fixed_port = port
        self._user = user
        self.port = port or 0
        self.dir: Path | None = None
        self.startup_seconds = 0.0
        self._proc: subprocess.Popen[bytes] | None = None
        self._pump: _LogPump | None = None

    @property
    def log_path(self) -> Path:
        """The server's combined stdout/stderr log."""
        assert self.dir is not None, f"{self.name} not started"
        return self.dir / f"{self.name}.log"

    @property
    def pid(self) -> int:
        """The server process id."""
        assert self._proc is not None, f"{self.name} not running"
        return self._proc.pid

    def start(self) -> Self:
        """Start in a new temp dir on a free port (or the given one); raise ServiceError."""
        assert self._proc is None, f"{self.name} already running"
        began = time.perf_counter()
        self.dir = Path(tempfile.mkdtemp(prefix=f"rounds-{self.name}-"))
        try:
            if self._user is not None:
                os.chown(self.dir, self._user.pw_uid, self._user.pw_gid)
            self._prepare()
            self.port = self._fixed_port or free_port()
            self._run(may_move=self._fixed_port is None)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.perf_counter() - began
        atexit.register(self.stop)
        return self

    def stop(self) -> None:
        """Stop the server and remove its temp dir; safe to call twice."""
        atexit.unregister(self.stop)
        self._signal_stop(self.stop_signal, STOP_TIMEOUT)
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _prepare(self) -> None:
        """Fill the temp dir before the first launch."""

    def _argv(self) -> list[str]:
        raise NotImplementedError

    def _ready(self) -> None:
        """Check the freshly launched server answers; raise ServiceError."""

    def _run(self, may_move: bool) -> None:
        while not self._launch():
            # A lost race for a port we picked ourselves: pick again.
            if not (may_move and "Address already in use" in _tail(self.log_path)):
                raise self._error("exited during startup")
            self.port = free_port()
        self._ready()

    def _launch(self) -> bool:
        """Start the server; True once its log shows the ready line, False if it exited first."""
        self._proc = subprocess.Popen(
            self._argv(),
            cwd=self.dir,
            env=_clean_env(self._user),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C on pytest must not reach the server before stop()
            preexec_fn=_death_signal(self.death_signal),  # noqa: PLW1509 - only prctl(2)
            **_identity(self._user),
        )
        assert self._proc.stdout is not None
        self._pump = _LogPump(self._proc.stdout, self.log_path, self.ready_line)
        if self._pump.wait_ready(START_TIMEOUT):
            return True
        if not self._pump.closed:
            self._signal_stop(signal.SIGKILL, 0.0)
            raise self._error(f"not ready after {START_TIMEOUT:.0f}s")
        self._signal_stop(None, STOP_TIMEOUT)  # output closed a moment before the exit
        return False

    def _signal_stop(self, first: signal.Signals | None, timeout: float) -> None:
        """Send first (None: already exiting), SIGKILL after timeout; reap it and its log pump."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            if first is not None:
                proc.send_signal(first)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(STOP_TIMEOUT)
        if self._pump is not None:
            # Output closes once every child process is gone too (postgres backends).
            self._pump.join(STOP_TIMEOUT)
        self._proc = None
        self._pump = None

    def _error(self, what: str) -> ServiceError:
        log = _tail(self.log_path) if self.dir is not None else "(no log)"
        return ServiceError(
            f"{self.name} on 127.0.0.1:{self.port}: {what}\n--- {self.name} log ---\n{log}"
        )


class PostgresServer(_Service):
    """A throwaway PostgreSQL cluster with a `rounds` database, trust auth, no durability."""

    name = "postgres"
    ready_line = b"ready to accept connections"
    stop_signal = signal.SIGINT  # PostgreSQL's fast shutdown
    death_signal = signal.SIGQUIT  # immediate shutdown
    database = "rounds"

    def __init__(
        self,
        port: int | None = None,
        bin_dir: Path | None = None,
        settings: Mapping[str, str] | None = None,
    ) -> None:
        # initdb and postgres refuse to run as root: as root, run them as `postgres`.
        super().__init__(port, pwd.getpwnam("postgres") if os.geteuid() == 0 else None)
        self.bin_dir = bin_dir or find_postgres_bin_dir()
        for tool in ("initdb", "postgres", "psql"):
            if not (self.bin_dir / tool).is_file():
                raise ServiceUnavailable(f"{self.bin_dir / tool} not found; {INSTALL_HINT}")
        self.settings = dict(settings or {})

    @property
    def data_dir(self) -> Path:
        """The cluster's data directory."""
        assert self.dir is not None, "postgres not started"
        return self.dir / "data"

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the `rounds` database."""
        return self.url_for(self.database)

    @property
    def dsn(self) -> str:
        """Plain libpq/asyncpg DSN of the `rounds` database."""
        return self.dsn_for(self.database)

    def url_for(self, database: str) -> str:
        """SQLAlchemy (asyncpg) URL of a database on this server."""
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def dsn_for(self, database: str) -> str:
        """Plain libpq/asyncpg DSN of a database on this server."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _prepare(self) -> None:
        argv = [
            str(self.bin_dir / "initdb"), "-D", str(self.data_dir), "-A", "trust", "-U", "postgres",
            "--no-sync", "--no-instructions", "-E", "UTF8", "--locale=C",
        ]  # fmt: skip
        with self.log_path.open("ab") as log:
            done = subprocess.run(
                argv, cwd=self.dir, env=_clean_env(self._user), stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, timeout=START_TIMEOUT, check=False,
                **_identity(self._user),
            )  # fmt: skip
        if done.returncode != 0:
            raise self._error(f"initdb failed with exit code {done.returncode}")

    def _argv(self) -> list[str]:
        settings = {
            "listen_addresses": "127.0.0.1",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            **self.settings,
        }
        argv = [
            str(self.bin_dir / "postgres"), "-D", str(self.data_dir), "-k", str(self.dir),
            "-p", str(self.port),
        ]  # fmt: skip
        for key, value in settings.items():
            argv += ["-c", f"{key}={value}"]
        return argv

    def _ready(self) -> None:
        self.psql(f"CREATE DATABASE {self.database}")

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run one SQL command through psql on this server; return its unaligned output."""
        argv = [
            str(self.bin_dir / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
            "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", database, "-c", sql,
        ]  # fmt: skip
        done = subprocess.run(
            argv, env=_clean_env(None), stdin=subprocess.DEVNULL, capture_output=True, text=True,
            timeout=START_TIMEOUT, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise self._error(f"psql {sql!r} failed: {done.stderr.strip()}")
        return done.stdout.strip()

    def create_database(self, name: str | None = None, template: str | None = None) -> str:
        """Create an empty database (or a copy of template) and return its URL."""
        self.psql(self._create_sql(name := name or _new_db_name(), template))
        return self.url_for(name)

    async def create_database_async(
        self, name: str | None = None, template: str | None = None
    ) -> str:
        """Async create_database, for use inside a running event loop."""
        import asyncpg  # imported here so the sync API works without asyncpg

        conn = await asyncpg.connect(self.dsn_for("postgres"))
        try:
            await conn.execute(self._create_sql(name := name or _new_db_name(), template))
        finally:
            await conn.close()
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        """Drop a database, disconnecting anyone still using it."""
        self.psql(f"DROP DATABASE IF EXISTS {_checked(name)} WITH (FORCE)")

    @staticmethod
    def _create_sql(name: str, template: str | None) -> str:
        # A template must have no open connections while it is copied (close engines first).
        sql = f"CREATE DATABASE {_checked(name)}"
        return sql + f" TEMPLATE {_checked(template)}" if template else sql


class RedisServer(_Service):
    """A throwaway Redis without persistence, restartable on the same port."""

    name = "redis"
    ready_line = b"Ready to accept connections"

    def __init__(self, port: int | None = None, binary: Path | None = None) -> None:
        super().__init__(port)
        self.binary = binary or find_redis_server()
        if not self.binary.is_file():
            raise ServiceUnavailable(f"{self.binary} not found; {INSTALL_HINT}")

    @property
    def url(self) -> str:
        """redis-py URL of database 0."""
        return f"redis://127.0.0.1:{self.port}/0"

    def restart(self) -> None:
        """Kill the server (no clean shutdown) and start it again, empty, on the same port."""
        assert self.dir is not None, "redis not started"
        self._signal_stop(signal.SIGKILL, STOP_TIMEOUT)
        try:
            self._run(may_move=False)  # clients expect the same port
        except BaseException:
            self.stop()
            raise

    def _argv(self) -> list[str]:
        assert self.dir is not None
        return [
            str(self.binary),
            "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir),
            "--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", "",
        ]  # fmt: skip

    def _ready(self) -> None:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=START_TIMEOUT) as sock:
                sock.sendall(b"PING\r\n")
                reply = sock.recv(64)
        except OSError as exc:
            raise self._error(f"PING failed: {exc}") from exc
        if not reply.startswith(b"+PONG"):
            raise self._error(f"PING answered {reply!r}")


def _new_db_name() -> str:
    return f"t_{secrets.token_hex(6)}"


def _checked(name: str) -> str:
    """Return name if it is a plain lowercase SQL identifier; raise ValueError."""
    if not _DB_NAME.match(name):
        raise ValueError(f"not a plain database name: {name!r}")
    return name
