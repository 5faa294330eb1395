"""Twenty-first round (2026-12-02), part K: review 36's findings on part H: acute fatty liver
after the first week, an INR at 1.5 in a recorded hepatitis outside pregnancy, PSC with infection
signs and a stable ALP, the fatty-liver screen on values a recorded cause explains, the glucose
shown, gallstones with a raised GGT in pregnancy, a chronic hepatitis B flare, the baby after a
birth with hepatitis B, pre-eclampsia after birth and "PET", and the over-long mixtures
(docs/rulebook.md, "Twenty-first round (2026-12-02), part K"). Each patient is rebuilt from the
reviewer's facts (review 36, /work/review36-work/cases.py), signed on 2 Dec 2026."""

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
SEVERE_HEPATITIS = "alp-high-acute-hepatitis-severe"
FB = "1996-01-01"


def pregnant(weeks: int, since_day: str = "2026-05-01") -> list[dict[str, Any]]:
    return [since("Z33.1", since_day), since(f"Z3A.{weeks}", "2026-12-01")]


def _short(card: dict[str, Any]) -> None:
    assert len(card["summary"]) < 140, card["summary"]
    assert words(card) <= 130, (words(card), card["detail"])


def _one(found: list[dict[str, Any]], rule: str) -> dict[str, Any]:
    assert fired(found) == [rule], fired(found)
    [card] = found
    _short(card)
    return card


def _text(card: dict[str, Any]) -> str:
    return f"{card['summary']}\n{card['detail']}"


# --- R36-42 (unsafe): PSC with infection signs and a stable ALP -------------------------------


def _psc(client: FlaskClient, extra: list[dict[str, Any]] = []) -> list[dict[str, Any]]:  # noqa: B006
    labs = [LABS.alp(280, when=day("2026-09-01")), LABS.ggt(250), LABS.alt(80)]
    labs += [LABS.bilirubin(1.2), LABS.temperature(38.8), LABS.wbc(14)]
    conditions = [since("K83.01", "2018-01-01"), since("K51.90", "2015-01-01"), *extra]
    return post(client, "male", "1980-01-01", [LABS.alp(300)], labs, conditions)


def test_r36_42_psc_with_infection_signs_and_a_stable_alp_is_suspected_cholangitis(
    client: FlaskClient,
) -> None:
    card = _one(_psc(client), CHOLANGITIS)
    assert card["indicator"] == "warning"
    assert card["summary"].startswith("Infection signs in known PSC: acute cholangitis")
    assert "new rise" not in card["summary"]


def test_r36_48_psc_with_a_recorded_pneumonia_stays_silent(client: FlaskClient) -> None:
    # neighbour (part D, R24-03): the pneumonia explains the fever
    assert CHOLANGITIS not in fired(_psc(client, [since("J18.9", "2026-11-30")]))


# --- R36-14 (unsafe): acute fatty liver after the first week ---------------------------------


def _aflp_after_birth(client: FlaskClient, birth: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # ALT 400, AST 450, bilirubin 5.0, glucose 3.0, INR 1.7, creatinine 170, platelets 130
    labs = [LABS.ggt(70), LABS.ast(450), LABS.alt(400), LABS.bilirubin(5.0), LABS.glucose(3.0)]
    labs += [LABS.inr(1.7), LABS.creatinine(170), LABS.platelets(130)]
    return post(client, "female", FB, [LABS.alp(350)], labs, birth)


@pytest.mark.parametrize(
    "birth",
    [[since("O80", "2026-11-22")], [since("O80", "2026-11-06")], [since("Z39.2", "2026-11-22")]],
    ids=["day-10", "day-26", "postnatal-code-only"],
)
def test_r36_14_acute_fatty_liver_after_the_first_week_is_a_warning(
    client: FlaskClient, birth: list[dict[str, Any]]
) -> None:
    card = _one(_aflp_after_birth(client, birth), PREGNANCY_LIVER)
    assert card["indicator"] == "warning"
    assert "glucose 3.0, INR 1.7, creatinine 170" in card["summary"]
    assert "acute fatty liver?" in card["summary"]
    assert "liver unit now" in card["summary"]
    assert "IV glucose now" in card["detail"]
    assert "ultrasound first" not in _text(card)


def test_r36_14_dated_birth_is_named(client: FlaskClient) -> None:
    card = _one(_aflp_after_birth(client, [since("O80", "2026-11-22")]), PREGNANCY_LIVER)
    assert card["summary"].startswith("Delivered 22 Nov 2026, glucose 3.0")


def test_r36_14_past_six_weeks_is_not_read_as_a_birth(client: FlaskClient) -> None:
    # neighbour: a birth 60 days back is outside the puerperium
    assert PREGNANCY_LIVER not in fired(_aflp_after_birth(client, [since("O80", "2026-10-03")]))


# --- R36-33 (unsafe): a recorded hepatitis with INR 1.5 or more outside pregnancy -------------


def _hepatitis(
    client: FlaskClient,
    inr_value: float,
    conditions: list[dict[str, Any]],
    medications: list[dict[str, Any]] = [],  # noqa: B006
) -> list[dict[str, Any]]:
    labs = [LABS.ggt(120), LABS.alt(1500), LABS.bilirubin(5.0), LABS.inr(inr_value)]
    return post(client, "male", "1986-01-01", [LABS.alp(200)], labs, conditions, medications)


def test_r36_33_acute_hepatitis_b_with_inr_1_8_is_a_liver_unit_warning(
    client: FlaskClient,
) -> None:
    card = _one(_hepatitis(client, 1.8, [since("B16.9", "2026-11-24")]), SEVERE_HEPATITIS)
    assert card["indicator"] == "warning"
    assert "INR 1.8 already" in card["summary"]
    assert "liver unit today" in card["summary"]
    assert "if the INR rises" not in _text(card)
    assert "entecavir or tenofovir now" in card["detail"]


# Twenty-first round, integrator: known AIH with ALT 37.5x and jaundice meets part G's recorded-
# cause warning first (alp-high-hepatocellular-jaundice-cause hides the hepatocellular card this
# rule replaces); that card now names the INR of 1.5 or more and the liver unit itself
# (review 38, R38-18: its AIH branch asked for hepatology only).
@pytest.mark.parametrize(
    ("condition", "rule"),
    [
        (worded("Autoimmune hepatitis", "2024-01-01"), "alp-high-hepatocellular-jaundice-cause"),
        (since("B18.1", "2015-01-01"), SEVERE_HEPATITIS),
    ],
    ids=["autoimmune", "chronic-hbv"],
)
def test_r36_33_other_recorded_hepatitis_with_inr_1_5(
    client: FlaskClient, condition: dict[str, Any], rule: str
) -> None:
    card = _one(_hepatitis(client, 1.5, [condition]), rule)
    assert card["indicator"] == "warning"
    assert "INR 1.5" in card["summary"]
    assert "liver unit today" in card["summary"]
    assert words(card) <= 130


def test_r38_17_inr_1_5_on_apixaban_is_not_the_drugs(client: FlaskClient) -> None:
    # Review 38, R38-17: a direct oral anticoagulant lifts the INR a little, not to 1.5; the
    # severe-hepatitis warning shows and names the drug for review. Warfarin still explains it.
    found = _hepatitis(
        client,
        1.6,
        [since("B16.9", "2026-11-24")],
        [drug("Apixaban 5 mg twice daily", "2025-01-01")],
    )
    card = _one(found, SEVERE_HEPATITIS)
    assert "Apixaban" in card["detail"]
    assert words(card) <= 130


def test_r36_33_inr_1_4_keeps_the_info_card(client: FlaskClient) -> None:
    found = _hepatitis(client, 1.4, [since("B16.9", "2026-11-24")])
    assert fired(found) == ["alp-high-liver-hepatocellular"]


def test_r36_33_inr_on_warfarin_is_not_liver_failure(client: FlaskClient) -> None:
    found = _hepatitis(
        client, 2.6, [since("B16.9", "2026-11-24")], [drug("Warfarin 5 mg daily", "2020-01-01")]
    )
    assert SEVERE_HEPATITIS not in fired(found)


# --- R36-12, 18, 19 (wrong): the fatty-liver screen on values a recorded cause explains -------


def test_r36_12_warfarin_inr_is_not_acute_fatty_liver(client: FlaskClient) -> None:
    labs = [LABS.ggt(30), LABS.alt(90), LABS.bilirubin(1.6), LABS.glucose(5.0), LABS.creatinine(60)]
    labs += [LABS.inr(2.6)]
    found = post(
        client, "female", FB, [LABS.alp(320)], labs,
        [*pregnant(33), since("Z95.2", "2015-01-01")],
        [drug("Warfarin 5 mg daily", "2015-01-01")],
    )  # fmt: skip
    card = _one(found, PREGNANCY_LIVER)
    assert "fatty liver" not in card["summary"]
    assert "delivery once" not in card["detail"]


def test_r36_18_insulin_hypoglycaemia_with_a_normal_alt_is_not_acute_fatty_liver(
    client: FlaskClient,
) -> None:
    labs = [LABS.ggt(15), LABS.alt(25), LABS.bilirubin(1.4), LABS.glucose(3.1)]
    found = post(
        client, "female", FB, [LABS.alp(280)], labs,
        [*pregnant(32), since("E10.9", "2005-01-01")], [drug("Insulin aspart", "2005-01-01")],
    )  # fmt: skip
    card = _one(found, PREGNANCY_LIVER)
    assert "fatty liver" not in card["summary"]
    assert "delivery once" not in card["detail"]
    assert "duct stone" not in card["summary"]


def test_r36_19_ckd_creatinine_is_not_acute_fatty_liver(client: FlaskClient) -> None:
    labs = [LABS.ggt(20), LABS.alt(30), LABS.bilirubin(1.3), LABS.creatinine(220)]
    found = post(
        client, "female", FB, [LABS.alp(300)], labs, [*pregnant(34), since("N18.4", "2019-01-01")]
    )
    card = _one(found, PREGNANCY_LIVER)
    assert "fatty liver" not in card["summary"]
    assert "delivery once" not in card["detail"]


def test_an_unexplained_value_beside_an_explained_one_still_screens(client: FlaskClient) -> None:
    # neighbour: on warfarin (INR 2.6 discounted) but glucose 2.6 and ALT 8.8x: still AFLP
    labs = [LABS.ggt(60), LABS.alt(350), LABS.bilirubin(4.0), LABS.glucose(2.6), LABS.inr(2.6)]
    found = post(
        client, "female", FB, [LABS.alp(450)], labs, pregnant(35),
        [drug("Warfarin 5 mg daily", "2015-01-01")],
    )  # fmt: skip
    assert "acute fatty liver?" in _one(found, PREGNANCY_LIVER)["summary"]


# --- R36-10 (wrong): glucose 2.8 with ALT 7.5x, bilirubin normal -------------------------------


def test_r36_10_a_low_glucose_is_read_and_named(client: FlaskClient) -> None:
    labs = [LABS.ggt(50), LABS.ast(320), LABS.alt(300), LABS.bilirubin(0.9), LABS.glucose(2.8)]
    labs += [LABS.inr(1.2), LABS.creatinine(95), LABS.platelets(180)]
    found = post(client, "female", FB, [LABS.alp(400)], labs, pregnant(35, "2026-04-01"))
    card = _one(found, PREGNANCY_LIVER)
    assert "glucose 2.8" in card["summary"]
    assert "acute fatty liver?" in card["summary"]
    assert "Glucose 2.8: IV glucose now" in card["detail"]


# --- R36-49, R36-24 (wrong): gallstones with a GGT 7.5x in pregnancy --------------------------


def _stones(client: FlaskClient, fever: bool) -> list[dict[str, Any]]:
    labs = [LABS.ggt(300), LABS.alt(260 if not fever else 200), LABS.bilirubin(3.5)]
    labs += [LABS.temperature(38.7), LABS.wbc(16)] if fever else []
    conditions = [*pregnant(34, "2026-04-15"), since("K80.20", "2026-10-01")]
    return post(client, "female", FB, [LABS.alp(500)], labs, conditions)


def test_r36_49_gallstones_with_a_ggt_above_the_alt_are_a_duct_stone(client: FlaskClient) -> None:
    card = _one(_stones(client, fever=False), PREGNANCY_LIVER)
    assert "ultrasound for duct stones" in card["summary"]
    assert "hepatitis picture" not in _text(card)


def test_r36_24_gallstones_with_fever_in_pregnancy_is_one_cholangitis_card(
    client: FlaskClient,
) -> None:
    card = _one(_stones(client, fever=True), CHOLANGITIS)
    assert "acute cholangitis" in card["summary"]
    assert "Pregnant: obstetric team today" in card["detail"]
    assert "hepatitis picture" not in _text(card)


# --- R36-29 (wrong): chronic hepatitis B flaring with INR 1.7 ---------------------------------


def test_r36_29_chronic_hbv_flare_with_inr_1_7_is_not_fatty_liver(client: FlaskClient) -> None:
    labs = [LABS.ggt(90), LABS.alt(600), LABS.bilirubin(3.0), LABS.inr(1.7)]
    conditions = [*pregnant(30, "2026-05-15"), worded("Chronic hepatitis B", "2019-01-01")]
    card = _one(
        post(client, "female", "1998-01-01", [LABS.alp(300)], labs, conditions), PREGNANCY_LIVER
    )
    assert "fatty liver" not in card["summary"]
    assert "delivery once" not in card["detail"]
    assert "INR 1.7 already" in card["summary"]
    assert card["detail"].index("INR 1.7 already") < card["detail"].index(
        "Known chronic hepatitis B"
    )


# --- R36-26 (wrong): acute hepatitis B, birth 10 days ago -------------------------------------


def test_r36_26_the_baby_is_named_after_the_first_week(client: FlaskClient) -> None:
    labs = [LABS.ggt(80), LABS.alt(900), LABS.bilirubin(2.8)]
    conditions = [since("O80", "2026-11-22"), since("B16.9", "2026-11-18")]
    found = post(client, "female", "1995-01-01", [LABS.alp(300)], labs, conditions)
    [card] = found
    _short(card)
    assert "Baby born 22 Nov 2026: confirm HBV vaccine (+ HBIG if within 7 days)" in card["detail"]
    assert "9-12 months" in card["detail"]


def test_r36_26_with_inr_1_8_the_warning_names_the_baby(client: FlaskClient) -> None:
    labs = [LABS.ggt(80), LABS.alt(900), LABS.bilirubin(2.8), LABS.inr(1.8)]
    conditions = [since("O80", "2026-11-22"), since("B16.9", "2026-11-18")]
    found = post(client, "female", "1995-01-01", [LABS.alp(300)], labs, conditions)
    card = _one(found, SEVERE_HEPATITIS)
    assert "Baby born 22 Nov 2026" in card["detail"]


# --- R36-36, R36-35 (wrong): pre-eclampsia after birth, and "PET" -----------------------------


@pytest.mark.parametrize("code", ["O14.15", "O14.25", "O14.05", "O14.95"])
def test_r36_36_pre_eclampsia_after_birth_with_raised_transaminases(
    client: FlaskClient, code: str
) -> None:
    labs = [LABS.ggt(35), LABS.alt(150), LABS.ast(170), LABS.bilirubin(0.8), LABS.platelets(160)]
    conditions = [since("O80", "2026-11-28"), since(code, "2026-11-30")]
    card = _one(
        post(client, "female", "1993-01-01", [LABS.alp(300)], labs, conditions), PREGNANCY_LIVER
    )
    assert card["summary"].startswith("Delivered, pre-eclampsia with raised transaminases")
    assert "magnesium sulfate" in card["detail"]


def _pet(client: FlaskClient, words_: str) -> dict[str, Any]:
    labs = [LABS.ggt(30), LABS.alt(150), LABS.ast(160), LABS.bilirubin(0.8), LABS.platelets(170)]
    conditions = [*pregnant(33), worded(words_, "2026-11-28")]
    return _one(
        post(client, "female", "1993-01-01", [LABS.alp(320)], labs, conditions), PREGNANCY_LIVER
    )


def test_r36_35_pet_in_words_is_pre_eclampsia(client: FlaskClient) -> None:
    assert "pre-eclampsia with raised transaminases" in _pet(client, "PET")["summary"]


@pytest.mark.parametrize("words_", ["PET-CT scan 2024: no uptake", "Competent, petite"])
def test_pet_as_a_scan_or_inside_a_word_is_not_pre_eclampsia(
    client: FlaskClient, words_: str
) -> None:
    assert "pre-eclampsia" not in _pet(client, words_)["summary"]


# --- Every changed card stays short ----------------------------------------------------------


def test_r36_45_fatty_liver_with_nitrofurantoin_stays_under_130_words(client: FlaskClient) -> None:
    labs = [LABS.ggt(60), LABS.ast(400), LABS.alt(350), LABS.bilirubin(4.0), LABS.platelets(120)]
    labs += [LABS.ldh(450), LABS.glucose(2.6), LABS.creatinine(180), LABS.inr(1.8)]
    found = post(
        client, "female", FB, [LABS.alp(450)], labs, pregnant(35, "2026-04-01"),
        [drug("Nitrofurantoin 50 mg four times daily", "2026-11-28")],
    )  # fmt: skip
    card = _one(found, PREGNANCY_LIVER)
    assert "acute fatty liver?" in card["summary"]
