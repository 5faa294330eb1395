"""Twenty-second round (2026-12-02), part G: review 40's high-ALP bone findings (docs/
clinical-reviews/review-40.md, findings 2, 4, 5 and 7): a breast-cancer history with new back
pain and a bone-source ALP (R40-24), hypophosphataemic rickets in a child of five (R40-19), a
raised calcium under a suppressed PTH after a spinal cord injury (R40-29), and a mild isolated
rise at 82 (R40-32) (docs/rulebook.md, "Twenty-second round (2026-12-02), part G"). Each patient
is rebuilt from the reviewer's facts, signed on 2 Dec 2026."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.rules_helper import only
from tests.support.labs import Labs, day, post, since, worded, words

NOW = "2026-12-02T08:00:00Z"
LABS = Labs(NOW)
BONE = "alp-high-bone-source"
CONFIRM = "alp-high-confirm-origin"
MILD = "alp-high-mild-isolated"


def _text(card: dict[str, Any]) -> str:
    return f"{card['summary']}\n{card['detail']}"


# --- R40-24: a breast-cancer history, night back pain, a new bone-source ALP --------------------


def _breast_history(
    client: FlaskClient,
    calcium: float | None = 2.60,
    pain: bool = True,
    history: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    labs = [LABS.alp(80, when=day("2025-12-01")), LABS.ggt(30)]
    if calcium is not None:
        labs.append(LABS.calcium(calcium))
    conditions = [history or since("Z85.3", "2015-03-01")]
    if pain:
        conditions.append(worded("Back pain, worse at night", onset="2026-10-15"))
    return post(client, "female", "1966-05-01", [LABS.alp(250)], labs, conditions)


def test_r40_24_breast_cancer_history_with_back_pain_is_suspected_spinal_metastases(
    client: FlaskClient,
) -> None:
    card = only(_breast_history(client), BONE)
    assert "back pain" in card["summary"]
    assert "Spine MRI" in card["summary"]
    assert "PTH" in card["summary"]
    assert "PTH first" not in card["summary"]
    assert "whole-spine MRI within a week" in card["detail"]
    assert "cord compression until excluded" in card["detail"]
    assert "liver" not in _text(card)


def test_r40_24_without_a_raised_calcium_the_summary_is_the_metastasis_question(
    client: FlaskClient,
) -> None:
    card = only(_breast_history(client, calcium=2.40), BONE)
    assert "suspected bone metastases; spine MRI" in card["summary"]
    assert "cord compression until excluded" in card["detail"]
    assert "liver" not in _text(card)


def test_r40_24_breast_cancer_in_words_filed_resolved_counts(client: FlaskClient) -> None:
    history = worded("Breast cancer 2015, mastectomy", onset="2015-03-01")
    history["clinicalStatus"] = {"coding": [{"code": "resolved"}]}
    card = only(_breast_history(client, calcium=2.40, history=history), BONE)
    assert "suspected bone metastases; spine MRI" in card["summary"]


def test_r40_24_without_back_pain_no_spinal_question(client: FlaskClient) -> None:
    card = only(_breast_history(client, calcium=2.40, pain=False), BONE)
    assert "spine MRI" not in card["summary"]
    assert "cord compression" not in card["detail"]
    assert "liver" not in _text(card)


# --- R40-19: hypophosphataemic rickets (XLH pattern) in a child of five -------------------------


def _child(client: FlaskClient, vitamin_d: float = 70, pth: float = 6) -> list[dict[str, Any]]:
    labs = [LABS.phosphate(0.7), LABS.calcium(2.35), LABS.pth(pth), LABS.vitamin_d(vitamin_d)]
    return post(client, "female", "2021-09-01", [LABS.alp(600, low=150, high=430)], labs)


def test_r40_19_low_phosphate_with_normal_vitamin_d_and_pth_is_hypophosphataemic_rickets(
    client: FlaskClient,
) -> None:
    card = only(_child(client), CONFIRM)
    assert "hypophosphataemic rickets (XLH)" in card["summary"]
    assert "TmP/GFR" in card["summary"]
    assert "GGT" not in card["summary"]
    assert "paired fasting urine and serum phosphate and creatinine" in card["detail"]
    assert "paediatric endocrine or metabolic bone referral" in card["detail"]


def test_r40_19_with_a_normal_ggt_the_bone_card_says_the_same(client: FlaskClient) -> None:
    labs = [LABS.ggt(12), LABS.phosphate(0.7), LABS.calcium(2.35), LABS.pth(6), LABS.vitamin_d(70)]
    found = post(client, "female", "2021-09-01", [LABS.alp(600, low=150, high=430)], labs)
    card = only(found, BONE)
    assert "hypophosphataemic rickets (XLH)" in card["summary"]
    assert "TmP/GFR" in card["detail"]


def test_r40_18_nutritional_rickets_stays(client: FlaskClient) -> None:
    card = only(_child(client, vitamin_d=15, pth=25), CONFIRM)
    assert "nutritional rickets likely" in card["summary"]
    assert "XLH" not in _text(card)


# --- R40-29: bed-bound after a spinal cord injury, calcium raised, PTH suppressed --------------


def test_r40_29_spinal_cord_injury_reads_as_immobilisation_hypercalcaemia(
    client: FlaskClient,
) -> None:
    labs = [LABS.ggt(20), LABS.calcium(2.75), LABS.pth(1.0)]
    conditions = [
        worded("Complete T6 spinal cord injury, bed-bound since August 2026", onset="2026-08-10")
    ]
    found = post(client, "male", "1991-04-01", [LABS.alp(200, high=125)], labs, conditions)
    card = only(found, BONE)
    assert "immobilisation hypercalcaemia" in card["summary"]
    assert "myeloma screen" not in card["summary"]
    assert "heterotopic ossification likely (examine hips, knees)" in card["detail"]
    assert "only if atypical" in card["detail"]
    assert "protein electrophoresis, free light chains, PTHrP, 25-OH" not in card["detail"]


def test_r40_29_an_injury_years_ago_is_not_recent_immobilisation(client: FlaskClient) -> None:
    labs = [LABS.ggt(20), LABS.calcium(2.75), LABS.pth(1.0)]
    conditions = [worded("Complete T6 spinal cord injury", onset="2015-08-10")]
    found = post(client, "male", "1991-04-01", [LABS.alp(200, high=125)], labs, conditions)
    card = only(found, BONE)
    assert "myeloma screen and PTHrP" in card["summary"]
    assert "immobilisation" not in card["detail"]


def test_r40_29_a_coded_paraplegia_without_a_raised_calcium_names_heterotopic_bone(
    client: FlaskClient,
) -> None:
    labs = [LABS.ggt(20), LABS.calcium(2.40)]
    found = post(
        client,
        "male",
        "1991-04-01",
        [LABS.alp(200, high=125)],
        labs,
        [since("G82.21", "2026-09-01")],
    )
    card = only(found, BONE)
    assert "heterotopic ossification is likely (examine hips and knees" in card["detail"]


# --- R40-32: a mild isolated rise at 82 -------------------------------------------------------


def test_r40_32_mild_rise_at_82_gets_a_short_card(client: FlaskClient) -> None:
    found = post(client, "female", "1944-03-01", [LABS.alp(125, high=104)], [LABS.ggt(25)])
    card = only(found, MILD)
    assert "common with age" in card["summary"]
    assert words(card) <= 50
    assert "blood groups B and O" not in card["detail"]
    assert "a cancer history: investigate now" in card["detail"]


def test_r40_33_a_stable_mild_rise_at_79_stays_silent(client: FlaskClient) -> None:
    labs = [LABS.alp(140, high=125, when=day("2025-11-20")), LABS.ggt(30)]
    assert post(client, "male", "1947-06-01", [LABS.alp(140, high=125)], labs) == []


def test_a_mild_rise_at_70_keeps_the_full_card(client: FlaskClient) -> None:
    found = post(client, "female", "1956-03-01", [LABS.alp(125, high=104)], [LABS.ggt(25)])
    card = only(found, MILD)
    assert "blood groups B and O" in card["detail"]
