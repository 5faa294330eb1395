"""Thirteenth round, part D (2026-12-01): the thirteenth review's liver and biliary defects and
relatives' words on the problem list, each with the record that showed it (docs/rulebook.md,
"Thirteenth round (2026-12-01), part D")."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.rules_helper import cards, fired
from tests.support.fhir import alp, condition, ggt, observation, patient, procedure

KNOWN = "alp-high-liver-known"
LIVER_SOURCE = "alp-high-liver-source"


def worded(text: str, onset: str = "2020-03-01") -> dict[str, Any]:
    entry = condition("LOCAL1", system="urn:oid:1.2.3", onset=onset)
    entry["code"]["text"] = text
    return entry


# --- 3 (review 13, patient 41): a relative's disease is not the patient's ------------------


def test_a_relatives_pbc_on_the_problem_list_is_not_known_pbc(client: FlaskClient) -> None:
    # Review 13, 41: "Mother - PBC", new ALP 3.1x, GGT 6x: "likely from known mother - PBC; a
    # new work-up is not needed". Now the new-cholestasis card, with AMA.
    labs = [alp(320, low=35, high=104), ggt(260, low=5, high=40)]
    for text in (
        "Mother - PBC",
        "PBC (maternal aunt)",
        "Sister has primary biliary cholangitis",
        "Mum: PBC",
        "FHx PBC",
    ):
        found = cards(client, labs, conditions=[worded(text)])
        assert fired(found) == [LIVER_SOURCE], text
        assert "anti-mitochondrial" in found[0]["detail"], text


def test_the_patients_own_disease_with_a_relative_who_has_it_too_stands(
    client: FlaskClient,
) -> None:
    # Review 14, N23: "... - mother also had PBC" lost the patient's own PBC (and its
    # inadequate-response card) to the relatives' veto. "Also", "as well", "both": the
    # patient's disease; a family-history entry still is not.
    labs = [alp(320, low=35, high=104), ggt(260, low=5, high=40)]
    for text in (
        "Primary biliary cholangitis (AMA positive) - mother also had PBC",
        "PBC; sister has it as well",
        "PBC in both her and her mother",
    ):
        assert fired(cards(client, labs, conditions=[worded(text)])) == [KNOWN], text
    family = worded("Family history of PBC (mother also)")
    assert fired(cards(client, labs, conditions=[family])) == [LIVER_SOURCE]
    # The patient's own PBC in words still counts; "son" is a whole word only ("Wilson").
    for text in ("PBC - on urso since 2024", "PBC, dx 2019 by Dr Wilson"):
        assert fired(cards(client, labs, conditions=[worded(text)])) == [KNOWN], text
    # A code stands whatever the text says (the relative's word vetoes matches by words only).
    coded = condition("K74.3", onset="2020-03-01")
    coded["code"]["text"] = "PBC - mother also affected"
    assert fired(cards(client, labs, conditions=[coded])) == [KNOWN]


# --- 1 (review 13, patient 18): a rising bilirubin and ALP with a stent is stent dysfunction --

STENT_DYSFUNCTION = "alp-high-stent-dysfunction"
CHOLANGITIS = "alp-drainage-cholangitis"


def text_procedure(performed: str, text: str) -> dict[str, Any]:
    placed = procedure("LOCAL-STENT", performed, system="urn:oid:1.2.3")
    placed["code"]["text"] = text
    return placed


def bilirubin(mg_dl: float, when: str = "2026-11-20T08:00:00Z") -> dict[str, Any]:
    return observation("1975-2", mg_dl, when=when, unit="mg/dL", ucum="mg/dL", low=0.1, high=1.2)


def stent_labs(now: float = 420, bili: float = 4.6) -> list[dict[str, Any]]:
    return [alp(now, low=40, high=129), ggt(600, low=8, high=61), bilirubin(bili)]


EARLIER = [
    alp(180, low=40, high=129, when="2026-10-15T08:00:00Z"),
    bilirubin(0.9, when="2026-10-15T08:00:00Z"),
]


def test_a_rising_alp_and_bilirubin_with_a_metal_stent_and_no_fever_is_stent_dysfunction(
    client: FlaskClient,
) -> None:
    # Review 13, 18: uncovered metal stent for pancreatic cancer (Aug 2026), ALP 180 -> 420,
    # bilirubin 0.9 -> 4.6, no fever: the info liver card with "liver metastases" and "AMA for
    # PBC"; the stent was never tied to the rise.
    metal = text_procedure("2026-08-20", "ERCP with uncovered metal biliary stent")
    cancer = condition("C25.0", onset="2026-07-01")
    found = cards(client, stent_labs(), labs=EARLIER, procedures=[metal], conditions=[cancer])
    assert fired(found) == [STENT_DYSFUNCTION]
    card = found[0]
    assert card["indicator"] == "warning"
    assert "stent dysfunction" in card["summary"]
    assert "the team that placed it" in card["detail"]
    assert "anti-mitochondrial" not in card["detail"]
    assert "liver metastases" not in card["detail"]
    # With a fever it is the cholangitis warning, as before.
    fever = observation("8310-5", 38.9, unit="Cel", ucum="Cel")
    assert fired(cards(client, [*stent_labs(), fever], labs=EARLIER, procedures=[metal])) == [
        CHOLANGITIS
    ]


def test_no_stent_dysfunction_card_without_a_stent_a_rise_or_a_raised_bilirubin(
    client: FlaskClient,
) -> None:
    metal = text_procedure("2026-08-20", "ERCP with uncovered metal biliary stent")
    # A normal bilirubin, or an ALP not rising (stable) with a bilirubin raised before and not
    # rising, is not this card. (Fourteenth round, part F, review 14 N18: a stable ALP with a
    # bilirubin newly raised, 0.9 before, now is: tests/test_fourteenth_round_f_liver.py.)
    assert STENT_DYSFUNCTION not in fired(
        cards(client, stent_labs(bili=1.0), labs=EARLIER, procedures=[metal])
    )
    raised_before = [EARLIER[0], bilirubin(4.0, when="2026-10-15T08:00:00Z")]
    assert STENT_DYSFUNCTION not in fired(
        cards(client, stent_labs(now=190), labs=raised_before, procedures=[metal])
    )
    # A stent placed in the last 6 weeks: the previous ALP may predate it (not this card).
    recent = text_procedure("2026-11-01", "ERCP with uncovered metal biliary stent")
    assert STENT_DYSFUNCTION not in fired(
        cards(client, stent_labs(), labs=EARLIER, procedures=[recent])
    )
    # No stent or drainage: the ordinary liver card.
    assert fired(cards(client, stent_labs(), labs=EARLIER)) == [LIVER_SOURCE]


# --- 2 (review 13, patient 17): jaundice with weight loss at 40 or over -----------------------

JAUNDICE_WEIGHT_LOSS = "alp-high-jaundice-weight-loss"


def jaundice_labs(bili: float = 9.8) -> list[dict[str, Any]]:
    return [
        alp(620, low=40, high=129),
        ggt(900, low=8, high=61),
        bilirubin(bili),
        observation("1742-6", 140, low=7, high=40),
    ]


def test_obstructive_jaundice_with_weight_loss_at_71_is_suspected_cancer_not_ama(
    client: FlaskClient,
) -> None:
    # Review 13, 17: painless jaundice, 8 kg weight loss (R63.4), ALP 4.8x, bilirubin 9.8: an
    # info card ending "anti-mitochondrial antibodies for PBC".
    old = patient(gender="male", birth_date="1955-03-01")
    # (The worded entry is dated this autumn: weight loss counts only when recent, below.)
    recent = worded("Lost 8 kg since summer", onset="2026-09-15")
    for entry in (condition("R63.4", onset="2026-10-01"), recent):
        found = cards(client, jaundice_labs(), pt=old, conditions=[entry])
        assert fired(found) == [JAUNDICE_WEIGHT_LOSS], entry["code"]
        card = found[0]
        assert card["indicator"] == "warning"
        assert "suspected-cancer pathway" in card["detail"]
        assert "anti-mitochondrial" not in card["detail"]


def test_no_suspected_cancer_card_without_weight_loss_under_40_or_with_a_stent(
    client: FlaskClient,
) -> None:
    old = patient(gender="male", birth_date="1955-03-01")
    loss = condition("R63.4", onset="2026-10-01")
    # No weight loss, or weight loss denied or intended: the ordinary liver card.
    for conditions in ([], [worded("No weight loss")], [worded("Weight loss - dieting")]):
        assert fired(cards(client, jaundice_labs(), pt=old, conditions=conditions)) == [
            LIVER_SOURCE
        ], conditions
    # Under 40, or a normal bilirubin: not this card.
    young = patient(gender="male", birth_date="1990-03-01")
    assert JAUNDICE_WEIGHT_LOSS not in fired(
        cards(client, jaundice_labs(), pt=young, conditions=[loss])
    )
    assert JAUNDICE_WEIGHT_LOSS not in fired(
        cards(client, jaundice_labs(bili=0.8), pt=old, conditions=[loss])
    )
    # Code review: a bilirubin raised but short of jaundice (1.4 mg/dL, Gilbert level), or a
    # weight loss recorded years ago and never resolved: not this warning.
    assert JAUNDICE_WEIGHT_LOSS not in fired(
        cards(client, jaundice_labs(bili=1.4), pt=old, conditions=[loss])
    )
    old_loss = condition("R63.4", onset="2019-03-01")
    assert JAUNDICE_WEIGHT_LOSS not in fired(
        cards(client, jaundice_labs(), pt=old, conditions=[old_loss])
    )
    # At the jaundice threshold (2.5 mg/dL) it fires.
    assert fired(cards(client, jaundice_labs(bili=2.5), pt=old, conditions=[loss])) == [
        JAUNDICE_WEIGHT_LOSS
    ]
    # A stent in place: the stent's own cards.
    metal = text_procedure("2026-08-20", "ERCP with uncovered metal biliary stent")
    assert JAUNDICE_WEIGHT_LOSS not in fired(
        cards(client, jaundice_labs(), pt=old, conditions=[loss], procedures=[metal])
    )


# --- 4 (review 13, patient 10): shock 5 days back with the ALT already falling ----------------

HEPATOCELLULAR = "alp-high-liver-hepatocellular"


def shock_liver_labs(
    earlier_alt: float | None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    now = [
        alp(160, low=40, high=129),  # 1.24x
        ggt(70, low=8, high=61),  # 1.15x
        observation("1742-6", 900, low=7, high=40),  # 22.5x
        observation("1920-8", 600, low=10, high=40),
        observation("2532-0", 800, low=135, high=214),
    ]
    earlier = []
    if earlier_alt is not None:
        earlier.append(
            observation("1742-6", earlier_alt, low=7, high=40, when="2026-11-17T08:00:00Z")
        )
    return now, earlier


def test_cardiogenic_shock_5_days_back_with_alt_falling_from_its_peak_is_resolving_shock_liver(
    client: FlaskClient,
) -> None:
    # Review 13, 10: cardiogenic shock (R57.0) 5 days before the ALP, ALT 2500 two days after it
    # and 900 (22x) now, ALP 1.25x, GGT 1.15x: the hepatocellular card with hepatitis serology.
    shock = condition("R57.0", onset="2026-11-15")
    now, earlier = shock_liver_labs(2500)
    assert fired(cards(client, now, labs=earlier, conditions=[shock])) == []
    # With no earlier ALT, or one lower than today's (rising), the window is still 3 days.
    for earlier_alt in (None, 400):
        now, earlier = shock_liver_labs(earlier_alt)
        found = cards(client, now, labs=earlier, conditions=[shock])
        assert fired(found) == [HEPATOCELLULAR], earlier_alt
    # A shock more than 7 days back is not read as this injury's cause.
    old_shock = condition("R57.0", onset="2026-11-10")
    now, earlier = shock_liver_labs(2500)
    assert fired(cards(client, now, labs=earlier, conditions=[old_shock])) == [HEPATOCELLULAR]


# --- 5 (review 13, patient 20): stable mild cholestasis after a liver transplant --------------


def transplant_labs(now: float = 165) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    earlier = [
        alp(160, low=40, high=129, when="2026-06-01T08:00:00Z"),
        alp(158, low=40, high=129, when="2026-08-20T08:00:00Z"),
    ]
    return [alp(now, low=40, high=129), ggt(110, low=8, high=61), bilirubin(0.8)], earlier


def test_a_stable_mild_alp_after_a_liver_transplant_is_quiet_and_never_asks_for_ama(
    client: FlaskClient,
) -> None:
    # Review 13, 20: liver transplant 2023 (Z94.4), ALP 160, 158, 165 over six months (1.25x),
    # GGT 1.8x: "ultrasound first" and "anti-mitochondrial antibodies for PBC".
    for entry in (condition("Z94.4", onset="2023-04-01"), worded("OLT 2023 for ALD")):
        now, earlier = transplant_labs()
        assert fired(cards(client, now, labs=earlier, conditions=[entry])) == [], entry["code"]
    # A rise after a transplant still gets a card, without AMA. Changed in the twentieth round,
    # part G (review 30, R30-43): the transplant warning (Doppler, the transplant team) in place
    # of the liver card.
    transplant = condition("Z94.4", onset="2023-04-01")
    now, earlier = transplant_labs(now=240)
    found = cards(client, now, labs=earlier, conditions=[transplant])
    assert fired(found) == ["alp-high-transplant-cholestasis"]
    assert "anti-mitochondrial" not in found[0]["detail"]
    # Awaiting a transplant is not a transplant: the liver card, with AMA.
    now, earlier = transplant_labs()
    found = cards(client, now, labs=earlier, conditions=[worded("Awaiting liver transplant")])
    assert fired(found) == [LIVER_SOURCE]
    assert "anti-mitochondrial" in found[0]["detail"]
