"""Twentieth round, part A (2026-12-02): the nineteenth round's open items on the liver, biliary,
pregnancy and drug rules (docs/rulebook.md, "Twentieth round (2026-12-02), part A"), each
patient built from the reviewer's facts, with the neighbour that must not change beside it."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.rules_helper import card_for, cards, fired, suggested
from tests.support.fhir import condition, medication, patient, procedure
from tests.support.labs import Labs, day, drug, post, since, worded, words
from tests.test_nineteenth_round_k import temperature

NOW = "2026-12-02T07:30:00Z"
LABS = Labs(NOW)
vital = temperature  # a body temperature, as part K built it (the same NOW)
LIVER = "alp-high-liver-source"


# --- Item 2 (R28-22): a jaundiced drug injury is a warning that names the bilirubin ------------

JAUNDICE = "alp-high-drug-jaundice"
FLUCLOX = medication(text="Flucloxacillin 500 mg four times daily", status="completed")
FLUCLOX["authoredOn"] = "2026-11-10"
SEPTEMBER_ALP = LABS.alp(90, when="2026-09-01T08:00:00Z")
MAN_60 = patient("male", "1966-09-09")


def test_jaundiced_drug_injury_is_a_warning_with_the_bilirubin_and_inr(
    client: FlaskClient,
) -> None:
    results = [LABS.alp(420), LABS.ggt(500), LABS.alt(150), LABS.bilirubin(3.5)]
    [card] = cards(
        client, results, pt=MAN_60, labs=[*results, SEPTEMBER_ALP], medications=[FLUCLOX]
    )
    assert fired([card]) == [JAUNDICE]
    assert card["indicator"] == "warning"
    summary = card["summary"]
    assert summary == (
        "ALP 420 U/L (4.0x), bilirubin 3.5 mg/dL after Flucloxacillin: jaundiced drug injury; "
        "INR now, ultrasound today"
    )
    detail = card["detail"]
    assert "hepatology if the INR reaches 1.5 or the bilirubin keeps rising" in detail
    assert "liver tests within 48-72 h, then weekly" in detail
    assert "recheck liver tests in 2-4 weeks" not in detail
    assert "AMA for PBC only if it does not settle" in detail
    assert words(card) < 115


def test_jaundiced_drug_injury_shows_the_bilirubin_in_the_labs_unit(client: FlaskClient) -> None:
    results = [LABS.alp(420), LABS.ggt(500), LABS.alt(150), LABS.bilirubin_umol(60)]
    [card] = cards(
        client, results, pt=MAN_60, labs=[*results, SEPTEMBER_ALP], medications=[FLUCLOX]
    )
    assert "bilirubin 60 umol/L after Flucloxacillin" in card["summary"]


def test_jaundice_with_an_inr_of_one_and_a_half_is_severe_hepatology_today(
    client: FlaskClient,
) -> None:
    results = [LABS.alp(420), LABS.ggt(500), LABS.alt(150), LABS.bilirubin(3.5)]
    inr = LABS.lab("6301-6", 1.7, "{INR}", 0.8, 1.2)
    [card] = cards(
        client, results, pt=MAN_60, labs=[*results, inr, SEPTEMBER_ALP], medications=[FLUCLOX]
    )
    assert card["indicator"] == "warning"
    assert "INR 1.7 after Flucloxacillin: severe drug injury; hepatology today" in card["summary"]
    assert len(card["summary"]) <= 126
    assert "INR 1.7 with jaundice: hepatology today" in card["detail"]
    assert "INR now" not in card["detail"]


def test_jaundiced_drug_injury_with_a_fever_keeps_the_cholangitis_lines_and_the_drug(
    client: FlaskClient,
) -> None:
    results = [LABS.alp(420), LABS.ggt(500), LABS.alt(150), LABS.bilirubin(3.5)]
    [card] = cards(
        client,
        results,
        pt=MAN_60,
        labs=[*results, SEPTEMBER_ALP, vital(38.6)],
        medications=[FLUCLOX],
    )
    # Twenty-first round, part J (review 35, R35-56): a fever with this jaundice is suspected
    # cholangitis as a warning in place of the info liver card; the drug line rides on it.
    assert fired([card]) == ["alp-high-fever-jaundice"]
    assert card["indicator"] == "warning"
    assert "fever after Flucloxacillin: cholangitis until excluded" in card["summary"]
    # Twentieth round, part E: the line now also shows under cards other than the liver card
    # (a pregnancy or known-disease card), so it names "this card's cause" beside cholangitis
    # and sepsis; it was "if cholangitis (or sepsis) does not explain it".
    assert (
        "a jaundiced drug injury unless cholangitis, sepsis or this card's cause explains it"
        in card["detail"]
    )
    assert "INR now" in card["detail"]


# --- Item 3 (R28-18): Charcot's triad, graded by Tokyo 2018 ------------------------------------

CHOLANGITIS = "alp-high-suspected-cholangitis"
CHARCOT = [LABS.alp(320), LABS.ggt(400), LABS.alt(180), LABS.bilirubin(4.2)]
RUQ = worded("Right upper quadrant pain, rigors", "2026-12-01")
MAN_72 = patient("male", "1954-04-04")
DRAINAGE_BY_SEVERITY = "Drainage (ERCP) by severity"


def test_charcot_grade_two_asks_for_early_drainage(client: FlaskClient) -> None:
    # R28-18: 39.2 C and WBC 16 are two grade II items.
    infection = [vital(39.2), LABS.wbc(16), LABS.crp(180)]
    [card] = cards(client, CHARCOT, pt=MAN_72, labs=CHARCOT + infection, conditions=[RUQ])
    assert fired([card]) == [CHOLANGITIS]
    assert card["indicator"] == "warning"
    assert "bilirubin 4.2 mg/dL" in card["summary"]
    assert "IV antibiotics" in card["summary"]
    detail = card["detail"]
    assert "Tokyo 2018 grade II (moderate)" in detail
    assert "early biliary drainage (ERCP) with the antibiotics" in detail
    assert DRAINAGE_BY_SEVERITY not in detail
    assert words(card) <= 117  # no longer than before (117 words)


def test_charcot_white_count_in_thousands_per_microlitre_counts(client: FlaskClient) -> None:
    infection = [vital(39.2), LABS.lab("6690-2", 16, "10*3/uL", 4, 11), LABS.crp(180)]
    [card] = cards(client, CHARCOT, pt=MAN_72, labs=CHARCOT + infection, conditions=[RUQ])
    assert "Tokyo 2018 grade II (moderate)" in card["detail"]


def test_charcot_grade_three_with_low_platelets(client: FlaskClient) -> None:
    infection = [vital(39.2), LABS.wbc(16), LABS.lab("777-3", 70, "10*9/L", 150, 400)]
    [card] = cards(client, CHARCOT, pt=MAN_72, labs=CHARCOT + infection, conditions=[RUQ])
    assert "Tokyo 2018 grade III" in card["detail"]
    assert "urgent biliary drainage (ERCP) once stable" in card["detail"]
    assert "grade II (moderate)" not in card["detail"]


def test_charcot_grade_one_keeps_the_drainage_by_severity_line(client: FlaskClient) -> None:
    # Neighbour: 38.4 C, WBC 11.5, aged 60, bilirubin 4.2: no grade II item pair.
    infection = [vital(38.4), LABS.wbc(11.5), LABS.crp(90)]
    [card] = cards(
        client,
        CHARCOT,
        pt=patient("male", "1966-04-04"),
        labs=CHARCOT + infection,
        conditions=[RUQ],
    )
    assert fired([card]) == [CHOLANGITIS]
    assert DRAINAGE_BY_SEVERITY in card["detail"]
    assert "grade II" not in card["detail"]


def test_known_gallstones_cholangitis_is_graded_too(client: FlaskClient) -> None:
    # Age 80 and a bilirubin of 5.5 mg/dL: grade II without a white count.
    results = [LABS.alp(320), LABS.ggt(400), LABS.alt(180), LABS.bilirubin(5.5)]
    found = cards(
        client,
        results,
        pt=patient("female", "1946-01-01"),
        labs=[*results, vital(38.3)],
        conditions=[worded("Gallstones", "2020-01-01")],
    )
    card = card_for(found, CHOLANGITIS)
    assert "Tokyo 2018 grade II (moderate)" in card["detail"]


# --- Item 1 (part G's open item): an extreme ALP in pregnancy with no GGT, one card -------------

EXTREME = "alp-extreme"
GGT_LOINC = "2324-2"
ISOENZYMES_LOINC = "24332-9"
NO_GGT = [LABS.alp(1450), LABS.alt(15), LABS.bilirubin(0.5)]
AT_30_WEEKS = [since("Z33.1", "2026-05-01"), since("Z3A.30", "2026-12-01")]


def test_an_extreme_alp_at_30_weeks_with_no_ggt_is_one_card_asking_for_it(
    client: FlaskClient,
) -> None:
    found = post(client, "female", "1988-08-08", NO_GGT, [], AT_30_WEEKS)
    assert fired(found) == [EXTREME]
    [card] = found
    assert card["summary"].startswith("ALP 1450 U/L (13.9x) in pregnancy, no GGT: likely placental")
    assert len(card["summary"]) <= 126
    assert "No GGT: order it now" in card["detail"]
    assert "Urgent liver ultrasound." not in card["detail"]
    assert suggested(card) == [GGT_LOINC, ISOENZYMES_LOINC]
    assert words(card) < 110


def test_an_extreme_alp_with_no_ggt_outside_pregnancy_keeps_both_cards(
    client: FlaskClient,
) -> None:
    # Neighbour: not pregnant, the extreme card assesses for obstruction and the GGT card asks.
    found = post(client, "female", "1950-08-08", NO_GGT)
    assert fired(found) == [EXTREME, "alp-high-confirm-origin"]
    assert "Urgent liver ultrasound." in card_for(found, EXTREME)["detail"]


def test_a_first_trimester_extreme_alp_with_no_ggt_keeps_the_ggt_card(
    client: FlaskClient,
) -> None:
    # Neighbour: at 10 weeks the placenta does not explain it; unchanged.
    conditions = [since("Z33.1", "2026-09-20"), since("Z3A.10", "2026-12-01")]
    found = post(client, "female", "1988-08-08", NO_GGT, [], conditions)
    assert "alp-high-confirm-origin" in fired(found)
    assert "likely placental" not in card_for(found, EXTREME)["summary"]


# --- Item 4: "unable to exclude liver metastases" is a question for imaging, not known disease --

LIVER_ALP = [LABS.alp(260), LABS.ggt(200), LABS.alt(30), LABS.bilirubin(0.6)]
MRI = "MRI of the liver"


def test_unable_to_exclude_liver_metastases_asks_for_the_mri(client: FlaskClient) -> None:
    found = post(
        client,
        "female",
        "1958-08-08",
        LIVER_ALP,
        [],
        [worded("Unable to exclude liver metastases", "2026-11-20"), since("C18.9", "2026-06-01")],
    )
    assert fired(found) == [LIVER]
    [card] = found
    assert (
        "liver metastases not excluded on imaging: MRI of the liver settles it" in card["summary"]
    )
    assert "known" not in card["summary"]
    detail = card["detail"]
    assert MRI in detail
    assert "anti-mitochondrial antibodies" not in detail
    assert "ultrasound first" not in detail
    assert "cross-sectional imaging (CT)" not in detail


def test_an_indeterminate_lesion_in_a_radiology_line_is_read_the_same(client: FlaskClient) -> None:
    text = "CT abdomen: indeterminate liver lesion, unable to exclude liver metastases"
    found = post(client, "female", "1958-08-08", LIVER_ALP, [], [worded(text, "2026-11-20")])
    assert fired(found) == [LIVER]
    assert MRI in found[0]["detail"]


def test_known_liver_metastases_stay_the_known_disease_card(client: FlaskClient) -> None:
    # Neighbour: metastases stated are the treating team's (unchanged).
    found = post(
        client, "female", "1958-08-08", LIVER_ALP, [], [worded("Liver metastases", "2026-11-20")]
    )
    assert fired(found) == ["alp-high-liver-known"]


def test_liver_metastases_excluded_are_not_an_open_question(client: FlaskClient) -> None:
    # Neighbour (part J, R27-14): excluded on CT two weeks ago: ultrasound, then AMA.
    found = post(
        client,
        "female",
        "1958-08-08",
        LIVER_ALP,
        [],
        [worded("Liver metastases excluded on CT", "2026-11-18"), since("C18.9", "2026-06-01")],
    )
    assert fired(found) == [LIVER]
    assert MRI not in found[0]["detail"]
    assert "ultrasound first" in found[0]["detail"]


# --- Item 7 (review 26, R26-06): the ICP card grades the bile acids it shows -------------------

ICP = "alp-high-pregnancy-icp"
AT_34_WEEKS_ITCHING = [
    since("Z33.1", "2026-05-01"),
    since("Z3A.34", "2026-12-01"),
    since("L29.9", "2026-11-25"),
]


def icp_card(client: FlaskClient, bile_acids: float) -> dict[str, Any]:
    results = [LABS.alp(260), LABS.ggt(20), LABS.alt(30), LABS.bilirubin(0.6)]
    results.append(LABS.bile_acids(bile_acids))
    found = post(client, "female", "1992-08-08", results, [], AT_34_WEEKS_ITCHING)
    assert fired(found) == [ICP]
    return found[0]


def test_bile_acids_of_25_are_graded_mild(client: FlaskClient) -> None:
    detail = icp_card(client, 25)["detail"]
    assert "Bile acids 25 umol/L: mild (19-39 micromol/L" in detail
    assert "Grade it by the bile acids already done" not in detail


def test_bile_acids_of_60_are_graded_moderate(client: FlaskClient) -> None:
    detail = icp_card(client, 60)["detail"]
    assert "Bile acids 60 umol/L: moderate (40-99 micromol/L)" in detail


def test_bile_acids_of_110_stay_the_severe_card(client: FlaskClient) -> None:
    # Neighbour R26-07: 100 or more is the severe warning, unchanged.
    results = [LABS.alp(260), LABS.ggt(20), LABS.alt(30), LABS.bilirubin(0.6)]
    results.append(LABS.bile_acids(110))
    found = post(client, "female", "1992-08-08", results, [], AT_34_WEEKS_ITCHING)
    assert fired(found) == ["alp-high-pregnancy-icp-severe"]


# --- Item 5 (review 25, R25-40): an active melanoma is not "a history of cancer" ---------------

CHECKPOINT = [
    drug("Pembrolizumab 200 mg IV every 3 weeks", "2026-08-05"),
    drug("Ipilimumab 1 mg/kg IV every 6 weeks", "2026-08-05"),
]
ICI_RESULTS = [LABS.alp(520), LABS.ggt(610), LABS.alt(110), LABS.bilirubin(1.0)]


def test_an_active_melanoma_is_named_as_an_active_cancer(client: FlaskClient) -> None:
    found = post(
        client,
        "male",
        "1963-03-03",
        ICI_RESULTS,
        [LABS.alp(90, when=day("2026-08-01"))],
        [since("C43.9", "2026-06-01")],
        CHECKPOINT,
    )
    assert fired(found) == ["alp-high-checkpoint-inhibitor"]
    assert "In the record: an active cancer." in found[0]["detail"]
    assert "a history of cancer" not in found[0]["detail"]


def test_a_resolved_cancer_code_is_still_a_history(client: FlaskClient) -> None:
    # Neighbour: a melanoma filed resolved (adjuvant treatment after excision) is a treated one.
    found = post(
        client,
        "male",
        "1963-03-03",
        ICI_RESULTS,
        [LABS.alp(90, when=day("2026-08-01"))],
        [condition("C43.9", status="resolved")],
        CHECKPOINT,
    )
    assert "a history of cancer" in found[0]["detail"]


# --- Item 7 (review 24, smaller points): the bilirubin's value; heart failure past 2x; PBC named --


def test_a_raised_bilirubin_is_shown_as_sent_on_the_liver_card(client: FlaskClient) -> None:
    # R24-18: gallstones, bilirubin 2.4 mg/dL; the bilirubin line named no value.
    results = [LABS.alp(250), LABS.ggt(150), LABS.alt(30), LABS.bilirubin(2.4)]
    found = post(client, "male", "1950-08-08", results, [], [since("K80.20", "2020-01-01")])
    assert fired(found) == [LIVER]
    assert "GGT 150 U/L is raised; bilirubin 2.4 mg/dL." in found[0]["detail"]


def test_heart_failure_past_twice_the_limit_is_named_beside_the_ultrasound(
    client: FlaskClient,
) -> None:
    # R24-14: heart failure, ALP 2.1x, bilirubin normal.
    results = [LABS.alp(218), LABS.ggt(150), LABS.alt(30), LABS.bilirubin(0.8)]
    found = post(client, "male", "1950-08-08", results, [], [since("I50.9", "2020-01-01")])
    detail = found[0]["detail"]
    assert "congestion rarely raises ALP past 2x" in detail
    assert "Right upper quadrant ultrasound first" in detail


def test_heart_failure_under_twice_the_limit_keeps_the_congestion_card(
    client: FlaskClient,
) -> None:
    # Neighbour R24-13: 1.9x, congestion likely; no new line.
    results = [LABS.alp(198), LABS.ggt(150), LABS.alt(30), LABS.bilirubin(0.8)]
    found = post(client, "male", "1950-08-08", results, [], [since("I50.9", "2020-01-01")])
    assert "congestion likely" in found[0]["summary"]
    assert "congestion rarely raises ALP" not in found[0]["detail"]


def test_a_coded_pbc_is_named_on_the_record_line(client: FlaskClient) -> None:
    results = [LABS.alp(250), LABS.ggt(150), LABS.alt(30), LABS.bilirubin(2.4)]
    found = post(client, "male", "1950-08-08", results, [], [since("K74.3", "2020-01-01")])
    assert "In the record: primary biliary cholangitis." in found[0]["detail"]


def test_gallstone_cholangitis_summary_fits(client: FlaskClient) -> None:
    # R24-22: gallstones, fever, WBC, CRP and bilirubin 2.4: the summary was 127 characters.
    results = [LABS.alp(320), LABS.ggt(200), LABS.alt(60), LABS.bilirubin(2.4)]
    found = post(
        client,
        "female",
        "1960-02-02",
        results,
        [vital(38.6), LABS.wbc(14), LABS.crp(120)],
        [since("K80.20", "2020-01-01")],
    )
    card = card_for(found, CHOLANGITIS)
    assert "acute cholangitis until excluded" in card["summary"]
    assert len(card["summary"]) <= 126


def test_jaundiced_drug_injury_in_sepsis_keeps_the_sepsis_card_and_the_drug_line(
    client: FlaskClient,
) -> None:
    # Neighbour: sepsis recorded, flucloxacillin taken now: the cholestasis of sepsis leads.
    taken = medication(text="Flucloxacillin 1 g four times daily IV")
    taken["authoredOn"] = "2026-11-28"
    results = [LABS.alp(420), LABS.ggt(500), LABS.alt(150), LABS.bilirubin(3.5)]
    found = post(
        client,
        "male",
        "1966-09-09",
        results,
        [SEPTEMBER_ALP],
        [since("A41.9", "2026-11-28")],
        [taken],
    )
    assert JAUNDICE not in fired(found)
    card = card_for(found, LIVER)
    assert "sepsis" in card["summary"]
    # Twentieth round, part E: the line now also shows under cards other than the liver card
    # (a pregnancy or known-disease card), so it names "this card's cause" beside cholangitis
    # and sepsis; it was "if cholangitis (or sepsis) does not explain it".
    assert (
        "a jaundiced drug injury unless cholangitis, sepsis or this card's cause explains it"
        in card["detail"]
    )
    assert "INR now" in card["detail"]


# --- Item 3's neighbour: cholangitis after a drainage is graded the same way --------------------

DRAINAGE_CHOLANGITIS = "alp-drainage-cholangitis"
AFTER_ERCP = [LABS.alp(340), LABS.ggt(300), LABS.bilirubin(4.1)]


def after_ercp(client: FlaskClient, signs: list[dict[str, Any]]) -> dict[str, Any]:
    found = cards(
        client,
        AFTER_ERCP,
        pt=patient("female", "1960-03-03"),
        labs=[*AFTER_ERCP, *signs],
        procedures=[procedure("386718000", "2026-11-25")],
    )
    assert fired(found) == [DRAINAGE_CHOLANGITIS]
    return found[0]


def test_cholangitis_after_drainage_grade_two_asks_for_early_re_drainage(
    client: FlaskClient,
) -> None:
    detail = after_ercp(client, [vital(39.2), LABS.wbc(16)])["detail"]
    assert "Tokyo 2018 grade II (moderate): early re-drainage" in detail
    assert "re-drainage if it has failed" not in detail


def test_cholangitis_after_drainage_grade_three_with_low_platelets(client: FlaskClient) -> None:
    platelets = LABS.lab("777-3", 70, "10*9/L", 150, 400)
    detail = after_ercp(client, [vital(38.5), platelets])["detail"]
    assert "Tokyo 2018 grade III" in detail
    assert "urgent re-drainage" in detail


def test_cholangitis_after_drainage_ungraded_keeps_its_line(client: FlaskClient) -> None:
    detail = after_ercp(client, [LABS.crp(145)])["detail"]
    assert "re-drainage if it has failed" in detail
    assert "Tokyo 2018 grade" not in detail
