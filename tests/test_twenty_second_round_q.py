"""Twenty-second round (2026-12-02), part Q: finding 2 of review 42 (docs/clinical-reviews/
review-42.md): low ALP on denosumab with a low calcium was an info card with a muddled summary.
R42-47 (unsafe: calcium 1.80 with CKD 4, info and "before the next Prolia dose"), R42-46 (wrong:
calcium 1.90 with CKD 4), R42-45 (wrong: calcium 2.0 alone, no 25-OH vitamin D or magnesium asked)
and R42-06 (noisy: the summary's "review the drug" against the caution's "do not delay the next
injection") (docs/rulebook.md, "Twenty-second round (2026-12-02), part Q"). Each patient is
rebuilt from the reviewer's one-line facts."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.rules_helper import card_for, fired, within_limits
from tests.support.labs import Labs, drug, post, since

NOW = "2026-12-02T08:00:00Z"
LABS = Labs(NOW)

PROLIA = [drug("Prolia 60mg injection 6-monthly", "2025-06-01")]
ALENDRONATE = [drug("Alendronic acid 70mg once weekly", "2025-06-01")]
CKD4 = [since("N18.4", "2024-01-01")]
WARNING = "alp-low-antiresorptive-hypocalcaemia"


def _post(
    labs: list[dict[str, Any]],
    client: FlaskClient,
    conditions: list[dict[str, Any]] = [],  # noqa: B006 - never mutated
    medications: list[dict[str, Any]] = PROLIA,
) -> list[dict[str, Any]]:
    found = post(client, "female", "1956-03-01", [LABS.alp(25)], labs, conditions, medications)
    within_limits(found)
    return found


def _text(card: dict[str, Any]) -> str:
    return f"{card['summary']}\n{card['detail']}"


def test_r42_47_severe_calcium_on_prolia_with_ckd4_warns_same_day(client: FlaskClient) -> None:
    found = _post([LABS.calcium(1.8)], client, CKD4)
    assert fired(found) == [WARNING, "alp-low-first"], fired(found)
    card = card_for(found, WARNING)
    assert card["indicator"] == "warning"
    summary = "Calcium 1.80 mmol/L on Prolia, CKD 4-5: severe hypocalcaemia"
    assert card["summary"].startswith(summary), card["summary"]
    text = _text(card)
    for step in ("ECG (QT)", "IV calcium gluconate", "renal team today", "25-OH vitamin D"):
        assert step in text, text
    assert "do not stop it without a bone-team plan" in text, text
    # Its twin with EDTA's signature (a high potassium, no kidney failure: part F) does not warn.
    found = _post([LABS.calcium(1.8), LABS.potassium(5.6)], client)
    assert fired(found) == ["alp-low-sample-artefact"], fired(found)


def test_severe_calcium_on_an_antiresorptive_warns_without_ckd(client: FlaskClient) -> None:
    found = _post([LABS.calcium(1.8)], client, medications=ALENDRONATE)
    card = card_for(found, WARNING)
    assert "severe hypocalcaemia" in card["summary"], card["summary"]
    assert "No further Alendronic acid until the calcium is corrected" in card["detail"]


def test_r42_46_low_calcium_on_prolia_with_ckd4_warns(client: FlaskClient) -> None:
    found = _post([LABS.calcium(1.9)], client, CKD4)
    card = card_for(found, WARNING)
    assert card["summary"].startswith("Calcium 1.90 mmol/L low on Prolia, CKD 4-5: same-day")
    assert "severe hypocalcaemia" not in card["summary"]


def test_mild_low_calcium_without_ckd_stays_info_with_the_calcium_named(
    client: FlaskClient,
) -> None:
    found = _post([LABS.calcium(2.0)], client)
    assert fired(found) == ["alp-low-first"], fired(found)
    assert found[0]["summary"] == (
        "Low ALP 25 U/L on Prolia, calcium 2.00 mmol/L low: repeat ALP in a serum tube; "
        "correct calcium before the next dose"
    )


def test_r42_45_calcium_alone_asks_for_vitamin_d_and_magnesium(client: FlaskClient) -> None:
    card = card_for(_post([LABS.calcium(2.0)], client), "alp-low-first")
    line = "recheck before the next Prolia dose; check 25-OH vitamin D, magnesium"
    assert line in card["detail"], card["detail"]
    assert "calcium 2.00 mmol/L low" in card["summary"], card["summary"]


def test_calcium_with_vitamin_d_on_record_asks_for_magnesium_only(client: FlaskClient) -> None:
    card = card_for(_post([LABS.calcium(2.0), LABS.vitamin_d(80)], client), "alp-low-first")
    assert "Prolia dose; check magnesium" in card["detail"], card["detail"]
    assert "25-OH vitamin D" not in card["detail"], card["detail"]


def test_r42_06_denosumab_summary_agrees_with_the_caution(client: FlaskClient) -> None:
    card = card_for(_post([], client), "alp-low-first")
    assert card["summary"] == (
        "Low ALP 25 U/L on Prolia: repeat in a serum tube; "
        "do not delay the next dose without a bone-team plan"
    )
    assert "review the drug" not in card["summary"]
    # A bisphosphonate keeps its summary (its caution holds further doses).
    card = card_for(_post([], client, medications=ALENDRONATE), "alp-low-first")
    assert "review the drug until hypophosphatasia is excluded" in card["summary"]
