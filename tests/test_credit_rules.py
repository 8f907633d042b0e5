"""Credit rules of issue 7: named cases and hypothesis properties (pure functions)."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.attendance import Interval, total_seconds
from server.conference_file import CREDIT_TYPES, PROFESSIONS
from server.credit import (
    AlreadyClaimed,
    AmountAboveEligible,
    AmountNotPositive,
    AttestationMissing,
    ClaimRejected,
    ClaimRequest,
    CreditType,
    CreditTypeNotApplicable,
    CreditTypeNotOffered,
    EvaluationRequired,
    Learner,
    NotQuarterStep,
    PharmacyProfileMissing,
    Profession,
    Rounding,
    SessionCredit,
    applicable_types,
    ceu,
    credit_amount,
    faculty_eligible,
    learner_eligible,
    parse_claim,
    quarters,
    validate_claim,
)

MIN = 60
AMA, ANCC, ACPE, PART = (CreditType.AMA_PRA_1, CreditType.ANCC, CreditType.ACPE,
                         CreditType.PARTICIPATION)


def rule(maximum: str = "1.5", *, types: tuple[CreditType, ...] = (AMA, ANCC, ACPE),
         accredited_min: int = 90, minimum: str = "0", rounding: Rounding = Rounding.NEAREST) -> SessionCredit:
    return SessionCredit(accredited_min * MIN, {t: Decimal(maximum) for t in types},
                         Decimal(minimum), rounding)


def ama(minutes: float, r: SessionCredit | None = None) -> Decimal:
    return credit_amount(minutes * MIN, r or rule(), AMA)


def test_credit_type_values_are_stable() -> None:
    assert [t.value for t in CreditType] == ["ama_pra_1", "ancc", "acpe", "participation"]


def test_enums_spell_types_and_professions_as_the_conference_file_does() -> None:
    assert {t.value for t in CreditType} == set(CREDIT_TYPES)
    assert {p.value for p in Profession} == set(PROFESSIONS)


@pytest.mark.parametrize(("minutes", "credit"), [
    (0, "0.00"), (7, "0.00"), (7.5, "0.25"), (8, "0.25"), (22, "0.25"), (23, "0.50"),
    (60, "1.00"), (67, "1.00"), (68, "1.25"),
])
def test_quarter_boundaries_round_to_the_nearest_quarter(minutes: float, credit: str) -> None:
    assert ama(minutes) == Decimal(credit)


@pytest.mark.parametrize(("minutes", "credit"), [
    (7, "0.00"), (8, "0.00"), (14.9, "0.00"), (15, "0.25"), (22, "0.25"), (23, "0.25"), (29.9, "0.25"),
    (30, "0.50"),
])
def test_round_down_setting_never_rounds_up(minutes: float, credit: str) -> None:
    assert ama(minutes, rule(rounding=Rounding.DOWN)) == Decimal(credit)


def test_amounts_carry_two_places() -> None:
    assert str(ama(60)) == "1.00" and str(ama(23)) == "0.50"


def test_no_credit_below_the_minimum_participation() -> None:
    half = rule(accredited_min=60, minimum="0.5")
    assert ama(29, half) == 0
    assert ama(30, half) == Decimal("0.50")


def test_credit_is_capped_at_the_designated_maximum() -> None:
    assert ama(120, rule("1.5")) == Decimal("1.50")
    assert ama(80, rule("1.5")) == Decimal("1.25")


def test_a_type_the_session_does_not_designate_earns_nothing() -> None:
    assert credit_amount(3600, rule(types=(AMA,)), ANCC) == 0


@pytest.mark.parametrize(("profession", "types"), [
    (Profession.PHYSICIAN, (AMA,)),
    (Profession.NURSE, (ANCC,)),
    (Profession.PHARMACIST, (ACPE,)),
    (Profession.PHYSICIAN_ASSISTANT, (PART,)),
    (Profession.OTHER, (PART,)),
])
def test_each_credit_type_applies_to_its_profession_and_participation_to_everyone_else(
        profession: Profession, types: tuple[CreditType, ...]) -> None:
    assert tuple(learner_eligible(rule(), profession, 60 * MIN)) == types


def test_a_nurse_at_a_physician_only_session_gets_a_participation_certificate() -> None:
    assert learner_eligible(rule(types=(AMA,)), Profession.NURSE, 60 * MIN) == {PART: Decimal("1.00")}


def test_participation_is_not_offered_by_a_session_without_credit() -> None:
    assert applicable_types((), Profession.OTHER) == ()
    assert learner_eligible(SessionCredit(3600, {}), Profession.OTHER, 3600) == {}


def test_nursing_contact_hours_count_the_evaluation_time() -> None:
    r = rule()
    assert learner_eligible(r, Profession.NURSE, 50 * MIN, evaluation_seconds=10 * MIN) == {ANCC: Decimal("1.00")}
    assert learner_eligible(r, Profession.PHYSICIAN, 50 * MIN, evaluation_seconds=10 * MIN) == {AMA: Decimal("0.75")}


def test_evaluation_time_does_not_lift_a_nurse_over_the_minimum_participation() -> None:
    half = rule(accredited_min=60, minimum="0.5")
    assert learner_eligible(half, Profession.NURSE, 20 * MIN, evaluation_seconds=20 * MIN) == {ANCC: 0}


def test_session_credit_reads_the_catalogue_spelling() -> None:
    r = SessionCredit.of(5400.0, {"ama_pra_1": Decimal("1.5")}, Decimal("0.5"), "down")
    assert r.rounding is Rounding.DOWN and r.offers() == {AMA, PART} and r.cap(PART) == 6


def test_a_designated_maximum_off_the_quarter_grid_is_refused() -> None:
    with pytest.raises(NotQuarterStep):
        SessionCredit(3600, {AMA: Decimal("1.1")})


@pytest.mark.parametrize(("minutes", "credit"), [(7, "0"), (8, "0.50"), (23, "1.00"), (30, "1.00"), (60, "2.00"),
                                                 (90, "3.00")])
def test_faculty_earn_two_credits_per_hour_of_presentation(minutes: float, credit: str) -> None:
    assert faculty_eligible(rule(), Profession.PHYSICIAN, minutes * MIN) == {AMA: Decimal(credit)}


def test_faculty_credit_follows_the_round_down_setting() -> None:
    assert faculty_eligible(rule(rounding=Rounding.DOWN), Profession.PHYSICIAN, 23 * MIN) == {AMA: Decimal("0.50")}


def test_faculty_credit_is_for_physicians_only() -> None:
    assert faculty_eligible(rule(), Profession.NURSE, 60 * MIN) == {}


def test_faculty_credit_needs_a_session_designated_for_ama_credit() -> None:
    assert faculty_eligible(rule(types=(ANCC,)), Profession.PHYSICIAN, 60 * MIN) == {}


def test_acpe_hours_convert_to_ceus_for_cpe_monitor() -> None:
    assert ceu(Decimal("1.25")) == Decimal("0.125")


# -- claims -----------------------------------------------------------------------------------

DOCTOR = Learner(Profession.PHYSICIAN)
NURSE = Learner(Profession.NURSE)
PHARMACIST = Learner(Profession.PHARMACIST, nabp_eprofile_id="1234567", birth_mmdd="0229")
OFFERED = rule().offers()
ELIGIBLE = {AMA: Decimal("1.25")}


def claim(amount: str, ctype: CreditType = AMA, attest: bool = True) -> ClaimRequest:
    return ClaimRequest(ctype, Decimal(amount), attest)


def test_a_claim_up_to_the_eligible_amount_is_accepted_and_may_be_lower() -> None:
    assert validate_claim(claim("1.25"), learner=DOCTOR, eligible=ELIGIBLE, offered=OFFERED) == Decimal("1.25")
    assert validate_claim(claim("0.5"), learner=DOCTOR, eligible=ELIGIBLE, offered=OFFERED) == Decimal("0.50")


def test_a_claim_above_the_eligible_amount_is_refused_with_the_limit() -> None:
    with pytest.raises(AmountAboveEligible) as err:
        validate_claim(claim("1.5"), learner=DOCTOR, eligible=ELIGIBLE, offered=OFFERED)
    assert err.value.status == 400 and err.value.extra == {"eligible": "1.25"}


@pytest.mark.parametrize(("amount", "error"), [("0.3", NotQuarterStep), ("1.10", NotQuarterStep),
                                               ("0", AmountNotPositive), ("-0.25", AmountNotPositive)])
def test_a_claim_off_the_quarter_grid_or_not_positive_is_refused(amount: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        validate_claim(claim(amount), learner=DOCTOR, eligible=ELIGIBLE, offered=OFFERED)


def test_a_claim_without_attestation_is_refused() -> None:
    with pytest.raises(AttestationMissing):
        validate_claim(claim("1", attest=False), learner=DOCTOR, eligible=ELIGIBLE, offered=OFFERED)


def test_a_claim_before_the_required_evaluation_is_refused() -> None:
    with pytest.raises(EvaluationRequired):
        validate_claim(claim("1"), learner=DOCTOR, eligible=ELIGIBLE, offered=OFFERED,
                       evaluation_required=True, evaluation_done=False)
    assert validate_claim(claim("1"), learner=DOCTOR, eligible=ELIGIBLE, offered=OFFERED,
                          evaluation_required=True, evaluation_done=True) == Decimal("1.00")


def test_a_credit_type_for_another_profession_is_refused() -> None:
    with pytest.raises(CreditTypeNotApplicable):
        validate_claim(claim("1"), learner=NURSE, eligible={ANCC: Decimal(1)}, offered=OFFERED)


def test_a_credit_type_the_session_does_not_offer_is_refused() -> None:
    with pytest.raises(CreditTypeNotOffered):
        validate_claim(claim("1", ANCC), learner=NURSE, eligible={}, offered=rule(types=(AMA,)).offers())


def test_pharmacy_credit_needs_the_nabp_eprofile_id_and_birth_month_day() -> None:
    eligible = {ACPE: Decimal(1)}
    assert validate_claim(claim("1", ACPE), learner=PHARMACIST, eligible=eligible, offered=OFFERED) == 1
    for incomplete in (Learner(Profession.PHARMACIST), Learner(Profession.PHARMACIST, "1234567", ""),
                       Learner(Profession.PHARMACIST, "1234567", "1332"), Learner(Profession.PHARMACIST, "", "0101")):
        with pytest.raises(PharmacyProfileMissing):
            validate_claim(claim("1", ACPE), learner=incomplete, eligible=eligible, offered=OFFERED)


def test_faculty_claim_against_their_faculty_credit() -> None:
    eligible = faculty_eligible(rule(), Profession.PHYSICIAN, 45 * MIN)
    assert validate_claim(claim("1.5"), learner=DOCTOR, eligible=eligible, offered=OFFERED) == Decimal("1.50")


def test_a_second_claim_is_a_conflict() -> None:
    assert AlreadyClaimed("already claimed").status == 409


def test_claim_payloads_are_parsed_or_refused_with_a_reason() -> None:
    parsed = parse_claim({"credit_type": "ama_pra_1", "amount": 0.75, "attest": True})
    assert parsed == ClaimRequest(AMA, Decimal("0.75"), True)
    assert parse_claim({"credit_type": "ancc", "amount": "1.25", "attest": "yes"}).attest is False
    for bad in ({"credit_type": "cme", "amount": 1}, {"amount": 1}, {"credit_type": "ama_pra_1", "amount": True},
                {"credit_type": "ama_pra_1", "amount": "lots"}, {"credit_type": "ama_pra_1", "amount": "NaN"},
                {"credit_type": "ama_pra_1", "amount": float("inf")}, {"credit_type": "ama_pra_1"},
                {"credit_type": ["ama_pra_1"], "amount": 1}):
        with pytest.raises(ClaimRejected) as err:
            parse_claim(bad)
        assert err.value.status == 400 and err.value.reason


# -- properties -------------------------------------------------------------------------------

seconds = st.floats(min_value=0, max_value=6 * 3600, allow_nan=False)
rules = st.builds(
    lambda cap, acc, frac, rnd: SessionCredit(acc * MIN, {AMA: Decimal(cap) / 4, ANCC: Decimal(cap) / 4},
                                              Decimal(frac) / 100, rnd),
    st.integers(1, 24), st.integers(0, 240), st.integers(0, 100), st.sampled_from(Rounding))


@settings(deadline=None)
@given(rules, seconds, seconds)
def test_credit_is_monotone_in_time(r: SessionCredit, a: float, b: float) -> None:
    lo, hi = sorted((a, b))
    assert credit_amount(lo, r, AMA) <= credit_amount(hi, r, AMA)


@settings(deadline=None)
@given(rules, seconds)
def test_credit_is_capped_in_quarters_and_never_beyond_the_time(r: SessionCredit, s: float) -> None:
    amount = credit_amount(s, r, AMA)
    assert amount <= Decimal(r.cap(AMA)) / 4
    assert (amount * 4) == (amount * 4).to_integral_value()
    assert amount == 0 or amount >= Decimal("0.25")
    # Never more than the time, give or take the rounding to the nearest quarter.
    assert amount * 3600 <= Decimal(s) + 450


@settings(deadline=None)
@given(rules, seconds)
def test_round_down_never_gives_more_than_nearest(r: SessionCredit, s: float) -> None:
    down = SessionCredit(r.accredited_seconds, r.maximum, r.minimum_fraction, Rounding.DOWN)
    near = SessionCredit(r.accredited_seconds, r.maximum, r.minimum_fraction, Rounding.NEAREST)
    assert credit_amount(s, down, AMA) <= credit_amount(s, near, AMA)


@settings(deadline=None)
@given(rules, st.lists(st.tuples(st.integers(0, 7200), st.integers(0, 900)), max_size=10),
       st.randoms(use_true_random=False))
def test_credit_does_not_depend_on_the_order_of_the_evidence(r: SessionCredit, parts: list[tuple[int, int]],
                                                             rnd: random.Random) -> None:
    intervals = [Interval(s, s + n) for s, n in parts]
    shuffled = list(intervals)
    rnd.shuffle(shuffled)
    for profession in Profession:
        assert (learner_eligible(r, profession, total_seconds(intervals))
                == learner_eligible(r, profession, total_seconds(shuffled)))


@settings(deadline=None)
@given(rules, seconds, seconds)
def test_faculty_credit_is_monotone(r: SessionCredit, a: float, b: float) -> None:
    lo, hi = sorted((a, b))
    assert faculty_eligible(r, Profession.PHYSICIAN, lo)[AMA] <= faculty_eligible(r, Profession.PHYSICIAN, hi)[AMA]


@settings(deadline=None)
@given(st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False), st.sampled_from(Rounding))
def test_quarters_are_never_negative(s: float, rnd: Rounding) -> None:
    assert quarters(s, rnd) >= 0
