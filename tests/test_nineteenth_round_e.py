"""Nineteenth round (2026-12-02), part E: review 23's competing explanations (docs/rulebook.md,
"Nineteenth round (2026-12-02), part E (review 23: competing explanations)"). Each patient is
rebuilt from the reviewer's facts (review 23, gen.py), with the neighbour that must not change."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.rules_helper import fired, suggested
from tests.support.fhir import (
    alp,
    condition,
    full_prefetch,
    ggt,
    medication,
    observation,
    patient,
    sign_request,
)

NOW = "2026-12-02T07:30:00Z"
SERVICE = "/cds-services/alp-result-sign"

LIVER = "alp-high-liver-source"
ORIGIN = "alp-high-origin-unclear"
BONE_SOURCE = "alp-high-bone-source"
BONE_EXPLAINED = "alp-high-bone-explained"
GROWTH_MILD = "alp-high-growth-mild"


def day(date: str) -> str:
    return f"{date}T08:00:00Z"


def lab(
    loinc: str, value: float, unit: str, low: float | None, high: float | None, when: str = NOW
) -> dict[str, Any]:
    return observation(loinc, value, unit=unit, ucum=unit, low=low, high=high, when=when)


def ALP(value: float, low: float = 35, high: float = 104, when: str = NOW) -> dict[str, Any]:
    return alp(value, low=low, high=high, when=when)


def GGT(value: float, high: float = 40) -> dict[str, Any]:
    return ggt(value, low=5, high=high, when=NOW)


def ALT(value: float) -> dict[str, Any]:
    return lab("1742-6", value, "U/L", 7, 40)


def BILI(value: float) -> dict[str, Any]:
    return lab("1975-2", value, "mg/dL", 0.1, 1.2)


def CA(value: float) -> dict[str, Any]:
    return lab("2000-8", value, "mmol/L", 2.15, 2.55)


def PHOS(value: float) -> dict[str, Any]:
    return lab("2777-1", value, "mmol/L", 0.8, 1.5)


def PTH(value: float) -> dict[str, Any]:
    return lab("2731-8", value, "pmol/L", 1.6, 6.9)


def VITD(value: float) -> dict[str, Any]:
    return lab("1989-3", value, "nmol/L", 50, 250)


def WBC(value: float) -> dict[str, Any]:
    return lab("6690-2", value, "10*9/L", 4, 11)


def CRP(value: float) -> dict[str, Any]:
    return lab("1988-5", value, "mg/L", 0, 5)


def TEMP(value: float) -> dict[str, Any]:
    return lab("8310-5", value, "Cel", None, None)


def worded(text: str, onset: str = "2017-01-01") -> dict[str, Any]:
    entry = condition("LOCAL1", system="urn:oid:1.2.3", onset=onset)
    entry["code"]["text"] = text
    entry["code"]["coding"][0]["display"] = text
    return entry


def med(text: str, code: str | None = None, authored: str | None = None) -> dict[str, Any]:
    entry = medication(code, text=text)
    if authored:
        entry["authoredOn"] = authored
    return entry


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
    prefetch = full_prefetch(
        pt=patient(sex, born),
        labs=list(results) + list(labs or []),
        conditions=conditions or [],
        medications=meds or [],
    )
    response = client.post(SERVICE, json=sign_request(results, prefetch))
    assert response.status_code == 200, response.get_json()
    found: list[dict[str, Any]] = response.get_json()["cards"]
    return found


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
        [ALP(424), GGT(96), ALT(52), BILI(1.0)], [ALP(300, when=day("2026-09-01"))],
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
        client, "male", "1945-01-01", [ALP(300), GGT(90)], [],
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
        [ALP(236), GGT(182), ALT(88), BILI(1.1)], [ALP(110, when=day("2026-03-01"))],
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
        client, "female", "1950-01-01", [ALP(236), GGT(182), ALT(88)], [], [],
        [med("Flucloxacillin 500 mg four times daily", authored="2026-11-01")],
    )  # fmt: skip
    [card] = found
    assert "stop it now" in card["detail"]
    assert "cardiology" not in card["detail"]


# --- R23-19: osteomalacia on alendronate ---------------------------------------------------------


def osteomalacia(client: FlaskClient, meds: list[dict[str, Any]]) -> dict[str, Any]:
    found = case(
        client, "female", "1946-06-06",
        [ALP(165), GGT(22)], [CA(2.14), PHOS(0.72), VITD(16), PTH(14)],
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
        [ALP(296), GGT(310), BILI(3.6), ALT(60)],
        [TEMP(38.4), WBC(17), CRP(180), ALP(120, when=day("2026-11-18"))],
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
    # A fever without sepsis recorded: suspected cholangitis, as before; parenteral nutrition
    # alone is still named as the likely cause.
    card = septic(client, [])
    assert "suspected cholangitis" in card["summary"]
    assert any("intestinal failure-associated liver disease likely" in s for s in steps(card))


# --- R23-35: Paget disease in words ------------------------------------------------------------


def paget_in_words(client: FlaskClient, text: str) -> list[dict[str, Any]]:
    return case(
        client, "male", "1952-02-02", [ALP(288), GGT(25)], [ALP(280, when=day("2026-05-01"))],
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
        [ALP(value, low=116, high=468), GGT(14, high=23), ALT(18), CA(2.50), PHOS(phosphate)],
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
        client, "female", "1970-09-09", [ALP(178), GGT(24)],
        [ALP(182, when=day("2026-11-27")), CA(2.42), PHOS(1.0)],
    )  # fmt: skip
    [card] = found
    assert card["source"]["topic"]["display"] == BONE_SOURCE
    [line] = [s for s in steps(card) if "PTH" in s]
    assert line.startswith("Calcium and phosphate on record: 25-OH vitamin D and PTH")
    # Calcium only: phosphate is still asked for.
    found = case(client, "female", "1970-09-09", [ALP(178), GGT(24)], [CA(2.42)])
    [card] = found
    [line] = [s for s in steps(card) if "PTH" in s]
    assert line.startswith("Calcium on record: phosphate, 25-OH vitamin D and PTH")
