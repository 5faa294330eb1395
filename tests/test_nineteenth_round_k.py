"""Nineteenth round, part K (2026-12-02): review 28's liver findings (cholangitis, drug injury with
jaundice, infiltration), each patient built from the facts of the reviewer's request
(docs/clinical-reviews/review-28.md; docs/rulebook.md, "Nineteenth round (2026-12-02), part K"),
with the neighbour that must not change beside each fix."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.rules_helper import cards, fired
from tests.support.fhir import condition, medication, patient
from tests.support.labs import Labs, worded, words

NOW = "2026-12-02T07:30:00Z"
CHOLANGITIS = "alp-high-suspected-cholangitis"
LIVER = "alp-high-liver-source"


LABS = Labs(NOW)


def temperature(value: float) -> dict[str, Any]:
    o = LABS.lab("8310-5", value, "Cel", None, None)
    o["category"] = [
        {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                    "code": "vital-signs",
                }
            ]
        }
    ]
    return o


# --- R28-18 (wrong, near unsafe): Charcot's triad with no biliary disease coded --------------

OLD_MAN = patient("male", "1954-04-04")
CHARCOT_RESULTS = [LABS.alp(320), LABS.ggt(400), LABS.alt(180), LABS.bilirubin(4.2)]
INFECTION = [
    temperature(39.2),
    LABS.lab("6690-2", 16, "10*9/L", 4, 11),
    LABS.lab("1988-5", 180, "mg/L", 0, 5),
]


def test_charcot_triad_is_the_cholangitis_warning(client: FlaskClient) -> None:
    [card] = cards(
        client,
        CHARCOT_RESULTS,
        pt=OLD_MAN,
        labs=CHARCOT_RESULTS + INFECTION,
        conditions=[worded("Right upper quadrant pain, rigors", "2026-12-01")],
    )
    assert fired([card]) == [CHOLANGITIS]
    assert card["indicator"] == "warning"
    summary = card["summary"]
    assert summary.startswith("ALP 320 U/L, bilirubin 4.2 mg/dL, fever, RUQ pain")
    assert "cholangitis until excluded" in summary
    assert "IV antibiotics" in summary
    assert "ultrasound today" in summary
    assert len(summary) <= 126
    # Twentieth round, part A: 39.2 C and WBC 16 are Tokyo 2018 grade II (the grade line).
    assert "early biliary drainage (ERCP)" in card["detail"]
    assert words(card) <= 150


def test_fever_and_jaundice_without_biliary_pain_stay_the_liver_card(
    client: FlaskClient,
) -> None:
    # Neighbour (review 16, P16): sepsis with cholestasis and no biliary sign is not cholangitis.
    [card] = cards(
        client,
        CHARCOT_RESULTS,
        pt=OLD_MAN,
        labs=CHARCOT_RESULTS + INFECTION,
        conditions=[worded("Rigors", "2026-12-01")],
    )
    # Twenty-first round, part J (review 35, R35-56): not Charcot's triad (no biliary pain), but
    # a fever with this jaundice is suspected cholangitis (Tokyo 2018 A with B) as a warning in
    # place of the info liver card (a fever line inside an info card was a warning hidden).
    assert fired([card]) == ["alp-high-fever-jaundice"]
    assert "suspected cholangitis" in card["summary"]
    assert "RUQ pain" not in card["summary"]


def test_charcot_needs_jaundice_not_a_bilirubin_just_over_range(client: FlaskClient) -> None:
    results = [LABS.alp(320), LABS.ggt(400), LABS.alt(180), LABS.bilirubin(1.5)]
    found = cards(
        client,
        results,
        pt=OLD_MAN,
        labs=results + INFECTION,
        conditions=[worded("Right upper quadrant pain, rigors", "2026-12-01")],
    )
    assert CHOLANGITIS not in fired(found)


# --- R28-22 (wrong): jaundiced cholestatic drug injury after flucloxacillin ------------------

FLUCLOX = medication(text="Flucloxacillin 500 mg four times daily", status="completed")
FLUCLOX["authoredOn"] = "2026-11-10"
SEPTEMBER_ALP = LABS.alp(90, when="2026-09-01T08:00:00Z")


def test_jaundiced_drug_injury_gets_inr_and_close_monitoring(client: FlaskClient) -> None:
    results = [LABS.alp(420), LABS.ggt(500), LABS.alt(150), LABS.bilirubin(3.5)]
    [card] = cards(
        client,
        results,
        pt=patient("male", "1966-09-09"),
        labs=[*results, SEPTEMBER_ALP],
        medications=[FLUCLOX],
    )
    # Twentieth round, part A: a warning card in place of the liver card (its own summary).
    assert fired([card]) == ["alp-high-drug-jaundice"]
    assert "bilirubin 3.5 mg/dL after Flucloxacillin: jaundiced drug injury" in card["summary"]
    detail = card["detail"]
    assert "INR now; liver tests within 48-72 h, then weekly" in detail
    assert "hepatology if the INR reaches 1.5 or the bilirubin keeps rising" in detail
    assert "recheck liver tests in 2-4 weeks" not in detail
    assert "anti-mitochondrial antibodies" not in detail
    assert "Ultrasound today" in detail
    assert words(card) <= 110


def test_non_jaundiced_drug_injury_keeps_the_recheck(client: FlaskClient) -> None:
    # Neighbour R28-21 (correct): co-amoxiclav, ALP 2.5x, bilirubin normal.
    coamox = medication(text="Co-amoxiclav 625 mg three times daily", status="completed")
    coamox["authoredOn"] = "2026-11-05"
    results = [LABS.alp(260), LABS.ggt(300), LABS.alt(90), LABS.bilirubin(1.0)]
    [card] = cards(
        client,
        results,
        pt=patient("female", "1971-08-08"),
        labs=[*results, LABS.alp(80, when="2026-10-01T08:00:00Z")],
        medications=[coamox],
    )
    # Twentieth round, part A: without a jaundice it stays the info liver card, not the
    # jaundiced drug-injury warning (this was a second copy of the patient in part A's file).
    assert fired([card]) == [LIVER]
    assert card["indicator"] == "info"
    assert "recheck liver tests in 2-4 weeks" in card["detail"]
    assert "jaundiced drug injury" not in card["detail"]
    assert "anti-mitochondrial antibodies" in card["detail"]


# --- R28-20 (noisy): weight loss with an infiltrative ALP and a normal bilirubin ----------------

INFILTRATION = "alp-high-infiltration-weight-loss"


def test_weight_loss_with_an_infiltrative_alp_gets_urgent_ct(client: FlaskClient) -> None:
    results = [LABS.alp(460), LABS.ggt(350), LABS.alt(40), LABS.bilirubin(0.9)]
    [card] = cards(
        client,
        results,
        pt=patient("male", "1968-07-07"),
        labs=[*results, LABS.lab("1751-7", 32, "g/L", 35, 50)],
        conditions=[worded("Unintentional weight loss", "2026-10-01")],
    )
    assert fired([card]) == [INFILTRATION]
    assert card["indicator"] == "warning"
    assert "infiltration (metastases, lymphoma) until excluded; urgent CT" in card["summary"]
    assert len(card["summary"]) <= 126
    steps = card["detail"]
    assert "Urgent CT chest, abdomen and pelvis" in steps
    assert steps.index("Urgent CT") < steps.index("AMA for PBC")
    assert "Right upper quadrant ultrasound first" not in steps


def test_an_infiltrative_alp_without_weight_loss_stays_the_liver_card(
    client: FlaskClient,
) -> None:
    results = [LABS.alp(460), LABS.ggt(350), LABS.alt(40), LABS.bilirubin(0.9)]
    [card] = cards(client, results, pt=patient("male", "1968-07-07"), labs=results)
    assert fired([card]) == [LIVER]
    assert "can be infiltration" in card["detail"]


def test_jaundice_with_weight_loss_stays_the_obstruction_warning(client: FlaskClient) -> None:
    # Neighbour R28-19 (correct).
    results = [LABS.alp(520), LABS.ggt(800), LABS.alt(120), LABS.bilirubin(9)]
    [card] = cards(
        client,
        results,
        pt=patient("female", "1958-06-06"),
        labs=results,
        conditions=[worded("Painless jaundice, weight loss 6 kg", "2026-11-25")],
    )
    assert fired([card]) == ["alp-high-jaundice-weight-loss"]


# --- R28-14 (noisy, minor): confirmed hepatitis A with a low ALP -------------------------------

LOW_FIRST = "alp-low-first"


def test_hepatitis_a_names_the_cause_and_holds_the_ceruloplasmin(client: FlaskClient) -> None:
    results = [LABS.alp(30), LABS.alt(1800), LABS.ast(1300), LABS.bilirubin(4.5)]
    [card] = cards(
        client,
        results,
        pt=patient("female", "2002-02-20"),
        labs=[
            *results,
            LABS.lab("718-7", 13.0, "g/dL", 12, 15.5),
            LABS.lab("6301-6", 1.3, "{INR}", 0.8, 1.2),
        ],
        conditions=[condition("B15.9", onset="2026-11-28")],
    )
    assert fired([card]) == [LOW_FIRST]
    assert (
        card["summary"]
        == "Low ALP 30 U/L in acute hepatitis A: repeat in a serum tube after recovery"
    )
    assert "ceruloplasmin now" not in card["detail"].lower()
    assert "Ceruloplasmin only if haemolysis appears" in card["detail"]
    labels = [s["label"] for s in card.get("suggestions", [])]
    assert not any("ceruloplasmin" in label.lower() for label in labels)


def test_unexplained_raised_alt_keeps_ceruloplasmin_now(client: FlaskClient) -> None:
    # Neighbour (review 19, R19-36): no recorded cause.
    results = [LABS.alp(30), LABS.alt(1800), LABS.ast(1300), LABS.bilirubin(4.5)]
    [card] = cards(client, results, pt=patient("female", "2002-02-20"), labs=results)
    assert "ceruloplasmin now (Wilson disease)" in card["summary"]


# --- R28-02 (noisy): known fatty liver, mild liver-source rise -----------------------------------


def test_fatty_liver_is_named_with_a_fibrosis_score_not_a_new_work_up(
    client: FlaskClient,
) -> None:
    results = [LABS.alp(150), LABS.ggt(120), LABS.alt(68), LABS.ast(45)]
    [card] = cards(
        client,
        results,
        pt=patient("male", "1972-03-03"),
        labs=results,
        conditions=[condition("K76.0", onset="2024-01-01"), condition("E11.9", onset="2020-01-01")],
        medications=[medication(text="Metformin 1 g twice daily")],
    )
    assert fired([card]) == [LIVER]
    assert "with fatty liver on record: can be MASLD; FIB-4; AMA if it persists" in card["summary"]
    detail = card["detail"]
    assert "FIB-4 for fibrosis" in detail
    assert "Right upper quadrant ultrasound first" not in detail
    assert "Ducts not dilated: anti-mitochondrial" not in detail
    assert "In the record: fatty liver disease." in detail


def test_fatty_liver_with_a_raised_bilirubin_keeps_the_ultrasound(client: FlaskClient) -> None:
    results = [LABS.alp(150), LABS.ggt(120), LABS.alt(68), LABS.bilirubin(3.0)]
    [card] = cards(
        client,
        results,
        pt=patient("male", "1972-03-03"),
        labs=results,
        conditions=[condition("K76.0", onset="2024-01-01")],
    )
    assert "MASLD" not in card["summary"]
    assert "ultrasound today" in card["detail"]


def test_fatty_liver_with_a_higher_alp_is_worked_up(client: FlaskClient) -> None:
    results = [LABS.alp(260), LABS.ggt(120), LABS.alt(68)]
    [card] = cards(
        client,
        results,
        pt=patient("male", "1972-03-03"),
        labs=results,
        conditions=[condition("K76.0", onset="2024-01-01")],
    )
    assert "MASLD" not in card["summary"]
    assert "anti-mitochondrial antibodies" in card["detail"]
