"""Sign-in limits stop guessing without shutting out crowds behind one address (issue 13, item 1)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from server.app import create_app
from server.catalogue import Role
from server.signin import retry_after, signin_delay
from server.state import CLOCK
from tests.account_support import csrf_of
from tests.conftest import add_person, make_settings

PASSWORD = "correct horse battery"


async def _client(aiohttp_client: Any, tmp_path: Path, conference_file: Path, **overrides: Any) -> TestClient:
    return await aiohttp_client(create_app(make_settings(tmp_path, conference_file, **overrides)))


async def _login(client: TestClient, email: str, password: str, forwarded: str | None = None) -> int:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    csrf = await csrf_of(client)
    response = await client.post("/login", data={"email": email, "password": password, "csrf": csrf},
                                 headers=headers, allow_redirects=False)
    status = response.status
    if status == 303:  # sign out again, so the next sign-in starts anonymous
        await client.post("/logout", data={"csrf": await csrf_of(client, "/")}, allow_redirects=False)
    return status


def test_the_wait_grows_after_the_free_failures_and_is_capped() -> None:
    assert [signin_delay(n, 3, 60) for n in range(9)] == [0, 0, 0, 1, 2, 4, 8, 16, 32]
    assert signin_delay(10_000, 3, 60) == 60
    assert retry_after(4, last_at=100.0, now=101.5, free=3, max_s=60) == 1
    assert retry_after(4, last_at=100.0, now=102.0, free=3, max_s=60) == 0
    assert retry_after(2, last_at=100.0, now=100.0, free=3, max_s=60) == 0


async def test_sixty_sign_ins_from_one_proxy_address_all_pass(aiohttp_client: Any, tmp_path: Path,
                                                            conference_file: Path) -> None:
    # The defaults: before, the 11th sign-in from one address in five minutes got 429.
    client = await _client(aiohttp_client, tmp_path, conference_file, login_attempts=50)
    people = [await add_person(client.server.app, f"p{i}@example.org", Role.ATTENDEE, password=PASSWORD)
              for i in range(6)]
    statuses = [await _login(client, people[i % 6].user.email, PASSWORD) for i in range(60)]
    assert statuses == [303] * 60


async def test_failures_are_counted_per_forwarded_address_only_from_trusted_proxies(
        aiohttp_client: Any, tmp_path: Path, conference_file: Path) -> None:
    client = await _client(aiohttp_client, tmp_path / "a", conference_file, login_attempts=3,
                           trusted_proxies="127.0.0.1,::1")
    await add_person(client.server.app, "ana@example.org", Role.ATTENDEE, password=PASSWORD)
    guesser = "203.0.113.7"
    statuses = [await _login(client, f"nobody{i}@example.org", "wrong password!", f"198.51.100.1, {guesser}")
                for i in range(4)]
    assert statuses == [401, 401, 401, 429]
    # Another hospital's users behind the same proxy are not refused.
    assert await _login(client, "ana@example.org", PASSWORD, "203.0.113.8") == 303

    # Without trusted proxies the header is the client's word and is ignored: the peer counts.
    direct = await _client(aiohttp_client, tmp_path / "b", conference_file, login_attempts=3)
    statuses = [await _login(direct, f"nobody{i}@example.org", "wrong password!", f"192.0.2.{i}")
                for i in range(4)]
    assert statuses == [401, 401, 401, 429]


async def test_an_account_is_slowed_not_locked_after_wrong_passwords(aiohttp_client: Any, tmp_path: Path,
                                                                   conference_file: Path) -> None:
    client = await _client(aiohttp_client, tmp_path, conference_file, login_free_failures=2, login_delay_max_s=60)
    await add_person(client.server.app, "speaker@example.org", Role.FACULTY, password=PASSWORD)
    assert [await _login(client, "speaker@example.org", "wrong password!") for _ in range(2)] == [401, 401]
    csrf = await csrf_of(client)
    refused = await client.post("/login", data={"email": "speaker@example.org", "password": PASSWORD,
                                                "csrf": csrf}, allow_redirects=False)
    assert refused.status == 429 and refused.headers["Retry-After"] == "1"
    assert "try again in 1 s" in await refused.text()
    client.server.app[CLOCK].advance(1)  # the wait (1 s after the second failure) has passed
    assert await _login(client, "speaker@example.org", PASSWORD) == 303
    # The right password cleared the count: one more slip costs no wait.
    assert await _login(client, "speaker@example.org", "wrong password!") == 401
    assert await _login(client, "speaker@example.org", PASSWORD) == 303


async def test_registrations_are_limited_per_address(aiohttp_client: Any, tmp_path: Path,
                                                     conference_file: Path) -> None:
    client = await _client(aiohttp_client, tmp_path, conference_file, register_attempts=2)
    statuses = []
    for i in range(3):
        form = {"name": f"Person {i}", "email": f"r{i}@example.org", "password": PASSWORD,
                "profession": "other", "csrf": await csrf_of(client, "/register")}
        response = await client.post("/register", data=form, allow_redirects=False)
        statuses.append(response.status)
        if response.status == 303:
            await client.post("/logout", data={"csrf": await csrf_of(client, "/")}, allow_redirects=False)
    assert statuses == [303, 303, 429]
    assert "too many registrations" in await response.text()
    assert int(response.headers["Retry-After"]) > 0
