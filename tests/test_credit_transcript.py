"""The pure credit transcript: statuses, faculty basis, designated maximum, names (no I/O)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from server.conference_file import load_conference
from server.credit import (
    Basis,
    CreditClaim,
    CreditType,
    Profession,
    SessionStatus,
    designated_quarters,
    split_name,
)
from server.credit_transcript import Measured, certificate_totals, learner_of, transcript
from tests.conftest import DEMO

CAT = load_conference(DEMO).catalogue
HF = CAT.session("heart-failure-2026")
assert HF is not None
LIVE = HF.start + timedelta(minutes=30)
AFTER = HF.end + timedelta(minutes=1)
PHYSICIAN = learner_of("physician")


def entries(measured: dict[str, Measured], now=AFTER, evaluations=None, claims=(), faculty=(),  # type: ignore[no-untyped-def]
            learner=PHYSICIAN):
    return transcript(CAT, learner, faculty, measured, evaluations or {}, claims, now)


def test_only_sessions_attended_presented_or_claimed_appear() -> None:
    claim = CreditClaim(1, "afib-case", CreditType.AMA_PRA_1, Basis.LEARNER, Decimal("0.50"), AFTER)
    got = entries({HF.id: Measured(3000), "lipids-update": Measured(0)}, claims=[claim])
    assert [e.session.id for e in got] == [HF.id, "afib-case"]


@pytest.mark.parametrize(("minutes", "now", "evaluated", "status"), [
    (70, LIVE, False, SessionStatus.IN_PROGRESS),
    (20, AFTER, True, SessionStatus.NOT_ELIGIBLE),
    (70, AFTER, False, SessionStatus.EVALUATION_REQUIRED),
    (70, AFTER, True, SessionStatus.CLAIMABLE),
])
def test_status_follows_live_minimum_and_evaluation(minutes: int, now, evaluated: bool,  # type: ignore[no-untyped-def]
                                                    status: SessionStatus) -> None:
    (entry,) = entries({HF.id: Measured(minutes * 60)}, now=now, evaluations={HF.id: 60.0} if evaluated else {})
    assert entry.status is status


def test_a_claim_makes_the_status_claimed_and_states_the_claimed_amount() -> None:
    claim = CreditClaim(1, HF.id, CreditType.AMA_PRA_1, Basis.LEARNER, Decimal("0.75"), AFTER)
    (entry,) = entries({HF.id: Measured(70 * 60)}, claims=[claim], evaluations={HF.id: 60.0})
    assert entry.status is SessionStatus.CLAIMED
    assert entry.json()["claimed"] == {"ama_pra_1": "0.75"} and entry.json()["eligible"] == {"ama_pra_1": "1.25"}


def test_faculty_get_faculty_credit_for_their_own_session_and_no_evaluation() -> None:
    (entry,) = entries({HF.id: Measured(70 * 60, presenting_seconds=60 * 60)}, faculty=[HF.id])
    assert entry.basis is Basis.FACULTY and entry.eligible == {CreditType.AMA_PRA_1: Decimal("2.00")}
    assert entry.status is SessionStatus.CLAIMABLE and not entry.evaluation_required


def test_non_accredited_sessions_show_time_but_no_credit() -> None:
    (entry,) = entries({"industry-lunch": Measured(40 * 60)})
    assert entry.status is SessionStatus.NOT_ACCREDITED and entry.eligible == {}


def test_professions_get_their_own_credit_type() -> None:
    m = {HF.id: Measured(70 * 60)}
    ev = {HF.id: 0.0}
    assert entries(m, evaluations=ev, learner=learner_of("nurse"))[0].eligible.keys() == {CreditType.ANCC}
    assert entries(m, evaluations=ev, learner=learner_of("pharmacist"))[0].eligible.keys() == {CreditType.ACPE}
    assert entries(m, evaluations=ev, learner=learner_of("dentist"))[0].eligible.keys() == {CreditType.PARTICIPATION}
    assert learner_of("pharmacist", "1234567", 3, 4).birth_mmdd == "0304"
    assert learner_of("nope").profession is Profession.OTHER


def test_certificate_totals_add_claims_per_type_within_the_conference() -> None:
    claims = [CreditClaim(1, HF.id, CreditType.AMA_PRA_1, Basis.LEARNER, Decimal("1.25"), AFTER),
              CreditClaim(1, "afib-case", CreditType.AMA_PRA_1, Basis.FACULTY, Decimal("2.00"), AFTER),
              CreditClaim(1, "elsewhere", CreditType.AMA_PRA_1, Basis.LEARNER, Decimal("1.00"), AFTER)]
    assert certificate_totals(claims, [s.id for s in CAT.sessions]) == {CreditType.AMA_PRA_1: Decimal("3.25")}


def test_designated_maximum_never_counts_parallel_sessions_twice() -> None:
    # The sessions' AMA designations add up to 12.25, but only 550 accredited minutes exist.
    assert sum(Decimal(s.credits["ama_pra_1"]) for s in CAT.sessions if "ama_pra_1" in s.credits) == Decimal("12.25")
    assert designated_quarters(CAT.sessions, CreditType.AMA_PRA_1) == 36


@pytest.mark.parametrize(("name", "split"), [
    ("Ana Okafor, MD, FACC", ("Ana", "Okafor")),
    ("Maria de la Cruz", ("Maria", "de la Cruz")),
    ("Prince", ("Prince", "")),
    ("  ", ("", "")),
])
def test_names_split_into_first_and_last_without_credentials(name: str, split: tuple[str, str]) -> None:
    assert split_name(name) == split


def test_exports_keep_only_permitted_learners_and_defuse_spreadsheet_formulas() -> None:
    import csv
    import io
    from types import SimpleNamespace

    from server.reports.credit import LEARNER_COLUMNS, cpe_csv, learner_completion_csv

    def row(name: str, permission: bool, **extra: object) -> SimpleNamespace:
        values: dict[str, object] = {"name": name, "report_permission": permission, "dob_month": 3, "dob_day": 9,
                                         "npi": "1234567890", "licence": "", "board_id": "", "profession": "physician",
                                         "nabp_eprofile_id": ""}
        return SimpleNamespace(**(values | extra))

    found = [
        (CreditClaim(1, HF.id, CreditType.AMA_PRA_1, Basis.LEARNER, Decimal("1.25"), AFTER), row("=HYPERLINK(1) Doe", True)),
        (CreditClaim(1, "afib-case", CreditType.AMA_PRA_1, Basis.LEARNER, Decimal("1.00"), AFTER + timedelta(days=1)),
         row("=HYPERLINK(1) Doe", True)),
        (CreditClaim(2, HF.id, CreditType.AMA_PRA_1, Basis.LEARNER, Decimal("1.00"), AFTER), row("No Permission", False)),
        (CreditClaim(3, HF.id, CreditType.ACPE, Basis.LEARNER, Decimal("1.50"), AFTER),
         row("Priya Shah, PharmD", False, nabp_eprofile_id="1234567", profession="pharmacist")),
    ]
    rows = list(csv.DictReader(io.StringIO(learner_completion_csv(found, CAT))))
    assert list(rows[0]) == list(LEARNER_COLUMNS)
    assert [(r["first_name"], r["last_name"], r["credits"]) for r in rows] == [("'=HYPERLINK(1)", "Doe", "2.25")]
    zone = ZoneInfo(CAT.conference.timezone)
    assert rows[0]["completion_date"] == (AFTER + timedelta(days=1)).astimezone(zone).date().isoformat()
    cpe = list(csv.DictReader(io.StringIO(cpe_csv(found, CAT))))
    assert [(r["first_name"], r["dob_mmdd"], r["contact_hours"], r["ceus"]) for r in cpe] == [
        ("Priya", "0309", "1.50", "0.150")]
