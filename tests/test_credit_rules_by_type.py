"""Each credit type's own rule (issue 12, findings 2 and 3): ANCC rounds down and counts evaluation
time only where it does not overlap watching; ACPE is the whole session or nothing; participation
states the AMA figure; AMA rounds nearest or down. Pure functions, then the same through the API."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient
from hypothesis import given
from hypothesis import strategies as st

from server.attendance import attribute_once, total_seconds, union
from server.credit import (
    Basis,
    CreditType,
    Profession,
    Rounding,
    SessionCredit,
    acpe_contact_hours,
    ama_credit,
    ancc_contact_hours,
    evaluation_outside,
    faculty_eligible,
    learner_eligible,
    participation_credit,
    quarters,
)
from server.credit_transcript import TEACHING, Measured, eligible_for
from server.evidence import EVIDENCE, LEDGER
from server.settings import Settings
from server.state import CATALOGUE
from tests.conftest import Person, make_settings
from tests.credit_support import HF, acknowledge, advance, set_profile, watch

MIN = 60
AMA, ANCC, ACPE, PART = CreditType.AMA_PRA_1, CreditType.ANCC, CreditType.ACPE, CreditType.PARTICIPATION
People = dict[str, Person]


def rule(maximum: str = "1.5", accredited_min: float = 90, rounding: Rounding = Rounding.NEAREST,
         minimum: str = "0", completion: str = "0.9") -> SessionCredit:
    return SessionCredit(accredited_min * MIN, {t: Decimal(maximum) for t in (AMA, ANCC, ACPE)},
                         Decimal(minimum), rounding, Decimal(completion))


# -- pure rules -------------------------------------------------------------------------------


def test_ancc_rounds_down_while_ama_rounds_to_the_nearest_quarter() -> None:
    r = rule()
    assert ama_credit(r, 53 * MIN) == Decimal("1.00")  # 53 min: nearest quarter is 60
    assert ancc_contact_hours(r, 53 * MIN) == Decimal("0.75")  # down to the quarter hour
    assert ama_credit(rule(rounding=Rounding.DOWN), 53 * MIN) == Decimal("0.75")
    assert ancc_contact_hours(rule(rounding=Rounding.NEAREST), 59 * MIN + 59) == Decimal("0.75")


def test_evaluation_time_counts_only_outside_watching() -> None:
    # Finding 2: 52.9 minutes watched; a 17-minute evaluation opened at minute 25 on another device.
    watched = [(0.0, 52.9 * MIN)]
    span = (25 * MIN, 42 * MIN)
    assert evaluation_outside(span, watched) == 0.0
    assert ancc_contact_hours(rule(), 52.9 * MIN, evaluation_outside(span, watched)) == Decimal("0.75")
    assert ancc_contact_hours(rule(), 52.9 * MIN, 17 * MIN) == Decimal("1.00")  # as if added (not 1.25 now: down)
    after = (52.9 * MIN, 67.9 * MIN)  # evaluated after watching: all of it counts
    assert evaluation_outside(after, watched) == pytest.approx(15 * MIN)
    assert ancc_contact_hours(rule(), 52.9 * MIN, evaluation_outside(after, watched)) == Decimal("1.00")
    assert evaluation_outside((30 * MIN, 60 * MIN), [(0.0, 40 * MIN), (35 * MIN, 45 * MIN)]) == 15 * MIN
    assert evaluation_outside(None, watched) == 0.0


def test_acpe_is_the_whole_session_or_nothing() -> None:
    r = rule("1.5", accredited_min=90, completion="0.9")
    assert acpe_contact_hours(r, 45 * MIN) == Decimal("0.00")  # finding 3: no 0.75 of a 1.5-hour session
    assert acpe_contact_hours(r, 80 * MIN) == Decimal("0.00")
    assert acpe_contact_hours(r, 81 * MIN) == Decimal("1.50")
    assert learner_eligible(r, Profession.PHARMACIST, 45 * MIN) == {ACPE: Decimal("0.00")}
    assert learner_eligible(r, Profession.PHARMACIST, 90 * MIN) == {ACPE: Decimal("1.50")}


def test_participation_states_the_ama_figure() -> None:
    r = rule("1.5", rounding=Rounding.NEAREST)
    assert participation_credit(r, 53 * MIN) == ama_credit(r, 53 * MIN) == Decimal("1.00")
    assert learner_eligible(r, Profession.PHYSICIAN_ASSISTANT, 53 * MIN) == {PART: Decimal("1.00")}


def test_faculty_credit_is_labelled_as_credit_for_teaching() -> None:
    r = rule()
    assert eligible_for(r, Basis.FACULTY, Profession.PHYSICIAN, Measured(0, 30 * MIN), None) == {AMA: Decimal("1.00")}
    assert faculty_eligible(r, Profession.PHYSICIAN, 30 * MIN) == {AMA: Decimal("1.00")}  # 2 per hour presented
    assert TEACHING == "credit for teaching"


seconds = st.floats(min_value=0, max_value=5 * 3600, allow_nan=False)
designations = st.sampled_from(["0.25", "0.5", "1.0", "1.25", "1.5", "2.0", "3.0"])


@given(seconds, seconds, designations, st.sampled_from(Rounding), st.integers(15, 300),
       st.sampled_from(list(Profession)))
def test_no_credit_above_the_designation_or_above_the_rules(watch_s: float, eval_s: float, maximum: str,
                                                             rounding: Rounding, minutes: int,
                                                             profession: Profession) -> None:
    r = rule(maximum, accredited_min=minutes, rounding=rounding)
    cap = Decimal(maximum)
    for ctype, amount in learner_eligible(r, profession, watch_s, eval_s).items():
        assert Decimal(0) <= amount <= cap
        if ctype is ANCC:  # down: never more than the watch + evaluation time itself
            assert amount * 3600 <= Decimal(watch_s + eval_s)
        elif ctype is ACPE:
            assert amount in (Decimal(0), cap)
            assert amount == 0 or watch_s >= 0.9 * minutes * MIN
        else:  # AMA and participation: nearest or down, within half a quarter of the time
            assert amount * 4 <= quarters(watch_s, rounding)
            assert amount * 3600 <= Decimal(watch_s + (450 if rounding is Rounding.NEAREST else 0))


@given(seconds, designations, st.sampled_from(Rounding))
def test_rounding_agrees_with_each_types_rule(watch_s: float, maximum: str, rounding: Rounding) -> None:
    r = rule(maximum, accredited_min=600, rounding=rounding)  # long enough that the cap rarely binds
    cap_q = int(Decimal(maximum) * 4)
    ama = ama_credit(r, watch_s)
    ancc = ancc_contact_hours(r, watch_s)
    expected_down = min(cap_q, int(watch_s // 900))
    expected_near = min(cap_q, int((watch_s + 450) // 900))
    assert ancc * 4 == expected_down
    assert ama * 4 == (expected_near if rounding is Rounding.NEAREST else expected_down)
    assert participation_credit(r, watch_s) == ama


intervals = st.lists(st.tuples(st.integers(0, 3600), st.integers(1, 900)).map(lambda t: (float(t[0]), float(t[0] + t[1]))),
                     max_size=6)


@given(intervals, st.integers(0, 3600), st.integers(0, 900))
def test_no_counted_second_in_two_places(watched: list[tuple[float, float]], start: int, length: int) -> None:
    span = (float(start), float(start + length))
    outside = evaluation_outside(span, watched)
    # watch time + the evaluation's counted part is exactly the time covered by either: nothing twice.
    assert total_seconds(union(watched)) + outside == pytest.approx(total_seconds(union([*watched, span])))
    split = attribute_once({"a": union(watched[::2]), "b": union(watched[1::2])})
    assert total_seconds(union([*split["a"], *split["b"]])) == pytest.approx(
        total_seconds(split["a"]) + total_seconds(split["b"]))


# -- through the API --------------------------------------------------------------------------


@pytest.fixture
def settings(tmp_path: Path, conference_file: Path) -> Settings:
    return make_settings(tmp_path / "data", conference_file, heartbeat_tolerance_s=7200)


async def eligible(client: TestClient, person: Person) -> dict[str, str]:
    body = await (await client.get("/api/me/transcript", headers=person.auth)).json()
    return next(s for s in body["sessions"] if s["id"] == HF)["eligible"]  # type: ignore[no-any-return]


async def test_an_evaluation_done_while_watching_adds_no_contact_hours(client: TestClient, people: People) -> None:
    tom = people["attendee2"]  # nurse
    await acknowledge(client, tom, HF)
    app, hf = client.app, client.app[CATALOGUE].session(HF)
    assert hf is not None
    await app[EVIDENCE].viewer_started(HF, "tv", tom.user.id)
    await app[LEDGER].heartbeat(tom.user.id, hf, "tv", True, True)
    advance(app, 25 * MIN)
    form = await (await client.get(f"/api/sessions/{HF}/evaluation", headers=tom.auth)).json()  # phone, minute 25
    advance(app, 17 * MIN)
    answers = {q["id"]: 4 if q["kind"] == "scale" else "yes" if q["kind"] == "yesno" else "x" for q in form["questions"]}
    sent = await client.post(f"/api/sessions/{HF}/evaluation", json={"answers": answers, "token": form["token"]},
                             headers=tom.auth)
    assert sent.status == 201
    advance(app, 10.9 * MIN)
    await app[LEDGER].heartbeat(tom.user.id, hf, "tv", False, False)
    await app[EVIDENCE].viewer_stopped(HF, "tv", tom.user.id)
    assert await eligible(client, tom) == {"ancc": "0.75"}  # 52.9 min watched, the evaluation overlapped it


async def test_physician_and_nurse_round_by_their_own_rule(client: TestClient, people: People) -> None:
    maria, tom = people["attendee"], people["attendee2"]
    app, hf = client.app, client.app[CATALOGUE].session(HF)
    assert hf is not None
    for person in (maria, tom):  # side by side, 09:10 to 10:08: 53 minutes once the break is cut
        await app[EVIDENCE].viewer_started(HF, f"v{person.user.id}", person.user.id)
        await app[LEDGER].heartbeat(person.user.id, hf, "tab", True, True)
    advance(app, 58 * MIN)
    for person in (maria, tom):
        await app[LEDGER].heartbeat(person.user.id, hf, "tab", False, False)
    assert await eligible(client, maria) == {"ama_pra_1": "1.00"}
    assert await eligible(client, tom) == {"ancc": "0.75"}


async def test_a_pharmacist_gets_the_whole_session_or_nothing(client: TestClient, people: People) -> None:
    priya = people["pharmacist"]
    await set_profile(client.app, priya, nabp_eprofile_id="1234567", dob_month=3, dob_day=14)
    await watch(client.app, priya, HF, 60)  # 55 of 85 accredited minutes (the break is cut)
    assert await eligible(client, priya) == {"acpe": "0.00"}
    await watch(client.app, priya, HF, 20, tab="again")  # 75 of 85: the demo's 80% completes it
    assert await eligible(client, priya) == {"acpe": "1.25"}
