"""Twentieth round (2026-12-02), part D: review 29's bone and children findings (docs/rulebook.md,
"Twentieth round (2026-12-02), part D (review 29: XLH, malnutrition, rickets)"). Each patient is
rebuilt from the reviewer's facts (review 29's gen.py), signed on 2 Dec 2026."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.rules_helper import fired, suggested
from tests.support.labs import Labs, day, drug, post, since, worded, words

NOW = "2026-12-02T07:30:00Z"
GGT_LOINC = "2324-2"
PTH_LOINC = "2731-8"
CERULOPLASMIN_LOINC = "2064-4"
REPEAT_ALP_LOINC = "6768-6"

LABS = Labs(NOW)


def child_alp(value: float, when: str | None = None) -> dict[str, Any]:
    """ALP against the laboratory's child range, 156-369 U/L."""
    return LABS.alp(value, low=156, high=369, when=when)


# --- R29-05 (noisy): XLH on burosumab, ALP 500 -> 760, no GGT: "likely the known XLH" ---------

XLH = [since("E83.31", "2020-01-01")]
BUROSUMAB = [drug("Burosumab 30 mg subcutaneous every 2 weeks", "2021-01-01")]


def _xlh_boy(
    client: FlaskClient, results: list[dict[str, Any]], earlier: float | None = 500
) -> list[dict[str, Any]]:
    labs = [LABS.phosphate(0.7)]
    if earlier is not None:
        labs.append(child_alp(earlier, when=day("2026-06-10")))
    return post(client, "male", "2018-04-04", results, labs, XLH, BUROSUMAB)


def test_a_rising_alp_in_known_xlh_without_a_ggt_is_rickets_activity(
    client: FlaskClient,
) -> None:
    found = _xlh_boy(client, [child_alp(760)])
    assert fired(found) == ["alp-high-confirm-origin"]
    [card] = found
    assert "rising in known XLH (was 500 U/L on 10 Jun 2026)" in card["summary"]
    assert "rickets activity up; metabolic bone team" in card["summary"]
    assert "likely the known" not in card["summary"]
    assert "GGT" not in card["summary"]
    assert len(card["summary"]) <= 126
    assert "metabolic bone team (dose, adherence)" in card["detail"]
    assert "transient hyperphosphatasaemia" not in card["detail"]
    assert GGT_LOINC not in suggested(card)
    assert PTH_LOINC in suggested(card)
    assert words(card) <= 90


def test_a_rising_alp_in_known_xlh_with_a_raised_alt_still_asks_for_the_ggt(
    client: FlaskClient,
) -> None:
    # the liver is in question: the GGT is recommended again
    found = _xlh_boy(client, [child_alp(760), LABS.alt(95)])
    [card] = [c for c in found if fired([c]) == ["alp-high-confirm-origin"]]
    assert "rising in known XLH" in card["summary"]
    assert GGT_LOINC in suggested(card)


def test_known_xlh_with_no_earlier_alp_keeps_the_ggt_line(client: FlaskClient) -> None:
    found = _xlh_boy(client, [child_alp(760)], earlier=None)
    assert fired(found) == ["alp-high-confirm-origin"]
    [card] = found
    assert "likely the known familial hypophosphatemia; GGT confirms the source" in card["summary"]
    assert GGT_LOINC in suggested(card)


def test_a_rising_alp_in_known_xlh_with_a_normal_ggt_is_unchanged(client: FlaskClient) -> None:
    # review 29, P04: part J's card
    found = _xlh_boy(client, [child_alp(760), LABS.ggt(15, high=23)])
    assert fired(found) == ["alp-high-bone-explained"]
    assert "rising in known XLH (was 500 U/L on 10 Jun 2026)" in found[0]["summary"]


# --- R29-28 (noisy, minor): nutritional rickets "the GGT can wait", and a GGT button -----------


def test_nutritional_rickets_clear_in_the_labs_suggests_no_ggt(client: FlaskClient) -> None:
    found = post(
        client,
        "male",
        "2025-06-01",
        [child_alp(1200)],
        [LABS.calcium(2.10), LABS.phosphate(0.9), LABS.vitamin_d(15), LABS.pth(15)],
        [worded("Bowed legs", "2026-11-20")],
    )
    assert fired(found) == ["alp-high-confirm-origin"]
    [card] = found
    assert "nutritional rickets likely; wrist or knee X-ray, treat" in card["summary"]
    assert "the GGT can wait" in card["detail"]
    assert GGT_LOINC not in suggested(card)


def test_a_child_with_a_low_phosphate_alone_is_still_offered_the_ggt(client: FlaskClient) -> None:
    # rickets not clear in the labs (no vitamin D measured): the GGT stays recommended
    found = post(
        client,
        "male",
        "2025-06-01",
        [child_alp(1200)],
        [LABS.phosphate(0.6)],
    )
    assert fired(found) == ["alp-high-confirm-origin"]
    [card] = found
    assert "order GGT to tell liver from bone" in card["summary"]
    assert GGT_LOINC in suggested(card)


# --- R29-26 (noisy): anorexia nervosa, severe malnutrition, ALT 90: "ceruloplasmin now" --------

ANOREXIA = [since("F50.01", "2024-01-01"), since("E43", "2026-11-25")]


def zinc(value: float) -> dict[str, Any]:
    return LABS.lab("5763-8", value, "umol/L", 11, 18)


def test_a_first_low_alp_in_severe_malnutrition_names_the_refeeding_phosphate(
    client: FlaskClient,
) -> None:
    found = post(
        client,
        "female",
        "2002-02-02",
        [LABS.alp(28), LABS.alt(90)],
        [zinc(8), LABS.magnesium(0.62), LABS.phosphate(0.65)],
        ANOREXIA,
    )
    assert fired(found) == ["alp-low-malnutrition"]
    [card] = found
    summary = card["summary"]
    assert "Low ALP 28 U/L in malnutrition" in summary
    assert "low phosphate: refeeding risk" in summary
    assert "ceruloplasmin now" not in summary
    assert len(summary) <= 126
    assert "Phosphate 0.65 mmol/L, 2 Dec 2026: high refeeding risk (NICE CG32)" in card["detail"]
    assert "Ceruloplasmin only if the ALT does not settle with feeding" in card["detail"]
    assert CERULOPLASMIN_LOINC not in suggested(card)
    assert REPEAT_ALP_LOINC in suggested(card)
    assert words(card) <= 110


def test_a_first_low_alp_in_malnutrition_with_a_raised_alt_alone_is_explained(
    client: FlaskClient,
) -> None:
    found = post(
        client,
        "female",
        "2002-02-02",
        [LABS.alp(28), LABS.alt(90)],
        [zinc(8), LABS.phosphate(1.0)],
        ANOREXIA,
    )
    assert fired(found) == ["alp-low-malnutrition"]
    [card] = found
    assert "refeeding risk" not in card["summary"]
    assert "likely starvation" in card["summary"]
    assert "Ceruloplasmin only if the ALT does not settle with feeding" in card["detail"]
    assert CERULOPLASMIN_LOINC not in suggested(card)


def test_a_first_low_alp_with_a_raised_alt_and_no_malnutrition_still_gets_ceruloplasmin(
    client: FlaskClient,
) -> None:
    found = post(client, "female", "2002-02-02", [LABS.alp(28), LABS.alt(90)])
    assert fired(found) == ["alp-low-first"]
    [card] = found
    assert "ceruloplasmin now (Wilson disease)" in card["summary"]
    assert CERULOPLASMIN_LOINC in suggested(card)


def test_a_first_low_alp_in_malnutrition_with_normal_alt_and_phosphate_is_unchanged(
    client: FlaskClient,
) -> None:
    found = post(
        client,
        "female",
        "2002-02-02",
        [LABS.alp(28), LABS.alt(30)],
        [LABS.phosphate(1.0)],
        ANOREXIA,
    )
    assert fired(found) == ["alp-low-first"]
    assert "malnutrition may explain it" in found[0]["summary"]


# --- R29-34's sentence on this card: ten days after delivery, no ALP from before it on record ---

DELIVERED = [since("O80", "2026-11-22"), since("Z39.2", "2026-11-22")]


def test_ten_days_after_delivery_the_card_does_not_say_placental_alp_cannot_explain_it(
    client: FlaskClient,
) -> None:
    found = post(
        client,
        "female",
        "1992-01-01",
        [LABS.alp(250), LABS.alt(22), LABS.bilirubin(0.5)],
        [],
        DELIVERED,
    )
    # Part C (the same review finding, R29-34) reads a first ALP up to 3x in the first fortnight
    # after delivery as placental ALP still clearing, GGT or not: the placental card, no test now,
    # never "does not explain this" (the integrator kept part C's answer, which is the reviewer's).
    [card] = found
    assert fired(found) == ["alp-high-pregnancy"]
    assert "does not explain this" not in card["detail"]
    assert "placental ALP still clearing" in card["summary"]
    assert GGT_LOINC not in suggested(card)


def test_above_three_times_ten_days_after_delivery_placental_alp_may_still_add(
    client: FlaskClient,
) -> None:
    # Above the placental card's 3x, the GGT card keeps part D's sentence: placental ALP may
    # still add to it, never "does not explain this" without a value from late pregnancy.
    found = post(
        client,
        "female",
        "1992-01-01",
        [LABS.alp(330), LABS.alt(22), LABS.bilirubin(0.5)],
        [],
        DELIVERED,
    )
    assert fired(found) == ["alp-high-confirm-origin"]
    [card] = found
    assert "does not explain this" not in card["detail"]
    assert "may still add to it" in card["detail"]
    assert GGT_LOINC in suggested(card)


def test_three_weeks_after_delivery_placental_alp_no_longer_explains_it(
    client: FlaskClient,
) -> None:
    found = post(
        client,
        "female",
        "1992-01-01",
        [LABS.alp(250), LABS.alt(22), LABS.bilirubin(0.5)],
        [],
        [since("O80", "2026-11-08"), since("Z39.2", "2026-11-08")],
    )
    assert fired(found) == ["alp-high-confirm-origin"]
    assert "placental ALP halves about weekly, so it does not explain this" in found[0]["detail"]


def test_a_first_low_within_the_margin_in_malnutrition_stays_silent(client: FlaskClient) -> None:
    # the malnutrition card stands in for the first-low card only where that one would show
    found = post(
        client,
        "female",
        "2002-02-02",
        [LABS.alp(33), LABS.alt(90)],
        [LABS.phosphate(0.65)],
        ANOREXIA,
    )
    assert found == []
