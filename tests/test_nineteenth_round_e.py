"""Nineteenth round (2026-12-02), part E: review 23's competing explanations (docs/rulebook.md,
"Nineteenth round (2026-12-02), part E (review 23: competing explanations)"). Each patient is
rebuilt from the reviewer's facts (review 23, gen.py), with the neighbour that must not change."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.rules_helper import fired, suggested
from tests.support.fhir import (
    condition,
)
from tests.support.labs import Labs, day, drug, post, worded

NOW = "2026-12-02T07:30:00Z"
SERVICE = "/cds-services/alp-result-sign"

LIVER = "alp-high-liver-source"
ORIGIN = "alp-high-origin-unclear"
BONE_SOURCE = "alp-high-bone-source"
BONE_EXPLAINED = "alp-high-bone-explained"
GROWTH_MILD = "alp-high-growth-mild"


LABS = Labs(NOW)


def med(text: str, code: str | None = None, authored: str | None = None) -> dict[str, Any]:
    return drug(text, authored, code)


def case(
    client: FlaskClient,
    sex: str,
    born: str,
    results: list[dict[str, Any]],
    labs: list[dict[str, Any]] | None = None,
    conditions: list[dict[str, Any]] | None = None,
    meds: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """As the reviewer's generator builds a request: the results are in the prefetch too."""
    return post(client, sex, born, results, labs or [], conditions or [], meds or [])


def steps(card: dict[str, Any]) -> list[str]:
    return [s.split("\n\n")[0] for s in card["detail"].split("\n- ")[1:]]


# --- R23-16: bone metastases beside heart failure and amiodarone -----------------------------

AMIODARONE = med("Amiodarone 200 mg daily")


def prostate_man(
    client: FlaskClient, *, heart_failure: bool, amiodarone: bool
) -> list[dict[str, Any]]:
    conditions = [condition("C61", onset="2023-02-01"), condition("C79.51", onset="2025-06-01")]
    if heart_failure:
        conditions.append(condition("I50.22", onset="2022-01-01"))
    meds = [med("Furosemide 40 mg daily"), med("Degarelix 80 mg monthly")]
    if amiodarone:
        meds.append(AMIODARONE)
    return case(
        client, "male", "1950-10-10",
        [LABS.alp(424), LABS.ggt(96), LABS.alt(52), LABS.bilirubin(1.0)],
        [LABS.alp(300, when=day("2026-09-01"))],
        conditions, meds,
    )  # fmt: skip


def test_r23_16_bone_metastases_beside_heart_failure_and_amiodarone_both_contribute(
    client: FlaskClient,
) -> None:
    # 76M, prostate cancer with bone metastases, heart failure, amiodarone: ALP 300 -> 424
    # (4.1x), GGT 96 (2.4x), ALT 52, bilirubin 1.0. Was the liver card ("the source is the liver
    # or bile ducts") with CT and ultrasound both "first".
    found = prostate_man(client, heart_failure=True, amiodarone=True)
    assert fired(found) == [ORIGIN]
    [card] = found
    assert "known bone metastases" in card["summary"]
    assert "bone and liver may both contribute; CT with oncology" in card["summary"]
    assert len(card["summary"]) <= 126
    assert "the source is the liver or bile ducts" not in card["detail"]
    assert "ultrasound first" not in card["detail"]
    [ct] = [s for s in steps(card) if "CT" in s]
    assert "one CT (liver and bone) with oncology first" in ct
    assert "heart failure" in ct
    assert "heart failure, amiodarone or liver metastases" in ct  # part H (R23-16): commas
    # One first step: isoenzymes are named for later, not ordered.
    assert "1797-8" not in suggested(card)
    assert not card.get("suggestions")


def test_r23_16_neighbours_keep_their_cards(client: FlaskClient) -> None:
    # Bone metastases with a raised GGT and nothing else to raise it: part H (review 24, R24-10)
    # gives it the same single step, one CT (it was the liver card, with ultrasound and AMA
    # "first" beside the CT), naming liver metastases.
    [card] = prostate_man(client, heart_failure=False, amiodarone=False)
    assert card["source"]["topic"]["display"] == ORIGIN
    assert any("suggests liver metastases" in s for s in steps(card))
    # Heart failure alone beside bone metastases is enough to leave the split open.
    found = prostate_man(client, heart_failure=True, amiodarone=False)
    assert fired(found) == [ORIGIN]
    # Paget disease beside heart failure and a raised GGT: isoenzymes tell which.
    found = case(
        client, "male", "1945-01-01", [LABS.alp(300), LABS.ggt(90)], [],
        [condition("M88.9", onset="2015-01-01"), condition("I50.9", onset="2020-01-01")],
    )  # fmt: skip
    [card] = found
    assert card["source"]["topic"]["display"] == ORIGIN
    assert "ALP isoenzymes tell which" in card["summary"]
    assert card.get("suggestions")


# --- R23-17: amiodarone -------------------------------------------------------------------------


def test_r23_17_amiodarone_is_named_and_reviewed_with_cardiology(client: FlaskClient) -> None:
    # 82F, heart failure and AF, amiodarone for 14 months; ALP 110 -> 236 (2.3x), GGT 182
    # (4.6x), ALT 88 (2.2x), bilirubin 1.1. Was a one-bullet liver card not naming the drug.
    found = case(
        client, "female", "1944-04-04",
        [LABS.alp(236), LABS.ggt(182), LABS.alt(88), LABS.bilirubin(1.1)],
        [LABS.alp(110, when=day("2026-03-01"))],
        [condition("I50.32", onset="2020-01-01"), condition("I48.91", onset="2020-01-01")],
        [med("Amiodarone 200 mg daily", authored="2025-10-01")],
    )  # fmt: skip
    assert fired(found) == [LIVER]
    [card] = found
    assert card["summary"].endswith("likely cause Amiodarone")
    [line] = [s for s in steps(card) if s.startswith("Amiodarone can injure the liver")]
    assert "review it with cardiology" in line
    assert "recheck liver tests in 2-4 weeks" in line
    # Never the generic "stop it now": the rhythm it holds is the cardiologist's to weigh.
    assert "stop it now" not in card["detail"]


def test_r23_17_other_liver_drugs_still_stop_now(client: FlaskClient) -> None:
    found = case(
        client, "female", "1950-01-01", [LABS.alp(236), LABS.ggt(182), LABS.alt(88)], [], [],
        [med("Flucloxacillin 500 mg four times daily", authored="2026-11-01")],
    )  # fmt: skip
    [card] = found
    assert "stop it now" in card["detail"]
    assert "cardiology" not in card["detail"]


# --- R23-19: osteomalacia on alendronate ---------------------------------------------------------


def osteomalacia(client: FlaskClient, meds: list[dict[str, Any]]) -> dict[str, Any]:
    found = case(
        client, "female", "1946-06-06",
        [LABS.alp(165), LABS.ggt(22)],
        [LABS.calcium(2.14), LABS.phosphate(0.72), LABS.vitamin_d(16), LABS.pth(14)],
        [condition("M81.0", onset="2023-01-01"), condition("I10")], meds,
    )  # fmt: skip
    assert fired(found) == [BONE_EXPLAINED]
    card: dict[str, Any] = found[0]
    return card


def test_r23_19_bisphosphonate_is_held_until_replete_and_not_the_cause(client: FlaskClient) -> None:
    card = osteomalacia(client, [med("alendronate sodium 70 MG Oral Tablet", "904431")])
    assert "osteomalacia likely" in card["summary"]
    [line] = [s for s in steps(card) if s.startswith("On alendronate")]
    assert "not the cause" in line
    assert "no further doses until vitamin D and calcium are replete" in line
    assert "already known" not in card["detail"]
    # Without a bisphosphonate there is nothing to hold.
    card = osteomalacia(client, [])
    assert not any("no further doses" in s for s in steps(card))


# --- R23-20: sepsis in the ICU ------------------------------------------------------------------


def septic_cards(client: FlaskClient, conditions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return case(
        client, "male", "1949-01-20",
        [LABS.alp(296), LABS.ggt(310), LABS.bilirubin(3.6), LABS.alt(60)],
        [LABS.temperature(38.4), LABS.wbc(17), LABS.crp(180),
         LABS.alp(120, when=day("2026-11-18"))],
        conditions, [med("Parenteral nutrition (TPN) 2000 mL daily", authored="2026-11-20")],
    )  # fmt: skip


def septic(client: FlaskClient, conditions: list[dict[str, Any]]) -> dict[str, Any]:
    found = septic_cards(client, conditions)
    assert fired(found) == [LIVER]
    card: dict[str, Any] = found[0]
    return card


def test_r23_20_sepsis_with_a_fever_names_the_cholestasis_of_sepsis(client: FlaskClient) -> None:
    # 77M in the ICU: sepsis (A41.9), 12 days of parenteral nutrition, temperature 38.4, WBC 17,
    # CRP 180; ALP 2.8x, GGT 310, bilirubin 3.6 mg/dL. Was "suspected cholangitis" and "IFALD
    # likely", sepsis on the record line only.
    card = septic(client, [condition("A41.9", onset="2026-11-18"), condition("I48.91")])
    assert (
        "in sepsis: cholestasis of sepsis likely; ultrasound today for cholangitis"
        in card["summary"]
    )
    lines = steps(card)
    assert any(
        s.startswith("Sepsis with a fever: cholestasis of sepsis likely; ultrasound today")
        for s in lines
    )
    assert not any(s.startswith("A fever with a liver-source ALP") for s in lines)
    assert any(s.startswith("Parenteral nutrition may add to it") for s in lines)
    assert not any("intestinal failure-associated liver disease likely" in s for s in lines)


def test_r23_20_gallstones_or_no_sepsis_keep_cholangitis_first(client: FlaskClient) -> None:
    # Sepsis with gallstones recorded: the suspected-cholangitis warning (Tokyo 2018 A, B, C).
    found = septic_cards(client, [condition("A41.9", onset="2026-11-18"), condition("K80.20")])
    assert fired(found) == ["alp-high-suspected-cholangitis"]
    # A fever without sepsis recorded: suspected cholangitis. Twenty-first round, part J
    # (review 35, R35-56): with this jaundice (3.6 mg/dL) it is now a warning in place of the
    # info liver card, so the liver card's parenteral-nutrition line is not on it (cholangitis
    # and line sepsis first; left open in the rulebook).
    found = septic_cards(client, [])
    assert fired(found) == ["alp-high-fever-jaundice"]
    assert found[0]["indicator"] == "warning"
    assert "suspected cholangitis" in found[0]["summary"]


# --- R23-35: Paget disease in words ------------------------------------------------------------


def paget_in_words(client: FlaskClient, text: str) -> list[dict[str, Any]]:
    return case(
        client, "male", "1952-02-02", [LABS.alp(288), LABS.ggt(25)],
        [LABS.alp(280, when=day("2026-05-01"))],
        [worded(text)],
    )  # fmt: skip


def test_r23_35_paget_disease_of_bone_in_words_explains_a_stable_alp(client: FlaskClient) -> None:
    # 74M, "Paget's disease of bone - pelvis and L-spine" as text with a local code, ALP 2.8x
    # stable against 2.7x in May, GGT normal. Was "order bone-specific ALP; consider Paget".
    assert paget_in_words(client, "Paget's disease of bone - pelvis and L-spine") == []
    assert paget_in_words(client, "Osteitis deformans") == []


def test_r23_35_a_suspicion_or_the_breast_disease_is_not_paget_of_bone(client: FlaskClient) -> None:
    for text in ("?Paget's disease of bone", "Paget's disease of nipple - bone scan clear",
                 "No Paget's disease of bone"):  # fmt: skip
        found = paget_in_words(client, text)
        assert fired(found) == [BONE_SOURCE], text


# --- R23-45: a 13-year-old just past the growth margin -------------------------------------------


def boy(client: FlaskClient, value: float, phosphate: float) -> list[dict[str, Any]]:
    return case(
        client, "male", "2013-03-01",
        [LABS.alp(value, low=116, high=468), LABS.ggt(14, high=23), LABS.alt(18),
         LABS.calcium(2.50), LABS.phosphate(phosphate)],
    )  # fmt: skip


def test_r23_45_growth_likely_no_pth_or_phosphate_asked_again(client: FlaskClient) -> None:
    # 13-year-old boy, ALP 720 against the lab's paediatric 116-468 (1.54x), GGT, calcium 2.50
    # and phosphate 1.7 normal, well. Was "rickets screen (25-OH vitamin D, PTH, phosphate)".
    found = boy(client, 720, 1.7)
    assert fired(found) == [GROWTH_MILD]
    [card] = found
    assert "growth likely; 25-OH vitamin D" in card["summary"]
    assert "PTH" not in card["summary"]
    assert "rickets screen" not in card["summary"]
    assert suggested(card) == ["62292-8"]  # 25-OH vitamin D (D2+D3), the orderable's code
    assert "Repeat ALP in about 3 months" in card["detail"]


def test_r23_45_a_low_phosphate_or_a_higher_alp_keeps_the_rickets_screen(
    client: FlaskClient,
) -> None:
    [card] = boy(client, 720, 0.9)  # phosphate under a 13-year-old's range
    assert card["source"]["topic"]["display"] == BONE_SOURCE
    [card] = boy(client, 1000, 1.7)  # 2.1x the age limit
    assert card["source"]["topic"]["display"] == BONE_SOURCE
    assert "rickets screen" in card["summary"]


def test_r23_08_calcium_and_phosphate_on_record_are_not_asked_for_again(
    client: FlaskClient,
) -> None:
    # Review 23 minor point (R23-08): GGT normal 5 days after a first ALP of 182; calcium 2.42
    # and phosphate 1.0 resulted that day.
    found = case(
        client, "female", "1970-09-09", [LABS.alp(178), LABS.ggt(24)],
        [LABS.alp(182, when=day("2026-11-27")), LABS.calcium(2.42), LABS.phosphate(1.0)],
    )  # fmt: skip
    [card] = found
    assert card["source"]["topic"]["display"] == BONE_SOURCE
    [line] = [s for s in steps(card) if "PTH" in s]
    assert line.startswith("Calcium and phosphate on record: 25-OH vitamin D and PTH")
    # Calcium only: phosphate is still asked for.
    found = case(
        client, "female", "1970-09-09", [LABS.alp(178), LABS.ggt(24)], [LABS.calcium(2.42)]
    )
    [card] = found
    [line] = [s for s in steps(card) if "PTH" in s]
    assert line.startswith("Calcium on record: phosphate, 25-OH vitamin D and PTH")
