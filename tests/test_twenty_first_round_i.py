"""Twenty-first round (2026-12-02), part I: review 35's low-ALP, electrolyte and bone findings
(docs/rulebook.md, "Twenty-first round (2026-12-02), part I"). Each patient is rebuilt from the
reviewer's facts (docs/clinical-reviews/review-35.md, /work/review35-work/cases.py), signed on
2 Dec 2026, with the neighbour that must not change beside it."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.rules_helper import card_for, fired
from tests.support.fhir import with_fasting
from tests.support.labs import Labs, day, drug, post, since, worded, words

NOW = "2026-12-02T08:00:00Z"
LABS = Labs(NOW)
SEVERE_K = "alp-low-potassium-severe"
GROSS = "alp-low-sample-artefact-gross"
ARTEFACT = "alp-low-sample-artefact"
URGENT_LOW = "alp-low-electrolyte-urgent"
FIRST = "alp-low-first"
PERSISTENT = "alp-low-persistent"
AFF = "alp-low-antiresorptive-aff"
CALCIUM = "alp-calcium-urgent"
BONE_SOURCE = "alp-high-bone-source"


def creatinine(value: float) -> dict[str, Any]:
    return LABS.lab("2160-0", value, "umol/L", 60, 110)


def edta(k: float, ca: float = 1.20, mg: float = 0.5, cr: float = 130) -> list[dict[str, Any]]:
    return [LABS.potassium(k), LABS.calcium(ca), LABS.magnesium(mg), creatinine(cr)]


def completed(text: str, authored: str) -> dict[str, Any]:
    order = drug(text, authored)
    order["status"] = "completed"
    return order


def within_limits(cards: list[dict[str, Any]]) -> None:
    for card in cards:
        assert len(card["summary"]) < 140, card["summary"]
        assert words(card) <= 130, (card["summary"], words(card))


def text(card: dict[str, Any]) -> str:
    return f"{card['summary']} {card['detail']}"


# --- Item 1 (R35-06, R35-07, unsafe): a severe potassium with kidney failure is named first -----


def test_r35_06_ckd5_severe_potassium_is_named_first(client: FlaskClient) -> None:
    found = post(
        client,
        "male",
        "1959-01-01",
        [LABS.alp(28)],
        labs=edta(7.4, 1.60, 0.6, 650),
        conditions=[since("N18.5", "2022-01-01")],
    )
    assert fired(found) == [SEVERE_K]
    [card] = found
    assert card["indicator"] == "warning"
    assert card["summary"].startswith("K 7.4 mmol/L: treat as real until a serum repeat")
    assert "ECG and hyperkalaemia treatment now" in card["summary"]
    assert "repeat K, Ca, Mg" in card["summary"]
    assert "no IV magnesium until the repeat" in card["detail"]
    assert "may explain it" not in text(card)
    within_limits(found)


def test_r35_07_aki_severe_potassium_replaces_the_magnesium_card(client: FlaskClient) -> None:
    found = post(
        client,
        "male",
        "1966-01-01",
        [LABS.alp(24)],
        labs=edta(8.5, 1.30, 0.5, 420),
        conditions=[since("N17.9", "2026-11-30")],
    )
    assert fired(found) == [SEVERE_K]
    assert URGENT_LOW not in fired(found)
    [card] = found
    assert card["summary"].startswith("K 8.5 mmol/L: treat as real until a serum repeat")
    assert "no IV magnesium until the repeat" in card["detail"]
    assert "IV magnesium with symptoms" not in card["detail"]
    assert "Today: ECG (QT), potassium" not in card["detail"]
    assert "a real potassium is likely" in card["detail"]
    assert card["detail"].count("0.5 mmol/L") == 0  # the magnesium named once, in its line
    within_limits(found)


def test_severe_potassium_with_a_normal_calcium_is_named_too(client: FlaskClient) -> None:
    # No kidney failure, calcium normal: not EDTA's signature, but a potassium of 7.0 is still
    # named before the low ALP's repeat.
    found = post(
        client,
        "female",
        "1960-01-01",
        [LABS.alp(25)],
        labs=[LABS.potassium(7.0), LABS.calcium(2.3)],
    )
    assert fired(found) == [SEVERE_K]
    assert found[0]["summary"].startswith("K 7.0 mmol/L")
    within_limits(found)


def test_severe_potassium_beside_a_hypophosphatasia_warning_is_its_own_card(
    client: FlaskClient,
) -> None:
    # Known hypophosphatasia hides the artefact cards (and so the gross form); the potassium is
    # still named, by the severe-potassium card.
    found = post(
        client,
        "female",
        "1980-01-01",
        [LABS.alp(15)],
        labs=[LABS.potassium(7.6), LABS.calcium(1.8)],
        conditions=[worded("Hypophosphatasia", "2015-01-01")],
    )
    assert fired(found) == [SEVERE_K]


def test_moderate_potassium_with_kidney_failure_keeps_the_urgent_magnesium_card(
    client: FlaskClient,
) -> None:
    # Neighbour: K 6.2 (moderate) in CKD 5 with magnesium 0.45: below the severe band, the
    # magnesium card as before.
    found = post(
        client,
        "male",
        "1959-01-01",
        [LABS.alp(28)],
        labs=edta(6.2, 2.2, 0.45, 650),
        conditions=[since("N18.5", "2022-01-01")],
    )
    assert SEVERE_K not in fired(found)
    assert URGENT_LOW in fired(found)


# --- Item 2 (R35-02, R35-05, wrong): the gross form from 6.5 mmol/L --------------------------


def test_r35_02_k_6_9_on_tacrolimus_is_gross_edta_not_iv_magnesium(client: FlaskClient) -> None:
    found = post(
        client,
        "male",
        "1978-06-01",
        [LABS.alp(22)],
        labs=edta(6.9),
        conditions=[since("Z94.0", "2020-01-01")],
        medications=[drug("Tacrolimus 3 mg twice daily", "2020-01-01")],
    )
    assert fired(found) == [GROSS]
    [card] = found
    assert "K 6.9 mmol/L" in card["summary"]
    assert "ECG now" in card["summary"]
    assert "no IV magnesium until the repeat" in card["detail"]
    assert "the patient's, not EDTA's" not in text(card)
    within_limits(found)


def test_r35_05_k_6_9_no_drug_is_gross_edta_with_ecg(client: FlaskClient) -> None:
    found = post(client, "female", "1971-01-01", [LABS.alp(25)], labs=edta(6.9, 1.40, 0.55, 70))
    assert fired(found) == [GROSS]
    assert found[0]["indicator"] == "warning"
    assert "K 6.9 mmol/L" in found[0]["summary"]
    assert "ECG now" in found[0]["summary"]
    within_limits(found)


def test_gross_form_starts_at_6_5(client: FlaskClient) -> None:
    at = post(client, "female", "1971-01-01", [LABS.alp(25)], labs=edta(6.5, 1.40, 0.55, 70))
    below = post(client, "female", "1971-01-01", [LABS.alp(25)], labs=edta(6.4, 1.40, 0.55, 70))
    assert fired(at) == [GROSS]
    assert fired(below) == [ARTEFACT]
    # Every EDTA form names the potassium.
    assert "K 6.4 mmol/L" in below[0]["summary"]
    within_limits(at + below)


# --- Item 3 (R35-21, wrong): myeloma on zoledronic acid, one card ------------------------------


def test_r35_21_myeloma_on_zoledronic_acid_gets_one_calcium_card(client: FlaskClient) -> None:
    found = post(
        client,
        "male",
        "1956-01-01",
        [LABS.alp(30)],
        labs=[LABS.calcium(3.10), creatinine(180)],
        conditions=[since("C90.00", "2026-08-01")],
        medications=[completed("Zoledronic acid 4 mg IV infusion", "2026-11-01")],
    )
    assert fired(found) == [CALCIUM]
    [card] = found
    assert "not a reason to delay this dose" in card["detail"]
    assert "hold further doses" not in text(card)
    within_limits(found)


def test_myeloma_on_zoledronic_acid_with_a_normal_calcium_keeps_the_first_low_card(
    client: FlaskClient,
) -> None:
    # Neighbour: no raised calcium, no calcium card: the first-low card stays.
    found = post(
        client,
        "male",
        "1956-01-01",
        [LABS.alp(30)],
        labs=[LABS.calcium(2.30), creatinine(100)],
        conditions=[since("C90.00", "2026-08-01")],
        medications=[completed("Zoledronic acid 4 mg IV infusion", "2026-11-01")],
    )
    assert FIRST in fired(found)


# --- Item 4 (R35-16, R35-58, wrong): thigh or hip pain on nine years of alendronate -----------

OSTEOPOROSIS = since("M81.0", "2017-01-01")
ALENDRONATE = drug("Alendronic acid 70 mg once weekly", "2017-01-01")


def test_r35_58_thigh_pain_on_alendronate_first_low_asks_for_both_femurs(
    client: FlaskClient,
) -> None:
    found = post(
        client,
        "female",
        "1952-01-01",
        [LABS.alp(33)],
        conditions=[OSTEOPOROSIS, since("M79.652", "2026-11-20")],
        medications=[ALENDRONATE],
    )
    assert fired(found) == [FIRST]
    [card] = found
    assert card["indicator"] == "info"  # not the full AFF warning
    assert "X-ray both femurs before the next dose" in card["summary"]
    assert "Alendronic acid for 9 years" in card["summary"]
    assert "X-ray both whole femurs (MRI if normal) before the next dose" in card["detail"]
    within_limits(found)


def test_r35_16_hip_pain_in_code_counts_too(client: FlaskClient) -> None:
    found = post(
        client,
        "female",
        "1952-01-01",
        [LABS.alp(33)],
        conditions=[OSTEOPOROSIS, since("M25.552", "2026-11-20")],
        medications=[ALENDRONATE],
    )
    assert fired(found) == [FIRST]
    assert "X-ray both whole femurs (MRI if normal)" in found[0]["detail"]
    within_limits(found)


def test_groin_pain_in_words_counts_too(client: FlaskClient) -> None:
    found = post(
        client,
        "female",
        "1952-01-01",
        [LABS.alp(33)],
        conditions=[OSTEOPOROSIS, worded("Aching left groin pain", "2026-11-01")],
        medications=[ALENDRONATE],
    )
    assert "X-ray both femurs before the next dose" in found[0]["summary"]


def test_thigh_pain_on_a_short_course_gets_the_femur_line_too(client: FlaskClient) -> None:
    # Twenty-first round, part L (review 37, R37-46): prodromal thigh pain on a bisphosphonate is
    # imaged whatever the duration (ASBMR 2014; AFF is reported after short exposure), so the
    # 18-month course no longer keeps the plain first-low card without the femur line.
    found = post(
        client,
        "female",
        "1952-01-01",
        [LABS.alp(33)],
        conditions=[OSTEOPOROSIS, since("M79.652", "2026-11-20")],
        medications=[drug("Alendronic acid 70 mg once weekly", "2025-06-01")],
    )
    assert fired(found) == [FIRST]
    assert "X-ray both femurs before the next dose" in found[0]["summary"]


# --- Item 5 (R35-19 minor, R35-59 noisy): femoral stress fracture ------------------------------

FEMORAL_STRESS = since("M84.352A", "2026-11-20")


def test_r35_19_persistent_low_with_femoral_stress_fracture_names_the_femurs(
    client: FlaskClient,
) -> None:
    found = post(
        client,
        "female",
        "1952-01-01",
        [LABS.alp(33)],
        labs=[LABS.alp(30, when=day("2026-06-01"))],
        conditions=[OSTEOPOROSIS, FEMORAL_STRESS],
        medications=[ALENDRONATE],
    )
    assert fired(found) == [PERSISTENT]
    [card] = found
    assert "X-ray both femurs, orthopaedics now" in card["summary"]
    assert "orthopaedic review now" in card["detail"]
    within_limits(found)


def test_r35_59_aff_card_does_not_argue_from_an_edta_alp(client: FlaskClient) -> None:
    found = post(
        client,
        "female",
        "1952-01-01",
        [LABS.alp(25)],
        labs=edta(8.2, 1.30, 0.5, 80),
        conditions=[OSTEOPOROSIS, FEMORAL_STRESS],
        medications=[ALENDRONATE],
    )
    assert sorted(fired(found)) == sorted([GROSS, AFF])
    aff = card_for(found, AFF)
    assert "not their expected effect" not in aff["detail"]
    assert "whatever this ALP proves to be" in aff["detail"]
    within_limits(found)


# --- Item 6 (R35-33, wrong): non-fasting with low calcium, phosphate or bone pain ---------------


def non_fasting(value: float) -> list[dict[str, Any]]:
    return [with_fasting(LABS.alp(value), "NF")]


def base() -> list[dict[str, Any]]:
    return [LABS.alp(95, when=day("2026-08-01")), LABS.ggt(20), LABS.alt(25), LABS.bilirubin(0.5)]


def test_r35_33_osteomalacia_picture_is_not_led_by_a_fasting_repeat(client: FlaskClient) -> None:
    found = post(
        client,
        "male",
        "1982-01-01",
        non_fasting(165),
        labs=[*base(), LABS.phosphate(0.6), LABS.calcium(2.10)],
        conditions=[worded("Bone pain", "2026-10-01")],
    )
    card = card_for(found, BONE_SOURCE)
    assert "repeat fasting" not in card["summary"]
    assert "25-OH vitamin D, PTH now" in card["summary"]
    assert "the tests above only if still raised" not in card["detail"]
    within_limits(found)


def test_bone_pain_alone_or_a_low_phosphate_alone_stands_the_fasting_lead_back(
    client: FlaskClient,
) -> None:
    pain = post(
        client,
        "male",
        "1982-01-01",
        non_fasting(165),
        labs=base(),
        conditions=[worded("Bone pain", "2026-10-01")],
    )
    phosphate = post(
        client, "male", "1982-01-01", non_fasting(165), labs=[*base(), LABS.phosphate(0.6)]
    )
    for found in (pain, phosphate):
        assert "repeat fasting" not in card_for(found, BONE_SOURCE)["summary"]


def test_r33_37_plain_non_fasting_rise_keeps_the_fasting_lead(client: FlaskClient) -> None:
    found = post(client, "male", "1982-01-01", non_fasting(165), labs=base())
    assert "repeat fasting" in card_for(found, BONE_SOURCE)["summary"]


# --- Item 7 (R35-25, R35-26, R35-28, noisy): stage words and breast Paget ----------------------


def ckd_labs() -> list[dict[str, Any]]:
    return [LABS.pth(85), LABS.ggt(30), LABS.calcium(2.45), LABS.phosphate(2.1)]


def test_r35_25_and_26_ckd_stage_5_in_words_is_advanced_ckd(client: FlaskClient) -> None:
    coded = post(
        client,
        "male",
        "1965-01-01",
        [LABS.alp(240)],
        labs=ckd_labs(),
        conditions=[since("N18.5", "2021-01-01")],
    )
    for words_ in (
        "Chronic kidney disease stage 5, pre-dialysis",
        "Chronic kidney disease stage 5, not yet on dialysis",
        "CKD G4",
        "ESKD",
    ):
        found = post(
            client,
            "male",
            "1965-01-01",
            [LABS.alp(240)],
            labs=ckd_labs(),
            conditions=[worded(words_, "2021-01-01")],
        )
        assert fired(found) == fired(coded), words_
        assert "renal team's monitoring" in text(found[0]), words_
        within_limits(found)


def test_no_ckd_and_early_ckd_in_words_are_not_advanced(client: FlaskClient) -> None:
    for words_ in ("No CKD", "CKD stage 3a"):
        found = post(
            client,
            "male",
            "1965-01-01",
            [LABS.alp(240)],
            labs=ckd_labs(),
            conditions=[worded(words_, "2021-01-01")],
        )
        assert "renal team" not in " ".join(text(c) for c in found), words_


def test_r35_28_breast_paget_is_a_cancer_that_spreads_to_bone(client: FlaskClient) -> None:
    found = post(
        client,
        "female",
        "1954-01-01",
        [LABS.alp(180)],
        labs=[LABS.ggt(28)],
        conditions=[worded("Paget's disease of the breast", "2025-01-01")],
    )
    card = card_for(found, BONE_SOURCE)
    assert "bone metastases" in card["summary"]
    within_limits(found)


def test_extramammary_paget_is_a_cancer_history(client: FlaskClient) -> None:
    found = post(
        client,
        "female",
        "1954-01-01",
        [LABS.alp(180)],
        labs=[LABS.ggt(28)],
        conditions=[worded("Extramammary Paget disease of the vulva", "2024-01-01")],
    )
    card = card_for(found, BONE_SOURCE)
    assert "a history of cancer: investigate the bone source now" in card["summary"]
