"""Fourteenth round, part G (2026-12-01): the fourteenth clinical review's calcium and fracture
defects (N03, N02, N05, N41, N14, N01, N40), each with the record that showed it
(docs/rulebook.md, "Fourteenth round (2026-12-01), part G")."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.rules_helper import cards, fired, suggested
from tests.support.fhir import alp, condition, ggt, medication, observation

CALCIUM = "alp-calcium-urgent"
BONE = "alp-high-bone-source"
EXPLAINED = "alp-high-bone-explained"
MILD = "alp-high-mild-isolated"
PTH = "2731-8"
BONE_ALP = "17838-4"
NOW = "2026-11-20T08:00:00Z"
LUNG = condition("C34.11")
MYELOMA = condition("C90.00")


def calcium(value: float, when: str = NOW) -> dict[str, Any]:
    return observation(
        "2000-8", value, unit="mmol/L", ucum="mmol/L", low=2.15, high=2.55, when=when
    )


def albumin(value: float, when: str = NOW, unit: str = "g/L") -> dict[str, Any]:
    return observation("1751-7", value, unit=unit, ucum=unit, when=when)


def ionised(value: float) -> dict[str, Any]:
    return observation("1994-3", value, unit="mmol/L", ucum="mmol/L", low=1.15, high=1.32)


def labs(*extra: dict[str, Any], xuln: float = 1.5) -> list[dict[str, Any]]:
    return [alp(round(129 * xuln), high=129, low=40), ggt(30, low=5, high=60), *extra]


# --- 1 (unsafe, N03; wrong, N02, N05): the albumin-adjusted calcium is judged ---------------


def test_a_low_albumin_lifts_a_calcium_of_2_85_to_the_warning(client: FlaskClient) -> None:
    found = cards(client, labs(calcium(2.85), albumin(24)), conditions=[LUNG])
    assert fired(found) == [CALCIUM]
    card = found[0]
    assert card["summary"].startswith("Adjusted calcium 3.17 mmol/L with a cancer recorded")
    assert "adjusted for albumin 24 g/L: 3.17 mmol/L" in card["detail"]
    assert "not albumin-corrected" not in card["detail"]


def test_a_high_albumin_takes_a_calcium_of_3_02_below_the_warning(client: FlaskClient) -> None:
    found = cards(client, labs(calcium(3.02), albumin(53)))
    assert CALCIUM not in fired(found)


def test_a_calcium_just_above_range_with_a_normal_albumin_is_not_raised_beside_myeloma(
    client: FlaskClient,
) -> None:
    found = cards(client, labs(calcium(2.58), albumin(44)), conditions=[condition("C90.01")])
    assert CALCIUM not in fired(found)


def test_an_albumin_in_g_dl_adjusts_a_calcium_in_mg_dl(client: FlaskClient) -> None:
    ca = observation("17861-6", 11.4, unit="mg/dL", ucum="mg/dL", low=8.6, high=10.2)
    found = cards(client, labs(ca, albumin(2.4, unit="g/dL")))
    assert fired(found) == [CALCIUM]
    assert "Adjusted calcium 12.7 mg/dL" in found[0]["summary"]


def test_an_albumin_from_another_day_adjusts_nothing(client: FlaskClient) -> None:
    found = cards(
        client, labs(calcium(3.10), albumin(24, when="2026-11-17T08:00:00Z")), conditions=[]
    )
    assert fired(found) == [CALCIUM]
    assert "(total, not albumin-corrected)" in found[0]["detail"]


def test_the_calcium_is_dated_with_its_own_day(client: FlaskClient) -> None:
    found = cards(
        client,
        labs(calcium(3.30, when="2026-11-19T20:00:00Z")),
        conditions=[condition("C61"), condition("C79.51")],
    )
    assert fired(found) == [CALCIUM]
    assert "on 19 Nov 2026" in found[0]["detail"]


# --- 2 (unsafe, N41): an ionised calcium alone ---------------------------------------------


def test_a_raised_ionised_calcium_beside_myeloma_warns_without_bone_alp(
    client: FlaskClient,
) -> None:
    found = cards(client, labs(ionised(1.65), xuln=1.05), conditions=[MYELOMA])
    assert fired(found) == [CALCIUM]
    card = found[0]
    assert card["summary"].startswith("Ionised calcium 1.65 mmol/L")
    assert BONE_ALP not in suggested(card)


def test_a_severe_ionised_calcium_warns_whatever_the_record(client: FlaskClient) -> None:
    assert fired(cards(client, labs(ionised(1.62)))) == [CALCIUM]
    assert CALCIUM not in fired(cards(client, labs(ionised(1.40))))


# --- 3 (unsafe, N14): a pathological fracture is not an explanation ------------------------


def test_a_pathological_fracture_of_unknown_cause_is_investigated_not_explained(
    client: FlaskClient,
) -> None:
    fracture = condition("M84.452A", onset="2026-11-01")
    found = cards(client, labs(), conditions=[fracture])
    assert EXPLAINED not in fired(found)
    assert fired(found) == [BONE]
    card = found[0]
    assert "pathological fracture: find its cause" in card["summary"]
    assert "free light chains" in card["detail"]
    assert BONE_ALP not in suggested(card)


def test_a_mild_first_rise_with_a_pathological_fracture_is_not_repeated(
    client: FlaskClient,
) -> None:
    fracture = condition("M84.452A", onset="2026-11-01")
    found = cards(client, labs(xuln=1.2), conditions=[fracture])
    assert MILD not in fired(found)
    assert fired(found) == [BONE]


# --- 4 (N01): lithium, calcium 3.08 with a raised PTH --------------------------------------


def test_a_raised_pth_on_lithium_names_it_and_asks_for_no_pth(client: FlaskClient) -> None:
    pth = observation("2731-8", 98, unit="pg/mL", ucum="pg/mL", low=15, high=65)
    found = cards(
        client,
        labs(calcium(3.08), albumin(42), pth, xuln=1.3),
        medications=[medication(text="lithium carbonate 400 MG Extended Release Oral Tablet")],
    )
    assert fired(found) == [CALCIUM]
    card = found[0]
    assert "PTH raised: hyperparathyroidism" in card["summary"]
    assert "lithium-associated" in card["detail"]
    assert "antiresorptive" not in card["detail"]
    assert suggested(card) == []


def test_a_mild_adjusted_calcium_beside_a_cancer_is_named_not_asked_for_again(
    client: FlaskClient,
) -> None:
    found = cards(client, labs(calcium(2.60), albumin(34)), conditions=[LUNG])
    assert fired(found) == [BONE]
    detail = found[0]["detail"]
    assert "Calcium 2.60 mmol/L (adjusted for albumin: 2.72 mmol/L) raised: repeat it;" in detail
    assert "repeat it adjusted for albumin" not in detail


def test_osteoporosis_with_a_current_fracture_in_words_is_no_pathological_fracture(
    client: FlaskClient,
) -> None:
    vertebra = condition("M80.08XA", onset="2026-10-10")
    vertebra["code"]["text"] = (
        "Age-related osteoporosis with current pathological fracture, vertebra"
    )
    found = cards(client, labs(xuln=3.8), conditions=[vertebra])
    assert fired(found) == [BONE]
    assert "pathological fracture: find its cause" not in found[0]["summary"]
    assert BONE_ALP in suggested(found[0])
