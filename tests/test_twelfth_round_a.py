"""Twelfth round, part A (2026-12-01): the eleventh review's biliary, sepsis and liver defects,
each with the record that showed it (docs/rulebook.md, "Twelfth round, part A")."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.rules_helper import cards, fired
from tests.support.fhir import alp, condition, ggt, medication, observation
from tests.support.labs import RESULT_DATE, Labs
from tests.test_eleventh_round_a import alt_result, ldh, platelets, temperature, wbc
from tests.test_tenth_round_a import CHOLANGITIS, bilirubin, text_procedure

# `fhir.observation`'s own default date, which these builders used.
LABS = Labs(RESULT_DATE)

TMA = "alp-high-tma-picture"
SEPSIS_DIC = "alp-high-sepsis-dic"


def fibrinogen(value: float, unit: str = "g/L") -> dict[str, Any]:
    return observation("3255-7", value, unit=unit, ucum=unit)


# --- 1: septic shock with DIC is not a thrombotic microangiopathy ---------------------------

SEPTIC_SHOCK = ("R65.21", "2026-11-19")
DIC = ("D65", "2026-11-19")
PICTURE = [alp(380), ggt(420), alt_result(140), bilirubin(4.8), platelets(48), ldh(780)]


def test_septic_shock_with_dic_names_dic_and_the_biliary_source_not_tma(
    client: FlaskClient,
) -> None:
    # Review 11: septic shock, DIC, platelets 48, LDH 780, INR 2.0, a cholestatic picture:
    # the TMA warning hid the liver card's cholangitis line.
    shock = condition(SEPTIC_SHOCK[0], onset=SEPTIC_SHOCK[1])
    dic = condition(DIC[0], onset=DIC[1])
    found = cards(client, [*PICTURE, LABS.inr(2.0), temperature(39.4)], conditions=[shock, dic])
    assert fired(found) == [SEPSIS_DIC]
    card = found[0]
    assert card["indicator"] == "warning"
    assert "DIC, not TMA" in card["summary"]
    assert "Ultrasound today" in card["summary"]
    assert "Cholangitis until excluded" in card["detail"]
    assert "INR 2.0: prolonged" in card["detail"]
    assert "blood film still" in card["detail"]
    # Each piece of the DIC picture on its own, with sepsis: a coded DIC, a consumed
    # fibrinogen (in mg/dL too), or an INR of 1.5 or more.
    for extra, conds in (
        ([], [shock, dic]),
        ([fibrinogen(0.8)], [shock]),
        ([fibrinogen(70, "mg/dL")], [shock]),
        ([LABS.inr(1.5)], [shock]),
        ([LABS.inr(1.8), wbc(19)], []),  # sepsis not coded: a raised white count now
    ):
        assert fired(cards(client, [*PICTURE, *extra], conditions=conds)) == [SEPSIS_DIC], extra


def test_the_tma_warning_stays_with_normal_clotting_or_without_sepsis(
    client: FlaskClient,
) -> None:
    shock = condition(SEPTIC_SHOCK[0], onset=SEPTIC_SHOCK[1])
    # Clotting normal (INR 1.1, fibrinogen 3.2): TTP is not excluded by sepsis.
    found = cards(client, [*PICTURE, LABS.inr(1.1), fibrinogen(3.2)], conditions=[shock])
    assert fired(found) == [TMA]
    # An INR of 1.4, or a fibrinogen of 1.0: not counted as consumed.
    assert fired(cards(client, [*PICTURE, LABS.inr(1.4), fibrinogen(1.0)], conditions=[shock])) == [
        TMA
    ]
    # Deranged clotting without sepsis or infection signs: the TMA warning as before.
    assert fired(cards(client, [*PICTURE, LABS.inr(2.0)])) == [TMA]
    # An INR on warfarin is the drug's: TMA still warns.
    warfarin = medication(text="warfarin 5 mg tablet")
    found = cards(client, [*PICTURE, LABS.inr(2.6)], conditions=[shock], medications=[warfarin])
    assert fired(found) == [TMA]


# --- 2: a forgotten stent with fever and a GGT of 4.9x: Tokyo 2018 B-2 ---------------------

FORGOTTEN = "ERCP with biliary stent insertion, 10Fr plastic"


def ast_result(value: float) -> dict[str, Any]:
    return observation("1920-8", value, low=10, high=35)


def test_a_forgotten_stent_with_fever_and_ggt_over_1_5x_warns_though_alp_is_1_3x(
    client: FlaskClient,
) -> None:
    # Review 11: a plastic stent 20 months back, 38.9 C, GGT 4.9x, ALP 1.3x, bilirubin normal:
    # an info card. Tokyo 2018 B-2: ALP, GGT, AST or ALT above 1.5x the upper limit.
    stent = text_procedure("2025-03-10", FORGOTTEN)
    base = [alp(140), bilirubin(0.9), temperature(38.9)]  # ALP 1.35x (ULN 104)
    found = cards(client, [*base, ggt(176)], procedures=[stent])  # GGT 4.9x (ULN 36)
    assert fired(found) == [CHOLANGITIS]
    assert found[0]["indicator"] == "warning"
    # AST or ALT above 1.5x count too.
    assert CHOLANGITIS in fired(cards(client, [*base, ast_result(60)], procedures=[stent]))
    assert CHOLANGITIS in fired(cards(client, [*base, alt_result(55)], procedures=[stent]))
    # Under 1.5x for every test and a normal bilirubin: no cholestasis item, no warning.
    found = cards(client, [*base, ggt(50), ast_result(45), alt_result(40)], procedures=[stent])
    assert CHOLANGITIS not in fired(found)


# --- 3: shock liver on heart failure with a GGT of 6x: ultrasound with Doppler -------------

DISPROPORTIONATE = "alp-high-acute-injury-disproportionate"
HEPATOCELLULAR = "alp-high-liver-hepatocellular"


def shock_liver_record() -> list[dict[str, Any]]:
    shock = condition("K72.00", onset="2026-11-17")
    shock["code"]["text"] = "Ischaemic hepatitis (shock liver)"
    failure = condition("I50.9", onset="2024-05-01")
    failure["code"]["text"] = "Heart failure"
    return [shock, failure]


def shock_liver_labs(ggt_value: float) -> list[dict[str, Any]]:
    return [
        alp(200, low=40, high=129),  # 1.55x
        ggt(ggt_value, low=8, high=61),
        observation("1742-6", 2500, low=7, high=45),
        observation("1920-8", 3100, low=10, high=40),
    ]


def test_shock_liver_on_heart_failure_with_ggt_6x_asks_for_doppler_ultrasound_not_serology(
    client: FlaskClient,
) -> None:
    # Review 11: confirmed shock liver on heart failure, ALT 2500 (R 36), ALP 1.6x, GGT 6x:
    # the hepatocellular card's viral and autoimmune serology.
    found = cards(client, shock_liver_labs(366), conditions=shock_liver_record())
    assert fired(found) == [DISPROPORTIONATE]
    card = found[0]
    assert "ultrasound with Doppler, not serology" in card["summary"]
    assert "distended hepatic veins and IVC" in card["detail"]
    assert "HBsAg" not in card["detail"]
    assert "No hepatitis serology" in card["detail"]
    # GGT 4.1x on heart failure: congestion's, quiet as in the eleventh round.
    assert cards(client, shock_liver_labs(250), conditions=shock_liver_record()) == []
    # Without heart failure, GGT 3x or more is past the injury's own ceiling: the same card.
    found = cards(client, shock_liver_labs(250), conditions=shock_liver_record()[:1])
    assert fired(found) == [DISPROPORTIONATE]
    # No shock liver recorded: the hepatitis work-up as before.
    assert fired(cards(client, shock_liver_labs(366))) == [HEPATOCELLULAR]


# --- 4: a line printed twice; a creatinine asked for when resulted --------------------------


def test_a_stent_found_by_two_findings_is_named_once(client: FlaskClient) -> None:
    # Review 10 patient 24 (eleventh-round scenario): "ERCP, fully covered self-expanding
    # metal stent (FCSEMS) to CBD with ..." runs past 60 characters, so each finding named it
    # by its own label: "a biliary stent; biliary drainage or a biliary stent".
    text = "ERCP with fully covered self-expanding metal stent (FCSEMS) placed to CBD for stricture"
    stent = text_procedure("2025-05-20", text)
    found = cards(client, [alp(600), ggt(500), bilirubin(5.0), temperature(39.0), wbc(17)],
                  procedures=[stent])  # fmt: skip
    assert fired(found) == [CHOLANGITIS]
    record_line = found[0]["detail"].split("In the record:")[1]
    assert record_line.count("biliary stent") == 1, record_line


def creatinine(mg_dl: float) -> dict[str, Any]:
    return observation("2160-0", mg_dl, unit="mg/dL", ucum="mg/dL", low=0.5, high=1.1)


def test_the_tma_warning_names_a_resulted_creatinine_instead_of_asking_for_it(
    client: FlaskClient,
) -> None:
    # Review 10 patient 02 (eleventh round): creatinine 2.0 mg/dL resulted with the ALP, and
    # the card asked for "creatinine" again.
    labs = [alp(180), ggt(30), alt_result(110), bilirubin(2.6), platelets(22), ldh(1250)]
    found = cards(client, [*labs, creatinine(2.0)])
    assert fired(found) == [TMA]
    detail = found[0]["detail"]
    assert "Creatinine 2 mg/dL" in detail or "Creatinine 2.0 mg/dL" in detail
    assert "already resulted" in detail
    assert "haptoglobin, creatinine" not in detail
    # In umol/L it is named as sent; with none, the card asks for it as before.
    found = cards(client, [*labs, observation("14682-9", 177, unit="umol/L", ucum="umol/L")])
    assert "Creatinine 177 umol/L" in found[0]["detail"]
    assert "haptoglobin, creatinine, clotting" in cards(client, labs)[0]["detail"]


# --- 5: a 17% fall two days after a stone extraction is the recovery ------------------------

FALLING_AFTER_DRAINAGE = "alp-high-falling-after-drainage"


def test_an_alp_falling_17_percent_after_drainage_with_every_sign_settled_is_quiet(
    client: FlaskClient,
) -> None:
    # Review 9, patient 06 (open since the tenth round): 39.1 C at 06:00, ERCP and stone
    # extraction at 14:00, then afebrile, bilirubin 1.1, ALP 480 -> 400 (17%, under the 20%
    # that makes a steady-state ALP "falling"): the liver card with "ALP not falling".
    ercp = text_procedure("2026-11-19T14:00:00Z", "ERCP, sphincterotomy, stone extraction")
    fever = observation("8310-5", 39.1, when="2026-11-19T06:00:00Z", unit="Cel", ucum="Cel")
    base = [ggt(520), bilirubin(1.1)]

    def earlier(value: float) -> list[dict[str, Any]]:
        return [alp(value, low=40, high=129, when="2026-11-18T08:00:00Z"), fever]

    found = cards(client, [alp(400, low=40, high=129), *base], labs=earlier(480), procedures=[ercp])
    assert found == []
    # A fall under 10% (480 -> 440), a raised bilirubin, or a fever since the ERCP: a card.
    found = cards(client, [alp(440, low=40, high=129), *base], labs=earlier(480), procedures=[ercp])
    assert fired(found) == ["alp-high-liver-source"]
    found = cards(
        client,
        [alp(400, low=40, high=129), ggt(520), bilirubin(2.4)],
        labs=earlier(480),
        procedures=[ercp],
    )
    assert found != []
    after = observation("8310-5", 38.7, when="2026-11-19T22:00:00Z", unit="Cel", ucum="Cel")
    found = cards(
        client, [alp(400, low=40, high=129), *base, after], labs=earlier(480), procedures=[ercp]
    )
    assert fired(found) == [CHOLANGITIS]


def test_the_tma_warning_names_a_resulted_inr_instead_of_asking_for_clotting(
    client: FlaskClient,
) -> None:
    labs = [alp(180), ggt(30), alt_result(110), bilirubin(2.6), platelets(22), ldh(1250)]
    detail = cards(client, [*labs, LABS.inr(1.1)])[0]["detail"]
    assert "INR 1.1 already resulted (normal in TMA, prolonged in DIC)" in detail
    assert "clotting and" not in detail
    detail = cards(client, [*labs, LABS.inr(1.1), creatinine(2.0)])[0]["detail"]
    assert "and INR 1.1 already resulted" in detail
    assert "haptoglobin, fibrinogen and" in detail
