"""Nineteenth round, part I (2026-12-02): review 26's patients at the edges of part C, each built
from the facts of the reviewer's request (docs/clinical-reviews/review-26.md; docs/rulebook.md,
"Nineteenth round (2026-12-02), part I"), with the neighbour that must not change beside each
fix."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.rules_helper import cards, fired, suggested
from tests.support.fhir import alp, condition, ggt, medication, patient
from tests.support.labs import Labs, words

NOW = "2026-12-02T07:00:00Z"
PREGNANCY_LIVER = "alp-high-pregnancy-liver"
PLACENTAL = "alp-high-pregnancy"
BONE_SOURCE = "alp-high-bone-source"
LOW_EXPLAINED = "alp-low-explained"
LOW_FIRST = "alp-low-first"


LABS = Labs(NOW)


def today_ggt(value: float) -> dict[str, Any]:
    return ggt(value, when=NOW)


# --- R26-04 (wrong): 5 days after delivery, cholestatic with raised bilirubin, no ultrasound ----

MOTHER = patient("female", "1993-01-01")
DELIVERED_5_DAYS = [condition("O80", onset="2026-11-27")]
CHOLESTATIC = [LABS.alp(380), today_ggt(150), LABS.alt(70), LABS.bilirubin(2.3)]


def test_five_days_after_delivery_a_cholestatic_picture_gets_the_ultrasound(
    client: FlaskClient,
) -> None:
    [card] = cards(client, CHOLESTATIC, pt=MOTHER, conditions=DELIVERED_5_DAYS)
    assert fired([card]) == [PREGNANCY_LIVER]
    assert card["indicator"] == "warning"
    assert card["summary"].startswith("5 days after delivery, cholestatic with raised bilirubin")
    assert "ultrasound for duct stones" in card["summary"]
    assert "HELLP?" in card["summary"]  # kept
    assert len(card["summary"]) <= 126
    assert "Right upper quadrant ultrasound today for gallstones or a duct stone." in card["detail"]
    assert "(safe in pregnancy)" not in card["detail"]
    assert "platelets and clotting" in card["detail"]  # the HELLP work-up stays
    assert words(card) <= 90


def test_after_delivery_with_fever_the_cholangitis_card_is_unchanged(client: FlaskClient) -> None:
    # Probe V04a: the fever line has its own ultrasound; no second one.
    conditions = [*DELIVERED_5_DAYS, condition("R50.9", onset="2026-12-02")]
    [card] = cards(client, CHOLESTATIC, pt=MOTHER, conditions=conditions)
    assert "cholangitis?" in card["summary"]
    assert "Right upper quadrant ultrasound" not in card["detail"]


def test_after_delivery_without_a_raised_bilirubin_it_stays_hellp_only(
    client: FlaskClient,
) -> None:
    results = [LABS.alp(380), today_ggt(150), LABS.alt(70), LABS.bilirubin(0.8)]
    [card] = cards(client, results, pt=MOTHER, conditions=DELIVERED_5_DAYS)
    assert "HELLP? Same-day obstetric review" in card["summary"]
    assert "Right upper quadrant ultrasound" not in card["detail"]


# --- R26-05 (noisy): 32 weeks, itching, normal bile acids: "no test needed" ---------------------


def test_itching_with_normal_bile_acids_asks_to_repeat_them(client: FlaskClient) -> None:
    conditions = [condition("Z3A.32", onset="2026-12-01"), condition("L29.9", onset="2026-11-25")]
    results = [LABS.alp(260), today_ggt(18), LABS.alt(22)]
    labs = [LABS.bile_acids(6, "2026-12-01T08:00:00Z")]
    [card] = cards(
        client, results, pt=patient("female", "1992-01-01"), conditions=conditions, labs=labs
    )
    assert fired([card]) == [PLACENTAL]
    assert "no test needed" not in card["summary"]
    assert "itching, bile acids normal" in card["summary"]
    assert "repeat bile acids if itch persists" in card["summary"]
    assert "at 32+1 weeks" in card["summary"]  # minor: whole weeks and days
    assert len(card["summary"]) <= 126
    assert "repeat them if the itch persists (RCOG GTG 43)" in card["detail"]
    assert "pregnant, 32+1 weeks" in card["detail"]
    assert words(card) <= 80


def test_no_itch_keeps_the_placental_card(client: FlaskClient) -> None:
    conditions = [condition("Z3A.32", onset="2026-12-01")]
    labs = [LABS.bile_acids(6, "2026-12-01T08:00:00Z")]
    [card] = cards(
        client,
        [LABS.alp(260), today_ggt(18), LABS.alt(22)],
        pt=patient("female", "1992-01-01"),
        conditions=conditions,
        labs=labs,
    )
    assert card["summary"].endswith("at 32+1 weeks: compatible with placental ALP; no test needed")


# --- R26-18 (noisy): coeliac disease, magnesium 0.45 and calcium 1.95, no potassium -------------

COELIAC = [condition("K90.0", onset="2015-01-01")]
LOW_DRAW = [LABS.alp(28), LABS.magnesium(0.45), LABS.calcium(1.95)]


def test_a_recorded_cause_of_magnesium_loss_counts_the_low_magnesium(
    client: FlaskClient,
) -> None:
    [card] = cards(
        client,
        LOW_DRAW,
        pt=patient("female", "1981-01-01"),
        conditions=COELIAC,
        labs=[alp(30, when="2026-09-01T08:00:00Z")],
    )
    # Twentieth round, part B (part I's left-open): the magnesium is severe and the calcium low,
    # so the urgent card takes the explained card's place (tests/test_twentieth_round_b.py).
    assert fired([card]) == ["alp-low-electrolyte-urgent"]
    assert "(magnesium 0.45 mmol/L" in card["summary"]
    assert "hypophosphatasia" not in card["summary"].split(";")[0]
    assert "Not counted" not in card["detail"]
    assert "PLP for hypophosphatasia" in card["detail"]
    assert words(card) <= 80


def test_nothing_recorded_keeps_the_edta_reading(client: FlaskClient) -> None:
    # R26-17: the same bloods, a first low ALP and nothing known: possible EDTA, as before.
    [card] = cards(client, LOW_DRAW, pt=patient("female", "1966-01-01"))
    assert fired([card]) == [LOW_FIRST]
    assert "Not counted: magnesium 0.45 mmol/L" in card["detail"]


# --- R26-19 (noisy): prostate cancer on leuprorelin, ALP 1.3x, no pain ---------------------------

PROSTATE = [condition("C61", onset="2023-06-01")]
LEUPRORELIN = [medication("42375", text="leuprorelin 22.5 mg 3-monthly")]
MAN = patient("male", "1952-01-01")


def test_prostate_cancer_on_adt_with_a_mild_rise_gets_psa_first_and_bone_health(
    client: FlaskClient,
) -> None:
    [card] = cards(
        client,
        [LABS.alp(135), today_ggt(25)],
        pt=MAN,
        conditions=PROSTATE,
        medications=LEUPRORELIN,
    )
    assert fired([card]) == [BONE_SOURCE]
    assert (
        "PSA first; a bone scan or PSMA PET if the PSA is rising or with bone pain"
        in (card["detail"])
    )
    assert "PSA and a bone scan" not in card["detail"]
    assert "raises bone turnover and causes bone loss: DXA, calcium and vitamin D" in card["detail"]
    assert suggested(card) == ["2857-1"]
    assert words(card) <= 90


def test_prostate_cancer_with_a_higher_rise_keeps_imaging_beside_the_psa(
    client: FlaskClient,
) -> None:
    # R22-11's wording holds at 2x or more; with metastases looked for, no bone-loss line.
    [card] = cards(
        client,
        [LABS.alp(450), today_ggt(30)],
        pt=MAN,
        conditions=PROSTATE,
        medications=LEUPRORELIN,
    )
    assert "PSA and a bone scan or PSMA PET for bone metastases" in card["detail"]
    assert "PSA first" not in card["detail"]
    assert "DXA" not in card["detail"]


def test_prostate_cancer_with_bone_pain_keeps_imaging_at_a_mild_rise(client: FlaskClient) -> None:
    conditions = [*PROSTATE, condition("M54.5", onset="2026-11-20")]
    [card] = cards(client, [LABS.alp(135), today_ggt(25)], pt=MAN, conditions=conditions)
    assert "PSA and a bone scan or PSMA PET for bone metastases" in card["detail"]
