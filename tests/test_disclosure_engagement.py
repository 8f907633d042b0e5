"""Disclosure before engagement on the server (issue 12, finding 1): a learner who never acknowledged
the current disclosure gets no media over WHEP, no counted heartbeat, no Q&A and no claim, and time
recorded before the acknowledgement earns nothing. Real aiortc peers, real Socket.IO clients."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from aiortc import RTCPeerConnection, RTCSessionDescription

from server.app import create_app
from server.catalogue import Role
from server.credit import disclosure_version
from server.settings import Settings
from server.state import CATALOGUE
from tests.conftest import Person, SioFactory, add_person, make_settings
from tests.credit_support import HF, acknowledge, advance, after_the_session, evaluate, watch

sys.path.insert(0, str(Path(__file__).parent / "media"))
from media_peers import PatternTrack, ToneTrack, connected, offer_of, prefer

pytestmark = pytest.mark.unacknowledged
People = dict[str, Person]
SDP = {"Content-Type": "application/sdp"}


@pytest.fixture
def settings(tmp_path: Path, conference_file: Path) -> Settings:
    # Two heartbeats may bound a long stretch: tests step the clock instead of beating every 15 s.
    return make_settings(tmp_path / "data", conference_file, heartbeat_tolerance_s=7200)


@pytest.fixture
async def peers() -> AsyncIterator[list[RTCPeerConnection]]:
    made: list[RTCPeerConnection] = []
    yield made
    for pc in made:
        await pc.close()


async def go_live(client: TestClient, faculty: Person, peers: list[RTCPeerConnection]) -> None:
    pc = RTCPeerConnection()
    peers.append(pc)
    pc.addTransceiver(PatternTrack(), direction="sendonly")
    pc.addTransceiver(ToneTrack(), direction="sendonly")
    prefer(pc, "video/VP8")
    reply = await client.post(f"/whip/{HF}", data=(await offer_of(pc)).encode(), headers={**SDP, **faculty.auth})
    assert reply.status == 201, await reply.text()
    await pc.setRemoteDescription(RTCSessionDescription(await reply.text(), "answer"))
    await connected(pc)


async def whep(client: TestClient, person: Person, peers: list[RTCPeerConnection]) -> Any:
    pc = RTCPeerConnection()
    peers.append(pc)
    pc.addTransceiver("video", direction="recvonly")
    pc.addTransceiver("audio", direction="recvonly")
    reply = await client.post(f"/whep/{HF}", data=(await offer_of(pc)).encode(), headers={**SDP, **person.auth})
    if reply.status == 201:
        await pc.setRemoteDescription(RTCSessionDescription(await reply.text(), "answer"))
    return reply


async def test_whep_heartbeats_qa_and_claim_wait_for_the_disclosure(
        client: TestClient, sio: SioFactory, people: People, peers: list[RTCPeerConnection]) -> None:
    maria = people["attendee"]
    await go_live(client, people["faculty"], peers)

    refused = await whep(client, maria, peers)
    assert refused.status == 403
    body = await refused.json()
    assert body["error"] == "disclosure_required" and body["disclosure"] == f"/sessions/{HF}/disclosure"

    watcher = await sio(maria, "/watch")
    beat = await watcher.call("heartbeat", {"session": HF, "visible": True, "playing": True}, namespace="/watch")
    assert beat["ok"] is False and beat["error"] == "disclosure_required"

    qa = await sio(maria, "/qa")
    asked = await qa.call("ask", {"session": HF, "text": "Is ARNI first line?"}, namespace="/qa")
    assert asked["ok"] is False and asked["error"] == "disclosure_required"

    # Someone who did acknowledge asks; the unacknowledged learner cannot vote for it.
    tom = people["attendee2"]
    await acknowledge(client, tom, HF)
    tom_qa = await sio(tom, "/qa")
    question = (await tom_qa.call("ask", {"session": HF, "text": "Dose of sacubitril?"}, namespace="/qa"))
    assert question["ok"], question
    mod = await sio(people["moderator"], "/qa")
    approved = await mod.call("moderate", {"question": question["question"]["id"], "action": "approve"}, namespace="/qa")
    assert approved["ok"], approved
    vote = await qa.call("vote", {"question": question["question"]["id"], "up": True}, namespace="/qa")
    assert vote["ok"] is False and vote["error"] == "disclosure_required"

    claim = await client.post(f"/api/sessions/{HF}/claim", headers=maria.auth,
                              json={"credit_type": "ama_pra_1", "amount": "0.25", "attest": True})
    assert claim.status == 403 and (await claim.json())["error"] == "disclosure_required"

    # After the acknowledgement every path opens, and heartbeats count again.
    await acknowledge(client, maria, HF)
    assert (await whep(client, maria, peers)).status == 201
    beat = await watcher.call("heartbeat", {"session": HF, "visible": True, "playing": True}, namespace="/watch")
    assert beat["ok"] is True
    vote = await qa.call("vote", {"question": question["question"]["id"], "up": True}, namespace="/qa")
    assert vote["ok"] is True and vote["votes"] == 1


async def test_time_recorded_before_the_acknowledgement_earns_nothing(client: TestClient, people: People) -> None:
    """Finding 1: 70 minutes watched, acknowledged after the session ended, then claimed."""
    maria = people["attendee"]
    await watch(client.app, maria, HF, 70)  # evidence stored as the ledger stores it
    advance(client.app, 15 * 60)  # the session is over
    await acknowledge(client, maria, HF)
    body = await (await client.get("/api/me/transcript", headers=maria.auth)).json()
    line = next((s for s in body["sessions"] if s["id"] == HF), None)
    assert line is not None and line["counted_seconds"] > 60 * 60  # the watch-time feature saw it
    assert line.get("eligible", {}).get("ama_pra_1", "0.00") == "0.00"  # credit counts from the acknowledgement
    await evaluate(client, maria, HF)
    after_the_session(client.app)
    claim = await client.post(f"/api/sessions/{HF}/claim", headers=maria.auth,
                              json={"credit_type": "ama_pra_1", "amount": "1.00", "attest": True})
    assert claim.status == 400 and (await claim.json())["error"] == "amount_above_eligible"


async def test_the_attendance_record_carries_the_acknowledgement(client: TestClient, people: People) -> None:
    maria = people["attendee"]
    await acknowledge(client, maria, HF)
    await watch(client.app, maria, HF, 30)
    report = await (await client.get(f"/api/organizer/credit/sessions/{HF}", headers=people["organizer"].auth)).json()
    row = next(r for r in report["attendees"] if r["user_id"] == maria.user.id)
    session = client.app[CATALOGUE].session(HF)
    assert session is not None
    assert row["disclosure_version"] == disclosure_version(session) and row["disclosure_acknowledged_at"]


async def test_a_changed_disclosure_asks_again_on_every_path(
        tmp_path: Path, conference_file: Path, aiohttp_client: Any, peers: list[RTCPeerConnection]) -> None:
    data = tmp_path / "data"
    first = await aiohttp_client(create_app(make_settings(data, conference_file)))
    maria = await add_person(first.app, "maria@example.org", Role.ATTENDEE, acknowledged=False)
    await acknowledge(first, maria, HF)
    await first.close()

    changed = tmp_path / "changed.toml"
    changed.write_text(conference_file.read_text(encoding="utf-8").replace(
        "Advisory board (ended 2025)", "Speakers bureau", 1), encoding="utf-8")
    client = await aiohttp_client(create_app(make_settings(data, changed)))
    assert (await whep(client, maria, peers)).status == 403
    claim = await client.post(f"/api/sessions/{HF}/claim", headers=maria.auth,
                              json={"credit_type": "ama_pra_1", "amount": "0.25", "attest": True})
    assert claim.status == 403 and (await claim.json())["error"] == "disclosure_required"
    info = await (await client.get(f"/api/sessions/{HF}", headers=maria.auth)).json()
    assert info["disclosure"]["acknowledged"] is False
    await acknowledge(client, maria, HF)
    assert (await whep(client, maria, peers)).status == 201
