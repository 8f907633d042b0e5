"""Importing a conference file into the database, and loading the catalogue back."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..catalogue import Catalogue
from ..conference_file import ConferenceFile, parse_conference
from ..errors import HistoryRewrite, NotFound
from ..history import changes, history_fields
from .accounts import AccountStore
from .profile import ProfileStore
from .schema import audit_log, booths, conferences, metadata, sessions

__all__ = ["ImportSummary", "import_conference", "load_catalogue", "session_history", "session_versions"]

session_versions = sa.Table(
    "session_versions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("conference_id", sa.String(64), nullable=False),
    sa.Column("session_id", sa.String(64), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("fields", sa.JSON, nullable=False),  # server.history.history_fields
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("session_id", "version"),
)


class ImportSummary(dict[str, int]):
    """Counts of what an import created or updated."""


async def session_history(conn: AsyncConnection, conference_id: str | None = None) -> dict[str, tuple[int, dict[str, Any]]]:
    """Session id -> (newest version, its fields), for one conference or all."""
    newest = (sa.select(session_versions.c.session_id, sa.func.max(session_versions.c.version).label("v"))
              .group_by(session_versions.c.session_id).subquery())
    query = sa.select(session_versions).join(newest, sa.and_(newest.c.session_id == session_versions.c.session_id,
                                                             newest.c.v == session_versions.c.version))
    if conference_id is not None:
        query = query.where(session_versions.c.conference_id == conference_id)
    return {r.session_id: (r.version, r.fields) for r in await conn.execute(query)}


async def _records(conn: AsyncConnection, session_ids: list[str]) -> dict[str, tuple[int, int]]:
    """Session id -> (learners with evidence, claims) for sessions that have any."""
    from .attendance import media_evidence, watch_tabs
    from .credit import credit_claims

    out: dict[str, list[set[int]]] = {}
    for table in (media_evidence, watch_tabs):
        rows = await conn.execute(sa.select(table.c.session_id, table.c.user_id).distinct()
                                  .where(table.c.session_id.in_(session_ids)))
        for r in rows:
            out.setdefault(r.session_id, [set(), set()])[0].add(r.user_id)
    rows = await conn.execute(sa.select(credit_claims.c.session_id, credit_claims.c.id)
                              .where(credit_claims.c.session_id.in_(session_ids)))
    for r in rows:
        out.setdefault(r.session_id, [set(), set()])[1].add(r.id)
    return {sid: (len(users), len(claims)) for sid, (users, claims) in out.items()}


def _affects(sid: str, what: list[str], records: tuple[int, int]) -> str:
    learners, claims = records
    return (f"{sid} ({', '.join(what)}): {learners} learner{'s' * (learners != 1)} with evidence, "
            f"{claims} claim{'s' * (claims != 1)}")


async def import_conference(
    engine: AsyncEngine, source: str, kind: str, parsed: ConferenceFile, anchored_at: datetime,
    amend: bool = False,
) -> ImportSummary:
    """Load or update a conference: catalogue, role assignments, and missing accounts.

    The document keeps the file's text and the moment relative days were anchored to, so the
    catalogue loads back exactly as it was validated. Existing accounts keep their password.
    A change to the id, times, breaks, designation or disclosures of a session that has evidence
    or claims raises HistoryRewrite naming what it would affect, unless ``amend``: then the
    session gets a new version (audited as ``catalogue.amend``) and its records keep theirs.
    """
    cat = parsed.catalogue
    doc: dict[str, Any] = {"source": source, "kind": kind, "anchored_at": anchored_at.isoformat(),
                           "logos": {b.id: b.logo for b in cat.booths if b.logo is not None}}
    now = datetime.now(UTC)
    day_one = parsed.day_one or anchored_at
    fields = {s.id: history_fields(s, day_one, parsed.demo) for s in cat.sessions}
    amended = 0
    async with engine.begin() as conn:
        stored = await session_history(conn, cat.conference.id)
        changed = {sid: changes(f, fields.get(sid)) for sid, (_, f) in stored.items()}
        changed = {sid: what for sid, what in changed.items() if what}
        records = await _records(conn, list(changed)) if changed else {}
        rewrites = sorted(sid for sid in changed if sid in records)
        if rewrites and not amend:
            raise HistoryRewrite(
                "this import would rewrite the history of " + "; ".join(
                    _affects(sid, changed[sid], records[sid]) for sid in rewrites)
                + ". Nothing was imported; run `rounds import --amend FILE` to make new versions of these sessions "
                "(their records keep the version they were made under)", sessions=rewrites)
        for sid, f in fields.items():
            version, old = stored.get(sid, (0, None))
            if old is not None and not changes(old, f):
                continue
            # In force from the import's moment on the conference clock (the server's own import
            # passes its clock; `rounds import` the wall clock, the same at time scale 1).
            await conn.execute(session_versions.insert().values(
                conference_id=cat.conference.id, session_id=sid, version=version + 1, fields=f,
                created_at=anchored_at))
            if old is not None:
                amended += 1
                await conn.execute(audit_log.insert().values(
                    at=now, actor="rounds import" + (" --amend" if amend else ""),
                    action="catalogue.amend" if sid in records else "catalogue.change",
                    subject=f"session:{sid}", before={"version": version, **old},
                    after={"version": version + 1, **f}))
        for sid in changed:
            if sid not in fields and sid in records:  # removed or renamed under --amend: recorded, kept
                await conn.execute(audit_log.insert().values(
                    at=now, actor="rounds import --amend", action="catalogue.amend", subject=f"session:{sid}",
                    before={"version": stored[sid][0], **stored[sid][1]}, after=None))
        exists = (await conn.execute(sa.select(conferences.c.id).where(conferences.c.id == cat.conference.id))).first()
        if exists:
            await conn.execute(conferences.update().where(conferences.c.id == cat.conference.id)
                               .values(name=cat.conference.name, document=doc, imported_at=now))
        else:
            await conn.execute(conferences.insert().values(id=cat.conference.id, name=cat.conference.name,
                                                           document=doc, imported_at=now))
        for s in cat.sessions:
            values = {"conference_id": cat.conference.id, "title": s.title, "starts_at": s.start,
                      "ends_at": s.end, "accredited": s.accredited}
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
                         assignments=len(set(rows)), sessions_changed=amended)


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
    cat = parse_conference(doc["source"], doc["kind"], now=datetime.fromisoformat(doc["anchored_at"])).catalogue
    logos: dict[str, str] = doc.get("logos", {})  # the logo files checked at import
    if logos:
        cat = replace(cat, booths=tuple(replace(b, logo=logos.get(b.id)) for b in cat.booths))
    async with engine.connect() as conn:
        rows = list(await conn.execute(sa.select(session_versions)
                                       .where(session_versions.c.conference_id == cat.conference.id)
                                       .order_by(session_versions.c.session_id, session_versions.c.version)))
    versions: dict[str, list[Any]] = {}
    for r in rows:
        versions.setdefault(r.session_id, []).append(r)
    changed = []
    for s in cat.sessions:
        mine = versions.get(s.id, [])
        earlier = tuple((_aware(later.created_at).timestamp(), tuple((a, b) for a, b in v.fields.get("spans", [])))
                        for v, later in pairwise(mine) if "spans" in v.fields)
        changed.append(replace(s, history=earlier) if earlier else s)
    if not any(s.history for s in changed):
        return cat
    return Catalogue(cat.conference, cat.tracks, tuple(changed), cat.booths)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
