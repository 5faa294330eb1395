"""Thirteenth round, part A (2026-12-01): the twelfth review's leftovers (N01, N14, a stopped
order with no end date, N11), each with the record that showed it (docs/rulebook.md,
"Thirteenth round, part A")."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.rules_helper import cards, fired
from tests.support.fhir import (
    alp,
    condition,
    full_prefetch,
    ggt,
    medication,
    observation,
    patient,
    sign_request,
)

BONE = "alp-high-bone-source"
BONE_EXPLAINED = "alp-high-bone-explained"
THP = "alp-thp"
GROWTH = "alp-high-growth-quiet"
HEALING = "alp-high-fracture-healing"

BOY_12 = patient("male", "2014-05-10")
TODDLER = patient("female", "2024-06-01")  # 2 years 5 months


def traced(app: Flask, results: list[dict[str, Any]], **prefetch: Any) -> dict[str, Any]:
    """Rule id -> its outcome in the decision trace (silent rules show no card)."""
    from cds_service.alp_services import AlpServices
    from cds_service.explain import evaluate_document

    services: AlpServices = app.extensions["alp_cds"].services
    trace = evaluate_document(services, sign_request(results, full_prefetch(**prefetch))).trace
    return {r.rule: r for r in trace.evaluations[0].rules}


def child_alp(value: float) -> dict[str, Any]:
    """No lab range: the age and sex table applies (boys 10-12: 129-417 U/L)."""
    return alp(value, low=None, high=None)


def child_ggt(value: float) -> dict[str, Any]:
    return ggt(value, low=None, high=None)


def worded(text: str, code: str, onset: str | None = None) -> dict[str, Any]:
    entry = condition(code, onset=onset)
    entry["code"]["text"] = text
    return entry


# --- 1 (N01): a growing child just above the age limit ---------------------------------------


def test_a_well_boy_of_12_just_above_his_age_limit_gets_no_card(
    app: Flask, client: FlaskClient
) -> None:
    # Review 12 N01: ALP 420 U/L against 417, GGT normal: the bone-source card and a rickets
    # screen. Growth: silent, and the trace says why.
    for results in ([child_alp(420), child_ggt(15)], [child_alp(420)]):
        assert cards(client, results, pt=BOY_12) == []
        rules = traced(app, results, pt=BOY_12)
        assert rules[GROWTH].fired is True
        assert all(check.held for check in rules[GROWTH].checks)


def test_the_growth_margin_is_a_parameter_and_a_higher_value_keeps_the_card(
    client: FlaskClient,
) -> None:
    # 1.5 x 417 = 625.5: at 620 quiet, at 640 the bone-source card (rickets screen).
    assert cards(client, [child_alp(620), child_ggt(15)], pt=BOY_12) == []
    [card] = cards(client, [child_alp(640), child_ggt(15)], pt=BOY_12)
    assert fired([card]) == [BONE]
    assert "rickets screen" in card["summary"]


def test_rickets_or_liver_signs_keep_the_card_within_the_margin(client: FlaskClient) -> None:
    low_phosphate = observation("2777-1", 2.2, unit="mg/dL", ucum="mg/dL", low=3.0, high=5.5)
    low_vitamin_d = observation("62292-8", 35, unit="nmol/L", ucum="nmol/L", low=50, high=150)
    raised_pth = observation("2731-8", 120, unit="pg/mL", ucum="pg/mL", low=15, high=65)
    for extra in ([low_phosphate], [low_vitamin_d], [raised_pth]):
        found = cards(client, [child_alp(450), child_ggt(15), *extra], pt=BOY_12)
        assert found, extra
    # A raised GGT for age: the liver card.
    found = cards(client, [child_alp(450), ggt(90, low=5, high=30)], pt=BOY_12)
    assert found
    assert "GGT" in found[0]["summary"]


def test_a_recorded_condition_keeps_the_card_within_the_margin(client: FlaskClient) -> None:
    for entry in (
        worded("Bone pain left femur", "M89.8X5"),
        condition("Z85.830"),  # history of bone cancer
        condition("K75.4"),  # autoimmune hepatitis
    ):
        found = cards(client, [child_alp(450), child_ggt(15)], pt=BOY_12, conditions=[entry])
        assert found, entry


def test_a_toddler_just_above_the_limit_is_quiet_and_a_high_one_keeps_the_thp_card(
    client: FlaskClient,
) -> None:
    # 1-9 years: 142-335 U/L. 1.3x: growth; 3x: benign transient hyperphosphatasaemia, repeat.
    assert cards(client, [child_alp(435)], pt=TODDLER) == []
    [card] = cards(client, [child_alp(1000)], pt=TODDLER)
    assert fired([card]) == [THP]


def test_a_young_infant_and_an_adult_are_outside_the_growth_band(app: Flask) -> None:
    infant = patient("male", "2026-09-01")  # under 6 months: cholestasis first
    rules = traced(app, [child_alp(500)], pt=infant)
    assert rules[GROWTH].fired is False
    adult = patient("male", "2008-01-01")  # 18: the adult cards decide
    rules = traced(app, [alp(140, low=40, high=129), ggt(20)], pt=adult)
    assert rules[GROWTH].fired is False


# --- 2 (N14): an ordinary healing fracture --------------------------------------------------

WOMAN_66 = patient("female", "1960-03-01")
NAILED = worded("Fracture of shaft of right femur - intramedullary nail", "S72.301A", "2026-10-22")


def test_a_mild_rise_four_weeks_after_a_nailed_fracture_gets_no_card(
    app: Flask, client: FlaskClient
) -> None:
    # Review 12 N14: ALP 1.4x four weeks after an operated fracture: "consistent with fracture".
    results = [alp(150), ggt(20)]
    assert cards(client, results, pt=WOMAN_66, conditions=[NAILED]) == []
    rules = traced(app, results, pt=WOMAN_66, conditions=[NAILED])
    assert rules[HEALING].fired is True


def test_a_healing_fracture_after_a_normal_alp_is_quiet_but_a_rising_run_is_not(
    client: FlaskClient,
) -> None:
    before = alp(80, when="2026-10-22T08:00:00Z")  # on admission, before the operation
    assert cards(client, [alp(150), ggt(20)], pt=WOMAN_66, conditions=[NAILED],
                 labs=[before]) == []  # fmt: skip
    raised = alp(115, when="2026-11-05T08:00:00Z")  # already raised, now higher
    [card] = cards(client, [alp(150), ggt(20)], pt=WOMAN_66, conditions=[NAILED], labs=[raised])
    assert fired([card]) == [BONE_EXPLAINED]
    assert "rising" in card["summary"]


def test_must_not_miss_fractures_keep_the_card(client: FlaskClient) -> None:
    on_alendronate = medication(text="Alendronic acid 70 mg once weekly")
    for conditions, medications in (
        ([NAILED], [on_alendronate]),  # a femoral shaft fracture on a bisphosphonate
        ([NAILED, condition("C50.911")], []),  # breast cancer
        ([NAILED, condition("Z85.46")], []),  # history of prostate cancer
        ([worded("Pathological fracture of femur", "M84.451A", "2026-10-22")], []),
        ([worded("Fracture femur", "M84.551A", "2026-10-22")], []),  # in neoplastic disease
    ):
        found = cards(client, [alp(150), ggt(20)], pt=WOMAN_66, conditions=conditions,
                      medications=medications)  # fmt: skip
        assert found, conditions


def test_twice_the_limit_after_a_fracture_is_not_explained(client: FlaskClient) -> None:
    [card] = cards(client, [alp(215), ggt(20)], pt=WOMAN_66, conditions=[NAILED])
    assert fired([card]) == [BONE]


def test_another_bone_cause_beside_the_fracture_keeps_its_advice(client: FlaskClient) -> None:
    deficient = observation("62292-8", 20, unit="nmol/L", ucum="nmol/L", low=50, high=150)
    [card] = cards(client, [alp(150), ggt(20), deficient], pt=WOMAN_66, conditions=[NAILED])
    assert fired([card]) == [BONE_EXPLAINED]
    assert "vitamin D" in card["summary"] or "vitamin D" in card["detail"]


# --- 3: a stopped order with no end date ---------------------------------------------------

RISE = [alp(210), ggt(22, low=5, high=40), alp(70, when="2025-12-01T08:00:00Z")]


def stopped(text: str, authored: str, **extra: Any) -> dict[str, Any]:
    order = medication(text=text, status="stopped")
    order["authoredOn"] = authored
    order.update(extra)
    return order


def test_a_stopped_order_with_no_end_never_shows_its_written_date_as_the_stop(
    client: FlaskClient,
) -> None:
    # Written 4 months ago and stopped since: stopped in the last 18 months for certain (the
    # rebound line), but on a day the record does not give.
    order = stopped("Denosumab 60 mg subcutaneous every 6 months", "2026-07-20")
    [card] = cards(client, RISE, medications=[order])
    assert "denosumab stopped" in card["summary"]
    assert "ordered 20 Jul 2026, stopped" in card["detail"]
    assert "stopped 20 Jul 2026" not in card["detail"]


def test_a_long_ago_written_stopped_order_is_not_a_recent_course(client: FlaskClient) -> None:
    # Written in 2021, stopped some day since: not known to be recent, so no rebound line and
    # no date invented.
    order = stopped("Denosumab 60 mg subcutaneous every 6 months", "2021-01-15",
                    meta={"lastUpdated": "2026-11-19T10:00:00Z"})  # fmt: skip
    [card] = cards(client, RISE, medications=[order])
    assert "denosumab" not in card["summary"].lower()
    assert "2021" not in card["detail"]


def test_a_stopped_order_with_an_end_keeps_its_end_date(client: FlaskClient) -> None:
    order = stopped(
        "Denosumab 60 mg subcutaneous every 6 months",
        "2024-01-15",
        dispenseRequest={"validityPeriod": {"start": "2024-01-15", "end": "2026-05-01"}},
    )
    [card] = cards(client, RISE, medications=[order])
    assert "stopped 1 May 2026" in card["detail"]
    assert "ordered" not in card["detail"]


# --- 4 (N11): infiltrative cholestasis beside sarcoidosis and a raised calcium -----------------

LIVER = "alp-high-liver-source"
SARCOID = worded("Sarcoid (pulmonary + ?hepatic)", "D86.0")


def infiltrative(calcium: float) -> list[dict[str, Any]]:
    return [
        alp(390, low=30, high=130),
        ggt(260, low=5, high=40),
        observation("1975-2", 12, unit="umol/L", ucum="umol/L", low=0, high=21),
        observation("17861-6", calcium, unit="mmol/L", ucum="mmol/L", low=2.15, high=2.55),
    ]


def test_a_raised_calcium_with_infiltrative_cholestasis_is_named(client: FlaskClient) -> None:
    # Review 12 N11: sarcoid, ALP 3x with a raised GGT, normal bilirubin, calcium 2.7 mmol/L.
    [card] = cards(client, infiltrative(2.7), conditions=[SARCOID])
    assert fired([card]) == [LIVER]
    assert "calcium 2.70 mmol/L raised: infiltration (sarcoid granulomas" in card["detail"]
    assert "can be infiltration" not in card["detail"]


def test_sarcoidosis_with_a_normal_calcium_names_hepatic_granulomas(client: FlaskClient) -> None:
    [card] = cards(client, infiltrative(2.4), conditions=[SARCOID])
    assert "beside sarcoidosis: hepatic granulomas likely" in card["detail"]
    [card] = cards(client, infiltrative(2.4))  # neither: the general infiltration line
    assert "can be infiltration (metastases, lymphoma, granulomas)" in card["detail"]
    query = worded("?sarcoid - for CT chest", "R91.8")
    [card] = cards(client, infiltrative(2.4), conditions=[query])
    assert "sarcoidosis" not in card["detail"]
