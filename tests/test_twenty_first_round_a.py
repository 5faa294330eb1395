"""Twenty-first round (2026-12-02), part A: review 32's Hy's law findings: a recorded paracetamol
overdose, autoimmune hepatitis or shock beside a drug injury with jaundice, a warfarin INR above
its range, and a direct oral anticoagulant (docs/rulebook.md, "Twenty-first round (2026-12-02),
part A"). Each patient is rebuilt from the reviewer's facts (review 32, R32-08, 09, 12-17),
signed on 2 Dec 2026, with the neighbour that must not change beside it."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.rules_helper import fired
from tests.support.labs import Labs, drug, post, since, worded, words

NOW = "2026-12-02T07:30:00Z"
LABS = Labs(NOW)
HYS_LAW = "alp-high-drug-hys-law"
CAUSE = "alp-high-hepatocellular-jaundice-cause"
HEPATOCELLULAR = "alp-high-liver-hepatocellular"
JAUNDICE = "alp-high-drug-jaundice"
AF = since("I48.91", "2018-01-01")
WARFARIN = drug("Warfarin 3 mg daily", "2018-01-01")


def completed(text: str, ordered: str) -> dict[str, Any]:
    course = drug(text, ordered)
    course["status"] = "completed"
    return course


CO_AMOXICLAV = completed("Co-amoxiclav 625 mg three times daily", "2026-11-12")


def _r32(
    client: FlaskClient, conditions: list[dict[str, Any]], alt: float = 1500
) -> list[dict[str, Any]]:
    # R32-12 to R32-18: 46M, co-amoxiclav completed (12 Nov); ALP 180, GGT 150, ALT 1500
    # (37.5x), bilirubin 4.5 mg/dL; plus the condition under test.
    results = [LABS.alp(180), LABS.ggt(150), LABS.alt(alt), LABS.bilirubin(4.5)]
    return post(client, "male", "1980-01-01", results, [], conditions, [CO_AMOXICLAV])


def _only(found: list[dict[str, Any]], rule: str) -> dict[str, Any]:
    assert rule in fired(found), fired(found)
    card = found[fired(found).index(rule)]
    assert len(card["summary"]) < 140
    assert words(card) <= 130
    return card


# --- R32-15 (wrong): a recorded paracetamol overdose is a warning naming the overdose -----------


def test_r32_15_paracetamol_overdose_is_a_warning_with_acetylcysteine_and_kings_criteria(
    client: FlaskClient,
) -> None:
    found = _r32(client, [since("T39.1X2A", "2026-11-30")])
    assert HYS_LAW not in fired(found)
    assert HEPATOCELLULAR not in fired(found)
    card = _only(found, CAUSE)
    assert card["indicator"] == "warning"
    assert "paracetamol overdose" in card["summary"]
    assert "acetylcysteine" in card["summary"]
    assert "King's criteria" in card["summary"]
    detail = card["detail"]
    assert "acetylcysteine, continued or started per poisons guidance" in detail
    assert "INR, pH and lactate, creatinine, phosphate" in detail
    assert "Liver unit today by King's criteria: pH under 7.3" in detail
    assert "Co-amoxiclav" in detail  # named, as a possible contributor
    assert "ANA" not in detail
    assert "recheck liver tests in 2-4 weeks" not in detail


def test_paracetamol_poisoning_by_other_codes_and_in_words_is_read(client: FlaskClient) -> None:
    for condition in (
        since("T39.1X1A", "2026-11-30"),
        since("T39.1X4A", "2026-11-30"),
        worded("Paracetamol overdose", "2026-11-30"),
    ):
        found = _r32(client, [condition])
        assert "acetylcysteine" in _only(found, CAUSE)["summary"]


def test_an_overdose_a_month_ago_is_no_competing_cause(client: FlaskClient) -> None:
    # neighbour: outside acute_injury_cause_days (14) the overdose explains nothing: Hy's law
    found = _r32(client, [since("T39.1X2A", "2026-10-30")])
    assert fired(found) == [HYS_LAW]


# --- R32-16 (wrong): known autoimmune hepatitis: a flare or the drug; hepatology today -----------


def test_r32_16_known_aih_with_jaundice_is_a_warning_without_an_antibody_rescreen(
    client: FlaskClient,
) -> None:
    found = _r32(client, [since("K75.4", "2024-01-01")])
    assert HYS_LAW not in fired(found)
    card = _only(found, CAUSE)
    assert card["indicator"] == "warning"
    assert "AIH flare or drug-induced injury; hepatology today" in card["summary"]
    detail = card["detail"]
    assert "IgG and INR today" in detail
    assert "no repeat ANA or smooth-muscle antibody" in detail
    assert "ANA, smooth-muscle antibody" not in detail
    assert "Co-amoxiclav" in detail


def test_known_aih_without_jaundice_keeps_the_info_card_without_a_rescreen(
    client: FlaskClient,
) -> None:
    # neighbour: no jaundice, no drug: the info hepatitis card; its serology line no longer asks
    # for the antibodies already known
    results = [LABS.alp(180), LABS.ggt(150), LABS.alt(600), LABS.bilirubin(0.8)]
    found = post(client, "female", "1970-01-01", results, [], [since("K75.4", "2024-01-01")])
    assert CAUSE not in fired(found)
    card = _only(found, HEPATOCELLULAR)
    assert card["indicator"] == "info"
    assert "Known autoimmune hepatitis: a flare? IgG and INR, hepatology" in card["detail"]
    assert "ANA, smooth-muscle antibody and IgG" not in card["detail"]


# --- R32-14 (noisy): a recent shock is a competing cause, named; still a warning ----------------


def test_r32_14_shock_five_days_ago_is_named_as_ischaemic_hepatitis_on_a_warning(
    client: FlaskClient,
) -> None:
    found = _r32(client, [since("R57.9", "2026-11-27")])
    assert HYS_LAW not in fired(found)
    card = _only(found, CAUSE)
    assert card["indicator"] == "warning"
    assert "after shock or hypotension: ischaemic or drug injury" in card["summary"]
    assert "hepatology today" in card["summary"]
    assert "ischaemic hepatitis likely" in card["detail"]
    assert "ALT, bilirubin and INR again in 24-48 h" in card["detail"]


def test_cardiac_arrest_and_hypotension_count_orthostatic_hypotension_does_not(
    client: FlaskClient,
) -> None:
    for condition in (since("I46.9", "2026-11-29"), since("I95.9", "2026-11-29")):
        assert _only(_r32(client, [condition]), CAUSE)["indicator"] == "warning"
    # neighbours: orthostatic hypotension, and a shock ten days ago, are no competing cause
    assert fired(_r32(client, [since("I95.1", "2026-11-29")])) == [HYS_LAW]
    assert fired(_r32(client, [since("R57.9", "2026-11-22")])) == [HYS_LAW]


def test_r32_12_acute_hepatitis_b_keeps_the_info_hepatitis_card(client: FlaskClient) -> None:
    # neighbour (judged correct by review 32): unchanged
    found = _r32(client, [since("B16.9", "2026-11-29")])
    assert CAUSE not in fired(found)
    card = _only(found, HEPATOCELLULAR)
    assert "Acute hepatitis B recorded: the likely cause" in card["detail"]


def test_r32_17_gilbert_still_gets_hys_law(client: FlaskClient) -> None:
    # neighbour (the integrator's R32-17 fix): Gilbert is no competing cause
    found = _r32(client, [since("E80.4", "2010-01-01")])
    assert fired(found) == [HYS_LAW]


# --- R32-08 (wrong): warfarin with an INR above its range is shown and acted on -----------------


def _r32_08(client: FlaskClient, labs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    results = [LABS.alp(380), LABS.ggt(420), LABS.alt(150), LABS.bilirubin(5.0)]
    meds = [WARFARIN, completed("Co-amoxiclav 625 mg", "2026-11-15")]
    return post(client, "male", "1958-01-01", results, labs, [AF], meds)


def test_r32_08_an_inr_of_3_4_on_warfarin_is_shown_hold_it(client: FlaskClient) -> None:
    found = _r32_08(client, [LABS.inr(3.4)])
    card = _only(found, JAUNDICE)
    assert card["indicator"] == "warning"
    assert "INR 3.4 on Warfarin, hold it" in card["summary"]
    detail = card["detail"]
    assert "INR 3.4 on Warfarin: above the usual range" in detail
    # Twenty-first round, part G (review 34, R34-26): one warfarin line, "cannot grade" once.
    assert "hold it, anticoagulation team today. It cannot grade the injury" in detail
    assert detail.count("grade the injury") == 1
    assert "INR now with the anticoagulation team" not in detail


def test_warfarin_without_an_inr_or_in_range_keeps_the_inr_now_line(client: FlaskClient) -> None:
    # neighbours: no INR recorded: part I's line unchanged
    card = _only(_r32_08(client, []), JAUNDICE)
    assert "INR for Warfarin's effect" in card["summary"]
    assert (
        "Liver injury raises Warfarin's effect: INR now with the anticoagulation team"
        in (card["detail"])
    )
    assert "above the usual range" not in card["detail"]
    # Twenty-second round, part H (review 37, R37-28): an INR of 2.6 in range on record is named,
    # not asked for again (the old expectation asked for an INR already in the draw).
    card = _only(_r32_08(client, [LABS.inr(2.6)]), JAUNDICE)
    assert "INR 2.6 on Warfarin" in card["summary"]
    assert "INR for Warfarin's effect" not in card["summary"]
    assert (
        "INR 2.6 on Warfarin: anticoagulation team today (liver injury raises its effect)."
        in card["detail"]
    )
    assert "INR now" not in card["detail"]
    assert "above the usual range" not in card["detail"]


def test_hys_law_on_warfarin_with_a_high_inr_says_hold_it(client: FlaskClient) -> None:
    results = [LABS.alp(190), LABS.ggt(160), LABS.alt(700), LABS.bilirubin(4.2)]
    meds = [WARFARIN, completed("Flucloxacillin 500 mg", "2026-11-10")]
    found = post(client, "female", "1954-01-01", results, [LABS.inr(3.6)], [AF], meds)
    card = _only(found, HYS_LAW)
    assert "INR 3.6 on Warfarin: above the usual range" in card["detail"]
    assert "INR today, with the anticoagulation team" not in card["detail"]


# --- R32-09 (noisy): a direct oral anticoagulant on the Hy's law card ----------------------------


def _r32_09(client: FlaskClient, anticoagulant: list[dict[str, Any]]) -> list[dict[str, Any]]:
    results = [LABS.alp(190), LABS.ggt(160), LABS.alt(700), LABS.bilirubin(4.2)]
    meds = [*anticoagulant, completed("Flucloxacillin 500 mg four times daily", "2026-11-10")]
    return post(client, "female", "1954-01-01", results, [], [AF], meds)


def test_r32_09_apixaban_on_a_hys_law_card_gets_its_line(client: FlaskClient) -> None:
    card = _only(_r32_09(client, [drug("Apixaban 5 mg twice daily", "2019-01-01")]), HYS_LAW)
    assert "On Apixaban: not for a liver injury with coagulopathy" in card["detail"]
    assert "review it with hepatology today" in card["detail"]


def test_rivaroxaban_gets_the_line_and_no_anticoagulant_gets_none(client: FlaskClient) -> None:
    card = _only(_r32_09(client, [drug("Rivaroxaban 20 mg daily", "2019-01-01")]), HYS_LAW)
    assert "On Rivaroxaban: not for a liver injury" in card["detail"]
    # neighbour: R32-09 without an anticoagulant: no line
    card = _only(_r32_09(client, []), HYS_LAW)
    assert "not for a liver injury with coagulopathy" not in card["detail"]
