"""Polls: the rules, the /polls namespace (who runs, who answers, once), and the organizers' CSV."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from server.catalogue import Role
from server.errors import BadRequest, Conflict
from server.evidence import EVIDENCE, LEDGER
from server.polls import (
    Answer,
    Poll,
    PollStatus,
    check_answer,
    draft,
    prepared_polls,
    results,
    tally,
)
from server.state import CLOCK
from tests.conftest import SioFactory, add_person

S = "heart-failure-2026"
NS = "/polls"
NOW = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)


def _poll(status: PollStatus = PollStatus.OPEN) -> Poll:
    return Poll(1, S, "Q?", ("a", "b", "c"), status, False, False, NOW, 1)


def test_a_poll_needs_a_question_and_two_to_eight_distinct_options() -> None:
    assert draft("  Which  dose? ", [" 5 mg", "10 mg "]) == ("Which dose?", ("5 mg", "10 mg"))
    for question, options in [("", ["a", "b"]), ("Q", ["a"]), ("Q", ["a", "A"]), ("Q", "a,b"),
                              ("Q", [str(i) for i in range(9)]), ("Q", ["a", ""])]:
        with pytest.raises(BadRequest):
            draft(question, options)


def test_an_answer_is_taken_once_while_open_and_counted_anonymously() -> None:
    assert check_answer(_poll(), 2, None) == 2
    with pytest.raises(Conflict, match="already answered"):
        check_answer(_poll(), 0, Answer(1, 7, 1, NOW))
    with pytest.raises(Conflict, match="closed"):
        check_answer(_poll(PollStatus.CLOSED), 0, None)
    for bad in [3, -1, True, "1", None]:
        with pytest.raises(BadRequest):
            check_answer(_poll(), bad, None)
    counted = results(_poll(), tally(_poll(), [0, 2, 2, 9]))
    assert counted["counts"] == [1, 0, 2] and counted["percent"] == [33, 0, 67] and counted["total"] == 3


def test_prepared_polls_come_from_the_conference_file_tables() -> None:
    parsed = prepared_polls({"polls": [{"session": S, "question": "Q?", "options": ["a", "b"], "attention": True}]})
    assert [(p.session, p.question, p.options, p.attention) for p in parsed] == [(S, "Q?", ("a", "b"), True)]
    with pytest.raises(BadRequest, match=r"polls\[0\]"):
        prepared_polls({"polls": [{"session": S, "question": "Q?", "options": ["only one"]}]})


async def test_runners_open_attendees_answer_once_and_organizers_export(client: TestClient, sio: SioFactory) -> None:
    app = client.server.app
    moderator = await add_person(app, "sam.reyes@demo.rounds", Role.MODERATOR)
    grace = await add_person(app, "grace@example.org", Role.ATTENDEE, name="Grace Hopper")
    exhibitor = await add_person(app, "pat.lee@demo.rounds", Role.EXHIBITOR)
    organizer = await add_person(app, "org@demo.rounds", Role.ORGANIZER)

    runner = await sio(moderator, NS)
    joined = await runner.call("join", {"session": S}, namespace=NS)
    assert joined["ok"] and joined["can_run"] and len(joined["prepared"]) == 2
    learner = await sio(grace, NS)
    heard: asyncio.Queue[Any] = asyncio.Queue()
    learner.on("poll", heard.put_nowait, namespace=NS)
    assert (await learner.call("join", {"session": S}, namespace=NS))["prepared"] == []
    refused = await learner.call("open", {"session": S, "question": "Mine?", "options": ["a", "b"]}, namespace=NS)
    assert refused["error"] == "not_allowed"

    opened = await runner.call("open", {"session": S, "prepared": 1}, namespace=NS)
    assert opened["ok"] and opened["poll"]["attention"] is True
    poll_id = opened["poll"]["id"]
    assert (await asyncio.wait_for(heard.get(), 5))["id"] == poll_id
    assert (await runner.call("open", {"session": S, "prepared": 5}, namespace=NS))["field"] == "prepared"

    first = await learner.call("answer", {"poll": poll_id, "option": 1}, namespace=NS)
    assert first["ok"] and first["option"] == 1
    again = await learner.call("answer", {"poll": poll_id, "option": 0}, namespace=NS)
    assert again["ok"] is False and again["error"] == "conflict" and "once" in again["reason"]
    booth = await sio(exhibitor, NS)
    assert (await booth.call("answer", {"poll": poll_id, "option": 0}, namespace=NS))["error"] == "not_allowed"

    closed = await runner.call("close", {"poll": poll_id}, namespace=NS)
    assert closed["results"]["counts"] == [0, 1] and closed["poll"]["status"] == "closed"
    late = await (await sio(organizer, NS)).call("answer", {"poll": poll_id, "option": 0}, namespace=NS)
    assert late["error"] == "conflict" and "closed" in late["reason"]

    assert (await client.get(f"/api/sessions/{S}/polls.csv", headers=moderator.auth)).status == 403
    export = await client.get(f"/api/sessions/{S}/polls.csv", headers=organizer.auth)
    assert export.status == 200 and export.content_type == "text/csv"
    rows = list(csv.DictReader(io.StringIO(await export.text())))
    assert [(r["name"], r["answer"], r["attention_check"]) for r in rows] == [("Grace Hopper", "Yes, with a question", "yes")]
    assert float(rows[0]["seconds_after_opening"]) >= 0


async def test_an_attention_poll_stops_the_clock_of_those_watching_until_they_answer(
        client: TestClient, sio: SioFactory) -> None:
    app = client.server.app
    runner = await sio(await add_person(app, "sam.reyes@demo.rounds", Role.MODERATOR), NS)
    grace, ada = (await add_person(app, "grace@example.org", Role.ATTENDEE),
                  await add_person(app, "ada@example.org", Role.ATTENDEE))
    pages = {p.user.id: await sio(p, "/watch") for p in (grace, ada)}
    voters = {p.user.id: await sio(p, NS) for p in (grace, ada)}

    async def beat(person: Any) -> Any:
        ack = await pages[person.user.id].call("heartbeat", {"session": S, "visible": True, "playing": True},
                                               namespace="/watch")
        assert ack["ok"], ack
        return ack

    for p in (grace, ada):
        await app[EVIDENCE].viewer_started(S, f"viewer-{p.user.id}", p.user.id)
        assert (await beat(p))["counting"] is True
    plain = await runner.call("open", {"session": S, "question": "Plain?", "options": ["a", "b"]}, namespace=NS)
    assert (await beat(grace))["counting"] is True  # only an attention poll stops the clock
    await runner.call("close", {"poll": plain["poll"]["id"]}, namespace=NS)

    opened = await runner.call("open", {"session": S, "question": "Still with us?", "options": ["Yes", "No"],
                                        "attention": True}, namespace=NS)
    poll_id, opened_at = opened["poll"]["id"], app[CLOCK].timestamp()
    for p in (grace, ada):
        waiting = await beat(p)
        assert waiting["counting"] is False and waiting["attention_poll"] is True and waiting["attention"] is None
    app[CLOCK].advance(20)
    assert (await voters[grace.user.id].call("answer", {"poll": poll_id, "option": 0}, namespace=NS))["ok"]
    answered = await beat(grace)
    assert answered["counting"] is True and answered["attention_poll"] is False
    assert (await beat(ada))["counting"] is False  # ada has not answered
    app[CLOCK].advance(20)
    assert (await runner.call("close", {"poll": poll_id}, namespace=NS))["ok"]
    assert (await beat(ada))["counting"] is True  # a closed poll no longer holds the clock

    gaps = {}
    for p in (grace, ada):
        stored = await app[LEDGER].store.one(p.user.id, S)
        (prompt,) = stored.prompts.values()
        assert prompt.answered_at is not None
        gaps[p.user.id] = (round(prompt.shown_at - opened_at), round(prompt.answered_at - prompt.shown_at))
    assert gaps == {grace.user.id: (0, 20), ada.user.id: (0, 40)}  # not answering cost the time it was open
