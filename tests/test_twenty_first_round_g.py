"""Twenty-first round (2026-12-02), part G: review 34's liver and drug findings: a recorded cause
of an acute liver injury without a liver drug (R34-11, 12, 18, 22), paracetamol poisoning in
pregnancy (R34-46) and recorded in other words (R34-14 to 16), a mechanical valve's INR (R34-25),
long and repetitive INR lines (R34-26, 32, 33, 35, 36, 48), the acute-injury info card beside the
warning (R34-23, 48) and acute hepatitis B in known AIH (R34-50) (docs/rulebook.md, "Twenty-first
round (2026-12-02), part G"). Each patient is rebuilt from the reviewer's facts
(/work/review34-work/cases.py), signed on 2 Dec 2026."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.rules_helper import fired
from tests.support.labs import Labs, drug, post, since, worded, words

NOW = "2026-12-02T08:00:00Z"
LABS = Labs(NOW)
CAUSE = "alp-high-hepatocellular-jaundice-cause"
HYS_LAW = "alp-high-drug-hys-law"
HEPATOCELLULAR = "alp-high-liver-hepatocellular"
JAUNDICE = "alp-high-drug-jaundice"
DISPROPORTIONATE = "alp-high-acute-injury-disproportionate"
PREGNANCY_LIVER = "alp-high-pregnancy-liver"
M, B = "male", "1980-01-01"
OVERDOSE = since("T39.1X2A", "2026-11-30")
AF = since("I48.91", "2018-01-01")


def completed(text: str, ordered: str) -> dict[str, Any]:
    course = drug(text, ordered)
    course["status"] = "completed"
    return course


def co_amoxiclav() -> dict[str, Any]:
    return completed("Co-amoxiclav 625 mg three times daily", "2026-11-12")


def warfarin() -> dict[str, Any]:
    return drug("Warfarin 3 mg daily", "2018-01-01")


def apixaban() -> dict[str, Any]:
    return drug("Apixaban 5 mg twice daily", "2019-01-01")


def _hy(
    client: FlaskClient,
    conditions: list[dict[str, Any]],
    meds: list[dict[str, Any]] = [],  # noqa: B006 - never mutated
    extra: list[dict[str, Any]] = [],  # noqa: B006
    sex: str = M,
    born: str = B,
) -> list[dict[str, Any]]:
    # The reviewer's Hy's picture: ALP 180, GGT 150, ALT 1500 (37.5x), bilirubin 4.5 mg/dL.
    labs = [LABS.ggt(150), LABS.alt(1500), LABS.bilirubin(4.5), *extra]
    return post(client, sex, born, [LABS.alp(180)], labs, conditions, meds)


def _card(found: list[dict[str, Any]], rule: str) -> dict[str, Any]:
    assert rule in fired(found), fired(found)
    card = found[fired(found).index(rule)]
    assert len(card["summary"]) < 140
    assert words(card) <= 130, words(card)
    return card


# --- R34-12 (unsafe), R34-11, R34-18, R34-22 (wrong): a recorded cause without a liver drug ------


def test_r34_12_overdose_with_inr_and_creatinine_raised_is_no_longer_silent(
    client: FlaskClient,
) -> None:
    labs = [LABS.ggt(90), LABS.alt(4200), LABS.bilirubin(3.0), LABS.inr(2.8), LABS.creatinine(190)]
    found = post(client, M, B, [LABS.alp(160)], labs, [OVERDOSE])
    card = _card(found, CAUSE)
    assert card["indicator"] == "warning"
    # twenty-second round, part K (review 41, R41-43): both values named, not "INR or
    # creatinine raised"
    assert "paracetamol overdose, INR 2.8, creatinine 190: acetylcysteine" in card["summary"]
    assert "liver unit now" in card["summary"]
    assert "INR 2.8 already: liver unit now, not waiting for King's criteria" in card["detail"]
    assert "acetylcysteine, continued or started" in card["detail"]


def test_r34_11_overdose_without_a_drug_is_the_cause_warning(client: FlaskClient) -> None:
    found = _hy(client, [OVERDOSE])
    assert HEPATOCELLULAR not in fired(found)
    card = _card(found, CAUSE)
    assert card["indicator"] == "warning"
    assert "after paracetamol overdose: acetylcysteine" in card["summary"]
    assert "may have added" not in card["detail"]  # no drug, no drug line
    assert "unknown" not in card["detail"].lower()


def test_a_raised_alt_after_an_overdose_is_a_warning_without_jaundice(client: FlaskClient) -> None:
    labs = [LABS.ggt(45), LABS.alt(90), LABS.bilirubin(0.8)]
    found = post(client, M, B, [LABS.alp(120)], labs, [OVERDOSE])
    card = _card(found, CAUSE)
    assert card["indicator"] == "warning"
    assert "acetylcysteine (a raised ALT is an indication)" in card["summary"]
    assert "bilirubin 0.8 mg/dL" in card["detail"]


def test_an_overdose_with_a_normal_alt_stays_quiet(client: FlaskClient) -> None:
    # neighbour: ALT within range, no INR: no liver injury for this card to read
    labs = [LABS.ggt(30), LABS.alt(30), LABS.bilirubin(0.6)]
    found = post(client, M, B, [LABS.alp(120)], labs, [OVERDOSE])
    assert CAUSE not in fired(found)


def test_r34_18_known_aih_with_jaundice_and_no_drug_is_a_warning(client: FlaskClient) -> None:
    found = _hy(client, [since("K75.4", "2024-01-01")], sex="female", born="1975-01-01")
    card = _card(found, CAUSE)
    assert card["indicator"] == "warning"
    assert "in known AIH: acute severe flare?; hepatology today" in card["summary"]
    assert "an acute severe flare until shown otherwise" in card["detail"]
    assert "drug" not in card["summary"]


def test_r34_22_cardiogenic_shock_without_a_drug_is_ischaemic_hepatitis(
    client: FlaskClient,
) -> None:
    labs = [LABS.ggt(100), LABS.alt(2500), LABS.ast(3000), LABS.bilirubin(3.0), LABS.inr(2.0)]
    found = post(client, M, "1950-01-01", [LABS.alp(150)], labs, [since("R57.0", "2026-11-29")])
    card = _card(found, CAUSE)
    assert card["indicator"] == "warning"
    assert (
        "after shock or hypotension: ischaemic hepatitis; INR, hepatology today"
        in (card["summary"])
    )
    assert "ischaemic hepatitis likely" in card["detail"]


def test_aih_with_a_raised_inr_and_no_jaundice_is_a_warning(client: FlaskClient) -> None:
    labs = [LABS.ggt(150), LABS.alt(800), LABS.bilirubin(1.0), LABS.inr(1.7)]
    conditions = [since("K75.4", "2024-01-01")]
    found = post(client, "female", "1975-01-01", [LABS.alp(180)], labs, conditions)
    card = _card(found, CAUSE)
    # Twenty-first round, integrator (review 38, R38-18): the INR itself is named and sends to the
    # liver unit (was "INR or creatinine raised in known AIH: acute severe flare?; hepatology").
    assert "INR 1.7 already in known AIH" in card["summary"]
    assert "liver unit today" in card["summary"]


# --- R34-46 (unsafe): paracetamol overdose in pregnancy ------------------------------------------


def test_r34_46_pregnant_after_an_overdose_gets_acetylcysteine_and_the_obstetric_team(
    client: FlaskClient,
) -> None:
    pregnancy = [since("Z33.1", "2026-06-01"), since("Z3A.24", "2026-12-01")]
    found = _hy(client, [*pregnancy, OVERDOSE], sex="female", born="2000-01-01")
    assert PREGNANCY_LIVER not in fired(found)
    assert fired(found) == [CAUSE]
    card = _card(found, CAUSE)
    assert card["summary"].startswith("Pregnant, ALT 37.5x after paracetamol overdose")
    assert "liver unit and obstetric team today" in card["summary"]
    detail = card["detail"]
    assert "Pregnant: treated as outside pregnancy (acetylcysteine); obstetric team today" in detail
    assert "HEV IgM" not in detail
    assert "bile acids" not in detail


def test_pregnant_without_paracetamol_keeps_the_pregnancy_liver_card(client: FlaskClient) -> None:
    # neighbour: the same labs at 24 weeks with no recorded cause: the pregnancy card decides
    pregnancy = [since("Z33.1", "2026-06-01"), since("Z3A.24", "2026-12-01")]
    found = _hy(client, pregnancy, sex="female", born="2000-01-01")
    assert PREGNANCY_LIVER in fired(found)
    assert CAUSE not in fired(found)


# --- R34-14, 15, 16 (wrong): paracetamol toxicity in other words --------------------------------


@pytest.mark.parametrize(
    ("condition", "phrase"),
    [
        (worded("Intentional overdose of Tylenol", "2026-11-29"), "after paracetamol overdose"),
        (since("T39.1X5A", "2026-11-29"), "with paracetamol toxicity"),
        (worded("Therapeutic paracetamol excess", "2026-11-29"), "with paracetamol toxicity"),
        (worded("Supratherapeutic paracetamol ingestion", "2026-11-29"), "paracetamol toxicity"),
    ],
)
def test_r34_14_to_16_paracetamol_toxicity_is_the_cause_not_hys_law(
    client: FlaskClient, condition: dict[str, Any], phrase: str
) -> None:
    meds = [co_amoxiclav(), drug("Paracetamol 1 g four times daily", "2026-11-15")]
    found = _hy(client, [condition], meds)
    assert HYS_LAW not in fired(found)
    card = _card(found, CAUSE)
    assert phrase in card["summary"]
    assert "acetylcysteine" in card["summary"]


@pytest.mark.parametrize(
    "words_",
    [
        "No paracetamol overdose",
        "Paracetamol overdose ruled out",
        "Supratherapeutic INR on warfarin",
    ],
)
def test_negated_or_other_words_leave_hys_law(client: FlaskClient, words_: str) -> None:
    found = _hy(client, [worded(words_, "2026-11-29")], [co_amoxiclav()])
    assert fired(found) == [HYS_LAW]


# --- R34-25 (wrong): a mechanical valve's INR ----------------------------------------------------


def _r09(
    client: FlaskClient, conditions: list[dict[str, Any]], meds: list[dict[str, Any]], extra: Any
) -> list[dict[str, Any]]:
    labs = [LABS.ggt(160), LABS.alt(700), LABS.bilirubin(4.2), *extra]
    flucloxacillin = completed("Flucloxacillin 500 mg four times daily", "2026-11-10")
    return post(
        client, "female", "1954-01-01", [LABS.alp(190)], labs, conditions, [*meds, flucloxacillin]
    )


def test_r34_25_mechanical_valve_inr_3_4_is_not_held(client: FlaskClient) -> None:
    valve = [since("Z95.2", "2015-01-01"), worded("Mechanical mitral valve replacement", "2015-01")]
    card = _card(_r09(client, valve, [warfarin()], [LABS.inr(3.4)]), HYS_LAW)
    assert "hold it" not in card["detail"]
    # Twenty-first round, part L (review 37, R37-08): the valve line names the INR of the draw
    # and folds in "liver injury raises its effect" (one anticoagulant line, not two).
    assert (
        "INR 3.4 on Warfarin, mechanical valve: do not stop it without cardiology"
        in (card["detail"])
    )
    assert "anticoagulation team today" in card["detail"]


def test_a_valve_in_words_alone_and_an_inr_over_3_5(client: FlaskClient) -> None:
    valve = [worded("Mechanical aortic valve", "2015-01-01")]
    card = _card(_r09(client, valve, [warfarin()], [LABS.inr(4.2)]), HYS_LAW)
    assert "above even a mitral valve's range (over 3.5)" in card["detail"]
    assert "do not stop it without cardiology" in card["detail"]
    assert "hold it" not in card["detail"]


def test_without_a_valve_inr_3_4_is_still_held(client: FlaskClient) -> None:
    # neighbour (part A, R32-08 unchanged): no valve, the usual range
    card = _card(_r09(client, [AF], [warfarin()], [LABS.inr(3.4)]), HYS_LAW)
    assert "INR 3.4 on Warfarin: above the usual range" in card["detail"]
    assert "hold it" in card["detail"]
    assert "Mechanical valve" not in card["detail"]


# --- R34-26, R34-32 (wrong): one INR line per card -----------------------------------------------


def test_r34_26_one_warfarin_line_and_the_inr_in_the_summary(client: FlaskClient) -> None:
    labs = [LABS.ggt(420), LABS.alt(150), LABS.bilirubin(5.0), LABS.inr(4.8)]
    meds = [warfarin(), drug("Co-amoxiclav 625 mg three times daily", "2026-11-25")]
    found = post(client, M, "1958-01-01", [LABS.alp(380)], labs, [AF], meds)
    card = _card(found, JAUNDICE)
    assert "stop it; INR 4.8 on Warfarin, hold it" in card["summary"]
    detail = card["detail"]
    assert detail.count("grade the injury") == 1
    assert "hold it, anticoagulation team today. It cannot grade the injury" in detail


def test_r34_32_paracetamol_on_warfarin_says_the_inr_once(client: FlaskClient) -> None:
    found = _hy(client, [OVERDOSE, AF], [co_amoxiclav(), warfarin()], [LABS.inr(4.5)])
    card = _card(found, CAUSE)
    detail = card["detail"]
    assert "INR over 6.5" not in detail
    assert "King's by pH, lactate and creatinine; ask them before vitamin K" in detail
    assert detail.count("INR 4.5") == 1
    assert "cannot grade" not in detail


# --- R34-23, R34-48 (noisy): the info card beside the warning; the order of cards ----------------


def test_r34_23_the_disproportionate_info_card_stands_down(client: FlaskClient) -> None:
    found = _hy(client, [worded("Cardiac arrest", "2026-11-30")], [co_amoxiclav()])
    assert DISPROPORTIONATE not in fired(found)
    card = _card(found, CAUSE)
    assert "Ultrasound with Doppler" in card["detail"]


def test_r34_48_two_warnings_no_info_and_under_130_words(client: FlaskClient) -> None:
    conditions = [OVERDOSE, since("R57.9", "2026-11-30")]
    found = _hy(client, conditions, [co_amoxiclav()], [LABS.calcium(3.2)])
    assert DISPROPORTIONATE not in fired(found)
    assert [c["indicator"] for c in found] == ["warning", "warning"]
    card = _card(found, CAUSE)
    assert "ischaemic injury may add" in card["detail"]


# --- R34-50 (wrong): acute hepatitis B in known AIH ----------------------------------------------


def test_r34_50_acute_hepatitis_b_is_named_first_and_steroids_wait(client: FlaskClient) -> None:
    conditions = [since("B16.9", "2026-11-29"), since("K75.4", "2020-01-01")]
    found = _hy(client, conditions, [co_amoxiclav()], sex="female", born="1975-01-01")
    card = _card(found, CAUSE)
    assert "with acute viral hepatitis in known AIH" in card["summary"]
    assert "no steroids until they decide" in card["summary"]
    detail = card["detail"]
    assert "Acute hepatitis B recorded: name it first" in detail
    assert "HBsAg, anti-HBc IgM" not in detail
    assert "HBV DNA" in detail


# --- every combination the reviewer built around these cards: <= 130 words, warnings first ------


def _valve() -> list[dict[str, Any]]:
    return [since("Z95.2", "2015-01-01"), worded("Mechanical mitral valve replacement", "2015-01")]


COMBINATIONS: dict[str, tuple[list[Any], list[Any], list[Any]]] = {
    # id: (conditions, medications, extra labs) on the Hy's picture
    "R34-01": ([OVERDOSE], [co_amoxiclav], []),
    "R34-02": ([since("K75.4", "2024-01-01")], [co_amoxiclav], []),
    "R34-03": ([since("R57.9", "2026-11-27")], [co_amoxiclav], []),
    "R34-13": ([worded("Staggered paracetamol overdose", "2026-11-29")], [co_amoxiclav], []),
    "R34-19": (
        [since("K75.4", "2024-01-01")],
        [lambda: drug("Azathioprine 100 mg daily", "2024-03-01")],
        [],
    ),
    "R34-32": ([OVERDOSE, AF], [co_amoxiclav, warfarin], [LABS.inr(4.5)]),
    "R34-33": ([since("K75.4", "2024-01-01"), AF], [co_amoxiclav, apixaban], []),
    "R34-48": ([OVERDOSE, since("R57.9", "2026-11-30")], [co_amoxiclav], [LABS.calcium(3.2)]),
    "overdose+apixaban+INR": ([OVERDOSE, AF], [co_amoxiclav, apixaban], [LABS.inr(2.1)]),
    "overdose+shock+warfarin": (
        [OVERDOSE, since("R57.9", "2026-11-30"), AF],
        [co_amoxiclav, warfarin],
        [LABS.inr(4.5), LABS.creatinine(190)],
    ),
    "AIH+hepB+warfarin": (
        [since("K75.4", "2020-01-01"), since("B16.9", "2026-11-29"), AF],
        [co_amoxiclav, warfarin],
        [LABS.inr(3.6)],
    ),
    "AIH+valve": (
        [since("K75.4", "2020-01-01"), *_valve()],
        [co_amoxiclav, warfarin],
        [LABS.inr(4.0)],
    ),
    "pregnant+overdose+warfarin": (
        [since("Z33.1", "2026-06-01"), since("Z3A.24", "2026-12-01"), OVERDOSE],
        [warfarin],
        [LABS.inr(3.5)],
    ),
}


@pytest.mark.parametrize("case", sorted(COMBINATIONS))
def test_every_combination_is_short_and_warnings_lead(client: FlaskClient, case: str) -> None:
    conditions, meds, extra = COMBINATIONS[case]
    found = _hy(client, conditions, [make() for make in meds], extra)
    assert found, case
    for card in found:
        assert len(card["summary"]) < 140, (case, card["summary"])
        assert words(card) <= 130, (case, fired(found), words(card))
    ranks = [{"critical": 2, "warning": 1, "info": 0}[c["indicator"]] for c in found]
    assert ranks == sorted(ranks, reverse=True), (case, fired(found))


@pytest.mark.parametrize(
    ("labs", "meds"),
    [
        ([LABS.inr(4.8)], [warfarin, lambda: drug("Co-amoxiclav 625 mg", "2026-11-25")]),
        ([], [apixaban, lambda: completed("Co-amoxiclav 625 mg", "2026-11-15")]),
        ([LABS.inr(3.4)], [warfarin, lambda: completed("Co-amoxiclav 625 mg", "2026-11-15")]),
    ],
)
def test_drug_jaundice_combinations_are_short(
    client: FlaskClient, labs: list[Any], meds: list[Any]
) -> None:
    # R34-26, R34-31, R34-04: the cholestatic drug-jaundice card with its anticoagulant lines
    results = [LABS.ggt(420), LABS.alt(150), LABS.bilirubin(5.0), *labs]
    conditions = [AF, *_valve()] if labs == [LABS.inr(3.4)] else [AF]
    found = post(client, M, "1958-01-01", [LABS.alp(380)], results, conditions, [m() for m in meds])
    card = _card(found, JAUNDICE)
    assert card["detail"].count("INR") <= 4


def test_in_the_record_is_cut_to_keep_a_card_under_130_words(client: FlaskClient) -> None:
    # R34-36: IgG4-related disease, fever, WBC 15, CRP 180, warfarin INR 2.8: 153 words, the
    # "In the record" line listing every infection sign
    labs = [
        LABS.ggt(300), LABS.alt(90), LABS.bilirubin(3.8),
        LABS.alp(200, when="2026-09-01T08:00:00Z"),
        LABS.temperature(38.6), LABS.wbc(15), LABS.inr(2.8), LABS.crp(180),
    ]  # fmt: skip
    conditions = [worded("IgG4-related disease with autoimmune pancreatitis", "2025-01-01"), AF]
    meds = [drug("Prednisolone 5 mg daily", "2025-02-01"), warfarin()]
    found = post(client, M, "1963-01-01", [LABS.alp(340)], labs, conditions, meds)
    card = found[0]
    assert words(card) <= 130
    assert "more)." in card["detail"]
