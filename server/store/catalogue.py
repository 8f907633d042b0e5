"""Importing a conference file into the database, and loading the catalogue back."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ..catalogue import Catalogue
from ..conference_file import ConferenceFile, parse_conference
from ..errors import NotFound
from .accounts import AccountStore
from .profile import ProfileStore
from .schema import booths, conferences, sessions

__all__ = ["ImportSummary", "import_conference", "load_catalogue"]


class ImportSummary(dict[str, int]):
    """Counts of what an import created or updated."""


async def import_conference(
    engine: AsyncEngine, source: str, kind: str, parsed: ConferenceFile, anchored_at: datetime
) -> ImportSummary:
    """Load or update a conference: catalogue, role assignments, and missing accounts.

    The document keeps the file's text and the moment relative days were anchored to, so the
    catalogue loads back exactly as it was validated. Existing accounts keep their password.
    """
    cat = parsed.catalogue
    doc = {"source": source, "kind": kind, "anchored_at": anchored_at.isoformat()}
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        exists = (await conn.execute(sa.select(conferences.c.id).where(conferences.c.id == cat.conference.id))).first()
        if exists:
            await conn.execute(conferences.update().where(conferences.c.id == cat.conference.id)
                               .values(name=cat.conference.name, document=doc, imported_at=now))
        else:
            await conn.execute(conferences.insert().values(id=cat.conference.id, name=cat.conference.name,
                                                           document=doc, imported_at=now))
        for s in cat.sessions:
            values = dict(conference_id=cat.conference.id, title=s.title, starts_at=s.start,
                          ends_at=s.end, accredited=s.accredited)
            updated = await conn.execute(sessions.update().where(sessions.c.id == s.id).values(**values))
            if not updated.rowcount:
                await conn.execute(sessions.insert().values(id=s.id, **values))
        for b in cat.booths:
            updated = await conn.execute(booths.update().where(booths.c.id == b.id)
                                         .values(conference_id=cat.conference.id, org=b.org))
            if not updated.rowcount:
                await conn.execute(booths.insert().values(id=b.id, conference_id=cat.conference.id, org=b.org))
    store = AccountStore(engine)
    created = 0
    profiles = ProfileStore(engine)
    for account in parsed.accounts:
        if await store.by_email(account.email) is None:
            user = await store.create(account.email, account.name, account.role, account.password, account.profession)
            if account.profile is not None:  # like the password: only when the file creates the account
                await profiles.save(user.id, account.profile, "conference file", now, action="profile.import")
            created += 1
    rows = [(e, "faculty", s.id) for s in cat.sessions for e in s.faculty]
    rows += [(e, "moderator", s.id) for s in cat.sessions for e in s.moderators]
    rows += [(e, "staff", b.id) for b in cat.booths for e in b.staff]
    await store.replace_assignments([s.id for s in cat.sessions] + [b.id for b in cat.booths], rows)
    return ImportSummary(sessions=len(cat.sessions), booths=len(cat.booths), accounts_created=created,
                         assignments=len(set(rows)))


async def load_catalogue(engine: AsyncEngine, conference_id: str | None = None) -> Catalogue:
    """The most recently imported conference (or the one named); raises :class:`NotFound`."""
    query = sa.select(conferences.c.document).order_by(conferences.c.imported_at.desc())
    if conference_id:
        query = query.where(conferences.c.id == conference_id)
    async with engine.connect() as conn:
        row = (await conn.execute(query)).first()
    if row is None:
        raise NotFound("no conference has been imported; run `rounds import FILE`")
    doc = row.document
    return parse_conference(doc["source"], doc["kind"], now=datetime.fromisoformat(doc["anchored_at"])).catalogue
