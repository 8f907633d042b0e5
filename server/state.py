"""Typed application state (``web.AppKey``): what hangs off the app instead of globals."""

from __future__ import annotations

from typing import Any

import socketio
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from .catalogue import Catalogue
from .clock import Clock
from .coord import Coordination
from .metrics import Metrics
from .settings import Settings
from .store.accounts import AccountStore
from .store.sessions import SessionStore

__all__ = ["ACCOUNTS", "CATALOGUE", "CLOCK", "COORD", "ENGINE", "EXTRA", "METRICS", "SESSIONS", "SETTINGS", "SIO"]

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", AsyncEngine)
ACCOUNTS = web.AppKey("accounts", AccountStore)
CATALOGUE = web.AppKey("catalogue", Catalogue)
CLOCK = web.AppKey("clock", Clock)
COORD = web.AppKey("coord", Coordination)
SIO = web.AppKey("sio", socketio.AsyncServer)
METRICS = web.AppKey("metrics", Metrics)
SESSIONS = web.AppKey("sessions", SessionStore)
EXTRA = web.AppKey("extra", dict[str, Any])
