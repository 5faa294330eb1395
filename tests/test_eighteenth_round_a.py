"""Eighteenth round (2026-12-02), part A: calcium, bone and the anti-TB card, each rebuilt from
the reviewer's patient (docs/rulebook.md, "Eighteenth round (2026-12-02), part A")."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.rules_helper import cards, fired, suggested
from tests.support.fhir import alp, condition, ggt, medication, observation
from tests.test_fourteenth_round_f_liver import worded
from tests.test_fourteenth_round_g import calcium

BONE_SOURCE = "alp-high-bone-source"
BONE_EXPLAINED = "alp-high-bone-explained"
PTH_LOINC = "2731-8"


def pth(value: float) -> dict[str, Any]:
    return observation(PTH_LOINC, value, unit="pg/mL", ucum="pg/mL", low=15, high=65)


def bone_labs(calcium_mmol_l: float, pth_pg_ml: float | None = None) -> list[dict[str, Any]]:
    labs = [alp(188, low=35, high=104), ggt(29, low=5, high=40), calcium(calcium_mmol_l)]
    if pth_pg_ml is not None:
        labs.append(pth(pth_pg_ml))
    return labs


GRAVES = worded("Graves' disease - new diagnosis, TRAb positive")


# --- 1 (wrong, N18 / N18b / E26): thyrotoxicosis "explained" a calcium of 2.95 with no PTH ----


def test_a_calcium_of_2_95_beside_graves_disease_with_no_pth_asks_for_pth(
    client: FlaskClient,
) -> None:
    # N18: ALP 1.8x, GGT normal, calcium 2.95 mmol/L, Graves disease in words, no PTH: the
    # explained card said "consistent with Graves' disease" and asked for nothing.
    for graves in (GRAVES, condition("E05.00")):
        [card] = cards(client, bone_labs(2.95), conditions=[graves])
        assert fired([card]) == [BONE_SOURCE]
        assert "calcium raised: PTH first" in card["summary"]
        assert suggested(card) == [PTH_LOINC]
        assert "raises calcium only mildly" in card["detail"]
        assert "until a PTH is known" in card["detail"]


def test_a_mild_calcium_beside_thyrotoxicosis_with_no_pth_still_asks_for_pth(
    client: FlaskClient,
) -> None:
    # Mild (2.70), but no PTH measured: primary hyperparathyroidism is not excluded.
    [card] = cards(client, bone_labs(2.70), conditions=[GRAVES])
    assert fired([card]) == [BONE_SOURCE]
    assert suggested(card) == [PTH_LOINC]


def test_a_calcium_above_the_mild_band_with_a_suppressed_pth_looks_for_a_second_cause(
    client: FlaskClient,
) -> None:
    [card] = cards(client, bone_labs(2.95, pth_pg_ml=8), conditions=[GRAVES])
    assert fired([card]) == [BONE_SOURCE]
    # Nineteenth round, part A (review 20 R20-43): the thyrotoxicosis line says only that it
    # does not explain this calcium; the PTH-independent line names malignancy and myeloma once.
    assert "under 2.8 mmol/L): it does not explain this one" in card["detail"]
    assert card["detail"].count("myeloma") == 1
    assert "PTH-independent (malignancy, myeloma" in card["detail"]


def test_a_mild_calcium_with_pth_not_raised_is_thyrotoxicosis_and_rechecked_once_euthyroid(
    client: FlaskClient,
) -> None:
    # The neighbour that must stay explained: a mild rise, PTH measured and not raised.
    for level in (8, 30):
        [card] = cards(client, bone_labs(2.70, pth_pg_ml=level), conditions=[GRAVES])
        assert fired([card]) == [BONE_EXPLAINED]
        assert "consistent with Graves' disease" in card["summary"]
        assert "recheck calcium once euthyroid" in card["detail"]
        assert "suggestions" not in card


def test_a_raised_pth_beside_thyrotoxicosis_is_named_hyperparathyroidism(
    client: FlaskClient,
) -> None:
    [card] = cards(client, bone_labs(2.70, pth_pg_ml=90), conditions=[GRAVES])
    assert fired([card]) == [BONE_EXPLAINED]
    assert "calcium and PTH raised: hyperparathyroidism" in card["summary"]
    assert "endocrine referral for primary hyperparathyroidism" in card["detail"]


def test_hyperparathyroidism_still_explains_a_raised_calcium(client: FlaskClient) -> None:
    # Over-reach check: a coded primary hyperparathyroidism explains calcium 2.95 as before.
    [card] = cards(client, bone_labs(2.95), conditions=[condition("E21.0")])
    assert fired([card]) == [BONE_EXPLAINED]
    assert card["summary"].endswith("consistent with primary hyperparathyroidism")


def test_thyrotoxicosis_still_explains_a_bone_alp_with_a_normal_calcium(
    client: FlaskClient,
) -> None:
    # Bone turnover: a raised ALP in thyrotoxicosis, calcium normal, is still its doing.
    [card] = cards(client, bone_labs(2.40), conditions=[GRAVES])
    assert fired([card]) == [BONE_EXPLAINED]
    assert "consistent with Graves' disease" in card["summary"]
    assert "recheck calcium" not in card["detail"]


# --- 2 (wrong, N09 / B13): co-amoxiclav started beside the anti-TB drugs was not named --------

TB_CARD = "alp-high-antituberculosis-drugs"
RIPE = [
    medication("9384", text="Rifampicin 600 mg daily"),
    medication("6038", text="Isoniazid 300 mg daily"),
    medication("8987", text="Pyrazinamide 1.5 g daily"),
]
TB_LABS = [
    alp(271, low=40, high=129),
    ggt(240, low=8, high=61),
    observation("1742-6", 116, low=7, high=40),
]


def drug(text: str, code: str | None = None, **course: str) -> dict[str, Any]:
    """A request with its course's bounds (start, end) and its written date."""
    entry = medication(code, text=text, status=course.pop("status", "active"))
    if "authored" in course:
        entry["authoredOn"] = course.pop("authored")
    if course:
        entry["dosageInstruction"] = [{"timing": {"repeat": {"boundsPeriod": course}}}]
    return entry


def tb_steps(client: FlaskClient, meds: list[dict[str, Any]]) -> list[str]:
    found = cards(client, TB_LABS, medications=[*RIPE, *meds])
    assert fired(found) == [TB_CARD]
    detail: str = found[0]["detail"]
    return detail.split("\n- ")[1:]


def test_co_amoxiclav_started_beside_tb_drugs_is_named_a_co_suspect(client: FlaskClient) -> None:
    # N09: rifampicin, isoniazid and pyrazinamide, and co-amoxiclav started ten days before an
    # ALP of 2.1x with a raised GGT and ALT: the warning named the TB drugs only.
    coamox = drug("Co-amoxiclav 625 mg three times daily", "19711", authored="2026-11-10")
    steps = tb_steps(client, [coamox])
    [line] = [s for s in steps if s.startswith("Co-suspect")]
    assert line.startswith("Co-suspect: Co-amoxiclav, started 10 Nov 2026; stop or replace it")
    # A course that has ended is named with its start and its end.
    ended = drug(
        "Flucloxacillin 500 mg four times daily",
        status="completed",
        start="2026-10-30",
        end="2026-11-06",
    )
    [line] = [s for s in tb_steps(client, [ended]) if s.startswith("Co-suspect")]
    assert "Flucloxacillin, started 30 Oct 2026, stopped 6 Nov 2026" in line


def test_no_co_suspect_line_for_the_tb_drugs_alone_or_an_old_drug(client: FlaskClient) -> None:
    # Over-reach check: the TB drugs (also drugs that raise ALP) are not their own co-suspect;
    # a drug begun years ago, or with no start in the record, is not named as one.
    assert not any(s.startswith("Co-suspect") for s in tb_steps(client, []))
    old = drug("Allopurinol 300 mg daily", authored="2019-03-01")
    undated = medication(text="Co-amoxiclav 625 mg three times daily")
    for meds in ([old], [undated]):
        assert not any(s.startswith("Co-suspect") for s in tb_steps(client, meds)), meds


# --- 3 (same fault as N18): a cause named as the explanation beyond what it explains -------


def test_a_fracture_is_not_named_as_the_explanation_of_a_rise_it_cannot_explain(
    client: FlaskClient,
) -> None:
    # ALP 2.5x, GGT normal, a femoral fracture 7 weeks ago and vitamin D deficiency coded: the
    # summary said "consistent with fracture of femur; vitamin D deficiency"; a fracture
    # explains only under 2x (fracture_explains_max_xuln). It stays on the record line.
    fracture = condition("S72.001A", status="resolved", onset="2026-10-01")
    labs = [alp(260, low=35, high=104), ggt(29, low=5, high=40)]
    [card] = cards(client, labs, conditions=[fracture, condition("E55.9")])
    assert fired([card]) == [BONE_EXPLAINED]
    assert card["summary"].endswith("consistent with vitamin D deficiency")
    assert "fracture of femur" in card["detail"]  # the record line
    # Over-reach check: under 2x the fracture explains and is named with the other cause.
    labs = [alp(180, low=35, high=104), ggt(29, low=5, high=40)]
    [card] = cards(client, labs, conditions=[fracture, condition("E05.00")])
    assert card["summary"].endswith("consistent with fracture of femur; thyrotoxicosis")


def test_thyrotoxicosis_says_bone_alp_can_rise_further_on_treatment(client: FlaskClient) -> None:
    [card] = cards(client, bone_labs(2.40), conditions=[GRAVES])
    assert "rises further in the first months of treatment" in card["detail"]
    [card] = cards(client, bone_labs(2.40), conditions=[condition("E21.0")])
    assert "first months of treatment" not in card["detail"]
