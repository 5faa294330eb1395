"""Sixteenth round, part A (2026-12-01): review 15's calcium, magnesium and myeloma leftovers
(P09, N02, P17, N11 and myeloma's raised ALP), each with the record that showed it
(docs/rulebook.md, "Sixteenth round (2026-12-01), part A")."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from cds_service.clinical.facts import FACTS
from cds_service.knowledge import loader
from cds_service.knowledge.loader import KnowledgeBaseError
from tests.rules_helper import card_for, cards, fired
from tests.support.fhir import alp, condition, ggt, medication, observation
from tests.test_fourteenth_round_g import (
    BONE,
    CALCIUM,
    MYELOMA,
    NOW,
    albumin,
    calcium,
    labs,
)
from tests.test_fourteenth_round_h import OMEPRAZOLE_74, mmol
from tests.test_thirteenth_round_e import MILD, URGENT_LOW

CARDS = Path(__file__).resolve().parent.parent / "cards"
CONFIRM = "alp-high-confirm-origin"
ARTEFACT = "alp-low-sample-artefact"
SPIRONOLACTONE = medication(text="spironolactone 25 MG Oral Tablet")


def adjusted(value: float, when: str = NOW) -> dict[str, Any]:
    """The laboratory's own albumin-adjusted calcium (LOINC 29265-6)."""
    return observation(
        "29265-6", value, unit="mmol/L", ucum="mmol/L", low=2.20, high=2.60, when=when
    )


# --- 1 (unsafe, P09): the laboratory's adjusted calcium is the adjusted calcium ------------------


def test_a_laboratory_adjusted_calcium_raised_beside_myeloma_warns(client: FlaskClient) -> None:
    # Review 15, P09: myeloma, total 2.50 in range with the lab's adjusted calcium 2.95 (above its
    # range) got "look for bone metastases" instead of the calcium warning.
    found = cards(client, labs(calcium(2.50), adjusted(2.95)), conditions=[MYELOMA])
    assert fired(found) == [CALCIUM]
    card = found[0]
    assert card["summary"].startswith("Adjusted calcium 2.95 mmol/L with a cancer recorded")
    assert (
        "Calcium 2.50 mmol/L (adjusted by the laboratory: 2.95 mmol/L) on 20 Nov 2026"
        in (card["detail"])
    )
    assert "not albumin-corrected" not in card["detail"]


def test_a_laboratory_adjusted_calcium_sent_alone_is_read(client: FlaskClient) -> None:
    found = cards(client, labs(adjusted(2.95)), conditions=[MYELOMA])
    assert fired(found) == [CALCIUM]
    assert "Calcium 2.95 mmol/L (adjusted for albumin by the laboratory)" in found[0]["detail"]
    # In mg/dL (46099-8) at the severe threshold: the warning whatever the record.
    mg = observation("46099-8", 12.4, unit="mg/dL", ucum="mg/dL", low=8.6, high=10.2)
    assert fired(cards(client, labs(mg))) == [CALCIUM]


def test_the_laboratory_adjusted_calcium_is_preferred_to_one_computed_here(
    client: FlaskClient,
) -> None:
    # Total 2.50 with albumin 25 would compute to 2.80 (raised); the lab, knowing its albumin
    # method, adjusted it to 2.55, inside its range: the lab's value is the one judged.
    same_draw = labs(calcium(2.50), albumin(25), adjusted(2.55))
    assert CALCIUM not in fired(cards(client, same_draw, conditions=[MYELOMA]))
    assert CALCIUM in fired(cards(client, labs(calcium(2.50), albumin(25)), conditions=[MYELOMA]))


# --- 2 (wrong, N02): the card names the calcium it judged --------------------------------------


def test_a_raised_adjusted_calcium_is_named_on_the_ggt_card(client: FlaskClient) -> None:
    # Review 15, N02: calcium 3.02 with albumin 53 (adjusted 2.76, above its range) and no GGT
    # got only "order GGT to tell liver from bone".
    no_ggt = [alp(194, low=40, high=129), calcium(3.02), albumin(53)]
    [card] = cards(client, no_ggt)
    assert card["source"]["topic"]["display"] == CONFIRM
    assert (
        "Calcium 3.02 mmol/L (adjusted for albumin 53 g/L: 2.76 mmol/L) raised" in (card["detail"])
    )
    # A calcium in range says nothing.
    [quiet] = cards(client, [alp(194, low=40, high=129), calcium(2.40), albumin(42)])
    assert "raised: PTH" not in quiet["detail"]


def test_an_adjusted_calcium_raised_over_a_normal_total_is_named_on_the_bone_card(
    client: FlaskClient,
) -> None:
    # Total 2.50 (in range) with albumin 27: adjusted 2.76. "calcium raised" with a total in
    # range named nothing the reader could see.
    [card] = cards(client, labs(calcium(2.50), albumin(27)))
    assert card["source"]["topic"]["display"] == BONE
    assert "adjusted calcium 2.76 mmol/L raised: PTH first" in card["summary"]
    assert (
        "Calcium 2.50 mmol/L (adjusted for albumin 27 g/L: 2.76 mmol/L) raised" in (card["detail"])
    )


# --- 3 (wrong, P17): EDTA needs its whole signature --------------------------------------------


# Twentieth round, part B: this magnesium (0.30 mmol/L) is severe: counted as the patient's, it
# gets the urgent card (URGENT_LOW) in place of the explained one.
def low_magnesium(potassium: float, calcium_value: float | None) -> list[dict[str, Any]]:
    found = [
        alp(31, low=40, high=129, when=NOW),
        mmol("2601-3", 0.30, 0.7, 1.0),  # magnesium
        mmol("2823-3", potassium, 3.5, 5.1),
    ]
    if calcium_value is not None:
        found.append(mmol("2000-8", calcium_value, 2.15, 2.55))
    return found


def test_a_high_potassium_from_spironolactone_does_not_make_a_low_magnesium_edta(
    client: FlaskClient,
) -> None:
    # Review 15, P17: magnesium 0.30 with potassium 5.9 on spironolactone (calcium normal) was
    # "not counted" as possible EDTA contamination.
    record = {**OMEPRAZOLE_74, "medications": [*OMEPRAZOLE_74["medications"], SPIRONOLACTONE]}
    found = cards(client, low_magnesium(5.9, 2.30), **record)
    assert fired(found) == [URGENT_LOW]
    assert "magnesium" in found[0]["summary"]
    assert "EDTA" not in found[0]["detail"]
    # Eighteenth round, part D (N01): the drug explains the potassium, not a low calcium beside
    # it, so a high potassium with a low calcium on spironolactone is EDTA's signature again
    # (this expected "explained" until then; kidney failure alone clears it now).
    # Twentieth round, part L (review 31, R31-47): changed. This record also has omeprazole, a
    # recorded cause of magnesium loss: spironolactone explains the potassium, omeprazole the
    # magnesium of 0.30, and a magnesium that low lowers calcium (it blocks PTH). The draw is the
    # patient's, and the magnesium is urgent; the drug alone still leaves EDTA's signature
    # (test_eighteenth_round_d, N01).
    found = cards(client, low_magnesium(6.4, 1.85), **record)
    assert fired(found) == [URGENT_LOW]


def test_a_high_potassium_with_a_normal_calcium_is_not_edta(client: FlaskClient) -> None:
    assert fired(cards(client, low_magnesium(5.9, 2.30), **OMEPRAZOLE_74)) == [URGENT_LOW]


def test_the_edta_signature_still_sets_the_magnesium_aside(client: FlaskClient) -> None:
    # High potassium with a low calcium and nothing to explain it: the artefact card.
    found = cards(client, low_magnesium(7.9, 1.52), **OMEPRAZOLE_74)
    # Twenty-first round, integrator: a potassium of 7.0 or more with a low calcium is now its own
    # warning (alp-low-sample-artefact-gross: repeat and ECG now), standing in for this card.
    assert fired(found) == [ARTEFACT + "-gross"]
    # High potassium, no calcium measured: not cleared; the card asks for both.
    found = cards(client, low_magnesium(6.2, None), **OMEPRAZOLE_74)
    assert fired(found) == [MILD]
    assert "Not counted: magnesium 0.3 mmol/L in this sample" in found[0]["detail"]
    assert "repeat with a potassium and calcium" in found[0]["detail"]


def test_kidney_failure_explains_a_high_potassium(client: FlaskClient) -> None:
    ckd = condition("N18.5")
    found = cards(client, low_magnesium(6.1, 1.95), conditions=[ckd], **OMEPRAZOLE_74)
    # Not the artefact card, and the same draw's low magnesium is counted as the patient's
    # (code review 17, F6: "not the artefact card" alone held with the exception switched off).
    assert fired(found) == [URGENT_LOW]
    assert "Severe hypomagnesaemia (magnesium 0.3 mmol/L" in found[0]["summary"]


def test_the_edta_signature_is_checked_in_the_knowledge_base(tmp_path: Path) -> None:
    copy = tmp_path / "cards"
    shutil.copytree(CARDS, copy)
    findings = copy / "findings.yaml"
    text = findings.read_text("utf-8")
    old = "edta_unless: potassium-raising-drug"
    assert old in text
    findings.write_text(text.replace(old, "edta_unless: magnesium-low-measured", 1), "utf-8")
    with pytest.raises(KnowledgeBaseError, match="must not read labs"):
        loader.load(copy, FACTS)


# --- 4 (N11): the calcium threshold on the card is the parameter -------------------------------


@pytest.mark.slow
def test_the_severe_calcium_threshold_on_the_card_follows_the_parameters(
    tmp_path: Path, make_app: Callable[..., Flask]
) -> None:
    edited = tmp_path / "cards"
    shutil.copytree(CARDS, edited)
    parameters = edited / "parameters.yaml"
    text = parameters.read_text("utf-8")
    mg = "  calcium_severe_mg_dl:\n    value: 12\n"
    mmol_l = "  calcium_severe_mmol_l:\n    value: 3.0\n"
    assert mg in text
    assert mmol_l in text
    # One changed without the other: refused.
    parameters.write_text(text.replace(mg, "  calcium_severe_mg_dl:\n    value: 11.6\n"), "utf-8")
    with pytest.raises(KnowledgeBaseError, match=r"calcium_severe_mmol_l\.same_as"):
        loader.load(edited, FACTS)
    both = text.replace(mg, "  calcium_severe_mg_dl:\n    value: 11.6\n").replace(
        mmol_l, "  calcium_severe_mmol_l:\n    value: 2.9\n"
    )
    parameters.write_text(both, "utf-8")
    client = make_app(kb_dir=edited).test_client()
    [card] = cards(client, labs(calcium(2.92)))
    assert card["source"]["topic"]["display"] == CALCIUM
    assert "2.9 mmol/L (11.6 mg/dL) or more" in card["summary"]


def test_the_card_shows_the_threshold_from_the_parameters(client: FlaskClient) -> None:
    [card] = cards(client, labs(calcium(3.10)))
    assert "3.0 mmol/L (12 mg/dL) or more" in card["summary"]


# --- 5 (myeloma): a raised ALP is not myeloma's bone disease ------------------------------------


def test_myeloma_with_a_raised_bone_alp_is_not_sent_to_look_for_metastases(
    client: FlaskClient,
) -> None:
    found = cards(client, labs(calcium(2.30)), conditions=[MYELOMA])
    card = card_for(found, BONE)
    assert "bone metastases" not in card["summary"] + card["detail"]
    assert "known myeloma: its lytic bone disease seldom raises ALP" in card["summary"]
    assert "suggests a fracture" in card["detail"]
    # Another bone-tropic cancer keeps its metastases reading.
    prostate = cards(client, labs(calcium(2.30)), conditions=[condition("C61")])
    assert "look for bone metastases" in card_for(prostate, BONE)["summary"]


def test_myeloma_with_no_ggt_is_told_the_ggt_decides(client: FlaskClient) -> None:
    [card] = cards(client, [alp(194, low=40, high=129), calcium(2.30)], conditions=[MYELOMA])
    assert card["source"]["topic"]["display"] == CONFIRM
    assert "seldom raises ALP, so the GGT decides" in card["detail"]


def test_myeloma_with_a_raised_ggt_is_a_liver_question(client: FlaskClient) -> None:
    liver = [alp(260, low=40, high=129), ggt(180, low=5, high=60), calcium(2.30)]
    assert BONE not in fired(cards(client, liver, conditions=[MYELOMA]))
