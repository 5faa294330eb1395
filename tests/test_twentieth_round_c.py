"""Twentieth round, part C (2026-12-02): review 29's HELLP, PSC and fatty liver in words,
post-partum and antibiotic findings, each patient built from the facts of the reviewer's request
(docs/clinical-reviews/review-29.md; docs/rulebook.md, "Twentieth round (2026-12-02), part C"),
with the neighbour that must not change beside each fix."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.rules_helper import fired
from tests.support.labs import Labs, day, drug, post, since, worded

NOW = "2026-12-02T07:30:00Z"
L = Labs(NOW)
PREGNANCY_LIVER = "alp-high-pregnancy-liver"


def words(card: dict[str, Any]) -> int:
    return len(card["detail"].split())


def platelets(value: float) -> dict[str, Any]:
    return L.lab("777-3", value, "10*9/L", 150, 400)


def ldh(value: float) -> dict[str, Any]:
    return L.lab("2532-0", value, "U/L", 120, 250)


def old_alp(value: float, date: str) -> dict[str, Any]:
    return L.alp(value, low=35, high=104, when=day(date))


# --- R29-35 (wrong, near unsafe): HELLP by Tennessee criteria at 31 weeks ---------------------

WEEK_31 = [since("Z33.1", "2026-05-01"), since("Z3A.31", "2026-12-01")]
HELLP_RESULTS = [L.alp(350), L.ggt(40), L.alt(300), L.ast(280), L.bilirubin(1.8)]


def test_hellp_by_tennessee_criteria_leads_and_is_stated_as_present(client: FlaskClient) -> None:
    [card] = post(
        client, "female", "1988-03-03", HELLP_RESULTS, [platelets(70), ldh(700)], WEEK_31
    )
    assert fired([card]) == [PREGNANCY_LIVER]
    assert card["indicator"] == "warning"
    summary = card["summary"]
    assert "HELLP syndrome" in summary
    assert "duct stone" not in summary
    assert "obstetric" in summary
    assert len(summary) <= 126
    detail = card["detail"]
    assert "HELLP if" not in detail
    assert "gallstones" not in detail
    assert detail.index("HELLP syndrome by the Tennessee criteria") < detail.index("ultrasound")
    assert "AST 280 U/L" in detail
    assert "magnesium sulfate" in detail
    assert "delivery planned" in detail
    assert words(card) <= 130


def test_hellp_in_the_first_week_after_delivery_is_stated_too(client: FlaskClient) -> None:
    delivered = [since("O80", "2026-11-29"), since("Z39.2", "2026-11-29")]
    [card] = post(
        client, "female", "1988-03-03", HELLP_RESULTS, [platelets(70), ldh(700)], delivered
    )
    assert fired([card]) == [PREGNANCY_LIVER]
    assert card["summary"].startswith("3 days after delivery, low platelets, raised AST and LDH")
    assert "HELLP syndrome;" in card["summary"]
    assert "duct stones" not in card["summary"]
    assert "gallstones" not in card["detail"]


def test_low_platelets_with_a_normal_ldh_keep_the_conditional_line(client: FlaskClient) -> None:
    # Neighbour: platelets 130 and LDH 300 are not HELLP's criteria; the line stays conditional.
    [card] = post(
        client, "female", "1988-03-03", HELLP_RESULTS, [platelets(130), ldh(300)], WEEK_31
    )
    assert fired([card]) == [PREGNANCY_LIVER]
    assert "HELLP syndrome" not in card["summary"]
    assert "HELLP if LDH" in card["detail"]
