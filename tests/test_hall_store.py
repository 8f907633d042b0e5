"""The hall's queries behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from server.catalogue import Role
from server.errors import NotFound
from server.store.accounts import AccountStore
from server.store.db import connect, migrate
from server.store.hall import HallStore

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    url = (f"sqlite+aiosqlite:///{tmp_path / 'hall.db'}" if request.param == "sqlite"
           else request.getfixturevalue("pg_url"))
    made = connect(url)
    await migrate(made)
    yield made
    await made.dispose()


async def people(engine: AsyncEngine) -> tuple[int, int, int]:
    accounts = AccountStore(engine)
    made = [await accounts.create(f"{n}@x.org", n.title(), role) for n, role in
            (("maria", Role.ATTENDEE), ("tom", Role.ATTENDEE), ("pat", Role.EXHIBITOR))]
    return made[0].id, made[1].id, made[2].id


async def test_threads_count_unread_visitor_messages_per_reader(engine: AsyncEngine) -> None:
    maria, tom, pat = await people(engine)
    store = HallStore(engine)
    thread, created = await store.open_thread("meridian", maria, T0)
    again, created_again = await store.open_thread("meridian", maria, T0)
    assert created and not created_again and again == thread
    await store.add_message("meridian", thread.id, maria, None, "one", T0)
    await store.add_message("meridian", thread.id, pat, "Pat", "answer", T0)
    await store.add_message("meridian", thread.id, maria, None, "two", T0 + timedelta(seconds=5))
    (listed, unread, last), = await store.threads("meridian", pat)
    assert listed == thread and unread == 2 and last == T0 + timedelta(seconds=5)
    await store.mark_read(thread.id, pat)
    await store.mark_read(thread.id, pat)  # twice: an update, not a second row
    assert (await store.threads("meridian", pat))[0][1] == 0
    assert (await store.threads("meridian", tom))[0][1] == 2  # each reader has their own marker
    assert await store.threads("cardiova", pat) == []
    with pytest.raises(NotFound):
        await store.thread("cardiova", thread.id)
    assert [m.text for m in await store.messages("meridian", thread.id)] == ["one", "answer", "two"]
    assert await store.messages("meridian", None) == []


async def test_deleted_messages_leave_the_history(engine: AsyncEngine) -> None:
    maria, _, pat = await people(engine)
    store = HallStore(engine)
    kept = await store.add_message("meridian", None, maria, None, "kept", T0)
    gone = await store.add_message("meridian", None, maria, None, "gone", T0)
    await store.delete_message(gone, "pat@x.org", pat, T0)
    assert await store.message(gone.id) is None
    assert [m.id for m in await store.messages("meridian", None)] == [kept.id]


async def test_leads_snapshot_the_chosen_fields_and_can_be_replaced_or_withdrawn(engine: AsyncEngine) -> None:
    maria, tom, _ = await people(engine)
    store = HallStore(engine)
    first = await store.share("meridian", maria, ("name",), "maria@x.org", T0)
    assert (first.fields, first.name, first.email) == (("name",), "Maria", "")
    second = await store.share("meridian", maria, ("name", "email"), "maria@x.org", T0 + timedelta(minutes=1))
    assert second.id == first.id and second.email == "maria@x.org"
    await store.share("cardiova", tom, ("email",), "tom@x.org", T0)
    assert [lead.user_id for lead in await store.leads("meridian")] == [maria]
    assert [lead.user_id for lead in await store.leads("meridian", [tom])] == []
    assert [lead.booth for lead in await store.shares_of(maria)] == ["meridian"]
    assert (await store.withdraw("meridian", maria, "maria@x.org", T0)) is not None
    assert await store.withdraw("meridian", maria, "maria@x.org", T0) is None
    assert await store.leads("meridian") == []


async def test_a_visit_resumed_soon_after_it_ended_counts_once(engine: AsyncEngine) -> None:
    store = HallStore(engine)
    await store.visit_start("meridian", "h1", T0)
    await store.visit_end("meridian", "h1", T0 + timedelta(seconds=60))
    await store.visit_start("meridian", "h1", T0 + timedelta(seconds=70))  # a reconnect
    await store.visit_end("meridian", "h1", T0 + timedelta(seconds=100))
    await store.visit_start("meridian", "h1", T0 + timedelta(minutes=30))  # a new visit
    visits = await store.visits("meridian")
    assert [(v.entered_at, v.left_at) for v in visits] == [
        (T0, T0 + timedelta(seconds=100)), (T0 + timedelta(minutes=30), None)]


async def test_bans_are_per_booth_and_files_per_booth(engine: AsyncEngine) -> None:
    maria, _, pat = await people(engine)
    store = HallStore(engine)
    await store.ban("meridian", maria, "o@x.org", pat, "spam", T0)
    await store.ban("meridian", maria, "o@x.org", pat, "spam", T0)  # idempotent
    assert await store.is_banned("meridian", maria) and not await store.is_banned("cardiova", maria)
    item = await store.add_file("meridian", "Card", "card.pdf", "application/pdf", 10, "abc", "pat@x.org", pat, T0)
    assert await store.file("meridian", item.id) == item
    with pytest.raises(NotFound):
        await store.file("cardiova", item.id)
    await store.record_download("meridian", f"file:{item.id}", T0)
    assert await store.downloads("meridian") == [T0] and await store.downloads("cardiova") == []
    await store.delete_file(item, "pat@x.org", T0)
    assert await store.files("meridian") == []
