"""Nineteenth round, part L (2026-12-02): review 28's calcium and bone findings, each patient built
from the facts of the reviewer's request (docs/clinical-reviews/review-28.md; docs/rulebook.md,
"Nineteenth round (2026-12-02), part L"), with the neighbour that must not change beside each
fix."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.rules_helper import card_for, cards, fired, suggested
from tests.support.fhir import alp, condition, patient
from tests.support.labs import Labs, words

NOW = "2026-12-02T07:00:00Z"
BONE_EXPLAINED = "alp-high-bone-explained"


LABS = Labs(NOW)


# --- R28-24 (wrong): calcium 2.95 with a raised PTH got a label and no next step --------------

WOMAN_62 = patient("female", "1964-11-11")


def test_calcium_and_pth_raised_name_primary_hyperparathyroidism_and_the_next_steps(
    client: FlaskClient,
) -> None:
    results = [LABS.alp(150), LABS.ggt(20)]
    labs = [*results, LABS.calcium(2.95), LABS.pth(12), LABS.phosphate(0.7)]
    [card] = cards(client, results, pt=WOMAN_62, labs=labs)
    assert fired([card]) == [BONE_EXPLAINED]
    assert "calcium 2.95 mmol/L and PTH raised: primary hyperparathyroidism" in card["summary"]
    assert "endocrine referral" in card["summary"]
    assert len(card["summary"]) <= 126
    assert "surgery at adjusted calcium 2.85 mmol/L or more" in card["detail"]
    assert "urine calcium/creatinine clearance ratio (FHH), eGFR, DXA" in card["detail"]
    assert words(card) <= 90


def test_known_hyperparathyroidism_keeps_its_consistent_with_card(client: FlaskClient) -> None:
    # The neighbour: hyperparathyroidism already recorded (under care) is named, not re-referred.
    results = [LABS.alp(150), LABS.ggt(20)]
    labs = [*results, LABS.calcium(2.75), LABS.pth(12)]
    [card] = cards(
        client, results, pt=WOMAN_62, labs=labs, conditions=[condition("E21.0", onset="2025-01-01")]
    )
    assert fired([card]) == [BONE_EXPLAINED]
    assert "consistent with" in card["summary"]
    assert "surgery at adjusted calcium" not in card["detail"]


# --- R28-38 (noisy): three causes overflowed the low-ALP summary, cut off at "may..." ----------

GIRL_5 = patient("female", "2021-01-01")
LOW_FIRST = "alp-low-first"


def zinc(value: float) -> dict[str, Any]:
    return LABS.lab("5763-8", value, "umol/L", 11, 18)


def magnesium(value: float) -> dict[str, Any]:
    return LABS.lab("19123-9", value, "mmol/L", 0.7, 1.0)


def test_a_first_low_names_all_three_causes_within_the_summary_limit(client: FlaskClient) -> None:
    results = [alp(120, low=156, high=369, when=NOW)]
    labs = [*results, zinc(8), magnesium(0.6)]
    coeliac = [condition("K90.0", onset="2026-06-01")]
    [card] = cards(client, results, pt=GIRL_5, labs=labs, conditions=coeliac)
    assert fired([card]) == [LOW_FIRST]
    assert card["summary"] == (
        "Low ALP 120 U/L (limit 156): repeat in a serum tube; coeliac or malabsorption,"
        " low zinc and low magnesium may explain it"
    )
    assert len(card["summary"]) <= 126


def test_more_causes_than_fit_are_counted_never_cut(client: FlaskClient) -> None:
    # The neighbour: a fourth cause (hypothyroidism) does not fit; the summary names what fits
    # and counts the rest, and the detail's record line still names every one.
    results = [alp(120, low=156, high=369, when=NOW)]
    labs = [*results, zinc(8), magnesium(0.6)]
    conds = [condition("K90.0", onset="2026-06-01"), condition("E03.9", onset="2025-01-01")]
    [card] = cards(client, results, pt=GIRL_5, labs=labs, conditions=conds)
    assert fired([card]) == [LOW_FIRST]
    summary = card["summary"]
    assert len(summary) <= 126
    assert "…" not in summary
    assert summary.endswith("more may explain it")


# --- R28-23 (noisy): ALP 14x with the GGT at its limit led with the liver and isoenzymes -------

MAN_80 = patient("male", "1946-10-10")
ORIGIN_UNCLEAR = "alp-high-origin-unclear"


def test_alp_14x_with_ggt_at_its_limit_in_an_old_man_reads_bone_with_psa(
    client: FlaskClient,
) -> None:
    results = [LABS.alp(1450), LABS.ggt(40)]
    found = cards(client, results, pt=MAN_80, labs=[*results, LABS.calcium(2.45)])
    assert sorted(fired(found)) == ["alp-extreme", ORIGIN_UNCLEAR]  # the extreme warning stays
    card = card_for(found, ORIGIN_UNCLEAR)
    assert (
        "GGT 40 U/L at its limit: bone likely (Paget disease, prostate metastases)"
        in (card["summary"])
    )
    assert len(card["summary"]) <= 126
    assert "PSA; X-ray any painful bone, or an isotope bone scan" in card["detail"]
    assert "within 10% of its limit" not in card["detail"]
    assert "2857-1" in suggested(card)  # PSA


def test_a_woman_gets_the_bone_reading_without_psa(client: FlaskClient) -> None:
    results = [LABS.alp(1450), LABS.ggt(40)]
    found = cards(client, results, pt=WOMAN_62, labs=[*results, LABS.calcium(2.45)])
    card = card_for(found, ORIGIN_UNCLEAR)
    assert "bone likely (Paget disease, metastases); X-ray any painful bone" in card["summary"]
    assert "PSA" not in card["detail"]
    assert "2857-1" not in suggested(card)


def test_a_modest_rise_with_ggt_at_its_limit_still_asks_for_isoenzymes(
    client: FlaskClient,
) -> None:
    # The neighbour: at 2x a borderline GGT cannot settle the source (isoenzymes, as before).
    results = [LABS.alp(210), LABS.ggt(40)]
    [card] = cards(client, results, pt=MAN_80, labs=results)
    assert fired([card]) == [ORIGIN_UNCLEAR]
    assert card["summary"].endswith("GGT cannot tell liver from bone: order ALP isoenzymes")
    assert "within 10% of its limit" in card["detail"]
