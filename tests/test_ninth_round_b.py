"""Ninth round, part B (2026-11-30): the reviewers' open items n15, v10/n14, n08, n18, r18 and
r19, each with the record that showed it (docs/rulebook.md, "Ninth round, part B")."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.rules_helper import card_for, cards, fired, suggested
from tests.support.fhir import alp, condition, ggt, medication, observation

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
    # Still low by the lab's range (40, limit 50): not replete, the code stands.
    found = cards(client, [alp(190), ggt(18)], conditions=[coded],
                  labs=[vitamin_d(40, "2026-10-20T08:00:00Z")], medications=[drug])  # fmt: skip
    assert fired(found) == [BONE_EXPLAINED]


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
