"""Q&A tables (questions, votes, moderation actions) and their queries.

Every write commits before the caller broadcasts it (store before broadcast). Moves are written
with an optimistic check on the question's ``version``, so two moderators acting on the same
question at once cannot silently overwrite each other. Votes leave ``version`` alone: a vote
storm must not make moderation fail.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..errors import Conflict, NotFound, RoundsError
from ..qna import Move, Question, Status, can_vote
from .schema import metadata, users

__all__ = ["Ballot", "QaStore", "moderation_actions", "questions", "votes"]

questions = sa.Table(
    "questions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("session_id", sa.String(64), nullable=False, index=True),
    sa.Column("author_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("anonymous", sa.Boolean, nullable=False),
    sa.Column("text", sa.String(2000), nullable=False),
    sa.Column("original_text", sa.String(2000), nullable=True),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("dismiss_reason", sa.String(500), nullable=False, server_default=""),
    sa.Column("merged_into", sa.Integer, nullable=True),
    sa.Column("pinned", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("on_stage", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("votes", sa.Integer, nullable=False, server_default="0"),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

votes = sa.Table(
    "votes",
    metadata,
    sa.Column("question_id", sa.Integer, sa.ForeignKey("questions.id"), nullable=False),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("question_id", "user_id"),
)

moderation_actions = sa.Table(
    "moderation_actions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("session_id", sa.String(64), nullable=False, index=True),
    sa.Column("question_id", sa.Integer, sa.ForeignKey("questions.id"), nullable=False),
    sa.Column("actor_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("action", sa.String(20), nullable=False),
    sa.Column("detail", sa.JSON, nullable=False),
)

_SELECT = sa.select(questions, users.c.name.label("author_name"), users.c.email.label("author_email")).join(
    users, users.c.id == questions.c.author_id
)
# Columns a moderation move may change (never ``votes``: the vote path owns that count).
_MOVE_COLUMNS = ("text", "original_text", "status", "dismiss_reason", "merged_into", "pinned", "on_stage")


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes for timezone=True columns; they were stored as UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Ballot:
    """One vote waiting to be written: who, on what, up or back, and who may vote there."""

    question_id: int
    user_id: int
    up: bool
    at: datetime
    check: Callable[[Question], None]


def _judge(ballot: Ballot, row: Any, held: set[tuple[int, int]], added: list[dict[str, Any]],
           removed: list[tuple[int, int]], delta: dict[int, int]) -> int | RoundsError:
    """Decide one ballot of a batch against what is stored and what the batch did so far."""
    if row is None:
        return NotFound("there is no such question")
    try:
        question = _question(row, author_name="")
        ballot.check(question)
        can_vote(question)
    except RoundsError as exc:
        return exc
    key = (ballot.question_id, ballot.user_id)
    if ballot.up == (key in held):
        return Conflict("you already upvoted this question" if ballot.up else "you have not upvoted this question",
                        voted=ballot.up)
    if ballot.up:
        held.add(key)
        added.append({"question_id": key[0], "user_id": key[1], "at": ballot.at})
    else:
        held.discard(key)
        if key in [(a["question_id"], a["user_id"]) for a in added]:
            added[:] = [a for a in added if (a["question_id"], a["user_id"]) != key]
        else:
            removed.append(key)
    delta[key[0]] = delta.get(key[0], 0) + (1 if ballot.up else -1)
    return row.id  # type: ignore[no-any-return]


def _question(row: Any, author_name: str | None = None) -> Question:
    return Question(
        id=row.id,
        session=row.session_id,
        author_id=row.author_id,
        author_name=row.author_name if author_name is None else author_name,
        anonymous=row.anonymous,
        text=row.text,
        status=Status(row.status),
        created_at=_aware(row.created_at),
        votes=row.votes,
        original_text=row.original_text,
        dismiss_reason=row.dismiss_reason,
        merged_into=row.merged_into,
        pinned=row.pinned,
        on_stage=row.on_stage,
        version=row.version,
    )


class QaStore:
    """Questions, votes and moderation actions of every session."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def ask(self, session: str, author_id: int, text: str, anonymous: bool, status: Status,
                  now: datetime) -> Question:
        """Store a new question."""
        async with self.engine.begin() as conn:
            result = await conn.execute(questions.insert().values(
                session_id=session, author_id=author_id, anonymous=anonymous, text=text, status=status.value,
                created_at=now, updated_at=now,
            ))
            question_id = result.inserted_primary_key[0]  # type: ignore[index]
            return await self._one(conn, question_id)

    async def get(self, question_id: int) -> Question:
        """One question; raises :class:`NotFound`."""
        async with self.engine.connect() as conn:
            return await self._one(conn, question_id)

    async def many(self, ids: Iterable[int]) -> list[Question]:
        """The questions with these ids (missing ones left out)."""
        wanted = sorted(set(ids))
        if not wanted:
            return []
        async with self.engine.connect() as conn:
            rows = await conn.execute(_SELECT.where(questions.c.id.in_(wanted)))
            return [_question(r) for r in rows]

    async def for_session(self, session: str) -> list[Question]:
        """Every question of a session, oldest first."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                _SELECT.where(questions.c.session_id == session).order_by(questions.c.created_at, questions.c.id))
            return [_question(r) for r in rows]

    async def on_stage(self, session: str) -> Question | None:
        """The question on stage in a session, if any."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(
                _SELECT.where(questions.c.session_id == session, questions.c.on_stage.is_(True)).limit(1))).first()
            return None if row is None else _question(row)

    async def voted(self, session: str, user_id: int) -> set[int]:
        """Ids of this session's questions that ``user_id`` upvoted."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                sa.select(votes.c.question_id).join(questions, questions.c.id == votes.c.question_id)
                .where(votes.c.user_id == user_id, questions.c.session_id == session))
            return {r.question_id for r in rows}

    async def vote(self, question_id: int, user_id: int, up: bool, now: datetime,
                   check: Callable[[Question], None] = can_vote) -> Question:
        """Add or take back one upvote; raises :class:`Conflict` for a second vote or no vote.

        ``check`` sees the question first (who may vote on it) and raises to refuse.
        """
        try:
            async with self.engine.begin() as conn:
                question = await self._one(conn, question_id)
                check(question)
                can_vote(question)
                if up:
                    await conn.execute(votes.insert().values(question_id=question_id, user_id=user_id, at=now))
                else:
                    gone = await conn.execute(
                        votes.delete().where(votes.c.question_id == question_id, votes.c.user_id == user_id))
                    if gone.rowcount == 0:
                        raise Conflict("you have not upvoted this question", voted=False)
                count = (await conn.execute(questions.update().where(questions.c.id == question_id).values(
                    votes=questions.c.votes + (1 if up else -1)).returning(questions.c.votes))).scalar_one()
                return replace(question, votes=count)
        except IntegrityError:
            raise Conflict("you already upvoted this question", voted=True) from None

    async def vote_many(self, ballots: Sequence[Ballot]) -> list[Question | RoundsError]:
        """Write many votes in one transaction (group commit); one result per ballot, in order.

        A refused ballot gets its error and leaves the others alone. Each accepted ballot gets
        the question with its vote count after the whole batch.
        """
        qids = sorted({b.question_id for b in ballots})
        try:
            async with self.engine.begin() as conn:
                found = {r.id: r for r in await conn.execute(sa.select(questions).where(questions.c.id.in_(qids)))}
                held = {(r.question_id, r.user_id) for r in await conn.execute(
                    sa.select(votes.c.question_id, votes.c.user_id).where(
                        votes.c.question_id.in_(qids), votes.c.user_id.in_({b.user_id for b in ballots})))}
                outcome: list[int | RoundsError] = []
                added: list[dict[str, Any]] = []
                removed: list[tuple[int, int]] = []
                delta: dict[int, int] = {}
                for ballot in ballots:
                    outcome.append(_judge(ballot, found.get(ballot.question_id), held, added, removed, delta))
                if added:
                    await conn.execute(votes.insert(), added)
                for question_id, user_id in removed:
                    await conn.execute(votes.delete().where(votes.c.question_id == question_id,
                                                            votes.c.user_id == user_id))
                counts: dict[int, int] = {}
                for question_id, change in delta.items():
                    counts[question_id] = (await conn.execute(
                        questions.update().where(questions.c.id == question_id)
                        .values(votes=questions.c.votes + change).returning(questions.c.votes))).scalar_one()
        except IntegrityError:
            # Another process wrote one of these votes meanwhile: settle them one by one.
            return [await self._vote_alone(b) for b in ballots]
        return [r if isinstance(r, RoundsError) else
                replace(_question(found[r], author_name=""), votes=counts.get(r, found[r].votes)) for r in outcome]

    async def _vote_alone(self, ballot: Ballot) -> Question | RoundsError:
        try:
            return await self.vote(ballot.question_id, ballot.user_id, ballot.up, ballot.at, ballot.check)
        except RoundsError as exc:
            return exc

    async def save(self, move: Move, actor_id: int, action: str, detail: dict[str, Any],
                   now: datetime) -> list[Question]:
        """Write a move and its log entry; returns the changed questions as stored.

        Raises :class:`Conflict` if one of them changed since it was read.
        """
        async with self.engine.begin() as conn:
            for before, after in ((move.before, move.after), *move.others):
                await self._write(conn, before, after, now)
            if action == "merge" and move.after.merged_into is not None:
                await self._combine_votes(conn, move.after.id, move.after.merged_into)
            await conn.execute(moderation_actions.insert().values(
                at=now, session_id=move.after.session, question_id=move.after.id, actor_id=actor_id,
                action=action, detail=detail,
            ))
            ids = [move.after.id, *(after.id for _, after in move.others)]
            return [await self._one(conn, i) for i in ids]

    async def actions(self, session: str) -> list[dict[str, Any]]:
        """The moderation log of a session, oldest first."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(sa.select(moderation_actions).where(
                moderation_actions.c.session_id == session).order_by(moderation_actions.c.id))
            return [dict(r._mapping) for r in rows]

    async def export_rows(self, session: str) -> Sequence[Any]:
        """Rows for the organizer's CSV: every question with its author's email."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                _SELECT.where(questions.c.session_id == session).order_by(questions.c.created_at, questions.c.id))
            return list(rows)

    async def _one(self, conn: AsyncConnection, question_id: int) -> Question:
        row = (await conn.execute(_SELECT.where(questions.c.id == question_id))).first()
        if row is None:
            raise NotFound("there is no such question")
        return _question(row)

    async def _write(self, conn: AsyncConnection, before: Question, after: Question, now: datetime) -> None:
        values: dict[str, Any] = {name: getattr(after, name) for name in _MOVE_COLUMNS}
        values["status"] = after.status.value
        done = await conn.execute(
            questions.update()
            .where(questions.c.id == before.id, questions.c.version == before.version)
            .values(version=after.version, updated_at=now, **values)
        )
        if done.rowcount != 1:
            raise Conflict("the question changed meanwhile; look again and retry")

    async def _combine_votes(self, conn: AsyncConnection, duplicate: int, target: int) -> None:
        # Voters of the duplicate become voters of the target; someone who voted for both counts once.
        already = sa.select(votes.c.user_id).where(votes.c.question_id == target)
        moved = sa.select(sa.literal(target), votes.c.user_id, votes.c.at).where(
            votes.c.question_id == duplicate, votes.c.user_id.not_in(already))
        await conn.execute(votes.insert().from_select(["question_id", "user_id", "at"], moved))
        count = sa.select(sa.func.count()).select_from(votes).where(votes.c.question_id == target)
        await conn.execute(questions.update().where(questions.c.id == target).values(
            votes=count.scalar_subquery()))
