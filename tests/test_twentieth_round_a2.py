"""Twentieth round, part E (2026-12-02): review 29's remainder on the liver, biliary, pregnancy
and drug rules (docs/rulebook.md, "Twentieth round (2026-12-02), part E"): a jaundiced drug
injury on a drug still taken (R29-37), Hy's law, the drug line when another card leads, the
gallstone-cholangitis summary (R29-46), HELLP's reasoning, and R29-36's liver card. Each patient
is built from the reviewer's facts, with the neighbour that must not change beside it."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.rules_helper import cards, fired
from tests.support.fhir import medication, patient
from tests.support.labs import Labs, post, since, worded, words
from tests.test_twentieth_round_a import vital
from tests.test_twentieth_round_c import HELLP_RESULTS, WEEK_31

NOW = "2026-12-02T07:30:00Z"
LABS = Labs(NOW)
JAUNDICE = "alp-high-drug-jaundice"
MAN_48 = patient("male", "1978-08-08")


def terbinafine(status: str = "active") -> dict[str, Any]:
    m = medication(text="Terbinafine 250 mg daily", status=status)
    m["authoredOn"] = "2026-10-20"
    return m


R29_37 = [LABS.alp(320), LABS.ggt(380), LABS.alt(70), LABS.bilirubin(2.8)]


# --- Item 1 (R29-37): a jaundiced drug injury on a drug still taken ------------------------------


def test_jaundiced_injury_on_a_drug_still_taken_is_the_warning_stop_it_inr_now(
    client: FlaskClient,
) -> None:
    [card] = cards(
        client,
        R29_37,
        pt=MAN_48,
        conditions=[worded("Generalised itch", "2026-11-28")],
        medications=[terbinafine()],
    )
    assert fired([card]) == [JAUNDICE]
    assert card["indicator"] == "warning"
    assert card["summary"] == (
        "ALP 320 U/L (3.1x), bilirubin 2.8 mg/dL on Terbinafine: jaundiced drug injury; "
        "stop it, INR now"
    )
    detail = card["detail"]
    assert "Stop Terbinafine now" in detail
    assert "liver tests within 48-72 h, then weekly" in detail
    assert "within a week" not in detail
    assert "Ultrasound today" in detail
    assert words(card) < 115


def test_the_finished_course_keeps_its_words(client: FlaskClient) -> None:
    # P10: the same patient with the course completed: part A's card, unchanged.
    [card] = cards(
        client,
        R29_37,
        pt=MAN_48,
        conditions=[worded("Generalised itch", "2026-11-28")],
        medications=[terbinafine("completed")],
    )
    assert fired([card]) == [JAUNDICE]
    assert card["summary"] == (
        "ALP 320 U/L (3.1x), bilirubin 2.8 mg/dL after Terbinafine: jaundiced drug injury; "
        "INR now, ultrasound today"
    )
    assert "Stop Terbinafine" not in card["detail"]


def test_a_drug_still_taken_with_an_inr_of_one_and_a_half_is_severe(client: FlaskClient) -> None:
    inr = LABS.lab("6301-6", 1.7, "{INR}", 0.8, 1.2)
    [card] = cards(client, R29_37, pt=MAN_48, labs=[*R29_37, inr], medications=[terbinafine()])
    assert card["summary"].endswith(
        "INR 1.7 on Terbinafine: severe drug injury; stop it, hepatology today"
    )
    assert "Stop Terbinafine now" in card["detail"]


def test_a_drug_still_taken_without_jaundice_keeps_the_info_card(client: FlaskClient) -> None:
    # Neighbour: the same drug, bilirubin normal: the liver card with "stop it now".
    results = [LABS.alp(320), LABS.ggt(380), LABS.alt(70), LABS.bilirubin(0.8)]
    [card] = cards(client, results, pt=MAN_48, medications=[terbinafine()])
    assert fired([card]) == ["alp-high-liver-source"]
    assert card["indicator"] == "info"
    assert "stop it now" in card["detail"]


# --- Item 2: Hy's law (hepatocellular drug injury with jaundice) ---------------------------------

WOMAN_55 = patient("female", "1971-04-04")
HY = [LABS.alp(166), LABS.ggt(120), LABS.alt(480), LABS.bilirubin(3.6)]


def coamoxiclav(status: str) -> dict[str, Any]:
    m = medication(text="Co-amoxiclav 625 mg three times daily", status=status)
    m["authoredOn"] = "2026-10-21"
    return m


def test_hys_law_after_a_drug_is_a_warning_stop_inr_today_hepatology(
    client: FlaskClient,
) -> None:
    [card] = cards(client, HY, pt=WOMAN_55, medications=[coamoxiclav("completed")])
    assert card["indicator"] == "warning"
    summary = card["summary"]
    assert "bilirubin 3.6 mg/dL" in summary
    assert "Hy's law" in summary
    assert "INR today" in summary
    assert "hepatology" in summary
    detail = card["detail"]
    assert "hepatology today" in detail
    assert len(summary) <= 126
    assert words(card) < 120


def test_hys_law_on_a_drug_still_taken_says_stop_it(client: FlaskClient) -> None:
    [card] = cards(client, HY, pt=WOMAN_55, medications=[coamoxiclav("active")])
    assert card["indicator"] == "warning"
    assert "stop it" in card["summary"]
    assert "Stop Co-amoxiclav now" in card["detail"]


def test_hepatocellular_injury_without_jaundice_keeps_the_info_card(client: FlaskClient) -> None:
    # Neighbour: the same ALT and drug, bilirubin normal: the hepatitis card, info.
    results = [LABS.alp(166), LABS.ggt(120), LABS.alt(480), LABS.bilirubin(0.9)]
    [card] = cards(client, results, pt=WOMAN_55, medications=[coamoxiclav("completed")])
    assert fired([card]) == ["alp-high-liver-hepatocellular"]
    assert card["indicator"] == "info"


def test_jaundice_on_an_antibiotic_for_a_pneumonia_is_switched_not_stopped(
    client: FlaskClient,
) -> None:
    # R29-36's shape, jaundiced: co-amoxiclav for a recorded pneumonia.
    coamox = medication(text="Co-amoxiclav 625 mg three times daily")
    coamox["authoredOn"] = "2026-11-20"
    results = [LABS.alp(320), LABS.ggt(380), LABS.alt(70), LABS.bilirubin(2.8)]
    [card] = cards(
        client,
        results,
        pt=MAN_48,
        conditions=[since("J18.9", "2026-11-20")],
        medications=[coamox],
    )
    assert fired([card]) == [JAUNDICE]
    assert "on Co-amoxiclav: jaundiced drug injury; switch it, INR now" in card["summary"]
    detail = card["detail"]
    assert "Switch Co-amoxiclav today" in detail
    assert "Stop Co-amoxiclav" not in detail
    assert "1-2 weeks" not in detail


# --- Item 3: another card hides the liver card; the drug line goes with it -----------------------


def weight_loss_patient(client: FlaskClient, meds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    results = [LABS.alp(420), LABS.ggt(500), LABS.alt(150), LABS.bilirubin(3.5)]
    return cards(
        client,
        results,
        pt=patient("male", "1960-01-01"),
        conditions=[worded("Weight loss 8 kg in 3 months", "2026-11-20")],
        medications=meds,
    )


def test_a_card_that_hides_the_liver_card_carries_the_drug_jaundice_line(
    client: FlaskClient,
) -> None:
    found = weight_loss_patient(client, [terbinafine()])
    assert JAUNDICE not in fired(found)
    assert "alp-high-liver-source" not in fired(found)
    detail = found[0]["detail"]
    assert "Terbinafine" in detail
    assert "stop a drug still taken" in detail
    assert "INR now" in detail
    assert "within a week" not in detail


def test_the_hiding_card_without_a_drug_has_no_drug_line(client: FlaskClient) -> None:
    found = weight_loss_patient(client, [])
    assert "jaundiced drug injury" not in found[0]["detail"]


# --- Item 4 (R29-46): coded gallstones with cholangitis: the bilirubin in the summary -----------


def test_gallstone_cholangitis_summary_names_the_bilirubin_within_126_characters(
    client: FlaskClient,
) -> None:
    results = [LABS.alp(290), LABS.ggt(330), LABS.alt(200), LABS.bilirubin(3.2)]
    found = cards(
        client,
        results,
        pt=patient("male", "1951-01-01"),
        labs=[*results, vital(38.6), LABS.wbc(15)],
        conditions=[since("K80.20", "2024-01-01"), worded("Rigors", "2026-12-01")],
    )
    assert fired(found) == ["alp-high-suspected-cholangitis"]
    summary = found[0]["summary"]
    assert summary == (
        "Biliary disease, infection, bilirubin 3.2 mg/dL: acute cholangitis until excluded; "
        "cultures, antibiotics, ultrasound today"
    )
    assert "ALP 290 U/L on 2 Dec 2026" in found[0]["detail"]
    assert len(summary) <= 126


def test_gallstone_cholangitis_without_jaundice_keeps_its_summary(client: FlaskClient) -> None:
    results = [LABS.alp(290), LABS.ggt(330), LABS.alt(200), LABS.bilirubin(0.9)]
    found = cards(
        client,
        results,
        pt=patient("male", "1951-01-01"),
        labs=[*results, vital(38.6), LABS.wbc(15)],
        conditions=[since("K80.20", "2024-01-01"), worded("Rigors", "2026-12-01")],
    )
    assert "suspected-cholangitis" in found[0]["source"]["topic"]["display"]
    assert found[0]["summary"].startswith(
        "ALP 290 U/L (2.8x), infection, biliary disease: acute cholangitis until excluded"
    )


# --- Item 5 (part C's left-open): HELLP's reasoning; HELLP with a fever after delivery ----------


def test_stated_hellp_is_not_told_to_exclude_hellp(client: FlaskClient) -> None:
    [card] = post(
        client, "female", "1988-03-03", HELLP_RESULTS, [LABS.platelets(70), LABS.ldh(700)], WEEK_31
    )
    assert "HELLP syndrome" in card["summary"]
    assert "exclude pre-eclampsia or HELLP" not in card["detail"]


def test_hellp_with_a_fever_after_delivery_names_both(client: FlaskClient) -> None:
    delivered = [since("O80", "2026-11-29"), since("Z39.2", "2026-11-29")]
    [card] = post(
        client,
        "female",
        "1988-03-03",
        HELLP_RESULTS,
        [LABS.platelets(70), LABS.ldh(700), vital(38.6), LABS.wbc(15)],
        delivered,
    )
    summary = card["summary"]
    assert summary.startswith("3 days after delivery")
    assert "HELLP" in summary
    assert "cholangitis" in summary
    assert "HELLP?" not in summary
    assert len(summary) <= 126
    detail = card["detail"]
    assert "HELLP syndrome by the Tennessee criteria" in detail
    assert "cholangitis or a duct stone until excluded" in detail
    assert words(card) < 150


def test_a_fever_after_delivery_without_hellp_keeps_the_cholangitis_summary(
    client: FlaskClient,
) -> None:
    delivered = [since("O80", "2026-11-29"), since("Z39.2", "2026-11-29")]
    [card] = post(
        client,
        "female",
        "1988-03-03",
        HELLP_RESULTS,
        [LABS.platelets(210), LABS.ldh(300), vital(38.6), LABS.wbc(15)],
        delivered,
    )
    assert "cholangitis? Same-day review" in card["summary"]
    assert "HELLP syndrome by the Tennessee criteria" not in card["detail"]


# --- Item 6 (part C's left-open, R29-36): the liver card's summary and the pneumonia's name -----


def r29_36(client: FlaskClient, conditions: list[dict[str, Any]]) -> dict[str, Any]:
    coamox = medication(text="Co-amoxiclav 625 mg three times daily")
    coamox["authoredOn"] = "2026-11-27"
    results = [LABS.alp(280), LABS.ggt(300), LABS.alt(80), LABS.bilirubin(0.9)]
    [card] = cards(
        client,
        results,
        pt=patient("male", "1956-06-06"),
        labs=[*results, LABS.alp(110, when="2026-10-01T08:00:00Z")],
        conditions=conditions,
        medications=[coamox],
    )
    return card


def test_an_antibiotic_for_a_pneumonia_is_not_headed_the_likely_cause(client: FlaskClient) -> None:
    card = r29_36(client, [since("J18.9", "2026-11-27")])
    assert "likely cause" not in card["summary"]
    assert card["summary"].endswith("liver source; the infection or Co-amoxiclav may explain it")
    assert "On Co-amoxiclav for pneumonia:" in card["detail"]


def test_without_an_infection_recorded_the_drug_stays_the_likely_cause(
    client: FlaskClient,
) -> None:
    card = r29_36(client, [])
    assert card["summary"].endswith("likely cause Co-amoxiclav")
