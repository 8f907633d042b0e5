"""Bad input answers 4xx with a reason, never 500, and aborted bodies are not errors (issue 13, item 11)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from server.credit import ClaimRejected, parse_amount
from server.settings import Settings
from server.state import METRICS
from tests.conftest import Person, SioFactory, make_settings
from tests.credit_support import HF, claim, ready, transcript

People = dict[str, Person]


@pytest.fixture
def settings(tmp_path: Path, conference_file: Path) -> Settings:
    return make_settings(tmp_path / "data", conference_file, heartbeat_tolerance_s=7200)


async def test_json_nested_2000_deep_is_a_400(client: TestClient, people: People) -> None:
    body = '{"credit_type": "ama_pra_1", "amount": ' + "[" * 2000 + "]" * 2000 + "}"
    response = await client.post(f"/api/sessions/{HF}/claim", data=body,
                                 headers={**people["attendee"].auth, "Content-Type": "application/json"})
    assert response.status == 400
    assert "nested too deeply" in (await response.json())["reason"]


@pytest.mark.parametrize("amount", ["1e1000000", "1e-999999999", "-1e1000000", "0.25e-30"])
def test_absurd_exponents_are_refused_when_parsed(amount: str) -> None:
    with pytest.raises(ClaimRejected, match="out of range"):
        parse_amount(amount)


async def test_absurd_claim_amounts_are_400_and_do_not_block_the_real_claim(client: TestClient,
                                                                           people: People) -> None:
    maria = people["attendee"]
    await ready(client, maria)
    for amount in ("1e1000000", "1e-999999999", "NaN", "Infinity"):
        response = await claim(client, maria, amount)
        assert response.status == 400, (amount, await response.text())
        assert (await response.json())["reason"]
    assert (await transcript(client, maria))[HF]["claimed"] == {}
    good = await claim(client, maria, "1.0")
    assert good.status == 201, await good.text()


async def test_a_lone_surrogate_in_json_is_a_400(client: TestClient, people: People) -> None:
    body = '{"credit_type": "ama_pra_1", "amount": "1.0", "attest": true, "note": "\\ud800"}'
    response = await client.post(f"/api/sessions/{HF}/claim", data=body,
                                 headers={**people["attendee"].auth, "Content-Type": "application/json"})
    assert response.status == 400
    assert "lone surrogate" in (await response.json())["reason"]


async def test_a_lone_surrogate_in_a_question_or_chat_is_refused(people: People, sio: SioFactory) -> None:
    qa = await sio(people["attendee"], "/qa")
    await qa.call("join", {"session": HF}, namespace="/qa", timeout=10)
    asked = await qa.call("ask", {"session": HF, "text": "why \ud800?"}, namespace="/qa", timeout=10)
    assert asked["ok"] is False and asked["error"] == "bad_request" and asked["field"] == "text"
    hall = await sio(people["attendee"], "/hall")
    await hall.call("enter", {"booth": "meridian"}, namespace="/hall", timeout=10)
    said = await hall.call("chat", {"booth": "meridian", "text": "hi \udfff"}, namespace="/hall", timeout=10)
    assert said["ok"] is False and said["error"] == "bad_request"


async def test_a_lone_surrogate_in_an_email_is_a_400(client: TestClient) -> None:
    from tests.account_support import csrf_of

    csrf = (await csrf_of(client)).encode()
    form = (b'--B\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n' + csrf +
            b'\r\n--B\r\nContent-Disposition: form-data; name="email"\r\n\r\n\xed\xa0\x80@example.org'
            b'\r\n--B\r\nContent-Disposition: form-data; name="password"\r\n\r\nwhatever whatever\r\n--B--\r\n')
    response = await client.post("/login", data=form, headers={"Content-Type": "multipart/form-data; boundary=B"})
    assert 400 <= response.status < 500, await response.text()


async def test_5000_digit_ids_are_4xx(client: TestClient, people: People) -> None:
    huge = "9" * 5000
    for path in (f"/hall/meridian/files/{huge}", f"/hall/meridian/links/{huge}", f"/api/sessions/{huge}"):
        response = await client.get(path, headers=people["organizer"].auth)
        assert 400 <= response.status < 500, path
    body = '{"credit_type": "ama_pra_1", "amount": ' + huge + ', "attest": true}'
    response = await client.post(f"/api/sessions/{HF}/claim", data=body,
                                 headers={**people["attendee"].auth, "Content-Type": "application/json"})
    assert response.status == 400


async def test_an_aborted_body_is_not_logged_as_an_error(server: TestServer, caplog: pytest.LogCaptureFixture,
                                                         people: People) -> None:
    caplog.set_level(logging.DEBUG)
    bearer = f"Authorization: Bearer {people['attendee'].token}\r\n"
    for path, headers in (("/login", "Content-Type: application/x-www-form-urlencoded\r\n"),
                          (f"/api/sessions/{HF}/claim", "Content-Type: application/json\r\n" + bearer)):
        _, writer = await asyncio.open_connection(server.host, server.port)
        writer.write(f"POST {path} HTTP/1.1\r\nHost: x\r\n{headers}Content-Length: 5000\r\n\r\n".encode() + b"a=1&")
        await writer.drain()
        writer.close()  # the browser went away mid-body
        await writer.wait_closed()
    # Wait until the server has finished with both (the metrics middleware counts each at its end).
    requests = server.app[METRICS].requests

    async def handled() -> None:
        while sum(requests.labels(route, status)._value.get() for route in routes for status in ("499", "500")) < 2:
            await asyncio.sleep(0.01)

    routes = ("/login", "/api/sessions/{id}/claim")
    await asyncio.wait_for(handled(), 10)
    assert all(requests.labels(route, "500")._value.get() == 0 for route in routes), "counted as server errors"
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]
