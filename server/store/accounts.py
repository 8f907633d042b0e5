"""Queries on accounts and role assignments."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..accounts import Registration, User
from ..catalogue import Role
from ..errors import Conflict
from ..passwords import hash_password_async
from .schema import assignments, users

__all__ = ["AccountStore"]


class AccountStore:
    """Accounts and who is assigned to what."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def create(
        self,
        email: str,
        name: str,
        role: Role,
        password: str = "",
        profession: str = "other",
        registration: Registration | None = None,
    ) -> User:
        """Create an account; raises :class:`Conflict` if the email is taken."""
        values: dict[str, object] = {
            "email": email.lower(),
            "name": name,
            "role": role.value,
            "password_hash": await hash_password_async(password) if password else "",
            "profession": profession,
            "created_at": datetime.now(UTC),
        }
        if registration is not None:
            values.update(
                organisation=registration.organisation,
                npi=registration.npi,
                board_id=registration.board_id,
                licence=registration.licence,
                nabp_eprofile_id=registration.nabp_eprofile_id,
                dob_month=registration.dob_month,
                dob_day=registration.dob_day,
                report_permission=registration.report_permission,
            )
        try:
            async with self.engine.begin() as conn:
                await conn.execute(users.insert().values(**values))
        except IntegrityError:
            raise Conflict("an account with this email already exists", field="email") from None
        user = await self.by_email(email)
        assert user is not None
        return user

    async def by_id(self, user_id: int) -> User | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(users).where(users.c.id == user_id))).first()
            return None if row is None else await self._user(conn, row)

    async def by_email(self, email: str) -> User | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(users).where(users.c.email == email.lower()))).first()
            return None if row is None else await self._user(conn, row)

    async def password_hash(self, email: str) -> tuple[int, str] | None:
        """The account id and stored hash for a login attempt."""
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(users.c.id, users.c.password_hash).where(users.c.email == email.lower())
                )
            ).first()
            return None if row is None else (row.id, row.password_hash)

    async def set_password(self, user_id: int, password: str) -> None:
        """Store a new password (hashed off the event loop)."""
        hashed = await hash_password_async(password)
        async with self.engine.begin() as conn:
            await conn.execute(users.update().where(users.c.id == user_id).values(password_hash=hashed))

    async def _user(self, conn: AsyncConnection, row: sa.Row[Any]) -> User:
        rows = await conn.execute(
            sa.select(assignments.c.kind, assignments.c.target).where(assignments.c.email == row.email)
        )
        kinds: dict[str, set[str]] = {"faculty": set(), "moderator": set(), "staff": set()}
        for kind, target in rows:
            kinds.setdefault(kind, set()).add(target)
        return User(
            id=row.id,
            email=row.email,
            name=row.name,
            role=Role(row.role),
            profession=row.profession,
            faculty_of=frozenset(kinds["faculty"]),
            moderates=frozenset(kinds["moderator"]),
            staffs=frozenset(kinds["staff"]),
        )

    async def emails(
        self, role: Role | None = None, session: str | None = None, booth: str | None = None
    ) -> list[str]:
        """Emails of accounts, optionally by role and by session or booth assignment."""
        query = sa.select(users.c.email).order_by(users.c.email)
        if role is not None:
            query = query.where(users.c.role == role.value)
        targets: list[tuple[tuple[str, ...], str]] = []
        if session is not None:
            kinds = {Role.MODERATOR: ("moderator",), Role.FACULTY: ("faculty",)}
            targets.append((kinds.get(role, ("faculty", "moderator")) if role else ("faculty", "moderator"), session))
        if booth is not None:
            targets.append((("staff",), booth))
        for kinds_, target in targets:
            query = query.where(
                users.c.email.in_(
                    sa.select(assignments.c.email).where(
                        assignments.c.kind.in_(kinds_), assignments.c.target == target
                    )
                )
            )
        async with self.engine.connect() as conn:
            return [r.email for r in await conn.execute(query)]

    async def replace_assignments(
        self, targets: Iterable[str], rows: Iterable[tuple[str, str, str]]
    ) -> None:
        """Replace every assignment to ``targets`` with ``rows`` of (email, kind, target)."""
        async with self.engine.begin() as conn:
            await conn.execute(assignments.delete().where(assignments.c.target.in_(list(targets))))
            values = [{"email": e, "kind": k, "target": t} for e, k, t in set(rows)]
            if values:
                await conn.execute(assignments.insert(), values)
