"""Seventeenth round (2026-12-01), the integrator's part: review 18's gaps that no part took
(docs/rulebook.md, "Seventeenth round (2026-12-01), the integrator's part")."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.rules_helper import cards, fired
from tests.support.fhir import alp, ggt, observation

HEPATOCELLULAR = "alp-high-liver-hepatocellular"


def alt(value: float) -> dict[str, object]:
    return observation("1742-6", value, low=7, high=40)


def test_an_alt_in_the_thousands_leads_with_an_inr_and_a_paracetamol_level(
    client: FlaskClient,
) -> None:
    # B23: 35-year-old man, ALT 1250 (31x), ALP 1.2x, GGT raised: the hepatitis work-up came
    # without the INR (acute liver failure) and the paracetamol level (acetylcysteine).
    found = cards(client, [alp(125), ggt(90), alt(1250)])
    assert fired(found) == [HEPATOCELLULAR]
    [card] = found
    assert "severe acute hepatocellular injury; INR and paracetamol level today" in card["summary"]
    steps = card["detail"].split("\n- ")[1:]
    assert steps[0].startswith("ALT over 15x")
    assert "acetylcysteine at once if paracetamol is possible" in steps[0]


def test_a_moderate_hepatocellular_rise_keeps_the_hepatitis_work_up_alone(
    client: FlaskClient,
) -> None:
    found = cards(client, [alp(125), ggt(90), alt(400)])  # 10x: hepatocellular, not severe
    assert fired(found) == [HEPATOCELLULAR]
    [card] = found
    assert "hepatitis work-up" in card["summary"]
    assert "paracetamol" not in card["detail"]
