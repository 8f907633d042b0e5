"""``/watch``: attendance heartbeats and attention checks (docs/realtime.md ``## /watch``).

A page sends ``heartbeat`` every ``heartbeat_s`` seconds and whenever it becomes hidden/visible
or its player pauses/plays; the answer is the attendee's watch time so far. While the attendee
watches a session with attention checks, the server emits ``attention`` at a random moment in
the session's configured range (conference seconds); the clock stops from that moment until one
of the attendee's pages answers with ``attention``.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

from aiohttp import web

from .. import disclosure_gate
from ..accounts import User
from ..authz import Action, require
from ..catalogue import Session, SessionState
from ..errors import NotFound, RateLimited
from ..evidence import LEDGER, Ledger, WatchStatus
from ..polls import is_poll_prompt
from ..state import CATALOGUE, CLOCK, COORD, SETTINGS
from .base import RoundsNamespace, get_bool, get_str

__all__ = ["WatchNamespace", "attendee_room"]

Key = tuple[int, str]  # (user id, session id)
BEATS_PER_SECOND = 5  # a page beats every few seconds; more than this is a runaway or a flood


def attendee_room(user_id: int, session_id: str) -> str:
    """Every page of one attendee in one session (attention prompts go to all of them)."""
    return f"watch:{session_id}:{user_id}"


class WatchNamespace(RoundsNamespace):
    """Heartbeats in, watch time and attention prompts out."""

    def __init__(self, namespace: str, app: web.Application) -> None:
        super().__init__(namespace, app)
        self.joined: dict[str, set[str]] = {}  # sid -> sessions it sent heartbeats for
        self.present: dict[Key, set[str]] = {}  # (user, session) -> its sids on this process
        self.timers: dict[Key, asyncio.TimerHandle] = {}
        self.firing: set[asyncio.Task[None]] = set()
        self.bursts: dict[str, tuple[int, int]] = {}  # sid -> (second, beats in it)

    @property
    def ledger(self) -> Ledger:
        return self.app[LEDGER]

    def _session(self, user: User, data: dict[str, Any]) -> Session:
        session = self.app[CATALOGUE].session(get_str(data, "session", 64))
        if session is None:
            raise NotFound("there is no such session")
        require(user, Action.WATCH, session.id)
        return session

    async def on_heartbeat(self, sid: str, data: dict[str, Any]) -> dict[str, Any]:
        """``{"session", "visible", "playing", "tab"?}`` -> this attendee's watch time there."""
        user = self.user(sid)
        session = self._session(user, data)
        visible, playing = get_bool(data, "visible"), get_bool(data, "playing")
        tab = get_str(data, "tab", 64, required=False) or sid
        self._no_flood(sid)
        await disclosure_gate.require(self.app, user, session)  # nothing counts before it (Standard 3)
        await self._join(sid, user, session)
        status = await self.ledger.heartbeat(user.id, session, tab, visible, playing)
        self._plan_attention(user, session, status)
        return _ack(status)

    async def on_attention(self, sid: str, data: dict[str, Any]) -> dict[str, Any]:
        """``{"session", "prompt"}``: the attendee answered an attention check."""
        user = self.user(sid)
        session = self._session(user, data)
        prompt = get_str(data, "prompt", 32)
        self._no_flood(sid)
        status = await self.ledger.answer_prompt(user.id, session, prompt)
        self._plan_attention(user, session, status)
        return _ack(status)

    async def disconnected(self, sid: str, user: User) -> None:
        self.bursts.pop(sid, None)
        for session_id in self.joined.pop(sid, set()):
            key = (user.id, session_id)
            sids = self.present.get(key, set())
            sids.discard(sid)
            if not sids:
                self.present.pop(key, None)
                timer = self.timers.pop(key, None)
                if timer is not None:
                    timer.cancel()
                self.ledger.forget(user.id, session_id)

    async def close(self) -> None:
        """Stop every planned attention check (shutdown)."""
        for timer in self.timers.values():
            timer.cancel()
        self.timers.clear()
        for task in list(self.firing):
            task.cancel()
        await asyncio.gather(*self.firing, return_exceptions=True)

    def _no_flood(self, sid: str) -> None:
        second = int(time.monotonic())
        was, count = self.bursts.get(sid, (second, 0))
        count = count + 1 if was == second else 1
        self.bursts[sid] = (second, count)
        if count > BEATS_PER_SECOND:
            raise RateLimited("too many heartbeats; one every few seconds is enough")

    async def _join(self, sid: str, user: User, session: Session) -> None:
        sessions = self.joined.setdefault(sid, set())
        if session.id not in sessions:
            sessions.add(session.id)
            self.present.setdefault((user.id, session.id), set()).add(sid)
            await self.enter_room(sid, attendee_room(user.id, session.id))

    # -- attention checks -----------------------------------------------------------------

    def _plan_attention(self, user: User, session: Session, status: WatchStatus) -> None:
        """Plan the next prompt while the attendee watches and none is open or planned."""
        checks = session.attention_checks
        key = (user.id, session.id)
        if checks is None or not session.accredited or status.prompt is not None or key in self.timers:
            return
        if key not in self.present or not self.ledger.watching(user.id, session.id):
            return
        if session.state(self.app[CLOCK].now()) is not SessionState.LIVE:
            return
        delay = random.uniform(checks.min_gap_s, checks.max_gap_s) / self.app[SETTINGS].time_scale
        loop = asyncio.get_running_loop()
        self.timers[key] = loop.call_later(delay, self._fire, user, session)

    def _fire(self, user: User, session: Session) -> None:
        self.timers.pop((user.id, session.id), None)
        task = asyncio.ensure_future(self._prompt(user, session))
        self.firing.add(task)
        task.add_done_callback(self.firing.discard)

    async def _prompt(self, user: User, session: Session) -> None:
        # Only while still watching: the next watching heartbeat plans a fresh one otherwise.
        if (user.id, session.id) not in self.present or not self.ledger.watching(user.id, session.id):
            return
        if session.state(self.app[CLOCK].now()) is not SessionState.LIVE:
            return
        # One prompt per attendee at a time across processes (each may have planned one).
        checks = session.attention_checks
        gap_s = (checks.min_gap_s if checks else 60) / self.app[SETTINGS].time_scale
        if not await self.app[COORD].hit(f"watch:prompt:{session.id}:{user.id}", 1, gap_s):
            return
        prompt = await self.ledger.show_prompt(user.id, session)
        if prompt is not None:
            await self.emit("attention", {"session": session.id, "prompt": prompt},
                            room=attendee_room(user.id, session.id))


def _ack(status: WatchStatus) -> dict[str, Any]:
    return {
        "watch_seconds": int(status.watch_seconds),
        "counting": status.counting,
        # A poll's prompt is answered in the poll, not in the page's "still there?" dialog.
        "attention": None if status.prompt is None or is_poll_prompt(status.prompt) else status.prompt,
        "attention_poll": status.prompt is not None and is_poll_prompt(status.prompt),
    }
