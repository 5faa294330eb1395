"""Eleventh round, part A (2026-11-30): the tenth bedside review's defects U1, U2, U4, N1, W1
and W2, each with the record that showed it (docs/rulebook.md, "Eleventh round, part A")."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.rules_helper import cards, fired
from tests.support.fhir import alp, ggt, observation, procedure

CHOLANGITIS = "alp-drainage-cholangitis"


def text_procedure(performed: str, text: str) -> dict[str, Any]:
    placed = procedure("LOCAL-STENT", performed, system="urn:oid:1.2.3")
    placed["code"]["text"] = text
    return placed


def bilirubin(mg_dl: float) -> dict[str, Any]:
    return observation("1975-2", mg_dl, unit="mg/dL", ucum="mg/dL", low=0.1, high=1.2)


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
