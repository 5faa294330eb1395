"""Nineteenth round, part C (2026-12-02): review 22's patients, each built from the facts of its
request (docs/clinical-reviews/review-22.md; docs/rulebook.md, "Nineteenth round (2026-12-02),
part C (review 22)"), with the neighbour that must not change beside each fix."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.rules_helper import card_for, cards, fired, suggested
from tests.support.fhir import alp, condition, ggt, medication, observation, patient
from tests.support.labs import Labs

NOW = "2026-12-02T07:00:00Z"
PREGNANCY_LIVER = "alp-high-pregnancy-liver"
PLACENTAL = "alp-high-pregnancy"
CALCIUM_URGENT = "alp-calcium-urgent"
EXTREME = "alp-extreme"
PRELIMINARY = "Preliminary result: confirm on the final report."


LABS = Labs(NOW)


def today_ggt(value: float) -> dict[str, Any]:
    return ggt(value, when=NOW)


def detail_words(card: dict[str, Any]) -> int:
    return len(card["detail"].split())


# --- R22-10 (wrong): 24 weeks, cholestatic with a raised GGT and bilirubin, no ultrasound -------

WEEKS_24 = [condition("Z3A.24", onset="2026-11-25")]
MOTHER = patient("female", "1992-01-01")


def test_pregnant_with_a_raised_ggt_and_bilirubin_is_sent_for_an_ultrasound(
    client: FlaskClient,
) -> None:
    # R22-10: ALP 480 (4.6x), GGT 210 (5.8x), ALT 60, bilirubin 2.1 mg/dL: the card never asked
    # for imaging although gallstones and duct obstruction are common in pregnancy.
    results = [LABS.alp(480), today_ggt(210), LABS.alt(60), LABS.bilirubin(2.1)]
    [card] = cards(client, results, pt=MOTHER, conditions=WEEKS_24)
    assert fired([card]) == [PREGNANCY_LIVER]
    assert "ultrasound for duct stones" in card["summary"]
    assert "same-day obstetric review" in card["summary"]
    assert len(card["summary"]) <= 126
    assert "Right upper quadrant ultrasound today (safe in pregnancy)" in card["detail"]
    assert "raised GGT makes cholestasis of pregnancy alone less likely" in card["detail"]
    assert "Serum bile acids" in card["detail"]  # beside, not instead of, the ICP work-up
    assert detail_words(card) <= 100


def test_a_raised_bilirubin_with_a_normal_ggt_leads_with_the_bile_acids_not_an_ultrasound(
    client: FlaskClient,
) -> None:
    # Twenty-second round, part C (review 38, finding 7, R38-02): this neighbour once asked for
    # the duct-stone ultrasound on the placental ALP's "cholestatic" pattern. A normal GGT with
    # the ALT raised is not the liver's cholestasis (a duct stone raises the GGT); it is
    # cholestasis of pregnancy's usual picture, and the bile acids are the single test.
    results = [LABS.alp(480), today_ggt(20), LABS.alt(60), LABS.bilirubin(2.1)]
    [card] = cards(client, results, pt=MOTHER, conditions=WEEKS_24)
    assert fired([card]) == [PREGNANCY_LIVER]
    assert "GGT normal: cholestasis of pregnancy? Serum bile acids today" in card["summary"]
    assert "Serum bile acids" in card["detail"]
    assert "ultrasound" not in card["detail"]
    assert "raised GGT" not in card["detail"]


def test_pregnant_with_a_raised_alt_and_no_raised_bilirubin_gets_no_ultrasound(
    client: FlaskClient,
) -> None:
    # The neighbour: a raised ALT with a normal bilirubin keeps the obstetric card without
    # imaging (the yield of ultrasound is low there).
    results = [LABS.alp(260), today_ggt(20), LABS.alt(160), LABS.bilirubin(0.8)]
    [card] = cards(client, results, pt=MOTHER, conditions=WEEKS_24)
    assert fired([card]) == [PREGNANCY_LIVER]
    assert "ultrasound" not in card["summary"] + card["detail"]


# --- R22-08 (noisy): itching coded, the card said "if itching" in 135 characters ---------------

WEEKS_33 = condition("Z3A.33", onset="2026-11-30")
ITCH = condition("L29.9", onset="2026-11-25")


def test_a_coded_itch_with_bile_acids_is_named_cholestasis_of_pregnancy(
    client: FlaskClient,
) -> None:
    results = [LABS.alp(260), today_ggt(20), LABS.alt(160), LABS.bile_acids(48)]
    mother = patient("female", "1990-01-01")
    [card] = cards(client, results, pt=mother, conditions=[WEEKS_33, ITCH])
    assert fired([card]) == [PREGNANCY_LIVER]
    assert card["summary"].startswith("Pregnant, itching, bile acids 48 umol/L: cholestasis")
    assert "if itching" not in card["summary"]
    assert len(card["summary"]) <= 126
    assert "Itching with bile acids 48 umol/L" in card["detail"]
    # Without the itch recorded the card still says "if itching", under the limit too.
    [plain] = cards(client, results, pt=mother, conditions=[WEEKS_33])
    assert "cholestasis of pregnancy if itching" in plain["summary"]
    assert len(plain["summary"]) <= 126


def test_itching_in_words_asks_the_placental_card_for_bile_acids(client: FlaskClient) -> None:
    # The placental card said "no test needed" beside an itch on the problem list.
    words = {**condition("LOCAL", system="urn:oid:1.2.3.4", onset="2026-11-20")}
    words["code"]["text"] = "Itchy palms and soles at night"
    results = [LABS.alp(290), today_ggt(18), LABS.alt(20)]
    weeks = condition("Z3A.34", onset="2026-11-28")
    mother = patient("female", "1993-01-01")
    [card] = cards(client, results, pt=mother, conditions=[weeks, words])
    assert fired([card]) == [PLACENTAL]
    assert "with itching: serum bile acids for cholestasis of pregnancy" in card["summary"]
    assert "no test needed" not in card["summary"]
    # Pruritus ani is not the itch of cholestasis; nor is an itch denied.
    for text in ("Pruritus ani", "No itching"):
        other = {**condition("LOCAL", system="urn:oid:1.2.3.4", onset="2026-11-20")}
        other["code"]["text"] = text
        [quiet] = cards(client, results, pt=mother, conditions=[weeks, other])
        assert "no test needed" in quiet["summary"], text


# --- R22-45 (noisy): a final calcium's card said the ALP's "preliminary" -----------------------


def test_the_calcium_card_does_not_carry_the_alps_preliminary_status(
    client: FlaskClient,
) -> None:
    results = [LABS.alp(1150, status="preliminary"), today_ggt(20), LABS.calcium(3.10)]
    found = cards(client, results, pt=patient("female", "1954-01-01"))
    assert sorted(fired(found)) == sorted([CALCIUM_URGENT, EXTREME])
    assert PRELIMINARY not in card_for(found, CALCIUM_URGENT)["detail"]
    assert PRELIMINARY in card_for(found, EXTREME)["detail"]  # the ALP's own card keeps it


def test_a_preliminary_calcium_says_so_on_its_own_card(client: FlaskClient) -> None:
    results = [LABS.alp(1150), today_ggt(20), LABS.calcium(3.10, status="preliminary")]
    found = cards(client, results, pt=patient("female", "1954-01-01"))
    assert PRELIMINARY in card_for(found, CALCIUM_URGENT)["detail"]
    assert PRELIMINARY not in card_for(found, EXTREME)["detail"]


# --- Ages (R21-02, R22-04): calendar months, weeks in the first three months ------------------


def test_an_infant_born_on_1_february_is_10_months_on_2_december(client: FlaskClient) -> None:
    # R21-02: "Infant 9 months" (304 days / 30.4, rounded down) for a baby of 10 months.
    baby = patient("male", "2026-02-01")
    results = [alp(43, low=122, high=469, when=NOW), LABS.calcium(2.40)]
    [card] = cards(client, results, pt=baby, conditions=[condition("R56.00", onset="2026-11-30")])
    assert card["summary"].startswith("Infant 10 months, low ALP 43 U/L with seizures")


def test_a_six_week_old_is_6_weeks_and_the_atresia_summary_fits(client: FlaskClient) -> None:
    # R22-04: "Infant 1 month ..." in 127 characters.
    baby = patient("female", "2026-10-21")
    results = [
        alp(650, low=150, high=507, when=NOW),
        ggt(320, high=200, when=NOW),
        LABS.bilirubin(6.0),
        LABS.lab("1968-7", 2.4, "mg/dL", 0, 0.3),
    ]
    [card] = cards(client, results, pt=baby)
    assert card["summary"].startswith("Infant 6 weeks, conjugated bilirubin 2.4 mg/dL")
    assert "biliary atresia until excluded; hepatology today" in card["summary"]
    assert len(card["summary"]) <= 126
    assert "ALP 650 U/L" in card["detail"]  # the finding line keeps the ALP


def test_the_preterm_summary_fits(client: FlaskClient) -> None:
    # R22-46: 8 weeks old, born at 27 weeks, ALP 980, phosphate 1.2: 128 characters.
    baby = patient("male", "2026-10-07")
    results = [
        alp(980, low=150, high=507, when=NOW),
        LABS.lab("14879-1", 1.2, "mmol/L", 1.6, 2.5),
        LABS.calcium(2.5),
        ggt(60, high=200, when=NOW),
    ]
    conditions = [condition("P07.32", onset="2026-10-07"), condition("P07.03", onset="2026-10-07")]
    [card] = cards(client, results, pt=baby, conditions=conditions)
    assert "(1.9x limit for age), phosphate low, born preterm" in card["summary"]
    assert len(card["summary"]) <= 126


# --- R22-43, R22-21 (noisy): stability judged over 180 days only -------------------------------


def earlier_alp(value: float, when: str) -> dict[str, Any]:
    return alp(value, when=f"{when}T08:00:00Z")


def test_a_mild_rise_unchanged_from_13_months_ago_is_quiet(client: FlaskClient) -> None:
    # R22-43: 88, ALP 130 (1.25x), GGT normal; 128 thirteen months earlier: "first", so
    # bone-specific ALP was ordered, though the mild-stable quiet needs a year.
    woman = patient("female", "1938-01-01")
    results = [LABS.alp(130), today_ggt(25)]
    assert cards(client, results, pt=woman, labs=[earlier_alp(128, "2025-11-01")]) == []
    # A changed value is not quiet: normal (100) a year ago, or 165 (fallen by more than 20%).
    for before in (100, 165):
        found = cards(client, results, pt=woman, labs=[earlier_alp(before, "2025-11-01")])
        assert found, before
    # Nor is a value older than the fallback window (a first value: repeat it).
    assert cards(client, results, pt=woman, labs=[earlier_alp(128, "2025-06-01")])


def test_treated_pbc_unchanged_from_184_days_ago_is_quiet(client: FlaskClient) -> None:
    # R22-21: PBC on ursodeoxycholic acid for 2 years, ALP 150 (1.44x), GGT 80; 155 at 184 days:
    # a card that asked for nothing. At 154 days it was already silent.
    woman = patient("female", "1956-01-01")
    pbc = [condition("K74.3", onset="2024-06-01")]
    udca = {**medication(text="ursodeoxycholic acid 500 mg bd"), "authoredOn": "2024-07-01"}
    results = [LABS.alp(150), today_ggt(80)]
    quiet = cards(
        client, results, pt=woman, conditions=pbc, medications=[udca],
        labs=[earlier_alp(155, "2026-06-01")],
    )  # fmt: skip
    assert quiet == []
    # Risen from 110 at 184 days (over 20%): the known-liver card.
    risen = cards(
        client, results, pt=woman, conditions=pbc, medications=[udca],
        labs=[earlier_alp(110, "2026-06-01")],
    )  # fmt: skip
    assert risen


# --- R22-31 (noisy): a low magnesium with nothing pointing to EDTA was "not counted" -----------


def test_a_low_magnesium_in_anorexia_with_no_edta_signature_counts(client: FlaskClient) -> None:
    # R22-31: 19, anorexia nervosa (F50.01), ALP 29 (30 three months before), magnesium 0.5 in
    # the same draw, no potassium or calcium measured: "Not counted ... EDTA", 112 words.
    girl = patient("female", "2007-01-01")
    anorexia = [condition("F50.01", onset="2025-01-01")]
    earlier = [earlier_alp(30, "2026-09-01")]
    [card] = cards(
        client, [LABS.alp(29), LABS.magnesium(0.5)], pt=girl, conditions=anorexia, labs=earlier
    )
    # Twentieth round, part B: 0.5 mmol/L is severe (magnesium_severe_mmol_l): the urgent card,
    # which needs the magnesium counted as the patient's, in place of the explained one.
    assert fired([card]) == ["alp-low-electrolyte-urgent"]
    assert "(magnesium 0.5 mmol/L" in card["summary"]
    assert "Not counted" not in card["detail"]
    assert detail_words(card) <= 80
    # A low calcium in that draw with no potassium: review 26 (R26-18) found setting it aside as
    # EDTA wrong when the record explains the magnesium (anorexia nervosa here): true
    # hypomagnesaemia lowers calcium too, so it counts. With nothing recorded it is still EDTA's
    # picture (tests/test_nineteenth_round_i.py, R26-17).
    [beside_calcium] = cards(
        client, [LABS.alp(29), LABS.magnesium(0.5), LABS.calcium(1.80)], pt=girl,
        conditions=anorexia,
        labs=earlier,
    )  # fmt: skip
    assert fired([beside_calcium]) == ["alp-low-electrolyte-urgent"]
    assert "Not counted" not in beside_calcium["detail"]


# --- R22-11 (noisy): prostate cancer with a bone-source ALP was offered bone-specific ALP -------

BONE = "alp-high-bone-source"
PSA = "2857-1"
BONE_ALP = "17838-4"


def test_prostate_cancer_with_a_bone_source_alp_is_offered_psa_not_bone_alp(
    client: FlaskClient,
) -> None:
    # R22-11: 78, prostate cancer (C61), back pain (M54.50), ALP 450 (4.3x), GGT 30, Ca 2.45.
    man = patient("male", "1948-01-01")
    conditions = [condition("C61", onset="2024-01-01"), condition("M54.50", onset="2026-11-01")]
    results = [LABS.alp(450), today_ggt(30), LABS.calcium(2.45)]
    [card] = cards(client, results, pt=man, conditions=conditions)
    assert fired([card]) == [BONE]
    assert suggested(card) == [PSA]
    assert "PSA and a bone scan or PSMA PET" in card["detail"]
    assert "cord compression until excluded (MSCC team, whole-spine MRI now)" in card["detail"]
    # Without back pain, no cord-compression line.
    [calm] = cards(client, results, pt=man, conditions=conditions[:1])
    assert "cord compression" not in calm["detail"]
    assert suggested(calm) == [PSA]
    # A PSA resulted last week is not asked for again.
    psa = observation(PSA, 48, unit="ug/L", ucum="ug/L", high=4, when="2026-11-25T08:00:00Z")
    [done] = cards(client, results, pt=man, conditions=conditions[:1], labs=[psa])
    assert suggested(done) == []


def test_breast_cancer_gets_neither_psa_nor_bone_alp_and_no_cancer_keeps_bone_alp(
    client: FlaskClient,
) -> None:
    woman = patient("female", "1950-01-01")
    results = [LABS.alp(450), today_ggt(30), LABS.calcium(2.45)]
    [card] = cards(client, results, pt=woman, conditions=[condition("C50.911")])
    assert fired([card]) == [BONE]
    assert suggested(card) == []
    [plain] = cards(client, results, pt=woman)
    assert suggested(plain) == [BONE_ALP]
