"""Attendance evidence as it arrives: media (``media.Evidence``), heartbeats, attention prompts.

:class:`Ledger` keeps, for each attendee active on this process, the evidence stored for them
(loaded once from SQL, then extended), so a heartbeat's answer costs no query. Every change is
committed (group commit, ``store.attendance.EvidenceWriter``) before the call returns: what an
attendee was told is stored. Transcripts and exports never read this cache; they recompute from SQL.

Heartbeat settings are real seconds (how often a page beats); evidence is in conference seconds,
so the tolerance is ``heartbeat_tolerance_s * time_scale``.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web

from .attendance import (
    AttentionPrompt,
    Heartbeat,
    Intervals,
    MediaEvent,
    PublishEvent,
    advance_tab,
    media_intervals,
    total_seconds,
)  # fmt: skip
from .catalogue import Session
from .errors import BadRequest, Conflict, NotFound
from .state import CLOCK, ENGINE, SETTINGS
from .store.attendance import AttendanceStore, EvidenceWriter, Recorded
from .transcript import timeline, watched

__all__ = ["EVIDENCE", "LEDGER", "Ledger", "StoredEvidence", "WatchStatus", "evidence_context"]

log = logging.getLogger("rounds.attendance")

Key = tuple[int, str]  # (user id, session id)
# Pages (tabs, devices, reloads) one attendee may have in one session: each is a stored row.
MAX_TABS = 200


@dataclass(frozen=True, slots=True)
class WatchStatus:
    """What a page is told: its attendee's watch time so far, whether the clock runs, open prompt."""

    watch_seconds: float
    counting: bool
    prompt: str | None


class Ledger:
    """Stores evidence and answers with the attendee's running watch time."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.instance = secrets.token_hex(8)
        self._cache: dict[Key, Recorded] = {}
        self._loading: dict[Key, asyncio.Future[Recorded]] = {}
        self._timelines: dict[str, Intervals] = {}
        self._store: AttendanceStore | None = None
        self._writer: EvidenceWriter | None = None

    # -- lifecycle ------------------------------------------------------------------------

    def open(self) -> None:
        self._store = AttendanceStore(self.app[ENGINE])
        self._writer = EvidenceWriter(self.app[ENGINE])

    @property
    def store(self) -> AttendanceStore:
        assert self._store is not None, "the ledger opens at startup"
        return self._store

    @property
    def writer(self) -> EvidenceWriter:
        assert self._writer is not None, "the ledger opens at startup"
        return self._writer

    @property
    def tolerance(self) -> float:
        s = self.app[SETTINGS]
        return s.heartbeat_tolerance_s * s.time_scale

    def now(self) -> float:
        return self.app[CLOCK].timestamp()

    async def touch(self) -> None:
        """Record that this process is alive (its open media intervals are real)."""
        await self._commit(self.now())

    async def _commit(self, now: float, key: Key | None = None) -> None:
        # Every batch also moves this process's sign of life, so after a crash its open media
        # intervals close no earlier than the last evidence it acknowledged.
        self.writer.touch(self.instance, now, time.time())
        try:
            await self.writer.commit()
        except Exception:
            if key is not None:  # the cache holds what failed to store: read it again from SQL
                self._cache.pop(key, None)
            raise

    # -- evidence -------------------------------------------------------------------------

    async def media(self, session_id: str, user_id: int, kind: str, resource: str, started: bool) -> None:
        """Store a media start/stop of a viewer or publisher resource."""
        rec = await self._entry((user_id, session_id))
        now = self.now()
        if kind == "viewer":
            rec.media.append(MediaEvent(now, resource, started))
        else:
            rec.publishing.append(PublishEvent(now, resource, started))
        self.writer.media(session_id, user_id, kind, resource, started, now, self.instance)
        await self._commit(now, (user_id, session_id))

    async def heartbeat(self, user_id: int, session: Session, tab: str, visible: bool, playing: bool) -> WatchStatus:
        """Store one page's heartbeat (as its tab's checkpoint) and answer with the watch time."""
        key = (user_id, session.id)
        rec = await self._entry(key)
        if rec.open_prompt() is not None:
            # It may have been answered on another page served by another process.
            rec = await self._refresh(key)
        now = self.now()
        old = rec.tabs.get(tab)
        if old is None and len(rec.tabs) >= MAX_TABS:
            raise BadRequest(f"more than {MAX_TABS} pages of this session are open; close some", field="tab")
        state, closed = advance_tab(old, Heartbeat(now, tab, visible, playing), self.tolerance)
        rec.tabs[tab] = state
        if closed is not None:
            rec.stretches.append(closed)
            self.writer.stretch(session.id, user_id, tab, closed)
        self.writer.tab(session.id, user_id, tab, state, new=old is None)
        await self._commit(now, key)
        return self._status(rec, session, now, visible and playing)

    async def show_prompt(self, user_id: int, session: Session, prompt_id: str | None = None) -> str | None:
        """Store a new attention prompt shown now (``prompt_id``, or a random one); None when one
        is already open."""
        # Fresh from SQL: another process may have shown one already.
        rec = await self._refresh((user_id, session.id))
        if rec.open_prompt() is not None:
            return None
        prompt_id, now = prompt_id or secrets.token_urlsafe(12), self.now()
        rec.prompts[prompt_id] = AttentionPrompt(now)
        self.writer.prompt(prompt_id, session.id, user_id, now)
        await self._commit(now, (user_id, session.id))
        return prompt_id

    async def answer_prompt(self, user_id: int, session: Session, prompt_id: str) -> WatchStatus:
        """Store the answer to an open prompt; raises NotFound (not this attendee's) or Conflict."""
        key = (user_id, session.id)
        # Fresh from SQL: the prompt may have been shown, or answered, through another process.
        rec = await self._refresh(key)
        prompt = rec.prompts.get(prompt_id)
        if prompt is None:
            raise NotFound("there is no such attention check for you in this session")
        if prompt.answered_at is not None:
            raise Conflict("this attention check is already answered")
        now = max(self.now(), prompt.shown_at)
        rec.prompts[prompt_id] = AttentionPrompt(prompt.shown_at, now)
        self.writer.answer(prompt_id, now)
        await self._commit(now, key)
        return self._status(rec, session, now, self.watching(user_id, session.id))

    async def close_prompts(self, session: Session, prefix: str) -> None:
        """Answer now every open prompt of ``session`` whose id starts with ``prefix`` (a closed
        attention poll: those who did not answer lost the time it was open)."""
        now = self.now()
        for user_id, prompt_id in await self.store.close_prompts(session.id, prefix, now):
            rec = self._cache.get((user_id, session.id))
            if rec is not None and prompt_id in rec.prompts:
                rec.prompts[prompt_id] = AttentionPrompt(rec.prompts[prompt_id].shown_at, now)

    # -- reading --------------------------------------------------------------------------

    def watching(self, user_id: int, session_id: str) -> bool:
        """Whether one of the attendee's pages said visible+playing within the tolerance."""
        rec = self._cache.get((user_id, session_id))
        if rec is None:
            return False
        recent = self.now() - self.tolerance
        return any(t.watching and t.last >= recent for t in rec.tabs.values())

    def watching_now(self, session_id: str) -> list[int]:
        """The attendees of ``session_id`` whose pages on this process are watching now."""
        recent = self.now() - self.tolerance
        return sorted(uid for (uid, sid), rec in self._cache.items() if sid == session_id
                      and any(t.watching and t.last >= recent for t in rec.tabs.values()))

    def watchers(self) -> dict[str, int]:
        """Attendees watching now, per session, on this process (organizer live figures)."""
        counts: dict[str, int] = {}
        recent = self.now() - self.tolerance
        for (_, session_id), rec in self._cache.items():
            if any(t.watching and t.last >= recent for t in rec.tabs.values()):
                counts[session_id] = counts.get(session_id, 0) + 1
        return counts

    def transactions(self) -> int:
        """Evidence write transactions so far (metrics)."""
        return self._writer.batches if self._writer is not None else 0

    def forget(self, user_id: int, session_id: str) -> None:
        """Drop an attendee's cached evidence (they left); it reloads from SQL when needed."""
        if (user_id, session_id) not in self._loading:
            self._cache.pop((user_id, session_id), None)

    def _timeline(self, session: Session) -> Intervals:
        tl = self._timelines.get(session.id)
        if tl is None:
            tl = self._timelines[session.id] = timeline(session)
        return tl

    def _status(self, rec: Recorded, session: Session, now: float, page_watching: bool) -> WatchStatus:
        tl = self._timeline(session)
        seconds = total_seconds(watched(rec, tl))
        flowing = media_intervals(rec.media, float("inf"))
        media_open = bool(flowing) and flowing[-1].end == float("inf")
        prompt = rec.open_prompt()
        in_timeline = any(s <= now < e for s, e in tl)
        return WatchStatus(seconds, page_watching and media_open and prompt is None and in_timeline, prompt)

    async def _entry(self, key: Key) -> Recorded:
        rec = self._cache.get(key)
        if rec is not None:
            return rec
        fut = self._loading.get(key)
        if fut is None:
            fut = self._loading[key] = asyncio.ensure_future(self._load(key))
        return await asyncio.shield(fut)

    async def _refresh(self, key: Key) -> Recorded:
        """The entry re-read from SQL (for the rare events other processes may have changed)."""
        if key not in self._loading:
            self._cache.pop(key, None)
        return await self._entry(key)

    async def _load(self, key: Key) -> Recorded:
        try:
            rec = await self.store.one(*key)
            self._cache[key] = rec
            return rec
        finally:
            self._loading.pop(key, None)


class StoredEvidence:
    """``media.Evidence``: viewing and publishing evidence, stored at conference time."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    async def viewer_started(self, session_id: str, viewer_id: str, user_id: int) -> None:
        await self.ledger.media(session_id, user_id, "viewer", viewer_id, True)

    async def viewer_stopped(self, session_id: str, viewer_id: str, user_id: int) -> None:
        await self.ledger.media(session_id, user_id, "viewer", viewer_id, False)

    async def publisher_started(self, session_id: str, publisher_id: str, user_id: int) -> None:
        await self.ledger.media(session_id, user_id, "publisher", publisher_id, True)

    async def publisher_stopped(self, session_id: str, publisher_id: str, user_id: int) -> None:
        await self.ledger.media(session_id, user_id, "publisher", publisher_id, False)


EVIDENCE = web.AppKey("evidence", StoredEvidence)
LEDGER = web.AppKey("attendance_ledger", Ledger)


async def evidence_context(app: web.Application) -> AsyncIterator[None]:
    """Startup: open the ledger, close intervals a crash left open, keep this process marked alive."""
    ledger = app[LEDGER]
    ledger.open()
    settings = app[SETTINGS]
    await ledger.touch()
    # One process (no Redis): every other instance in the database is a previous run of this one.
    single = not settings.redis_url
    await ledger.store.close_stale(ledger.instance, None if single else time.time() - 3 * settings.heartbeat_s)
    task = asyncio.create_task(_keep_alive(ledger, settings.heartbeat_s), name="attendance-alive")
    yield
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await ledger.writer.close()
    # A clean stop: whatever media is still open ended now.
    await ledger.store.close_instance(ledger.instance, ledger.now())


async def _keep_alive(ledger: Ledger, every_s: float) -> None:
    while True:
        await asyncio.sleep(every_s)
        try:
            await ledger.touch()
            await ledger.store.close_stale(ledger.instance, time.time() - 3 * every_s)
        except Exception:
            log.exception("attendance keep-alive failed")
