"""The hall over HTTP: pages, booth API, leads export, shares, resource upload and download."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from aiohttp import FormData
from aiohttp.test_utils import TestClient

from server.settings import Settings
from server.state import ENGINE, SETTINGS
from server.store.schema import audit_log
from tests.conftest import Person, SioFactory, make_settings

MAX = 4096


@pytest.fixture
def settings(tmp_path: Path, conference_file: Path) -> Settings:
    return make_settings(tmp_path / "data", conference_file, upload_max_bytes=MAX)


def upload_form(content: bytes, filename: str, title: str = "Leaflet") -> FormData:
    form = FormData()
    form.add_field("title", title)
    form.add_field("file", content, filename=filename, content_type="application/octet-stream")
    return form


async def test_hall_lists_booths_by_tier_with_resources(client: TestClient, people: dict[str, Person]) -> None:
    body = await (await client.get("/api/booths", headers=people["attendee"].auth)).json()
    assert [b["id"] for b in body["booths"]] == ["meridian", "cardiova", "glucowatch", "heart-society"]
    meridian = body["booths"][0]
    assert meridian["org"] == "Meridian Pharma" and meridian["tier"] == "platinum"
    assert meridian["resources"] == [{"title": "Prescribing information", "url": "/hall/meridian/links/0",
                                      "kind": "link"}]
    assert meridian["staff_online"] == []
    html = await (await client.get("/hall", headers=people["attendee"].auth)).text()
    assert html.index("Meridian Pharma") < html.index("Cardiova Therapeutics") < html.index("Regional Heart Society")
    assert "You have not shared your contact details with any booth." in html


async def test_hall_shows_booth_logos_or_the_monogram(client: TestClient, people: dict[str, Person]) -> None:
    from tests.conftest import DEMO

    html = await (await client.get("/hall", headers=people["attendee"].auth)).text()
    meridian = html.split('data-booth="meridian"')[1].split("</li>")[0]
    assert '<img class="booth-logo booth-logo-image" src="/booths/meridian/logo" alt="Meridian Pharma logo"' in meridian
    society = html.split('data-booth="heart-society"')[1].split("</li>")[0]
    assert "<img" not in society and '<span class="booth-logo' in society and ">RH</span>" in society
    booths = {b["id"]: b for b in (await (await client.get("/api/booths", headers=people["attendee"].auth)).json())["booths"]}
    assert booths["meridian"]["logo"] == "/booths/meridian/logo" and booths["heart-society"]["logo"] is None

    logo = await client.get("/booths/meridian/logo", headers=people["attendee"].auth)
    assert logo.status == 200 and logo.headers["Content-Type"] == "image/svg+xml"
    assert logo.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in logo.headers["Content-Security-Policy"] and "max-age" in logo.headers["Cache-Control"]
    assert await logo.read() == (DEMO.parent / "logos" / "meridian.svg").read_bytes()
    assert (await client.get("/booths/heart-society/logo", headers=people["attendee"].auth)).status == 404
    assert (await client.get("/booths/nope/logo", headers=people["attendee"].auth)).status == 404
    assert (await client.get("/booths/meridian/logo")).status == 401


async def test_hall_pages_need_sign_in(client: TestClient) -> None:
    for path in ("/hall", "/hall/meridian", "/exhibitor"):
        response = await client.get(path, allow_redirects=False)
        assert response.status == 303 and response.headers["Location"] == f"/login?next={path}"
    assert (await client.get("/api/booths")).status == 401
    assert (await client.get("/api/me/shares")).status == 401


async def test_unknown_booths_and_files_are_not_found(client: TestClient, people: dict[str, Person]) -> None:
    auth = people["organizer"].auth
    for path in ("/hall/nope", "/api/booths/nope", "/api/booths/nope/leads", "/hall/meridian/files/1",
                 "/hall/meridian/files/abc", "/hall/meridian/links/5", "/hall/meridian/links/x"):
        assert (await client.get(path, headers=auth)).status == 404, path


async def test_link_resources_redirect_and_count_as_downloads(client: TestClient,
                                                              people: dict[str, Person]) -> None:
    response = await client.get("/hall/meridian/links/0", headers=people["attendee"].auth, allow_redirects=False)
    assert response.status == 302 and response.headers["Location"] == "https://example.org/meridian/pi.pdf"
    stats = await (await client.get("/api/booths/meridian/analytics", headers=people["exhibitor"].auth)).json()
    assert stats["downloads"] == 1 and stats["per_hour"][0]["downloads"] == 1


async def test_staff_upload_a_pdf_that_downloads_as_a_safe_attachment(
    client: TestClient, people: dict[str, Person]
) -> None:
    pdf = b"%PDF-1.4\n" + b"x" * 100
    response = await client.post("/api/booths/meridian/resources", headers=people["exhibitor"].auth,
                                 data=upload_form(pdf, "../../Dosing card.pdf", "Dosing <card>"))
    assert response.status == 201, await response.text()
    resource = (await response.json())["resource"]
    assert resource["filename"] == "Dosing card.pdf" and resource["content_type"] == "application/pdf"
    stored = list((client.server.app[SETTINGS].uploads_dir / "booths" / "meridian").iterdir())
    assert len(stored) == 1 and stored[0].read_bytes() == pdf and "Dosing" not in stored[0].name

    got = await client.get(resource["url"], headers=people["attendee"].auth)
    assert got.status == 200 and await got.read() == pdf
    assert got.headers["Content-Type"] == "application/pdf"
    assert got.headers["Content-Disposition"].startswith('attachment; filename="Dosing card.pdf"')
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in got.headers["Content-Security-Policy"]
    page = await (await client.get("/hall/meridian", headers=people["attendee"].auth)).text()
    assert "Dosing &lt;card&gt;" in page and "Dosing <card>" not in page
    stats = await (await client.get("/api/booths/meridian/analytics", headers=people["exhibitor"].auth)).json()
    assert stats["downloads"] == 1


@pytest.mark.parametrize(("content", "filename", "status"), [
    (b"<html><script>alert(1)</script></html>", "page.html", 400),
    (b"<svg onload=alert(1)/>", "logo.svg", 400),
    (b"<html>pretending</html>", "fake.pdf", 400),
    (b"", "empty.pdf", 400),
    (b"%PDF-1.4" + b"x" * MAX, "big.pdf", 413),
])
async def test_uploads_of_the_wrong_type_or_size_are_refused(
    client: TestClient, people: dict[str, Person], content: bytes, filename: str, status: int
) -> None:
    response = await client.post("/api/booths/meridian/resources", headers=people["exhibitor"].auth,
                                 data=upload_form(content, filename))
    assert response.status == status, await response.text()
    assert not (client.server.app[SETTINGS].uploads_dir / "booths" / "meridian").exists()


async def test_a_far_too_large_upload_is_refused_before_it_is_read(client: TestClient,
                                                                   people: dict[str, Person]) -> None:
    response = await client.post("/api/booths/meridian/resources", headers=people["exhibitor"].auth,
                                 data=upload_form(b"%PDF-" + b"x" * (MAX * 40), "huge.pdf"))
    assert response.status == 413 and (await response.json())["error"] == "too_large"


async def test_only_the_booths_staff_and_organizers_upload_or_remove(client: TestClient,
                                                                     people: dict[str, Person]) -> None:
    pdf = b"%PDF-1.4 ok"
    for key in ("attendee", "other_exhibitor", "moderator"):
        response = await client.post("/api/booths/meridian/resources", headers=people[key].auth,
                                     data=upload_form(pdf, "a.pdf"))
        assert response.status == 403, key
    assert (await client.post("/api/booths/meridian/resources", data=upload_form(pdf, "a.pdf"))).status in (401, 403)
    made = await client.post("/api/booths/meridian/resources", headers=people["organizer"].auth,
                             data=upload_form(pdf, "a.pdf"))
    file_id = (await made.json())["resource"]["id"]
    path = f"/api/booths/meridian/resources/{file_id}"
    assert (await client.delete(path, headers=people["other_exhibitor"].auth)).status == 403
    assert (await client.delete(f"/api/booths/cardiova/resources/{file_id}",
                                headers=people["other_exhibitor"].auth)).status == 404
    assert (await client.delete(path, headers=people["exhibitor"].auth)).status == 200
    assert (await client.get(f"/hall/meridian/files/{file_id}", headers=people["attendee"].auth)).status == 404


async def test_leads_csv_is_an_attachment_and_its_export_is_audited(
    client: TestClient, sio: SioFactory, people: dict[str, Person]
) -> None:
    maria = await sio(people["attendee"], "/hall")
    await maria.call("enter", {"booth": "meridian"}, namespace="/hall", timeout=5)
    await maria.call("share", {"booth": "meridian", "fields": ["name", "email", "profession"]},
                     namespace="/hall", timeout=5)
    response = await client.get("/api/booths/meridian/leads.csv", headers=people["exhibitor"].auth)
    assert response.status == 200 and response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="meridian-leads.csv"')
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    lines = (await response.text()).splitlines()
    assert lines[0] == '"name","email","profession","organisation","shared_fields","shared_at"'
    assert lines[1].startswith('"Maria.Lopez","maria.lopez@demo.rounds","physician","","name email profession",')
    assert response.headers["Cache-Control"] == "no-store"
    async with client.server.app[ENGINE].connect() as conn:
        rows = (await conn.execute(sa.select(audit_log.c.action, audit_log.c.actor).where(
            audit_log.c.action.like("hall.%")).order_by(audit_log.c.id))).all()
    assert [tuple(r) for r in rows] == [("hall.share", "maria.lopez@demo.rounds"),
                                        ("hall.export_leads", "pat.lee@demo.rounds")]


async def test_attendees_see_and_withdraw_what_they_shared(client: TestClient, sio: SioFactory,
                                                           people: dict[str, Person]) -> None:
    auth = people["attendee"].auth
    assert await (await client.get("/api/me/shares", headers=auth)).json() == {"shares": []}
    maria = await sio(people["attendee"], "/hall")
    for booth, fields in (("meridian", ["name", "email"]), ("cardiova", ["email"])):
        await maria.call("enter", {"booth": booth}, namespace="/hall", timeout=5)
        await maria.call("share", {"booth": booth, "fields": fields}, namespace="/hall", timeout=5)
    shares = (await (await client.get("/api/me/shares", headers=auth)).json())["shares"]
    assert [(s["booth"], s["org"], s["fields"], s["email"]) for s in shares] == [
        ("cardiova", "Cardiova Therapeutics", ["email"], "maria.lopez@demo.rounds"),
        ("meridian", "Meridian Pharma", ["name", "email"], "maria.lopez@demo.rounds")]
    hall = await (await client.get("/hall", headers=auth)).text()
    assert "What you shared" in hall and "name, email" in hall
    booth_page = await (await client.get("/hall/meridian", headers=auth)).text()
    assert "You shared with Meridian Pharma" in booth_page
    assert (await (await client.delete("/api/me/shares/meridian", headers=auth)).json()) == {"withdrawn": True}
    assert (await (await client.delete("/api/me/shares/meridian", headers=auth)).json()) == {"withdrawn": False}
    leads = await (await client.get("/api/booths/meridian/leads", headers=people["exhibitor"].auth)).json()
    assert leads["leads"] == []
    others = (await (await client.get("/api/me/shares", headers=people["attendee2"].auth)).json())["shares"]
    assert others == []


async def test_the_console_shows_only_the_exhibitors_own_booths(client: TestClient,
                                                                people: dict[str, Person]) -> None:
    pat = await (await client.get("/exhibitor", headers=people["exhibitor"].auth)).text()
    assert "Booth console · Meridian Pharma" in pat and 'href="/exhibitor?booth=glucowatch"' in pat
    assert "Cardiova" not in pat and "Heart Society" not in pat
    glucowatch = await client.get("/exhibitor?booth=glucowatch", headers=people["exhibitor"].auth)
    assert glucowatch.status == 200 and "Booth console · GlucoWatch Devices" in await glucowatch.text()
    assert (await client.get("/exhibitor?booth=nope", headers=people["organizer"].auth)).status == 404
    organizer = await (await client.get("/exhibitor?booth=cardiova", headers=people["organizer"].auth)).text()
    assert "Booth console · Cardiova Therapeutics" in organizer and 'data-can-ban="true"' in organizer
    assert 'data-can-ban="false"' in pat
    assert (await client.get("/exhibitor", headers=people["other_moderator"].auth)).status == 403
