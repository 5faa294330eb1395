"""Twentieth round (2026-12-02), part M: review 31's pregnancy liver card length, hepatitis in
pregnancy and extreme ALP late in pregnancy (docs/rulebook.md, "Twentieth round (2026-12-02),
part M"). Each patient is rebuilt from the reviewer's facts (review 31's gen.py and
gen_probe.py), signed on 2 Dec 2026."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.rules_helper import card_for, fired
from tests.support.labs import Labs, drug, post, since, words

NOW = "2026-12-02T07:30:00Z"
LABS = Labs(NOW)


def delivered(on: str) -> list[dict[str, Any]]:
    return [since("O80", on), since("Z39.2", on)]


def pregnant(weeks: int, since_day: str) -> list[dict[str, Any]]:
    return [since("Z33.1", since_day), since(f"Z3A.{weeks}", "2026-12-01")]


CO_AMOXICLAV = [drug("Co-amoxiclav 625 mg three times daily", "2026-11-30")]
FLUCLOXACILLIN = [drug("Flucloxacillin 500 mg four times daily", "2026-11-24")]
NITROFURANTOIN = [drug("Nitrofurantoin 50 mg four times daily", "2026-11-20")]


# --- item 1: the pregnancy liver card under 130 words whatever lines meet -----------------------


def _hellp_fever_day_5(client: FlaskClient) -> list[dict[str, Any]]:
    # R31-08: day 5, HELLP by its criteria with 38.4 C and WBC 16, no drug
    results = [LABS.alp(330), LABS.ggt(45), LABS.alt(240), LABS.ast(260), LABS.bilirubin(1.6)]
    labs = [LABS.platelets(82), LABS.ldh(720), LABS.temperature(38.4), LABS.wbc(16)]
    return post(client, "female", "1995-01-01", results, labs, delivered("2026-11-27"))


def _endometritis_day_3(
    client: FlaskClient, bilirubin: float, hellp: bool = True
) -> list[dict[str, Any]]:
    # R31-48 (bilirubin 2.4), P04 (3.0), P05 (no HELLP): endometritis on co-amoxiclav, 38.3 C
    if hellp:
        results = [LABS.alp(300), LABS.ggt(60), LABS.alt(200), LABS.ast(220)]
        labs = [LABS.platelets(90), LABS.ldh(650), LABS.temperature(38.3)]
    else:
        results = [LABS.alp(300), LABS.ggt(60), LABS.alt(70)]
        labs = [LABS.platelets(230), LABS.ldh(210), LABS.temperature(38.3)]
    conditions = [*delivered("2026-11-29"), since("O86.12", "2026-11-30")]
    results.append(LABS.bilirubin(bilirubin))
    return post(client, "female", "1994-01-01", results, labs, conditions, CO_AMOXICLAV)


def _cellulitis_22_weeks(client: FlaskClient) -> list[dict[str, Any]]:
    # R31-41: 22 weeks, cellulitis on flucloxacillin, cholestatic with bilirubin 2.6
    results = [LABS.alp(390), LABS.ggt(260), LABS.alt(80), LABS.bilirubin(2.6)]
    conditions = [*pregnant(22, "2026-07-01"), since("L03.116", "2026-11-24")]
    return post(client, "female", "1997-01-01", results, [], conditions, FLUCLOXACILLIN)


def _hellp_34_weeks_jaundiced_on_a_drug(client: FlaskClient) -> list[dict[str, Any]]:
    # the pregnant HELLP line (the longest) with the jaundiced drug line beside it
    results = [LABS.alp(330), LABS.ggt(80), LABS.alt(230), LABS.ast(250), LABS.bilirubin(3.0)]
    conditions = [*pregnant(34, "2026-04-01"), since("L03.116", "2026-11-24")]
    labs = [LABS.platelets(80), LABS.ldh(700)]
    return post(client, "female", "1994-01-01", results, labs, conditions, FLUCLOXACILLIN)


def _the_card(found: list[dict[str, Any]]) -> dict[str, Any]:
    assert fired(found) == ["alp-high-pregnancy-liver"]
    [card] = found
    assert card["indicator"] == "warning"
    assert len(card["summary"]) <= 126
    assert words(card) <= 130, card["detail"]
    return card


def _bullets(card: dict[str, Any]) -> list[str]:
    return [line for line in card["detail"].splitlines() if line.startswith("- ")]


def test_hellp_with_fever_after_delivery_is_short_and_keeps_both_steps(
    client: FlaskClient,
) -> None:
    card = _the_card(_hellp_fever_day_5(client))
    assert "HELLP or cholangitis; team now" in card["summary"]
    assert "Obstetric team now" in card["detail"]
    assert "magnesium sulfate" in card["detail"]
    assert "Ultrasound today, blood cultures, antibiotics" in card["detail"]


@pytest.mark.parametrize("bilirubin", [2.4, 3.0])
def test_hellp_fever_and_a_drug_after_delivery_stay_under_130_words(
    client: FlaskClient, bilirubin: float
) -> None:
    # R31-48 (164 words) and P04 (171 words): the drug line, HELLP and cholangitis meet
    card = _the_card(_endometritis_day_3(client, bilirubin))
    assert "Obstetric team now" in card["detail"]
    assert "magnesium sulfate" in card["detail"]
    assert "Ultrasound today, blood cultures, antibiotics" in card["detail"]
    drug_lines = [b for b in _bullets(card) if "Co-amoxiclav" in b]
    assert drug_lines, "the drug line is kept"
    assert re.search(r"\b(stop|switch)", drug_lines[0], re.IGNORECASE)


def test_fever_and_a_drug_after_delivery_without_hellp_stay_under_130_words(
    client: FlaskClient,
) -> None:
    # P05: 145 words; the cholangitis line and the obstetric line with the drug line
    card = _the_card(_endometritis_day_3(client, 1.0, hellp=False))
    assert "cholangitis? Same-day review" in card["summary"]
    assert "Ultrasound today, blood cultures, antibiotics" in card["detail"]
    assert "obstetric team today" in card["detail"]
    assert any("Co-amoxiclav" in b for b in _bullets(card))


def test_a_jaundiced_drug_injury_in_pregnancy_stays_under_130_words(client: FlaskClient) -> None:
    # R31-41: 139 words
    card = _the_card(_cellulitis_22_weeks(client))
    assert "ultrasound for duct stones" in card["summary"]
    assert "Right upper quadrant ultrasound today" in card["detail"]
    assert "obstetric team today" in card["detail"]
    assert "switch an antibiotic still needed" in card["detail"]
    assert "INR now" in card["detail"]


def test_pregnant_hellp_with_a_jaundiced_drug_stays_under_130_words(client: FlaskClient) -> None:
    card = _the_card(_hellp_34_weeks_jaundiced_on_a_drug(client))
    assert "HELLP syndrome; obstetric unit now" in card["summary"]
    assert "Obstetric unit now" in card["detail"]
    assert "magnesium sulfate" in card["detail"]
    assert "15-20% have no raised blood pressure" in card["detail"]
    assert "switch an antibiotic still needed" in card["detail"]


# --- item 2: a hepatocellular picture in pregnancy reads as hepatitis, one card -----------------


def _hepatitis_26_weeks(client: FlaskClient, conditions: list[dict[str, Any]]) -> Any:
    results = [LABS.alp(240), LABS.ggt(110), LABS.alt(520), LABS.ast(430), LABS.bilirubin(2.8)]
    return post(client, "female", "2000-01-01", results, [], conditions, NITROFURANTOIN)


def test_a_hepatocellular_jaundice_in_pregnancy_on_a_drug_is_one_hepatitis_warning(
    client: FlaskClient,
) -> None:
    # R31-43: 26 weeks, nitrofurantoin for a UTI, ALT 13x (R 5.6), bilirubin 2.8
    conditions = [*pregnant(26, "2026-06-01"), since("N39.0", "2026-11-20")]
    card = _the_card(_hepatitis_26_weeks(client, conditions))
    summary, detail = card["summary"], card["detail"]
    assert "hepatitis" in summary
    assert "obstetric and hepatology today" in summary.lower()
    assert "cholestatic" not in summary
    assert "duct stone" not in summary
    assert "duct stone" not in detail
    assert "Serum bile acids" not in detail
    for step in ("HEV IgM", "HBsAg", "INR", "glucose", "platelets", "fatty liver", "HELLP"):
        assert step in detail, step
    drug_lines = [b for b in _bullets(card) if "Nitrofurantoin" in b]
    assert drug_lines
    assert "switch" in drug_lines[0]


def test_the_same_bloods_outside_pregnancy_keep_the_hys_law_card(client: FlaskClient) -> None:
    # neighbour: not pregnant, the Hy's law warning answers as before
    found = _hepatitis_26_weeks(client, [since("N39.0", "2026-11-20")])
    assert "alp-high-drug-hys-law" in fired(found)
    assert "alp-high-pregnancy-liver" not in fired(found)


def test_a_cholestatic_jaundice_in_pregnancy_keeps_the_ultrasound(client: FlaskClient) -> None:
    # neighbour: R 1.4 (R31-41's bloods without the drug) stays the duct-stone reading
    results = [LABS.alp(390), LABS.ggt(260), LABS.alt(80), LABS.bilirubin(2.6)]
    found = post(client, "female", "1997-01-01", results, [], pregnant(22, "2026-07-01"))
    card = _the_card(found)
    assert "ultrasound for duct stones" in card["summary"]
    assert "HEV IgM" not in card["detail"]


# --- item 3: extreme ALP with a raised GGT late in pregnancy, one card --------------------------


def _extreme(client: FlaskClient, conditions: list[dict[str, Any]], alp: float = 1250) -> Any:
    results = [LABS.alp(alp), LABS.ggt(180), LABS.alt(30), LABS.bilirubin(0.5)]
    return post(client, "female", "1992-01-01", results, [], conditions)


def test_an_extreme_alp_with_a_raised_ggt_at_35_weeks_is_one_card_with_the_obstetric_team(
    client: FlaskClient,
) -> None:
    # R31-30: alp-extreme and the liver card with AMA; no obstetric team
    found = _extreme(client, pregnant(35, "2026-04-01"))
    assert fired(found) == ["alp-extreme"]
    [card] = found
    summary, detail = card["summary"], card["detail"]
    assert len(summary) <= 126
    assert "raised GGT" in summary
    assert "bile acids" in summary
    assert "obstetric team today" in summary
    assert "bile acids" in detail
    assert "ltrasound" in detail
    assert "anti-mitochondrial" not in detail
    assert "after delivery" in detail  # AMA only if it persists then
    assert words(card) <= 110


def test_an_extreme_alp_with_a_raised_ggt_outside_pregnancy_keeps_the_liver_card(
    client: FlaskClient,
) -> None:
    # neighbour: not pregnant, both cards as before (the liver card's AMA and MRCP)
    found = _extreme(client, [])
    assert fired(found) == ["alp-extreme", "alp-high-liver-source"]
    assert "assess today for obstruction, sepsis or infiltration" in found[0]["summary"]
    assert "anti-mitochondrial" in card_for(found, "alp-high-liver-source")["detail"]


def test_a_raised_alp_and_ggt_at_35_weeks_below_the_extreme_keeps_the_liver_card(
    client: FlaskClient,
) -> None:
    # neighbour: ALP 390 with a raised GGT in pregnancy: the liver card with bile acids
    found = _extreme(client, pregnant(35, "2026-04-01"), alp=390)
    assert fired(found) == ["alp-high-liver-source"]
    assert "cholestasis of pregnancy" in found[0]["detail"]
