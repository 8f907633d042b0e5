"""Learner profiles: the reporting columns of ``users`` plus ``learner_profiles``; edits audited."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..errors import NotFound
from ..profile import Profile
from .schema import audit_log, metadata, users

__all__ = ["ProfileStore", "learner_profiles"]

learner_profiles = sa.Table(
    "learner_profiles",
    metadata,
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("certificate_name", sa.String(200), nullable=False, server_default=""),
    sa.Column("degree", sa.String(40), nullable=False, server_default=""),
    sa.Column("board", sa.String(80), nullable=False, server_default=""),
    sa.Column("licence_state", sa.String(2), nullable=False, server_default=""),
    sa.Column("timezone", sa.String(64), nullable=False, server_default=""),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

_EXTRA = ("certificate_name", "degree", "board", "licence_state", "timezone")


def _user_values(p: Profile) -> dict[str, Any]:
    return {"profession": p.profession, "npi": p.npi, "board_id": p.board_id, "licence": p.licence,
            "nabp_eprofile_id": p.nabp_eprofile_id, "dob_month": p.birth_month, "dob_day": p.birth_day,
            "report_permission": p.report_permission}


class ProfileStore:
    """Read and write learner profiles."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def get(self, user_id: int) -> Profile:
        """The user's profile; raises NotFound for an unknown user."""
        async with self.engine.connect() as conn:
            return await self._get(conn, user_id)

    async def save(self, user_id: int, profile: Profile, actor: str, at: datetime, action: str = "profile.update"
                   ) -> tuple[Profile, Profile]:
        """Store the profile and its audit row (before, after) in one transaction."""
        async with self.engine.begin() as conn:
            before = await self._get(conn, user_id)
            await conn.execute(users.update().where(users.c.id == user_id).values(**_user_values(profile)))
            extra = {k: getattr(profile, k) for k in _EXTRA}
            updated = await conn.execute(learner_profiles.update().where(learner_profiles.c.user_id == user_id)
                                         .values(**extra, updated_at=at))
            if not updated.rowcount:
                await conn.execute(learner_profiles.insert().values(user_id=user_id, **extra, updated_at=at))
            changed = {k: v for k, v in profile.json().items() if before.json()[k] != v}
            await conn.execute(audit_log.insert().values(
                at=at, actor=actor, action=action, subject=f"user:{user_id}",
                before={k: before.json()[k] for k in changed}, after=changed))
        return before, profile

    @staticmethod
    async def _get(conn: AsyncConnection, user_id: int) -> Profile:
        row = (await conn.execute(sa.select(users, *[learner_profiles.c[k] for k in _EXTRA])
                                  .select_from(users.outerjoin(learner_profiles,
                                                               learner_profiles.c.user_id == users.c.id))
                                  .where(users.c.id == user_id))).first()
        if row is None:
            raise NotFound("no such user")
        return Profile(certificate_name=row.certificate_name or "", degree=row.degree or "",
                       profession=row.profession, npi=row.npi, board=row.board or "", board_id=row.board_id,
                       licence_state=row.licence_state or "", licence=row.licence,
                       nabp_eprofile_id=row.nabp_eprofile_id, birth_month=row.dob_month, birth_day=row.dob_day,
                       report_permission=bool(row.report_permission), timezone=row.timezone or "")
