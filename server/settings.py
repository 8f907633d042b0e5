"""Settings, read once from ``config/default.toml`` and the environment."""

from __future__ import annotations

import dataclasses
import os
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ROOT", "Settings", "SettingsError", "load_settings"]

ROOT = Path(__file__).resolve().parents[1]
DEFAULTS_FILE = ROOT / "config" / "default.toml"

# Variables that keep their conventional names instead of ROUNDS_*.
_PLAIN_ENV = {"port": "PORT", "database_url": "DATABASE_URL", "redis_url": "REDIS_URL"}


class SettingsError(ValueError):
    """A setting has a value of the wrong kind."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the server and the ``rounds`` command are configured by."""

    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = ROOT / "var"
    conference: Path = ROOT / "config" / "demo-conference.toml"
    database_url: str = ""
    redis_url: str = ""
    log_level: str = "info"
    log_format: str = "text"
    cookie_secure: bool = False
    token_ttl_s: int = 86400
    login_attempts: int = 50
    login_window_s: int = 300
    time_scale: float = 1.0
    heartbeat_s: int = 15
    heartbeat_tolerance_s: int = 45
    ice_addresses: tuple[str, ...] = ()
    ice_announce: str = ""
    ice_servers: tuple[str, ...] = ()
    turn_secret: str = ""
    turn_ttl_s: int = 3600
    max_viewers: int = 500
    publish_margin_s: int = 1800
    qa_max_text: int = 500
    qa_questions_per_minute: int = 5
    qa_votes_per_minute: int = 60
    hall_messages_per_minute: int = 20
    upload_max_bytes: int = 10 * 1024 * 1024
    # issue 13: availability and sessions
    public_url: str = ""
    trusted_proxies: tuple[str, ...] = ()
    body_max_bytes: int = 64 * 1024
    login_free_failures: int = 5
    login_delay_max_s: int = 300
    register_attempts: int = 30
    register_window_s: int = 3600
    session_ttl_s: int = 12 * 3600
    socket_queue_max: int = 1000
    sockets_per_user: int = 20
    max_connections: int = 8000
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    keepalive_timeout_s: float = 30.0
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_username: str = ""
    smtp_password: str = field(default="", repr=False)
    smtp_starttls: bool = True
    mail_from: str = "Rounds <rounds@localhost>"
    verify_link_ttl_s: int = 7 * 86400
    reset_link_ttl_s: int = 3600
    reset_attempts: int = 5
    secret_key: bytes = field(default=b"", repr=False)

    @property
    def db_url(self) -> str:
        """The SQLAlchemy URL: ``DATABASE_URL`` or the SQLite file in the data directory."""
        if self.database_url:
            return _async_driver(self.database_url)
        return f"sqlite+aiosqlite:///{self.data_dir / 'rounds.db'}"

    @property
    def recordings_dir(self) -> Path:
        return self.data_dir / "recordings"

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    def replace(self, **changes: Any) -> Settings:
        """A copy with some settings changed (tests and the CLI use it)."""
        return dataclasses.replace(self, **changes)


def _async_driver(url: str) -> str:
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    return url


def _cast(name: str, kind: Any, raw: Any) -> Any:
    try:
        if kind is bool:
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(raw)
        if kind is int:
            return int(raw)
        if kind is float:
            return float(raw)
        if kind is Path:
            path = Path(str(raw)).expanduser()
            return path if path.is_absolute() else ROOT / path
        if kind == "tuple[str, ...]":
            items = raw if isinstance(raw, list) else str(raw).split(",")
            return tuple(str(item).strip() for item in items if str(item).strip())
        return str(raw)
    except ValueError:
        raise SettingsError(f"setting {name!r}: {raw!r} is not a valid {kind}") from None


_KINDS: dict[str, Any] = {
    f.name: ("tuple[str, ...]" if "tuple" in str(f.type) else
             {"str": str, "int": int, "float": float, "bool": bool, "Path": Path}.get(str(f.type), str))
    for f in dataclasses.fields(Settings)
    if f.name != "secret_key"
}


def setting_names() -> list[str]:
    """Names of every setting (the docs test checks each is documented)."""
    return sorted(_KINDS)


def env_name(name: str) -> str:
    """The environment variable that overrides a setting."""
    return _PLAIN_ENV.get(name, f"ROUNDS_{name.upper()}")


def load_settings(
    env: Mapping[str, str] | None = None, config_file: Path | None = None, **overrides: Any
) -> Settings:
    """Defaults file, then an optional config file, then environment, then ``overrides``.

    Raises :class:`SettingsError` for an unknown key or a value of the wrong kind.
    """
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    for path in (DEFAULTS_FILE, config_file):
        if path is None:
            continue
        with open(path, "rb") as fh:
            try:
                data = tomllib.load(fh)
            except tomllib.TOMLDecodeError as exc:
                raise SettingsError(f"{path}: {exc}") from None
        for key, raw in data.items():
            if key not in _KINDS:
                raise SettingsError(f"{path}: unknown setting {key!r}")
            values[key] = _cast(key, _KINDS[key], raw)
    for key, kind in _KINDS.items():
        name = env_name(key)
        if name in env:
            values[key] = _cast(name, kind, env[name])
    for key, raw in overrides.items():
        values[key] = raw if key == "secret_key" else _cast(key, _KINDS[key], raw)
    settings = Settings(**values)
    if not settings.secret_key:
        settings = settings.replace(secret_key=_secret_key(settings.data_dir, env))
    return settings


def _secret_key(data_dir: Path, env: Mapping[str, str]) -> bytes:
    """``ROUNDS_SECRET_KEY`` or the key generated on first start in the data directory.

    The ``rounds`` command and a running server read the same file, so a token one mints
    the other accepts.
    """
    if env.get("ROUNDS_SECRET_KEY"):
        return env["ROUNDS_SECRET_KEY"].encode()
    path = data_dir / "secret.key"
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    key = secrets.token_urlsafe(48).encode()
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
    return key
