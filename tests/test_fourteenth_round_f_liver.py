"""Fourteenth round, part F (2026-12-01): the fourteenth review's liver and biliary defects, each
with the record that showed it (docs/rulebook.md, "Fourteenth round (2026-12-01), part F")."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.rules_helper import cards, fired
from tests.support.fhir import alp, condition, ggt, observation, patient, procedure

NEW_JAUNDICE = "alp-high-bilirubin-new-known"
STENT_DYSFUNCTION = "alp-high-stent-dysfunction"
JAUNDICE_WEIGHT_LOSS = "alp-high-jaundice-weight-loss"
LIVER_SOURCE = "alp-high-liver-source"
CALCIUM = "alp-calcium-urgent"
HEPATOCELLULAR = "alp-high-liver-hepatocellular"
AUGUST = "2026-08-15T08:00:00Z"


def worded(text: str, onset: str = "2020-03-01") -> dict[str, Any]:
    entry = condition("LOCAL1", system="urn:oid:1.2.3", onset=onset)
    entry["code"]["text"] = text
    return entry


def bilirubin(mg_dl: float, when: str = "2026-11-20T08:00:00Z") -> dict[str, Any]:
    return observation("1975-2", mg_dl, when=when, unit="mg/dL", ucum="mg/dL", low=0.1, high=1.2)


def stable_labs(
    now_bili: float, before_bili: float | None, alp_now: float = 245
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """ALP 235-240-245 (1.9x, stable), GGT 3x, ALT 2.2x; the bilirubin now and in August."""
    earlier = [
        alp(235, low=40, high=129, when="2026-06-01T08:00:00Z"),
        alp(240, low=40, high=129, when=AUGUST),
    ]
    if before_bili is not None:
        earlier.append(bilirubin(before_bili, when=AUGUST))
    now = [
        alp(alp_now, low=40, high=129),
        ggt(180, low=8, high=61),
        bilirubin(now_bili),
        observation("1742-6", 88, low=7, high=40),
    ]
    return now, earlier


TRANSPLANT = condition("Z94.4", onset="2022-04-01")
PBC = condition("K74.3", onset="2018-04-01")


# --- 1 (unsafe, N19 and N44): a stable, explained ALP silenced a new jaundice ---------------


def test_a_new_jaundice_after_a_liver_transplant_with_a_stable_alp_warns(
    client: FlaskClient,
) -> None:
    # Review 14, N19: transplant 2022, ALP 1.9x stable, bilirubin 0.9 -> 4.2: no card.
    now, earlier = stable_labs(4.2, 0.9)
    found = cards(client, now, labs=earlier, conditions=[TRANSPLANT])
    assert fired(found) == [NEW_JAUNDICE]
    card = found[0]
    assert card["indicator"] == "warning"
    assert "after a liver transplant" in card["summary"]
    assert "0.9 mg/dL on 15 Aug 2026" in card["detail"]
    assert "transplant team" in card["detail"]
    assert "anti-mitochondrial" not in card["detail"]


def test_a_new_jaundice_in_pbc_with_a_stable_alp_warns(client: FlaskClient) -> None:
    # Review 14, N44: PBC on ursodiol, ALP 1.5x stable, bilirubin 0.8 -> 3.6: no card.
    now, earlier = stable_labs(3.6, 0.8)
    found = cards(client, now, labs=earlier, conditions=[PBC])
    assert fired(found) == [NEW_JAUNDICE]
    assert "known liver disease" in found[0]["summary"]
    assert "hepatology" in found[0]["detail"]
    # A raised bilirubin rising past day-to-day variation (2.0 -> 3.6) warns too.
    now, earlier = stable_labs(3.6, 2.0)
    assert fired(cards(client, now, labs=earlier, conditions=[PBC])) == [NEW_JAUNDICE]


def test_stable_and_explained_stays_quiet_when_the_bilirubin_is_not_new_or_rising(
    client: FlaskClient,
) -> None:
    for entry in (TRANSPLANT, PBC):
        # Normal now; raised before and not rising (3.0 -> 3.6); raised, under visible jaundice,
        # with none before it. (A first bilirubin of 2.5 mg/dL or more with none before it is
        # no longer quiet: review 15, P28; tests/test_fifteenth_round.py.)
        for now_bili, before in ((0.8, 0.9), (3.6, 3.0), (1.8, None)):
            now, earlier = stable_labs(now_bili, before)
            found = cards(client, now, labs=earlier, conditions=[entry])
            assert fired(found) == [], (entry["code"], now_bili, before)


def test_a_new_jaundice_beside_a_recorded_acute_liver_injury_is_not_silent(
    client: FlaskClient,
) -> None:
    # The thirteenth round's resolving shock liver (quiet) with a bilirubin 0.8 -> 3.0: shown.
    shock = condition("R57.0", onset="2026-11-15")
    now = [
        alp(160, low=40, high=129),
        ggt(70, low=8, high=61),
        observation("1742-6", 900, low=7, high=40),
        observation("1920-8", 600, low=10, high=40),
        observation("2532-0", 800, low=135, high=214),
    ]
    earlier = [observation("1742-6", 2500, low=7, high=40, when="2026-11-17T08:00:00Z")]
    assert fired(cards(client, now, labs=earlier, conditions=[shock])) == []
    jaundiced = [*now, bilirubin(3.0)]
    with_before = [*earlier, bilirubin(0.8, when="2026-11-10T08:00:00Z")]
    # Twenty-first round, part G (review 34, R34-22): a recorded shock with ALT 3x or more and a
    # new jaundice is the recorded-cause warning (ischaemic hepatitis, severe with jaundice: INR
    # today, ALT again in 24-48 h), no longer the info hepatitis card: still not silent.
    found = cards(client, jaundiced, labs=with_before, conditions=[shock])
    assert fired(found) == ["alp-high-hepatocellular-jaundice-cause"]
    assert found[0]["indicator"] == "warning"
    assert "ischaemic" in found[0]["summary"]


# --- 2 (N18): a metal stent, the ALP stable, the bilirubin newly raised ----------------------


def test_a_new_jaundice_with_a_metal_stent_and_a_stable_alp_is_stent_dysfunction(
    client: FlaskClient,
) -> None:
    # Review 14, N18: metal stent Aug 2026, ALP 430 -> 445, bilirubin 1.0 -> 5.5, no fever: the
    # generic liver card with "liver metastases" and AMA.
    metal = procedure("LOCAL-STENT", "2026-08-20", system="urn:oid:1.2.3")
    metal["code"]["text"] = "ERCP with uncovered self-expanding metal biliary stent"
    before = "2026-10-30T08:00:00Z"
    earlier = [alp(430, low=40, high=129, when=before), bilirubin(1.0, when=before)]
    now = [alp(445, low=40, high=129), ggt(700, low=8, high=61), bilirubin(5.5)]
    cancer = condition("C25.0", onset="2026-07-01")
    found = cards(client, now, labs=earlier, procedures=[metal], conditions=[cancer])
    assert fired(found) == [STENT_DYSFUNCTION]
    assert "Bilirubin rising to 5.5 mg/dL" in found[0]["summary"]
    assert "up from 1.0 mg/dL on 30 Oct 2026" in found[0]["detail"]
    assert "anti-mitochondrial" not in found[0]["detail"]


# --- 3 (N21, N22): the suspected-cancer jaundice warning for Gilbert and alcoholic hepatitis --


def jaundice_labs(alp_value: float = 620, bili: float = 9.8) -> list[dict[str, Any]]:
    return [
        alp(alp_value, low=40, high=129),
        ggt(900, low=8, high=61),
        bilirubin(bili),
        observation("1742-6", 140, low=7, high=40),
    ]


def test_gilbert_haemolysis_or_alcoholic_hepatitis_is_no_suspected_cancer_warning(
    client: FlaskClient,
) -> None:
    old = patient(gender="male", birth_date="1972-03-01")
    loss = condition("R63.4", onset="2026-10-01")
    # Review 13, 17's warning still stands.
    assert fired(cards(client, jaundice_labs(), pt=old, conditions=[loss])) == [
        JAUNDICE_WEIGHT_LOSS
    ]
    for entry in (
        condition("E80.4", onset="2000-01-01"),  # review 14, N21
        worded("Gilbert's syndrome"),
        condition("K70.11", onset="2026-11-01"),  # review 14, N22
        worded("Alcoholic hepatitis, admitted Nov 2026", onset="2026-11-01"),
        condition("D58.0", onset="2000-01-01"),  # hereditary spherocytosis
    ):
        found = cards(client, jaundice_labs(), pt=old, conditions=[loss, entry])
        assert JAUNDICE_WEIGHT_LOSS not in fired(found), entry["code"]
        assert fired(found) == [LIVER_SOURCE], entry["code"]
    # A relative's Gilbert syndrome, or alcohol use without liver disease, is no exclusion.
    for entry in (worded("Brother - Gilbert syndrome"), condition("F10.20", onset="2015-01-01")):
        found = cards(client, jaundice_labs(), pt=old, conditions=[loss, entry])
        assert fired(found) == [JAUNDICE_WEIGHT_LOSS], entry["code"]


def test_the_suspected_cancer_warning_needs_an_obstructive_alp(client: FlaskClient) -> None:
    # Review 14, N21: ALP 1.1x with a bilirubin of 2.8 and weight loss.
    old = patient(gender="male", birth_date="1972-03-01")
    loss = condition("R63.4", onset="2026-10-01")
    for alp_value, expected in ((140, LIVER_SOURCE), (200, JAUNDICE_WEIGHT_LOSS)):  # 1.1x, 1.55x
        found = cards(client, jaundice_labs(alp_value, 2.8), pt=old, conditions=[loss])
        assert fired(found)[0] == expected, alp_value


def test_the_liver_card_names_gilbert_syndrome_for_a_raised_bilirubin_with_a_mild_alp(
    client: FlaskClient,
) -> None:
    # Review 14, N21: the liver card said "Bilirubin raised: ultrasound today" beside Gilbert.
    gilbert = condition("E80.4", onset="2000-01-01")
    found = cards(client, jaundice_labs(140, 2.8), conditions=[gilbert])
    assert fired(found) == [LIVER_SOURCE]
    assert "Gilbert syndrome recorded" in found[0]["detail"]
    assert "Bilirubin raised: ultrasound today" not in found[0]["detail"]
    # From 1.5x the ultrasound line stays: Gilbert syndrome does not exclude an obstruction.
    found = cards(client, jaundice_labs(260, 2.8), conditions=[gilbert])
    assert "Bilirubin raised: ultrasound today" in found[0]["detail"]
    assert "Gilbert syndrome recorded" not in found[0]["detail"]


# --- 4 (N43): liver metastases written only in words ---------------------------------------


def calcium(value: float) -> dict[str, Any]:
    return observation("2000-8", value, unit="mmol/L", ucum="mmol/L", low=2.2, high=2.6)


def test_liver_metastases_in_words_are_read_and_negations_or_queries_are_not(
    client: FlaskClient,
) -> None:
    # Review 14, N43: "Gastric adenocarcinoma with liver metastases", ALP 3.0x, GGT 6x, calcium
    # 2.70: the new-cholestasis liver card (ultrasound first, AMA for PBC).
    labs = [alp(390, low=40, high=129), ggt(400, low=8, high=61), calcium(2.70)]
    for text in (
        "Gastric adenocarcinoma with liver metastases",
        "Gastric ca - mets to the liver",
        "Hepatic secondaries from gastric adenocarcinoma",
    ):
        found = cards(client, labs, conditions=[worded(text)])
        assert fired(found)[0] == CALCIUM, text
    for text in ("Dyspepsia - no liver mets on CT", "?liver metastases", "Mother - liver mets"):
        found = cards(client, labs, conditions=[worded(text)])
        assert CALCIUM not in fired(found), text
