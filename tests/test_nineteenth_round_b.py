"""Nineteenth round (2026-12-02), part B: reviews 19-21 on the liver, biliary and words
(docs/rulebook.md, "Nineteenth round (2026-12-02), part B"). Each patient is built from the
reviewer's facts, with a neighbour that must not change."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.rules_helper import cards, fired, suggested
from tests.support.fhir import alp, condition, ggt, medication, observation, patient
from tests.support.labs import RESULT_DATE, Labs, words

LIVER = "alp-high-liver-source"
MILD = "alp-high-mild-isolated"
PREGNANCY = "alp-high-pregnancy"
CHOLANGITIS = "alp-high-suspected-cholangitis"
HEART_FAILURE = condition("I50.9")
OLD_MAN = patient("male", "1945-03-01")


LABS = Labs(RESULT_DATE)


def steps(card: dict[str, Any]) -> list[str]:
    return [s.split("\n\n")[0] for s in card["detail"].split("\n- ")[1:]]


# --- R21-08: heart failure, ALP 2.5x, bilirubin 42 umol/L -------------------------------------


def test_heart_failure_at_2x_names_obstruction_and_the_labs_bilirubin_unit(
    client: FlaskClient,
) -> None:
    # R21-08: heart failure, ALP 260 (2.5x), GGT 200, bilirubin 42 umol/L (2x), no cancer: the
    # card said "Bilirubin 2.5 mg/dL ... congestion can explain it".
    labs = [alp(260), ggt(200), LABS.bilirubin_umol(42), LABS.alt(30)]
    found = cards(client, labs, pt=OLD_MAN, conditions=[HEART_FAILURE])
    assert fired(found) == [LIVER]
    [card] = found
    assert "congestion or obstruction; ultrasound with Doppler" in card["summary"]
    assert "congestion likely" not in card["summary"]
    lines = steps(card)
    assert lines[0].startswith(
        "Heart failure recorded: congestion or obstruction; ultrasound with Doppler"
        " (ducts and hepatic veins)"
    )
    assert "Bilirubin 42 umol/L: ultrasound today with right upper quadrant pain" in card["detail"]
    assert "congestion can explain it" not in card["detail"]
    assert "mg/dL" not in card["detail"]
    assert words(card) <= 80


def test_heart_failure_under_2x_keeps_congestion_in_the_labs_unit(client: FlaskClient) -> None:
    labs = [alp(187), ggt(120), LABS.bilirubin_umol(30), LABS.alt(30)]
    [card] = cards(client, labs, pt=OLD_MAN, conditions=[HEART_FAILURE])
    assert "congestion likely; ultrasound with hepatic-vein Doppler" in card["summary"]
    assert "Bilirubin 30 umol/L beside heart failure: congestion can explain it" in card["detail"]
    # A lab reporting mg/dL is still shown in mg/dL.
    [card] = cards(client, [alp(187), ggt(120), LABS.bilirubin(1.8)], conditions=[HEART_FAILURE])
    assert "Bilirubin 1.8 mg/dL beside heart failure" in card["detail"]


def test_other_cards_name_the_bilirubin_in_the_labs_unit(client: FlaskClient) -> None:
    # The cholangitis warning (review 18, E01's patient): fever, gallstones, bilirubin 50 umol/L.
    temperature = observation("8310-5", 38.9, unit="Cel", ucum="Cel")
    found = cards(
        client,
        [alp(260), ggt(200), LABS.bilirubin_umol(50), temperature],
        conditions=[condition("K80.20")],
    )
    assert fired(found) == [CHOLANGITIS]
    # Twenty-second round, part O: with a biliary disease recorded the bilirubin is named in
    # the summary (twentieth round, part E), no longer again in a "raised" line of the detail.
    assert "bilirubin 50 umol/L" in found[0]["summary"]
    assert "Bilirubin 50 umol/L raised" not in found[0]["detail"]
    assert "mg/dL" not in found[0]["summary"] + found[0]["detail"]


# --- R21-13: fatty liver and gallstones --------------------------------------------------------


def test_gallstones_point_to_a_duct_stone_not_to_a_complication(client: FlaskClient) -> None:
    # R21-13: K76.0 and K80.20, ALP 1.4x, GGT 3x: "Gallstones is recorded: look for a
    # complication (stone, stricture, tumour, flare) rather than a new diagnosis" under "AMA".
    both = [condition("K76.0"), condition("K80.20")]
    found = cards(client, [alp(146), ggt(108), LABS.alt(30)], conditions=both)
    assert fired(found) == [LIVER]
    [card] = found
    lines = steps(card)
    assert lines[0] == (
        "Gallstones recorded: a duct stone first"
        " (ultrasound; MRCP if ducts dilated or LFTs rising)."
    )
    assert "rather than a new diagnosis" not in card["detail"]
    assert "is recorded" not in card["detail"]
    # The gallstones line carries the ultrasound: the generic ultrasound line is not repeated.
    assert not any(s.startswith("Right upper quadrant ultrasound first") for s in lines)
    assert any(s.startswith("Ducts not dilated: anti-mitochondrial") for s in lines)


def test_autoimmune_hepatitis_keeps_the_complication_line(client: FlaskClient) -> None:
    found = cards(client, [alp(146), ggt(108)], conditions=[condition("K75.4")])
    assert fired(found) == [LIVER]
    detail = found[0]["detail"]
    assert "Known liver disease: look for a complication (stone, stricture, tumour, flare" in detail
    assert "duct stone first" not in detail


# --- R19-41: a bilirubin just over its limit ----------------------------------------------------


def test_a_bilirubin_just_over_its_limit_is_not_ultrasound_today(client: FlaskClient) -> None:
    # R19-41 without heart failure: ALP 1.8x, GGT 1.9x, bilirubin 22 umol/L (limit 21).
    found = cards(client, [alp(187), ggt(68), LABS.bilirubin_umol(22), LABS.alt(30)])
    assert fired(found) == [LIVER]
    lines = steps(found[0])
    assert any(
        s.startswith("Bilirubin 22 umol/L, just above its limit: ultrasound within days; today")
        for s in lines
    )
    assert not any(s.startswith("Bilirubin raised: ultrasound today") for s in lines)


def test_a_clearly_raised_bilirubin_or_a_fever_is_still_today(client: FlaskClient) -> None:
    # 35 umol/L is 1.7x its limit: ultrasound today.
    [card] = cards(client, [alp(187), ggt(68), LABS.bilirubin_umol(35)])
    assert any(s.startswith("Bilirubin raised: ultrasound today") for s in steps(card))
    assert "just above its limit" not in card["detail"]
    # A fever keeps the same-day cholangitis line whatever the bilirubin.
    temperature = observation("8310-5", 38.6, unit="Cel", ucum="Cel")
    [card] = cards(client, [alp(187), ggt(68), LABS.bilirubin_umol(22), temperature])
    assert "suspected cholangitis" in card["summary"]
    assert "just above its limit" not in card["detail"]


def test_r19_41_with_heart_failure_has_no_bare_ultrasound_today(client: FlaskClient) -> None:
    # R19-41 as reviewed: 86, CKD 4, heart failure, alendronate, apixaban, hip fracture 6 weeks
    # ago, ALP 1.8x, GGT 1.9x, bilirubin 22 (limit 21).
    conditions = [
        condition("N18.4"),
        HEART_FAILURE,
        condition("S72.001A", onset="2026-10-09"),
    ]
    drugs = [medication(text="alendronic acid 70 mg weekly"), medication(text="apixaban 2.5 mg")]
    found = cards(
        client,
        [alp(187), ggt(68), LABS.bilirubin_umol(22), LABS.alt(30)],
        pt=patient("female", "1940-05-01"),
        conditions=conditions,
        medications=drugs,
    )
    assert fired(found) == [LIVER]
    lines = steps(found[0])
    assert not any(s.startswith("Bilirubin raised: ultrasound today") for s in lines)
    assert any(
        "congestion can explain it; ultrasound today with right upper quadrant pain" in s
        for s in lines
    )


# --- R19-39: a first ALP 8% over its limit ------------------------------------------------------


def test_a_first_alp_just_over_its_limit_gets_a_short_repeat_card(client: FlaskClient) -> None:
    # R19-39: well 45-year-old, first ALP 112 U/L (1.08x), GGT normal: a 95-word card.
    found = cards(client, [alp(112), ggt(20)], pt=patient("male", "1981-05-01"))
    assert fired(found) == [MILD]
    [card] = found
    assert "GGT normal: marginal, likely normal variation; repeat with GGT" in card["summary"]
    assert words(card) <= 50
    assert "intestinal ALP" not in card["detail"]
    assert suggested(card) == ["6768-6"]


def test_a_mild_rise_or_a_recorded_reason_is_not_marginal(client: FlaskClient) -> None:
    man = patient("male", "1981-05-01")
    # 1.25x: the mild isolated rise's full card, as before.
    found = cards(client, [alp(130), ggt(20)], pt=man)
    assert fired(found) == [MILD]
    assert "a mild isolated rise; repeat fasting in 1-3 months" in found[0]["summary"]
    # A cancer history keeps the work-up (the mild card's own exclusions hold here too).
    found = cards(client, [alp(112), ggt(20)], pt=man, conditions=[condition("Z85.3")])
    assert MILD not in fired(found)
    assert "marginal" not in found[0]["summary"]


# --- R19-10: a postnatal check dates no delivery -----------------------------------------------


def test_a_recent_postnatal_check_reads_placental_alp_and_lactation(client: FlaskClient) -> None:
    # R19-10: Z39.2 dated 30 days before the ALP, breast-feeding, first ALP 175 (1.7x), GGT, ALT
    # normal: "bone source likely; order bone-specific ALP".
    mother = patient("female", "1993-05-01")
    postnatal = condition("Z39.2", onset="2026-10-21")
    found = cards(client, [alp(175), ggt(20), LABS.alt(20)], pt=mother, conditions=[postnatal])
    assert fired(found) == [PREGNANCY]
    [card] = found
    assert "postnatal care 30 days ago: placental ALP and lactation" in card["summary"]
    assert "bone-specific" not in card["detail"]


def test_an_old_postnatal_check_or_a_dated_delivery_are_as_before(client: FlaskClient) -> None:
    mother = patient("female", "1993-05-01")
    # 60 days ago: past the puerperium, the ordinary work-up.
    old = condition("Z39.2", onset="2026-09-21")
    assert PREGNANCY not in fired(cards(client, [alp(175), ggt(20)], pt=mother, conditions=[old]))
    # A dated delivery keeps its own summary (days after delivery), not the postnatal one.
    delivered = condition("Z37.0", onset="2026-10-25")
    found = cards(client, [alp(175), ggt(20)], pt=mother, conditions=[delivered])
    assert fired(found) == [PREGNANCY]
    assert "days after delivery" in found[0]["summary"]
    assert "postnatal care" not in found[0]["summary"]


def test_a_fracture_while_breast_feeding_keeps_one_card(client: FlaskClient) -> None:
    # Over-reach of R19-10: Z39.1 (lactating) 19 days before the ALP and a vertebral fracture:
    # the lactation-fracture card alone (review 19, R19-12), not the placental card beside it.
    mother = patient("female", "1989-05-01")
    lactating = condition("Z39.1", onset="2026-11-01", recorded="2026-11-01")
    fracture = condition("S22.000A", onset="2026-11-05")
    found = cards(client, [alp(190), ggt(20)], pt=mother, conditions=[lactating, fracture])
    assert fired(found) == ["alp-high-lactation-fracture"]
