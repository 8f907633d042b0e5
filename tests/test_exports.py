"""CSV exports: every cell quoted and neutralised whatever the separator; personal data exports
audited and never cached (issue 13, item 13)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient

from server.reports.table import csv_text
from server.settings import Settings
from server.spreadsheet import safe_cell
from server.state import ENGINE
from server.store.schema import audit_log
from tests.conftest import Person, SioFactory, make_settings

HF = "heart-failure-2026"


@pytest.fixture
def settings(tmp_path: Path, conference_file: Path) -> Settings:
    return make_settings(tmp_path / "data", conference_file)


@pytest.mark.parametrize("separator", [",", ";", "\t", "|"])
def test_no_cell_starts_a_formula_whatever_the_spreadsheet_splits_on(separator: str) -> None:
    text = csv_text(["text"], [["Great talk;=1+1"], ["a,+SUM(A1)"], ["x\t@cmd"], ["ok | -2+3"], ["=1"]])
    for line in text.splitlines()[1:]:
        assert line.startswith('"') and line.endswith('"')  # every cell quoted
        for piece in line.strip('"').split(separator):
            assert not piece.strip().startswith(("=", "+", "-", "@")), (separator, line)
    # A CSV reader gets each cell back whole.
    assert [row[0] for row in csv.reader(io.StringIO(text))][1] == "Great talk;'=1+1"


def test_plain_text_is_unchanged() -> None:
    assert safe_cell("Dr. Ana Okafor, MD") == "Dr. Ana Okafor, MD"
    assert csv_text(["a", "b"], [[1, None]]) == '"a","b"\r\n"1",""\r\n'


async def _audit(client: TestClient) -> list[tuple[str, str]]:
    async with client.server.app[ENGINE].connect() as conn:
        rows = (await conn.execute(sa.select(audit_log.c.action, audit_log.c.actor)
                                   .where(audit_log.c.action.like("%export%")).order_by(audit_log.c.id))).all()
    return [tuple(r) for r in rows]


async def test_the_question_export_is_quoted_audited_and_not_cached(client: TestClient, people: dict[str, Person],
                                                                   sio: SioFactory) -> None:
    asker = await sio(people["attendee"], "/qa")
    await asker.call("join", {"session": HF}, namespace="/qa", timeout=10)
    asked = await asker.call("ask", {"session": HF, "text": "Great talk;=1+1"}, namespace="/qa", timeout=10)
    assert asked["ok"], asked
    response = await client.get(f"/api/sessions/{HF}/questions.csv", headers=people["organizer"].auth)
    assert response.status == 200
    assert response.headers["Cache-Control"] == "no-store"
    text = await response.text()
    assert '"Great talk;\'=1+1"' in text and "maria.lopez@demo.rounds" in text
    assert await _audit(client) == [("qa.export_questions", "organizer@demo.rounds")]


@pytest.mark.parametrize(("path", "action"), [("/organizer/credit/learners.csv", "credit.export_learner-completion"),
                                              ("/organizer/credit/cpe.csv", "credit.export_cpe-monitor")])
async def test_credit_exports_are_audited_and_not_cached(client: TestClient, people: dict[str, Person],
                                                         path: str, action: str) -> None:
    response = await client.get(path, headers=people["organizer"].auth)
    assert response.status == 200, await response.text()
    assert response.headers["Cache-Control"] == "no-store"
    assert (await response.text()).startswith('"')
    assert await _audit(client) == [(action, "organizer@demo.rounds")]
