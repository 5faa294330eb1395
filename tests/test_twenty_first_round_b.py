"""Twenty-first round (2026-12-02), part B: review 32's wrong and noisy findings about low ALP,
EDTA and bone (docs/rulebook.md, "Twenty-first round (2026-12-02), part B"). Each patient is
rebuilt from the reviewer's facts (docs/clinical-reviews/review-32.md, R32-24 to R32-28), signed
on 2 Dec 2026, with the neighbour that must not change beside it."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.rules_helper import fired, suggested
from tests.support.labs import Labs, drug, post, since, worded, words

NOW = "2026-12-02T07:30:00Z"
LABS = Labs(NOW)
PLP_LOINC = "62236-5"
ARTEFACT = "alp-low-sample-artefact"
GROSS = "alp-low-sample-artefact-gross"
URGENT_LOW = "alp-low-electrolyte-urgent"
AFF = "alp-low-antiresorptive-aff"


def creatinine(value: float) -> dict[str, Any]:
    return LABS.lab("2160-0", value, "umol/L", 60, 110)


def within_limits(card: dict[str, Any]) -> None:
    assert len(card["summary"]) < 140
    assert words(card) <= 130


# --- Item 1 (R32-26, wrong): gross EDTA contamination on tacrolimus ---------------------------

KIDNEY_TRANSPLANT = [since("Z94.0", "2020-01-01")]
TACROLIMUS = drug("Tacrolimus 3 mg twice daily", "2020-01-01")


def test_r32_26_gross_potassium_with_low_calcium_is_edta_whatever_the_drug(
    client: FlaskClient,
) -> None:
    found = post(
        client,
        "male",
        "1978-06-01",
        [LABS.alp(22)],
        labs=[LABS.potassium(8.9), LABS.calcium(1.20), LABS.magnesium(0.5), creatinine(130)],
        conditions=KIDNEY_TRANSPLANT,
        medications=[TACROLIMUS],
    )
    # Twenty-first round, integrator: the gross form is its own warning (act now: repeat, ECG),
    # standing in for the info artefact card.
    assert fired(found) == [GROSS]
    [card] = found
    assert card["indicator"] == "warning"
    assert "K 8.9 mmol/L" in card["summary"]
    assert "probable EDTA contamination" in card["summary"]
    assert "ECG now" in card["summary"]
    assert "the patient's, not EDTA's" not in card["detail"]
    assert "Repeat K, Ca, Mg and ALP in a serum tube now" in card["detail"]
    assert "ECG now in case the potassium is real" in card["detail"]
    assert "no IV magnesium until the repeat" in card["detail"]
    assert "Tacrolimus raises K and lowers Mg" in card["detail"]
    within_limits(card)


def test_r31_47_modest_potassium_on_tacrolimus_keeps_the_urgent_magnesium_card(
    client: FlaskClient,
) -> None:
    # Neighbour (part L, R31-47): potassium 5.8 on tacrolimus and omeprazole, magnesium 0.38:
    # below the gross potassium, the drug and the loss still explain the draw.
    found = post(
        client,
        "male",
        "1978-01-01",
        [LABS.alp(27)],
        labs=[LABS.magnesium(0.38), LABS.potassium(5.8), LABS.calcium(2.05), creatinine(150)],
        conditions=KIDNEY_TRANSPLANT,
        medications=[TACROLIMUS, drug("Omeprazole 20 mg daily", "2020-01-01")],
    )
    assert fired(found) == [URGENT_LOW]


def test_gross_potassium_with_kidney_failure_recorded_is_not_called_edta(
    client: FlaskClient,
) -> None:
    # Neighbour: kidney failure explains a high potassium with a low calcium (unchanged).
    found = post(
        client,
        "male",
        "1978-06-01",
        [LABS.alp(22)],
        labs=[LABS.potassium(7.4), LABS.calcium(1.90), LABS.magnesium(0.5)],
        conditions=[since("N18.5", "2020-01-01")],
    )
    assert ARTEFACT not in fired(found)


# --- Item 5 (parts B and J's left-open): the urgent card says the magnesium once --------------


def test_r32_25_urgent_magnesium_card_names_the_magnesium_once(client: FlaskClient) -> None:
    [card] = post(
        client,
        "female",
        "1968-06-01",
        [LABS.alp(28)],
        labs=[LABS.potassium(4.2), LABS.calcium(2.30), LABS.magnesium(0.45)],
        conditions=[since("Z94.4", "2020-01-01"), since("K90.0", "2020-01-01")],
        medications=[drug("Ciclosporin 100 mg twice daily", "2020-01-01")],
    )
    assert fired([card]) == [URGENT_LOW]
    assert "0.45 mmol/L" in card["summary"]
    assert card["detail"].count("0.45") == 0
    assert "low magnesium (0.45" not in card["detail"]
    assert "In the record: celiac disease" in card["detail"]  # other findings still named
    within_limits(card)


# --- Item 2 (R32-28, wrong): femoral stress fracture on alendronate, first low ALP ------------

OSTEOPOROSIS = since("M81.0", "2017-01-01")
ALENDRONATE = drug("Alendronic acid 70 mg once weekly", "2017-01-01")


def test_r32_28_femoral_stress_fracture_on_alendronate_first_low_is_atypical_until_excluded(
    client: FlaskClient,
) -> None:
    found = post(
        client,
        "female",
        "1952-06-01",
        [LABS.alp(33)],
        conditions=[OSTEOPOROSIS, since("M84.352A", "2026-11-20")],
        medications=[ALENDRONATE],
    )
    assert fired(found) == [AFF]
    [card] = found
    assert card["indicator"] == "warning"
    assert "femoral stress fracture" in card["summary"]
    assert "atypical until excluded; stop it; X-ray both femurs" in card["summary"]
    detail = card["detail"]
    assert "Full-length X-rays of both femurs now" in detail
    assert "orthopaedic review now" in detail
    assert "Stop Alendronic acid" in detail
    assert "PLP (vitamin B6) now" in detail
    assert "Repeat ALP in a serum tube" in detail
    assert PLP_LOINC in suggested(card)
    within_limits(card)


def test_tibial_stress_fracture_on_alendronate_first_low_keeps_the_first_low_card(
    client: FlaskClient,
) -> None:
    # Neighbour (part B): a stress fracture elsewhere keeps the first-low card's PLP summary.
    found = post(
        client,
        "female",
        "1952-06-01",
        [LABS.alp(33)],
        conditions=[OSTEOPOROSIS, since("M84.361A", "2026-11-20")],
        medications=[ALENDRONATE],
    )
    assert fired(found) == ["alp-low-first"]


# --- Item 3 (R32-27, noisy): myeloma, calcium 3.10, first low ALP: one card ------------------


def test_r32_27_myeloma_hypercalcaemia_first_low_alp_is_one_calcium_card(
    client: FlaskClient,
) -> None:
    found = post(
        client,
        "male",
        "1956-06-01",
        [LABS.alp(30)],
        labs=[LABS.calcium(3.10), creatinine(180)],
        conditions=[since("C90.00", "2026-08-01")],
    )
    assert fired(found) == ["alp-calcium-urgent"]
    assert "Low ALP: usual in myeloma" in found[0]["detail"]


def test_myeloma_with_a_normal_calcium_keeps_the_first_low_card(client: FlaskClient) -> None:
    # Neighbour: no raised calcium, no calcium card: the first low is repeated as before.
    found = post(
        client,
        "male",
        "1956-06-01",
        [LABS.alp(30)],
        labs=[LABS.calcium(2.30)],
        conditions=[since("C90.00", "2026-08-01")],
    )
    assert fired(found) == ["alp-low-first"]


# --- Item 4 (R32-24, noisy; judged: silence kept) -------------------------------------------


def test_r32_24_seventeen_year_old_girl_alp_normal_for_age_stays_silent(
    client: FlaskClient,
) -> None:
    # Judgement (rulebook): 38 U/L is inside the age table's range for a girl of 17 (35-104,
    # growth complete); the laboratory's 45-150 has no age. No ALP card.
    found = post(
        client,
        "female",
        "2009-03-01",
        [LABS.alp(38, low=45, high=150)],
        conditions=[since("F50.01", "2026-06-01")],
    )
    assert found == []


def test_anorexia_with_an_alp_low_for_age_and_a_low_phosphate_gets_the_malnutrition_card(
    client: FlaskClient,
) -> None:
    # Neighbour: below the age table's limit with a low phosphate, the refeeding card shows.
    found = post(
        client,
        "female",
        "2009-03-01",
        [LABS.alp(30, low=45, high=150)],
        labs=[LABS.phosphate(0.6)],
        conditions=[since("F50.01", "2026-06-01")],
    )
    assert fired(found) == ["alp-low-malnutrition"]
    assert "refeeding" in found[0]["summary"]


# --- Integrator: the gross form is a warning; the plain artefact card stays info -----------------


def test_a_modest_potassium_with_a_low_calcium_keeps_the_info_artefact_card(
    client: FlaskClient,
) -> None:
    # Potassium 6.2 with a low calcium, nothing recorded to explain either: EDTA's signature,
    # but not gross; a routine repeat, not an ECG now.
    found = post(
        client,
        "female",
        "1950-01-01",
        [LABS.alp(25)],
        labs=[LABS.potassium(6.2), LABS.calcium(1.9)],
    )
    assert fired(found) == [ARTEFACT]
    assert found[0]["indicator"] == "info"
    assert "ECG now" not in found[0]["summary"] + found[0]["detail"]


def test_kidney_failure_clears_the_gross_form_too(client: FlaskClient) -> None:
    # Advanced CKD explains a high potassium with a low calcium: neither artefact card.
    found = post(
        client,
        "male",
        "1950-01-01",
        [LABS.alp(25)],
        labs=[LABS.potassium(7.4), LABS.calcium(1.9)],
        conditions=[since("N18.5", "2020-01-01")],
    )
    assert GROSS not in fired(found)
    assert ARTEFACT not in fired(found)


def test_a_card_that_hides_the_artefact_card_hides_the_gross_form(client: FlaskClient) -> None:
    # The gross form replaces the artefact card: it shows only where that card would. Known
    # hypophosphatasia hides the artefact card (its lows are the disease's); so too the gross one.
    found = post(
        client,
        "female",
        "1980-01-01",
        [LABS.alp(15)],
        labs=[LABS.potassium(7.6), LABS.calcium(1.8)],
        conditions=[worded("Hypophosphatasia", "2015-01-01")],
    )
    # alp-known-hpp is a silent rule: it fires, shows nothing, and hides the artefact card (and
    # so the gross form). Twenty-first round, part I (review 35, R35-06): a potassium of 7.6 is
    # severe and is named whatever hides the artefact cards, by alp-low-potassium-severe.
    assert GROSS not in fired(found)
    assert fired(found) == ["alp-low-potassium-severe"]
