"""Twentieth round (2026-12-02), part H: review 30's low-ALP findings (docs/rulebook.md,
"Twentieth round (2026-12-02), part H (review 30: a child's very low ALP, fractures,
refeeding)"). Each patient is rebuilt from the reviewer's facts (review 30's gen.py and
gen_probe.py), signed on 2 Dec 2026, with the neighbour that must not change beside it."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.rules_helper import fired, suggested
from tests.support.fhir import alp
from tests.support.labs import Labs, day, drug, post, since, worded, words

NOW = "2026-12-02T07:30:00Z"
LABS = Labs(NOW)
PLP_LOINC = "62236-5"
REPEAT_ALP_LOINC = "6768-6"
CHILD_HPP = "alp-low-child-hpp"
LOW_FIRST = "alp-low-first"
PERSISTENT_MILD = "alp-low-persistent-mild"
MALNUTRITION = "alp-low-malnutrition"


def child_alp(value: float, comparator: str | None = None) -> dict[str, Any]:
    """ALP against the laboratory's child range, 156-369 U/L."""
    result = LABS.alp(value, low=156, high=369)
    if comparator:
        result["valueQuantity"]["comparator"] = comparator
    return result


# --- Item 1 (R30-40, wrong): a child's unmeasurably low ALP with early loss of baby teeth -----

BABY_TEETH = [worded("Early loss of baby teeth", "2026-10-01")]


def test_a_childs_unmeasurable_alp_with_baby_teeth_lost_is_a_hpp_warning(
    client: FlaskClient,
) -> None:
    [card] = post(client, "female", "2022-03-01", [child_alp(5, "<")], conditions=BABY_TEETH)
    assert fired([card]) == [CHILD_HPP]
    assert card["indicator"] == "warning"
    assert "hypophosphatasia" in card["summary"]
    assert "early tooth loss" in card["summary"] or "tooth loss" in card["summary"]
    assert len(card["summary"]) <= 126
    assert "phosphoethanolamine" in card["detail"]
    assert "paediatric metabolic bone" in card["detail"].lower()
    assert words(card) < 130
    codes = suggested(card)
    assert PLP_LOINC in codes
    assert REPEAT_ALP_LOINC in codes


def test_a_childs_plain_5_is_the_same_warning(client: FlaskClient) -> None:
    # P01: the comparator does not change the reading.
    [card] = post(client, "female", "2022-03-01", [child_alp(5)], conditions=BABY_TEETH)
    assert fired([card]) == [CHILD_HPP]


def test_a_childs_far_low_alp_with_nothing_recorded_is_a_warning(client: FlaskClient) -> None:
    # The depth alone: 60 against 156 (0.38x), no sign recorded.
    [card] = post(client, "male", "2018-05-01", [child_alp(60)])
    assert fired([card]) == [CHILD_HPP]
    assert "hypophosphatasia until excluded" in card["summary"]
    assert PLP_LOINC in suggested(card)


def test_early_loss_of_baby_teeth_in_words_is_read_on_a_mild_low(client: FlaskClient) -> None:
    # The wording alone: a child's mild low (130 against 156) with the words keeps the
    # first-low card and its tooth-loss summary with PLP.
    [card] = post(client, "female", "2022-03-01", [child_alp(130)], conditions=BABY_TEETH)
    assert fired([card]) == [LOW_FIRST]
    assert "with premature tooth loss: consider hypophosphatasia" in card["summary"]
    assert PLP_LOINC in suggested(card)


def test_a_childs_mildly_low_first_alp_stays_the_repeat(client: FlaskClient) -> None:
    # Neighbour: 130 against 156 (0.83x), nothing recorded: the first-low repeat, info. Twenty-
    # second round, part F (review 40, R40-12): a child low for age is not an adult's artefact,
    # so PLP goes with the repeat (was "Low ALP 130 U/L (lower limit 156): repeat ALP in a serum
    # tube"); still info, still not the child warning.
    [card] = post(client, "female", "2022-03-01", [child_alp(130)])
    assert fired([card]) == [LOW_FIRST]
    assert card["indicator"] == "info"
    assert card["summary"] == (
        "Child 4 years, ALP 130 U/L low for age (limit 156): repeat in a serum tube with PLP "
        "(vitamin B6)"
    )


def test_a_childs_far_low_alp_with_edta_signs_stays_the_artefact_card(
    client: FlaskClient,
) -> None:
    # Neighbour: gross EDTA contamination (potassium 9.8, calcium 0.9) keeps the artefact card.
    found = post(
        client,
        "female",
        "2022-03-01",
        [child_alp(20)],
        labs=[LABS.potassium(9.8), LABS.calcium(0.9)],
    )
    # Twenty-first round, integrator: a potassium of 7.0 or more with a low calcium is now its own
    # warning (alp-low-sample-artefact-gross: repeat and ECG now), standing in for this card.
    assert fired(found) == ["alp-low-sample-artefact-gross"]


def test_baby_teeth_erupting_early_are_not_tooth_loss(client: FlaskClient) -> None:
    # Neighbour of the new words: early eruption is not early loss.
    [card] = post(
        client,
        "female",
        "2022-03-01",
        [child_alp(130)],
        conditions=[worded("Baby teeth erupted early", "2023-01-01")],
    )
    assert "tooth loss" not in card["summary"]


# --- Item 2 (R30-49, wrong): persistent mild low with a stress fracture on record ------------

TIBIA = [worded("Stress fracture of left tibia", "2026-10-15")]
EARLIER_30 = [alp(30, when=day("2026-05-01"))]


def test_a_persistent_mild_low_with_a_stress_fracture_names_it_and_asks_for_plp(
    client: FlaskClient,
) -> None:
    [card] = post(client, "female", "1960-01-01", [LABS.alp(31)], EARLIER_30, TIBIA)
    assert fired([card]) == [PERSISTENT_MILD]
    assert "stress fracture" in card["summary"]
    assert "hypophosphatasia" in card["summary"]
    assert len(card["summary"]) <= 126
    assert suggested(card)[0] == PLP_LOINC
    assert "or fractures" not in card["detail"]
    assert words(card) < 130


def test_a_persistent_mild_low_with_a_coded_stress_fracture_is_read_too(
    client: FlaskClient,
) -> None:
    [card] = post(
        client,
        "female",
        "1960-01-01",
        [LABS.alp(31)],
        EARLIER_30,
        [since("M84.361A", "2026-10-15")],
    )
    assert "stress fracture" in card["summary"]


def test_a_persistent_mild_low_without_a_fracture_keeps_the_screen(client: FlaskClient) -> None:
    # Neighbour: nothing recorded keeps the secondary-cause screen.
    [card] = post(client, "female", "1960-01-01", [LABS.alp(31)], EARLIER_30)
    assert fired([card]) == [PERSISTENT_MILD]
    assert card["summary"] == (
        "Persistently, mildly low ALP 31 U/L (lower limit 35): screen for secondary causes"
    )
    assert PLP_LOINC not in suggested(card)


# --- Item 3 (R30-20, noisy): anorexia nervosa on alendronate with a low phosphate -------------

ANOREXIA = [since("F50.01", "2023-01-01")]
ALENDRONATE = [drug("Alendronic acid 70 mg weekly", "2025-06-01")]


def test_the_refeeding_line_stays_beside_the_antiresorptive_card(client: FlaskClient) -> None:
    [card] = post(
        client,
        "female",
        "2007-01-01",
        [LABS.alp(26)],
        [LABS.phosphate(0.7), LABS.alt(30)],
        ANOREXIA,
        ALENDRONATE,
    )
    assert fired([card]) == [LOW_FIRST]
    assert "Alendronic acid" in card["summary"]
    assert "refeeding" in card["detail"]
    assert "hold further doses" in card["detail"]
    assert words(card) < 130


def test_the_malnutrition_card_keeps_one_refeeding_line(client: FlaskClient) -> None:
    # Neighbour: without the drug the malnutrition card shows, its line once.
    [card] = post(
        client,
        "female",
        "2007-01-01",
        [LABS.alp(26)],
        [LABS.phosphate(0.7), LABS.alt(30)],
        ANOREXIA,
    )
    assert fired([card]) == [MALNUTRITION]
    assert card["detail"].count("refeeding risk") == 1


def test_no_refeeding_line_with_a_normal_phosphate(client: FlaskClient) -> None:
    # Neighbour: phosphate normal, no refeeding line.
    [card] = post(
        client,
        "female",
        "2007-01-01",
        [LABS.alp(26)],
        [LABS.phosphate(1.1), LABS.alt(30)],
        ANOREXIA,
        ALENDRONATE,
    )
    assert "refeeding" not in card["detail"]


# --- Item 4 (R30-45, noisy): "hypothyroidism and untreated hypothyroidism" -------------------


def tsh(value: float) -> dict[str, Any]:
    return LABS.lab("3016-3", value, "m[IU]/L", 0.4, 4.0)


def test_hypothyroidism_is_named_once(client: FlaskClient) -> None:
    [card] = post(
        client, "female", "1965-01-01", [LABS.alp(31)], [tsh(48)], [since("E03.9", "2026-11-20")]
    )
    assert "hypothyroidism and untreated hypothyroidism" not in card["summary"]
    assert card["summary"].count("hypothyroidism") == 1
    assert "untreated hypothyroidism" in card["summary"]


def test_coded_hypothyroidism_without_a_tsh_keeps_its_label(client: FlaskClient) -> None:
    # Neighbour: no TSH, the coded label alone.
    [card] = post(
        client, "female", "1965-01-01", [LABS.alp(31)], [], [since("E03.9", "2026-11-20")]
    )
    assert "; hypothyroidism may explain it" in card["summary"]


def test_a_child_on_vitamin_b6_is_told_plp_cannot_be_read(client: FlaskClient) -> None:
    [card] = post(
        client,
        "male",
        "2018-05-01",
        [child_alp(60)],
        medications=[drug("Pyridoxine 10 mg daily", "2026-06-01")],
    )
    assert fired([card]) == [CHILD_HPP]
    # Twenty-second round, part M: the B6 line is merged into the repeat line ("PLP cannot be
    # read on B6; stop it before the test" -> "PLP, Pyridoxine stopped first (B6 raises it)").
    assert "PLP, Pyridoxine stopped first (B6 raises it)" in card["detail"]
