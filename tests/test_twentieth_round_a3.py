"""Twentieth round, part I (2026-12-02): review 30 on the liver, biliary, pregnancy and drug rules
(docs/rulebook.md, "Twentieth round (2026-12-02), part I"): the INR on an anticoagulant in a
jaundiced drug injury (R30-06), Hy's law and cholangitis (R30-09), nine days after delivery with
a liver picture (R30-18), and part E's left-open switch summary. Each patient is built from the
reviewer's facts, with the neighbour that must not change beside it."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.rules_helper import cards, fired
from tests.support.fhir import medication, patient, procedure
from tests.support.labs import Labs, since, worded, words
from tests.test_twentieth_round_a import vital

NOW = "2026-12-02T07:30:00Z"
LABS = Labs(NOW)
JAUNDICE = "alp-high-drug-jaundice"
HYS = "alp-high-drug-hys-law"
CHOLANGITIS = "alp-high-suspected-cholangitis"
MAN_70 = patient("male", "1956-02-02")


def med(text: str, authored: str, status: str = "active") -> dict[str, Any]:
    m = medication(text=text, status=status)
    m["authoredOn"] = authored
    return m


WARFARIN = med("Warfarin 3 mg daily", "2018-01-01")
APIXABAN = med("Apixaban 5 mg twice daily", "2019-01-01")
FLUCLOX = med("Flucloxacillin 500 mg four times daily", "2026-11-01", "completed")
R30_05 = [LABS.alp(460), LABS.ggt(510), LABS.alt(110), LABS.bilirubin(4.2)]
AF = since("I48.91", "2018-01-01")


def r30_06(client: FlaskClient, value: float, meds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return cards(
        client,
        R30_05,
        pt=MAN_70,
        labs=[*R30_05, LABS.alp(95, when="2026-09-01T08:00:00Z"), LABS.inr(value)],
        conditions=[AF],
        medications=meds,
    )


# --- Item 1 (R30-06): a jaundiced drug injury on warfarin: the INR does not grade it -------------


def test_jaundiced_drug_injury_on_warfarin_is_graded_without_the_inr(client: FlaskClient) -> None:
    [card] = r30_06(client, 2.6, [FLUCLOX, WARFARIN])
    assert fired([card]) == [JAUNDICE]
    assert card["indicator"] == "warning"
    summary = card["summary"]
    assert "INR now" not in summary
    assert "Warfarin" in summary
    assert len(summary) <= 126
    detail = card["detail"]
    assert "INR reaches" not in detail
    assert "does not grade the injury" in detail
    assert "factor V" in detail
    assert "bilirubin" in detail
    assert "anticoagulation team" in detail
    assert "Ultrasound today" in detail
    assert words(card) < 130


def test_the_same_injury_off_warfarin_keeps_the_inr_step(client: FlaskClient) -> None:
    # Neighbour: no anticoagulant, INR normal: part A's words unchanged.
    [card] = r30_06(client, 1.1, [FLUCLOX])
    assert card["summary"] == (
        "ALP 460 U/L (4.4x), bilirubin 4.2 mg/dL after Flucloxacillin: jaundiced drug injury; "
        "INR now, ultrasound today"
    )
    assert "hepatology if the INR reaches 1.5" in card["detail"]
    assert "factor V" not in card["detail"]


def test_the_same_injury_off_warfarin_with_inr_1_7_stays_severe(client: FlaskClient) -> None:
    # Neighbour (R30-05): the INR grades it when no vitamin K antagonist is taken.
    [card] = r30_06(client, 1.7, [FLUCLOX])
    assert card["summary"].endswith(
        "INR 1.7 after Flucloxacillin: severe drug injury; hepatology today"
    )


def test_a_drug_still_taken_on_warfarin_is_stopped_without_inr_grading(
    client: FlaskClient,
) -> None:
    terbinafine = med("Terbinafine 250 mg daily", "2026-10-20")
    [card] = r30_06(client, 2.4, [terbinafine, WARFARIN])
    summary = card["summary"]
    assert "stop it" in summary
    assert "INR now" not in summary
    assert len(summary) <= 126
    assert "Stop Terbinafine now" in card["detail"]
    assert "anticoagulation team" in card["detail"]
    assert words(card) < 130


def test_the_drug_line_on_another_card_on_warfarin_does_not_grade_by_the_inr(
    client: FlaskClient,
) -> None:
    # Part E's weight-loss patient (the drug line rides on the card that hides the liver card),
    # on warfarin: no "hepatology if INR 1.5"; the neighbour off warfarin keeps it.
    results = [LABS.alp(420), LABS.ggt(500), LABS.alt(150), LABS.bilirubin(3.5)]
    terbinafine = med("Terbinafine 250 mg daily", "2026-10-20")
    for meds, on_warfarin in (([terbinafine, WARFARIN], True), ([terbinafine], False)):
        found = cards(
            client,
            results,
            pt=patient("male", "1960-01-01"),
            labs=[*results, LABS.inr(2.4 if on_warfarin else 1.1)],
            conditions=[worded("Weight loss 8 kg in 3 months", "2026-11-20")],
            medications=meds,
        )
        detail = found[0]["detail"]
        assert "stop a drug still taken" in detail
        assert ("hepatology if INR 1.5" in detail) is not on_warfarin
        assert ("anticoagulation team" in detail) is on_warfarin


HY = [LABS.alp(166), LABS.ggt(120), LABS.alt(480), LABS.bilirubin(3.6)]
COAMOX = med("Co-amoxiclav 625 mg three times daily", "2026-10-21", "completed")


def test_hys_law_on_warfarin_does_not_escalate_by_the_inr(client: FlaskClient) -> None:
    [card] = cards(
        client,
        HY,
        pt=patient("female", "1971-04-04"),
        labs=[*HY, LABS.inr(2.5)],
        medications=[COAMOX, WARFARIN],
    )
    assert fired([card]) == [HYS]
    summary = card["summary"]
    assert "Hy's law" in summary
    assert "hepatology today" in summary
    assert "INR today" not in summary
    assert len(summary) <= 126
    detail = card["detail"]
    assert "INR of 1.5 or more" not in detail
    assert "factor V" in detail
    assert "anticoagulation team" in detail
    assert words(card) < 130


def test_hys_law_off_warfarin_keeps_the_inr_step(client: FlaskClient) -> None:
    [card] = cards(client, HY, pt=patient("female", "1971-04-04"), medications=[COAMOX])
    assert "INR today" in card["summary"]
    assert "with an INR of 1.5 or more" in card["detail"]
    assert "factor V" not in card["detail"]


# --- Item 2 (R30-09): cholangitis on warfarin: the INR is not organ failure; hold before ERCP ----

R30_09 = [LABS.alp(300), LABS.ggt(380), LABS.alt(160), LABS.bilirubin(3.2)]
MAN_68 = patient("male", "1958-01-01")


def r30_09(client: FlaskClient, value: float, meds: list[dict[str, Any]]) -> dict[str, Any]:
    found = cards(
        client,
        R30_09,
        pt=MAN_68,
        labs=[*R30_09, vital(38.6), LABS.wbc(15), LABS.inr(value), LABS.platelets(210)],
        conditions=[worded("Right upper quadrant pain", "2026-12-01"), AF],
        medications=meds,
    )
    assert fired(found)[0] == CHOLANGITIS
    return found[0]


def test_cholangitis_on_warfarin_says_hold_and_reverse_before_ercp(client: FlaskClient) -> None:
    card = r30_09(client, 2.9, [med("Warfarin 4 mg daily", "2019-01-01")])
    detail = card["detail"]
    assert "raised INR" not in detail  # part O: the line reads "raised INR" now
    assert "grade III" not in detail
    assert "reverse it (vitamin K)" in detail
    assert "before ERCP" in detail
    assert "not organ dysfunction" in detail
    assert len(card["summary"]) <= 126
    assert words(card) < 130


def test_cholangitis_on_a_doac_says_hold_it_before_ercp(client: FlaskClient) -> None:
    card = r30_09(client, 1.3, [APIXABAN])
    detail = card["detail"]
    assert "raised INR" not in detail  # part O: the line reads "raised INR" now
    assert "Apixaban" in detail
    assert "before ERCP" in detail
    assert words(card) < 130


def test_cholangitis_off_anticoagulants_keeps_the_inr_as_organ_dysfunction(
    client: FlaskClient,
) -> None:
    # Neighbours: no anticoagulant: the INR line unchanged, and an INR of 2.9 is grade III.
    card = r30_09(client, 1.1, [])
    # Twenty-second round, part O: "a raised INR" is now "raised INR" in the shortened line.
    assert "organ dysfunction (shock, confusion, raised INR, low platelets)" in card["detail"]
    assert "before ERCP" not in card["detail"]
    card = r30_09(client, 2.9, [])
    assert "Tokyo 2018 grade III" in card["detail"]


def test_cholangitis_after_drainage_on_warfarin_says_hold_before_re_drainage(
    client: FlaskClient,
) -> None:
    found = cards(
        client,
        R30_09,
        pt=MAN_68,
        labs=[*R30_09, vital(38.6), LABS.wbc(15), LABS.inr(2.9), LABS.platelets(210)],
        conditions=[AF],
        medications=[med("Warfarin 4 mg daily", "2019-01-01")],
        procedures=[procedure("386718000", "2026-11-20")],
    )
    assert fired(found)[0] == "alp-drainage-cholangitis"
    detail = found[0]["detail"]
    assert "reverse it (vitamin K)" in detail
    assert words(found[0]) < 130


# --- Item 3 (R30-18): nine days after delivery with a liver picture ------------------------------

R30_18 = [LABS.alp(280), LABS.ggt(140), LABS.alt(110), LABS.bilirubin(1.0)]
WOMAN_33 = patient("female", "1993-01-01")


def test_nine_days_after_delivery_the_liver_card_names_the_delivery(client: FlaskClient) -> None:
    [card] = cards(
        client,
        R30_18,
        pt=WOMAN_33,
        conditions=[since("O80", "2026-11-23"), since("Z39.2", "2026-11-23")],
    )
    assert fired([card]) == ["alp-high-liver-source"]
    detail = card["detail"]
    assert "9 days after delivery" in detail
    assert "gallstones" in detail
    assert "blood pressure" in detail
    assert "platelets" in detail
    assert words(card) < 90


def test_without_a_delivery_the_liver_card_has_no_delivery_line(client: FlaskClient) -> None:
    [card] = cards(client, R30_18, pt=WOMAN_33)
    assert fired([card]) == ["alp-high-liver-source"]
    assert "delivery" not in card["detail"]


def test_two_months_after_delivery_the_liver_card_has_no_delivery_line(
    client: FlaskClient,
) -> None:
    [card] = cards(
        client,
        R30_18,
        pt=WOMAN_33,
        conditions=[since("O80", "2026-09-20"), since("Z39.2", "2026-09-20")],
    )
    assert "after delivery" not in card["detail"]


# --- Item 4 (part E's left-open): a severe injury on an antibiotic for an infection: "switch" ----


def test_severe_injury_on_an_antibiotic_for_a_pneumonia_says_switch(client: FlaskClient) -> None:
    coamox = med("Co-amoxiclav 625 mg three times daily", "2026-11-20")
    results = [LABS.alp(320), LABS.ggt(380), LABS.alt(70), LABS.bilirubin(2.8)]
    [card] = cards(
        client,
        results,
        pt=patient("male", "1978-08-08"),
        labs=[*results, LABS.inr(1.7)],
        conditions=[since("J18.9", "2026-11-20")],
        medications=[coamox],
    )
    assert fired([card]) == [JAUNDICE]
    assert card["summary"].endswith(
        "INR 1.7 on Co-amoxiclav: severe drug injury; switch it, hepatology today"
    )
    assert len(card["summary"]) <= 126
    assert "Switch Co-amoxiclav today" in card["detail"]
    assert "Stop Co-amoxiclav" not in card["detail"]


def test_severe_injury_on_a_drug_without_an_infection_still_says_stop(
    client: FlaskClient,
) -> None:
    # Neighbour: the same without a recorded infection keeps "stop it".
    coamox = med("Co-amoxiclav 625 mg three times daily", "2026-11-20")
    results = [LABS.alp(320), LABS.ggt(380), LABS.alt(70), LABS.bilirubin(2.8)]
    [card] = cards(
        client,
        results,
        pt=patient("male", "1978-08-08"),
        labs=[*results, LABS.inr(1.7)],
        medications=[coamox],
    )
    assert card["summary"].endswith("severe drug injury; stop it, hepatology today")
