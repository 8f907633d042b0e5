"""Polls of sessions and their answers (one per person per poll, by a unique constraint)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from ..errors import Conflict, NotFound
from ..polls import Answer, Poll, PollStatus
from .schema import metadata, users

__all__ = ["PollStore", "poll_answers", "polls"]

polls = sa.Table(
    "polls",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("session", sa.String(200), nullable=False, index=True),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("options", sa.JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("released", sa.Boolean, nullable=False),
    sa.Column("attention", sa.Boolean, nullable=False),
    sa.Column("opened_by", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
)

poll_answers = sa.Table(
    "poll_answers",
    metadata,
    sa.Column("poll_id", sa.Integer, sa.ForeignKey("polls.id"), nullable=False),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("option", sa.Integer, nullable=False),
    sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("poll_id", "user_id", name="pk_poll_answers"),
)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _poll(row: Any) -> Poll:
    return Poll(row.id, row.session, row.question, tuple(row.options), PollStatus(row.status), row.released,
                row.attention, _aware(row.opened_at), row.opened_by)


class PollStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def open(self, session: str, question: str, options: tuple[str, ...], attention: bool, user_id: int,
                   now: datetime) -> Poll:
        async with self.engine.begin() as conn:
            result = await conn.execute(polls.insert().values(
                session=session, question=question, options=list(options), status=PollStatus.OPEN.value,
                released=False, attention=attention, opened_by=user_id, opened_at=now))
            poll_id = int(result.inserted_primary_key[0])  # type: ignore[index]
        return Poll(poll_id, session, question, options, PollStatus.OPEN, False, attention, now, user_id)

    async def get(self, poll_id: int) -> Poll:
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(polls).where(polls.c.id == poll_id))).first()
        if row is None:
            raise NotFound("there is no such poll")
        return _poll(row)

    async def for_session(self, session: str) -> list[Poll]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(sa.select(polls).where(polls.c.session == session).order_by(polls.c.id))).all()
        return [_poll(r) for r in rows]

    async def update(self, poll_id: int, *, status: PollStatus | None = None, released: bool | None = None,
                     now: datetime) -> Poll:
        values: dict[str, Any] = {}
        if status is not None:
            values["status"] = status.value
            values["closed_at"] = now if status is PollStatus.CLOSED else None
        if released is not None:
            values["released"] = released
        async with self.engine.begin() as conn:
            await conn.execute(polls.update().where(polls.c.id == poll_id).values(**values))
        return await self.get(poll_id)

    async def answer_of(self, poll_id: int, user_id: int) -> Answer | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(poll_answers).where(
                poll_answers.c.poll_id == poll_id, poll_answers.c.user_id == user_id))).first()
        return None if row is None else Answer(row.poll_id, row.user_id, row.option, _aware(row.answered_at))

    async def mine(self, session: str, user_id: int) -> dict[int, int]:
        """The caller's answers in a session: poll id -> option."""
        query = sa.select(poll_answers.c.poll_id, poll_answers.c.option).join(
            polls, polls.c.id == poll_answers.c.poll_id).where(polls.c.session == session,
                                                               poll_answers.c.user_id == user_id)
        async with self.engine.connect() as conn:
            return {int(r.poll_id): int(r.option) for r in (await conn.execute(query)).all()}

    async def answer(self, poll_id: int, user_id: int, option: int, now: datetime) -> None:
        """Record an answer; a second one (even racing the first) is a Conflict."""
        try:
            async with self.engine.begin() as conn:
                await conn.execute(poll_answers.insert().values(poll_id=poll_id, user_id=user_id, option=option,
                                                                answered_at=now))
        except IntegrityError:
            raise Conflict("you have already answered this poll; each person answers once", field="poll") from None

    async def options_chosen(self, poll_id: int) -> list[int]:
        async with self.engine.connect() as conn:
            return [int(v) for v in (await conn.execute(
                sa.select(poll_answers.c.option).where(poll_answers.c.poll_id == poll_id))).scalars().all()]

    async def export_rows(self, session: str) -> list[Any]:
        """Every answer of the session's polls with who gave it, for the organizers' export."""
        query = (sa.select(polls.c.id, polls.c.question, polls.c.options, polls.c.attention, polls.c.opened_at,
                           users.c.name, users.c.email, poll_answers.c.option, poll_answers.c.answered_at)
                 .join(poll_answers, poll_answers.c.poll_id == polls.c.id)
                 .join(users, users.c.id == poll_answers.c.user_id)
                 .where(polls.c.session == session).order_by(polls.c.id, poll_answers.c.answered_at))
        async with self.engine.connect() as conn:
            return list((await conn.execute(query)).all())
