"""Twenty-first round (2026-12-02), part F: review 33's drug and Gilbert findings and part A's
loose ends: weekly methotrexate with a raised ALT (R33-26, 27, 58; the low-ALP side R33-59, 60
unchanged), a Gilbert patient whose direct bilirubin shows an ALT of 37x unjaundiced (R33-03), a
Gilbert patient with a modest Hy's law picture and no direct bilirubin (R33-48), and the warfarin
annotation and the direct oral anticoagulant line on the cholestatic drug-jaundice card
(docs/rulebook.md, "Twenty-first round (2026-12-02), part F"). Each patient is rebuilt from the
reviewer's facts (review 33, /work/review33-work/cases.py), signed on 2 Dec 2026."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.rules_helper import fired
from tests.support.labs import Labs, drug, post, since, worded, words

NOW = "2026-12-02T08:00:00Z"
LABS = Labs(NOW)
WITHHOLD = "alp-high-methotrexate-withhold"
MONITOR = "alp-high-methotrexate-monitor"
LIVER = "alp-high-liver-source"
HEPATOCELLULAR = "alp-high-liver-hepatocellular"
HYS_LAW = "alp-high-drug-hys-law"
JAUNDICE = "alp-high-drug-jaundice"
RA = since("M06.9", "2020-01-01")
GILBERT = since("E80.4", "2010-01-01")


def completed(text: str, ordered: str) -> dict[str, Any]:
    course = drug(text, ordered)
    course["status"] = "completed"
    return course


CO_AMOXICLAV = completed("Co-amoxiclav 625 mg three times daily", "2026-11-12")


def _only(found: list[dict[str, Any]], rule: str) -> dict[str, Any]:
    assert fired(found) == [rule], fired(found)
    card = found[0]
    assert len(card["summary"]) < 140
    assert words(card) <= 130
    return card


# --- R33-27, R33-58 (wrong), R33-26 (noisy): methotrexate and the liver cards ---------------------


def _r33_26(
    client: FlaskClient, alt: float, methotrexate: dict[str, Any], **more: Any
) -> list[dict[str, Any]]:
    # 62F RA (M06.9), methotrexate 20 mg weekly since 2023; ALP 130, GGT 60, bilirubin 0.5.
    labs = [LABS.ggt(60), LABS.alt(alt), LABS.bilirubin(0.5), *more.get("labs", [])]
    conditions = [RA, *more.get("conditions", [])]
    return post(client, "female", "1964-01-01", [LABS.alp(130)], labs, conditions, [methotrexate])


def test_r33_27_alt_over_3x_on_methotrexate_withholds_it(client: FlaskClient) -> None:
    mtx = drug("Methotrexate 20 mg once weekly", "2023-01-01")
    card = _only(_r33_26(client, 150, mtx, labs=[LABS.ast(120)]), WITHHOLD)
    assert card["indicator"] == "warning"
    assert "ALT 3.8x on Methotrexate: withhold it, tell the prescriber" in card["summary"]
    assert "liver tests again in 1-2 weeks" in card["summary"]
    detail = card["detail"]
    assert "withhold Methotrexate and tell the prescriber" in detail
    assert "alcohol, check folic acid is taken; fatty liver (MASLD)" in detail
    assert "anti-mitochondrial" not in detail
    assert "Right upper quadrant ultrasound first" not in detail


def test_methotrexate_by_its_rxnorm_code_alone_is_read(client: FlaskClient) -> None:
    mtx = drug("MTX", "2023-01-01", code="6851")
    assert fired(_r33_26(client, 150, mtx)) == [WITHHOLD]


def test_r33_58_methotrexate_in_words_alt_5x_alp_2x(client: FlaskClient) -> None:
    # 62F "Rheumatoid arthritis" in words, "Methotrexate 15 mg once weekly"; ALP 210 (2x),
    # GGT 150, ALT 200 (5x), bilirubin 0.6.
    results = [LABS.alp(210)]
    labs = [LABS.ggt(150), LABS.alt(200), LABS.bilirubin(0.6)]
    meds = [drug("Methotrexate 15 mg once weekly", "2021-01-01")]
    found = post(
        client, "female", "1964-01-01", results, labs, [worded("Rheumatoid arthritis")], meds
    )
    card = _only(found, WITHHOLD)
    assert "ALT 5.0x on Methotrexate: withhold it" in card["summary"]
    assert "ALP 2.0x: ultrasound (ducts, fatty liver)" in card["detail"]


def test_r33_26_alt_under_3x_on_methotrexate_repeats_and_reviews_the_dose(
    client: FlaskClient,
) -> None:
    card = _only(_r33_26(client, 70, drug("Methotrexate 20 mg once weekly", "2023-01-01")), MONITOR)
    assert card["indicator"] == "info"
    assert "on Methotrexate: repeat liver tests in 2-4 weeks and review the dose" in card["summary"]
    detail = card["detail"]
    assert "withhold it if ALT or AST goes over 3x" in detail
    assert "Ultrasound, then AMA for PBC, only if the ALP stays raised" in detail
    assert "Right upper quadrant ultrasound first" not in detail


def test_methotrexate_with_jaundice_is_hepatology_today(client: FlaskClient) -> None:
    mtx = drug("Methotrexate 20 mg once weekly", "2023-01-01")
    found = post(
        client,
        "female",
        "1964-01-01",
        [LABS.alp(180)],
        [LABS.ggt(150), LABS.alt(160), LABS.bilirubin(3.0)],
        [RA],
        [mtx],
    )
    card = _only(found, WITHHOLD)
    assert "withhold it; INR, ultrasound, hepatology today" in card["summary"]


def test_methotrexate_neighbours_keep_their_cards(client: FlaskClient) -> None:
    mtx = drug("Methotrexate 20 mg once weekly", "2023-01-01")
    # a normal ALT: the ALP work-up stays the liver card's
    assert fired(_r33_26(client, 30, mtx)) == [LIVER]
    # no methotrexate: the liver card
    found = post(
        client, "female", "1964-01-01", [LABS.alp(130)], [LABS.ggt(60), LABS.alt(150)], [RA]
    )
    assert fired(found) == [LIVER]
    # a fever: the liver card's cholangitis line leads
    found = _r33_26(client, 150, mtx, labs=[LABS.temperature(38.6)])
    assert WITHHOLD not in fired(found)


def test_r33_59_60_methotrexate_with_a_persistent_low_alp_is_unchanged(
    client: FlaskClient,
) -> None:
    mtx = drug("Methotrexate 15 mg once weekly", "2018-01-01")
    earlier = [LABS.alp(24, when="2026-06-01T08:00:00Z")]
    found = post(client, "female", "1976-01-01", [LABS.alp(26)], earlier, [RA], [mtx])
    card = _only(found, "alp-low-persistent")
    assert card["indicator"] == "warning"
    assert "Avoid bisphosphonates and denosumab" in card["detail"]
    alendronate = drug("Alendronic acid 70 mg once weekly", "2020-01-01")
    found = post(client, "female", "1960-01-01", [LABS.alp(26)], earlier, [RA], [mtx, alendronate])
    card = _only(found, "alp-low-persistent")
    hold = "On Alendronic acid: hold it; do not restart until hypophosphatasia is excluded"
    assert hold in card["detail"]


# --- R33-03 (wrong): Gilbert, ALT 37.5x, bilirubin shown unconjugated --------------------------


def _r33_01(client: FlaskClient, labs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # 46M, co-amoxiclav completed (12 Nov), Gilbert E80.4; ALT 1500, ALP 180, GGT 150, bili 4.5.
    results = [LABS.alp(180), LABS.ggt(150), LABS.alt(1500), LABS.bilirubin(4.5)]
    return post(client, "male", "1980-01-01", results, labs, [GILBERT], [CO_AMOXICLAV])


def test_r33_03_unconjugated_bilirubin_at_alt_37x_is_not_2_to_4_weeks(client: FlaskClient) -> None:
    card = _only(_r33_01(client, [LABS.direct_bilirubin(0.4)]), HEPATOCELLULAR)
    assert "INR and paracetamol level today" in card["summary"]
    detail = card["detail"]
    assert "2-4 weeks" not in detail
    assert "Bilirubin unconjugated (direct 0.4 mg/dL" in detail
    assert "Gilbert syndrome): not Hy's law" in detail
    assert "at ALT 37.5x a drug injury unless a virus, ischaemia or sepsis" in detail
    assert "liver tests, INR in 48-72 h" in detail


def test_r33_01_and_04_neighbours_keep_hys_law(client: FlaskClient) -> None:
    # no direct bilirubin (R33-01), and a conjugated one (R33-04): Hy's law with hepatology today
    for labs in ([], [LABS.direct_bilirubin(3.2)]):
        card = _only(_r33_01(client, labs), HYS_LAW)
        assert "hepatology today" in card["summary"]


def test_below_alt_5x_the_course_line_keeps_2_to_4_weeks(client: FlaskClient) -> None:
    # R33-49 (judged correct): ALT 3.25x, bilirubin shown unconjugated: the old drug line stands
    results = [LABS.alp(120), LABS.ggt(60), LABS.alt(130), LABS.bilirubin(2.6)]
    found = post(
        client,
        "male",
        "1980-01-01",
        results,
        [LABS.direct_bilirubin(0.3)],
        [GILBERT],
        [CO_AMOXICLAV],
    )
    card = _only(found, LIVER)
    assert "recheck liver tests in 2-4 weeks" in card["detail"]


# --- R33-48 (noisy): Gilbert, modest Hy's law picture, no direct bilirubin ------------------------


def test_r33_48_gilbert_leads_with_a_same_day_direct_bilirubin(client: FlaskClient) -> None:
    results = [LABS.alp(120), LABS.ggt(60), LABS.alt(130), LABS.bilirubin(2.6)]
    found = post(client, "male", "1980-01-01", results, [], [GILBERT], [CO_AMOXICLAV])
    card = _only(found, HYS_LAW)
    assert card["indicator"] == "warning"
    assert "Gilbert: direct bilirubin today; Hy's law if conjugated" in card["summary"]
    detail = card["detail"]
    assert detail.index("Direct bilirubin today (a same-day add-on)") < detail.index("Ultrasound")
    assert "Conjugated (not Gilbert): hepatology today" in detail
    assert "INR today; hepatology today, urgently" not in detail


# --- Part A's loose ends: the warfarin annotation and the DOAC line on the jaundice card ----------


def _jaundice(
    client: FlaskClient, labs: list[dict[str, Any]], meds: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    # R32-08's picture: flucloxacillin-like cholestatic jaundice after co-amoxiclav.
    results = [LABS.alp(380), LABS.ggt(420), LABS.alt(150), LABS.bilirubin(5.0)]
    meds = [*meds, completed("Co-amoxiclav 625 mg", "2026-11-15")]
    return post(client, "male", "1958-01-01", results, labs, [since("I48.91", "2018-01-01")], meds)


def test_vka_annotation_with_an_inr_above_range_says_hold_it(client: FlaskClient) -> None:
    # a fever keeps the jaundice card away: the annotation rides on the liver card
    warfarin = drug("Warfarin 3 mg daily", "2018-01-01")
    found = _jaundice(client, [LABS.inr(3.4), LABS.temperature(38.5)], [warfarin])
    assert JAUNDICE not in fired(found)
    detail = found[0]["detail"]
    assert "INR 3.4 on Warfarin: above the usual range" in detail
    assert "hold it, anticoagulation team today" in detail
    assert "INR now for its effect" not in detail
    assert words(found[0]) <= 130
    # neighbour: no INR recorded keeps "INR now for its effect"
    found = _jaundice(client, [LABS.temperature(38.5)], [warfarin])
    assert "INR now for its effect" in found[0]["detail"]


def test_doac_line_on_the_drug_jaundice_card(client: FlaskClient) -> None:
    card = _only(_jaundice(client, [], [drug("Apixaban 5 mg twice daily", "2019-01-01")]), JAUNDICE)
    assert "On Apixaban: not for a liver injury with coagulopathy" in card["detail"]
    # neighbour: no anticoagulant, no line
    card = _only(_jaundice(client, [], []), JAUNDICE)
    assert "not for a liver injury with coagulopathy" not in card["detail"]
