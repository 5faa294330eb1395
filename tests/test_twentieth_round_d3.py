"""Twentieth round (2026-12-02), part L: review 31's child low-ALP and EDTA findings
(docs/rulebook.md, "Twentieth round (2026-12-02), part L (review 31: a child's very low ALP with
a cause, calcineurin inhibitors and EDTA)"). Each patient is rebuilt from the reviewer's facts
(/work/review31-work gen.py and gen_probe.py), signed on 2 Dec 2026, with the neighbour that
must not change beside it."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.rules_helper import fired, suggested
from tests.support.fhir import procedure
from tests.support.labs import Labs, drug, post, since, worded, words

NOW = "2026-12-02T07:30:00Z"
LABS = Labs(NOW)
PLP_LOINC = "62236-5"
ZINC_LOINC = "5763-8"
CHILD_HPP = "alp-low-child-hpp"
ARTEFACT = "alp-low-sample-artefact"
URGENT_LOW = "alp-low-electrolyte-urgent"


def child_alp(value: float) -> dict[str, Any]:
    """ALP against the laboratory's child range, 156-369 U/L."""
    return LABS.alp(value, low=156, high=369)


def creatinine(value: float) -> dict[str, Any]:
    return LABS.lab("2160-0", value, "umol/L", 60, 110)


# --- Item 1 (R31-31 / P01, R31-33, R31-42, noisy): a child's very low ALP with a cause -------

BYPASS_WORDS = [
    since("Q21.0", "2024-07-01"),
    worded("VSD repair on cardiopulmonary bypass", "2026-11-28"),
    worded("Red cell transfusion", "2026-11-28"),
]


def assert_explained_child_card(card: dict[str, Any]) -> None:
    assert fired([card]) == [CHILD_HPP]
    assert "hypophosphatasia until excluded" not in card["summary"]
    assert "referral now" not in card["detail"].lower()
    assert "after recovery" in card["summary"] or "after recovery" in card["detail"]
    assert len(card["summary"]) <= 126
    assert words(card) < 130
    assert PLP_LOINC in suggested(card)


def test_r31_31_bypass_in_words_names_it_and_repeats_after_recovery(client: FlaskClient) -> None:
    [card] = post(client, "male", "2024-06-01", [child_alp(60)], conditions=BYPASS_WORDS)
    assert_explained_child_card(card)
    assert "cardiac surgery" in card["summary"]


def test_p01_coded_bypass_and_transfusion_are_the_same(client: FlaskClient) -> None:
    [card] = post(
        client,
        "male",
        "2024-06-01",
        [child_alp(60)],
        conditions=[since("Q21.0", "2024-07-01")],
        procedures=[
            procedure("63697000", "2026-11-28T09:00:00Z"),
            procedure("116863004", "2026-11-28T13:00:00Z"),
        ],
    )
    assert_explained_child_card(card)
    assert "rarely this far" not in card["detail"]


def test_a_bypass_two_months_ago_no_longer_explains_it(client: FlaskClient) -> None:
    # Neighbour: outside procedure_recent_days the warning is whole.
    [card] = post(
        client,
        "male",
        "2024-06-01",
        [child_alp(60)],
        conditions=[worded("VSD repair on cardiopulmonary bypass", "2026-09-28")],
    )
    assert fired([card]) == [CHILD_HPP]
    assert "hypophosphatasia until excluded" in card["summary"]
    assert "referral now" in card["detail"].lower()


def test_a_bypass_with_early_tooth_loss_keeps_the_warning(client: FlaskClient) -> None:
    # Safety: a sign of hypophosphatasia keeps the warning whatever else is recorded.
    conditions = [*BYPASS_WORDS, worded("Early loss of baby teeth", "2026-10-01")]
    [card] = post(client, "male", "2024-06-01", [child_alp(60)], conditions=conditions)
    assert fired([card]) == [CHILD_HPP]
    assert "hypophosphatasia until excluded" in card["summary"]
    assert "referral now" in card["detail"].lower()


def test_awaiting_cardiac_surgery_is_not_surgery(client: FlaskClient) -> None:
    [card] = post(
        client,
        "male",
        "2024-06-01",
        [child_alp(60)],
        conditions=[worded("VSD awaiting cardiac surgery", "2026-11-28")],
    )
    assert "hypophosphatasia until excluded" in card["summary"]


def test_r31_33_severe_malnutrition_names_zinc(client: FlaskClient) -> None:
    [card] = post(
        client,
        "male",
        "2023-05-01",
        [child_alp(55)],
        labs=[LABS.phosphate(0.6), LABS.magnesium(0.6), LABS.potassium(3.6)],
        conditions=[since("E43", "2026-11-20")],
    )
    assert_explained_child_card(card)
    assert "malnutrition" in card["summary"]
    assert "zinc" in card["detail"].lower()
    assert ZINC_LOINC in suggested(card)
    assert "refeeding" in card["detail"]


def test_r31_42_anorexia_nervosa_names_zinc(client: FlaskClient) -> None:
    [card] = post(
        client,
        "female",
        "2011-03-01",
        [LABS.alp(45, low=100, high=390)],
        labs=[LABS.phosphate(0.55), LABS.magnesium(0.62), LABS.potassium(3.2)],
        conditions=[since("F50.01", "2026-06-01")],
    )
    assert_explained_child_card(card)
    assert "zinc" in card["detail"].lower()


def test_untreated_hypothyroidism_keeps_the_warning(client: FlaskClient) -> None:
    # Neighbour (R31-32, correct): the endocrine team is needed now anyway.
    tsh = LABS.lab("3016-3", 60, "m[IU]/L", 0.4, 4.0)
    [card] = post(
        client,
        "female",
        "2021-06-01",
        [child_alp(70)],
        labs=[tsh],
        conditions=[since("E03.1", "2021-07-01")],
    )
    assert fired([card]) == [CHILD_HPP]
    assert "hypophosphatasia until excluded" in card["summary"]


# --- Item 3 (R31-47, wrong): tacrolimus, a severe magnesium and EDTA -------------------------

TRANSPLANT = [since("Z94.0", "2020-01-01")]
TACROLIMUS = drug("Tacrolimus 3 mg twice daily", "2020-01-01")
OMEPRAZOLE = drug("Omeprazole 20 mg daily", "2020-01-01")


def test_r31_47_tacrolimus_high_potassium_severe_magnesium_is_the_urgent_card(
    client: FlaskClient,
) -> None:
    found = post(
        client,
        "male",
        "1978-01-01",
        [LABS.alp(27)],
        labs=[LABS.magnesium(0.38), LABS.potassium(5.8), LABS.calcium(2.05), creatinine(150)],
        conditions=TRANSPLANT,
        medications=[TACROLIMUS, OMEPRAZOLE],
    )
    assert fired(found) == [URGENT_LOW]
    assert "today" in found[0]["summary"]


def test_no_drug_high_potassium_low_calcium_keeps_the_artefact_card_and_says_today(
    client: FlaskClient,
) -> None:
    # Neighbour: nothing recorded to raise the potassium or lose magnesium: EDTA's signature;
    # a magnesium this low is still repeated today.
    found = post(
        client,
        "male",
        "1978-01-01",
        [LABS.alp(27)],
        labs=[LABS.magnesium(0.38), LABS.potassium(5.8), LABS.calcium(2.05)],
    )
    assert fired(found) == [ARTEFACT]
    card = found[0]
    assert "Mg severely low: possible EDTA contamination" in card["summary"]
    assert card["summary"].endswith("today")
    assert "so low: repeat with a potassium and calcium today" in card["detail"]
    assert len(card["summary"]) <= 126


def test_ramipril_alone_with_a_low_calcium_stays_edta(client: FlaskClient) -> None:
    # Neighbour (eighteenth round, N01): a drug that raises potassium, nothing that loses
    # magnesium: still the artefact card.
    found = post(
        client,
        "male",
        "1978-01-01",
        [LABS.alp(19)],
        labs=[LABS.magnesium(0.55), LABS.potassium(7.9), LABS.calcium(1.58)],
        medications=[drug("Ramipril 10 mg daily", "2020-01-01")],
    )
    # Twenty-first round, integrator: a potassium of 7.0 or more with a low calcium is now its own
    # warning (alp-low-sample-artefact-gross: repeat and ECG now), standing in for this card.
    assert fired(found) == [ARTEFACT + "-gross"]


def test_a_mild_low_with_edta_signs_keeps_the_plain_artefact_summary(client: FlaskClient) -> None:
    found = post(
        client,
        "male",
        "1978-01-01",
        [LABS.alp(27)],
        labs=[LABS.potassium(5.8), LABS.calcium(2.05)],
    )
    assert fired(found) == [ARTEFACT]
    # Twenty-first round, part I (review 35, R35-05): every EDTA form names the potassium.
    assert found[0]["summary"] == (
        "Low ALP 27 U/L with K 5.8 mmol/L and low Ca: possible EDTA contamination; "
        "repeat ALP with K and Ca"
    )


# --- Item 4 (R31-44, noisy): a gastric bypass is a cause of magnesium loss --------------------


def test_r31_44_gastric_bypass_counts_the_severe_magnesium(client: FlaskClient) -> None:
    found = post(
        client,
        "female",
        "1981-01-01",
        [LABS.alp(28)],
        labs=[LABS.magnesium(0.40), LABS.calcium(1.95)],
        conditions=[worded("Roux-en-Y gastric bypass", "2015-01-01")],
    )
    assert fired(found) == [URGENT_LOW]


def test_a_sleeve_gastrectomy_is_not_a_bypass(client: FlaskClient) -> None:
    found = post(
        client,
        "female",
        "1981-01-01",
        [LABS.alp(28)],
        labs=[LABS.magnesium(0.40), LABS.calcium(1.95)],
        conditions=[worded("Sleeve gastrectomy", "2015-01-01")],
    )
    assert fired(found) == ["alp-low-first"]


# --- Item 2 (R31-35, noisy): the laboratory's own adult range at 17 years 11 months -----------


def test_r31_35_under_the_age_table_but_not_the_labs_range_is_not_the_child_warning(
    client: FlaskClient,
) -> None:
    # ALP 24 against the lab's 40-129 (0.6x) and Mayo's 55-149 for 17-18 (0.44x): the first-low
    # card, not "hypophosphatasia until excluded".
    found = post(client, "male", "2009-01-01", [LABS.alp(24, low=40, high=129)])
    assert fired(found) == ["alp-low-first"]


def test_r31_34_far_under_the_labs_range_too_keeps_the_child_warning(client: FlaskClient) -> None:
    # Neighbour (R31-34, correct): 19 is 0.48x even of the lab's own limit.
    found = post(client, "male", "2009-01-01", [LABS.alp(19, low=40, high=129)])
    assert fired(found) == [CHILD_HPP]
