"""The /qa namespace end to end: real server, real python-socketio clients, SQLite."""

from __future__ import annotations

import asyncio
import csv
import io
from typing import Any

import socketio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from server.app import create_app
from server.catalogue import Role
from server.rooms.qa import QNA
from server.settings import Settings
from server.state import SIO
from tests.conftest import Person, SioFactory, add_person
from tests.qa_support import NS, Inbox, call

S = "heart-failure-2026"  # live, pre-moderated, moderated by people["moderator"]


async def joined(sio: SioFactory, person: Person, session: str = S) -> tuple[socketio.AsyncClient, Inbox, dict]:
    client = await sio(person, NS)
    inbox = Inbox(client)
    ack = await client.call("join", {"session": session}, namespace=NS)
    assert ack["ok"], ack
    return client, inbox, ack["state"]


async def test_whole_flow_ask_approve_vote_stage_answer(people: dict[str, Person], sio: SioFactory,
                                                        server: TestServer) -> None:
    mod, mod_in, mod_state = await joined(sio, people["moderator"])
    asker, asker_in, _ = await joined(sio, people["attendee"])
    other, other_in, _ = await joined(sio, people["attendee2"])
    assert mod_state["moderator"] is True and mod_state["premoderation"] is True

    asked = await call(asker, "ask", {"session": S, "text": "Is <script>alert(1)</script> ARNI first?",
                                      "anonymous": True})
    assert asked["ok"] and asked["question"]["status"] == "pending" and asked["question"]["mine"] is True
    qid = asked["question"]["id"]
    pending = await mod_in.wait("question", lambda q: q["id"] == qid)
    assert pending["status"] == "pending" and pending["author"]["name"] == people["attendee"].user.name
    assert pending["text"] == "Is <script>alert(1)</script> ARNI first?"  # stored as typed, escaped on display

    approved = await call(mod, "moderate", {"question": qid, "action": "approve"})
    assert approved["question"]["status"] == "approved"
    seen = await other_in.wait("question", lambda q: q["id"] == qid)
    assert seen["status"] == "approved" and seen["author"] is None and seen["anonymous"] is True
    assert not [q for q in other_in.of("question") if q["status"] == "pending"]

    voted = await call(other, "vote", {"question": qid, "up": True})
    assert voted == {"ok": True, "question": qid, "votes": 1, "voted": True}
    await mod_in.wait("question", lambda q: q["id"] == qid and q["votes"] == 1)

    staged = await call(mod, "moderate", {"question": qid, "action": "stage"})
    assert staged["question"]["on_stage"] is True
    stage = await asker_in.wait("stage", lambda s: s["question"] is not None)
    assert stage["question"]["id"] == qid and stage["question"]["author"] is None

    await call(mod, "moderate", {"question": qid, "action": "answered"})
    done = await other_in.wait("question", lambda q: q["id"] == qid and q["status"] == "answered")
    assert done["on_stage"] is False
    await other_in.wait("stage", lambda s: s["question"] is None)
    assert server.app[QNA].fanout.broadcasts > 0  # every broadcast goes through the client manager


async def test_dismissed_question_reaches_only_its_author_and_moderators(people: dict[str, Person],
                                                                         sio: SioFactory) -> None:
    mod, mod_in, _ = await joined(sio, people["moderator"])
    asker, asker_in, _ = await joined(sio, people["attendee"])
    other, other_in, _ = await joined(sio, people["attendee2"])
    qid = (await call(asker, "ask", {"session": S, "text": "Buy my supplement?"}))["question"]["id"]
    await call(mod, "moderate", {"question": qid, "action": "approve"})
    await other_in.wait("question", lambda q: q["id"] == qid)
    await call(mod, "moderate", {"question": qid, "action": "dismiss", "reason": "promotional"})

    assert (await other_in.wait("retract"))["id"] == qid
    mine = await asker_in.wait("question", lambda q: q["id"] == qid and q["status"] == "dismissed")
    assert "dismiss_reason" not in mine
    assert (await mod_in.wait("question", lambda q: q.get("dismiss_reason") == "promotional"))["id"] == qid

    state = (await call(other, "join", {"session": S}))["state"]
    assert all(q["id"] != qid for q in state["questions"])
    own = (await call(asker, "join", {"session": S}))["state"]
    assert [q["status"] for q in own["mine"]] == ["dismissed"]
    assert "promotional" not in str(own)


async def test_edit_keeps_original_for_moderators_only(people: dict[str, Person], sio: SioFactory) -> None:
    mod, _, _ = await joined(sio, people["moderator"])
    asker, _, _ = await joined(sio, people["attendee"])
    _other, other_in, _ = await joined(sio, people["attendee2"])
    qid = (await call(asker, "ask", {"session": S, "text": "Dose of sacubitrl?"}))["question"]["id"]
    edited = await call(mod, "moderate", {"question": qid, "action": "edit", "text": "Dose of sacubitril?"})
    assert edited["question"]["original_text"] == "Dose of sacubitrl?"
    await call(mod, "moderate", {"question": qid, "action": "approve"})
    seen = await other_in.wait("question", lambda q: q["id"] == qid)
    assert seen["text"] == "Dose of sacubitril?" and seen["edited"] is True and "original_text" not in seen


async def test_merge_combines_votes_and_counts_a_double_voter_once(people: dict[str, Person],
                                                                   sio: SioFactory) -> None:
    mod, _mod_in, _ = await joined(sio, people["moderator"])
    a, _, _ = await joined(sio, people["attendee"])
    b, _, _ = await joined(sio, people["attendee2"])
    c, _, _ = await joined(sio, people["pharmacist"])
    first = (await call(a, "ask", {"session": S, "text": "SGLT2 in HFpEF?"}))["question"]["id"]
    dup = (await call(b, "ask", {"session": S, "text": "SGLT2 inhibitors for HFpEF too?"}))["question"]["id"]
    for qid in (first, dup):
        await call(mod, "moderate", {"question": qid, "action": "approve"})
    assert (await call(c, "vote", {"question": first}))["ok"]
    assert (await call(c, "vote", {"question": dup}))["ok"]
    assert (await call(a, "vote", {"question": dup}))["ok"]

    merged = await call(mod, "moderate", {"question": dup, "action": "merge", "into": first})
    assert merged["question"]["status"] == "merged" and merged["question"]["merged_into"] == first
    assert merged["others"][0]["id"] == first and merged["others"][0]["votes"] == 2
    again = await call(c, "vote", {"question": dup})
    assert again["ok"] is False and again["error"] == "not_found"  # a merged question left the audience


async def test_premoderation_off_shows_questions_at_once(people: dict[str, Person], sio: SioFactory) -> None:
    asker, _, _ = await joined(sio, people["attendee"], "insulin-workshop")
    _other, other_in, state = await joined(sio, people["attendee2"], "insulin-workshop")
    assert state["premoderation"] is False
    asked = await call(asker, "ask", {"session": "insulin-workshop", "text": "Basal first?"})
    assert asked["question"]["status"] == "approved"
    assert (await other_in.wait("question"))["id"] == asked["question"]["id"]


async def test_attendee_cannot_moderate(people: dict[str, Person], sio: SioFactory) -> None:
    asker, _, _ = await joined(sio, people["attendee"])
    qid = (await call(asker, "ask", {"session": S, "text": "Mine to approve?"}))["question"]["id"]
    ack = await call(asker, "moderate", {"question": qid, "action": "approve"})
    assert ack["ok"] is False and ack["error"] == "not_allowed"


async def test_moderator_of_another_session_cannot_moderate(people: dict[str, Person], sio: SioFactory) -> None:
    asker, _, _ = await joined(sio, people["attendee"])
    qid = (await call(asker, "ask", {"session": S, "text": "Who moderates this?"}))["question"]["id"]
    stranger = await sio(people["other_moderator"], NS)
    ack = await call(stranger, "moderate", {"question": qid, "action": "approve"})
    assert ack["ok"] is False and ack["error"] == "not_allowed"
    state = (await call(stranger, "join", {"session": S}))["state"]
    assert state["moderator"] is False and state["questions"] == []


async def test_exhibitor_may_not_ask_or_join(people: dict[str, Person], sio: SioFactory) -> None:
    client = await sio(people["exhibitor"], NS)
    ask = await call(client, "ask", {"session": S, "text": "Visit booth 4!"})
    join = await call(client, "join", {"session": S})
    assert ask["error"] == "not_allowed" and join["error"] == "not_allowed"


async def test_oversized_empty_and_malformed_input_get_reasons(people: dict[str, Person], sio: SioFactory) -> None:
    client, _, _ = await joined(sio, people["attendee"])
    cases = [
        ("ask", {"session": S, "text": "x" * 501}),
        ("ask", {"session": S, "text": "   "}),
        ("ask", {"session": S, "text": 42}),
        ("ask", {"session": S, "text": "ok?", "anonymous": "yes"}),
        ("vote", {"question": "1"}),
        ("moderate", {"question": -3, "action": "approve"}),
        ("join", {}),
    ]
    for event, data in cases:
        ack = await call(client, event, data)
        assert ack["ok"] is False and ack["error"] == "bad_request" and ack["reason"], (event, data, ack)
    for event, data in (("ask", {"session": "nope", "text": "hi"}), ("vote", {"question": 999})):
        assert (await call(client, event, data))["error"] == "not_found"
    assert (await call(client, "shout", {}))["error"] == "unknown_event"
    assert (await client.call("ask", "text", namespace=NS))["error"] == "bad_request"
    state = (await call(client, "join", {"session": S}))["state"]
    assert state["mine"] == []  # nothing refused was stored


async def test_vote_twice_is_refused_and_can_be_taken_back(people: dict[str, Person], sio: SioFactory) -> None:
    mod, _, _ = await joined(sio, people["moderator"])
    asker, _, _ = await joined(sio, people["attendee"])
    voter, _, _ = await joined(sio, people["attendee2"])
    qid = (await call(asker, "ask", {"session": S, "text": "Vote for me?"}))["question"]["id"]
    pending_vote = await call(voter, "vote", {"question": qid})
    assert pending_vote["error"] == "not_found"  # a pending question is invisible to other attendees
    await call(mod, "moderate", {"question": qid, "action": "approve"})
    assert (await call(voter, "vote", {"question": qid}))["votes"] == 1
    twice = await call(voter, "vote", {"question": qid})
    assert twice["ok"] is False and twice["error"] == "conflict" and twice["voted"] is True
    back = await call(voter, "vote", {"question": qid, "up": False})
    assert back == {"ok": True, "question": qid, "votes": 0, "voted": False}
    assert (await call(voter, "vote", {"question": qid, "up": False}))["error"] == "conflict"


async def test_question_flood_is_rate_limited(people: dict[str, Person], sio: SioFactory, settings: Settings) -> None:
    client, _, _ = await joined(sio, people["attendee"])
    acks = [await call(client, "ask", {"session": S, "text": f"Question {i}?"})
            for i in range(settings.qa_questions_per_minute + 2)]
    assert all(a["ok"] for a in acks[: settings.qa_questions_per_minute])
    assert acks[-1]["ok"] is False and acks[-1]["error"] == "rate_limited"
    state = (await call(client, "join", {"session": S}))["state"]
    assert len(state["mine"]) == settings.qa_questions_per_minute


async def test_vote_storm_is_coalesced_into_a_few_updates(people: dict[str, Person], sio: SioFactory,
                                                          server: TestServer) -> None:
    mod, _, _ = await joined(sio, people["moderator"])
    asker, _, _ = await joined(sio, people["attendee"])
    _watcher, watch_in, _ = await joined(sio, people["attendee2"])
    qid = (await call(asker, "ask", {"session": S, "text": "Popular?"}))["question"]["id"]
    await call(mod, "moderate", {"question": qid, "action": "approve"})
    await watch_in.wait("question", lambda q: q["id"] == qid)
    voters = [await add_person(server.app, f"voter{i}@example.org", Role.ATTENDEE) for i in range(40)]
    clients = [await sio(v, NS) for v in voters]
    acks = await asyncio.gather(*(call(c, "vote", {"question": qid}) for c in clients))
    assert all(a["ok"] for a in acks)
    final = await watch_in.wait("question", lambda q: q["id"] == qid and q["votes"] == 40)
    updates = [q for q in watch_in.of("question") if q["id"] == qid and q["status"] == "approved"]
    assert final["votes"] == 40
    assert len(updates) <= 1 + 10, len(updates)  # the approval, then a handful of coalesced updates


async def test_reconnecting_client_gets_current_state_on_join(people: dict[str, Person], sio: SioFactory) -> None:
    mod, _, _ = await joined(sio, people["moderator"])
    asker, _, _ = await joined(sio, people["attendee"])
    late, _, _ = await joined(sio, people["attendee2"])
    first = (await call(asker, "ask", {"session": S, "text": "Before the drop?"}))["question"]["id"]
    await call(mod, "moderate", {"question": first, "action": "approve"})
    await call(late, "vote", {"question": first})
    await late.disconnect()
    second = (await call(asker, "ask", {"session": S, "text": "During the drop?"}))["question"]["id"]
    await call(mod, "moderate", {"question": second, "action": "approve"})
    await call(mod, "moderate", {"question": second, "action": "stage"})

    _back, _, state = await joined(sio, people["attendee2"])
    assert [q["id"] for q in state["questions"]] == [first, second]
    assert state["on_stage"]["id"] == second and state["voted"] == [first]


async def test_questions_survive_a_server_restart(settings: Settings, aiohttp_server: Any) -> None:
    first = create_app(settings)
    server = await aiohttp_server(first, host="127.0.0.1")
    person = await add_person(first, "learner@example.org", Role.ATTENDEE)
    client = socketio.AsyncClient()
    await client.connect(str(server.make_url("/")), namespaces=[NS], auth={"token": person.token},
                         transports=["websocket"])
    qid = (await call(client, "ask", {"session": S, "text": "Still there after a restart?"}))["question"]["id"]
    await client.disconnect()
    await server.close()

    second = await aiohttp_server(create_app(settings), host="127.0.0.1")
    client = socketio.AsyncClient()
    await client.connect(str(second.make_url("/")), namespaces=[NS], auth={"token": person.token},
                         transports=["websocket"])
    state = (await call(client, "join", {"session": S}))["state"]
    await client.disconnect()
    assert [q["id"] for q in state["mine"]] == [qid]


async def test_connect_without_credentials_is_refused(server: TestServer) -> None:
    client = socketio.AsyncClient()
    try:
        await client.connect(str(server.make_url("/")), namespaces=[NS], transports=["websocket"], wait_timeout=5)
        refused = False
    except socketio.exceptions.ConnectionError:
        refused = True
    finally:
        await client.disconnect()
    assert refused


async def test_organizer_exports_csv_with_formulas_neutralised(client: TestClient, people: dict[str, Person],
                                                              sio: SioFactory) -> None:
    # ``client`` first: it closes the server last, after the Socket.IO clients hung up.
    asker, _, _ = await joined(sio, people["attendee"])
    await call(asker, "ask", {"session": S, "text": "=HYPERLINK(\"http://x\")", "anonymous": True})
    response = await client.get(f"/api/sessions/{S}/questions.csv", headers=people["organizer"].auth)
    assert response.status == 200 and response.content_type == "text/csv"
    rows = list(csv.DictReader(io.StringIO(await response.text())))
    assert rows[0]["text"].startswith("'=") and rows[0]["author_email"] == people["attendee"].user.email
    assert rows[0]["anonymous"] == "yes" and rows[0]["status"] == "pending"
    for who in ("moderator", "attendee"):
        denied = await client.get(f"/api/sessions/{S}/questions.csv", headers=people[who].auth)
        assert denied.status == 403 and (await denied.json())["error"] == "not_allowed"
    assert (await client.get(f"/api/sessions/{S}/questions.csv")).status == 401
    assert (await client.get("/api/sessions/nope/questions.csv", headers=people["organizer"].auth)).status == 404


async def test_console_and_faculty_pages_check_who_asks(people: dict[str, Person], client: TestClient) -> None:
    ok = await client.get(f"/sessions/{S}/moderate", headers=people["moderator"].auth)
    assert ok.status == 200 and 'data-session="heart-failure-2026"' in await ok.text()
    assert (await client.get(f"/sessions/{S}/moderate", headers=people["attendee"].auth)).status == 403
    assert (await client.get(f"/sessions/{S}/moderate", headers=people["other_moderator"].auth)).status == 403
    assert (await client.get(f"/sessions/{S}/moderate", headers=people["organizer"].auth)).status == 200
    assert (await client.get(f"/sessions/{S}/faculty", headers=people["faculty"].auth)).status == 200
    anonymous = await client.get(f"/sessions/{S}/moderate", allow_redirects=False)
    assert anonymous.status == 303 and anonymous.headers["Location"].startswith("/login")
    page = await client.get(f"/sessions/{S}", headers=people["moderator"].auth)  # no disclosure gate
    assert 'id="qa"' in await page.text() and f'href="/sessions/{S}/moderate"' in await page.text()
    api = await client.get(f"/api/sessions/{S}")
    assert (await api.json())["qa"]["premoderation"] is True
    organizer = await (await client.get("/organizer", headers=people["organizer"].auth)).text()
    assert f'href="/api/sessions/{S}/questions.csv"' in organizer and f'href="/sessions/{S}/moderate"' in organizer


def test_app_registers_the_qa_namespace(app: web.Application) -> None:
    # The Socket.IO server dispatches /qa to the very namespace the app keeps (not just one named /qa).
    assert app[SIO].namespace_handlers.get(NS) is app[QNA]


def test_every_qa_event_is_documented() -> None:
    import re
    from pathlib import Path

    from server.rooms import qa as rooms_qa
    from server.rooms.qa import QnaNamespace

    doc = (Path(__file__).parents[1] / "docs" / "realtime.md").read_text(encoding="utf-8")
    section = doc.split("\n## /qa", 1)[1].split("\n## ", 1)[0]
    client_events = {n[3:] for n in dir(QnaNamespace) if n.startswith("on_")} - {"connect", "disconnect"}
    source = Path(rooms_qa.__file__).read_text(encoding="utf-8")
    server_events = set(re.findall(r'(?:_send|deliver)\("(\w+)"', source))
    assert client_events == {"join", "ask", "vote", "moderate"} and {"question", "retract", "stage"} <= server_events
    for event in client_events | server_events:
        assert f"| `{event}` |" in section, f"/qa event {event!r} is not documented in docs/realtime.md"


async def test_long_polling_clients_get_broadcasts_through_socketio(people: dict[str, Person], sio: SioFactory,
                                                                     server: TestServer) -> None:
    mod, _, _ = await joined(sio, people["moderator"])
    asker, _, _ = await joined(sio, people["attendee"])
    poller = socketio.AsyncClient()
    inbox = Inbox(poller)
    await poller.connect(str(server.make_url("/")), namespaces=[NS], auth={"token": people["attendee2"].token},
                         transports=["polling"], wait_timeout=10)
    try:
        assert (await call(poller, "join", {"session": S}))["ok"]
        qid = (await call(asker, "ask", {"session": S, "text": "Heard over long-polling?"}))["question"]["id"]
        await call(mod, "moderate", {"question": qid, "action": "approve"})
        assert (await inbox.wait("question", lambda q: q["id"] == qid))["status"] == "approved"
        assert server.app[QNA].fanout.broadcasts >= 1
    finally:
        # A polite polling disconnect waits for the pending long poll (up to the ping interval).
        await poller.eio.disconnect(abort=True)
