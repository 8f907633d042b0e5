"""Register, sign in, sign out; CSRF; rate limits; hostile forms and cookies never cause a 500."""

from __future__ import annotations

from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.state import ACCOUNTS
from tests.account_support import REGISTRATION, csrf_of
from tests.conftest import make_settings


async def test_register_signs_in_and_stores_profile(client: TestClient) -> None:
    form = dict(REGISTRATION, csrf=await csrf_of(client, "/register"))
    response = await client.post("/register", data=form, allow_redirects=False)
    assert response.status == 303
    me = await (await client.get("/api/me")).json()
    assert me["email"] == "grace@example.org" and me["role"] == "attendee"
    lobby = await (await client.get("/")).text()
    assert "Grace Hopper, MD" in lobby and "Sign out" in lobby


async def test_register_with_a_taken_email_is_refused_and_keeps_the_form(client: TestClient) -> None:
    await client.post("/register", data=dict(REGISTRATION, csrf=await csrf_of(client, "/register")))
    await client.post("/logout", data={"csrf": await csrf_of(client, "/")})
    response = await client.post("/register", data=dict(REGISTRATION, name="Other", csrf=await csrf_of(client, "/register")))
    assert response.status == 409
    page = await response.text()
    assert "already exists" in page and 'value="Other"' in page
    assert "correct horse battery" not in page


async def test_registration_errors_name_the_field(client: TestClient) -> None:
    form = dict(REGISTRATION, npi="12", csrf=await csrf_of(client, "/register"))
    response = await client.post("/register", data=form)
    assert response.status == 400
    assert "NPI must be 10 digits" in await response.text()
    assert await client.server.app[ACCOUNTS].by_email("grace@example.org") is None


async def test_password_is_stored_as_an_argon2_hash(client: TestClient) -> None:
    await client.post("/register", data=dict(REGISTRATION, csrf=await csrf_of(client, "/register")))
    found = await client.server.app[ACCOUNTS].password_hash("grace@example.org")
    assert found is not None and found[1].startswith("$argon2id$")


async def test_login_and_logout(client: TestClient) -> None:
    await client.post("/register", data=dict(REGISTRATION, csrf=await csrf_of(client, "/register")))
    await client.post("/logout", data={"csrf": await csrf_of(client, "/")})
    assert (await client.get("/api/me")).status == 401
    bad = await client.post("/login", data={"email": "grace@example.org", "password": "wrong password",
                                            "csrf": await csrf_of(client)})
    assert bad.status == 401 and "email or password is wrong" in await bad.text()
    good = await client.post("/login", data={"email": "grace@example.org", "password": "correct horse battery",
                                             "next": "/sessions/heart-failure-2026", "csrf": await csrf_of(client)},
                             allow_redirects=False)
    assert good.status == 303 and good.headers["Location"] == "/sessions/heart-failure-2026"
    assert (await client.get("/api/me")).status == 200


async def test_login_never_redirects_to_another_site(client: TestClient) -> None:
    await client.post("/register", data=dict(REGISTRATION, csrf=await csrf_of(client, "/register")))
    await client.post("/logout", data={"csrf": await csrf_of(client, "/")})
    response = await client.post("/login", data={"email": "grace@example.org", "password": "correct horse battery",
                                                 "next": "//evil.example/", "csrf": await csrf_of(client)},
                                 allow_redirects=False)
    assert response.headers["Location"] == "/"


async def test_form_without_csrf_token_is_refused(client: TestClient) -> None:
    response = await client.post("/register", data=REGISTRATION)
    assert response.status == 403
    assert "did not come from this site" in await response.text()
    assert await client.server.app[ACCOUNTS].by_email("grace@example.org") is None


async def test_login_is_rate_limited(aiohttp_client, tmp_path, conference_file) -> None:  # type: ignore[no-untyped-def]
    from server.app import create_app

    client = await aiohttp_client(create_app(make_settings(tmp_path, conference_file, login_attempts=3)))
    statuses = []
    for _ in range(4):
        response = await client.post("/login", data={"email": "x@example.org", "password": "nope nope nope",
                                                     "csrf": await csrf_of(client)})
        statuses.append(response.status)
    assert statuses == [401, 401, 401, 429]


async def test_tampered_session_cookie_is_anonymous(client: TestClient) -> None:
    client.session.cookie_jar.update_cookies({"rounds_session": "gAAAAABnot-a-real-fernet-token"})
    response = await client.get("/api/me")
    assert response.status == 401


async def test_session_page_asks_anonymous_visitors_to_sign_in(client: TestClient) -> None:
    response = await client.get("/sessions/heart-failure-2026", allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == "/login?next=/sessions/heart-failure-2026"


async def test_unknown_page_is_a_friendly_404(client: TestClient) -> None:
    response = await client.get("/no/such/page")
    assert response.status == 404
    assert "Back to the agenda" in await response.text()


async def test_organizer_page_is_for_organizers_only(client: TestClient, people) -> None:  # type: ignore[no-untyped-def]
    assert (await client.get("/organizer", headers=people["attendee"].auth)).status == 403
    assert (await client.get("/organizer", headers=people["organizer"].auth)).status == 200


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
          deadline=None)
@given(form=st.dictionaries(st.sampled_from(["name", "email", "password", "profession", "npi", "dob_month",
                                             "dob_day", "board_id", "nabp_eprofile_id", "organisation", "next"]),
                            st.text(max_size=300), max_size=8),
       path=st.sampled_from(["/register", "/login"]))
async def test_hostile_forms_get_a_4xx_or_a_redirect(client: TestClient, form: dict[str, str], path: str) -> None:
    form["csrf"] = await csrf_of(client, path)
    response = await client.post(path, data=form, allow_redirects=False)
    assert response.status in (303, 400, 401, 409, 429)


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(cookie=st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters=';,"\\'),
                      max_size=200),
       bearer=st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=200))
async def test_hostile_cookies_and_tokens_never_cause_a_500(client: TestClient, cookie: str, bearer: str) -> None:
    client.session.cookie_jar.clear()
    client.session.cookie_jar.update_cookies({"rounds_session": cookie})
    assert (await client.get("/api/me")).status == 401
    assert (await client.get("/")).status == 200
    assert (await client.get("/api/me", headers={"Authorization": f"Bearer {bearer}"})).status == 401
