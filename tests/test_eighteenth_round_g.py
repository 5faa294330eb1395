"""Eighteenth round, part G (2026-12-02): review 19's bone and paediatric patients, each built
from the facts of its request (/work/review19-work/R19-NN.json; docs/rulebook.md, "Eighteenth
round (2026-12-02), part G")."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.rules_helper import cards, fired, suggested
from tests.support.fhir import alp, condition, ggt, observation, patient

NOW = "2026-12-01T08:00:00Z"
BONE = "alp-high-bone-source"
BONE_EXPLAINED = "alp-high-bone-explained"
PRETERM = "alp-high-preterm-bone"
DIALYSIS = "alp-high-dialysis-high-turnover"
MALABSORPTION = "alp-high-malabsorption-bone"
MILD = "alp-high-mild-isolated"
PTH = "2731-8"
VITAMIN_D = "62292-8"
BONE_ALP = "17838-4"


def mmol(loinc: str, value: float, low: float, high: float) -> dict[str, Any]:
    return observation(loinc, value, unit="mmol/L", ucum="mmol/L", low=low, high=high, when=NOW)


def named(code: str, text: str) -> dict[str, Any]:
    entry = condition(code)
    entry["code"]["text"] = text
    return entry


# --- 1 (R19-63): an infant born preterm with ALP 950 and a low phosphate -----------------------

INFANT = patient("male", "2026-09-22")  # 10 weeks old on 1 Dec 2026


def infant_labs(alp_value: float, phosphate: float | None) -> list[dict[str, Any]]:
    labs = [
        alp(alp_value, low=None, high=None, when=NOW),  # Mayo 15 days-1 year: 122-469 U/L
        mmol("2000-8", 2.45, 2.2, 2.7),
        ggt(40, low=5, high=None, when=NOW),
    ]
    if phosphate is not None:
        labs.append(mmol("14879-1", phosphate, 1.6, 3.1))
    return labs


def test_a_preterm_infant_with_a_low_phosphate_has_metabolic_bone_disease_of_prematurity(
    client: FlaskClient,
) -> None:
    # R19-63: born at 28 weeks (P07.32), 10 weeks old: "rickets screen (... phosphate)" asked
    # for the phosphate it had and named neither the phosphate nor the prematurity.
    found = cards(client, infant_labs(950, 1.3), pt=INFANT, conditions=[condition("P07.32")])
    assert fired(found) == [PRETERM]
    [card] = found
    assert (
        "phosphate low, born preterm: metabolic bone disease of prematurity likely"
        in (card["summary"])
    )
    assert "neonatal team" in card["summary"]
    assert "rickets screen" not in card["summary"]
    assert "1.3 mmol/L" in card["detail"]  # the phosphate it has, named
    assert "phosphate and calcium supplementation" in card["detail"]
    assert "urine phosphate" in card["detail"]
    assert suggested(card) == [PTH]  # not the phosphate again, not bone-specific ALP


def test_a_preterm_infant_without_a_phosphate_is_asked_for_one(client: FlaskClient) -> None:
    found = cards(client, infant_labs(950, None), pt=INFANT, conditions=[condition("P07.32")])
    assert fired(found) == [PRETERM]
    assert "possible; phosphate and calcium today" in found[0]["summary"]


def test_prematurity_in_words_counts(client: FlaskClient) -> None:
    entry = {**condition("X"), "code": {"text": "Ex-prem, born at 28 weeks"}}
    found = cards(client, infant_labs(950, 1.3), pt=INFANT, conditions=[entry])
    assert fired(found) == [PRETERM]


def test_a_term_infant_or_normal_phosphate_under_900_keeps_the_old_card(
    client: FlaskClient,
) -> None:
    # Over-reach: no prematurity recorded, the same labs keep the growing child's card.
    found = cards(client, infant_labs(950, 1.3), pt=INFANT)
    assert PRETERM not in fired(found)
    # Born preterm, ALP raised but under 900 with a normal phosphate: not this card.
    found = cards(client, infant_labs(600, 2.0), pt=INFANT, conditions=[condition("P07.32")])
    assert PRETERM not in fired(found)
    # Born preterm but now 3 years old: not an infant.
    toddler = patient("male", "2023-09-22")
    found = cards(
        client,
        [alp(900, low=None, high=None, when=NOW), ggt(12, low=None, high=None)],
        pt=toddler,
        conditions=[condition("P07.32")],
    )
    assert PRETERM not in fired(found)


# --- 2 (R19-07): a girl of 16 with night pain in a leg: X-ray first -----------------------------

GIRL_16 = patient("female", "2010-03-01")


def teen_labs() -> list[dict[str, Any]]:
    return [alp(190, low=None, high=None, when=NOW), ggt(12, low=5, high=36, when=NOW)]


def test_night_pain_in_a_young_persons_leg_leads_with_the_x_ray(client: FlaskClient) -> None:
    # R19-07: "Night pain left lower leg" (M79.662), ALP 1.6x the age limit: the summary said
    # "rickets screen"; the X-ray was mid-line in the detail.
    pain = named("M79.662", "Night pain left lower leg")
    found = cards(client, teen_labs(), pt=GIRL_16, conditions=[pain])
    assert fired(found) == [BONE]
    [card] = found
    assert "X-ray the painful site within 48 h (tumour, fracture, osteomyelitis)" in card["summary"]
    assert "rickets" not in card["summary"]
    assert len(card["summary"]) <= 130
    steps = card["detail"].split("\n- ")[1:]
    assert steps[0].startswith("Pain or a limp in a child or young person: very urgent X-ray")
    assert "Rickets second" in steps[0]
    # The generic child line (its own 'bone pain or limp: X-ray') is not repeated.
    assert "A growing child" not in card["detail"]


def test_a_child_without_pain_keeps_the_rickets_screen(client: FlaskClient) -> None:
    # Over-reach: the same girl with nothing recorded, and a toddler with late walking (no
    # painful site to X-ray), keep the rickets screen.
    found = cards(client, teen_labs(), pt=GIRL_16)
    assert fired(found) == [BONE]
    assert "rickets screen" in found[0]["summary"]
    assert "A growing child" in found[0]["detail"]
    toddler = patient("female", "2024-08-20")
    late = {**condition("X"), "code": {"text": "Delayed walking"}}
    found = cards(
        client,
        [alp(470, low=None, high=None), ggt(12, low=None, high=None)],
        pt=toddler,
        conditions=[late],
    )
    assert fired(found) == [BONE]
    assert "rickets screen" in found[0]["summary"]


def test_an_adults_leg_pain_does_not_lead_with_the_x_ray(client: FlaskClient) -> None:
    adult = patient("female", "1960-01-01")
    pain = named("M79.662", "Night pain left lower leg")
    found = cards(client, [alp(190, when=NOW), ggt(20, when=NOW)], pt=adult, conditions=[pain])
    for card in found:
        assert "within 48 h" not in card["summary"]


# --- 3 (R19-13): haemodialysis with PTH 14x and ALP 2.5x ----------------------------------------

MAN_66 = patient("male", "1960-01-01")


def dialysis_labs(pth: float) -> list[dict[str, Any]]:
    return [
        alp(260, when=NOW),
        ggt(20, when=NOW),
        observation(PTH, pth, unit="pmol/L", ucum="pmol/L", low=1.6, high=6.9, when=NOW),
        mmol("2000-8", 2.45, 2.2, 2.6),
        mmol("14879-1", 2.3, 0.8, 1.5),
    ]


DIALYSIS_RECORD = [condition("N18.6"), condition("Z99.2")]


def test_dialysis_with_pth_above_nine_times_is_high_turnover_ckd_mbd(client: FlaskClient) -> None:
    # R19-13: "consistent with end stage renal disease; dependence on renal dialysis", and only
    # "ALP is part of the renal team's monitoring".
    found = cards(client, dialysis_labs(95), pt=MAN_66, conditions=DIALYSIS_RECORD)
    assert fired(found) == [DIALYSIS]
    [card] = found
    assert (
        "on dialysis, PTH over 9x upper limit (target 2-9x): high-turnover CKD-MBD"
        in (card["summary"])
    )
    assert "end stage renal disease" not in card["summary"]
    assert "calcimimetic" in card["detail"]
    assert "Phosphate raised (2.3 mmol/L" in card["detail"]


def test_dialysis_with_pth_within_target_keeps_the_explained_card(client: FlaskClient) -> None:
    # Over-reach: PTH 40 pmol/L (5.8x) is within KDIGO's 2-9x: the renal bone card as before.
    found = cards(client, dialysis_labs(40), pt=MAN_66, conditions=DIALYSIS_RECORD)
    assert fired(found) == [BONE_EXPLAINED]
    # CKD stage 4 (not on dialysis) with the same PTH: the target is not the dialysis one.
    found = cards(client, dialysis_labs(95), pt=MAN_66, conditions=[condition("N18.4")])
    assert DIALYSIS not in fired(found)


# --- 4 (R19-19): coeliac disease with ALP 1.8x and a normal GGT ---------------------------------

WOMAN_34 = patient("female", "1992-01-01")


def test_coeliac_disease_names_osteomalacia_and_its_tests(client: FlaskClient) -> None:
    # R19-19: "bone source likely; order bone-specific ALP", "consider Paget disease or
    # metastases" at 34, coeliac disease not named.
    found = cards(
        client,
        [alp(190, when=NOW), ggt(20, when=NOW)],
        pt=WOMAN_34,
        conditions=[condition("K90.0")],
    )
    assert fired(found) == [MALABSORPTION]
    [card] = found
    assert "celiac disease: osteomalacia likely; 25-OH vitamin D, calcium, PTH" in card["summary"]
    assert "Paget" not in card["detail"]
    assert "tTG" in card["detail"]
    assert BONE_ALP not in suggested(card)
    assert suggested(card) == [VITAMIN_D, PTH]


def test_a_mild_first_rise_with_coeliac_disease_is_tested_not_repeated(
    client: FlaskClient,
) -> None:
    found = cards(
        client,
        [alp(125, when=NOW), ggt(20, when=NOW)],
        pt=WOMAN_34,
        conditions=[condition("K90.0")],
    )
    assert fired(found) == [MALABSORPTION]
    # Over-reach: without coeliac disease the mild-isolated repeat stands.
    assert fired(cards(client, [alp(125, when=NOW), ggt(20, when=NOW)], pt=WOMAN_34)) == [MILD]


def test_coeliac_disease_beside_a_cancer_or_a_coded_cause_keeps_those_cards(
    client: FlaskClient,
) -> None:
    labs = [alp(190, when=NOW), ggt(20, when=NOW)]
    # A cancer that spreads to bone leads (bone metastases looked for).
    found = cards(client, labs, pt=WOMAN_34, conditions=[condition("K90.0"), condition("C50.911")])
    assert fired(found) == [BONE]
    assert "look for bone metastases" in found[0]["summary"]
    # A coded osteomalacia explains it: the explained card, as before.
    found = cards(client, labs, pt=WOMAN_34, conditions=[condition("K90.0"), condition("M83.9")])
    assert MALABSORPTION not in fired(found)
    # A child with coeliac disease keeps the rickets screen.
    girl = patient("female", "2016-05-05")
    found = cards(
        client,
        [alp(480, low=None, high=None), ggt(12, low=None, high=None)],
        pt=girl,
        conditions=[condition("K90.0")],
    )
    assert fired(found) == [BONE]


# --- 5 (R19-12): a vertebral fracture while breast-feeding, ALP 2.2x ---------------------------

LACTATION = "alp-high-lactation-fracture"
WOMAN_37 = patient("female", "1989-01-01")


def lactating(onset: str = "2026-09-22T08:00:00Z") -> dict[str, Any]:
    return condition("Z39.1", onset=onset, recorded=onset)


def test_a_fracture_while_breast_feeding_is_lactation_associated_osteoporosis(
    client: FlaskClient,
) -> None:
    # R19-12: "at 2.2x look for another cause (metastases, myeloma, Paget disease,
    # osteomalacia)" and bone-specific ALP, for a woman of 37 breast-feeding 10 weeks after birth.
    fracture = condition("S22.000A", onset="2026-11-10T08:00:00Z")
    labs = [alp(230, when=NOW), ggt(12, when=NOW)]
    found = cards(client, labs, pt=WOMAN_37, conditions=[lactating(), fracture])
    assert fired(found) == [LACTATION]
    [card] = found
    assert "lactation-associated osteoporosis likely; DXA" in card["summary"]
    assert "metastases" not in card["detail"]
    assert BONE_ALP not in suggested(card)
    # Over-reach: the same fracture without breast-feeding keeps the bone-source card.
    found = cards(client, labs, pt=WOMAN_37, conditions=[fracture])
    assert fired(found) == [BONE]
    # Breast-feeding ended in words, or recorded over a year ago: not counted.
    weaned = {**condition("X"), "code": {"text": "Stopped breastfeeding, weaned"}}
    found = cards(client, labs, pt=WOMAN_37, conditions=[weaned, fracture])
    assert LACTATION not in fired(found)
    found = cards(
        client, labs, pt=WOMAN_37, conditions=[lactating("2025-06-01T08:00:00Z"), fracture]
    )
    assert LACTATION not in fired(found)


# --- 6 (R19-62): ALP 120-128 U/L (1.2x) for 13 months in a woman of 91 -------------------------

WOMAN_91 = patient("female", "1935-01-01")
TODAY = [alp(125, low=40, high=104, when=NOW), ggt(20, when=NOW)]


def earlier(first: str = "2025-10-27T08:00:00Z", first_value: float = 120) -> list[Any]:
    return [
        alp(first_value, low=40, high=104, when=first),
        alp(128, low=40, high=104, when="2026-07-04T08:00:00Z"),
        alp(122, low=40, high=104, when="2026-10-02T08:00:00Z"),
    ]


def test_a_mild_rise_steady_for_over_a_year_gets_no_card(client: FlaskClient) -> None:
    # R19-62: "order bone-specific ALP" again at every draw.
    assert cards(client, TODAY, pt=WOMAN_91, labs=earlier()) == []


def test_a_shorter_or_changing_mild_rise_or_bone_pain_keeps_the_bone_source_card(
    client: FlaskClient,
) -> None:
    # Over-reach: raised and steady only since June (6 months), an earlier value that was
    # normal 13 months ago, or bone pain recorded: the bone-source card as before.
    for labs in (earlier(first="2026-06-01T08:00:00Z"), earlier(first_value=95)):
        assert fired(cards(client, TODAY, pt=WOMAN_91, labs=labs)) == [BONE]
    pain = named("M89.9", "Bone pain")
    found = cards(client, TODAY, pt=WOMAN_91, labs=earlier(), conditions=[pain])
    assert fired(found) == [BONE]
