"""Twenty-second round (2026-12-02), part S: review 43's two wrong findings (docs/clinical-reviews/
review-43.md). Finding 1 (R43-24): at 30 weeks, ALT 800 (20x), bilirubin 4.0 mg/dL and INR 1.2
got alp-high-pregnancy-liver's generic "hepatitis picture" summary: the bilirubin named nowhere,
no INR again in 12-24 h, no liver-unit threshold. Finding 2 (R43-35): at 32 weeks on warfarin,
INR 2.6 and ALT 15x got only "INR 2.6 on file": no word that the INR no longer grades the injury,
no anticoagulation, obstetric or cardiology (valve) team. See docs/rulebook.md, "Twenty-second
round (2026-12-02), part S". Each patient is rebuilt from the reviewer's facts, signed on 2 Dec
2026."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.rules_helper import card_for, only, within_limits
from tests.support.labs import Labs, drug, post, since

NOW = "2026-12-02T08:00:00Z"
LABS = Labs(NOW)
FB = "1996-01-01"
PREGNANCY_LIVER = "alp-high-pregnancy-liver"
WARFARIN = drug("Warfarin 5 mg daily", "2015-01-01")
JAUNDICED_LINE = "INR, glucose again in 12-24 h; liver unit at INR 1.5 or confusion"
AFLP_LEAD = "Jaundiced hepatitis (acute fatty liver, HEV?): INR, glucose again"
INR_LEAD = "INR 1.7 already: liver unit today"


def pregnant(weeks: int) -> list[dict[str, Any]]:
    return [since("Z33.1", "2026-04-15"), since(f"Z3A.{weeks}", "2026-12-01")]


def _r43_24(
    client: FlaskClient,
    weeks: int = 30,
    bilirubin: float = 4.0,
    inr: float = 1.2,
    more: list[dict[str, Any]] = [],  # noqa: B006 - never mutated
) -> list[dict[str, Any]]:
    # R43-24: ALP 300, ALT 800 (20x), bilirubin 4.0 mg/dL, INR 1.2, glucose and platelets normal
    labs = [LABS.alt(800), LABS.bilirubin(bilirubin), LABS.inr(inr), LABS.glucose(5.0)]
    labs += [LABS.platelets(210), *more]
    return post(client, "female", FB, [LABS.alp(300)], labs, pregnant(weeks))


def _r43_35(client: FlaskClient) -> list[dict[str, Any]]:
    # R43-35: 32 weeks, warfarin, INR 2.6, ALT 600 (15x), bilirubin 1.0 mg/dL
    labs = [LABS.alt(600), LABS.bilirubin(1.0), LABS.inr(2.6), LABS.glucose(5.0)]
    labs += [LABS.platelets(210)]
    return post(client, "female", FB, [LABS.alp(250)], labs, pregnant(32), [WARFARIN])


# --- finding 1, R43-24 ------------------------------------------------------------------------


def test_r43_24_a_jaundiced_hepatitis_at_30_weeks_names_the_bilirubin(
    client: FlaskClient,
) -> None:
    card = only(_r43_24(client), PREGNANCY_LIVER)
    assert card["indicator"] == "warning"
    # the generic hepatitis list stays (older tests); the bilirubin replaces the ALP, and the
    # leading line names acute fatty liver and HEV with the repeat and the liver-unit threshold
    assert card["summary"] == (
        "ALT 20.0x, bilirubin 4.0 mg/dL: hepatitis picture (viral, drug, fatty liver, HELLP?); "
        "obstetric and hepatology today"
    )
    assert card["detail"].index(AFLP_LEAD) < card["detail"].index("HAV IgM")
    assert JAUNDICED_LINE in card["detail"]


def test_r43_24_before_20_weeks_no_acute_fatty_liver(client: FlaskClient) -> None:
    card = only(_r43_24(client, weeks=16), PREGNANCY_LIVER)
    assert card["summary"] == (
        "ALT 20.0x, bilirubin 4.0 mg/dL: jaundiced hepatitis picture (viral, drug?); "
        "obstetric and hepatology today"
    )
    assert "fatty liver" not in f"{card['summary']}\n{card['detail']}"
    assert JAUNDICED_LINE in card["detail"]


# --- neighbours ---------------------------------------------------------------------------------


def test_a_bilirubin_of_1_0_keeps_the_hepatitis_card(client: FlaskClient) -> None:
    # the jaundiced wording is R43-24's (bilirubin 4.0) and not the same woman's at 1.0
    assert JAUNDICED_LINE in only(_r43_24(client), PREGNANCY_LIVER)["detail"]
    card = only(_r43_24(client, bilirubin=1.0), PREGNANCY_LIVER)
    assert card["summary"] == (
        "Pregnant, ALP 300 U/L, ALT 20.0x: hepatitis picture (viral, drug, fatty liver, HELLP?); "
        "obstetric and hepatology today"
    )
    assert "12-24 h" not in card["detail"]
    assert "INR 1.2 on file" in card["detail"]


def test_jaundice_with_an_inr_of_1_7_keeps_part_ps_branches(client: FlaskClient) -> None:
    # R43-24 at INR 1.2 gets the jaundiced line; at 1.7 part P's branches lead instead
    assert JAUNDICED_LINE in only(_r43_24(client), PREGNANCY_LIVER)["detail"]
    # at 30 weeks Swansea's acute fatty liver leads (bilirubin 4.0 with INR 1.7), as in part P
    card = only(_r43_24(client, inr=1.7), PREGNANCY_LIVER)
    assert "acute fatty liver? Glucose 2-hourly; obstetric + liver unit now" in card["summary"]
    assert "bilirubin 4.0 mg/dL:" not in card["summary"]
    assert JAUNDICED_LINE not in card["detail"]
    # at 16 weeks (no Swansea screen) part P's failing-INR summary and line lead
    card = only(_r43_24(client, weeks=16, inr=1.7), PREGNANCY_LIVER)
    assert card["summary"].startswith("ALT 20.0x, INR 1.7 at 16+1 weeks: acute liver failure?")
    assert INR_LEAD in card["detail"]
    assert JAUNDICED_LINE not in card["detail"]


def test_hellp_criteria_still_lead_a_jaundiced_hepatitis(client: FlaskClient) -> None:
    # R43-24 without HELLP's criteria gets the jaundiced summary; with them HELLP leads
    assert "bilirubin 4.0 mg/dL" in only(_r43_24(client), PREGNANCY_LIVER)["summary"]
    more = [LABS.ast(400), LABS.ldh(900), LABS.platelets(70)]
    card = only(_r43_24(client, more=more), PREGNANCY_LIVER)
    assert "HELLP syndrome; obstetric unit now" in card["summary"]
    assert "bilirubin 4.0 mg/dL" not in card["summary"]
    assert "HELLP syndrome by the Tennessee criteria" in card["detail"]
    assert JAUNDICED_LINE not in card["detail"]


# --- finding 2, R43-35 --------------------------------------------------------------------------


def test_r43_35_warfarin_in_pregnancy_with_a_hepatitis_picture(client: FlaskClient) -> None:
    found = _r43_35(client)
    within_limits(found)
    card = card_for(found, PREGNANCY_LIVER)
    detail = card["detail"]
    assert "On Warfarin the INR does not grade the injury (factor V if available)" in detail
    assert "INR 2.6 on Warfarin: anticoagulation team today (liver injury raises its effect)" in (
        detail
    )
    assert "obstetric and cardiology (valve) team today" in detail
    assert "INR 2.6 already" not in detail
    # part P's test still holds: the hepatitis summary, no liver unit there
    assert "hepatitis picture (viral, drug, fatty liver, HELLP?)" in card["summary"]
    assert "liver unit" not in card["summary"]


def test_without_warfarin_no_anticoagulation_or_cardiology_line(client: FlaskClient) -> None:
    # R43-35 on warfarin gets the cardiology line; the same labs without warfarin do not
    assert "cardiology (valve)" in card_for(_r43_35(client), PREGNANCY_LIVER)["detail"]
    card = only(_r43_24(client, bilirubin=1.0), PREGNANCY_LIVER)
    assert "anticoagulation" not in card["detail"]
    assert "cardiology" not in card["detail"]
