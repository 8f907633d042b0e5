"""The hall stays out of accredited education: no booth content on any accredited session's page
or API, and the way from an accredited session to the hall passes a "you are leaving" notice."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest
from aiohttp import FormData, web
from aiohttp.test_utils import TestClient

from server.catalogue import Session
from server.state import CATALOGUE
from tests.conftest import Person

UPLOAD_TITLE = "Meridian dosing card 2026"
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class _Page(HTMLParser):
    """The page's text, every attribute value, and the text of each link with its href."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.links: list[tuple[str, str]] = []
        self._open_links: list[list[str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        self.parts.extend(values.values())
        if tag == "a":
            self._open_links.append([values.get("href", "")])

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._open_links:
            href, *text = self._open_links.pop()
            self.links.append((href, " ".join(text)))

    def handle_data(self, data: str) -> None:
        self.parts.append(data)
        for link in self._open_links:
            link.append(data)


def booth_content(app: web.Application) -> list[str]:
    """Everything that belongs to a booth: descriptions, resources (titles, URLs), uploads."""
    found = [UPLOAD_TITLE, "/hall/", "hall.js", "booth.js", "hall.css", "leads"]
    for booth in app[CATALOGUE].booths:
        found += [booth.description, f"data-booth=\"{booth.id}\""]
        for resource in booth.resources:
            found += [resource.title, resource.url]
    return found


def disclosed(session: Session) -> set[str]:
    """Companies a session must name: its faculty's disclosed financial relationships."""
    return {r.company for d in session.disclosures for r in d.relationships}


def check_free_of_booths(app: web.Application, session: Session, html: str) -> None:
    page = _Page()
    page.feed(html)
    text = "\n".join(page.parts)
    for needle in booth_content(app):
        assert needle not in text and needle not in html, f"{needle!r} on {session.id}"
    for booth in app[CATALOGUE].booths:
        # An org may be named only as a disclosed relationship, never promoted or linked.
        if booth.org not in disclosed(session):
            assert booth.org not in text, f"{booth.org!r} on {session.id}"
        for href, label in page.links:
            assert booth.org not in label and booth.id not in href, f"link {href!r} on {session.id}"
    for href, _ in page.links:
        # The site's navigation may lead to the hall (through the "you are leaving" notice); nothing else.
        plain_hall = href == "/hall" or href == f"/hall?from={session.id}"
        assert plain_hall or not href.startswith("/hall"), f"hall link {href!r} on {session.id}"


async def upload_booth_file(client: TestClient, person: Person) -> None:
    form = FormData()
    form.add_field("title", UPLOAD_TITLE)
    form.add_field("file", b"%PDF-1.4 dosing", filename="dosing.pdf", content_type="application/pdf")
    response = await client.post("/api/booths/meridian/resources", data=form, headers=person.auth)
    assert response.status == 201, await response.text()


async def test_no_accredited_session_page_carries_booth_content(client: TestClient,
                                                                people: dict[str, Person]) -> None:
    app = client.server.app
    await upload_booth_file(client, people["exhibitor"])
    hall = await (await client.get("/hall", headers=people["attendee"].auth)).text()
    assert UPLOAD_TITLE in hall  # the content exists, in the hall
    accredited = [s for s in app[CATALOGUE].sessions if s.accredited]
    assert len(accredited) >= 8
    stage_pages = 0
    for person in (people["attendee"], people["exhibitor"]):
        for session in accredited:
            for html in await session_pages(client, person, session):
                check_free_of_booths(app, session, html)
                stage_pages += 1
    assert stage_pages >= 2 * len(accredited)


async def session_pages(client: TestClient, person: Person, session: Session) -> list[str]:
    """What a learner sees of a session: any screen before it (the disclosure), then the page."""
    path = f"/sessions/{session.id}"
    response = await client.get(path, headers=person.auth)
    assert response.status == 200, session.id
    pages = [await response.text()]
    if response.url.path != path:  # a gate answered first: get past it as a learner would
        body = await (await client.get(f"/api/sessions/{session.id}", headers=person.auth)).json()
        version = body["disclosure"]["version"]
        done = await client.post(f"/api/sessions/{session.id}/disclosure", json={"version": version},
                                 headers=person.auth)
        assert done.status == 200, await done.text()
        response = await client.get(path, headers=person.auth)
        assert response.status == 200 and response.url.path == path
        pages.append(await response.text())
    return pages


async def test_no_accredited_session_api_carries_booth_content(client: TestClient,
                                                               people: dict[str, Person]) -> None:
    app = client.server.app
    await upload_booth_file(client, people["exhibitor"])
    for session in (s for s in app[CATALOGUE].sessions if s.accredited):
        body = await (await client.get(f"/api/sessions/{session.id}", headers=people["attendee"].auth)).json()
        text = json.dumps(body)
        for needle in booth_content(app):
            assert needle not in text, f"{needle!r} in /api/sessions/{session.id}"
        for booth in app[CATALOGUE].booths:
            if booth.org not in disclosed(session):
                assert booth.org not in text, f"{booth.org!r} in /api/sessions/{session.id}"


async def test_the_industry_session_is_labelled_not_accredited(client: TestClient,
                                                               people: dict[str, Person]) -> None:
    page = await (await client.get("/sessions/industry-lunch", headers=people["attendee"].auth)).text()
    agenda = await (await client.get("/", headers=people["attendee"].auth)).text()
    for html in (page, agenda):
        assert "Not accredited for CME" in html and "Meridian Pharma" in html


async def test_going_from_an_accredited_session_to_the_hall_shows_the_leaving_notice(
    client: TestClient, people: dict[str, Person]
) -> None:
    auth = people["attendee"].auth
    explicit = await (await client.get("/hall?from=heart-failure-2026", headers=auth)).text()
    assert "You are leaving the accredited education" in explicit
    assert 'href="/hall?go=1"' in explicit and 'href="/sessions/heart-failure-2026"' in explicit
    assert "Meridian Pharma" not in explicit  # the notice itself promotes nobody
    referer = {**auth, "Referer": str(client.make_url("/sessions/heart-failure-2026"))}
    assert "You are leaving" in await (await client.get("/hall", headers=referer)).text()
    booth = await (await client.get("/hall/meridian?from=heart-failure-2026", headers=auth)).text()
    assert "You are leaving" in booth and 'href="/hall/meridian?go=1"' in booth
    onward = await (await client.get("/hall?go=1", headers=referer)).text()
    assert "You are leaving" not in onward and "Meridian Pharma" in onward


async def test_no_notice_when_not_coming_from_accredited_education(client: TestClient,
                                                                   people: dict[str, Person]) -> None:
    auth = people["attendee"].auth
    for path, headers in (("/hall?from=industry-lunch", auth), ("/hall?from=nonsense", auth), ("/hall", auth),
                          ("/hall", {**auth, "Referer": "https://elsewhere.example/sessions/heart-failure-2026"})):
        html = await (await client.get(path, headers=headers)).text()
        assert "You are leaving" not in html and "Meridian Pharma" in html, path


async def test_the_check_catches_booth_content_where_it_appears(client: TestClient,
                                                                people: dict[str, Person]) -> None:
    app = client.server.app
    session = app[CATALOGUE].session("heart-failure-2026")
    assert session is not None
    booth_page = await (await client.get("/hall/meridian?go=1", headers=people["attendee"].auth)).text()
    with pytest.raises(AssertionError):
        check_free_of_booths(app, session, booth_page)
    promoted = f'<p>Visit <a href="/hall/cardiova">{"Cardiova Therapeutics"}</a></p>'
    with pytest.raises(AssertionError):
        check_free_of_booths(app, session, promoted)  # a disclosed company still may not be promoted
