from __future__ import annotations

from aiohttp.test_utils import TestClient


async def test_conference_describes_the_meeting(client: TestClient) -> None:
    body = await (await client.get("/api/conference")).json()
    assert body["id"] == "cardiometabolic-2026"
    assert {"ama_pra_1", "ancc", "acpe", "participation"} == set(body["credit_types"])
    assert [t["id"] for t in body["tracks"]] == ["main", "practice"]


async def test_sessions_filter_by_state(client: TestClient) -> None:
    everything = (await (await client.get("/api/sessions")).json())["sessions"]
    live = (await (await client.get("/api/sessions?state=live")).json())["sessions"]
    upcoming = (await (await client.get("/api/sessions?state=upcoming")).json())["sessions"]
    assert [s["id"] for s in live] == ["heart-failure-2026"]
    assert len(everything) == 10 and len(upcoming) == 9
    first = live[0]
    assert set(first) >= {"id", "title", "format", "start", "end", "state", "faculty", "credits"}
    assert first["credits"] == {"ama_pra_1": "1.25", "ancc": "1.25", "acpe": "1.25"}  # 85 minutes of instruction
    assert first["faculty"] == ["Ana Okafor, MD, FACC"]


async def test_bad_state_filter_is_a_400_with_a_reason(client: TestClient) -> None:
    response = await client.get("/api/sessions?state=paused")
    assert response.status == 400
    assert (await response.json())["reason"] == "state must be live, upcoming or ended"


async def test_session_detail_and_unknown_session(client: TestClient) -> None:
    body = await (await client.get("/api/sessions/industry-lunch")).json()
    assert body["accredited"] is False and body["industry_supporter"] == "Meridian Pharma"
    detail = await (await client.get("/api/sessions/heart-failure-2026")).json()
    assert detail["disclosures"][0]["relationships"][0]["company"] == "Cardiova Therapeutics"
    missing = await client.get("/api/sessions/nope")
    assert missing.status == 404 and (await missing.json())["error"] == "not_found"


async def test_me_needs_a_valid_token(client: TestClient, people) -> None:  # type: ignore[no-untyped-def]
    assert (await client.get("/api/me")).status == 401
    bad = await client.get("/api/me", headers={"Authorization": "Bearer nonsense"})
    assert bad.status == 401 and bad.headers["WWW-Authenticate"].startswith("Bearer")
    me = await (await client.get("/api/me", headers=people["faculty"].auth)).json()
    assert me["role"] == "faculty" and "heart-failure-2026" in me["faculty_of"]


async def test_healthz_readyz_and_metrics(client: TestClient) -> None:
    assert (await (await client.get("/healthz")).json()) == {"status": "ok"}
    ready = await (await client.get("/readyz")).json()
    assert ready == {"status": "ok", "checks": {"database": "ok"}}
    await client.get("/api/sessions/nope")
    text = await (await client.get("/metrics")).text()
    assert 'rounds_http_requests_total{route="/api/sessions/{id}",status="404"} 1.0' in text
    assert "# TYPE rounds_sockets_connected gauge" in text


async def test_readyz_reports_an_unreachable_redis(aiohttp_client, tmp_path, conference_file) -> None:  # type: ignore[no-untyped-def]
    from server.app import create_app
    from tests.conftest import make_settings
    from tests.services import free_port

    settings = make_settings(tmp_path, conference_file, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    client = await aiohttp_client(create_app(settings))
    response = await client.get("/readyz")
    assert response.status == 503
    assert (await response.json())["checks"] == {"database": "ok", "redis": "unreachable"}


async def test_an_unexpected_error_is_a_500_with_a_request_id_and_no_internals(
        aiohttp_client, settings, caplog) -> None:  # type: ignore[no-untyped-def]
    from aiohttp import web

    from server.app import create_app

    app = create_app(settings)

    async def boom(request: web.Request) -> web.Response:
        raise RuntimeError("secret internals")

    app.router.add_get("/api/boom", boom)
    app.router.add_get("/boom", boom)
    client = await aiohttp_client(app)
    response = await client.get("/api/boom", headers={"X-Request-Id": "req-42"})
    assert response.status == 500
    body = await response.json()
    assert body["error"] == "internal" and "req-42" in body["reason"]
    assert "secret internals" not in await response.text()
    page = await client.get("/boom")
    assert page.status == 500 and "secret internals" not in await page.text()
    assert "Something went wrong" in await page.text()
    assert any("req-42" in r.getMessage() and r.exc_info for r in caplog.records)
