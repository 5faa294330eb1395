"""Nineteenth round (2026-12-02), the integrator's part: the liver-source card's AMA line beside
heart failure (review 21, R21-06's remainder) and inflammatory bowel disease (review 22, R22-19);
a stable inadequate response in PBC (reviews 22 and 26, R22-22) (docs/rulebook.md, "Nineteenth
round (2026-12-02), the integrator's part")."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.rules_helper import cards, fired
from tests.support.fhir import alp, condition, ggt, medication, observation, patient

LIVER = "alp-high-liver-source"
HEART_FAILURE = condition("I50.9")
ULCERATIVE_COLITIS = condition("K51.90")
OLD_MAN = patient("male", "1945-03-01")
AMA = "Ducts not dilated: anti-mitochondrial antibodies for PBC; MRCP if still unexplained."
IBD_FIRST = (
    "Ducts not dilated, inflammatory bowel disease recorded: MRCP for primary sclerosing"
    " cholangitis first; then AMA for PBC."
)
IBD_BARE = "Inflammatory bowel disease recorded: MRCP for primary sclerosing cholangitis."


def bilirubin(value: float) -> dict[str, Any]:
    return observation("1975-2", value, unit="umol/L", ucum="umol/L", low=3, high=21)


def alt(value: float) -> dict[str, Any]:
    return observation("1742-6", value, low=7, high=40)


def steps(card: dict[str, Any]) -> list[str]:
    return [s.split("\n\n")[0] for s in card["detail"].split("\n- ")[1:]]


def test_heart_failure_at_2x_with_a_normal_bilirubin_gets_ultrasound_then_ama(
    client: FlaskClient,
) -> None:
    # R21-06: 81-year-old, heart failure, ALP 260 (2.5x), GGT 200, ALT and bilirubin normal, no
    # cancer. Review 22 found the ultrasound line back but still no AMA/MRCP line.
    labs = [alp(260), ggt(200), bilirubin(12), alt(30)]
    [card] = cards(client, labs, pt=OLD_MAN, conditions=[HEART_FAILURE])
    assert fired([card]) == [LIVER]
    lines = steps(card)
    assert lines[0].startswith("Right upper quadrant ultrasound first")
    assert AMA in lines
    assert "recheck once decongested" not in card["detail"]


def test_heart_failure_under_2x_still_holds_ama_until_decongested(client: FlaskClient) -> None:
    labs = [alp(187), ggt(120), bilirubin(12), alt(30)]
    [card] = cards(client, labs, pt=OLD_MAN, conditions=[HEART_FAILURE])
    assert "congestion likely" in card["summary"]
    assert AMA not in steps(card)
    assert "AMA for PBC only if still cholestatic then" in card["detail"]


def test_heart_failure_at_2x_with_a_raised_bilirubin_keeps_the_congestion_line_only(
    client: FlaskClient,
) -> None:
    labs = [alp(260), ggt(200), bilirubin(42), alt(30)]
    [card] = cards(client, labs, pt=OLD_MAN, conditions=[HEART_FAILURE])
    assert "congestion or obstruction" in card["summary"]
    assert AMA not in steps(card)


def test_inflammatory_bowel_disease_puts_mrcp_before_ama(client: FlaskClient) -> None:
    # R22-19: ulcerative colitis, ALP 2.4x, GGT 200: ultrasound, then AMA, then "MRCP for PSC";
    # in IBD, PSC is the likelier cholestatic cause, so MRCP comes first.
    labs = [alp(250), ggt(200), bilirubin(12), alt(30)]
    [card] = cards(client, labs, conditions=[ULCERATIVE_COLITIS])
    lines = steps(card)
    assert lines[0].startswith("Right upper quadrant ultrasound first")
    assert IBD_FIRST in lines
    assert AMA not in lines
    assert IBD_BARE not in lines


def test_without_ibd_the_ama_line_is_unchanged(client: FlaskClient) -> None:
    labs = [alp(250), ggt(200), bilirubin(12), alt(30)]
    [card] = cards(client, labs)
    assert AMA in steps(card)
    assert IBD_FIRST not in card["detail"]


def test_ibd_where_ama_does_not_apply_keeps_the_bare_mrcp_line(client: FlaskClient) -> None:
    # A child with ulcerative colitis: no AMA line (adults only), so the plain MRCP line stays.
    labs = [alp(700, low=100, high=390), ggt(200), bilirubin(12), alt(30)]
    [card] = cards(client, labs, pt=patient("male", "2014-05-01"), conditions=[ULCERATIVE_COLITIS])
    assert IBD_BARE in steps(card)
    assert IBD_FIRST not in card["detail"]


# --- R22-22: a stable inadequate response on ursodeoxycholic acid ------------------------------

NOW = "2026-12-02T07:00:00Z"
PBC_RESPONSE = "alp-high-pbc-response"
PBC = [condition("K74.3", onset="2024-06-01")]
UDCA = {**medication(text="ursodeoxycholic acid 500 mg bd"), "authoredOn": "2025-06-01"}
OCALIVA = {**medication(text="Ocaliva 5 mg once daily"), "authoredOn": "2026-01-10"}
WOMAN = patient("female", "1960-01-01")


def pbc_cards(
    client: FlaskClient, earlier: float, when: str, medications: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    results = [alp(250, when=NOW), ggt(150, when=NOW)]
    labs = [alp(earlier, when=f"{when}T08:00:00Z")]
    return cards(client, results, pt=WOMAN, conditions=PBC, medications=medications, labs=labs)


def test_a_stable_inadequate_response_shows_at_a_periodic_review(client: FlaskClient) -> None:
    # R22-22: PBC on ursodeoxycholic acid for 18 months, ALP 250 (2.4x), GGT raised; 260 U/L 215
    # days before. Part C's look-back made it stable and explained, and the card that exists to
    # find an inadequate responder went quiet (review 26: wrong).
    [card] = pbc_cards(client, 260, "2026-04-30", [UDCA])
    assert fired([card]) == [PBC_RESPONSE]
    assert "inadequate response; hepatology review" in card["summary"]


def test_a_stable_inadequate_response_is_quiet_on_second_line_therapy(
    client: FlaskClient,
) -> None:
    assert pbc_cards(client, 260, "2026-04-30", [UDCA, OCALIVA]) == []


def test_a_stable_inadequate_response_is_quiet_when_seen_within_half_a_year(
    client: FlaskClient,
) -> None:
    # A repeat within months is not a periodic review: no reminder at every draw.
    assert pbc_cards(client, 245, "2026-10-01", [UDCA]) == []
