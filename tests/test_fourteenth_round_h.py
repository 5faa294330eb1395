"""Fourteenth round, part H (2026-12-01): review 14's children, low-ALP, EDTA and Wilson
defects, each with the record that showed it (docs/rulebook.md, "Fourteenth round ... part H")."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from cds_service.clinical.facts import FACTS
from cds_service.knowledge import loader
from cds_service.knowledge.loader import KnowledgeBaseError
from cds_service.knowledge.model import KnowledgeBase
from tests.rules_helper import cards, fired, suggested
from tests.support.fhir import alp, condition, ggt, medication, observation, patient
from tests.test_thirteenth_round_e import (
    EXPLAINED,
    MILD,
    NOW,
    PERSISTENT,
    WILSON,
    WILSON_YOUNG,
)

BONE = "alp-high-bone-source"
BONE_EXPLAINED = "alp-high-bone-explained"
URGENT_LOW = "alp-low-electrolyte-urgent"
THP = "alp-thp"
EARLIER = "2026-08-20T08:00:00Z"
CARDS = Path(__file__).resolve().parent.parent / "cards"


def named(code: str, text: str, **kwargs: Any) -> dict[str, Any]:
    entry = condition(code, **kwargs)
    entry["code"]["text"] = text
    return entry


def words(text: str, onset: str = "2026-11-01") -> dict[str, Any]:
    """A condition in words only (no code)."""
    entry = condition("X", onset=onset)
    entry["code"] = {"text": text}
    return entry


# --- 1 (N32): a potassium that is not high rules EDTA out --------------------------------------


def mmol(loinc: str, value: float, low: float, high: float) -> dict[str, Any]:
    return observation(loinc, value, unit="mmol/L", ucum="mmol/L", low=low, high=high, when=NOW)


def hypomagnesaemia(potassium: float) -> list[dict[str, Any]]:
    return [
        alp(31, low=40, high=129, when=NOW),
        mmol("2601-3", 0.30, 0.7, 1.0),  # magnesium
        mmol("2000-8", 1.85, 2.15, 2.55),  # calcium, low
        mmol("2823-3", potassium, 3.5, 5.1),
    ]


OMEPRAZOLE_74 = {
    "pt": patient("female", "1952-01-01"),
    "labs": [alp(33, low=40, high=129, when=EARLIER)],
    "medications": [medication(text="omeprazole 20 MG Delayed Release Oral Capsule")],
}


def test_true_hypomagnesaemia_with_low_calcium_and_low_potassium_is_counted(
    client: FlaskClient,
) -> None:
    # Review 14 N32: magnesium 0.30, calcium 1.85, potassium 2.9 with tetany on a PPI got
    # "Magnesium 0.3 mmol/L in this sample not counted (EDTA lowers it with ALP)" and a zinc,
    # TSH and B12 screen. A low potassium argues against EDTA (it raises potassium).
    found = cards(client, hypomagnesaemia(2.9), **OMEPRAZOLE_74)
    # Twentieth round, part B: 0.30 mmol/L is severe: the urgent card (it needs the magnesium
    # counted as the patient's) in place of the explained one.
    assert fired(found) == [URGENT_LOW]
    assert "magnesium" in found[0]["summary"]
    assert "EDTA" not in found[0]["detail"]
    assert suggested(found[0]) == []
    # A normal potassium with the low calcium: counted too.
    assert fired(cards(client, hypomagnesaemia(4.2), **OMEPRAZOLE_74)) == [URGENT_LOW]


def test_a_high_potassium_in_the_same_draw_still_means_possible_edta(client: FlaskClient) -> None:
    found = cards(client, hypomagnesaemia(7.9), **OMEPRAZOLE_74)
    # The EDTA signature (high potassium, low calcium): the sample-artefact card, and the
    # magnesium is not read as the patient's.
    assert EXPLAINED not in fired(found)
    # No potassium in the draw and nothing recorded to explain the magnesium: not counted, and
    # the card says why. Twentieth round, part B: the omeprazole is a recorded cause of magnesium
    # loss (value set magnesium-losing-drugs), so beside it the magnesium counts.
    labs = hypomagnesaemia(4.0)[:3]
    assert fired(cards(client, labs, **OMEPRAZOLE_74)) == [URGENT_LOW]
    found = cards(client, labs, pt=OMEPRAZOLE_74["pt"], labs=OMEPRAZOLE_74["labs"])
    assert fired(found) == [MILD]
    assert "Not counted: magnesium 0.3 mmol/L in this sample" in found[0]["detail"]
    assert "repeat with a potassium" in found[0]["detail"]


def test_the_edta_marker_is_data_and_needs_separate_draw(kb: KnowledgeBase, tmp_path: Path) -> None:
    sources = [s for s in kb.findings["magnesium-low-measured"].sources if s.kind == "labs"]
    assert [s.edta_marker for s in sources] == ["potassium"]
    copy = tmp_path / "cards"
    shutil.copytree(CARDS, copy)
    findings = copy / "findings.yaml"
    text = findings.read_text("utf-8")
    old = "separate_draw: true, edta_marker: potassium}"
    assert old in text
    findings.write_text(text.replace(old, "edta_marker: potassium}", 1), "utf-8")
    with pytest.raises(KnowledgeBaseError, match="`edta_marker` needs `separate_draw`"):
        loader.load(copy, FACTS)


# --- 2 (N07, N08, N09, N10, N42): a child who is not well is not 'growth' -----------------------


def child_alp(value: float) -> dict[str, Any]:
    """No lab range: the age and sex table applies (1-9 years: 142-335 U/L)."""
    return alp(value, low=None, high=None)


def child_ggt(value: float) -> dict[str, Any]:
    return ggt(value, low=None, high=None)


BOY_3 = patient("male", "2023-06-15")
GIRL_2 = patient("female", "2024-08-20")
BOY_14 = patient("male", "2012-03-10")
GIRL_10 = patient("female", "2016-05-05")
BOY_20_MONTHS = patient("male", "2025-03-20")


# Eighteenth round, part G (review 19, R19-07): a limp or pain now leads the summary with the
# 48-hour X-ray (NICE NG12); review 19 disagreed with the 'rickets screen' summary for N09.
XRAY_FIRST = "X-ray the painful site within 48 h"
RICKETS = "rickets screen"


@pytest.mark.parametrize(
    ("pt", "value", "entry", "summary"),
    [
        (BOY_3, 440, named("R26.89", "Limp, right leg", onset="2026-11-05"), XRAY_FIRST),  # N07
        (BOY_3, 440, words("Limping for two weeks"), XRAY_FIRST),
        (
            GIRL_2,
            470,
            named("M21.162", "Bowing of legs (genu varum)", onset="2026-10-01"),
            RICKETS,
        ),  # N08
        (GIRL_2, 470, words("Delayed walking"), RICKETS),
        (GIRL_2, 470, words("Knock knees, ?rickets"), RICKETS),
        (
            BOY_14,
            610,
            named("M25.561", "Pain in right knee, night pain", onset="2026-10-15"),
            XRAY_FIRST,
        ),  # N09
        (BOY_14, 610, words("Leg pain waking him at night"), XRAY_FIRST),
        (GIRL_10, 480, named("K90.0", "Celiac disease", onset="2026-08-20"), RICKETS),  # N10
    ],
)
def test_a_sign_or_risk_of_bone_disease_keeps_the_bone_source_card(
    client: FlaskClient, pt: dict[str, Any], value: float, entry: dict[str, Any], summary: str
) -> None:
    # Within the growth margin (1.5x) and, under 5, not transient hyperphosphatasaemia: each of
    # these was silent ('growth') after the thirteenth round.
    assert cards(client, [child_alp(value), child_ggt(12)], pt=pt) == []
    found = cards(client, [child_alp(value), child_ggt(12)], pt=pt, conditions=[entry])
    assert fired(found) == [BONE]
    assert summary in found[0]["summary"]
    assert "X-ray" in found[0]["detail"]


def test_nutritional_rickets_in_words_is_rickets(client: FlaskClient) -> None:
    # Review 14 N42: 'Nutritional rickets - vitamin D deficiency, wrist X-ray changes'.
    entry = words("Nutritional rickets - vitamin D deficiency, wrist X-ray changes")
    found = cards(client, [child_alp(470), child_ggt(10)], pt=BOY_20_MONTHS, conditions=[entry])
    assert fired(found) == [BONE_EXPLAINED]
    assert "rickets" in found[0]["summary"]
    assert "about 3 months of treatment" in found[0]["detail"]
    # Rickets ruled out, or a relative's: not the child's rickets (growth again).
    for text in ("No rickets on X-ray", "Family history of rickets (brother)"):
        entry = words(text)
        assert cards(client, [child_alp(470)], pt=BOY_20_MONTHS, conditions=[entry]) == [], text


def test_an_adults_sore_knee_or_gait_is_not_named_on_a_card(client: FlaskClient) -> None:
    # The new findings are read by the children's rules only: not listed on an adult's card.
    knee = named("M25.561", "Pain in right knee", onset="2026-10-15")
    gait = named("R26.2", "Difficulty in walking", onset="2026-10-15")
    adult = patient("female", "1950-01-01")
    found = cards(client, [alp(300, low=35, high=104), ggt(20)], pt=adult, conditions=[knee, gait])
    assert found
    for card in found:
        assert "knee" not in card["detail"].lower()
        assert "walking" not in card["detail"].lower()


# --- 3 (N27): hypophosphatasia signs and AST alone do not make the Wilson-first card ------------


WOMAN_29 = patient("female", "1997-03-03")
HPP_EARLIER = [alp(22, low=35, high=104, when="2026-05-20T08:00:00Z")]


def hpp_labs(alt_value: float = 28, ast_value: float = 46) -> list[dict[str, Any]]:
    return [
        alp(20, low=35, high=104, when=NOW),
        observation("1920-8", ast_value, low=10, high=40, when=NOW),
        observation("1742-6", alt_value, low=7, high=41, when=NOW),
    ]


STRESS_FRACTURE = named(
    "M84.374D", "Stress fracture, right foot, subsequent encounter", onset="2026-04-01"
)
CHONDROCALCINOSIS = named("M11.262", "Chondrocalcinosis of knees", onset="2026-02-01")


def test_hpp_picture_with_a_mildly_raised_ast_keeps_the_hypophosphatasia_card(
    client: FlaskClient,
) -> None:
    # Review 14 N27: 'exclude Wilson disease first' dropped the antiresorptive caution.
    found = cards(
        client,
        hpp_labs(),
        pt=WOMAN_29,
        labs=HPP_EARLIER,
        conditions=[STRESS_FRACTURE, CHONDROCALCINOSIS],
    )
    assert fired(found) == [PERSISTENT]
    assert "Avoid bisphosphonates and denosumab" in found[0]["detail"]
    assert "Wilson disease also lowers ALP" in found[0]["detail"]
    assert "2064-4" in suggested(found[0])


def test_ast_alone_does_not_lead_with_wilson(client: FlaskClient) -> None:
    found = cards(client, hpp_labs(), pt=WOMAN_29, labs=HPP_EARLIER)
    assert fired(found) == [PERSISTENT]


def test_a_raised_alt_still_leads_with_wilson_unless_an_hpp_sign_is_recorded(
    client: FlaskClient,
) -> None:
    found = cards(client, hpp_labs(alt_value=120), pt=WOMAN_29, labs=HPP_EARLIER)
    assert fired(found) == [WILSON_YOUNG]
    assert "raised ALT at" in found[0]["summary"]
    for entry in (STRESS_FRACTURE, CHONDROCALCINOSIS, words("Pseudogout of the knee")):
        found = cards(
            client, hpp_labs(alt_value=120), pt=WOMAN_29, labs=HPP_EARLIER, conditions=[entry]
        )
        assert fired(found) == [PERSISTENT], entry


# --- 4 (N26): an anticoagulant's INR beside inherited haemolysis is not liver failure ----------


MAN_30 = patient("male", "1996-02-02")
G6PD = named("D55.0", "Glucose-6-phosphate dehydrogenase deficiency", onset="1996-03-01")
WARFARIN = medication("855332", text="warfarin sodium 5 MG Oral Tablet")
APIXABAN = medication(text="apixaban 5 MG Oral Tablet")


def g6pd_labs(inr: float = 2.0) -> list[dict[str, Any]]:
    return [
        alp(24, low=40, high=129),
        observation("1975-2", 6.5, unit="mg/dL", ucum="mg/dL", low=0.1, high=1.2),
        observation("1920-8", 120, low=10, high=40),
        observation("1742-6", 45, low=7, high=41),
        observation("6301-6", inr, unit=None, ucum=None, low=0.8, high=1.2),
    ]


def test_g6pd_crisis_on_warfarin_is_not_the_wilson_pattern(client: FlaskClient) -> None:
    found = cards(client, g6pd_labs(), pt=MAN_30, conditions=[G6PD], medications=[WARFARIN])
    assert WILSON not in fired(found)
    # On a direct oral anticoagulant, the same beside an inherited haemolytic anaemia.
    found = cards(client, g6pd_labs(), pt=MAN_30, conditions=[G6PD], medications=[APIXABAN])
    assert WILSON not in fired(found)
    # Off any anticoagulant, an INR of 2.0 beside G6PD deficiency is liver failure: the warning.
    found = cards(client, g6pd_labs(), pt=MAN_30, conditions=[G6PD])
    assert WILSON in fired(found)


def test_outside_inherited_haemolysis_a_doac_inr_still_counts(client: FlaskClient) -> None:
    # The eighth round's rule stands: a DOAC never explains an INR at the threshold.
    found = cards(client, g6pd_labs(), pt=MAN_30, medications=[APIXABAN])
    assert WILSON in fired(found)


def test_on_warfarin_the_card_does_not_call_the_inr_liver_failure(client: FlaskClient) -> None:
    # The AST/ALT branch warns beside warfarin (no haemolytic anaemia recorded): the INR line
    # says it is the drug's.
    found = cards(client, g6pd_labs(), pt=MAN_30, medications=[WARFARIN])
    assert fired(found)[0] == WILSON
    assert "acute liver failure (INR" not in found[0]["detail"]  # sixteenth round wording
    assert "not a measure of liver failure" in found[0]["detail"]
