"""Attendance evidence in SQL: media evidence, tab checkpoints, page stretches, attention prompts.

Every time is a float of conference seconds (``Clock.timestamp()``), as in ``server.attendance``.
Raw evidence is append-only except the per-tab checkpoint row (one per page, updated at every
heartbeat; see ``attendance.TabState``) and a prompt's ``answered_at``.

Writes go through :class:`EvidenceWriter`: callers queue rows and await the commit of the batch
that holds them (group commit). A heartbeat is acknowledged only once it is stored, yet a thousand
heartbeats arriving together cost one transaction.

No foreign key to ``users``: raw evidence is a record kept for years (ACCME: six), whatever
happens to accounts; user ids are checked where the evidence arrives.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ..attendance import AttentionPrompt, Interval, MediaEvent, PublishEvent, TabState
from .schema import metadata

__all__ = [
    "AttendanceStore", "EvidenceWriter", "Recorded", "attendance_instances", "attention_prompts",
    "media_evidence", "watch_stretches", "watch_tabs",
]

log = logging.getLogger("rounds.attendance")

media_evidence = sa.Table(
    "media_evidence",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("session_id", sa.String(64), nullable=False),
    sa.Column("user_id", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(10), nullable=False),  # viewer | publisher
    sa.Column("resource", sa.String(64), nullable=False),  # the WHEP/WHIP resource id
    sa.Column("started", sa.Boolean, nullable=False),
    sa.Column("at", sa.Double, nullable=False),
    sa.Column("instance", sa.String(32), nullable=False),  # the server process that saw it
    sa.Index("ix_media_evidence_user_session", "user_id", "session_id"),
    sa.Index("ix_media_evidence_session", "session_id"),
    sa.Index("ix_media_evidence_instance", "instance"),
)

watch_tabs = sa.Table(
    "watch_tabs",
    metadata,
    sa.Column("session_id", sa.String(64), nullable=False),
    sa.Column("user_id", sa.Integer, nullable=False),
    sa.Column("tab", sa.String(64), nullable=False),
    sa.Column("last", sa.Double, nullable=False),
    sa.Column("watching", sa.Boolean, nullable=False),
    sa.Column("start", sa.Double, nullable=True),  # the open watched stretch, if any
    sa.PrimaryKeyConstraint("session_id", "user_id", "tab"),
    sa.Index("ix_watch_tabs_user_session", "user_id", "session_id"),
)

watch_stretches = sa.Table(
    "watch_stretches",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("session_id", sa.String(64), nullable=False),
    sa.Column("user_id", sa.Integer, nullable=False),
    sa.Column("tab", sa.String(64), nullable=False),
    sa.Column("start", sa.Double, nullable=False),
    sa.Column("end", sa.Double, nullable=False),
    sa.Index("ix_watch_stretches_user_session", "user_id", "session_id"),
    sa.Index("ix_watch_stretches_session", "session_id"),
)

attention_prompts = sa.Table(
    "attention_prompts",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("session_id", sa.String(64), nullable=False),
    sa.Column("user_id", sa.Integer, nullable=False),
    sa.Column("shown_at", sa.Double, nullable=False),
    sa.Column("answered_at", sa.Double, nullable=True),
    sa.Index("ix_attention_prompts_user_session", "user_id", "session_id"),
)

attendance_instances = sa.Table(
    "attendance_instances",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("seen_at", sa.Double, nullable=False),  # conference time of its last sign of life
    sa.Column("seen_wall", sa.Double, nullable=False),  # wall time of the same
)

_TABLES = (media_evidence, watch_tabs, watch_stretches, attention_prompts)


@dataclass(slots=True)
class Recorded:
    """Everything stored for one attendee in one session (mutable: the live cache extends it)."""

    media: list[MediaEvent] = field(default_factory=list)
    publishing: list[PublishEvent] = field(default_factory=list)
    stretches: list[Interval] = field(default_factory=list)
    tabs: dict[str, TabState] = field(default_factory=dict)
    prompts: dict[str, AttentionPrompt] = field(default_factory=dict)

    def pages(self) -> list[Interval]:
        """Closed stretches plus each tab's open one: when a page was visible and playing."""
        return self.stretches + [iv for t in self.tabs.values() if (iv := t.open_interval) is not None]

    def open_prompt(self) -> str | None:
        """The id of an unanswered prompt, if any."""
        return next((pid for pid, p in self.prompts.items() if p.answered_at is None), None)


Key = tuple[int, str]  # (user id, session id)


class AttendanceStore:
    """Reads of stored evidence, and the crash clean-up of media intervals."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def recorded(self, user_id: int | None = None, session_id: str | None = None) -> dict[Key, Recorded]:
        """Stored evidence by (user, session), for one user, one session, or both."""
        out: dict[Key, Recorded] = {}

        def get(row: Any) -> Recorded:
            return out.setdefault((row.user_id, row.session_id), Recorded())

        async with self.engine.connect() as conn:
            def where(table: sa.Table) -> list[Any]:
                conds = []
                if user_id is not None:
                    conds.append(table.c.user_id == user_id)
                if session_id is not None:
                    conds.append(table.c.session_id == session_id)
                return conds

            order = (media_evidence.c.at, media_evidence.c.id)
            for r in await conn.execute(sa.select(media_evidence).where(*where(media_evidence)).order_by(*order)):
                if r.kind == "viewer":
                    get(r).media.append(MediaEvent(r.at, r.resource, r.started))
                else:
                    get(r).publishing.append(PublishEvent(r.at, r.resource, r.started))
            for r in await conn.execute(sa.select(watch_stretches).where(*where(watch_stretches))):
                get(r).stretches.append(Interval(r.start, r.end))
            for r in await conn.execute(sa.select(watch_tabs).where(*where(watch_tabs))):
                get(r).tabs[r.tab] = TabState(r.last, r.watching, r.start)
            for r in await conn.execute(sa.select(attention_prompts).where(*where(attention_prompts))):
                get(r).prompts[r.id] = AttentionPrompt(r.shown_at, r.answered_at)
        return out

    async def one(self, user_id: int, session_id: str) -> Recorded:
        """Stored evidence of one attendee in one session."""
        return (await self.recorded(user_id, session_id)).get((user_id, session_id), Recorded())

    async def latest(self) -> float:
        """The newest conference time any server process vouched for (its last sign of life or
        evidence): "now" for a reader without a running clock, such as ``rounds export``."""
        async with self.engine.connect() as conn:
            seen = (await conn.execute(sa.select(sa.func.max(attendance_instances.c.seen_at)))).scalar()
            at = (await conn.execute(sa.select(sa.func.max(media_evidence.c.at)))).scalar()
        return max(v for v in (seen, at, 0.0) if v is not None)

    async def close_stale(self, instance: str, stale_before_wall: float | None) -> int:
        """Close media intervals left open by dead server processes; returns how many.

        A process is dead when it is not ``instance`` and its last sign of life is older than
        ``stale_before_wall`` (None: every other process, for a single-process deployment at
        startup). Its open intervals end at that last sign of life: at most one touch interval
        (one heartbeat) of real media is lost, never invented.
        """
        query = sa.select(attendance_instances.c.id).where(attendance_instances.c.id != instance)
        if stale_before_wall is not None:
            query = query.where(attendance_instances.c.seen_wall < stale_before_wall)
        async with self.engine.connect() as conn:
            dead = [r.id for r in await conn.execute(query)]
        closed = 0
        for other in dead:
            closed += await self.close_instance(other)
        if closed:
            log.warning("closed %d media intervals left open by stopped server processes", closed)
        return closed

    async def close_prompts(self, session_id: str, prefix: str, at: float) -> list[tuple[int, str]]:
        """Answer, at ``at``, every open prompt of ``session_id`` whose id starts with ``prefix``;
        (user id, prompt id) of each."""
        where = (attention_prompts.c.session_id == session_id, attention_prompts.c.id.startswith(prefix),
                 attention_prompts.c.answered_at.is_(None))
        async with self.engine.begin() as conn:
            closed = [(r.user_id, r.id) for r in await conn.execute(
                sa.select(attention_prompts.c.user_id, attention_prompts.c.id).where(*where))]
            if closed:
                await conn.execute(attention_prompts.update().where(*where).values(answered_at=at))
        return closed

    async def close_instance(self, instance: str, at: float | None = None) -> int:
        """End the open media intervals of one server process at ``at`` (default: its last sign of
        life); forget the process."""
        async with self.engine.begin() as conn:
            seen = (await conn.execute(sa.select(attendance_instances.c.seen_at).where(
                attendance_instances.c.id == instance))).scalar()
            latest = (sa.select(sa.func.max(media_evidence.c.id)).where(media_evidence.c.instance == instance)
                      .group_by(media_evidence.c.resource))
            rows = list(await conn.execute(sa.select(media_evidence).where(
                media_evidence.c.id.in_(latest), media_evidence.c.started.is_(True))))
            stops = [{"session_id": r.session_id, "user_id": r.user_id, "kind": r.kind, "resource": r.resource,
                          "started": False, "at": max(r.at, at if at is not None else seen if seen is not None else r.at),
                          "instance": instance}
                     for r in rows]
            if stops:
                await conn.execute(media_evidence.insert(), stops)
            await conn.execute(attendance_instances.delete().where(attendance_instances.c.id == instance))
        return len(stops)

_TAB_KEY = ("b_session", "b_user", "b_tab")
_TAB_UPDATE = watch_tabs.update().where(
    watch_tabs.c.session_id == sa.bindparam("b_session"), watch_tabs.c.user_id == sa.bindparam("b_user"),
    watch_tabs.c.tab == sa.bindparam("b_tab"))
_ANSWER = attention_prompts.update().where(attention_prompts.c.id == sa.bindparam("b_id"))
_TOUCH = attendance_instances.update().where(attendance_instances.c.id == sa.bindparam("b_id"))


class EvidenceWriter:
    """Group commit: queued rows are written together; each caller awaits its batch's commit."""

    def __init__(self, engine: AsyncEngine, linger_s: float = 0.02) -> None:
        self.engine = engine
        # Waiting a moment before a batch lets more rows join it: at 667 heartbeats/s, 20 ms
        # cuts the transactions ~4x (tests/bench/heartbeats.py) for 20 ms more ack latency.
        self.linger_s = linger_s
        self._inserts: dict[str, list[dict[str, Any]]] = {}
        self._tabs: dict[tuple[str, int, str], tuple[TabState, bool]] = {}  # key -> (state, is new)
        self._answers: list[dict[str, Any]] = []
        self._touch: dict[str, Any] | None = None
        self._waiters: list[asyncio.Future[None]] = []
        self._flushing: asyncio.Task[None] | None = None
        self.batches = 0
        self.rows = 0

    def media(self, session: str, user: int, kind: str, resource: str, started: bool, at: float,
              instance: str) -> None:
        self._inserts.setdefault("media", []).append({
            "session_id": session, "user_id": user, "kind": kind, "resource": resource, "started": started, "at": at,
            "instance": instance})

    def tab(self, session: str, user: int, tab: str, state: TabState, new: bool) -> None:
        key = (session, user, tab)
        was = self._tabs.get(key)
        # Only the newest state of a tab is written; "new" sticks until the row exists.
        self._tabs[key] = (state, new or (was is not None and was[1]))

    def stretch(self, session: str, user: int, tab: str, interval: Interval) -> None:
        self._inserts.setdefault("stretch", []).append({
            "session_id": session, "user_id": user, "tab": tab, "start": interval.start, "end": interval.end})

    def prompt(self, prompt_id: str, session: str, user: int, shown_at: float) -> None:
        self._inserts.setdefault("prompt", []).append({
            "id": prompt_id, "session_id": session, "user_id": user, "shown_at": shown_at, "answered_at": None})

    def answer(self, prompt_id: str, at: float) -> None:
        self._answers.append({"b_id": prompt_id, "answered_at": at})

    def touch(self, instance: str, at: float, wall: float) -> None:
        self._touch = {"b_id": instance, "id": instance, "seen_at": at, "seen_wall": wall}

    def commit(self) -> asyncio.Future[None]:
        """A future done when everything queued so far is committed (raises if the write failed)."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        if self._flushing is None:
            self._flushing = asyncio.create_task(self._run(), name="evidence-writer")
        return fut

    async def close(self) -> None:
        """Write what is queued and stop."""
        if self._waiters:
            await asyncio.gather(*self._waiters, return_exceptions=True)
        if self._flushing is not None:
            await asyncio.gather(self._flushing, return_exceptions=True)

    async def _run(self) -> None:
        # While one batch commits, new rows gather for the next: the batch size follows the load.
        try:
            while self._waiters:
                if self.linger_s:
                    await asyncio.sleep(self.linger_s)
                waiters, self._waiters = self._waiters, []
                try:
                    await self._flush()
                except Exception as exc:
                    log.exception("writing attendance evidence failed")
                    for w in waiters:
                        if not w.done():
                            w.set_exception(exc)
                else:
                    for w in waiters:
                        if not w.done():
                            w.set_result(None)
        finally:
            self._flushing = None

    async def _flush(self) -> None:
        inserts, self._inserts = self._inserts, {}
        tabs, self._tabs = self._tabs, {}
        answers, self._answers = self._answers, []
        touch, self._touch = self._touch, None
        tables = {"media": media_evidence, "stretch": watch_stretches, "prompt": attention_prompts}
        new_tabs = [{"session_id": s, "user_id": u, "tab": t, "last": st.last, "watching": st.watching, "start": st.start}
                    for (s, u, t), (st, new) in tabs.items() if new]
        old_tabs = [dict(zip(_TAB_KEY, key, strict=True), last=st.last, watching=st.watching, start=st.start)
                    for key, (st, new) in tabs.items() if not new]
        async with self.engine.begin() as conn:
            if touch is not None:
                done = await conn.execute(_TOUCH, [{k: touch[k] for k in ("b_id", "seen_at", "seen_wall")}])
                if done.rowcount == 0:
                    await conn.execute(attendance_instances.insert(), [
                        {k: touch[k] for k in ("id", "seen_at", "seen_wall")}])
            for kind, rows in inserts.items():
                await conn.execute(tables[kind].insert(), rows)
            if new_tabs:
                await conn.execute(watch_tabs.insert(), new_tabs)
            if old_tabs:
                await conn.execute(_TAB_UPDATE, old_tabs)
            if answers:
                await conn.execute(_ANSWER, answers)
        self.batches += 1
        self.rows += sum(len(r) for r in inserts.values()) + len(new_tabs) + len(old_tabs) + len(answers)

