"""Nineteenth round (2026-12-02), part J: review 27's findings on the edges of parts F, G and H
(docs/rulebook.md, "Nineteenth round (2026-12-02), part J (review 27: the edges of parts F, G
and H)"). Each patient is rebuilt from the reviewer's facts (review 27's gen.py), signed on
2 Dec 2026."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.rules_helper import fired, suggested
from tests.support.fhir import (
    administration,
    alp,
)
from tests.support.labs import Labs, day, drug, post, since, worded, words

NOW = "2026-12-02T07:30:00Z"
ISOENZYMES_LOINC = "24332-9"


LABS = Labs(NOW)


# --- R27-08 (noisy): nivolumab, ALP 1.3x, ALT and bilirubin normal: grade 1, not a warning -----

NIVOLUMAB = [drug("Nivolumab 480 mg IV every 4 weeks", "2026-09-05")]


def test_a_grade_1_alp_on_a_checkpoint_inhibitor_is_info_and_the_drug_continues(
    client: FlaskClient,
) -> None:
    found = post(
        client,
        "male",
        "1965-05-05",
        [LABS.alp(135), LABS.ggt(70), LABS.alt(35), LABS.bilirubin(0.8)],
        [alp(95, when=day("2026-09-01"))],
        [since("C43.9", "2026-07-01")],
        NIVOLUMAB,
    )
    assert fired(found) == ["alp-high-checkpoint-grade1"]
    [card] = found
    assert card["indicator"] == "info"
    assert "grade 1; continue, liver tests weekly; oncology informed" in card["summary"]
    assert "likely; oncology today" not in card["summary"]
    assert len(card["summary"]) <= 126
    assert "Hold the drug and call them today if ALP passes 2.5x" in card["detail"]
    assert "anti-mitochondrial" not in card["detail"]
    assert words(card) <= 80


def test_grade_2_on_a_checkpoint_inhibitor_keeps_the_warning(client: FlaskClient) -> None:
    # review 27, P06: ALP 2.9x (CTCAE grade 2) with ALT 1.5x
    found = post(
        client,
        "male",
        "1965-05-05",
        [LABS.alp(300), LABS.ggt(200), LABS.alt(60), LABS.bilirubin(0.8)],
        [alp(95, when=day("2026-09-01"))],
        [since("C43.9", "2026-07-01")],
        NIVOLUMAB,
    )
    assert fired(found) == ["alp-high-checkpoint-inhibitor"]
    assert found[0]["indicator"] == "warning"


def test_alt_over_3x_on_a_checkpoint_inhibitor_keeps_the_warning_at_a_low_alp(
    client: FlaskClient,
) -> None:
    found = post(
        client,
        "male",
        "1965-05-05",
        [LABS.alp(135), LABS.ggt(70), LABS.alt(130), LABS.bilirubin(0.8)],
        [alp(95, when=day("2026-09-01"))],
        [since("C43.9", "2026-07-01")],
        NIVOLUMAB,
    )
    assert fired(found) == ["alp-high-checkpoint-inhibitor"]


def test_no_alt_or_ast_on_a_checkpoint_inhibitor_keeps_the_warning(client: FlaskClient) -> None:
    found = post(
        client,
        "male",
        "1965-05-05",
        [LABS.alp(135), LABS.ggt(70)],
        [alp(95, when=day("2026-09-01"))],
        [since("C43.9", "2026-07-01")],
        NIVOLUMAB,
    )
    assert fired(found) == ["alp-high-checkpoint-inhibitor"]


# --- R27-09 (noisy): a combined pill beside a normal-GGT 1.2x ALP got a drug-injury line -------


def test_a_normal_ggt_mild_rise_on_the_pill_has_no_drug_injury_line(client: FlaskClient) -> None:
    found = post(
        client,
        "female",
        "1999-02-02",
        [LABS.alp(125), LABS.ggt(22), LABS.alt(20)],
        [],
        [],
        [drug("Ethinylestradiol 30 mcg / levonorgestrel 150 mcg (Microgynon)")],
    )
    assert fired(found) == ["alp-high-mild-isolated"]
    [card] = found
    assert "recheck liver tests in 2-4 weeks" not in card["detail"]
    assert "can cause cholestatic injury" not in card["detail"]
    assert "1-3 months" in card["summary"]
    assert words(card) <= 100


def test_the_drug_line_stays_when_the_alt_is_raised_beside_a_normal_ggt(
    client: FlaskClient,
) -> None:
    found = post(
        client,
        "female",
        "1999-02-02",
        [LABS.alp(125), LABS.ggt(22), LABS.alt(100)],
        [],
        [],
        [drug("Ethinylestradiol 30 mcg / levonorgestrel 150 mcg (Microgynon)")],
    )
    assert any("recheck liver tests in 2-4 weeks" in c["detail"] for c in found)


# --- R27-12 (noisy): XLH on burosumab, ALP 430 -> 620: "consistent with", no word of the rise --

XLH = [since("E83.31", "2021-01-01")]
BUROSUMAB = [drug("Burosumab 0.8 mg/kg every 2 weeks")]


def test_a_rising_alp_in_known_xlh_is_rickets_activity_for_the_metabolic_bone_team(
    client: FlaskClient,
) -> None:
    found = post(
        client,
        "female",
        "2018-01-01",
        [LABS.alp(620, 156, 369), LABS.ggt(10, high=23)],
        [LABS.alp(430, 156, 369, when=day("2026-06-01")), LABS.phosphate(0.8), LABS.calcium(2.40)],
        XLH,
        BUROSUMAB,
    )
    assert fired(found) == ["alp-high-bone-explained"]
    [card] = found
    assert "rising in known XLH (was 430 U/L on 1 Jun 2026)" in card["summary"]
    assert "metabolic bone team" in card["summary"]
    assert "consistent with" not in card["summary"]
    assert len(card["summary"]) <= 126
    assert "metabolic bone team (dose, adherence)" in card["detail"]
    assert "ALP falls as it heals" not in card["detail"]


def test_a_steady_alp_in_known_xlh_stays_silent(client: FlaskClient) -> None:
    found = post(
        client,
        "female",
        "2018-01-01",
        [LABS.alp(560, 156, 369), LABS.ggt(10, high=23)],
        [LABS.alp(540, 156, 369, when=day("2026-06-01")), LABS.phosphate(0.8), LABS.calcium(2.40)],
        XLH,
        BUROSUMAB,
    )
    assert found == []


# --- R27-11 (noisy): ALP 12x at 10 weeks got two bone cards, neither naming the pregnancy -------


def test_an_extreme_alp_in_the_first_trimester_is_one_card_for_the_obstetric_team(
    client: FlaskClient,
) -> None:
    found = post(
        client,
        "female",
        "1995-03-03",
        [LABS.alp(1250), LABS.ggt(20), LABS.alt(18), LABS.bilirubin(0.4)],
        [],
        [since("Z33.1", "2026-09-25"), since("Z3A.10", "2026-12-01")],
    )
    assert fired(found) == ["alp-extreme"]
    [card] = found
    assert "in the first trimester" in card["summary"]
    assert "obstetric team today" in card["summary"]
    assert "from bone" not in card["summary"]
    assert len(card["summary"]) <= 126
    assert "heat-stable fraction" in card["detail"]
    assert "not X-ray or CT" in card["detail"]
    assert "Examine and image the painful bone" not in card["detail"]
    assert suggested(card) == [ISOENZYMES_LOINC]
    assert words(card) <= 110


def test_an_extreme_normal_ggt_alp_when_not_pregnant_keeps_the_bone_cards(
    client: FlaskClient,
) -> None:
    # review 27, P01: the two-card shape outside pregnancy predates part G
    found = post(client, "female", "1995-03-03", [LABS.alp(1250), LABS.ggt(20), LABS.alt(18)])
    # Changed in the twentieth round, part G (review 30, R30-39, noisy): with nothing else
    # recorded an adult's extreme bone ALP is one card, alp-extreme with the bone work-up; the
    # bone-source card (bone-specific ALP) no longer shows beside it.
    assert fired(found) == ["alp-extreme"]
    assert "X-ray any painful bone, or an isotope bone scan" in found[0]["detail"]


# --- R27-14 (noisy, minor): "Liver metastases excluded on CT" 2 weeks ago, CT asked for again ---


def breast_cancer_liver_alp(client: FlaskClient, words_onset: str) -> list[dict[str, Any]]:
    return post(
        client,
        "female",
        "1960-06-06",
        [LABS.alp(210), LABS.ggt(150), LABS.alt(35)],
        [],
        [since("C50.911", "2022-01-01"), worded("Liver metastases excluded on CT", words_onset)],
    )


def test_liver_metastases_just_excluded_on_ct_lead_with_ultrasound_not_ct(
    client: FlaskClient,
) -> None:
    found = breast_cancer_liver_alp(client, "2026-11-15")
    assert fired(found) == ["alp-high-liver-source"]
    [card] = found
    assert "cross-sectional imaging (CT)" not in card["detail"]
    steps = [line for line in card["detail"].splitlines() if line.startswith("- ")]
    assert steps[0].startswith("- Right upper quadrant ultrasound first")
    assert "anti-mitochondrial antibodies" in steps[1]


def test_liver_metastases_excluded_a_year_ago_keep_the_ct_line(client: FlaskClient) -> None:
    found = breast_cancer_liver_alp(client, "2025-11-15")
    [card] = found
    assert "cross-sectional imaging (CT)" in card["detail"]


# --- R27-07 (noisy, minor): "Low before Denosumab, given 1 Dec 2026 was started too" ----------


def test_the_low_before_line_names_the_drug_without_its_dose_date(client: FlaskClient) -> None:
    found = post(
        client,
        "female",
        "1956-02-02",
        [LABS.alp(24)],
        [
            LABS.alp(27, when=day("2026-08-08")),
            LABS.lab("2000-8", 2.38, "mmol/L", 2.15, 2.55),
            LABS.lab("2777-1", 1.2, "mmol/L", 0.8, 1.5),
        ],
        [since("M81.0", "2026-06-01")],
        [drug("Prolia (denosumab) 60 mg subcutaneous every 6 months", "2026-11-22")],
        [administration("Denosumab 60 mg SC", "2026-12-01T10:00:00Z")],
    )
    assert fired(found) == ["alp-low-persistent"]
    [card] = found
    assert "Low before Denosumab was started too (27 U/L on 8 Aug 2026)" in card["detail"]
    assert "Denosumab, given 1 Dec 2026 was started" not in card["detail"]


# --- R25-44 (noisy, minor): osteomalacia on phenytoin kept the generic isoenzyme line ----------


def phenytoin_patient(client: FlaskClient, vitamin_d: float) -> list[dict[str, Any]]:
    return post(
        client,
        "male",
        "1991-01-01",
        [LABS.alp(190), LABS.ggt(160), LABS.alt(30)],
        [
            alp(180, when=day("2026-05-01")),
            LABS.lab("1989-3", vitamin_d, "nmol/L", 50, 250),
            LABS.lab("2000-8", 2.12, "mmol/L", 2.15, 2.55),
            LABS.lab("2777-1", 0.75, "mmol/L", 0.8, 1.5),
        ],
        [since("G40.909", "2015-01-01")],
        [drug("Phenytoin 300 mg daily", "2016-01-01")],
    )


def test_osteomalacia_on_phenytoin_has_no_generic_isoenzyme_line(client: FlaskClient) -> None:
    [card] = phenytoin_patient(client, 18)
    assert fired([card]) == ["alp-high-origin-unclear"]
    assert "Isoenzymes only if it does not fall" in card["detail"]
    assert "measure the fractions directly" not in card["detail"]
    assert "vitamin D deficient, calcium and phosphate low" in card["summary"]


def test_phenytoin_with_a_normal_vitamin_d_keeps_the_isoenzyme_line(client: FlaskClient) -> None:
    [card] = phenytoin_patient(client, 80)
    assert "measure the fractions directly" in card["detail"]
    assert ISOENZYMES_LOINC in suggested(card)
