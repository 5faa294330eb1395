"""Twenty-first round (2026-12-02), part H: review 34's pregnancy and IgG4 findings: acute fatty
liver of pregnancy read as duct stones, hepatitis B after a birth and in a known carrier, an INR
already at 1.8, pre-eclampsia, acute hepatitis C, and IgG4-related disease with a fever
(docs/rulebook.md, "Twenty-first round (2026-12-02), part H"). Each patient is rebuilt from the
reviewer's facts (review 34, R34-34 to R34-45), signed on 2 Dec 2026."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.rules_helper import fired
from tests.support.labs import Labs, day, drug, post, since, worded, words

NOW = "2026-12-02T08:00:00Z"
LABS = Labs(NOW)
PREGNANCY_LIVER = "alp-high-pregnancy-liver"
CHOLANGITIS = "alp-high-suspected-cholangitis"


def glucose(value: float, unit: str = "mmol/L", loinc: str = "2345-7") -> dict[str, Any]:
    return LABS.lab(
        loinc, value, unit, 3.5 if unit == "mmol/L" else 63, 7.8 if unit == "mmol/L" else 140
    )


def pregnant(weeks: int, since_day: str) -> list[dict[str, Any]]:
    return [since("Z33.1", since_day), since(f"Z3A.{weeks}", "2026-12-01")]


def _short(card: dict[str, Any]) -> None:
    assert len(card["summary"]) < 140, card["summary"]
    assert words(card) <= 130, card["detail"]


def _one(found: list[dict[str, Any]], rule: str) -> dict[str, Any]:
    assert fired(found) == [rule]
    [card] = found
    _short(card)
    return card


# --- R34-41 (unsafe): acute fatty liver of pregnancy read as duct stones ------------------------


def _aflp(
    client: FlaskClient, extra: list[dict[str, Any]], weeks: int = 35
) -> list[dict[str, Any]]:
    # 30F, 35 weeks: ALT 350, AST 400, bilirubin 4.0 mg/dL, platelets 120, LDH 450, ALP 450, GGT 60
    labs = [LABS.ggt(60), LABS.ast(400), LABS.alt(350), LABS.bilirubin(4.0), LABS.platelets(120)]
    labs += [LABS.ldh(450), *extra]
    return post(
        client, "female", "1996-01-01", [LABS.alp(450)], labs, pregnant(weeks, "2026-04-01")
    )


@pytest.mark.parametrize(
    "extra",
    [
        [glucose(2.6), LABS.creatinine(180), LABS.inr(1.8)],
        [glucose(2.6)],
        [glucose(47, "mg/dL", "2339-0")],
        [glucose(2.6, loinc="41653-7")],
        [LABS.inr(1.8)],
        [LABS.creatinine(180)],
    ],
    ids=["all-three", "glucose", "glucose-mg-dl-blood", "capillary", "inr", "creatinine"],
)
def test_r34_41_acute_fatty_liver_of_pregnancy_leads_not_duct_stones(
    client: FlaskClient, extra: list[dict[str, Any]]
) -> None:
    card = _one(_aflp(client, extra), PREGNANCY_LIVER)
    assert card["indicator"] == "warning"
    assert "acute fatty liver?" in card["summary"]
    assert "obstetric + liver unit now" in card["summary"]
    detail = card["detail"]
    assert detail.index("- Acute fatty liver of pregnancy until excluded") < detail.index(
        "Platelets"
    )
    # Part K (review 36, R36-10, finding 12): a low glucose is named ("Glucose 2.6: IV glucose
    # now, then 2-hourly"), not asked for; without one the line still asks for it.
    assert "Glucose now and 2-hourly" in detail or ": IV glucose now, then 2-hourly" in detail
    assert "duct stone" not in card["summary"] + detail
    assert "Other causes to exclude: HAV IgM" in detail


def test_r34_41_without_the_swansea_signs_is_not_acute_fatty_liver(client: FlaskClient) -> None:
    # neighbour: glucose 4.5, creatinine 80, INR 1.1: no acute fatty liver line; and the
    # hepatocellular injury (ALT 8.8x, GGT 1.5x) is not called cholestatic by the placental ALP
    card = _one(_aflp(client, [glucose(4.5), LABS.creatinine(80), LABS.inr(1.1)]), PREGNANCY_LIVER)
    assert "fatty liver?" not in card["summary"]
    assert "hepatitis picture" in card["summary"]
    assert "duct stone" not in card["summary"] + card["detail"]


def test_acute_fatty_liver_leads_over_the_hellp_line(client: FlaskClient) -> None:
    # HELLP by its criteria (platelets 70, LDH 800, AST 400) with a glucose of 2.6
    labs = [LABS.ggt(60), LABS.ast(400), LABS.alt(350), LABS.bilirubin(4.0), LABS.platelets(70)]
    labs += [LABS.ldh(800), glucose(2.6)]
    found = post(client, "female", "1996-01-01", [LABS.alp(450)], labs, pregnant(35, "2026-04-01"))
    card = _one(found, PREGNANCY_LIVER)
    assert "acute fatty liver?" in card["summary"]
    detail = card["detail"]
    assert detail.index("Acute fatty liver of pregnancy until excluded") < detail.index(
        "HELLP syndrome by"
    )


def test_acute_fatty_liver_in_the_first_week_after_delivery(client: FlaskClient) -> None:
    labs = [LABS.ggt(60), LABS.ast(400), LABS.alt(350), LABS.bilirubin(4.0), LABS.platelets(160)]
    labs += [LABS.ldh(300), glucose(2.8)]
    found = post(
        client, "female", "1996-01-01", [LABS.alp(300)], labs, [since("O80", "2026-11-29")]
    )
    card = _one(found, PREGNANCY_LIVER)
    # Part K (review 36, R36-14, finding 12): the summary names the birth's date and the values.
    assert card["summary"].startswith("Delivered 29 Nov 2026, glucose 2.8")
    assert "can present after birth" in card["detail"]


def test_placental_alp_does_not_make_a_cholestatic_stone_picture_of_an_alt_rise(
    client: FlaskClient,
) -> None:
    # before the fix: R = 8.75 / 4.3 = 2.0 (cholestatic) on a mostly placental ALP at 35 weeks
    labs = [LABS.ggt(60), LABS.alt(350), LABS.bilirubin(2.0)]
    found = post(client, "female", "1996-01-01", [LABS.alp(450)], labs, pregnant(35, "2026-04-01"))
    card = _one(found, PREGNANCY_LIVER)
    assert "hepatitis picture" in card["summary"]
    assert "ultrasound for duct stones" not in card["summary"]


def test_a_cholestatic_picture_with_a_raised_ggt_keeps_the_ultrasound(client: FlaskClient) -> None:
    # neighbour (R22-10's bloods): ALP 4.6x, GGT 5.8x, ALT 1.5x, bilirubin 2.1 at 24 weeks
    labs = [LABS.ggt(232), LABS.alt(60), LABS.bilirubin(2.1)]
    found = post(client, "female", "1996-01-01", [LABS.alp(480)], labs, pregnant(24, "2026-06-10"))
    card = _one(found, PREGNANCY_LIVER)
    assert "ultrasound for duct stones" in card["summary"]


# --- R34-37 (wrong): acute hepatitis B after a birth: the baby ---------------------------------


@pytest.mark.parametrize(
    ("birth", "wanted_summary", "wanted_line"),
    [
        (
            "O80",
            "Delivered 26 Nov 2026, ALT 22.5x, acute hepatitis B recorded",
            "Baby born 26 Nov 2026: check HBV vaccine + HBIG were given; if not, today",
        ),
        (
            "Z39.2",
            "After a birth, ALT 22.5x, acute hepatitis B recorded",
            "The baby: check HBV vaccine + HBIG were given at birth; if not, today",
        ),
    ],
    ids=["O80-dated", "Z39.2-postnatal"],
)
def test_r34_37_acute_hepatitis_b_after_a_birth_names_the_baby(
    client: FlaskClient, birth: str, wanted_summary: str, wanted_line: str
) -> None:
    labs = [LABS.ggt(80), LABS.alt(900), LABS.bilirubin(2.8)]
    conditions = [since(birth, "2026-11-26"), since("B16.9", "2026-11-20")]
    card = _one(
        post(client, "female", "1995-01-01", [LABS.alp(300)], labs, conditions), PREGNANCY_LIVER
    )
    assert card["indicator"] == "warning"
    assert wanted_summary in card["summary"]
    assert wanted_line in card["detail"]
    assert "Acute hepatitis B recorded: the likely cause" in card["detail"]
    assert "(HBIG by day 7)" in card["detail"]
    assert "within 12 hours" not in card["detail"]


def test_a_postnatal_check_without_a_recorded_hepatitis_keeps_its_old_card(
    client: FlaskClient,
) -> None:
    labs = [LABS.ggt(80), LABS.alt(900), LABS.bilirubin(2.8)]
    found = post(
        client, "female", "1995-01-01", [LABS.alp(300)], labs, [since("Z39.2", "2026-11-26")]
    )
    assert PREGNANCY_LIVER not in fired(found)


# --- R34-39 (wrong): chronic hepatitis B flaring in pregnancy -----------------------------------


def test_r34_39_known_chronic_hepatitis_b_gets_hbv_dna_not_hbsag(client: FlaskClient) -> None:
    labs = [LABS.ggt(90), LABS.alt(800), LABS.bilirubin(1.5)]
    conditions = [*pregnant(20, "2026-07-15"), since("B18.1", "2020-01-01")]
    card = _one(
        post(client, "female", "1998-01-01", [LABS.alp(250)], labs, conditions), PREGNANCY_LIVER
    )
    assert "known chronic hepatitis B: flare? HBV DNA, HBeAg, anti-HDV" in card["summary"]
    detail = card["detail"]
    assert "no repeat HBsAg" in detail
    assert "HAV IgM, HBsAg" not in detail
    assert "Newborn: HBV vaccine + HBIG within 12 hours of birth" in detail


# --- R34-45 (wrong): hepatitis E with an INR already 1.8 ----------------------------------------


def test_r34_45_hepatitis_e_with_inr_1_8_is_liver_unit_today(client: FlaskClient) -> None:
    labs = [LABS.ggt(80), LABS.alt(2000), LABS.bilirubin(6.0), LABS.inr(1.8)]
    conditions = [*pregnant(32, "2026-05-01"), worded("Acute hepatitis E", "2026-11-24")]
    card = _one(
        post(client, "female", "1996-01-01", [LABS.alp(300)], labs, conditions), PREGNANCY_LIVER
    )
    assert "INR 1.8 already: liver unit today" in card["summary"]
    assert "INR 1.8 already: an acute severe hepatitis; liver unit today" in card["detail"]
    assert "a rising INR or any confusion" not in card["detail"]
    assert "acute fatty liver" not in card["summary"]  # the recorded virus explains it


def test_hepatitis_e_with_a_normal_inr_keeps_the_watch(client: FlaskClient) -> None:
    labs = [LABS.ggt(80), LABS.alt(2000), LABS.bilirubin(6.0), LABS.inr(1.1)]
    conditions = [*pregnant(32, "2026-05-01"), worded("Acute hepatitis E", "2026-11-24")]
    card = _one(
        post(client, "female", "1996-01-01", [LABS.alp(300)], labs, conditions), PREGNANCY_LIVER
    )
    assert "a rising INR or any confusion, liver unit at once" in card["detail"]
    assert "already" not in card["summary"]


# --- R34-43 (wrong) and R34-42 (noisy): pre-eclampsia --------------------------------------------


@pytest.mark.parametrize(
    "record",
    [
        [since("O14.13", "2026-11-28")],
        [since("O14.03", "2026-11-28")],
        [worded("Pre-eclampsia with severe features", "2026-11-28")],
    ],
    ids=["O14.13", "O14.03-alt-3.5x", "words"],
)
def test_r34_43_pre_eclampsia_with_raised_transaminases_is_a_severe_feature(
    client: FlaskClient, record: list[dict[str, Any]]
) -> None:
    labs = [
        LABS.ggt(40),
        LABS.alt(140),
        LABS.ast(150),
        LABS.bilirubin(0.8),
        LABS.platelets(160),
        LABS.ldh(300),
    ]
    conditions = [*pregnant(32, "2026-05-01"), *record]
    card = _one(
        post(client, "female", "1993-01-01", [LABS.alp(300)], labs, conditions), PREGNANCY_LIVER
    )
    assert "severe feature): obstetric unit now; HELLP bloods 6-12 hourly" in card["summary"]
    assert "6-12 hourly for HELLP" in card["detail"]
    assert "urine protein" not in card["detail"]


def test_r34_42_pre_eclampsia_with_a_placental_alp_is_not_an_isoenzyme_card(
    client: FlaskClient,
) -> None:
    labs = [LABS.ggt(20), LABS.alt(25), LABS.ast(28), LABS.bilirubin(0.5), LABS.platelets(210)]
    conditions = [*pregnant(32, "2026-05-01"), since("O14.03", "2026-11-28")]
    found = post(client, "female", "1993-01-01", [LABS.alp(350)], labs, conditions)
    card = _one(found, "alp-high-pregnancy-isoenzymes")
    assert "with pre-eclampsia: placental ALP expected" in card["summary"]
    assert "isoenzymes only if the ALP stays raised 6 weeks after delivery" in card["detail"]
    assert "heat-stable" not in card["detail"]
    assert not card.get("suggestions")


def test_the_same_alp_without_pre_eclampsia_keeps_the_isoenzymes(client: FlaskClient) -> None:
    labs = [LABS.ggt(20), LABS.alt(25), LABS.ast(28), LABS.bilirubin(0.5), LABS.platelets(210)]
    found = post(client, "female", "1993-01-01", [LABS.alp(350)], labs, pregnant(32, "2026-05-01"))
    card = _one(found, "alp-high-pregnancy-isoenzymes")
    assert "order ALP isoenzymes" in card["summary"]


# --- R34-38 (noisy): acute hepatitis C named -----------------------------------------------------


def test_r34_38_acute_hepatitis_c_is_named_with_hcv_rna(client: FlaskClient) -> None:
    labs = [LABS.ggt(90), LABS.alt(1200), LABS.bilirubin(3.0)]
    conditions = [*pregnant(20, "2026-07-15"), since("B17.10", "2026-11-25")]
    card = _one(
        post(client, "female", "1998-01-01", [LABS.alp(250)], labs, conditions), PREGNANCY_LIVER
    )
    assert "acute hepatitis C recorded" in card["summary"]
    assert "Acute hepatitis C recorded: the likely cause" in card["detail"]
    assert "Infant: HCV RNA at 2-6 months" in card["detail"]
    assert "Other acute viral hepatitis recorded" not in card["detail"]


# --- R34-34 (wrong): IgG4-related disease with a fever and no jaundice ---------------------------


def _igg4(client: FlaskClient, infected: bool) -> list[dict[str, Any]]:
    # 63M, D89.84, prednisolone 5 mg; ALP 330 (1 Sep) -> 340, GGT 300, ALT 90, bilirubin 1.0
    labs = [LABS.ggt(300), LABS.alt(90), LABS.bilirubin(1.0), LABS.alp(330, when=day("2026-09-01"))]
    if infected:
        labs += [LABS.temperature(38.6), LABS.wbc(15)]
    meds = [drug("Prednisolone 5 mg daily", "2025-02-01")]
    return post(
        client, "male", "1963-01-01", [LABS.alp(340)], labs, [since("D89.84", "2025-01-01")], meds
    )


def test_r34_34_igg4_disease_with_fever_and_a_white_count_is_the_cholangitis_warning(
    client: FlaskClient,
) -> None:
    card = _one(_igg4(client, infected=True), CHOLANGITIS)
    assert card["indicator"] == "warning"
    assert (
        "Infection signs in IgG4-related disease: acute cholangitis until excluded"
        in card["summary"]
    )
    assert "Blood cultures, then antibiotics" in card["detail"]
    assert "Fever or rigors" not in card["detail"]


def test_the_same_igg4_disease_without_infection_signs_keeps_the_info_card(
    client: FlaskClient,
) -> None:
    card = _one(_igg4(client, infected=False), "alp-high-igg4-related-disease")
    assert card["indicator"] == "info"
