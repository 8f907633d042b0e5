"""Live captions: the WebVTT rules, the HTTP routes (keys, upload, file) and the /captions namespace."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from server.captions import Cue, live_cue, parse_vtt, timestamp, to_vtt
from server.catalogue import Role
from server.errors import BadRequest
from tests.conftest import Person, SioFactory, add_person

S = "heart-failure-2026"
START = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)


def test_a_live_cue_starts_when_sent_relative_to_the_session_and_stays_for_its_reading_time() -> None:
    cue = live_cue("  Good   morning \n\n everyone ", START + timedelta(minutes=61, seconds=2.5), START)
    assert cue == Cue(3_662_500, 3_662_500 + 1_500, "Good morning\neveryone")
    long = live_cue(" ".join(["word"] * 40), START + timedelta(seconds=1), START)
    assert long.end_ms - long.start_ms == 6_000
    assert live_cue("early", START - timedelta(minutes=5), START).start_ms == 0
    for bad in ["", "   \n ", None, "x" * 501]:
        with pytest.raises(BadRequest):
            live_cue(bad, START, START)


def test_webvtt_is_written_per_the_spec_and_reads_back() -> None:
    assert timestamp(3_723_004) == "01:02:03.004"
    cues = [Cue(1_000, 9_000, "A <b> & C"), Cue(3_000, 5_000, "second")]
    text = to_vtt(cues, "Heart failure --> 2026")
    assert text == ("WEBVTT - Heart failure -> 2026\n\n"
                    "1\n00:00:01.000 --> 00:00:03.000\nA &lt;b&gt; &amp; C\n\n"
                    "2\n00:00:03.000 --> 00:00:05.000\nsecond\n")
    assert parse_vtt(text) == [Cue(1_000, 3_000, "A <b> & C"), Cue(3_000, 5_000, "second")]


def test_an_uploaded_file_keeps_cues_and_drops_notes_settings_and_markup() -> None:
    text = ("\ufeffWEBVTT Kind: captions\r\nLanguage: en\r\n\r\nNOTE made by hand\r\n\r\n"
            "intro\r\n00:01.500 --> 00:04.000 align:start line:90%\r\n<v Dr Okafor>Welcome</v>\r\n\r\n"
            "01:00:00.000 --> 01:00:02.250\r\nLater\r\nsecond line\r\n")
    assert parse_vtt(text) == [Cue(1_500, 4_000, "Welcome"), Cue(3_600_000, 3_602_250, "Later\nsecond line")]


@pytest.mark.parametrize(("text", "line"), [
    ("WEBVTTX\n\n00:01.000 --> 00:02.000\nx\n", 1),
    ("SRT\n", 1),
    ("WEBVTT\n00:01.000 --> 00:02.000\nx\n", 2),
    ("WEBVTT\n\n00:01,000 --> 00:02,000\nx\n", 3),
    ("WEBVTT\n\n00:61.000 --> 00:62.000\nx\n", 3),
    ("WEBVTT\n\n00:05.000 --> 00:02.000\nx\n", 3),
    ("WEBVTT\n\nid\n00:01.000 --> 00:02.000\nx --> y\n", 5),
])
def test_a_malformed_file_is_refused_with_the_line_at_fault(text: str, line: int) -> None:
    with pytest.raises(BadRequest) as info:
        parse_vtt(text)
    assert info.value.extra["line"] == line


async def _people(client: TestClient) -> dict[str, Person]:
    app = client.server.app
    return {
        "organizer": await add_person(app, "org@demo.rounds", Role.ORGANIZER),
        "attendee": await add_person(app, "maria@example.org", Role.ATTENDEE),
        "moderator": await add_person(app, "sam.reyes@demo.rounds", Role.MODERATOR),
    }


async def test_keys_uploads_and_the_file_check_who_is_asking(client: TestClient) -> None:
    people = await _people(client)
    key_url, post_url = f"/api/sessions/{S}/caption-key", f"/api/sessions/{S}/captions"
    assert (await client.post(key_url, headers=people["attendee"].auth)).status == 403
    assert (await client.put(f"/api/sessions/{S}/captions.vtt", data="WEBVTT\n",
                             headers=people["attendee"].auth)).status == 403
    assert (await client.post(post_url, json={"text": "hi"}, headers=people["attendee"].auth)).status == 403
    assert (await client.get(f"/sessions/{S}/captions.vtt", allow_redirects=False)).status == 401
    assert (await client.post("/api/sessions/no-such/caption-key", headers=people["organizer"].auth)).status == 404

    first = (await (await client.post(key_url, headers=people["organizer"].auth)).json())["key"]
    second = (await (await client.post(key_url, headers=people["organizer"].auth)).json())["key"]
    assert first.startswith("rcap_") and first != second
    assert (await client.post(post_url, json={"text": "old key"}, headers={"Authorization": f"Bearer {first}"})).status == 401
    other = await client.post("/api/sessions/diabetic-kidney-case/captions", json={"text": "wrong session"},
                              headers={"Authorization": f"Bearer {second}"})
    assert other.status == 401  # a key is for its own session only
    empty = await client.post(post_url, json={"text": " "}, headers={"Authorization": f"Bearer {second}"})
    assert empty.status == 400 and (await empty.json())["field"] == "text"
    assert (await client.post(post_url, json={"text": "by the moderator"}, headers=people["moderator"].auth)).status == 201
    not_theirs = await client.post("/api/sessions/insulin-workshop/captions", json={"text": "x"},
                                   headers=people["moderator"].auth)
    assert not_theirs.status == 403

    bad = await client.put(f"/api/sessions/{S}/captions.vtt", data="WEBVTT\n\n1\n00:00:01 --> 00:00:02\nx\n",
                           headers=people["organizer"].auth)
    assert bad.status == 400 and "line 4" in (await bad.json())["reason"]
    good = await client.put(f"/api/sessions/{S}/captions.vtt", headers=people["organizer"].auth,
                            data="WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nUploaded\n")
    assert good.status == 200 and (await good.json())["cues"] == 1
    vtt = await client.get(f"/sessions/{S}/captions.vtt", headers=people["attendee"].auth)
    assert vtt.status == 200 and vtt.content_type == "text/vtt"
    assert (await vtt.text()).endswith("1\n00:00:01.000 --> 00:00:02.000\nUploaded\n")


async def test_a_moderator_sends_over_socketio_and_viewers_hear_it(client: TestClient, sio: SioFactory) -> None:
    people = await _people(client)
    viewer = await sio(people["attendee"], "/captions")
    heard: asyncio.Queue[Any] = asyncio.Queue()
    viewer.on("caption", heard.put_nowait, namespace="/captions")
    joined = await viewer.call("join", {"session": S}, namespace="/captions")
    assert joined["ok"] and joined["cues"] == []
    refused = await viewer.call("send", {"session": S, "text": "not mine"}, namespace="/captions")
    assert refused["ok"] is False and refused["error"] == "not_allowed"

    organizer = await sio(people["organizer"], "/captions")
    sent = await organizer.call("send", {"session": S, "text": "From the captioner"}, namespace="/captions")
    assert sent["ok"], sent
    caption = await asyncio.wait_for(heard.get(), 5)
    assert caption["session"] == S and caption["text"] == "From the captioner"
    assert caption["start_ms"] == sent["cue"]["start_ms"]
    missing = await viewer.call("join", {"session": "no-such"}, namespace="/captions")
    assert missing["error"] == "not_found"
