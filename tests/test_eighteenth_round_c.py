"""Eighteenth round (2026-12-02), part C: review 18's liver, biliary and Wilson findings
(docs/rulebook.md, "Eighteenth round (2026-12-02), part C"). Each case is the reviewer's
patient rebuilt with the test builders; each fix has a neighbour that must not change."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from cds_service.clinical.classify import _find_matches, _read_concept
from cds_service.knowledge.model import KnowledgeBase
from tests.rules_helper import card_for, cards, fired, suggested
from tests.support.fhir import alp, condition, ggt, observation, patient, procedure
from tests.support.labs import RESULT_DATE, Labs

# `fhir.observation`'s own default date, which these builders used.
LABS = Labs(RESULT_DATE)

CHOLANGITIS = "alp-high-suspected-cholangitis"
DRAINAGE = "alp-drainage-cholangitis"
WILSON = "alp-wilson-pattern"
LOW_GGT_LIVER = "alp-high-liver-low-ggt"
BONE = "alp-high-bone-source"


def bilirubin_umol(value: float) -> dict[str, Any]:
    return observation("14631-6", value, unit="umol/L", ucum="umol/L", low=0, high=21)


def temperature(value: float) -> dict[str, Any]:
    return observation("8310-5", value, unit="Cel", ucum="Cel")


def alt(value: float) -> dict[str, Any]:
    return observation("1742-6", value, low=7, high=40)


def ast(value: float) -> dict[str, Any]:
    return observation("1920-8", value, low=8, high=40)


def haptoglobin(value: float) -> dict[str, Any]:
    return observation("4542-7", value, unit="g/L", ucum="g/L", low=0.3, high=2.0)


def worded(code: str | None, text: str) -> dict[str, Any]:
    """A condition with the clinician's own words (and a code, or none)."""
    resource = condition(code or "X")
    resource["code"] = {"text": text, **({"coding": resource["code"]["coding"]} if code else {})}
    return resource


# E01 -----------------------------------------------------------------------------------------

E01_LABS = [alp(260), bilirubin_umol(50), temperature(38.9)]  # 2.5x, 2.9 mg/dL, fever


def test_fever_gallstones_and_cholestasis_is_acute_cholangitis_first(client: FlaskClient) -> None:
    # E01: fever 38.9 C, gallstones (K80.20), ALP 2.5x, bilirubin 50 umol/L: the GGT card.
    found = cards(client, E01_LABS, conditions=[condition("K80.20")])
    assert fired(found) == [CHOLANGITIS]
    [card] = found
    assert card["indicator"] == "warning"
    assert "acute cholangitis until excluded" in card["summary"]
    assert len(card["summary"]) <= 140
    assert "Blood cultures, then antibiotics" in card["detail"]
    assert "Drainage (ERCP) by severity" in card["detail"]
    # Twenty-second round, part O: with a biliary disease recorded the summary names the
    # bilirubin (twentieth round, part E); its "supports obstruction" line no longer repeats it.
    assert "bilirubin 50 umol/L" in card["summary"]
    assert "supports obstruction" not in card["detail"]
    assert suggested(card) == []  # no GGT: the cholangitis first


def test_with_a_raised_ggt_the_warning_replaces_the_liver_card(client: FlaskClient) -> None:
    found = cards(client, [*E01_LABS, ggt(150)], conditions=[condition("K80.20")])
    assert fired(found) == [CHOLANGITIS]


def test_cholangitis_coded_k83_0_counts(client: FlaskClient, kb: KnowledgeBase) -> None:
    found = cards(client, E01_LABS, conditions=[condition("K83.0")])
    assert fired(found) == [CHOLANGITIS]
    assert "cholangitis" in _find_matches(
        kb, {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "K83.0"}]}, True
    )


def test_sepsis_with_gallstones_and_jaundice_reaches_the_same_warning(client: FlaskClient) -> None:
    # No temperature charted: sepsis recorded is the inflammation item (review 17, N10b).
    found = cards(
        client, [alp(260), bilirubin_umol(50)], conditions=[condition("A41.9"), condition("K80.20")]
    )
    assert fired(found) == [CHOLANGITIS]


def test_gallstones_in_words_count(client: FlaskClient) -> None:
    found = cards(client, E01_LABS, conditions=[worded(None, "Gallstones on ultrasound 2025")])
    assert fired(found) == [CHOLANGITIS]


def test_a_stent_stays_the_drainage_warning(client: FlaskClient) -> None:
    found = cards(
        client,
        E01_LABS,
        conditions=[condition("K80.20")],
        procedures=[procedure("43274", "2026-09-01", system="http://www.ama-assn.org/go/cpt")],
    )
    assert DRAINAGE in fired(found)
    assert CHOLANGITIS not in fired(found)


def test_sepsis_without_biliary_disease_stays_cholestasis_of_sepsis(client: FlaskClient) -> None:
    # Over-reach (review 16, P16): pneumonia sepsis with a cholestatic rise, no biliary disease.
    found = cards(client, [alp(260), ggt(150), bilirubin_umol(50)], conditions=[condition("A41.9")])
    assert fired(found) == ["alp-high-liver-source"]
    assert "cholestasis of sepsis" in found[0]["summary"]


def test_gallstones_without_infection_signs_stay_the_liver_card(client: FlaskClient) -> None:
    found = cards(
        client, [alp(260), ggt(150), bilirubin_umol(50)], conditions=[condition("K80.20")]
    )
    assert fired(found) == ["alp-high-liver-source"]


def test_fever_and_gallstones_without_cholestasis_do_not_warn(client: FlaskClient) -> None:
    # ALP 1.2x, bilirubin normal, no other liver test: Tokyo B is not met.
    found = cards(
        client, [alp(125), bilirubin_umol(15), temperature(38.9)], conditions=[condition("K80.20")]
    )
    assert CHOLANGITIS not in fired(found)


# X04 -----------------------------------------------------------------------------------------


def test_negated_gallstones_do_not_make_cholangitis(client: FlaskClient) -> None:
    for entry in (
        worded("K80.20", "Gallstones excluded on ultrasound"),
        worded("K80.20", "No gallstones"),
        worded(None, "no gallstones"),
        worded(None, "Gallstones ruled out"),
        worded(None, "US abdomen: no evidence of gallstones"),
    ):
        found = cards(client, E01_LABS, conditions=[entry])
        assert CHOLANGITIS not in fired(found), entry["code"]


def test_a_genuine_gallstone_still_counts(client: FlaskClient) -> None:
    for entry in (
        worded("K80.20", "Gallstones"),
        worded(None, "Gallstones, no cholecystitis"),
        worded(None, "Gallstones - CBD stone excluded at MRCP"),
        worded(None, "No fever, gallstones on scan"),
    ):
        found = cards(client, E01_LABS, conditions=[entry])
        assert fired(found) == [CHOLANGITIS], entry["code"]


def matched(kb: KnowledgeBase, text: str, code: str | None = None) -> set[str]:
    concept: dict[str, Any] = {"text": text}
    if code:
        concept["coding"] = [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": code}]
    return set(_read_concept(kb, concept, by_name=True, negatable=True).matches)


def test_negation_phrasings(kb: KnowledgeBase) -> None:
    assert "pbc" not in matched(kb, "Not PBC", "K74.3")
    assert "pbc" not in matched(kb, "PBC not confirmed")
    assert "psc" not in matched(kb, "?PSC - ruled out", "K83.01")
    assert "psc" not in matched(kb, "PSC ruled out on MRCP", "K83.01")
    assert "hypophosphatasia" not in matched(kb, "Not hypophosphatasia")
    assert "biliary-disease" not in matched(kb, "Patient denies gallstones")
    # Genuine entries, and a negation of something else in the entry, still count.
    assert "pbc" in matched(kb, "PBC", "K74.3")
    assert "pbc" in matched(kb, "PBC, no cirrhosis", "K74.3")
    assert "pbc" in matched(kb, "PBC - no change in urso dose")
    assert "psc" in matched(kb, "PSC with IBD", "K83.01")
    assert "haemolysis" in matched(kb, "Haemolysis - DAT negative, haptoglobin absent")
    # A name that itself opens with a cue is the thing, not its negation.
    assert "gait-disturbance" in matched(kb, "Not weight bearing")
    assert "gait-disturbance" not in matched(kb, "No limp")


def test_negation_is_read_in_conditions_only(kb: KnowledgeBase) -> None:
    # A medication's or procedure's words are read as before (not negatable).
    concept = {"text": "no gallstones"}
    assert "biliary-disease" in _read_concept(kb, concept, by_name=True, negatable=False).matches


# E10 -----------------------------------------------------------------------------------------

ADULT = patient(birth_date="1985-01-01")


def test_alt_at_twice_the_limit_with_a_normal_ggt_is_not_called_bone(client: FlaskClient) -> None:
    # E10: ALP 2.4x, GGT normal, ALT 2.5x: "bone source likely; order bone-specific ALP".
    found = cards(client, [alp(250), ggt(20), alt(100)], pt=ADULT)
    assert fired(found) == [LOW_GGT_LIVER]
    [card] = found
    assert "liver not cleared" in card["summary"]
    assert "bone source likely" not in card["summary"]
    assert "alp-isoenzymes" not in card["summary"]
    assert suggested(card) == ["24332-9"]
    assert "hepatitis A, B and C" in card["detail"]
    assert "BRIC or PFIC" in card["detail"]


def test_e10b_a_marked_alt_rise_is_not_bone_either(client: FlaskClient) -> None:
    found = cards(client, [alp(180), ggt(25), alt(400)], pt=ADULT)  # ALT 10x
    assert BONE not in fired(found)
    assert LOW_GGT_LIVER in fired(found)


def test_an_alt_under_twice_the_limit_keeps_the_bone_card(client: FlaskClient) -> None:
    found = cards(client, [alp(250), ggt(20), alt(70)], pt=ADULT)  # 1.75x
    assert fired(found) == [BONE]


def test_a_normal_alt_keeps_the_bone_card(client: FlaskClient) -> None:
    found = cards(client, [alp(250), ggt(20), alt(30)], pt=ADULT)
    assert fired(found) == [BONE]


# B12 -----------------------------------------------------------------------------------------

YOUNG = patient(birth_date="2007-03-01")  # 19


def test_coombs_negative_haemolysis_in_the_labs_gets_the_wilson_warning(
    client: FlaskClient,
) -> None:
    # B12: ALP 30, bilirubin 8 mg/dL, LDH 900, ALT 90, AST 160 (AST/ALT 1.8), no INR, no
    # haemolysis coded: only the first-low repeat card.
    found = cards(
        client, [alp(30), bilirubin_umol(137), alt(90), ast(160), LABS.ldh(900)], pt=YOUNG
    )
    assert fired(found) == [WILSON]
    card = card_for(found, WILSON)
    assert card["indicator"] == "warning"
    assert "Coombs-negative, Wilson disease until excluded" in card["detail"]
    assert "transplant centre today" in card["detail"]
    assert "ceruloplasmin" in card["detail"]


def test_a_low_haptoglobin_counts_with_a_low_normal_alp(client: FlaskClient) -> None:
    found = cards(
        client,
        [alp(50), bilirubin_umol(260), alt(120), ast(200), haptoglobin(0.1)],  # ratio 3.3
        pt=YOUNG,
    )
    assert fired(found) == [WILSON]


def test_autoimmune_haemolysis_in_an_older_patient_stays_non_wilson(client: FlaskClient) -> None:
    # Over-reach: 68, Coombs-positive autoimmune haemolysis, normal ALP, bilirubin 3 mg/dL.
    older = patient(birth_date="1958-01-01")
    found = cards(
        client,
        [alp(80), bilirubin_umol(51), alt(30), ast(60), LABS.ldh(900), haptoglobin(0.1)],
        pt=older,
        conditions=[condition("D59.11")],
    )
    assert WILSON not in fired(found)


def test_autoimmune_haemolysis_with_liver_injury_at_a_young_age_is_not_wilson(
    client: FlaskClient,
) -> None:
    found = cards(
        client,
        [alp(30), bilirubin_umol(137), alt(90), ast(160), LABS.ldh(900)],
        pt=YOUNG,
        conditions=[condition("D59.11")],
    )
    assert WILSON not in fired(found)


def test_a_high_ldh_in_shock_liver_is_not_wilson(client: FlaskClient) -> None:
    found = cards(
        client,
        [alp(30), bilirubin_umol(137), alt(900), ast(1500), LABS.ldh(2500)],
        pt=YOUNG,
        conditions=[condition("K76.2", onset="2026-11-19")],  # shock liver: raises the LDH
    )
    assert WILSON not in fired(found)


def test_a_high_ldh_without_liver_injury_is_not_wilson(client: FlaskClient) -> None:
    found = cards(client, [alp(30), bilirubin_umol(137), alt(30), ast(35), LABS.ldh(900)], pt=YOUNG)
    assert WILSON not in fired(found)


# Item 5 (checked, no change) -------------------------------------------------------------------


def test_a_falling_alp_in_the_puerperium_with_a_normal_ggt_is_explained(
    client: FlaskClient,
) -> None:
    # Delivered 21 days ago (O80, dated), ALP falling 300 -> 180 with a normal GGT: placental
    # ALP clearing, not "bone source likely" (review 16, P13; alp-high-pregnancy).
    found = cards(
        client,
        [alp(180), ggt(20), alp(300, when="2026-11-13T08:00:00Z")],
        pt=patient(birth_date="1994-01-01"),
        conditions=[condition("O80", onset="2026-10-30")],
    )
    assert fired(found) == ["alp-high-pregnancy"]
    assert "placental ALP" in found[0]["summary"]
    assert BONE not in fired(found)


def test_a_mild_rise_with_the_alt_raised_is_not_called_isolated(client: FlaskClient) -> None:
    # ALP 1.3x with ALT 2.5x: not "a mild isolated rise; repeat in 1-3 months".
    found = cards(client, [alp(135), ggt(20), alt(100)], pt=ADULT)
    assert fired(found) == [LOW_GGT_LIVER]


def test_the_liver_card_shows_only_in_place_of_the_bone_card(client: FlaskClient) -> None:
    # `replaces`: where a recorded cause hides the bone card (a healing hip fracture explains an
    # ALP of 1.4x), the liver card does not show either; the v9-v12 pregnancy, TMA and
    # acute-injury scenarios hold the same for the specific cards (left open in the rulebook:
    # the ALT then goes unremarked, as before this round).
    found = cards(
        client,
        [alp(150), ggt(20), alt(100)],
        pt=ADULT,
        conditions=[condition("S72.001A", onset="2026-11-01")],
    )
    assert LOW_GGT_LIVER not in fired(found)
    assert BONE not in fired(found)
