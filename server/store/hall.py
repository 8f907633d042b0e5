"""Exhibit hall records: chat, private threads, leads (consents), anonymous visits, downloads,
bans and uploaded resources; and the queries on them."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..errors import NotFound
from ..hall import FIELDS, ChatMessage, Lead, Thread, Visit
from .schema import audit_log, metadata, users

__all__ = [
    "BoothFile", "HallStore", "booth_bans", "booth_downloads", "booth_files", "booth_leads",
    "booth_messages", "booth_thread_reads", "booth_threads", "booth_visits",
]  # fmt: skip

booth_threads = sa.Table(
    "booth_threads",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("booth", sa.String(64), nullable=False),
    sa.Column("visitor_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("booth", "visitor_id", name="uq_booth_threads_booth_visitor"),
)

booth_messages = sa.Table(
    "booth_messages",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("booth", sa.String(64), nullable=False, index=True),
    sa.Column("thread_id", sa.Integer, sa.ForeignKey("booth_threads.id"), nullable=True),
    sa.Column("author_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("from_staff", sa.Boolean, nullable=False),
    sa.Column("staff_name", sa.String(200), nullable=False, server_default=""),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("deleted_by", sa.Integer, nullable=True),
)

# Which message each staff member has read up to, per private thread (unread markers).
booth_thread_reads = sa.Table(
    "booth_thread_reads",
    metadata,
    sa.Column("thread_id", sa.Integer, sa.ForeignKey("booth_threads.id"), nullable=False),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("last_read_id", sa.Integer, nullable=False),
    sa.PrimaryKeyConstraint("thread_id", "user_id", name="pk_booth_thread_reads"),
)

# A visitor's consent: the fields they chose and their values when they shared.
booth_leads = sa.Table(
    "booth_leads",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("booth", sa.String(64), nullable=False),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("fields", sa.String(100), nullable=False),  # space-separated subset of FIELDS
    sa.Column("name", sa.String(200), nullable=False, server_default=""),
    sa.Column("email", sa.String(254), nullable=False, server_default=""),
    sa.Column("profession", sa.String(40), nullable=False, server_default=""),
    sa.Column("organisation", sa.String(200), nullable=False, server_default=""),
    sa.Column("shared_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("booth", "user_id", name="uq_booth_leads_booth_user"),
)

# Anonymous: the visitor is a per-booth HMAC, never a user id.
booth_visits = sa.Table(
    "booth_visits",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("booth", sa.String(64), nullable=False, index=True),
    sa.Column("visitor", sa.String(64), nullable=False),
    sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("left_at", sa.DateTime(timezone=True), nullable=True),
)

booth_downloads = sa.Table(
    "booth_downloads",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("booth", sa.String(64), nullable=False, index=True),
    sa.Column("resource", sa.String(64), nullable=False),  # "link:<n>" or "file:<id>"
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)

booth_bans = sa.Table(
    "booth_bans",
    metadata,
    sa.Column("booth", sa.String(64), nullable=False),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("banned_by", sa.Integer, nullable=False),
    sa.Column("reason", sa.String(500), nullable=False, server_default=""),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("booth", "user_id", name="pk_booth_bans"),
)

booth_files = sa.Table(
    "booth_files",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("booth", sa.String(64), nullable=False, index=True),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("filename", sa.String(200), nullable=False),
    sa.Column("content_type", sa.String(100), nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("stored_name", sa.String(100), nullable=False),
    sa.Column("uploaded_by", sa.Integer, nullable=False),
    sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
)


@dataclass(frozen=True, slots=True)
class BoothFile:
    """An uploaded resource; the bytes live under ``uploads_dir`` as ``stored_name``."""

    id: int
    booth: str
    title: str
    filename: str
    content_type: str
    size: int
    stored_name: str
    uploaded_at: datetime

    def json(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "url": f"/hall/{self.booth}/files/{self.id}",
                "kind": "file", "filename": self.filename, "content_type": self.content_type, "size": self.size}


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; every time we store is UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _new_id(result: Any) -> int:
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def _message(row: Any) -> ChatMessage:
    return ChatMessage(row.id, row.booth, row.thread_id, row.author_id, bool(row.from_staff), row.staff_name,
                       row.text, _aware(row.created_at))


def _lead(row: Any) -> Lead:
    return Lead(row.id, row.booth, row.user_id, tuple(row.fields.split()), row.name, row.email, row.profession,
                row.organisation, _aware(row.shared_at))


def _file(row: Any) -> BoothFile:
    return BoothFile(row.id, row.booth, row.title, row.filename, row.content_type, row.size, row.stored_name,
                     _aware(row.uploaded_at))


class HallStore:
    """Queries on the hall's tables."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    # ------------------------------------------------------------------ chat
    async def add_message(
        self, booth: str, thread: int | None, author_id: int, staff_name: str | None, text: str, at: datetime
    ) -> ChatMessage:
        """Store a message (``staff_name`` None: written by a visitor)."""
        values = {"booth": booth, "thread_id": thread, "author_id": author_id, "from_staff": staff_name is not None,
                  "staff_name": staff_name or "", "text": text, "created_at": at}
        async with self.engine.begin() as conn:
            new_id = _new_id(await conn.execute(booth_messages.insert().values(**values)))
        return ChatMessage(new_id, booth, thread, author_id, staff_name is not None, staff_name or "", text, at)

    async def messages(self, booth: str, thread: int | None, limit: int = 200) -> list[ChatMessage]:
        """The newest messages of the public chat (``thread`` None) or of one thread, oldest first."""
        query = sa.select(booth_messages).where(booth_messages.c.booth == booth, booth_messages.c.deleted_at.is_(None))
        query = query.where(booth_messages.c.thread_id.is_(None) if thread is None else booth_messages.c.thread_id == thread)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query.order_by(booth_messages.c.id.desc()).limit(limit))).all()
        return [_message(r) for r in reversed(rows)]

    async def message(self, message_id: int) -> ChatMessage | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(booth_messages).where(
                booth_messages.c.id == message_id, booth_messages.c.deleted_at.is_(None)))).first()
        return None if row is None else _message(row)

    async def delete_message(self, message: ChatMessage, by: str, by_id: int, at: datetime) -> None:
        """Hide a message; the audit log keeps what it said and who removed it."""
        async with self.engine.begin() as conn:
            await conn.execute(booth_messages.update().where(booth_messages.c.id == message.id)
                               .values(deleted_at=at, deleted_by=by_id))
            await _audit(conn, at, by, "hall.delete_message", f"booth:{message.booth}:message:{message.id}",
                         {"text": message.text, "thread": message.thread}, None)

    # ------------------------------------------------------------------ private threads
    async def open_thread(self, booth: str, visitor_id: int, at: datetime) -> tuple[Thread, bool]:
        """The visitor's private thread with the booth, created if new (the bool says so)."""
        found = await self.thread_of(booth, visitor_id)
        if found is not None:
            return found, False
        try:
            async with self.engine.begin() as conn:
                await conn.execute(booth_threads.insert().values(booth=booth, visitor_id=visitor_id, created_at=at))
        except IntegrityError:  # opened at the same moment from another tab
            pass
        thread = await self.thread_of(booth, visitor_id)
        assert thread is not None
        return thread, True

    async def thread_of(self, booth: str, visitor_id: int) -> Thread | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(booth_threads).where(
                booth_threads.c.booth == booth, booth_threads.c.visitor_id == visitor_id))).first()
        return None if row is None else Thread(row.id, row.booth, row.visitor_id, _aware(row.created_at))

    async def thread(self, booth: str, thread_id: int) -> Thread:
        """A thread of this booth; raises :class:`NotFound` (also for another booth's thread)."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(booth_threads).where(
                booth_threads.c.id == thread_id, booth_threads.c.booth == booth))).first()
        if row is None:
            raise NotFound("no such thread in this booth")
        return Thread(row.id, row.booth, row.visitor_id, _aware(row.created_at))

    async def threads(self, booth: str, reader_id: int) -> list[tuple[Thread, int, datetime | None]]:
        """Each private thread of a booth with its unread count for ``reader_id`` and last message time."""
        m, r = booth_messages, booth_thread_reads
        read_upto = sa.func.coalesce(
            sa.select(r.c.last_read_id).where(r.c.thread_id == booth_threads.c.id, r.c.user_id == reader_id)
            .scalar_subquery(), 0)
        unread = (sa.select(sa.func.count()).where(m.c.thread_id == booth_threads.c.id, m.c.from_staff.is_(False),
                                                   m.c.deleted_at.is_(None), m.c.id > read_upto).scalar_subquery())
        last = sa.select(sa.func.max(m.c.created_at)).where(m.c.thread_id == booth_threads.c.id).scalar_subquery()
        query = sa.select(booth_threads, unread.label("unread"), last.label("last_at")).where(
            booth_threads.c.booth == booth).order_by(booth_threads.c.id)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [(Thread(row.id, row.booth, row.visitor_id, _aware(row.created_at)), int(row.unread),
                 _aware(row.last_at) if row.last_at is not None else None) for row in rows]

    async def mark_read(self, thread_id: int, user_id: int) -> None:
        """Everything in the thread so far counts as read by ``user_id``."""
        async with self.engine.begin() as conn:
            upto = (await conn.execute(sa.select(sa.func.coalesce(sa.func.max(booth_messages.c.id), 0)).where(
                booth_messages.c.thread_id == thread_id))).scalar_one()
            where = (booth_thread_reads.c.thread_id == thread_id) & (booth_thread_reads.c.user_id == user_id)
            done = await conn.execute(booth_thread_reads.update().where(where).values(last_read_id=upto))
            if done.rowcount == 0:
                await conn.execute(booth_thread_reads.insert().values(thread_id=thread_id, user_id=user_id,
                                                                      last_read_id=upto))

    # ------------------------------------------------------------------ leads
    async def profile(self, user_id: int) -> dict[str, str]:
        """The values a visitor could share, as they would be shared now."""
        async with self.engine.connect() as conn:
            return await _profile(conn, user_id)

    async def share(self, booth: str, user_id: int, fields: Sequence[str], actor: str, at: datetime) -> Lead:
        """Record (or replace) what a visitor shares with a booth: a snapshot of the chosen fields."""
        async with self.engine.begin() as conn:
            profile = await _profile(conn, user_id)
            values = {f: (profile[f] if f in fields else "") for f in FIELDS}
            before = (await conn.execute(sa.select(booth_leads.c.fields).where(
                booth_leads.c.booth == booth, booth_leads.c.user_id == user_id))).first()
            if before is None:
                await conn.execute(booth_leads.insert().values(booth=booth, user_id=user_id, fields=" ".join(fields),
                                                               shared_at=at, **values))
            else:
                await conn.execute(booth_leads.update().where(booth_leads.c.booth == booth,
                                                              booth_leads.c.user_id == user_id)
                                   .values(fields=" ".join(fields), shared_at=at, **values))
            await _audit(conn, at, actor, "hall.share", f"booth:{booth}",
                         None if before is None else {"fields": before.fields.split()}, {"fields": list(fields)})
        lead = await self.lead(booth, user_id)
        assert lead is not None
        return lead

    async def withdraw(self, booth: str, user_id: int, actor: str, at: datetime) -> Lead | None:
        """Remove a visitor's consent for a booth; returns the lead that was removed, if any."""
        lead = await self.lead(booth, user_id)
        if lead is None:
            return None
        async with self.engine.begin() as conn:
            await conn.execute(booth_leads.delete().where(booth_leads.c.id == lead.id))
            await _audit(conn, at, actor, "hall.withdraw", f"booth:{booth}", {"fields": list(lead.fields)}, None)
        return lead

    async def lead(self, booth: str, user_id: int) -> Lead | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(booth_leads).where(
                booth_leads.c.booth == booth, booth_leads.c.user_id == user_id))).first()
        return None if row is None else _lead(row)

    async def leads(self, booth: str, user_ids: Iterable[int] | None = None) -> list[Lead]:
        """A booth's leads in the order they were shared (optionally only of some visitors)."""
        query = sa.select(booth_leads).where(booth_leads.c.booth == booth)
        if user_ids is not None:
            query = query.where(booth_leads.c.user_id.in_(list(user_ids)))
        async with self.engine.connect() as conn:
            return [_lead(r) for r in await conn.execute(query.order_by(booth_leads.c.shared_at, booth_leads.c.id))]

    async def shares_of(self, user_id: int) -> list[Lead]:
        """Everything one attendee shared, with which booth."""
        query = sa.select(booth_leads).where(booth_leads.c.user_id == user_id).order_by(booth_leads.c.booth)
        async with self.engine.connect() as conn:
            return [_lead(r) for r in await conn.execute(query)]

    async def audit(self, actor: str, action: str, subject: str, after: dict[str, Any], at: datetime) -> None:
        async with self.engine.begin() as conn:
            await _audit(conn, at, actor, action, subject, None, after)

    # ------------------------------------------------------------------ visits and downloads
    async def visit_start(self, booth: str, visitor: str, at: datetime, resume_s: float = 30) -> None:
        """Start a visit, or resume one that ended less than ``resume_s`` ago (a reconnect)."""
        recent = sa.select(booth_visits.c.id).where(
            booth_visits.c.booth == booth, booth_visits.c.visitor == visitor,
            booth_visits.c.left_at >= at - timedelta(seconds=resume_s)).order_by(booth_visits.c.id.desc()).limit(1)
        async with self.engine.begin() as conn:
            found = (await conn.execute(recent)).scalar()
            if found is not None:
                await conn.execute(booth_visits.update().where(booth_visits.c.id == found).values(left_at=None))
            else:
                await conn.execute(booth_visits.insert().values(booth=booth, visitor=visitor, entered_at=at))

    async def visit_end(self, booth: str, visitor: str, at: datetime) -> None:
        """Close the visitor's open visits of this booth."""
        async with self.engine.begin() as conn:
            await conn.execute(booth_visits.update().where(
                booth_visits.c.booth == booth, booth_visits.c.visitor == visitor, booth_visits.c.left_at.is_(None))
                .values(left_at=at))

    async def visits(self, booth: str) -> list[Visit]:
        query = sa.select(booth_visits).where(booth_visits.c.booth == booth).order_by(booth_visits.c.id)
        async with self.engine.connect() as conn:
            return [Visit(r.visitor, _aware(r.entered_at), _aware(r.left_at) if r.left_at else None)
                    for r in await conn.execute(query)]

    async def record_download(self, booth: str, resource: str, at: datetime) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(booth_downloads.insert().values(booth=booth, resource=resource, at=at))

    async def downloads(self, booth: str) -> list[datetime]:
        query = sa.select(booth_downloads.c.at).where(booth_downloads.c.booth == booth)
        async with self.engine.connect() as conn:
            return [_aware(r.at) for r in await conn.execute(query)]

    # ------------------------------------------------------------------ bans
    async def ban(self, booth: str, user_id: int, by: str, by_id: int, reason: str, at: datetime) -> None:
        async with self.engine.begin() as conn:
            exists = (await conn.execute(sa.select(booth_bans.c.user_id).where(
                booth_bans.c.booth == booth, booth_bans.c.user_id == user_id))).first()
            if exists is None:
                await conn.execute(booth_bans.insert().values(booth=booth, user_id=user_id, banned_by=by_id,
                                                              reason=reason, at=at))
                await _audit(conn, at, by, "hall.ban", f"booth:{booth}:user:{user_id}", None, {"reason": reason})

    async def is_banned(self, booth: str, user_id: int) -> bool:
        async with self.engine.connect() as conn:
            return (await conn.execute(sa.select(booth_bans.c.user_id).where(
                booth_bans.c.booth == booth, booth_bans.c.user_id == user_id))).first() is not None

    # ------------------------------------------------------------------ uploaded files
    async def add_file(self, booth: str, title: str, filename: str, content_type: str, size: int,
                       stored_name: str, by: str, by_id: int, at: datetime) -> BoothFile:
        values = {"booth": booth, "title": title, "filename": filename, "content_type": content_type, "size": size,
                  "stored_name": stored_name, "uploaded_by": by_id, "uploaded_at": at}
        async with self.engine.begin() as conn:
            new_id = _new_id(await conn.execute(booth_files.insert().values(**values)))
            await _audit(conn, at, by, "hall.upload", f"booth:{booth}:file:{new_id}", None,
                         {"title": title, "filename": filename, "size": size})
        return BoothFile(new_id, booth, title, filename, content_type, size, stored_name, at)

    async def files(self, booth: str | None = None) -> list[BoothFile]:
        query = sa.select(booth_files).order_by(booth_files.c.id)
        if booth is not None:
            query = query.where(booth_files.c.booth == booth)
        async with self.engine.connect() as conn:
            return [_file(r) for r in await conn.execute(query)]

    async def file(self, booth: str, file_id: int) -> BoothFile:
        """An uploaded file of this booth; raises :class:`NotFound`."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(booth_files).where(
                booth_files.c.id == file_id, booth_files.c.booth == booth))).first()
        if row is None:
            raise NotFound("no such file in this booth")
        return _file(row)

    async def delete_file(self, item: BoothFile, by: str, at: datetime) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(booth_files.delete().where(booth_files.c.id == item.id))
            await _audit(conn, at, by, "hall.delete_file", f"booth:{item.booth}:file:{item.id}",
                         {"title": item.title, "filename": item.filename}, None)


async def _profile(conn: AsyncConnection, user_id: int) -> dict[str, str]:
    row = (await conn.execute(sa.select(*(users.c[f] for f in FIELDS)).where(users.c.id == user_id))).one()
    return {f: str(getattr(row, f) or "") for f in FIELDS}


async def _audit(conn: AsyncConnection, at: datetime, actor: str, action: str, subject: str,
                 before: dict[str, Any] | None, after: dict[str, Any] | None) -> None:
    # JSON columns: values must survive a round trip on SQLite and PostgreSQL alike.
    await conn.execute(audit_log.insert().values(
        at=at, actor=actor, action=action, subject=subject,
        before=json.loads(json.dumps(before)) if before is not None else None,
        after=json.loads(json.dumps(after)) if after is not None else None))
