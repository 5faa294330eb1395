"""Twenty-second round (2026-12-02), part F: review 40's low-ALP findings (docs/clinical-reviews/
review-40.md): finding 1 (R40-42, denosumab with a low calcium and a deficient vitamin D, neither
named), finding 3 (R40-46, Wilson disease third in a teenager with hepatitis and a first low ALP;
R40-49, anorexia nervosa in words missed), finding 6 (R40-12, a child's ALP between half and the
whole lower limit treated as an adult's artefact) and the note on R40-01 against R40-41/53 (a
persistent low on alendronate only "reviewed") (docs/rulebook.md, "Twenty-second round
(2026-12-02), part F"). Each patient is rebuilt from the reviewer's one-line facts."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.rules_helper import fired, only, suggested, within_limits
from tests.support.fhir import alp
from tests.support.labs import Labs, day, drug, post, since, worded

NOW = "2026-12-02T08:00:00Z"
LABS = Labs(NOW)


def _text(card: dict[str, Any]) -> str:
    return f"{card['summary']}\n{card['detail']}"


# --- Finding 1 (R40-42): denosumab, a low calcium and a deficient vitamin D -------------------

PROLIA = [drug("Prolia 60mg injection 6-monthly", "2025-06-01")]


def _prolia(client: FlaskClient, labs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return post(client, "female", "1956-03-01", [LABS.alp(25)], labs, [], PROLIA)


def test_denosumab_low_calcium_and_deficient_vitamin_d_are_named_before_the_next_dose(
    client: FlaskClient,
) -> None:
    card = only(_prolia(client, [LABS.calcium(2.0), LABS.vitamin_d(20)]), "alp-low-first")
    text = _text(card)
    assert "Calcium 2.00 mmol/L low, vitamin D 20 nmol/L deficient" in text, text
    assert "correct both before the next Prolia dose" in text, text
    assert "do not delay the next injection" in text, text  # the rebound caution stays


def test_denosumab_low_calcium_alone(client: FlaskClient) -> None:
    card = only(_prolia(client, [LABS.calcium(2.0), LABS.vitamin_d(80)]), "alp-low-first")
    text = _text(card)
    line = "Calcium 2.00 mmol/L low: correct it and recheck before the next Prolia dose"
    assert line in text, text
    assert "deficient" not in text, text


def test_denosumab_deficient_vitamin_d_alone(client: FlaskClient) -> None:
    card = only(_prolia(client, [LABS.calcium(2.3), LABS.vitamin_d(20)]), "alp-low-first")
    text = _text(card)
    assert "Vitamin D 20 nmol/L deficient: replace it before the next Prolia" in text
    assert "dose; check calcium" in text, text
    assert "Calcium 2.30" not in text, text


def test_denosumab_with_calcium_and_vitamin_d_normal_has_no_line(client: FlaskClient) -> None:
    card = only(_prolia(client, [LABS.calcium(2.3), LABS.vitamin_d(80)]), "alp-low-first")
    assert "before the next" not in card["detail"].split("Caution")[0], card["detail"]
    assert "deficient" not in _text(card)


def test_no_antiresorptive_no_calcium_line(client: FlaskClient) -> None:
    found = post(
        client, "female", "1956-03-01", [LABS.alp(25)], [LABS.calcium(2.0), LABS.vitamin_d(20)]
    )
    within_limits(found)
    assert all("deficient" not in _text(card) for card in found), found


def test_persistent_low_on_alendronate_with_deficient_vitamin_d(client: FlaskClient) -> None:
    card = only(_alendronate(client, [LABS.vitamin_d(20)]), "alp-low-persistent")
    text = _text(card)
    assert "Vitamin D 20 nmol/L deficient: replace it before the next" in text
    assert "Alendronic acid dose; check calcium" in text, text


# --- Note (R40-01 vs R40-41/53): a persistent low on alendronate is held ------------------------


def _alendronate(client: FlaskClient, labs: list[dict[str, Any]] = []) -> list[dict[str, Any]]:  # noqa: B006
    return post(
        client,
        "female",
        "1958-01-01",
        [LABS.alp(18)],
        [alp(19, when=day("2026-05-01")), *labs],
        [since("M81.0", "2021-01-01")],
        [drug("Alendronic acid 70 mg weekly", "2021-11-01")],
    )


def test_persistent_low_on_alendronate_holds_it(client: FlaskClient) -> None:
    card = only(_alendronate(client), "alp-low-persistent")
    text = _text(card)
    assert "hold it; do not restart until hypophosphatasia is excluded" in text, text
    assert "review it now" not in text, text


def test_persistent_low_on_denosumab_keeps_the_rebound_caution(client: FlaskClient) -> None:
    found = post(
        client,
        "female",
        "1958-01-01",
        [LABS.alp(18)],
        [alp(19, when=day("2026-05-01"))],
        [since("M81.0", "2021-01-01")],
        PROLIA,
    )
    card = only(found, "alp-low-persistent")
    text = _text(card)
    assert "do not stop it without a plan" in text, text
    assert "do not restart" not in text, text


# --- Finding 3a (R40-46): a teenager with hepatitis and a first low ALP -------------------------


def test_teenager_with_hepatitis_and_a_first_low_alp_wilson_leads(client: FlaskClient) -> None:
    found = post(
        client,
        "female",
        "2011-06-01",
        [LABS.alp(40, low=100, high=390)],
        [LABS.alt(150), LABS.ast(200)],
    )
    card = only(found, "alp-low-child-hpp")
    assert card["indicator"] == "warning"
    assert "Wilson disease" in card["summary"], card["summary"]
    detail = card["detail"]
    wilson = detail.index("24-hour urine copper")
    assert "slit lamp" in detail
    assert wilson < detail.index("PLP (vitamin B6)"), detail
    assert "ceruloplasmin too" not in detail, detail


def test_child_far_below_the_range_without_hepatitis_keeps_hypophosphatasia_first(
    client: FlaskClient,
) -> None:
    found = post(client, "female", "2011-06-01", [LABS.alp(40, low=100, high=390)])
    card = only(found, "alp-low-child-hpp")
    assert "hypophosphatasia until excluded" in card["summary"], card["summary"]


# --- Finding 3b (R40-49): anorexia nervosa in words -------------------------------------------


def _anorexia(client: FlaskClient, words_: str) -> list[dict[str, Any]]:
    return post(
        client,
        "female",
        "2010-05-01",
        [LABS.alp(25)],
        [LABS.alt(60), LABS.phosphate(0.9)],
        [worded(words_, "2026-06-01")],
    )


def test_anorexia_nervosa_in_words_is_malnutrition(client: FlaskClient) -> None:
    card = only(_anorexia(client, "Anorexia nervosa, BMI 14"), "alp-low-malnutrition")
    # Phosphate 0.9 is low for 16 years (the age table), as in the coded twin R40-52.
    assert "refeeding risk" in card["summary"], card["summary"]
    assert "does not settle with feeding" in card["detail"], card["detail"]
    assert "ceruloplasmin now" not in _text(card).lower()


def test_malnutrition_words_and_their_negations(client: FlaskClient) -> None:
    for text in ("Severe malnutrition", "Starvation - admitted for supervised feeding"):
        only(_anorexia(client, text), "alp-low-malnutrition")
    for text in ("No malnutrition", "Anorexia (poor appetite)", "At risk of malnutrition"):
        found = _anorexia(client, text)
        assert fired(found) == ["alp-low-first"], (text, fired(found))


# --- Finding 6 (R40-12): a school-age child at 0.6x the lower limit ---------------------------


def test_child_low_for_age_gets_plp_with_the_repeat_and_a_history(client: FlaskClient) -> None:
    found = post(client, "male", "2018-04-01", [LABS.alp(90, low=150, high=420)])
    card = only(found, "alp-low-first")
    assert "low for age" in card["summary"], card["summary"]
    assert "PLP" in card["summary"], card["summary"]
    assert "loss of baby teeth with the root intact" in card["detail"], card["detail"]
    assert "fractures" in card["detail"], card["detail"]
    assert "bowed legs" in card["detail"], card["detail"]
    assert "62236-5" in suggested(card), suggested(card)  # PLP


def test_adult_first_low_keeps_the_plain_repeat(client: FlaskClient) -> None:
    card = only(post(client, "male", "1980-04-01", [LABS.alp(20)]), "alp-low-first")
    assert "for age" not in card["summary"], card["summary"]


def test_denosumab_calcium_lowered_by_edta_is_not_corrected(client: FlaskClient) -> None:
    potassium = LABS.lab("2823-3", 7.2, "mmol/L", 3.5, 5.1)
    found = _prolia(client, [LABS.calcium(1.6), potassium, LABS.vitamin_d(80)])
    within_limits(found)
    assert all("correct it and recheck" not in _text(card) for card in found), found
