"""Rule families for a low ALP (first, explained, persistent), the sample artefact, the Wilson
pattern, enzyme replacement and the silent normal rule. Positive, negative and boundary cases."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.rules_helper import cards, fired, suggested
from tests.support.fhir import (
    SNOMED,
    alp,
    condition,
    full_prefetch,
    ggt,
    medication,
    observation,
    patient,
    procedure,
    service_request,
    sign_request,
)

FIRST = "alp-low-first"
EXPLAINED = "alp-low-explained"
PERSISTENT = "alp-low-persistent"
ARTEFACT = "alp-low-sample-artefact"
WILSON = "alp-wilson-pattern"
ENZYME = "alp-enzyme-replacement"

EARLIER_LOW = alp(22, when="2026-08-15T08:00:00Z", ident="alp-earlier-low")


# --- low, first ------------------------------------------------------------------------------


def test_a_first_unexplained_low_asks_for_a_serum_repeat(client: FlaskClient) -> None:
    found = cards(client, [alp(20)])
    assert fired(found) == [FIRST]
    assert suggested(found[0]) == ["6768-6"]
    assert "serum tube" in found[0]["summary"]


def test_the_lower_limit_itself_is_normal(client: FlaskClient) -> None:
    assert cards(client, [alp(35)]) == []
    assert fired(cards(client, [alp(34.9)])) == [FIRST]


def test_low_for_a_child_is_judged_by_the_age_table(client: FlaskClient) -> None:
    # An 8-year-old with ALP 100 U/L: normal for an adult, low for a child (Mayo 142-335).
    child = patient("male", "2018-03-01")
    assert fired(cards(client, [alp(100)], pt=child)) == [FIRST]


def test_a_repeat_already_ordered_means_no_first_low_card(client: FlaskClient) -> None:
    assert cards(client, [alp(20)], orders=[service_request("6768-6")]) == []


def test_an_earlier_low_within_14_days_is_neither_first_nor_persistent(client: FlaskClient) -> None:
    recent_low = alp(21, when="2026-11-10T08:00:00Z")
    assert cards(client, [alp(20)], labs=[recent_low]) == []


# --- low, explained --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "entry"),
    [
        ("malnutrition", condition("E43")),
        ("cachexia", condition("R64")),
        ("coeliac", condition("K90.0")),
        ("IBD", condition("K50.90")),
        ("hypothyroidism", condition("E03.9")),
        ("hypothyroidism (SNOMED)", condition("40930008", SNOMED)),
        ("Wilson disease", condition("E83.01")),
        ("B12 deficiency", condition("D51.0")),
        ("aplastic anaemia", condition("D61.9")),
        ("zinc deficiency", condition("E60")),
        ("magnesium deficiency", condition("E61.2")),
        ("poorly controlled diabetes", condition("E11.65")),
        ("hypophosphatasia", condition("E83.39")),
        ("fatty liver", condition("K76.0")),
        ("heavy metals", condition("T56.0X1A")),
    ],
)
def test_a_recorded_condition_explains_a_low_alp(
    client: FlaskClient, kind: str, entry: dict[str, object]
) -> None:
    found = cards(client, [alp(20)], conditions=[entry])
    assert fired(found) == [EXPLAINED], kind
    assert "suggestions" not in found[0]


@pytest.mark.parametrize(
    ("kind", "drug"),
    [
        ("ethinyl estradiol", medication("4124")),
        ("prednisone", medication("8640")),
        ("methotrexate", medication("6851")),
        ("estradiol by name", medication(text="Estradiol 1 MG Oral Tablet")),
    ],
)
def test_a_drug_explains_a_low_alp(client: FlaskClient, kind: str, drug: dict[str, object]) -> None:
    found = cards(client, [alp(20)], medications=[drug])
    assert fired(found) == [EXPLAINED], kind


def test_recent_cardiac_surgery_or_transfusion_explains_it_for_30_days(client: FlaskClient) -> None:
    for code in ("232717009", "116863004"):
        assert fired(
            cards(client, [alp(20)], procedures=[procedure(code, "2026-10-25T10:00:00Z")])
        ) == [EXPLAINED]
        assert fired(
            cards(client, [alp(20)], procedures=[procedure(code, "2026-10-15T10:00:00Z")])
        ) == [FIRST]


def test_a_resolved_cause_does_not_explain(client: FlaskClient) -> None:
    assert fired(cards(client, [alp(20)], conditions=[condition("E03.9", status="resolved")])) == [
        FIRST
    ]


def test_a_cause_of_low_alp_does_not_touch_a_high_one(client: FlaskClient) -> None:
    found = cards(client, [alp(312)], conditions=[condition("E03.9")])
    assert fired(found) == ["alp-high-confirm-origin"]
    assert "Hypothyroidism" not in found[0]["detail"]


# --- low, persistent (hypophosphatasia) ------------------------------------------------------


def test_a_persistent_unexplained_low_warns_of_hypophosphatasia(client: FlaskClient) -> None:
    found = cards(client, [alp(20)], labs=[EARLIER_LOW])
    assert fired(found) == [PERSISTENT]
    card = found[0]
    assert card["indicator"] == "warning"
    assert sorted(suggested(card)) == sorted(["62236-5", "5763-8", "19123-9", "3016-3", "2132-9"])
    assert "Avoid bisphosphonates and denosumab" in card["detail"]
    assert "2026-08-15" in card["summary"]


def test_the_warning_is_stronger_on_an_antiresorptive(client: FlaskClient) -> None:
    found = cards(
        client,
        [alp(20)],
        labs=[EARLIER_LOW],
        medications=[medication(text="Alendronate 70 mg weekly")],
    )
    assert "This patient is on a bisphosphonate or denosumab" in found[0]["detail"]
    plain = cards(client, [alp(20)], labs=[EARLIER_LOW])
    assert "This patient is on a bisphosphonate" not in plain[0]["detail"]


def test_workup_tests_measured_in_90_days_are_not_suggested_again(client: FlaskClient) -> None:
    tsh = observation(
        "3016-3",
        2.1,
        when="2026-10-01T08:00:00Z",
        unit="m[IU]/L",
        ucum="m[IU]/L",
        low=0.3,
        high=4.2,
    )
    found = cards(client, [alp(20)], labs=[EARLIER_LOW, tsh])
    assert "3016-3" not in suggested(found[0])
    assert "TSH: resulted on 2026-10-01" in found[0]["detail"]


def test_persistence_boundary_is_14_days(client: FlaskClient) -> None:
    at_14 = alp(21, when="2026-11-06T08:00:00Z")
    at_13 = alp(21, when="2026-11-07T08:00:00Z")
    assert fired(cards(client, [alp(20)], labs=[at_14])) == [PERSISTENT]
    assert cards(client, [alp(20)], labs=[at_13]) == []


def test_an_earlier_low_over_two_years_ago_does_not_count(client: FlaskClient) -> None:
    ancient = alp(21, when="2024-11-01T08:00:00Z")
    assert fired(cards(client, [alp(20)], labs=[ancient])) == [FIRST]


def test_an_earlier_value_is_judged_by_its_own_range(client: FlaskClient) -> None:
    # 30 U/L was normal by the old lab's 25-90 range.
    earlier = alp(30, when="2026-08-15T08:00:00Z", low=25, high=90)
    assert fired(cards(client, [alp(20)], labs=[earlier])) == [FIRST]


def test_an_explained_persistent_low_is_explained_not_hpp(client: FlaskClient) -> None:
    found = cards(client, [alp(20)], labs=[EARLIER_LOW], conditions=[condition("E03.9")])
    assert fired(found) == [EXPLAINED]


# --- sample artefact -------------------------------------------------------------------------


def artefact_set(k: float = 6.8, ca: float = 7.2) -> list[dict[str, object]]:
    return [
        alp(8),
        observation("2823-3", k, unit="mmol/L", ucum="mmol/L", low=3.5, high=5.1),
        observation("17861-6", ca, unit="mg/dL", ucum="mg/dL", low=8.6, high=10.2),
    ]


def test_low_alp_with_high_potassium_and_low_calcium_is_an_artefact(client: FlaskClient) -> None:
    found = cards(client, artefact_set())
    assert fired(found) == [ARTEFACT]
    assert suggested(found[0]) == ["6768-6"]
    assert "EDTA" in found[0]["summary"]


def test_calcium_in_mmol_per_litre_is_converted(client: FlaskClient) -> None:
    results = [
        alp(8),
        observation("2823-3", 6.8, unit="mmol/L", ucum="mmol/L", low=None, high=None),
        observation("2000-8", 1.8, unit="mmol/L", ucum="mmol/L", low=None, high=None),  # 7.2 mg/dL
    ]
    assert fired(cards(client, results)) == [ARTEFACT]


def test_normal_potassium_is_not_an_artefact(client: FlaskClient) -> None:
    assert fired(cards(client, artefact_set(k=4.5))) == [FIRST]


def test_electrolytes_from_another_day_do_not_count(client: FlaskClient) -> None:
    k = observation(
        "2823-3", 6.8, when="2026-11-17T08:00:00Z", unit="mmol/L", ucum="mmol/L", low=3.5, high=5.1
    )
    ca = observation(
        "17861-6", 7.2, when="2026-11-17T08:00:00Z", unit="mg/dL", ucum="mg/dL", low=8.6, high=10.2
    )
    assert fired(cards(client, [alp(8)], labs=[k, ca])) == [FIRST]


# --- Wilson pattern --------------------------------------------------------------------------


def wilson_results(
    bili: float = 12.0, ast: float = 260, alt: float = 100
) -> list[dict[str, object]]:
    return [
        alp(30),
        observation("1975-2", bili, unit="mg/dL", ucum="mg/dL", low=0.1, high=1.2),
        observation("1920-8", ast, low=8, high=43),
        observation("1742-6", alt, low=7, high=45),
    ]


def test_the_wilson_pattern_warns_and_suggests_ceruloplasmin(client: FlaskClient) -> None:
    found = cards(client, wilson_results())
    # ALP/bili = 30/12 = 2.5 (< 4); AST/ALT = 2.6 (> 2.2). The low ALP is not shown twice.
    assert fired(found)[0] == WILSON
    assert found[0]["indicator"] == "warning"
    assert suggested(found[0]) == ["2064-4"]


def test_bilirubin_in_micromoles_is_converted(client: FlaskClient) -> None:
    results = wilson_results()
    results[1] = observation(
        "1975-2", 205, unit="umol/L", ucum="umol/L", low=None, high=None
    )  # 12 mg/dL
    assert fired(cards(client, results))[0] == WILSON


@pytest.mark.parametrize(
    ("bili", "ast", "alt"),
    [
        (7.5, 260, 100),  # ALP/bili = 4.0: not below 4
        (12.0, 220, 100),  # AST/ALT = 2.2: not above 2.2
        (1.0, 260, 100),  # bilirubin not raised
    ],
)
def test_wilson_boundaries(client: FlaskClient, bili: float, ast: float, alt: float) -> None:
    assert WILSON not in fired(cards(client, wilson_results(bili, ast, alt)))


# --- enzyme replacement ----------------------------------------------------------------------


def test_on_asfotase_alfa_one_card_and_nothing_else(client: FlaskClient) -> None:
    drug = medication(text="Strensiq (asfotase alfa) 40 mg/mL injection")
    for results in ([alp(2500)], [alp(20)], [alp(312), ggt(120)]):
        found = cards(client, results, medications=[drug])
        assert fired(found) == [ENZYME]
        assert "suggestions" not in found[0]


# --- normal (silent) -------------------------------------------------------------------------


def test_a_normal_alp_is_silent_but_its_decision_is_traced(app: Flask) -> None:
    from cds_service.alp_services import AlpServices

    services: AlpServices = app.extensions["alp_cds"].services
    body = sign_request([alp(80)], full_prefetch())
    response = app.test_client().post("/cds-services/alp-result-sign", json=body)
    assert response.get_json() == {"cards": []}
    from cds_service.explain import evaluate_document

    trace = evaluate_document(services, body).trace
    rules = {r.rule: r for r in trace.evaluations[0].rules}
    assert rules["alp-normal"].fired is True


def test_an_adolescent_growth_spurt_is_normal(client: FlaskClient) -> None:
    # A 14-year-old boy: Mayo 116-468 U/L; no lab range sent.
    teen = patient("male", "2012-06-01")
    assert cards(client, [alp(380, low=None, high=None)], pt=teen) == []


def test_the_antiresorptive_is_listed_on_the_card(client: FlaskClient) -> None:
    found = cards(
        client,
        [alp(20)],
        labs=[EARLIER_LOW],
        medications=[medication(text="Alendronate 70 mg weekly")],
    )
    assert "A bisphosphonate or denosumab (MedicationRequest/" in found[0]["detail"]


def test_a_repeat_low_within_14_days_is_recorded_silently(app: Flask) -> None:
    from cds_service.explain import evaluate_document

    recent_low = alp(21, when="2026-11-10T08:00:00Z")
    body = sign_request([alp(20)], full_prefetch(labs=[recent_low]))
    trace = evaluate_document(app.extensions["alp_cds"].services, body).trace
    fired_rules = [r.rule for r in trace.evaluations[0].rules if r.fired]
    assert fired_rules == ["alp-low-awaiting-persistence"]
