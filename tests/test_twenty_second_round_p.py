"""Twenty-second round (2026-12-02), part P: review 42's finding 1 (docs/clinical-reviews/
review-42.md; unsafe): in pregnancy an acute liver injury with a failing INR got the hepatitis
branch of alp-high-pregnancy-liver, which ignored the INR (R42-49: 32 weeks, ALT 600 (15x),
bilirubin 1.0 mg/dL, INR 1.7: "hepatitis picture (viral, drug, fatty liver, HELLP?)", the INR
asked for again, no liver unit), and offered acute fatty liver and HELLP at 14 weeks (R42-57).
The card now leads with the INR and the liver unit, and drops acute fatty liver and HELLP under
20 weeks (docs/rulebook.md, "Twenty-second round (2026-12-02), part P"). Each patient is rebuilt
from the reviewer's facts, signed on 2 Dec 2026."""

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
LEAD = "INR 1.7 already: liver unit today; glucose 2-hourly; paracetamol level; HEV IgM"


def pregnant(weeks: int) -> list[dict[str, Any]]:
    return [since("Z33.1", "2026-04-15"), since(f"Z3A.{weeks}", "2026-12-01")]


def _injury(
    client: FlaskClient,
    weeks: int = 32,
    inr: float = 1.7,
    more: list[dict[str, Any]] = [],  # noqa: B006 - never mutated
    medications: list[dict[str, Any]] = [],  # noqa: B006
    conditions: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    # R42-49: ALP 250 (2.4x: hepatocellular at 14 weeks too), ALT 600 (15x), bilirubin 1.0 mg/dL,
    # INR 1.7, glucose and platelets normal
    labs = [LABS.alt(600), LABS.bilirubin(1.0), LABS.inr(inr), LABS.glucose(5.0)]
    labs += [LABS.platelets(210), *more]
    conds = pregnant(weeks) if conditions is None else conditions
    return post(client, "female", FB, [LABS.alp(250)], labs, conds, medications)


def _text(card: dict[str, Any]) -> str:
    return f"{card['summary']}\n{card['detail']}"


def _asks_for_inr(detail: str) -> bool:
    """An INR asked for ("INR today", "INR, glucose", "INR and glucose"), not one named."""
    return any(ask in detail for ask in ("INR today", "INR, glucose", "INR and glucose"))


# --- R42-49: 32 weeks, ALT 15.0x, INR 1.7 -------------------------------------------------------


def test_r42_49_a_failing_inr_at_32_weeks_leads_the_pregnancy_card(client: FlaskClient) -> None:
    # one card: alp-high-acute-liver-injury-severe still stands down for this one in pregnancy
    card = only(_injury(client), PREGNANCY_LIVER)
    assert card["indicator"] == "warning"
    assert card["summary"] == (
        "ALT 15.0x, INR 1.7 at 32+1 weeks: acute fatty liver, HELLP or acute liver failure; "
        "obstetric and liver unit now"
    )
    detail = card["detail"]
    assert LEAD in detail
    assert not _asks_for_inr(detail), detail
    assert "hepatology teams today" not in detail
    # the INR line leads the steps
    assert detail.index(LEAD) < detail.index("HAV IgM")


# --- R42-57: the same at 14 weeks -------------------------------------------------------------


def test_r42_57_a_failing_inr_at_14_weeks_names_no_fatty_liver_or_hellp(
    client: FlaskClient,
) -> None:
    card = only(_injury(client, weeks=14), PREGNANCY_LIVER)
    assert card["summary"] == (
        "ALT 15.0x, INR 1.7 at 14+1 weeks: acute liver failure? Obstetric and liver unit now; "
        "paracetamol level, HEV IgM"
    )
    assert LEAD in card["detail"]
    assert "fatty liver" not in _text(card)
    assert "HELLP" not in _text(card)
    assert not _asks_for_inr(card["detail"]), card["detail"]


def test_r42_57_before_20_weeks_the_hepatitis_summary_drops_fatty_liver_and_hellp(
    client: FlaskClient,
) -> None:
    # neighbour: 14 weeks, ALT 15x, INR 1.1 (no failing INR): the hepatitis card as before, but
    # no acute fatty liver or HELLP before 20 weeks, and the INR on file named, not asked for
    card = only(_injury(client, weeks=14, inr=1.1), PREGNANCY_LIVER)
    assert card["summary"] == (
        "Pregnant, ALP 250 U/L, ALT 15.0x: hepatitis picture (viral, drug?); "
        "obstetric and hepatology today"
    )
    assert "fatty liver" not in _text(card)
    assert "HELLP" not in _text(card)
    assert "INR 1.1 on file" in card["detail"]
    assert not _asks_for_inr(card["detail"]), card["detail"]
    assert "liver unit" not in _text(card)


# --- neighbours ---------------------------------------------------------------------------------


def test_an_inr_of_1_3_at_32_weeks_keeps_the_hepatitis_card_and_is_named(
    client: FlaskClient,
) -> None:
    card = only(_injury(client, inr=1.3), PREGNANCY_LIVER)
    assert "hepatitis picture (viral, drug, fatty liver, HELLP?)" in card["summary"]
    assert "liver unit" not in _text(card)
    assert "INR 1.3 on file" in card["detail"]
    assert not _asks_for_inr(card["detail"]), card["detail"]


def test_warfarin_in_pregnancy_its_inr_is_the_drugs(client: FlaskClient) -> None:
    # rare (mechanical valve): an INR of 2.6 on warfarin is not failing synthesis
    found = _injury(client, inr=2.6, medications=[WARFARIN])
    within_limits(found)
    card = card_for(found, PREGNANCY_LIVER)
    assert "hepatitis picture (viral, drug, fatty liver, HELLP?)" in card["summary"]
    assert "liver unit" not in card["summary"]
    assert "INR 2.6 already" not in card["detail"]
    assert "INR 2.6 on file" in card["detail"]


def test_hellp_criteria_with_a_failing_inr_name_both(client: FlaskClient) -> None:
    # platelets 70, AST 400, LDH 900 (Tennessee) with INR 1.7 at 32 weeks
    more = [LABS.ast(400), LABS.ldh(900), LABS.platelets(70)]
    labs = [LABS.alt(600), LABS.bilirubin(1.0), LABS.inr(1.7), LABS.glucose(5.0), *more]
    found = post(client, "female", FB, [LABS.alp(320)], labs, pregnant(32))
    card = only(found, PREGNANCY_LIVER)
    assert "HELLP syndrome; obstetric unit now" in card["summary"]
    detail = card["detail"]
    assert detail.index("HELLP syndrome by the Tennessee criteria") < detail.index(LEAD)


def test_swansea_acute_fatty_liver_still_leads_with_a_failing_inr(client: FlaskClient) -> None:
    # R42-54's neighbour: bilirubin 8 with INR 1.7 at 32 weeks: the Swansea line leads, one
    # liver-unit line (its own), no second INR line
    labs = [LABS.alt(600), LABS.bilirubin(8.0), LABS.inr(1.7), LABS.glucose(5.0)]
    labs += [LABS.platelets(210)]
    card = only(post(client, "female", FB, [LABS.alp(320)], labs, pregnant(32)), PREGNANCY_LIVER)
    assert "acute fatty liver? Glucose 2-hourly; obstetric + liver unit now" in card["summary"]
    assert LEAD not in card["detail"]
    # the same woman with a normal bilirubin (Swansea not met): the INR line leads instead
    assert LEAD in only(_injury(client), PREGNANCY_LIVER)["detail"]


def test_a_failing_inr_in_the_first_week_after_a_birth(client: FlaskClient) -> None:
    # delivered 28 Nov (day 4), ALT 15x, bilirubin 1.0, INR 1.7: not "HELLP? same-day review"
    card = only(_injury(client, conditions=[since("O80", "2026-11-28")]), PREGNANCY_LIVER)
    assert card["summary"].startswith("Delivered ")
    assert (
        "ALT 15.0x, INR 1.7: acute fatty liver, HELLP or acute liver failure; liver unit now"
        in (card["summary"])
    )
    assert LEAD in card["detail"]
    assert not _asks_for_inr(card["detail"]), card["detail"]
