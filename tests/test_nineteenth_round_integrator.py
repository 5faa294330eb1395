"""Nineteenth round (2026-12-02), the integrator's part: the liver-source card's AMA line beside
heart failure (review 21, R21-06's remainder) and inflammatory bowel disease (review 22, R22-19);
a stable inadequate response in PBC (reviews 22 and 26, R22-22) (docs/rulebook.md, "Nineteenth
round (2026-12-02), the integrator's part")."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.rules_helper import cards, fired
from tests.support.fhir import alp, condition, ggt, medication, observation, patient
from tests.support.labs import RESULT_DATE, Labs, worded

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


LABS = Labs(RESULT_DATE)


def steps(card: dict[str, Any]) -> list[str]:
    return [s.split("\n\n")[0] for s in card["detail"].split("\n- ")[1:]]


def test_heart_failure_at_2x_with_a_normal_bilirubin_gets_ultrasound_then_ama(
    client: FlaskClient,
) -> None:
    # R21-06: 81-year-old, heart failure, ALP 260 (2.5x), GGT 200, ALT and bilirubin normal, no
    # cancer. Review 22 found the ultrasound line back but still no AMA/MRCP line.
    labs = [alp(260), ggt(200), LABS.bilirubin_umol(12), LABS.alt(30)]
    [card] = cards(client, labs, pt=OLD_MAN, conditions=[HEART_FAILURE])
    assert fired([card]) == [LIVER]
    lines = steps(card)
    assert lines[0].startswith("Right upper quadrant ultrasound first")
    assert AMA in lines
    assert "recheck once decongested" not in card["detail"]


def test_heart_failure_under_2x_still_holds_ama_until_decongested(client: FlaskClient) -> None:
    labs = [alp(187), ggt(120), LABS.bilirubin_umol(12), LABS.alt(30)]
    [card] = cards(client, labs, pt=OLD_MAN, conditions=[HEART_FAILURE])
    assert "congestion likely" in card["summary"]
    assert AMA not in steps(card)
    assert "AMA for PBC only if still cholestatic then" in card["detail"]


def test_heart_failure_at_2x_with_a_raised_bilirubin_keeps_the_congestion_line_only(
    client: FlaskClient,
) -> None:
    labs = [alp(260), ggt(200), LABS.bilirubin_umol(42), LABS.alt(30)]
    [card] = cards(client, labs, pt=OLD_MAN, conditions=[HEART_FAILURE])
    assert "congestion or obstruction" in card["summary"]
    assert AMA not in steps(card)


def test_inflammatory_bowel_disease_puts_mrcp_before_ama(client: FlaskClient) -> None:
    # R22-19: ulcerative colitis, ALP 2.4x, GGT 200: ultrasound, then AMA, then "MRCP for PSC";
    # in IBD, PSC is the likelier cholestatic cause, so MRCP comes first.
    labs = [alp(250), ggt(200), LABS.bilirubin_umol(12), LABS.alt(30)]
    [card] = cards(client, labs, conditions=[ULCERATIVE_COLITIS])
    lines = steps(card)
    assert lines[0].startswith("Right upper quadrant ultrasound first")
    assert IBD_FIRST in lines
    assert AMA not in lines
    assert IBD_BARE not in lines


def test_without_ibd_the_ama_line_is_unchanged(client: FlaskClient) -> None:
    labs = [alp(250), ggt(200), LABS.bilirubin_umol(12), LABS.alt(30)]
    [card] = cards(client, labs)
    assert AMA in steps(card)
    assert IBD_FIRST not in card["detail"]


def test_ibd_where_ama_does_not_apply_keeps_the_bare_mrcp_line(client: FlaskClient) -> None:
    # A child with ulcerative colitis: no AMA line (adults only), so the plain MRCP line stays.
    labs = [alp(700, low=100, high=390), ggt(200), LABS.bilirubin_umol(12), LABS.alt(30)]
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


# --- R27-05: a severe calcium with PTH suppressed beside a first low ALP -----------------------

CALCIUM_URGENT = "alp-calcium-urgent"
MYELOMA_SCREEN = "PTH suppressed: PTHrP, protein electrophoresis with free light chains (myeloma)"


def calcium_cards(client: FlaskClient, alp_value: float, pth: float | None) -> list[dict[str, Any]]:
    labs = [
        alp(alp_value, when=NOW),
        observation("2000-8", 3.05, unit="mmol/L", ucum="mmol/L", low=2.15, high=2.55, when=NOW),
        observation("14682-9", 130, unit="umol/L", ucum="umol/L", low=45, high=90, when=NOW),
    ]
    if pth is not None:
        labs.append(
            observation("2731-8", pth, unit="pmol/L", ucum="pmol/L", low=1.6, high=6.9, when=NOW)
        )
    return cards(client, labs, pt=patient("female", "1960-01-01"))


def test_suppressed_pth_beside_a_low_alp_keeps_the_myeloma_screen(client: FlaskClient) -> None:
    # R27-05: 66, calcium 3.05, PTH 0.8 (suppressed), no cancer recorded, first ALP 30 (35-104):
    # "IV fluids; no antiresorptive while the ALP is low", the cancer and myeloma line gone, and
    # the summary asked for the PTH on record.
    card = next(c for c in calcium_cards(client, 30, 0.8) if fired([c]) == [CALCIUM_URGENT])
    assert "PTH suppressed: cancer or myeloma until excluded; treat today" in card["summary"]
    assert "PTH with it" not in card["summary"]
    lines = steps(card)
    assert any(MYELOMA_SCREEN in line for line in lines)
    assert any("an antiresorptive only if the calcium does not settle" in line for line in lines)
    assert not any("PTH with an albumin-adjusted calcium" in line for line in lines)


def test_suppressed_pth_with_a_normal_alp_treats_and_screens(client: FlaskClient) -> None:
    card = next(c for c in calcium_cards(client, 80, 0.8) if fired([c]) == [CALCIUM_URGENT])
    lines = steps(card)
    assert any(line.startswith("Today: IV fluids, then an antiresorptive.") for line in lines)
    assert any(MYELOMA_SCREEN in line for line in lines)


def test_a_pth_within_its_range_is_not_suppressed_so_hyperparathyroidism(
    client: FlaskClient,
) -> None:
    card = next(c for c in calcium_cards(client, 80, 5.0) if fired([c]) == [CALCIUM_URGENT])
    assert "PTH not suppressed: hyperparathyroidism likely" in card["summary"]
    assert any(line.startswith("PTH not suppressed: primary") for line in steps(card))
    assert MYELOMA_SCREEN not in card["detail"]


def test_no_pth_on_record_still_asks_for_it(client: FlaskClient) -> None:
    card = next(c for c in calcium_cards(client, 30, None) if fired([c]) == [CALCIUM_URGENT])
    assert "PTH with it" in card["summary"]
    assert "look for cancer or myeloma" in card["detail"]


# --- R27-03: a child's bone pain and low counts beside a raised ALP ---------------------------

LEUKAEMIA = "alp-child-leukaemia-signs"


def child_lab(loinc: str, value: float, unit: str, low: float, high: float) -> dict[str, Any]:
    return observation(loinc, value, unit=unit, ucum=unit, low=low, high=high, when=NOW)


def test_bone_pain_and_low_counts_warn_of_leukaemia_at_a_raised_alp_too(
    client: FlaskClient,
) -> None:
    # R27-03: 6, a limp and night bone pain, Hb 8.0, platelets 60, LDH 800, ALP 520 (1.4x its
    # 156-369): only the bone-source card's "X-ray within 48 h", the counts unnamed.
    labs = [
        child_lab("718-7", 8.0, "g/dL", 11.5, 15.5),
        child_lab("777-3", 60, "10*9/L", 150, 400),
        child_lab("2532-0", 800, "U/L", 120, 250),
    ]
    results = [alp(520, low=156, high=369, when=NOW), ggt(12, high=23, when=NOW)]
    pain = [condition("R26.89", onset="2026-11-20"), condition("M79.661", onset="2026-11-10")]
    [card] = cards(client, results, pt=patient("male", "2020-06-06"), labs=labs, conditions=pain)
    assert fired([card]) == [LEUKAEMIA]
    assert card["indicator"] == "warning"
    assert "leukaemia until excluded" in card["summary"]
    assert any(line.startswith("ALP raised: an X-ray of the painful site") for line in steps(card))
    # Normal counts: the bone-source card and its X-ray, as before.
    normal = [
        child_lab("718-7", 13.0, "g/dL", 11.5, 15.5),
        child_lab("777-3", 250, "10*9/L", 150, 400),
    ]
    [card] = cards(client, results, pt=patient("male", "2020-06-06"), labs=normal, conditions=pain)
    assert fired([card]) == ["alp-high-bone-source"]


# --- Part J's "liver metastases excluded" read in words: an exclusion that was not made -------

CT_LINE = "cross-sectional imaging (CT)"


@pytest.mark.parametrize(
    "words",
    [
        "Liver metastases could not be excluded on CT",
        "Liver metastases cannot be excluded",
        "CT: liver metastases not ruled out",
    ],
)
def test_liver_metastases_not_excluded_keep_the_ct_line(client: FlaskClient, words: str) -> None:
    # The integrator's read-through of part J (R27-14): "could not be excluded" matched
    # "liver metastas & excluded" and dropped the known-cancer CT line.
    results = [alp(210, when=NOW), ggt(150, when=NOW)]
    conditions = [condition("C50.911", onset="2022-01-01"), worded(words, "2026-11-15")]
    [card] = cards(client, results, pt=patient("female", "1960-06-06"), conditions=conditions)
    # Twentieth round, part A (item 4): an exclusion not made is an open question; the MRI that
    # settles it takes the place of the known-cancer CT line.
    assert "MRI of the liver" in card["detail"]
