"""Sessions that end: sign-out and a password change end them server-side; tokens are revocable
(issue 13, item 8)."""

from __future__ import annotations

from pathlib import Path

import aiohttp
from aiohttp import ClientSession, CookieJar
from aiohttp.test_utils import TestServer

from server.catalogue import Role
from tests.conftest import add_person
from tests.processes import clean_env, run_rounds, serving

PASSWORD = "correct horse battery"


async def _signed_in(server: TestServer, email: str, password: str = PASSWORD) -> tuple[ClientSession, str]:
    """A browser session signed in as ``email``, and the value of its session cookie."""
    http = ClientSession(str(server.make_url("")), cookie_jar=CookieJar(unsafe=True))
    page = await (await http.get("/login")).text()
    csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    response = await http.post("/login", data={"email": email, "password": password, "csrf": csrf},
                               allow_redirects=False)
    assert response.status == 303
    cookie = http.cookie_jar.filter_cookies(server.make_url("/"))["rounds_session"].value
    return http, cookie


async def _csrf(http: ClientSession, path: str = "/") -> str:
    page = await (await http.get(path)).text()
    return page.split('name="csrf" value="', 1)[1].split('"', 1)[0]


async def _me_with_cookie(server: TestServer, cookie: str) -> int:
    async with ClientSession(cookies={"rounds_session": cookie}) as other, \
            other.get(server.make_url("/api/me")) as response:
        return response.status


async def test_a_cookie_copied_before_sign_out_no_longer_works(server: TestServer) -> None:
    await add_person(server.app, "ana@example.org", Role.ATTENDEE, password=PASSWORD)
    http, copied = await _signed_in(server, "ana@example.org")
    async with http:
        assert await _me_with_cookie(server, copied) == 200  # the copy works while signed in
        await http.post("/logout", data={"csrf": await _csrf(http)}, allow_redirects=False)
    assert await _me_with_cookie(server, copied) == 401


async def test_a_password_change_ends_every_other_session_and_token(server: TestServer) -> None:
    person = await add_person(server.app, "ana@example.org", Role.ATTENDEE, password=PASSWORD)
    laptop, laptop_cookie = await _signed_in(server, "ana@example.org")
    phone, phone_cookie = await _signed_in(server, "ana@example.org")
    async with laptop, phone:
        csrf = await _csrf(laptop, "/account/password")
        wrong = await laptop.post("/account/password", data={"current": "not it at all", "new": "a new password!",
                                                             "csrf": csrf})
        assert wrong.status == 401
        changed = await laptop.post("/account/password", data={"current": PASSWORD, "new": "a new password!",
                                                               "csrf": csrf}, allow_redirects=False)
        assert changed.status == 303
        assert (await laptop.get("/api/me")).status == 200  # the browser that changed it stays in
        assert await _me_with_cookie(server, phone_cookie) == 401
        assert await _me_with_cookie(server, laptop_cookie) == 401  # its old session ended too
    async with ClientSession() as api, api.get(server.make_url("/api/me"), headers=person.auth) as response:
        assert response.status == 401 and (await response.json())["reason"] == "this token was revoked"
    http, _ = await _signed_in(server, "ana@example.org", "a new password!")
    await http.close()


async def test_a_token_revokes_itself(server: TestServer) -> None:
    person = await add_person(server.app, "bot@example.org", Role.ORGANIZER)
    async with ClientSession() as api:
        async with api.get(server.make_url("/api/me"), headers=person.auth) as response:
            assert response.status == 200
        async with api.post(server.make_url("/api/tokens/revoke"), headers=person.auth) as response:
            assert response.status == 200 and (await response.json()) == {"revoked": True}
        async with api.get(server.make_url("/api/me"), headers=person.auth) as response:
            assert response.status == 401


async def test_rounds_token_revoke(tmp_path: Path) -> None:
    env = clean_env(ROUNDS_DATA_DIR=str(tmp_path), ROUNDS_ICE_ADDRESSES="127.0.0.1")
    async with serving(env) as server:
        code, token, err = await run_rounds(env, "token", "organizer@demo.rounds")
        assert code == 0, err
        headers = {"Authorization": f"Bearer {token.strip()}"}
        async with aiohttp.ClientSession() as http:
            async with http.get(server.url + "api/me", headers=headers) as r:
                assert r.status == 200
            code, out, err = await run_rounds(env, "token", "--revoke", token.strip())
            assert code == 0 and "revoked" in out, err
            async with http.get(server.url + "api/me", headers=headers) as r:
                assert r.status == 401
