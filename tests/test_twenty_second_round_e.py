"""Twenty-second round (2026-12-02), part E: methotrexate (docs/rulebook.md, "Twenty-second round
(2026-12-02), part E").

1. Left open by the twenty-first round, part M: `alp-high-methotrexate-cytopenia` hid the info
   liver cards, and with them the severe liver warnings that stand in for those cards
   (`replaces`), so a febrile neutropenic patient on methotrexate with a failing liver (jaundice,
   INR 1.7, ALT 15x) got the sepsis card alone. The failing liver now shows beside it.
2. Review 37, finding 9 (R37-50, noisy): methotrexate at 24 weeks with a placental ALP got the
   pregnancy-causes line (bile acids, blood pressure, HELLP bloods "today") and folic acid 5 mg,
   first-trimester advice. The causes line now needs ALT or AST over 2x, a raised bilirubin,
   a low platelet count or a record of itching, right upper quadrant pain or pre-eclampsia;
   folic acid 5 mg is said in the first trimester (or when the gestation is not known)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from flask.testing import FlaskClient

from tests.rules_helper import card_for, fired, within_limits
from tests.support.labs import Labs, drug, post, since

NOW = "2026-12-02T08:00:00Z"
LABS = Labs(NOW)
RA = since("M06.9", "2020-01-01")
CYTOPENIA = "alp-high-methotrexate-cytopenia"
QUIET = "alp-high-methotrexate-cytopenia-quiet"
SEVERE_INJURY = "alp-high-acute-liver-injury-severe"
SEVERE_HEPATITIS = "alp-high-acute-hepatitis-severe"
MTX_PREGNANCY = "alp-high-methotrexate-pregnancy"
RULES = Path(__file__).resolve().parents[1] / "cards" / "rules"


def mtx() -> dict[str, Any]:
    return drug("Methotrexate 20 mg once weekly", "2023-01-01")


# --- 1: a failing liver beside the methotrexate cytopenia warning --------------------------------


def _ra(client: FlaskClient, *labs: dict[str, Any], conditions: Any = ()) -> list[dict[str, Any]]:
    # RA on weekly methotrexate; ALP 2x (208, range 35-104).
    return post(
        client, "female", "1964-01-01", [LABS.alp(208)], list(labs), [RA, *conditions], [mtx()]
    )


def test_febrile_neutropenia_with_a_failing_liver_shows_both_warnings(client: FlaskClient) -> None:
    # temperature 38.6, WBC 1.8, ALT 15x (600), bilirubin 4 mg/dL, INR 1.7, ALP 2x
    labs = [LABS.ggt(150), LABS.alt(600), LABS.bilirubin(4), LABS.inr(1.7)]
    found = _ra(client, *labs, LABS.temperature(38.6), LABS.wbc(1.8))
    assert fired(found) == [CYTOPENIA, SEVERE_INJURY], fired(found)
    within_limits(found)
    assert all(card["indicator"] == "warning" for card in found)
    sepsis, liver = found
    assert "toxicity or neutropenic sepsis; withhold it, sepsis pathway now" in sepsis["summary"]
    assert "Sepsis pathway now: blood cultures" in sepsis["detail"]
    assert "Withhold Methotrexate; tell the specialist team" in sepsis["detail"]
    assert "folinic acid rescue" in sepsis["detail"]
    assert "INR 1.7" in liver["summary"]
    assert "acute severe liver injury; liver unit today" in liver["summary"]
    assert "Methotrexate: withhold it" in liver["detail"]
    # without the fever the withhold card and the liver warning, both
    found = _ra(client, *labs, LABS.wbc(1.8))
    assert fired(found) == [CYTOPENIA, SEVERE_INJURY], fired(found)
    within_limits(found)
    assert "White count under 3.5 on Methotrexate: withhold it" in found[0]["summary"]


def test_cytopenia_with_a_normal_inr_and_no_jaundice_keeps_one_card(client: FlaskClient) -> None:
    labs = [LABS.ggt(150), LABS.alt(600), LABS.bilirubin(0.8), LABS.inr(1.0)]
    found = _ra(client, *labs, LABS.temperature(38.6), LABS.wbc(1.8))
    assert fired(found) == [CYTOPENIA], fired(found)
    within_limits(found)
    # jaundice with the fever but a normal INR: still the one card, with its cholangitis line
    labs = [LABS.ggt(250), LABS.alt(90), LABS.bilirubin(3.0), LABS.inr(1.1)]
    found = _ra(client, *labs, LABS.temperature(38.8), LABS.wbc(2.4))
    assert fired(found) == [CYTOPENIA], fired(found)
    assert "ultrasound today (cholangitis)" in found[0]["detail"]


def test_recorded_hepatitis_b_with_inr_1_6_shows_beside_cytopenia(client: FlaskClient) -> None:
    labs = [LABS.ggt(150), LABS.alt(400), LABS.bilirubin(1.0), LABS.inr(1.6), LABS.wbc(2.0)]
    found = _ra(client, *labs, conditions=[since("B18.1", "2015-01-01")])
    assert fired(found) == [CYTOPENIA, SEVERE_HEPATITIS], fired(found)
    within_limits(found)
    assert "liver unit today" in card_for(found, SEVERE_HEPATITIS)["summary"]


def _rule(rule_id: str) -> dict[str, Any]:
    rule: dict[str, Any] = yaml.safe_load((RULES / f"{rule_id}.yaml").read_text())
    return rule


def _bare(condition: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in condition.items() if k != "says"}


def test_the_quiet_rule_tracks_the_cytopenia_card_and_the_severe_triggers() -> None:
    """The silent rule hides the liver cards only where the cytopenia warning shows, and stands
    back wherever the severe liver cards' laboratory triggers hold (their parameters)."""
    quiet, cytopenia = _rule(QUIET), _rule(CYTOPENIA)
    assert quiet["kind"] == "silent"
    assert [_bare(c) for c in quiet["conditions"][:3]] == [
        _bare(c) for c in cytopenia["conditions"]
    ]
    assert {"alp-high-liver-source", "alp-high-liver-hepatocellular"} <= set(quiet["suppresses"])
    assert not {"alp-high-liver-source", "alp-high-liver-hepatocellular"} & set(
        cytopenia["suppresses"]
    )
    severe = [_bare(c) for c in _rule(SEVERE_INJURY)["conditions"]]
    released = quiet["conditions"][3]["none"][0]["all"]
    for trigger in released:
        assert _bare(trigger) in severe, trigger


# --- 2 (R37-50, noisy): methotrexate at 24 weeks ------------------------------------------------

CAUSES = "From 20 weeks the pregnancy causes too: bile acids, blood pressure"


def _pregnant(
    client: FlaskClient,
    weeks: str | None,
    alt: float,
    *more: dict[str, Any],
    bilirubin: float = 0.5,
    ggt: float = 30,
    codes: Any = (),
    beside: tuple[str, ...] = (),
) -> dict[str, Any]:
    # RA on weekly methotrexate, ALP 250 (placental from 20 weeks with GGT 30)
    pregnancy = [since("Z33.1", "2026-07-01")]
    if weeks:
        pregnancy.append(since(f"Z3A.{weeks}", "2026-12-01"))
    labs = [LABS.ggt(ggt), LABS.alt(alt), LABS.bilirubin(bilirubin), *more]
    conditions = [RA, *pregnancy, *codes]
    found = post(client, "female", "1997-01-01", [LABS.alp(250)], labs, conditions, [mtx()])
    assert fired(found) == [*beside, MTX_PREGNANCY], fired(found)
    within_limits(found)
    return card_for(found, MTX_PREGNANCY)


def test_r37_50_placental_alp_at_24_weeks_gets_the_drug_lines_only(client: FlaskClient) -> None:
    # ALP 250, GGT 30, ALT 50 (1.25x) at 24 weeks
    card = _pregnant(client, "24", 50)
    assert card["indicator"] == "warning"
    assert card["summary"].startswith("Methotrexate at 24")
    assert "stop it, rheumatology and obstetrics today" in card["summary"]
    text = card["summary"] + card["detail"]
    assert "folic acid" not in text
    assert "bile acids" not in text
    assert (
        "Stop Methotrexate today; rheumatology (an alternative compatible with pregnancy)"
        in (card["detail"])
    )
    assert "liver tests again in 2-4 weeks off the drug" in card["detail"]


def test_the_causes_line_needs_a_sign_of_them_from_20_weeks(client: FlaskClient) -> None:
    # ALT 2.5x
    assert CAUSES in _pregnant(client, "24", 100)["detail"]
    # a raised bilirubin
    assert CAUSES in _pregnant(client, "24", 50, bilirubin=1.8)["detail"]
    # platelets of 100 or less (HELLP's); part L (review 41, R41-65): on methotrexate they are
    # also its marrow toxicity (BSR: withhold under 150), so the cytopenia warning shows first
    assert CAUSES in _pregnant(client, "24", 50, LABS.platelets(90), beside=(CYTOPENIA,))["detail"]
    # itching on record (cholestasis of pregnancy)
    card = _pregnant(client, "24", 50, codes=[since("L29.9", "2026-11-25")])
    assert CAUSES in card["detail"]
    # neighbour: ALT exactly 2x is not over it
    assert CAUSES not in _pregnant(client, "24", 80)["detail"]


def test_folic_acid_5_mg_in_the_first_trimester_or_an_unknown_gestation(
    client: FlaskClient,
) -> None:
    card = _pregnant(client, "10", 50, ggt=60)
    assert "stop it, folic acid 5 mg, rheumatology and obstetrics today" in card["summary"]
    assert "folic acid 5 mg daily" in card["detail"]
    card = _pregnant(client, "13", 150, ggt=60)
    assert "folic acid 5 mg" in card["summary"]
    # part L (review 41, R41-64): ALT over 2x in pregnancy is worked up this week
    assert "ALT 3.8x: liver work-up this week" in card["summary"]
    card = _pregnant(client, "14", 150, ggt=60)
    assert "folic acid" not in card["summary"] + card["detail"]
    # pregnant, weeks not known: a first trimester is not excluded
    card = _pregnant(client, None, 50, ggt=60)
    assert "in pregnancy: stop it, folic acid 5 mg" in card["summary"]
    assert "folic acid 5 mg daily" in card["detail"]
