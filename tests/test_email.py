"""Mail through SMTP to a real local aiosmtpd: address verification and password reset by signed,
expiring links (issue 13, item 15)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from server.app import create_app
from server.catalogue import Role
from server.state import CLOCK, ENGINE
from server.store.verified import VerifiedEmails
from tests.account_support import REGISTRATION, csrf_of
from tests.conftest import Mailbox, add_person, mail_settings

PASSWORD = "correct horse battery"


@pytest.fixture
async def mail_client(aiohttp_client: Any, tmp_path: Path, conference_file: Path, mailbox: Mailbox) -> TestClient:
    return await aiohttp_client(create_app(mail_settings(tmp_path / "data", conference_file, mailbox,
                                                         reset_attempts=3)))


def _link(message: Any, path: str) -> str:
    body = message.get_content()
    match = re.search(rf"https?://[^/\s]+({path}/\S+)", body)
    assert match, body
    return match.group(1)


async def test_registration_mails_a_link_that_verifies_the_address(mail_client: TestClient, mailbox: Mailbox) -> None:
    form = dict(REGISTRATION, csrf=await csrf_of(mail_client, "/register"))
    assert (await mail_client.post("/register", data=form, allow_redirects=False)).status == 303
    message = await mailbox.next()
    assert message["To"] == "grace@example.org" and "Confirm" in message["Subject"]
    link = _link(message, "/account/verify")
    store = VerifiedEmails(mail_client.server.app[ENGINE])
    user_id = (await (await mail_client.get("/api/me")).json())["id"]
    assert not await store.is_verified(user_id, "grace@example.org")
    tampered = await mail_client.get(link[:-3] + "xyz")
    assert tampered.status == 400
    page = await mail_client.get(link)
    assert page.status == 200 and "is confirmed" in await page.text()
    assert await store.is_verified(user_id, "grace@example.org")


async def test_certificates_and_leads_wait_for_a_verified_address(mail_client: TestClient) -> None:
    person = await add_person(mail_client.server.app, "ana@example.org", Role.ATTENDEE)
    response = await mail_client.get("/certificates/ama_pra_1.pdf", headers=person.auth)
    assert response.status == 403 and "verify your email address" in await response.text()


async def test_a_verification_link_expires(mail_client: TestClient, mailbox: Mailbox) -> None:
    await mail_client.post("/register", data=dict(REGISTRATION, csrf=await csrf_of(mail_client, "/register")))
    link = _link(await mailbox.next(), "/account/verify")
    import itsdangerous

    # itsdangerous checks the age against the wall clock: move its clock past the lifetime.
    real = itsdangerous.timed.time.time
    itsdangerous.timed.time.time = lambda: real() + 8 * 86400  # type: ignore[assignment]
    try:
        expired = await mail_client.get(link)
    finally:
        itsdangerous.timed.time.time = real  # type: ignore[assignment]
    assert expired.status == 400 and "expired" in await expired.text()


async def test_forgot_password_resets_by_link_once_and_tells_no_one_who_has_an_account(
        mail_client: TestClient, mailbox: Mailbox) -> None:
    person = await add_person(mail_client.server.app, "ana@example.org", Role.ATTENDEE, password=PASSWORD)
    no_csrf = await mail_client.post("/forgot-password", data={"email": "ana@example.org"})
    assert no_csrf.status == 403
    answers = []
    for email in ("ana@example.org", "nobody@example.org"):
        response = await mail_client.post("/forgot-password", data={"email": email, "csrf": await csrf_of(mail_client, "/forgot-password")})
        answers.append((response.status, await response.text()))
    assert answers[0][0] == answers[1][0] == 200
    assert "If an account exists" in answers[0][1] and answers[0][1] == answers[1][1]
    message = await mailbox.next()
    assert message["To"] == "ana@example.org" and mailbox.inbox.empty()  # nothing to the unknown one
    link = _link(message, "/reset-password")
    assert (await mail_client.get(link)).status == 200
    short = await mail_client.post(link, data={"new": "short", "csrf": await csrf_of(mail_client, link)})
    assert short.status == 400
    done = await mail_client.post(link, data={"new": "a brand new password", "csrf": await csrf_of(mail_client, link)},
                                  allow_redirects=False)
    assert done.status == 303 and done.headers["Location"] == "/login?reset=1"
    again = await mail_client.post(link, data={"new": "another new password", "csrf": await csrf_of(mail_client, "/login")})
    assert again.status == 400 and "already used" in await again.text()
    # The old bearer token ended with the old password; the new password signs in.
    assert (await mail_client.get("/api/me", headers=person.auth)).status == 401
    login = await mail_client.post("/login", data={"email": "ana@example.org", "password": "a brand new password",
                                                   "csrf": await csrf_of(mail_client)}, allow_redirects=False)
    assert login.status == 303


async def test_reset_requests_are_rate_limited(mail_client: TestClient, mailbox: Mailbox) -> None:
    statuses = []
    for _ in range(4):
        response = await mail_client.post("/forgot-password", data={
            "email": "nobody@example.org", "csrf": await csrf_of(mail_client, "/forgot-password")})
        statuses.append(response.status)
    assert statuses == [200, 200, 200, 429]


async def test_a_lead_waits_for_a_verified_address(mail_client: TestClient) -> None:
    import socketio

    person = await add_person(mail_client.server.app, "ana@example.org", Role.ATTENDEE)
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(str(mail_client.server.make_url("/")), namespaces=["/hall"], auth={"token": person.token},
                         transports=["websocket"], wait_timeout=10)
    try:
        assert (await client.call("enter", {"booth": "meridian"}, namespace="/hall", timeout=10))["ok"]
        shared = await client.call("share", {"booth": "meridian", "fields": ["name", "email"]}, namespace="/hall",
                                   timeout=10)
        assert shared["ok"] is False and shared["error"] == "email_unverified"
        await VerifiedEmails(mail_client.server.app[ENGINE]).mark(person.user.id, "ana@example.org",
                                                                 mail_client.server.app[CLOCK].now())
        shared = await client.call("share", {"booth": "meridian", "fields": ["name", "email"]}, namespace="/hall",
                                   timeout=10)
        assert shared["ok"] is True, shared
    finally:
        await client.disconnect()
