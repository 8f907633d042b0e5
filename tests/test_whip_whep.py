"""WHIP publishing and WHEP watching over HTTP, with real aiortc peers on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from aiortc import RTCPeerConnection, RTCSessionDescription
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.app import create_app
from server.evidence import LEDGER, Ledger
from server.http.media import HUB, end_finished_sessions
from server.state import CLOCK
from tests.conftest import Person, make_settings

# The media tests' real client peers (pattern video, tone, frame counting) and SDP mutations.
from tests.media.media_peers import (
    PatternTrack,
    ToneTrack,
    ViewerClient,
    connected,
    offer_of,
    prefer,
    read_pattern,
)
from tests.media.test_offer_fuzz import OFFERS, Mutation, apply, mutation

LIVE = "heart-failure-2026"  # live now in the demo conference; ana.okafor teaches it
SDP = {"Content-Type": "application/sdp"}


async def publisher_offer() -> tuple[RTCPeerConnection, str]:
    pc = RTCPeerConnection()
    pc.addTransceiver(PatternTrack(), direction="sendonly")
    pc.addTransceiver(ToneTrack(), direction="sendonly")
    prefer(pc, "video/VP8")
    return pc, await offer_of(pc)


async def viewer_offer() -> tuple[RTCPeerConnection, str]:
    pc = RTCPeerConnection()
    pc.addTransceiver("video", direction="recvonly")
    pc.addTransceiver("audio", direction="recvonly")
    return pc, await offer_of(pc)


@pytest.fixture
async def peers() -> AsyncIterator[list[RTCPeerConnection]]:
    made: list[RTCPeerConnection] = []
    yield made
    for pc in made:
        await pc.close()


async def post_offer(client: TestClient, path: str, person: Person | None, offer: str) -> Any:
    headers = {**SDP, **(person.auth if person else {})}
    return await client.post(path, data=offer.encode(), headers=headers)


async def go_live(client: TestClient, person: Person, peers: list[RTCPeerConnection]) -> str:
    pc, offer = await publisher_offer()
    peers.append(pc)
    reply = await post_offer(client, f"/whip/{LIVE}", person, offer)
    assert reply.status == 201, await reply.text()
    assert reply.content_type == "application/sdp"
    await pc.setRemoteDescription(RTCSessionDescription(await reply.text(), "answer"))
    await connected(pc)
    return str(reply.headers["Location"])


async def watch(
    client: TestClient, person: Person, peers: list[RTCPeerConnection]
) -> tuple[ViewerClient, str]:
    pc, offer = await viewer_offer()
    peers.append(pc)
    viewer = ViewerClient(pc, "")

    @pc.on("track")
    def on_track(track: Any) -> None:
        if track.kind == "video":
            viewer.tasks.append(asyncio.ensure_future(count(viewer, track)))

    reply = await post_offer(client, f"/whep/{LIVE}", person, offer)
    assert reply.status == 201, await reply.text()
    await pc.setRemoteDescription(RTCSessionDescription(await reply.text(), "answer"))
    return viewer, str(reply.headers["Location"])


class StoredMedia:
    """The media starts and stops the attendance ledger committed, to await instead of polling SQL.

    It wraps the app's real ``Ledger.media`` (what ``app[EVIDENCE]``, the media layer's evidence
    interface, calls): an event is recorded once the original has committed its row.
    """

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.committed: list[tuple[int, str, bool]] = []  # (user id, resource, started)
        self._changed = asyncio.Event()
        original = ledger.media

        async def media(session_id: str, user_id: int, kind: str, resource: str, started: bool) -> None:
            await original(session_id, user_id, kind, resource, started)
            self.committed.append((user_id, resource, started))
            self._changed.set()

        ledger.media = media  # type: ignore[method-assign]

    async def wait(self, person: Person, location: str, started: bool) -> None:
        """Until the server-measured start (or stop) of the player at ``location`` is stored."""
        wanted = (person.user.id, location.rsplit("/", 1)[1], started)

        async def committed() -> None:
            while wanted not in self.committed:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(committed(), 10)
        stored = (await self.ledger.store.one(person.user.id, LIVE)).media
        assert any(e.player == wanted[1] and e.started == started for e in stored)


async def count(viewer: ViewerClient, track: Any) -> None:
    from aiortc.mediastreams import MediaStreamError

    try:
        while True:
            viewer._arrived(read_pattern(await track.recv()))
    except MediaStreamError:
        pass


async def test_publish_and_watch_end_to_end(
    client: TestClient, people: dict[str, Person], peers: list[RTCPeerConnection]
) -> None:
    stored = StoredMedia(client.server.app[LEDGER])
    whip_location = await go_live(client, people["faculty"], peers)
    assert whip_location.startswith(f"/whip/{LIVE}/")
    viewer, whep_location = await watch(client, people["attendee"], peers)
    try:
        await viewer.frames(30)
        assert all(b - a == 1 for a, b in pairwise(viewer.numbers))
        body = await (
            await client.get(f"/api/sessions/{LIVE}", headers=people["attendee"].auth)
        ).json()
        assert body["live"] is True and "viewers" not in body
        body = await (
            await client.get(f"/api/sessions/{LIVE}", headers=people["organizer"].auth)
        ).json()
        assert body["viewers"] == 1
        metrics = await (await client.get("/metrics")).text()
        assert f'rounds_stage_viewers{{session="{LIVE}"}} 1.0' in metrics
        assert f'rounds_stage_publishers{{session="{LIVE}"}} 1.0' in metrics
        assert "rounds_stage_dropped_packets_total" in metrics
        await stored.wait(people["attendee"], whep_location, started=True)
        # Only the owner (or an organizer) ends a resource.
        assert (await client.delete(whep_location, headers=people["attendee2"].auth)).status == 403
        assert (
            await client.delete(
                whep_location.replace("/whep/", "/whip/"), headers=people["attendee"].auth
            )
        ).status == 404
        assert (await client.delete(whep_location, headers=people["attendee"].auth)).status == 200
        await stored.wait(people["attendee"], whep_location, started=False)
        assert (await client.delete(whep_location, headers=people["attendee"].auth)).status == 404
        assert (await client.delete(whip_location, headers=people["faculty"].auth)).status == 200
        body = await (
            await client.get(f"/api/sessions/{LIVE}", headers=people["attendee"].auth)
        ).json()
        assert body["live"] is False and body["stage"] == "paused"
    finally:
        await viewer.close()


@pytest.mark.parametrize(
    ("who", "session", "status"),
    [
        (None, LIVE, 401),
        ("bad-token", LIVE, 401),
        ("attendee", LIVE, 403),
        ("faculty2", LIVE, 403),  # faculty, but not of this session
        ("faculty", "no-such-session", 404),
        ("faculty", "afib-case", 403),  # day 2: outside the publishing window
    ],
)
async def test_whip_refuses_with_the_right_status(
    client: TestClient,
    people: dict[str, Person],
    peers: list[RTCPeerConnection],
    who: str | None,
    session: str,
    status: int,
) -> None:
    pc, offer = await publisher_offer()
    peers.append(pc)
    headers = dict(SDP)
    if who == "bad-token":
        headers["Authorization"] = "Bearer not-a-token"
    elif who is not None:
        headers.update(people[who].auth)
    reply = await client.post(f"/whip/{session}", data=offer.encode(), headers=headers)
    assert reply.status == status
    assert (await reply.json())["reason"]
    assert client.server.app[HUB].stats().publishers == 0


async def test_malformed_offers_get_400_with_a_reason(
    client: TestClient, people: dict[str, Person]
) -> None:
    for path in (f"/whip/{LIVE}", f"/whep/{LIVE}"):
        who = people["faculty"] if path.startswith("/whip") else people["attendee"]
        reply = await post_offer(client, path, who, "v=0\r\nthis is not sdp")
        assert reply.status == 400
        assert "offer" in (await reply.json())["reason"]
        wrong_way = OFFERS["aiortc-subscribe" if path.startswith("/whip") else "aiortc-publish"]
        reply = await post_offer(client, path, who, wrong_way)
        assert reply.status == 400 and "direction" in (await reply.json())["reason"]
        reply = await client.post(
            path, data=b"v=0", headers={**who.auth, "Content-Type": "text/plain"}
        )
        assert reply.status == 415


async def test_viewer_beyond_the_limit_gets_503_with_retry_after(
    tmp_path: Path, conference_file: Path, aiohttp_client: Any, peers: list[RTCPeerConnection]
) -> None:
    from server.accounts import Role
    from tests.conftest import add_person

    app = create_app(make_settings(tmp_path / "data", conference_file, max_viewers=1))
    client = await aiohttp_client(app)
    first = await add_person(app, "a@example.org", Role.ATTENDEE)
    second = await add_person(app, "b@example.org", Role.ATTENDEE)
    pc, offer = await viewer_offer()
    peers.append(pc)
    reply = await post_offer(client, f"/whep/{LIVE}", first, offer)
    assert reply.status == 201
    await pc.setRemoteDescription(RTCSessionDescription(await reply.text(), "answer"))
    await connected(pc)  # a viewer holds capacity once connected
    pc, offer = await viewer_offer()
    peers.append(pc)
    reply = await post_offer(client, f"/whep/{LIVE}", second, offer)
    assert reply.status == 503
    assert int(reply.headers["Retry-After"]) > 0
    assert "limit" in (await reply.json())["reason"]


async def test_one_account_flooding_offers_locks_nobody_else_out(
    tmp_path: Path, conference_file: Path, aiohttp_client: Any, peers: list[RTCPeerConnection]
) -> None:
    from server.accounts import Role
    from tests.conftest import add_person

    app = create_app(make_settings(tmp_path / "data", conference_file, max_viewers=5))
    client = await aiohttp_client(app)
    flooder = await add_person(app, "flood@example.org", Role.ATTENDEE)
    other = await add_person(app, "other@example.org", Role.ATTENDEE)
    pc, offer = await viewer_offer()
    peers.append(pc)
    # 520 offers, never connected: at most max_viewers_per_user (3) resources, the rest 429.
    replies = await asyncio.gather(
        *(post_offer(client, f"/whep/{LIVE}", flooder, offer) for _ in range(520))
    )
    statuses = [reply.status for reply in replies]
    assert statuses.count(201) == 3
    assert statuses.count(429) == 517
    body = await next(r for r in replies if r.status == 429).json()
    assert body["error"] == "rate_limited" and "DELETE" in body["reason"]
    assert app[HUB].stats().viewers == 3
    # Someone else still gets in, and watches.
    pc, offer = await viewer_offer()
    peers.append(pc)
    reply = await post_offer(client, f"/whep/{LIVE}", other, offer)
    assert reply.status == 201, await reply.text()
    await pc.setRemoteDescription(RTCSessionDescription(await reply.text(), "answer"))
    await connected(pc)


async def test_stage_namespace_tells_pages_live_and_paused(
    client: TestClient, people: dict[str, Person], peers: list[RTCPeerConnection], sio: Any
) -> None:
    page = await sio(people["attendee"], "/stage")
    states: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    page.on("stage", states.put_nowait, namespace="/stage")
    ack = await page.call("join", {"session": LIVE}, namespace="/stage", timeout=5)
    assert ack["ok"] and ack["stage"]["status"] == "idle" and "viewers" not in ack["stage"]
    refused = await page.call("join", {"session": "nope"}, namespace="/stage", timeout=5)
    assert refused["ok"] is False
    location = await go_live(client, people["faculty"], peers)
    state = await asyncio.wait_for(states.get(), 10)
    assert state["status"] == "live"
    assert [f["kind"] for f in state["feeds"]] == ["video", "audio"]
    assert (await client.delete(location, headers=people["faculty"].auth)).status == 200
    assert (await asyncio.wait_for(states.get(), 10))["status"] == "paused"


async def test_ice_endpoint_gives_ephemeral_turn_credentials(
    tmp_path: Path, conference_file: Path, aiohttp_client: Any, peers: list[RTCPeerConnection]
) -> None:
    from server.accounts import Role
    from tests.conftest import add_person

    app = create_app(
        make_settings(
            tmp_path / "data",
            conference_file,
            ice_servers="stun:stun.example.org:3478,turn:turn.example.org:3478",
            turn_secret="shh",
            turn_ttl_s=600,
        )
    )
    client = await aiohttp_client(app)
    person = await add_person(app, "c@example.org", Role.ATTENDEE)
    assert (await client.get("/api/ice")).status == 401
    body = await (await client.get("/api/ice", headers=person.auth)).json()
    stun, turn = body["iceServers"]
    assert stun == {"urls": ["stun:stun.example.org:3478"]}
    assert turn["urls"] == ["turn:turn.example.org:3478"]
    assert turn["username"].endswith(f":{person.user.id}") and turn["credential"]
    assert "shh" not in str(body)
    # WHEP (and WHIP) answers carry the same servers as RFC 9725 Link headers.
    pc, offer = await viewer_offer()
    peers.append(pc)
    reply = await post_offer(client, f"/whep/{LIVE}", person, offer)
    assert reply.status == 201
    links = reply.headers.getall("Link")
    assert links[0] == '<stun:stun.example.org:3478>; rel="ice-server"'
    assert links[1].startswith('<turn:turn.example.org:3478>; rel="ice-server"; username="')
    assert 'credential-type="password"' in links[1] and "shh" not in links[1]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    name=st.sampled_from(sorted(OFFERS)),
    mutations=st.lists(mutation, min_size=1, max_size=3),
    kind=st.sampled_from(["whip", "whep"]),
)
async def test_mutated_offers_over_http_never_give_a_500(
    client: TestClient, people: dict[str, Person], name: str, mutations: list[Mutation], kind: str
) -> None:
    who = people["faculty"] if kind == "whip" else people["attendee"]
    reply = await post_offer(client, f"/{kind}/{LIVE}", who, apply(name, mutations))
    if reply.status == 201:
        assert (await client.delete(reply.headers["Location"], headers=who.auth)).status == 200
    else:
        assert 400 <= reply.status < 500, await reply.text()
        assert (await reply.json())["reason"]
    stats = client.server.app[HUB].stats()
    assert stats.viewers == 0 and stats.publishers == 0


async def test_organizer_page_lists_recordings_and_only_organizers_download(
    client: TestClient, people: dict[str, Person], peers: list[RTCPeerConnection]
) -> None:
    viewer, _ = await watch(client, people["attendee"], peers)
    whip_location = await go_live(client, people["faculty"], peers)
    try:
        await viewer.frames(20)
    finally:
        await viewer.close()
    assert (await client.delete(whip_location, headers=people["faculty"].auth)).status == 200
    page = await (await client.get("/organizer", headers=people["organizer"].auth)).text()
    links = [part.split('"')[0] for part in page.split(f'href="/recordings/{LIVE}/')[1:]]
    assert len(links) == 2 and all(link.endswith(".mkv") for link in links)
    video = next(link for link in links if link.endswith("-video.mkv"))
    download = await client.get(f"/recordings/{LIVE}/{video}", headers=people["organizer"].auth)
    assert download.status == 200 and len(await download.read()) > 1000
    assert (
        await client.get(f"/recordings/{LIVE}/{video}", headers=people["faculty"].auth)
    ).status == 403
    assert (
        await client.get(f"/recordings/{LIVE}/../secret.key", headers=people["organizer"].auth)
    ).status == 404


async def test_studio_lists_only_sessions_the_user_may_publish(
    client: TestClient, people: dict[str, Person]
) -> None:
    page = await (await client.get("/studio", headers=people["faculty"].auth)).text()
    assert f'href="/studio/{LIVE}"' in page and 'href="/studio/afib-case"' in page
    assert 'href="/studio/diabetic-kidney-case"' not in page
    assert (await client.get("/studio", headers=people["attendee"].auth)).status == 403
    assert (await client.get(f"/studio/{LIVE}", headers=people["faculty2"].auth)).status == 403
    assert (await client.get(f"/studio/{LIVE}", headers=people["faculty"].auth)).status == 200


async def test_stage_ends_when_the_publishing_window_closes(
    client: TestClient, people: dict[str, Person], peers: list[RTCPeerConnection]
) -> None:
    app = client.server.app
    viewer, _ = await watch(client, people["attendee"], peers)
    await go_live(client, people["faculty"], peers)
    try:
        await viewer.frames(5)
        await end_finished_sessions(app, set())
        assert app[HUB].stage(LIVE).status == "live", "the window is still open"
        app[CLOCK].advance(4 * 3600)  # the conference clock moves past the session's window
        await end_finished_sessions(app, set())
        assert app[HUB].stage(LIVE).status == "ended"
        assert app[HUB].stats().viewers == 0 and app[HUB].stats().publishers == 0
        pc, offer = await viewer_offer()
        peers.append(pc)
        reply = await post_offer(client, f"/whep/{LIVE}", people["attendee"], offer)
        assert reply.status == 409 and "ended" in (await reply.json())["reason"]
    finally:
        await viewer.close()


async def test_an_offer_that_arrives_in_pieces_is_read_whole(
    client: TestClient, people: dict[str, Person], peers: list[RTCPeerConnection]
) -> None:
    """A slow client's body comes in several TCP reads; the whole offer must be parsed."""
    pc, offer = await viewer_offer()
    peers.append(pc)
    data = offer.encode()

    async def slowly() -> AsyncIterator[bytes]:
        for start in range(0, len(data), 200):
            yield data[start:start + 200]
            await asyncio.sleep(0.01)  # the slow network under test, not a wait for an event

    headers = {**SDP, **people["attendee"].auth}
    reply = await client.post(f"/whep/{LIVE}", data=slowly(), headers=headers)
    assert reply.status == 201, await reply.text()
    await client.delete(reply.headers["Location"], headers=people["attendee"].auth)


async def test_stage_gives_the_viewer_count_to_the_session_faculty_only(
    client: TestClient, people: dict[str, Person], peers: list[RTCPeerConnection], sio: Any
) -> None:
    pc, offer = await viewer_offer()
    peers.append(pc)
    reply = await post_offer(client, f"/whep/{LIVE}", people["attendee"], offer)
    assert reply.status == 201, await reply.text()

    async def stage_of(person: Person, session: str) -> dict[str, Any]:
        page = await sio(person, "/stage")
        ack = await page.call("join", {"session": session}, namespace="/stage", timeout=5)
        assert ack["ok"], ack
        return dict(ack["stage"])

    # ana.okafor teaches LIVE, sam.reyes moderates it: both see its one viewer.
    assert (await stage_of(people["faculty"], LIVE))["viewers"] == 1
    assert (await stage_of(people["moderator"], LIVE))["viewers"] == 1
    assert (await stage_of(people["organizer"], LIVE))["viewers"] == 1
    # li.chen teaches other sessions; ana.okafor does not teach diabetic-kidney-case.
    assert "viewers" not in await stage_of(people["faculty2"], LIVE)
    assert "viewers" not in await stage_of(people["faculty"], "diabetic-kidney-case")
    assert "viewers" not in await stage_of(people["attendee"], LIVE)
    assert "viewers" not in await stage_of(people["other_moderator"], LIVE)


async def test_captions_are_kept_as_webvtt_beside_the_recordings_when_the_stage_ends(
    client: TestClient, people: dict[str, Person]
) -> None:
    from server.state import SETTINGS

    app = client.server.app
    for text in ("Good morning, everyone.", "Let's start with <the> guideline & its classes."):
        reply = await client.post(f"/api/sessions/{LIVE}/captions", json={"text": text},
                                  headers=people["moderator"].auth)
        assert reply.status == 201, await reply.text()
    kept = app[SETTINGS].recordings_dir / LIVE / "captions.vtt"
    await end_finished_sessions(app, set())
    assert not kept.exists(), "the window is still open"
    app[CLOCK].advance(4 * 3600)
    await end_finished_sessions(app, set())
    body = kept.read_text(encoding="utf-8")
    assert body.startswith("WEBVTT")
    assert "Good morning, everyone." in body and "&lt;the&gt; guideline &amp; its classes." in body
    assert " --> " in body
    page = await (await client.get("/organizer", headers=people["organizer"].auth)).text()
    assert f'href="/recordings/{LIVE}/captions.vtt"' in page
    download = await client.get(f"/recordings/{LIVE}/captions.vtt", headers=people["organizer"].auth)
    assert download.status == 200 and download.headers["Content-Type"].startswith("text/vtt")
    assert await download.text() == body
    assert (
        await client.get(f"/recordings/{LIVE}/captions.vtt", headers=people["faculty"].auth)
    ).status == 403
