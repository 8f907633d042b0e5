"""The disclosure gate: an accredited session's page waits for this disclosure version's acknowledgement."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient

from server.catalogue import Disclosure, Relationship
from server.credit import disclosure_version
from server.state import CATALOGUE, ENGINE
from server.store.credit import disclosure_acks
from tests.conftest import Person, make_settings
from tests.credit_support import HF

pytestmark = pytest.mark.unacknowledged  # these tests pass the disclosure gate themselves

People = dict[str, Person]


async def csrf_of(client: TestClient, path: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', await (await client.get(path)).text())
    assert match is not None
    return match.group(1)


async def acks(client: TestClient) -> list[tuple[int, str, str]]:
    async with client.app[ENGINE].connect() as conn:
        rows = await conn.execute(sa.select(disclosure_acks.c.user_id, disclosure_acks.c.session_id,
                                            disclosure_acks.c.version))
        return [tuple(r) for r in rows]


async def test_accredited_session_page_redirects_to_its_disclosure(client: TestClient, people: People) -> None:
    resp = await client.get(f"/sessions/{HF}", headers=people["attendee"].auth, allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == f"/sessions/{HF}/disclosure"


async def test_disclosure_lists_people_companies_relationships_and_mitigation(client: TestClient, people: People) -> None:
    resp = await client.get(f"/sessions/{HF}/disclosure", headers=people["attendee"].auth)
    assert resp.status == 200
    html = await resp.text()
    for text in ("Ana Okafor, MD, FACC", "Cardiova Therapeutics", "Advisory board (ended 2025)",
                 "Planning committee", "No relevant financial relationships", "have been mitigated",
                 "no commercial support"):
        assert text in html, text
    main = html.split("<main", 1)[1]
    assert "<img" not in main  # companies by name only: no logos


async def test_acknowledging_records_the_version_and_opens_the_session(client: TestClient, people: People) -> None:
    maria = people["attendee"]
    session = client.app[CATALOGUE].session(HF)
    assert session is not None
    page = await (await client.get(f"/sessions/{HF}/disclosure", headers=maria.auth)).text()
    version = re.search(r'name="version" value="([0-9a-f]+)"', page)
    assert version is not None and version.group(1) == disclosure_version(session)
    resp = await client.post(f"/sessions/{HF}/disclosure", data={"version": version.group(1)}, headers=maria.auth,
                             allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == f"/sessions/{HF}"
    assert await acks(client) == [(maria.user.id, HF, version.group(1))]
    opened = await client.get(f"/sessions/{HF}", headers=maria.auth, allow_redirects=False)
    assert opened.status == 200 and 'data-session="heart-failure-2026"' in await opened.text()
    # Acknowledging again records nothing new.
    await client.post(f"/sessions/{HF}/disclosure", data={"version": version.group(1)}, headers=maria.auth)
    assert len(await acks(client)) == 1


async def test_a_stale_disclosure_version_is_refused(client: TestClient, people: People) -> None:
    resp = await client.post(f"/api/sessions/{HF}/disclosure", json={"version": "0" * 32},
                             headers=people["attendee"].auth)
    assert resp.status == 400 and (await resp.json())["field"] == "version"
    assert await acks(client) == []


def test_any_change_to_the_disclosure_changes_its_version() -> None:
    from server.conference_file import load_conference
    from tests.conftest import DEMO

    session = load_conference(DEMO).catalogue.session(HF)
    assert session is not None
    changed = [
        session.__class__(**{**{f: getattr(session, f) for f in session.__dataclass_fields__},
                             "disclosures": session.disclosures[:1]}),
        session.__class__(**{**{f: getattr(session, f) for f in session.__dataclass_fields__},
                             "commercial_supporters": ("Acme Foundation",)}),
        session.__class__(**{**{f: getattr(session, f) for f in session.__dataclass_fields__},
                             "disclosures": (Disclosure("Ana Okafor, MD, FACC", "faculty",
                                                        (Relationship("Cardiova Therapeutics", "Consultant"),)),
                                             *session.disclosures[1:])}),
    ]
    versions = {disclosure_version(s) for s in changed} | {disclosure_version(session)}
    assert len(versions) == 4


async def test_session_api_tells_clients_the_version_and_whether_it_is_acknowledged(
        client: TestClient, people: People) -> None:
    maria = people["attendee"]
    info = await (await client.get(f"/api/sessions/{HF}", headers=maria.auth)).json()
    assert info["disclosure"]["acknowledged"] is False and info["disclosure"]["required"] is True
    resp = await client.post(f"/api/sessions/{HF}/disclosure", json={"version": info["disclosure"]["version"]},
                             headers=maria.auth)
    assert resp.status == 200
    info = await (await client.get(f"/api/sessions/{HF}", headers=maria.auth)).json()
    assert info["disclosure"]["acknowledged"] is True


async def test_non_accredited_sessions_have_no_gate(client: TestClient, people: People) -> None:
    resp = await client.get("/sessions/industry-lunch", headers=people["attendee"].auth, allow_redirects=False)
    assert resp.status == 200
    refused = await client.post("/api/sessions/industry-lunch/disclosure", json={"version": "x"},
                                headers=people["attendee"].auth)
    assert refused.status == 400


async def test_the_sessions_own_faculty_moderators_and_organizers_are_not_gated(
        client: TestClient, people: People) -> None:
    for who in ("faculty", "moderator", "organizer"):
        resp = await client.get(f"/sessions/{HF}", headers=people[who].auth, allow_redirects=False)
        assert resp.status == 200, who
    # Faculty of another session and exhibitors are learners here.
    for who in ("faculty2", "exhibitor", "attendee2"):
        resp = await client.get(f"/sessions/{HF}", headers=people[who].auth, allow_redirects=False)
        assert resp.status == 303, who


async def test_anonymous_visitors_sign_in_first(client: TestClient) -> None:
    resp = await client.get(f"/sessions/{HF}/disclosure", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"].startswith("/login")
    # Without a bearer token the CSRF check answers first (403); either way nothing is recorded.
    assert (await client.post(f"/api/sessions/{HF}/disclosure", json={"version": "x"})).status in (401, 403)
    assert await acks(client) == []


async def test_browser_acknowledgement_needs_the_csrf_token(client: TestClient, people: People) -> None:
    from server.catalogue import Role
    from tests.conftest import add_person

    await add_person(client.app, "cookie@example.org", Role.ATTENDEE, password="a long password 1", acknowledged=False)
    login = await client.post("/login", data={"email": "cookie@example.org", "password": "a long password 1",
                                              "csrf": await csrf_of(client, "/login")}, allow_redirects=False)
    assert login.status == 303
    session = client.app[CATALOGUE].session(HF)
    assert session is not None
    form = {"version": disclosure_version(session)}
    resp = await client.post(f"/sessions/{HF}/disclosure", data=form, allow_redirects=False)
    assert resp.status == 403
    assert await acks(client) == []
    token = await csrf_of(client, f"/sessions/{HF}/disclosure")
    resp = await client.post(f"/sessions/{HF}/disclosure", data=form | {"csrf": token}, allow_redirects=False)
    assert resp.status == 303 and len(await acks(client)) == 1


async def test_commercial_supporters_are_named(tmp_path: Path, conference_file: Path, aiohttp_client,  # type: ignore[no-untyped-def]
                                               ) -> None:
    from server.app import create_app
    from server.catalogue import Role
    from tests.conftest import add_person

    text = conference_file.read_text(encoding="utf-8").replace(
        'breaks = [{ start = "day 1, 09:45"', 'commercial_supporters = ["Acme Education Foundation"]\n'
        'breaks = [{ start = "day 1, 09:45"', 1)
    path = tmp_path / "supported.toml"
    path.write_text(text, encoding="utf-8")
    client = await aiohttp_client(create_app(make_settings(tmp_path / "data", path)))
    person = await add_person(client.app, "learner@example.org", Role.ATTENDEE)
    html = await (await client.get(f"/sessions/{HF}/disclosure", headers=person.auth)).text()
    assert "supported by educational grants from: Acme Education Foundation" in html
