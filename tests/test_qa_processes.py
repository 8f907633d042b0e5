"""Two real server processes on one Redis and one PostgreSQL: Q&A crosses processes, survives Redis restarts."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import socketio

from server.catalogue import Role
from server.credit import disclosure_version
from server.store.accounts import AccountStore
from server.store.catalogue import load_catalogue
from server.store.credit import CreditStore
from server.store.db import connect
from server.tokens import mint_token
from tests.processes import Served, clean_env, serving
from tests.qa_support import Inbox, call
from tests.services import PostgresServer, RedisServer

S = "heart-failure-2026"
NS = "/qa"
SECRET = "two-process-secret-key"


@pytest.fixture(scope="module")
def qa_redis() -> Iterator[RedisServer]:
    """A Redis of this module's own: a test here kills and restarts it."""
    with RedisServer() as server:
        yield server


@pytest.fixture
async def nodes(tmp_path: Path, conference_file: Path, postgres_server: PostgresServer,
                qa_redis: RedisServer) -> AsyncIterator[tuple[Served, Served, str]]:
    database = await postgres_server.create_database_async()
    env = clean_env(DATABASE_URL=database, REDIS_URL=qa_redis.url, ROUNDS_DATA_DIR=str(tmp_path / "data"),
                    ROUNDS_CONFERENCE=str(conference_file), ROUNDS_SECRET_KEY=SECRET, ROUNDS_LOG_LEVEL="warning")
    async with AsyncExitStack() as stack:
        # One after the other: the first migrates the database.
        first = await stack.enter_async_context(serving(env))
        second = await stack.enter_async_context(serving(env))
        yield first, second, database


async def _tokens(database: str) -> dict[str, str]:
    engine = connect(database)
    store = AccountStore(engine)
    people = {"moderator": ("sam.reyes@demo.rounds", Role.MODERATOR), "attendee": ("maria@example.org", Role.ATTENDEE),
              "attendee2": ("tom@example.org", Role.ATTENDEE)}
    tokens = {}
    catalogue = await load_catalogue(engine)
    for key, (email, role) in people.items():
        user = await store.create(email, key.title(), role)
        tokens[key] = mint_token(SECRET.encode(), user.id, 3600)
        for session in catalogue.sessions:  # learners read the disclosure before they ask (Standard 3)
            if session.accredited:
                await CreditStore(engine).acknowledge(user.id, session.id, disclosure_version(session),
                                                      datetime.now(UTC))
    await engine.dispose()
    return tokens


class Clients:
    def __init__(self) -> None:
        self.all: list[socketio.AsyncClient] = []

    async def join(self, node: Served, token: str) -> tuple[socketio.AsyncClient, Inbox]:
        client = socketio.AsyncClient(reconnection=True)
        inbox = Inbox(client)
        await client.connect(node.url, namespaces=[NS], auth={"token": token}, transports=["websocket"],
                             wait_timeout=10)
        self.all.append(client)
        assert (await call(client, "join", {"session": S}))["ok"]
        return client, inbox

    async def close(self) -> None:
        for client in self.all:
            if client.connected:
                await client.disconnect()


@pytest.fixture
async def clients() -> AsyncIterator[Clients]:
    made = Clients()
    yield made
    await made.close()


async def test_question_asked_on_one_process_reaches_a_moderator_on_the_other(
        nodes: tuple[Served, Served, str], clients: Clients) -> None:
    a, b, database = nodes
    tokens = await _tokens(database)
    mod, mod_in = await clients.join(b, tokens["moderator"])
    asker, _ = await clients.join(a, tokens["attendee"])
    voter, voter_in = await clients.join(a, tokens["attendee2"])

    qid = (await call(asker, "ask", {"session": S, "text": "Across processes?"}))["question"]["id"]
    pending = await mod_in.wait("question", lambda q: q["id"] == qid, timeout=10)
    assert pending["status"] == "pending" and pending["author"]["name"] == "Attendee"

    assert (await call(mod, "moderate", {"question": qid, "action": "approve"}))["ok"]
    await voter_in.wait("question", lambda q: q["id"] == qid and q["status"] == "approved", timeout=10)
    assert (await call(voter, "vote", {"question": qid}))["votes"] == 1
    await mod_in.wait("question", lambda q: q["id"] == qid and q["votes"] == 1, timeout=10)


async def test_redis_restart_loses_no_question_vote_or_moderation(
        nodes: tuple[Served, Served, str], clients: Clients, qa_redis: RedisServer) -> None:
    a, b, database = nodes
    tokens = await _tokens(database)
    mod, mod_in = await clients.join(b, tokens["moderator"])
    asker, asker_in = await clients.join(a, tokens["attendee"])
    voter, voter_in = await clients.join(a, tokens["attendee2"])
    before = (await call(asker, "ask", {"session": S, "text": "Asked before the restart?"}))["question"]["id"]
    await mod_in.wait("question", lambda q: q["id"] == before, timeout=10)

    qa_redis.restart()  # killed without a clean shutdown, empty when it comes back

    # Straight after the restart, while the Socket.IO manager has not resubscribed yet.
    during = await call(asker, "ask", {"session": S, "text": "Asked while Redis restarted?"})
    assert during["ok"], during
    approved = await call(mod, "moderate", {"question": before, "action": "approve"})
    assert approved["ok"], approved
    voted = await call(voter, "vote", {"question": before})
    assert voted["ok"] and voted["votes"] == 1, voted

    # Every client is told to resync once the coordination is back; rejoining gives the stored state.
    for inbox in (mod_in, asker_in, voter_in):
        await inbox.wait("resync", timeout=30)
    mod_state = (await call(mod, "join", {"session": S}))["state"]
    by_id = {q["id"]: q for q in mod_state["questions"]}
    assert by_id[before]["status"] == "approved" and by_id[before]["votes"] == 1
    assert during["question"]["id"] in by_id and by_id[during["question"]["id"]]["status"] == "pending"
    voter_state = (await call(voter, "join", {"session": S}))["state"]
    assert [q["id"] for q in voter_state["questions"]] == [before] and voter_state["voted"] == [before]

    # A client that lost its connection meanwhile reconnects and resyncs on join.
    await asker.disconnect()
    asker, asker_in = await clients.join(a, tokens["attendee"])
    mine = (await call(asker, "join", {"session": S}))["state"]["mine"]
    assert sorted(q["id"] for q in mine) == sorted([before, during["question"]["id"]])

    # And emits cross processes again.
    after = (await call(asker, "ask", {"session": S, "text": "After the restart?"}))["question"]["id"]
    await mod_in.wait("question", lambda q: q["id"] == after, timeout=15)
    log = await _moderation_log(database)
    assert ("approve", before) in log


async def _moderation_log(database: str) -> list[tuple[str, Any]]:
    from server.store.qa import QaStore

    engine = connect(database)
    try:
        return [(row["action"], row["question_id"]) for row in await QaStore(engine).actions(S)]
    finally:
        await engine.dispose()


async def _store_contract(url: str) -> None:
    """The Q&A SQL on one engine: batched votes, merge, moves with version checks."""
    from datetime import UTC, datetime

    from server.errors import Conflict, NotFound
    from server.qna import Status, apply
    from server.store.db import migrate
    from server.store.qa import Ballot, QaStore

    engine = connect(url)
    try:
        await migrate(engine)
        accounts, store, now = AccountStore(engine), QaStore(engine), datetime.now(UTC)
        a, b, c = [await accounts.create(f"{n}@example.org", n, Role.ATTENDEE) for n in ("ann", "ben", "cy")]
        first = await store.ask(S, a.id, "First?", True, Status.APPROVED, now)
        dup = await store.ask(S, b.id, "First, again?", False, Status.APPROVED, now)
        pending = await store.ask(S, c.id, "Pending?", False, Status.PENDING, now)

        def anyone(question: object) -> None:
            return None

        ballots = [Ballot(first.id, b.id, True, now, anyone), Ballot(first.id, b.id, True, now, anyone),
                   Ballot(first.id, c.id, True, now, anyone), Ballot(first.id, c.id, False, now, anyone),
                   Ballot(dup.id, c.id, True, now, anyone), Ballot(pending.id, a.id, True, now, anyone),
                   Ballot(999_999, a.id, True, now, anyone)]
        results = await store.vote_many(ballots)
        assert [type(r).__name__ for r in results] == ["Question", "Conflict", "Question", "Question", "Question",
                                                       "Conflict", "NotFound"]
        assert isinstance(results[1], Conflict) and isinstance(results[6], NotFound)
        assert (await store.get(first.id)).votes == 1 and await store.voted(S, c.id) == {dup.id}

        move = apply("merge", await store.get(dup.id), into=await store.get(first.id))
        saved = await store.save(move, a.id, "merge", {"into": first.id}, now)
        assert saved[0].status is Status.MERGED and saved[1].votes == 2  # ben and cy
        stale = apply("pin", first)  # made from the version before the merge touched it
        try:
            await store.save(stale, a.id, "pin", {}, now)
            raise AssertionError("a move on a stale version was written")
        except Conflict:
            pass
        assert [r["action"] for r in await store.actions(S)] == ["merge"]
    finally:
        await engine.dispose()


async def test_qa_store_contract_on_postgresql(pg_url: str) -> None:
    await _store_contract(pg_url)


async def test_qa_store_contract_on_sqlite(tmp_path: Path) -> None:
    await _store_contract(f"sqlite+aiosqlite:///{tmp_path / 'qa.db'}")
