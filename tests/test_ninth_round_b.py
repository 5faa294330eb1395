"""Ninth round, part B (2026-11-30): the reviewers' open items n15, v10/n14, n08, n18, r18 and
r19, each with the record that showed it (docs/rulebook.md, "Ninth round, part B")."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from cds_service.clinical.facts import FACTS
from cds_service.knowledge import loader
from cds_service.knowledge.loader import KnowledgeBaseError
from tests.rules_helper import card_for, cards, fired, suggested
from tests.support.fhir import alp, condition, ggt, medication, observation, with_fasting

BONE = "alp-high-bone-source"
BONE_EXPLAINED = "alp-high-bone-explained"


def vitamin_d(value: float, when: str) -> dict[str, Any]:
    return observation("62292-8", value, when=when, unit="nmol/L", ucum="nmol/L", low=50, high=125)


COLECALCIFEROL = "Colecalciferol 800 units daily"


# --- n15: a replete 25-OH vitamin D outweighs an older coded deficiency ----------------------


def test_a_replete_result_outweighs_an_old_coded_vitamin_d_deficiency(
    client: FlaskClient,
) -> None:
    # n15: vitamin D deficiency coded in January, 78 nmol/L last month on colecalciferol, ALP
    # 1.8x, GGT normal: the bone-explained card read the code as the cause and said "re-check
    # 25-OH vitamin D". The measurement is newer and says replete.
    coded = condition("E55.9", onset="2026-01-15")
    drug = medication(text=COLECALCIFEROL)
    replete = vitamin_d(78, "2026-10-20T08:00:00Z")
    found = cards(client, [alp(190), ggt(18)], conditions=[coded], labs=[replete],
                  medications=[drug])  # fmt: skip
    assert fired(found) == [BONE]
    detail = found[0]["detail"]
    assert "replete, so vitamin D is not the cause" in detail
    assert "re-check 25-OH vitamin D" not in detail
    assert "vitamin D deficiency" not in found[0]["summary"]
    assert suggested(found[0]) == ["17838-4"]
    # Coded with no date at all: the measurement still wins.
    undated = condition("E55.9")
    found = cards(client, [alp(190), ggt(18)], conditions=[undated], labs=[replete],
                  medications=[drug])  # fmt: skip
    assert fired(found) == [BONE]


def test_a_deficiency_coded_after_the_result_or_an_old_result_still_counts(
    client: FlaskClient,
) -> None:
    drug = medication(text=COLECALCIFEROL)
    # Coded on 1 Nov, after the replete result of 20 Oct: the code is the newer word.
    later = condition("E55.9", onset="2026-11-01")
    found = cards(client, [alp(190), ggt(18)], conditions=[later],
                  labs=[vitamin_d(78, "2026-10-20T08:00:00Z")], medications=[drug])  # fmt: skip
    assert fired(found) == [BONE_EXPLAINED]
    # The replete result is older than 90 days: the code stands (as in the eighth round).
    coded = condition("E55.9", onset="2026-01-15")
    found = cards(client, [alp(190), ggt(18)], conditions=[coded],
                  labs=[vitamin_d(78, "2026-07-01T08:00:00Z")], medications=[drug])  # fmt: skip
    assert fired(found) == [BONE_EXPLAINED]
    assert "re-check 25-OH vitamin D" in found[0]["detail"]
    # Still deficient (25 nmol/L, under 30): not replete, the code stands. Eleventh round
    # (review 10, W4): 40 (low by the lab's range, limit 50, but not under 30) no longer leaves
    # the code explaining the rise: the bone-source card says it does not.
    found = cards(client, [alp(190), ggt(18)], conditions=[coded],
                  labs=[vitamin_d(25, "2026-10-20T08:00:00Z")], medications=[drug])  # fmt: skip
    assert fired(found) == [BONE_EXPLAINED]
    found = cards(client, [alp(190), ggt(18)], conditions=[coded],
                  labs=[vitamin_d(40, "2026-10-20T08:00:00Z")], medications=[drug])  # fmt: skip
    assert fired(found) == [BONE]
    assert "does not explain this rise" in found[0]["detail"]


def test_another_bone_cause_is_named_without_the_outweighed_deficiency(
    client: FlaskClient,
) -> None:
    paget = condition("M88.9")
    coded = condition("E55.9", onset="2026-01-15")
    found = cards(client, [alp(190), ggt(18)], conditions=[paget, coded],
                  labs=[vitamin_d(78, "2026-10-20T08:00:00Z")],
                  medications=[medication(text=COLECALCIFEROL)])  # fmt: skip
    card = card_for(found, BONE_EXPLAINED)
    assert "vitamin D deficiency" not in card["summary"]
    assert "re-check 25-OH vitamin D" not in card["detail"]


OUTWEIGHED = (
    "outweighed_by: {valueset: vitamin-d, status: [normal, high], "
    "within_days: vitamin_d_replete_days}"
)


@pytest.mark.parametrize(
    ("new", "message"),
    [
        (
            OUTWEIGHED.replace("vitamin-d,", "nope,"),
            r"outweighed_by\.valueset: unknown value set 'nope'",
        ),
        (
            OUTWEIGHED.replace("vitamin_d_replete_days", "nope_days"),
            r"unknown parameter 'nope_days'",
        ),
        (OUTWEIGHED.replace("[normal, high]", "[replete]"), r"findings\.yaml"),
    ],
)
def test_a_broken_outweighed_by_is_reported(tmp_path: Path, new: str, message: str) -> None:
    cards_copy = tmp_path / "cards"
    shutil.copytree(Path(__file__).resolve().parent.parent / "cards", cards_copy)
    findings = cards_copy / "findings.yaml"
    text = findings.read_text("utf-8")
    assert OUTWEIGHED in text
    findings.write_text(text.replace(OUTWEIGHED, new, 1), "utf-8")
    with pytest.raises(KnowledgeBaseError, match=message):
        loader.load(cards_copy, FACTS)


def test_outweighed_by_is_for_conditions_only(tmp_path: Path) -> None:
    cards_copy = tmp_path / "cards"
    shutil.copytree(Path(__file__).resolve().parent.parent / "cards", cards_copy)
    findings = cards_copy / "findings.yaml"
    old = "sources: [{from: medications, valueset: vitamin-d-replacement,"
    text = findings.read_text("utf-8")
    assert old in text
    new = old + f" {OUTWEIGHED},"
    findings.write_text(text.replace(old, new, 1), "utf-8")
    with pytest.raises(KnowledgeBaseError, match=r"`outweighed_by` is for conditions only"):
        loader.load(cards_copy, FACTS)


# --- v10, n14: the ALP from before an antiresorptive was started --------------------------


def on_drug(text: str, started: str, status: str = "active") -> dict[str, Any]:
    drug = medication(text=text, status=status)
    drug["authoredOn"] = started
    return drug


ALENDRONATE_2023 = "2023-04-10"


def earlier_alp(value: float, when: str) -> dict[str, Any]:
    return alp(value, when=when)


def test_a_low_alp_from_before_a_bisphosphonate_warns_at_the_first_low(
    client: FlaskClient,
) -> None:
    # v10: ALP 31 in 2022, alendronate from April 2023, ALP 33 now (a first low in two years):
    # the first-low card said "if the repeat is low, find an ALP from before it". The record
    # holds it, and it was low: hypophosphatasia, not the drug (atypical femoral fractures).
    drug = on_drug("Alendronate 70 mg weekly", ALENDRONATE_2023)
    found = cards(client, [alp(33)], labs=[earlier_alp(31, "2022-09-01T08:00:00Z")],
                  medications=[drug])  # fmt: skip
    assert fired(found) == ["alp-low-before-antiresorptive"]
    card = found[0]
    assert card["indicator"] == "warning"
    assert "low before it too (31 U/L on 1 Sep 2022): suspect hypophosphatasia" in card["summary"]
    assert "hold further doses until hypophosphatasia is excluded" in card["detail"]
    assert suggested(card) == ["62236-5"]
    # A low before the start on denosumab: do not stop it without a plan.
    prolia = on_drug("Denosumab 60 mg every 6 months (Prolia)", ALENDRONATE_2023)
    found = cards(client, [alp(33)], labs=[earlier_alp(31, "2022-09-01T08:00:00Z")],
                  medications=[prolia])  # fmt: skip
    assert fired(found) == ["alp-low-before-antiresorptive"]
    assert "do not stop or delay it without a bone-team plan" in found[0]["detail"]
    assert "hold further doses" not in found[0]["detail"]


def test_a_clearly_normal_alp_before_the_drug_makes_a_mild_low_its_expected_effect(
    client: FlaskClient,
) -> None:
    # n14: ALP 82 before alendronate, 33 now on it: the drug's effect, not a first-low work-up.
    drug = on_drug("Alendronate 70 mg weekly", ALENDRONATE_2023)
    before = earlier_alp(82, "2023-03-01T08:00:00Z")
    found = cards(client, [alp(33)], labs=[before], medications=[drug])
    assert fired(found) == ["alp-low-antiresorptive-expected"]
    card = found[0]
    assert card["indicator"] == "info"
    assert "normal before it (82 U/L on 1 Mar 2023): the drug's expected effect" in card["summary"]
    assert "suggestions" not in card
    # Persistently mildly low on it (an earlier low on the drug too): still its effect, no
    # antiresorptive warning.
    on_it = earlier_alp(34, "2026-06-01T08:00:00Z")
    found = cards(client, [alp(33)], labs=[before, on_it], medications=[drug])
    assert fired(found) == ["alp-low-antiresorptive-expected"]


def test_a_marked_or_borderline_or_missing_baseline_keeps_the_caution(
    client: FlaskClient,
) -> None:
    drug = on_drug("Alendronate 70 mg weekly", ALENDRONATE_2023)
    before = earlier_alp(82, "2023-03-01T08:00:00Z")
    # Markedly low (28) after a clearly normal 82: more than the drug usually does.
    found = cards(client, [alp(28)], labs=[before], medications=[drug])
    assert fired(found) == ["alp-low-first"]
    assert "more than the drug usually lowers it" in found[0]["detail"]
    assert "hold further doses" in found[0]["detail"]
    # Persistently, markedly low: the hypophosphatasia warning, as before.
    on_it = earlier_alp(27, "2026-06-01T08:00:00Z")
    found = cards(client, [alp(28)], labs=[before, on_it], medications=[drug])
    assert fired(found) == ["alp-low-persistent"]
    # Only low-normal before it (40 against a lower limit of 35): not reassuring.
    found = cards(client, [alp(33)], labs=[earlier_alp(40, "2023-03-01T08:00:00Z")],
                  medications=[drug])  # fmt: skip
    assert fired(found) == ["alp-low-first"]
    assert "only low-normal before it (40 U/L on 1 Mar 2023)" in found[0]["detail"]
    # No ALP from before the start (the 82 was drawn after it): the old advice to find one.
    after = earlier_alp(82, "2024-03-01T08:00:00Z")
    found = cards(client, [alp(33)], labs=[after], medications=[drug])
    assert fired(found) == ["alp-low-first"]
    assert "find an ALP from before it;" in found[0]["detail"]  # part M: "... it was started"
    # Persistently mildly low with no baseline: the antiresorptive warning, as before.
    on_it = earlier_alp(34, "2026-06-01T08:00:00Z")
    found = cards(client, [alp(33)], labs=[on_it], medications=[drug])
    assert fired(found) == ["alp-low-antiresorptive"]


def test_a_low_before_the_drug_is_named_on_the_hypophosphatasia_card(
    client: FlaskClient,
) -> None:
    drug = on_drug("Alendronate 70 mg weekly", ALENDRONATE_2023)
    labs = [earlier_alp(26, "2023-01-05T08:00:00Z"), earlier_alp(27, "2026-06-01T08:00:00Z")]
    found = cards(client, [alp(25)], labs=labs, medications=[drug])
    assert fired(found) == ["alp-low-persistent"]
    assert "Low before Alendronate was started too (26 U/L on 5 Jan 2023)" in found[0]["detail"]


# --- n08: an ALP of 2x or more during a recorded paracetamol overdose ---------------------

DISPROPORTIONATE = "alp-high-acute-injury-disproportionate"
OVERDOSE_DAY = "2026-11-18"


def overdose() -> dict[str, Any]:
    entry = condition("T39.1X2A", onset=OVERDOSE_DAY)
    entry["code"]["text"] = "Paracetamol overdose"
    return entry


def injury_labs(alp_value: float) -> list[dict[str, Any]]:
    return [
        alp(alp_value),
        observation("1742-6", 2800, low=7, high=45),
        observation("1920-8", 2100, low=8, high=43),
        observation("1975-2", 1.9, unit="mg/dL", ucum="mg/dL", low=0.1, high=1.2),
    ]


def test_an_alp_of_four_times_during_a_paracetamol_overdose_looks_for_a_second_cause(
    client: FlaskClient,
) -> None:
    # n08: overdose 2 days before, ALT 2800, ALP 420 (4x), no GGT: "order GGT to tell liver
    # from bone", as if there were no injury. Paracetamol injures liver cells; an ALP at 4x is
    # more than it raises ALP: name it, ultrasound for a second (cholestatic) cause.
    # Twenty-first round, part G (review 34, R34-11, R34-23): a raised ALT after a recorded
    # overdose is itself an indication for acetylcysteine, so the paracetamol warning leads and
    # hides this info card, keeping its point: the ALP is more than the injury explains,
    # ultrasound. The GGT one-click is not offered on the warning (judgement).
    found = cards(client, injury_labs(420), conditions=[overdose()])
    assert fired(found) == ["alp-high-hepatocellular-jaundice-cause"]
    card = found[0]
    assert "after paracetamol overdose" in card["summary"]
    assert "more than this injury explains: ultrasound" in card["detail"]
    # With a raised GGT: the same card, not the routine liver work-up (AMA, serology).
    found = cards(client, [*injury_labs(420), ggt(300)], conditions=[overdose()])
    assert fired(found) == ["alp-high-hepatocellular-jaundice-cause"]
    assert "anti-mitochondrial" not in found[0]["detail"]
    assert "suggestions" not in found[0]


def test_under_twice_the_limit_stays_quiet_and_known_causes_keep_their_cards(
    client: FlaskClient,
) -> None:
    # Under 2x the injury explains the ALP (alp-acute-liver-injury-explained holds), but since the
    # twenty-first round, part G (R34-12) an overdose with a raised ALT is
    # never left silent: the paracetamol warning shows (ALT 62x here).
    found = cards(client, injury_labs(207), conditions=[overdose()])
    assert fired(found) == ["alp-high-hepatocellular-jaundice-cause"]
    # No recorded overdose: the GGT card, as before.
    assert fired(cards(client, injury_labs(420))) == ["alp-high-confirm-origin"]
    # Known PBC explains it: its own card, not this one.
    pbc = condition("K74.3")
    found = cards(client, [*injury_labs(420), ggt(300)], conditions=[overdose(), pbc])
    assert DISPROPORTIONATE not in fired(found)


# --- r18: the alcohol pattern on the liver card ---------------------------------------------

LIVER = "alp-high-liver-source"


def ast_alt(ast: float, alt_value: float) -> list[dict[str, Any]]:
    return [
        observation("1920-8", ast, low=8, high=43),
        observation("1742-6", alt_value, low=7, high=45),
    ]


def test_recorded_alcohol_is_named_and_ama_waits(client: FlaskClient) -> None:
    # r18: alcohol dependence recorded, GGT 300, ALP 1.8x: the liver card offered AMA (PBC) and
    # did not name alcohol, which raises GGT (and AST) far more than ALP.
    dependence = condition("F10.20")
    dependence["code"]["text"] = "Alcohol dependence"
    found = cards(client, [alp(190), ggt(300), *ast_alt(70, 40)], conditions=[dependence])
    assert fired(found) == [LIVER]
    card = found[0]
    assert "likely alcohol-related (alcohol dependence); ultrasound first" in card["summary"]
    assert "alcohol history (AUDIT)" in card["detail"]
    assert "anti-mitochondrial antibodies for PBC" not in card["detail"]
    # At 3x or more alcohol does not explain it: the ordinary work-up, AMA included.
    found = cards(client, [alp(420), ggt(300), *ast_alt(70, 40)], conditions=[dependence])
    card = found[0]
    assert "alcohol" not in card["summary"]
    assert "does not explain an ALP of 4.0x" in card["detail"]
    assert "anti-mitochondrial antibodies for PBC" in card["detail"]


def test_ast_twice_alt_with_a_raised_ggt_is_named_as_the_alcohol_pattern(
    client: FlaskClient,
) -> None:
    found = cards(client, [alp(190), ggt(300), *ast_alt(120, 50)])
    assert fired(found) == [LIVER]
    card = found[0]
    assert "AST/ALT 2.4: alcohol pattern; alcohol history and ultrasound first" in card["summary"]
    assert "anti-mitochondrial antibodies for PBC" not in card["detail"]
    # AST within its range (a ratio of normal values means nothing), or under 2: as before.
    for labs in (ast_alt(40, 15), ast_alt(90, 50)):
        card = cards(client, [alp(190), ggt(300), *labs])[0]
        assert "alcohol" not in card["summary"]
        assert "anti-mitochondrial antibodies for PBC" in card["detail"]
    # A fever comes first (suspected cholangitis), whatever the ratio.
    temperature = observation("8310-5", 38.6, unit="Cel", ucum="Cel", when="2026-11-19T20:00:00Z")
    card = cards(client, [alp(190), ggt(300), *ast_alt(120, 50)], labs=[temperature])[0]
    assert "alcohol pattern" not in card["summary"]
    assert "suspected cholangitis" in card["detail"]


# --- n18: a first mild isolated rise in a well adult ---------------------------------------

MILD = "alp-high-mild-isolated"


def test_a_first_mild_isolated_rise_is_repeated_not_worked_up(client: FlaskClient) -> None:
    # n18: a well woman aged 56, ALP 125 (1.2x), GGT normal, nothing else abnormal: the card
    # asked for bone-specific ALP. Under 1.5x a first rise is often statistical or benign and
    # half settle: repeat it, fasting, in 1-3 months (Better Testing; Lieberman 1990).
    found = cards(client, [alp(125), ggt(20)])
    assert fired(found) == [MILD]
    card = found[0]
    assert "a mild isolated rise; repeat fasting in 1-3 months before any test" in card["summary"]
    assert suggested(card) == ["6768-6"]
    request = card["suggestions"][0]["actions"][0]["resource"]
    assert request["occurrencePeriod"] == {"start": "2026-12-18", "end": "2027-02-12"}
    # An earlier ALP that was normal: still the first raised value.
    normal_before = alp(80, when="2026-05-01T08:00:00Z")
    assert fired(cards(client, [alp(125), ggt(20)], labs=[normal_before])) == [MILD]


def test_a_persisting_higher_or_flagged_mild_rise_keeps_the_bone_work_up(
    client: FlaskClient,
) -> None:
    # Raised before too (persisting): bone-specific ALP (over 50), as before.
    raised_before = alp(120, when="2026-05-01T08:00:00Z")
    found = cards(client, [alp(125), ggt(20)], labs=[raised_before])
    assert fired(found) == [BONE]
    assert suggested(found[0]) == ["17838-4"]
    # 1.5x or more: investigate now.
    assert fired(cards(client, [alp(156), ggt(20)])) == [BONE]
    # Bone pain recorded; a fracture in the last year; a raised calcium; a low phosphate.
    pain = condition("LOCAL-1", "urn:oid:1.2.3")
    pain["code"]["text"] = "Bone pain, lower back and pelvis"
    fracture = condition("S42.201A", onset="2026-04-01", status="resolved")
    for extra in ({"conditions": [pain]}, {"conditions": [fracture]}):
        assert fired(cards(client, [alp(125), ggt(20)], **extra)) == [BONE]
    calcium = observation("17861-6", 11.2, unit="mg/dL", ucum="mg/dL", low=8.6, high=10.3)
    assert fired(cards(client, [alp(125), ggt(20), calcium])) == [BONE]
    phosphate = observation("2777-1", 2.0, unit="mg/dL", ucum="mg/dL", low=2.5, high=4.5)
    assert fired(cards(client, [alp(125), ggt(20), phosphate])) == [BONE]
    # "No bone pain" is not bone pain.
    denied = condition("LOCAL-2", "urn:oid:1.2.3")
    denied["code"]["text"] = "Back ache, no bone pain"
    assert fired(cards(client, [alp(125), ggt(20)], conditions=[denied])) == [MILD]
    # A non-fasting specimen: the bone-source card's fasting repeat now, as before.
    found = cards(client, [with_fasting(alp(125), "NF"), ggt(20)])
    assert fired(found) == [BONE]
    assert "repeat fasting before bone-specific ALP" in found[0]["summary"]
    # Raised ALT: not isolated.
    alt = observation("1742-6", 90, low=7, high=45)
    assert MILD not in fired(cards(client, [alp(125), ggt(20), alt]))


# --- r19: a stable mild rise on a bisphosphonate ------------------------------------------


def test_a_stable_mild_rise_on_alendronate_gets_no_card(client: FlaskClient) -> None:
    # r19: alendronate for osteoporosis, ALP 135 in May and 138 now (1.3x), GGT normal: the
    # bone-source card asked for bone-specific ALP at every result. On a drug that suppresses
    # bone turnover, an unchanged mild rise that has had its card is noise.
    drug = on_drug("Alendronate 70 mg weekly", ALENDRONATE_2023)
    before = alp(135, when="2026-06-01T08:00:00Z")
    assert cards(client, [alp(138), ggt(20)], labs=[before], medications=[drug]) == []
    # Falling on it (the drug's response): no card either.
    higher = alp(150, when="2026-06-01T08:00:00Z")
    assert cards(client, [alp(120), ggt(20)], labs=[higher], medications=[drug]) == []


def test_a_rising_higher_or_flagged_rise_on_an_antiresorptive_keeps_its_card(
    client: FlaskClient,
) -> None:
    drug = on_drug("Alendronate 70 mg weekly", ALENDRONATE_2023)
    before = alp(110, when="2026-06-01T08:00:00Z")
    # Rising by more than 20% (110 -> 145): bone-source card, as before.
    assert fired(cards(client, [alp(145), ggt(20)], labs=[before], medications=[drug])) == [BONE]
    # 1.5x or more, stable: bone-source card.
    stable_high = alp(160, when="2026-06-01T08:00:00Z")
    found = cards(client, [alp(165), ggt(20)], labs=[stable_high], medications=[drug])
    assert fired(found) == [BONE]
    # Denosumab stopped 12 months ago: rebound turnover is named, never quiet.
    stopped = on_drug("Denosumab 60 mg (Prolia)", "2025-12-01", status="stopped")
    found = cards(client, [alp(138), ggt(20)], labs=[alp(135, when="2026-06-01T08:00:00Z")],
                  medications=[stopped])  # fmt: skip
    assert fired(found) == [BONE]
    assert "denosumab stopped: rebound bone turnover" in found[0]["summary"]
    # Known Paget disease on the drug: its own quiet rule (stable and explained).
    paget = condition("M88.9")
    found = cards(client, [alp(138), ggt(20)], labs=[alp(135, when="2026-06-01T08:00:00Z")],
                  medications=[drug], conditions=[paget])  # fmt: skip
    assert found == []
    # Not on an antiresorptive: the stable rise keeps its work-up (bone ALP over 50).
    found = cards(client, [alp(138), ggt(20)], labs=[alp(135, when="2026-06-01T08:00:00Z")])
    assert fired(found) == [BONE]


def test_known_hypophosphatasia_keeps_its_own_antiresorptive_warning(client: FlaskClient) -> None:
    hpp = condition("E83.39")
    hpp["code"]["text"] = "Hypophosphatasia"
    drug = on_drug("Alendronate 70 mg weekly", ALENDRONATE_2023)
    found = cards(client, [alp(33)], labs=[earlier_alp(31, "2022-09-01T08:00:00Z")],
                  medications=[drug], conditions=[hpp])  # fmt: skip
    assert fired(found) == ["alp-known-hpp-antiresorptive"]


def test_a_contaminated_sample_is_named_before_the_drugs_effect(client: FlaskClient) -> None:
    drug = on_drug("Alendronate 70 mg weekly", ALENDRONATE_2023)
    potassium = observation("2823-3", 7.9, unit="mmol/L", ucum="mmol/L", low=3.5, high=5.1)
    calcium = observation("17861-6", 6.1, unit="mg/dL", ucum="mg/dL", low=8.6, high=10.3)
    found = cards(client, [alp(33), potassium, calcium],
                  labs=[earlier_alp(82, "2023-03-01T08:00:00Z")], medications=[drug])  # fmt: skip
    # Twenty-first round, integrator: a potassium of 7.0 or more with a low calcium is now its own
    # warning (alp-low-sample-artefact-gross: repeat and ECG now), standing in for this card.
    assert fired(found) == ["alp-low-sample-artefact-gross"]
