"""Eleventh round, part A (2026-11-30): the tenth bedside review's defects U1, U2, U4, N1, W1
and W2, each with the record that showed it (docs/rulebook.md, "Eleventh round, part A")."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.rules_helper import cards, fired
from tests.support.fhir import alp, condition, ggt, observation, procedure
from tests.test_tenth_round_a import CHOLANGITIS, bilirubin, text_procedure


def temperature(celsius: float) -> dict[str, Any]:
    return observation("8310-5", celsius, unit="Cel", ucum="Cel")


def wbc(value: float) -> dict[str, Any]:
    return observation("6690-2", value, unit="10*3/uL", ucum="10*3/uL", low=4, high=11)


# --- U1: a metal stent named by brand or abbreviation; a forgotten plastic stent ----------


def test_a_metal_stent_named_by_brand_or_abbreviation_with_fever_is_suspected_cholangitis(
    client: FlaskClient,
) -> None:
    # Review 10, patients 05 and 24: "fully covered WallFlex biliary stent", "FCSEMS to CBD",
    # 18 months back; 39.0 C, WBC 17, bilirubin 5.0: an info card "ultrasound first".
    results = [alp(600), ggt(500), bilirubin(5.0), temperature(39.0), wbc(17)]
    for text in (
        "ERCP, placement of fully covered WallFlex biliary stent",
        "ERCP, fully covered self-expanding metal stent (FCSEMS) to CBD",
        "ERCP: partially covered SEMS across hilar stricture",
        "Uncovered metal stent placed at ERCP",
        # Review 11, U2: Spanish and German operative notes.
        "CPRE con colocacion de protesis metalica autoexpandible totalmente recubierta en coledoco",
        "ERCP mit Einlage eines vollummantelten Metallstents in den DHC",
    ):
        found = cards(client, results, procedures=[text_procedure("2025-05-20", text)])
        assert fired(found) == [CHOLANGITIS], text
        assert found[0]["indicator"] == "warning"
        record_line = found[0]["detail"].split("In the record:")[1].lower()
        # Named: in the record's words, or as "a biliary stent" when they run past 60 characters.
        assert text.lower()[:60] in record_line or "a biliary stent" in record_line, text


def test_a_brand_or_abbreviation_without_biliary_wording_is_not_a_biliary_stent(
    client: FlaskClient,
) -> None:
    # WallFlex and SEMS are also oesophageal, duodenal and colonic; 14 months back, no
    # plastic-stent wording either, so nothing counts as a stent (ALP 1.3x, no bilirubin).
    results = [alp(140), ggt(70), temperature(39.0)]
    for text in (
        "WallFlex oesophageal stent",
        "Colonic SEMS for obstructing tumour",
        "ERCP with WallFlex duodenal stent",
        "SEMS placed",
    ):
        found = cards(client, results, procedures=[text_procedure("2025-09-20", text)])
        assert CHOLANGITIS not in fired(found), text


def test_a_plastic_stent_never_exchanged_past_a_year_with_fever_and_jaundice_warns(
    client: FlaskClient,
) -> None:
    # Review 10, patient 04: a 10Fr plastic stent 14 months back, never exchanged; 38.8 C,
    # WBC 14, bilirubin 3.5, ALP 3.5x. Forgotten stents mostly present with cholangitis
    # (Sohn 2017: 36 of 38). A recorded removal still ends it.
    plastic = text_procedure("2025-09-15", "ERCP with biliary stent insertion, 10Fr plastic")
    results = [alp(450), ggt(300), bilirubin(3.5), temperature(38.8), wbc(14)]
    found = cards(client, results, procedures=[plastic])
    assert fired(found) == [CHOLANGITIS]
    assert "10Fr plastic" in found[0]["detail"]
    # Jaundice alone is the cholestasis item too (ALP 1.3x).
    found = cards(client, [alp(140), bilirubin(3.0), temperature(38.8)], procedures=[plastic])
    assert CHOLANGITIS in fired(found)
    removed = text_procedure("2026-01-10", "ERCP: biliary stent removed")
    found = cards(client, results, procedures=[plastic, removed])
    assert CHOLANGITIS not in fired(found)


# --- U2: a miscarriage or termination ends the pregnancy -----------------------------------

PLACENTAL = "alp-high-pregnancy"


def gestational_age(weeks: float, when: str) -> dict[str, Any]:
    return observation("49051-6", weeks, when=when, unit="wk", ucum="wk")


def named_condition(code: str, text: str, **dates: str) -> dict[str, Any]:
    entry = condition(code, **dates)
    entry["code"]["text"] = text
    return entry


def test_a_miscarriage_after_the_gestational_age_ends_the_pregnancy(client: FlaskClient) -> None:
    # Review 10, patient 23: 8 weeks charted 20 Aug, missed abortion O02.1 on 4 Sep,
    # evacuation on 5 Sep; today ALP 2.8x, GGT normal: "at 21.0 weeks: compatible with
    # placental ALP; no test needed". Patient 10: O21 then O03.9 on 25 Sep.
    weeks = gestational_age(8, "2026-08-20T08:00:00Z")
    labs = [alp(290), ggt(20), weeks]
    assert fired(cards(client, labs)) == [PLACENTAL]  # before: the GA alone says pregnant
    free_text = named_condition("LOCAL-1", "Miscarriage", onset="2026-09-04")
    free_text["code"]["coding"][0]["system"] = "urn:oid:1.2.3"
    for ended in (
        named_condition("O02.1", "Missed abortion", onset="2026-09-04"),
        named_condition("O03.9", "Spontaneous abortion", recorded="2026-09-25"),
        named_condition(
            "Z33.2", "Encounter for elective termination of pregnancy", onset="2026-09-04"
        ),
        free_text,
    ):
        found = cards(client, labs, conditions=[ended])
        assert not any(f.startswith("alp-high-pregnancy") for f in fired(found)), ended
        assert "placental" not in str(found).lower(), ended
    evacuation = procedure("LOCAL-ERPC", "2026-09-05", system="urn:oid:1.2.3")
    evacuation["code"]["text"] = "Evacuation of retained products of conception"
    found = cards(client, labs, procedures=[evacuation])
    assert not any(f.startswith("alp-high-pregnancy") for f in fired(found))
    hyperemesis = named_condition("O21.0", "Hyperemesis gravidarum", onset="2026-09-01")
    found = cards(
        client,
        [alp(160), ggt(20)],
        conditions=[
            hyperemesis,
            named_condition("O03.9", "Spontaneous abortion", onset="2026-09-25"),
        ],
    )
    assert not any(f.startswith("alp-high-pregnancy") for f in fired(found))


def test_a_threatened_or_past_miscarriage_or_a_new_pregnancy_after_a_loss_still_counts(
    client: FlaskClient,
) -> None:
    # A threatened miscarriage (O20.0), a history of miscarriage, or a failed termination (O07)
    # ends nothing; a gestational age charted after a loss is a new pregnancy.
    labs = [alp(290), ggt(20), gestational_age(8, "2026-08-20T08:00:00Z")]
    for kept in (
        named_condition("O20.0", "Threatened miscarriage", onset="2026-09-04"),
        named_condition("LOCAL-2", "History of miscarriage", onset="2026-09-04"),
        named_condition("O07.4", "Failed attempted termination of pregnancy", onset="2026-09-04"),
        # Review 11, U1: a past loss coded O03.9 at a booking visit, its words saying so.
        named_condition("O03.9", "History of miscarriage", onset="2026-09-04"),
        named_condition("O03.9", "Previous spontaneous abortion x2", recorded="2026-09-04"),
    ):
        assert fired(cards(client, labs, conditions=[kept])) == [PLACENTAL], kept
    loss = named_condition("O03.9", "Spontaneous abortion", onset="2026-03-01")
    assert fired(cards(client, labs, conditions=[loss])) == [PLACENTAL]


# --- U4: a thrombotic-microangiopathy picture warns whatever the pregnancy state -----------

TMA = "alp-high-tma-picture"
PREGNANCY_LIVER = "alp-high-pregnancy-liver"


def platelets(value: float) -> dict[str, Any]:
    return observation("777-3", value, unit="10*3/uL", ucum="10*3/uL", low=150, high=400)


def ldh(value: float) -> dict[str, Any]:
    return observation("2532-0", value, low=135, high=214)


def alt_result(value: float) -> dict[str, Any]:
    return observation("1742-6", value, low=7, high=33)


def test_a_ttp_picture_50_days_after_delivery_warns_and_is_never_sent_for_bone_alp(
    client: FlaskClient,
) -> None:
    # Review 10, patient 02: delivered 1 Oct (day 50); platelets 22, LDH 1250, ALT 110,
    # bilirubin 2.6, ALP 1.7x, GGT normal: "bone source likely; order bone-specific ALP".
    labs = [alp(180), ggt(30), alt_result(110), bilirubin(2.6), platelets(22), ldh(1250)]
    delivered = condition("Z37.0", onset="2026-10-01")
    found = cards(client, labs, conditions=[delivered])
    assert fired(found) == [TMA]
    assert found[0]["indicator"] == "warning"
    assert "50 days after delivery" in found[0]["summary"]
    assert "TTP or atypical HUS" in found[0]["summary"]
    assert "bone-specific ALP" not in found[0]["summary"]
    # No pregnancy at all: the same warning, without the obstetric wording.
    found = cards(client, labs)
    assert fired(found) == [TMA]
    assert "Blood film today" in found[0]["summary"]
    assert "obstetric" not in found[0]["detail"]
    # Day 40: the pregnancy liver warning says it and this card stays away.
    found = cards(client, labs, conditions=[condition("Z37.0", onset="2026-10-11")])
    assert fired(found) == [PREGNANCY_LIVER]


def test_the_tma_warning_needs_low_platelets_a_high_ldh_and_raised_liver_tests(
    client: FlaskClient,
) -> None:
    base = [alp(180), ggt(30)]
    for extra in (
        [alt_result(110), platelets(120), ldh(1250)],  # platelets over 100
        [alt_result(110), platelets(22), ldh(450)],  # LDH under 600
        [alt_result(20), platelets(22), ldh(1250)],  # liver tests normal
        [alt_result(110), ldh(1250)],  # no platelet count
    ):
        assert TMA not in fired(cards(client, [*base, *extra])), extra
    # Shock liver recorded: the injury raises LDH itself; its own rules decide.
    shock = condition("K76.2", onset="2026-11-18")
    injured = [*base, alt_result(2500), platelets(60), ldh(3000)]
    assert TMA in fired(cards(client, injured))
    assert TMA not in fired(cards(client, injured, conditions=[shock]))


# --- W1: postpartum cholangitis is named, not only late HELLP ------------------------------


def test_fever_and_cholestatic_liver_tests_after_delivery_name_cholangitis_first(
    client: FlaskClient,
) -> None:
    # Review 10, patient 03: day 14, 38.7 C, WBC 16.5, GGT 11x, bilirubin 3.2, ALP 3.1x,
    # platelets 95, no LDH: "late HELLP or TMA?" with nothing on ultrasound or blood cultures.
    # Tokyo 2018: inflammation with cholestasis is suspected cholangitis.
    delivered = condition("Z37.0", onset="2026-11-06")
    labs = [alp(320), ggt(410), alt_result(180), bilirubin(3.2), platelets(95)]
    found = cards(client, [*labs, temperature(38.7), wbc(16.5)], conditions=[delivered])
    assert fired(found) == [PREGNANCY_LIVER]
    assert found[0]["indicator"] == "warning"
    assert "cholangitis? Same-day review" in found[0]["summary"]
    assert "Ultrasound today, blood cultures" in found[0]["detail"]
    assert "late HELLP or a thrombotic microangiopathy" in found[0]["detail"]  # platelets 95
    # A raised white count alone is an infection sign too; without one, late HELLP as before.
    found = cards(client, [*labs, wbc(16.5)], conditions=[delivered])
    assert "cholangitis?" in found[0]["summary"]
    found = cards(client, labs, conditions=[delivered])
    assert "late HELLP or TMA? Same-day review" in found[0]["summary"]
    assert "blood cultures" not in found[0]["detail"]


# --- W2: first trimester, ALT over 5x: viral hepatitis first -------------------------------


def test_first_trimester_alt_over_5x_names_viral_hepatitis_not_the_late_pregnancy_list(
    client: FlaskClient,
) -> None:
    # Review 10, patient 27: hyperemesis at 12 weeks, ALT 400 (11x), AST 250, ALP 1.4x: the
    # late-pregnancy list (bile acids, blood pressure, urine protein). Pre-eclampsia, HELLP,
    # AFLP and ICP belong to the second half; hepatitis E must not be missed (ACG 2016).
    hyperemesis = named_condition("O21.1", "Hyperemesis gravidarum", onset="2026-11-10")
    labs = [alp(150), ggt(30), alt_result(400), gestational_age(12, "2026-11-20T08:00:00Z")]
    found = cards(client, labs, conditions=[hyperemesis])
    assert fired(found) == [PREGNANCY_LIVER]
    assert found[0]["indicator"] == "warning"
    assert "viral hepatitis first (A, B, C, E)" in found[0]["summary"]
    assert "HEV IgM" in found[0]["detail"]
    assert "bile acids" not in found[0]["detail"].lower()
    # ALT 5x or less in the first trimester, or ALT 11x at 24 weeks: the list as before.
    # Twentieth round, part M (review 31, R31-43): ALT 11x at 24 weeks is a hepatocellular
    # picture (R 7.6) and now reads as hepatitis with the viral serology (HEV IgM) beside the
    # bile acids; the old "no HEV IgM" expectation held only for the first-trimester case.
    for alt_value, weeks in ((160, 12), (400, 24)):
        found = cards(
            client,
            [
                alp(150),
                ggt(30),
                alt_result(alt_value),
                gestational_age(weeks, "2026-11-20T08:00:00Z"),
            ],
        )
        assert fired(found) == [PREGNANCY_LIVER], (alt_value, weeks)
        if weeks == 12:
            assert "HEV IgM" not in found[0]["detail"]
        else:
            assert "HEV IgM" in found[0]["detail"]
        assert "bile acids" in found[0]["detail"].lower()


def test_a_fever_with_a_liver_source_alp_says_suspected_cholangitis_in_the_summary(
    client: FlaskClient,
) -> None:
    # Review 10 (U1, W1): the liver card's first line said "suspected cholangitis; same-day
    # review" under the summary "ultrasound first". No stent or drainage here.
    labs = [alp(320), ggt(410), bilirubin(3.2)]
    found = cards(client, [*labs, temperature(38.7)])
    # Twenty-first round, part J (review 35, R35-56): with this jaundice (3.2 mg/dL) the fever
    # is suspected cholangitis as a warning in place of the info liver card.
    assert fired(found) == ["alp-high-fever-jaundice"]
    assert "fever: suspected cholangitis; cultures, ultrasound today" in found[0]["summary"]
    # without jaundice the liver card's summary still names it
    found = cards(client, [alp(320), ggt(410), bilirubin(0.8), temperature(38.7)])
    assert fired(found) == ["alp-high-liver-source"]
    assert "with a fever: suspected cholangitis; same-day review" in found[0]["summary"]
    found = cards(client, labs)
    assert "ultrasound first" in found[0]["summary"]
