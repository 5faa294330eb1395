"""Nineteenth round (2026-12-02), part H: review 24's edges of parts D and E (docs/rulebook.md,
"Nineteenth round (2026-12-02), part H"). Each patient is rebuilt from the reviewer's facts
(review 24, gen.py), with the neighbour that must not change."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from cds_service.clinical.classify import _negation
from cds_service.knowledge.model import KnowledgeBase
from tests.rules_helper import fired
from tests.support.fhir import condition
from tests.support.labs import day, worded
from tests.test_nineteenth_round_e import (
    LABS,
    case,
    med,
    steps,
)

BONE_SOURCE = "alp-high-bone-source"
ORIGIN = "alp-high-origin-unclear"
LIVER = "alp-high-liver-source"


# --- R24-11: a negated Paget disease with "bone" elsewhere in the entry --------------------------


def negated_paget(client: FlaskClient, text: str) -> list[dict[str, Any]]:
    return case(
        client, "female", "1956-03-03", [LABS.alp(190), LABS.ggt(22)],
        [LABS.alp(185, when=day("2026-06-01")), LABS.calcium(2.40)], [worded(text, "2026-07-01")],
    )  # fmt: skip


def test_r24_11_paget_negated_beside_a_bone_scan_is_not_paget(client: FlaskClient) -> None:
    # 70F, "No evidence of Paget's disease of bone on bone scan" (text only); ALP 190 (1.8x)
    # stable against 185, GGT 22, calcium 2.40. Was silent: the "bone" of "bone scan" kept the
    # name "paget & bone", so Paget disease explained the ALP.
    for text in (
        "No evidence of Paget's disease of bone on bone scan",
        "Bone scan: no Paget's disease",
        "Paget's disease of bone ruled out on bone scan",
        "Not Paget's disease of the skull; skull and bone scan reviewed",
    ):
        assert fired(negated_paget(client, text)) == [BONE_SOURCE], text
    # Paget disease asserted, with a negated word elsewhere, still explains it.
    assert negated_paget(client, "Paget's disease of bone, no bone pain") == []
    assert negated_paget(client, "Paget's disease of bone - pelvis; no fracture on bone scan") == []


def test_r24_11_other_negated_compound_names(kb: KnowledgeBase) -> None:
    # The word that names the condition carries the negation: a negated melanoma is no cancer
    # history; a negated qualifier ("not excised") takes nothing back.
    history = kb.valuesets["cancer-history"]
    for text, taken_back in (
        ("Not melanoma: history of a dysplastic naevus", True),
        ("Melanoma, not excised", False),
        ("History of melanoma - no recurrence", False),
        ("Previous lymphoma, not in remission", False),
    ):
        name = history.match_name_in(text.lower())
        assert name is not None, text
        negation = _negation(kb, {"text": text})
        assert negation is not None
        assert negation.takes_back_words(history, name) is taken_back, text


# --- R24-09: a liver drug beside a normal GGT does not stop the quiet rules -----------------------


def amiodarone_man(client: FlaskClient, drug: str, gamma: float = 35) -> list[dict[str, Any]]:
    return case(
        client, "male", "1950-06-06",
        [LABS.alp(128), LABS.ggt(gamma), LABS.alt(30), LABS.bilirubin(0.7)],
        [LABS.alp(124, when=day("2026-06-15")), LABS.alp(126, when=day("2025-11-20"))],
        [condition("I48.91", onset="2020-01-01")],
        [med(drug, authored="2023-10-01"), med("Apixaban 5 mg bd")],
    )  # fmt: skip


def test_r24_09_amiodarone_with_a_normal_ggt_keeps_a_mild_stable_alp_quiet(
    client: FlaskClient,
) -> None:
    # 76M, AF on amiodarone for 3 years; ALP 128 (1.23x) against 124 and 126 over a year; GGT
    # 35, ALT 30, bilirubin 0.7. Was "bone source likely; order bone-specific ALP"; without the
    # drug, silent.
    assert amiodarone_man(client, "Amiodarone 200 mg daily") == []
    # The same for another liver drug taken for years.
    assert amiodarone_man(client, "Flucloxacillin 500 mg four times daily") == []
    # A raised GGT still keeps it from the quiet rule.
    assert amiodarone_man(client, "Amiodarone 200 mg daily", gamma=90) != []


# --- R24-10 and R23-16: bone metastases with a raised GGT, one CT first --------------------------


def breast_woman(client: FlaskClient, extra: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return case(
        client, "female", "1958-08-01",
        [LABS.alp(320), LABS.ggt(110), LABS.alt(38), LABS.bilirubin(0.7)],
        [LABS.alp(210, when=day("2026-08-20"))],
        [condition("C50.911", onset="2022-01-10"), condition("C79.51", onset="2025-03-01"), *extra],
        [med("Letrozole 2.5 mg daily")],
    )  # fmt: skip


def test_r24_10_bone_metastases_with_a_raised_ggt_get_one_ct(client: FlaskClient) -> None:
    # 68F, breast cancer with bone metastases on letrozole; ALP 210 -> 320 (3.1x), GGT 110
    # (2.75x), ALT 38, bilirubin 0.7; no heart failure, no liver drug. Was the liver card: CT,
    # then "ultrasound first", then AMA for PBC, then "imaging first".
    found = breast_woman(client, [])
    assert fired(found) == [ORIGIN]
    [card] = found
    assert "bone and liver may both contribute; CT with oncology" in card["summary"]
    assert steps(card) == [
        "GGT 110 U/L suggests liver metastases, the ALP from bone too: one CT (liver and bone) "
        "with oncology first."
    ]
    assert "ultrasound" not in card["detail"].lower()
    assert "anti-mitochondrial" not in card["detail"]
    assert not card.get("suggestions")


def test_r24_10_neighbours_liver_metastases_or_a_jaundice_keep_the_liver_cards(
    client: FlaskClient,
) -> None:
    # Liver metastases recorded: the known-liver card (liver-causes), not this branch.
    found = breast_woman(client, [condition("C78.7", onset="2026-01-01")])
    assert ORIGIN not in fired(found)
    # A fever: the liver card's urgent lines.
    found = case(
        client, "female", "1958-08-01",
        [LABS.alp(320), LABS.ggt(110), LABS.alt(38), LABS.bilirubin(0.7)],
        [LABS.alp(210, when=day("2026-08-20")), LABS.temperature(38.6)],
        [condition("C50.911", onset="2022-01-10"), condition("C79.51", onset="2025-03-01")],
    )  # fmt: skip
    assert ORIGIN not in fired(found)


def test_r23_16_ct_line_first_and_amiodarone_judged_on_alt(client: FlaskClient) -> None:
    # 76M, heart failure, amiodarone, prostate cancer with bone metastases; ALP 300 -> 424 (4.1x),
    # GGT 96 (2.4x), ALT 52. The amiodarone line led with "enzymes over 3x" (met by a bone ALP of
    # 4.1x), and the GGT line read "heart failure; Amiodarone or liver metastases".
    found = case(
        client, "male", "1950-10-10",
        [LABS.alp(424), LABS.ggt(96), LABS.alt(52), LABS.bilirubin(1.0)],
        [LABS.alp(300, when=day("2026-09-01"))],
        [condition("C61", onset="2023-02-01"), condition("C79.51", onset="2025-06-01"),
         condition("I50.22", onset="2022-01-01")],
        [med("Furosemide 40 mg daily"), med("Degarelix 80 mg monthly"),
         med("Amiodarone 200 mg daily", authored="2024-10-01")],
    )  # fmt: skip
    [card] = found
    assert card["source"]["topic"]["display"] == ORIGIN
    lines = steps(card)
    assert lines[0].startswith(
        "GGT 96 U/L may come from heart failure, amiodarone or liver metastases, the ALP from bone"
    )
    assert lines[1] == (
        "Amiodarone: recheck ALT and GGT in 2-4 weeks; review it with cardiology if ALT passes 3x."
    )
    assert "enzymes over 3x" not in card["detail"]
    assert "isoenzymes" not in card["detail"]


# --- R24-02: a new rise in PBC with a fever a recorded pneumonia explains -----------------------

CHOLANGITIS = "alp-high-suspected-cholangitis"
CO_AMOXICLAV = "amoxicillin 875 MG / clavulanate 125 MG Oral Tablet"


def pbc_with_pneumonia(
    client: FlaskClient,
    *,
    pneumonia_onset: str | None = "2026-11-30",
    antibiotic: bool = True,
    psc: bool = False,
) -> list[dict[str, Any]]:
    conditions = [condition("K83.01" if psc else "K74.3", onset="2018-01-01")]
    if pneumonia_onset:
        conditions.append(condition("J18.9", onset=pneumonia_onset))
    meds = [med("Ursodeoxycholic acid 500 mg twice daily")]
    if antibiotic:
        meds.append(med(CO_AMOXICLAV, authored="2026-11-30"))
    return case(
        client, "female", "1962-02-02",
        [LABS.alp(250), LABS.ggt(260), LABS.alt(60), LABS.bilirubin(0.9)],
        [LABS.alp(176, when=day("2026-09-01")), LABS.alp(172, when=day("2026-03-01")),
         LABS.temperature(38.7), LABS.wbc(14.2), LABS.crp(160)],
        conditions, meds,
    )  # fmt: skip


def test_r24_02_pneumonia_on_an_antibiotic_is_named_and_cholangitis_still_imaged(
    client: FlaskClient,
) -> None:
    # 64F, PBC on ursodiol (ALP 176, 172); today 250 (2.4x, up 42%), GGT 260, ALT 60, bilirubin
    # 0.9; pneumonia J18.9 since 30 Nov on co-amoxiclav; temperature 38.7, WBC 14.2, CRP 160. Was
    # the full warning with "antibiotics without waiting for imaging"; the pneumonia unnamed.
    found = pbc_with_pneumonia(client)
    assert fired(found) == [CHOLANGITIS]
    [card] = found
    assert card["indicator"] == "warning"
    assert "another infection recorded: sepsis-related cholestasis likely" in card["summary"]
    assert "ultrasound today for cholangitis" in card["summary"]
    assert len(card["summary"]) <= 126
    lines = steps(card)
    # Twentieth round, part E: J18.9's display "Pneumonia, unspecified organism" is named
    # "pneumonia" (the qualifier dropped); it was the finding's generic label "an infection
    # elsewhere (pneumonia, urinary tract, cellulitis)".
    assert lines[0].startswith("On amoxicillin / clavulanate for pneumonia:")
    assert "check that it covers biliary organisms" in lines[0]
    assert "without waiting for imaging" not in card["detail"]
    assert any(s.startswith("Ultrasound today") for s in lines)
    assert len(card["detail"].split()) <= 150


def test_r24_02_neighbours(client: FlaskClient) -> None:
    # No antibiotic yet: cultures and one that covers biliary organisms too.
    [card] = pbc_with_pneumonia(client, antibiotic=False)
    assert "sepsis-related cholestasis likely" in card["summary"]
    assert any("antibiotics that cover biliary organisms too" in s for s in steps(card))
    # No pneumonia, or one a month old: the cholangitis warning as before (R23-41).
    for onset in (None, "2026-10-15"):
        [card] = pbc_with_pneumonia(client, pneumonia_onset=onset)
        assert "acute cholangitis until excluded" in card["summary"], onset
        assert steps(card)[0].startswith("Blood cultures, then antibiotics without waiting")
    # PSC (strictures; the disease of bacterial cholangitis): cholangitis first.
    [card] = pbc_with_pneumonia(client, psc=True)
    assert "acute cholangitis until excluded" in card["summary"]


# --- R24-25: a girl of 17 at the adult ALP limit is past growth ----------------------------------


def teenager(client: FlaskClient, sex: str, born: str, value: float) -> list[dict[str, Any]]:
    return case(
        client, sex, born,
        [LABS.alp(value), LABS.ggt(14, high=23), LABS.alt(15), LABS.calcium(2.40),
         LABS.phosphate(1.2)]
    )  # fmt: skip


def test_r24_25_a_girl_of_17_at_the_adult_limit_gets_the_adult_bone_work_up(
    client: FlaskClient,
) -> None:
    # 17-year-old girl, ALP 180 against 35-104 (1.7x; the table's row for girls of 17 and over
    # is the adult one), GGT 14, ALT 15, calcium 2.40, phosphate 1.2, well. Was "growth likely;
    # 25-OH vitamin D ... ALP peaks in puberty".
    found = teenager(client, "female", "2009-06-01", 180)
    assert fired(found) == [BONE_SOURCE]
    [card] = found
    assert "growth likely" not in card["summary"]
    assert "rickets" not in card["summary"]
    assert "puberty" not in card["detail"]
    assert any("osteomalacia and hyperparathyroidism" in s for s in steps(card))
    assert not any(s.startswith("A growing child") for s in steps(card))


def test_r24_25_still_growing_neighbours_keep_the_growth_card(client: FlaskClient) -> None:
    # A girl of 16 (row 50-117) at 1.54x, and a boy of 17 (row 55-149) at 1.5x: still growing.
    found = teenager(client, "female", "2010-06-01", 180)
    assert fired(found) == ["alp-high-growth-mild"]
    found = teenager(client, "male", "2009-06-01", 224)
    assert fired(found) == ["alp-high-growth-mild"]
