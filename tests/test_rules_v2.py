"""Rulebook v2 principles and its new families (ARCHITECTURE.md section 6): one answer per
result set, quiet when stable and explained, children judged by multiples only, transient
hyperphosphatasaemia, PBC response, an older GGT reused while the ALP is stable, and "not known"
for data that could not be had. Positive, negative and boundary cases."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from cds_service.knowledge.model import KnowledgeBase
from tests.rules_helper import cards, fired, suggested
from tests.support.fhir import (
    alp,
    condition,
    full_prefetch,
    ggt,
    medication,
    observation,
    patient,
    sign_request,
)

THP = "alp-thp"
EXTREME = "alp-extreme"
CONFIRM = "alp-high-confirm-origin"
TODDLER = patient("female", "2025-09-10")  # 14 months on 2026-11-20


# --- transient hyperphosphatasaemia ----------------------------------------------------------


def test_a_well_toddler_with_a_very_high_alp_gets_a_calm_repeat(client: FlaskClient) -> None:
    # 14 months, ALP 3800 U/L against the 1-9 y limit of 335: 11x, no liver or bone disease.
    found = cards(client, [alp(3800, low=None, high=None)], pt=TODDLER)
    assert fired(found) == [THP]  # no extreme warning, no bone ALP, no GGT
    card = found[0]
    assert card["indicator"] == "info"
    assert suggested(card) == ["6768-6"]
    request = card["suggestions"][0]["actions"][0]["resource"]
    assert request["occurrencePeriod"] == {"start": "2027-01-15", "end": "2027-02-12"}
    assert "8-12 weeks" in card["suggestions"][0]["label"]


def test_raised_alt_or_a_known_bone_condition_is_not_transient(client: FlaskClient) -> None:
    alt = observation("1742-6", 120, low=None, high=None)  # ULN 45 for girls over 1
    found = cards(client, [alp(3800, low=None, high=None), alt], pt=TODDLER)
    assert THP not in fired(found)
    assert EXTREME in fired(found)  # 11x the age limit: the warning applies then
    rickets = condition("E55.0")
    found = cards(client, [alp(800, low=None, high=None)], pt=TODDLER, conditions=[rickets])
    assert THP not in fired(found)


@pytest.mark.parametrize(
    ("loinc", "value", "unit", "low", "high"),
    [
        ("62292-8", 10, "nmol/L", None, None),  # 25-OH vitamin D: deficient
        ("2731-8", 250, "pg/mL", 15, 65),  # PTH raised
        ("2777-1", 2.4, "mg/dL", 4.0, 6.5),  # phosphate low for a toddler
    ],
)
def test_rickets_in_the_labs_is_not_transient(
    client: FlaskClient, loinc: str, value: float, unit: str, low: float | None, high: float | None
) -> None:
    # Fourth bedside review: a toddler with 25-OH vitamin D 10 nmol/L, PTH 250 and a low
    # phosphate was called benign (Kraut: no bone disease on laboratory tests; Munns 2016).
    lab = observation(loinc, value, unit=unit, ucum=unit, low=low, high=high)
    found = cards(client, [alp(1650, low=None, high=None)], labs=[lab], pt=TODDLER)
    assert fired(found) == [CONFIRM]
    assert "rickets in the labs" in found[0]["detail"]
    assert "wrist or knee X-ray" in found[0]["detail"]
    # The rest of the rickets screen is one click away: 25-OH vitamin D and PTH, except the one
    # already resulted (fifth review: only a GGT was offered).
    rest = {"62292-8", "2731-8"} - {loinc}
    assert set(suggested(found[0])) == {"2324-2", *rest}


@pytest.mark.parametrize(
    ("value", "unit", "low", "high"),
    [
        (3.0, "mg/dL", 2.5, 4.5),  # normal for an adult, low for a toddler (Mayo 4.3 mg/dL)
        (0.95, "mmol/L", 0.81, 1.45),  # 2.9 mg/dL
    ],
)
def test_a_childs_phosphate_is_judged_by_an_age_appropriate_lower_limit(
    client: FlaskClient, value: float, unit: str, low: float, high: float
) -> None:
    # Fourth review's re-check: an adult range sent with a toddler's phosphate hid a low one, and
    # rickets was called transient hyperphosphatasaemia.
    lab = observation("2777-1", value, unit=unit, ucum=unit, low=low, high=high)
    found = cards(client, [alp(1650, low=None, high=None)], labs=[lab], pt=TODDLER)
    assert fired(found) == [CONFIRM]
    assert "rickets in the labs" in found[0]["detail"]
    # Normal for her age, or a paediatric range the value is within: still transient.
    for normal in (
        observation("2777-1", 4.6, unit="mg/dL", ucum="mg/dL", low=2.5, high=4.5),
        observation("2777-1", 4.2, unit="mg/dL", ucum="mg/dL", low=4.0, high=6.5),
    ):
        assert fired(
            cards(client, [alp(1650, low=None, high=None)], labs=[normal], pt=TODDLER)
        ) == [THP]


@pytest.mark.parametrize(("birth", "expected"), [("2021-11-21", True), ("2021-11-20", False)])
def test_transient_hyperphosphatasaemia_is_under_5(
    client: FlaskClient, birth: str, expected: bool
) -> None:
    found = cards(client, [alp(900, low=None, high=None)], pt=patient("male", birth))
    assert (THP in fired(found)) is expected


def test_children_are_never_extreme_by_absolute_u_per_l(client: FlaskClient) -> None:
    eight = patient("male", "2018-03-01")  # limit 335
    found = cards(client, [alp(3000, low=None, high=None)], pt=eight)  # 9.0x, over 1000 U/L
    assert EXTREME not in fired(found)
    found = cards(client, [alp(3350, low=None, high=None)], pt=eight)  # 10.0x
    assert EXTREME in fired(found)
    # An adult: 1000 U/L is extreme whatever the multiple.
    assert EXTREME in fired(cards(client, [alp(1000, low=100, high=400)]))


# --- quiet when stable and explained ---------------------------------------------------------


def earlier(value: float, when: str = "2026-09-20T08:00:00Z") -> dict[str, object]:
    return alp(value, when=when)


def test_a_stable_raised_alp_with_a_known_cause_is_quiet(client: FlaskClient) -> None:
    paget = [condition("M88.9")]
    assert cards(client, [alp(312), ggt(20)], conditions=paget, labs=[earlier(290)]) == []
    # Changed by more than 20% (312 vs 240): not quiet.
    changed = cards(client, [alp(312), ggt(20)], conditions=paget, labs=[earlier(240)])
    assert fired(changed) == ["alp-high-bone-explained"]
    # Stable but unexplained: the card shows.
    assert fired(cards(client, [alp(312), ggt(20)], labs=[earlier(300)])) == [
        "alp-high-bone-source"
    ]
    # The earlier value was normal: a new rise is not quiet.
    normal_before = alp(100, when="2026-09-20T08:00:00Z")
    assert cards(client, [alp(110), ggt(20)], conditions=paget, labs=[normal_before]) != []


@pytest.mark.parametrize(
    ("before", "quiet"), [(374, True), (375, False), (250, True), (249, False)]
)
def test_stable_means_within_20_percent(client: FlaskClient, before: float, quiet: bool) -> None:
    # 20% of 312 is 62.4: 250-374 U/L before is stable, 249 or 375 is not.
    prior = earlier(before)
    found = cards(client, [alp(312), ggt(20)], conditions=[condition("M88.9")], labs=[prior])
    assert (found == []) is quiet


def test_a_stable_value_is_quiet_only_when_its_cause_explains_its_height(
    client: FlaskClient,
) -> None:
    # Third bedside review's re-check: a stable 3.4x in cirrhosis and 3.8x after a fracture were
    # silent, though neither cause explains that height (3x and 2x, as the other cards judge).
    cirrhosis = [condition("K74.60")]
    assert cards(client, [alp(250), ggt(120)], conditions=cirrhosis, labs=[earlier(240)]) == []
    found = cards(client, [alp(354), ggt(120)], conditions=cirrhosis, labs=[earlier(340)])
    assert fired(found) == ["alp-high-liver-source"]
    fracture = [condition("S22.000A", onset="2026-10-01")]
    assert cards(client, [alp(180), ggt(20)], conditions=fracture, labs=[earlier(170)]) == []
    found = cards(client, [alp(395), ggt(20)], conditions=fracture, labs=[earlier(380)])
    assert fired(found) == ["alp-high-bone-source"]
    # PBC explains any height (its response card is the PBC rule's; stable and on
    # ursodeoxycholic acid it is quiet, as ARCHITECTURE section 6 says).
    assert (
        cards(client, [alp(520), ggt(200)], conditions=[condition("K74.3")], labs=[earlier(500)])
        == []
    )


def test_a_cancer_that_spreads_to_bone_is_never_explained_by_another_bone_cause(
    client: FlaskClient,
) -> None:
    # Prostate cancer with vitamin D deficiency, or a fracture: the cancer is named, stable or
    # not (third bedside review's re-check); with its bone metastases recorded they explain it.
    prostate, vit_d, fracture = (
        condition("C61"),
        condition("E55.9"),
        condition("S22.000A", onset="2026-10-01"),
    )
    for other in (vit_d, fracture):
        for labs in ([], [earlier(160)]):
            [card] = cards(client, [alp(166), ggt(20)], conditions=[prostate, other], labs=labs)
            assert card["source"]["topic"]["display"] == "alp-high-bone-source"
            assert "look for bone metastases" in card["summary"]
    mets = [prostate, condition("C79.51")]
    assert fired(cards(client, [alp(330), ggt(20)], conditions=mets)) == ["alp-high-bone-explained"]
    assert cards(client, [alp(330), ggt(20)], conditions=mets, labs=[earlier(320)]) == []


def test_a_stable_extreme_alp_with_known_metastases_is_quiet(client: FlaskClient) -> None:
    mets = [condition("C78.7"), condition("C79.51")]
    assert cards(client, [alp(1500)], conditions=mets, labs=[earlier(1450)]) == []
    found = cards(client, [alp(1500)], conditions=mets)
    assert fired(found) == [EXTREME, "alp-high-metastases"]


def test_an_older_ggt_counts_while_the_alp_is_stable(client: FlaskClient) -> None:
    # GGT 45 days before (outside the 30-day window), drawn with an ALP within 20% of today's.
    old_ggt = ggt(20, when="2026-10-06T08:00:00Z")
    then = earlier(300, when="2026-10-06T08:00:00Z")
    found = cards(client, [alp(312)], labs=[old_ggt, then])
    assert fired(found) == ["alp-high-bone-source"]
    assert "GGT from 6 Oct 2026" in found[0]["detail"]
    # The ALP has changed since: the old GGT no longer tells, ask for a new one.
    moved = earlier(200, when="2026-10-06T08:00:00Z")
    assert fired(cards(client, [alp(312)], labs=[old_ggt, moved])) == [CONFIRM]


# --- PBC on ursodeoxycholic acid -------------------------------------------------------------


@pytest.mark.parametrize(("value", "response"), [(174, True), (173, False)])
def test_pbc_on_udca_above_167_times_is_an_inadequate_response(
    client: FlaskClient, value: float, response: bool
) -> None:
    pbc = [condition("K74.3")]
    udca = [medication(text="Ursodiol 300 mg capsule")]
    found = cards(client, [alp(value), ggt(120)], conditions=pbc, medications=udca)
    # ULN 104: 174 is 1.673x, 173 is 1.663x.
    expected = "alp-high-pbc-response" if response else "alp-high-liver-known"
    assert fired(found) == [expected]
    if response:
        assert "inadequate response" in found[0]["summary"]
    else:
        assert "within the 1.67x response threshold" in found[0]["detail"]
    assert "anti-mitochondrial" not in found[0]["detail"]


# --- data that could not be had --------------------------------------------------------------


def test_unavailable_data_is_not_known_never_none(app: Flask) -> None:
    from cds_service.explain import evaluate_document

    body = sign_request([alp(312)], full_prefetch())
    del body["prefetch"]["orders"]  # open orders cannot be had (no fhirServer either)
    answer = evaluate_document(app.extensions["alp_cds"].services, body)
    card = answer.body["cards"][0]
    assert "Not available: open orders." in card["detail"]
    assert "no GGT is on order" not in card["detail"]
    stored = answer.trace.to_json()  # what the audit record keeps
    rules = {r["rule"]: r for r in stored["evaluations"][0]["rules"]}
    checks = rules[CONFIRM]["checks"]
    orders = next(c for c in checks if c.get("fact") == "orders.open")
    assert orders["not_known"] == ["orders"]
    assert "not known: orders unavailable" in orders["says"]


def test_a_finding_never_says_none_of_what_could_not_be_had(app: Flask) -> None:
    # "No GGT in the last 30 days" is a claim about the labs: with the labs unavailable the
    # card says what it saw (none with the ALP) and that the earlier ones could not be had.
    from cds_service.explain import evaluate_document

    services = app.extensions["alp_cds"].services
    body = sign_request([alp(312)], full_prefetch())
    detail = evaluate_document(services, body).body["cards"][0]["detail"]
    assert "No GGT in the last 30 days." in detail
    del body["prefetch"]["labs"]
    detail = evaluate_document(services, body).body["cards"][0]["detail"]
    assert "No GGT in the last" not in detail
    assert "No GGT with it; earlier labs not available." in detail
    assert "Not available: recent lab results." in detail


# --- the card contract -----------------------------------------------------------------------


def test_every_card_has_a_topic_code_override_reasons_and_a_short_detail(
    client: FlaskClient,
) -> None:
    samples = [
        ([alp(312)], None),
        ([alp(312), ggt(120)], None),
        ([alp(1500)], None),
        ([alp(20)], None),
        ([alp(3800, low=None, high=None)], TODDLER),
    ]
    for results, pt in samples:
        for card in cards(client, results, pt=pt):
            topic = card["source"]["topic"]
            assert re.fullmatch(r"[A-Za-z0-9]{1,100}", topic["code"])
            assert topic["display"].startswith("alp-")
            assert card["overrideReasons"], card["summary"]
            words = len(card["detail"].split())
            assert words <= 150, card["detail"]
            for banned in ("Rule `", "knowledge base v", "Criteria met", "Sources", "http"):
                assert banned not in card["detail"]


def test_values_and_limits_are_shown_in_the_lab_unit_and_precision(client: FlaskClient) -> None:
    low = alp(0.50, unit="ukat/L", ucum="ukat/L", low=0.58, high=1.74)
    found = cards(client, [low])
    # The value as sent (0.5), the limits with the range's own precision.
    assert found[0]["summary"].startswith("Low ALP 0.5 ukat/L (lower limit 0.58)")
    assert "0.58-1.74 ukat/L (lab range)" in found[0]["detail"]


# --- after the bedside review (2026-11-30) ---------------------------------------------------


def test_an_infant_with_a_raised_bilirubin_is_not_benign(client: FlaskClient) -> None:
    infant = patient("female", "2026-10-23")  # 28 days old
    bili = observation("1975-2", 9, unit="mg/dL", ucum="mg/dL", low=0.1, high=1.2)
    found = cards(client, [alp(1800, low=None, high=None), bili], pt=infant)
    assert fired(found) == ["alp-infant-cholestasis"]
    assert found[0]["indicator"] == "warning"
    assert "conjugated bilirubin today" in found[0]["summary"]
    # A well 14-month-old with a raised bilirubin is not presumed transient either.
    assert THP not in fired(cards(client, [alp(3800, low=None, high=None), bili], pt=TODDLER))


@pytest.mark.parametrize(("birth", "expected"), [("2026-05-21", True), ("2026-05-22", False)])
def test_transient_hyperphosphatasaemia_is_not_presumed_under_6_months(
    client: FlaskClient, birth: str, expected: bool
) -> None:
    found = cards(client, [alp(1500, low=None, high=None)], pt=patient("male", birth))
    assert (THP in fired(found)) is expected


def test_an_extreme_alp_with_a_normal_ggt_is_framed_as_bone(client: FlaskClient) -> None:
    found = cards(client, [alp(1400), ggt(20)])
    extreme = found[0]
    assert fired(found)[0] == EXTREME
    assert "from bone" in extreme["summary"]
    assert "Urgent liver ultrasound" not in extreme["detail"]
    # A child whose recorded bone cause explains it gets the bone card only.
    rickets = [condition("E55.0")]
    eight = patient("male", "2018-03-01")
    found = cards(
        client,
        [alp(3600, low=None, high=None), ggt(12, low=None, high=None)],
        pt=eight,
        conditions=rickets,
    )
    assert fired(found) == ["alp-high-bone-explained"]


def test_a_rising_alp_with_a_known_bone_cause_asks_for_review(client: FlaskClient) -> None:
    found = cards(
        client,
        [alp(400), ggt(20)],
        conditions=[condition("M88.9")],
        labs=[alp(200, when="2026-06-20T08:00:00Z")],
    )
    assert "rising (was 200 U/L on 20 Jun 2026)" in found[0]["summary"]


def test_ceruloplasmin_leads_when_wilson_disease_is_possible(client: FlaskClient) -> None:
    alt = observation("1742-6", 120, low=7, high=45)
    earlier = alp(33, when="2026-09-10T08:00:00Z")
    found = cards(client, [alp(31), alt], pt=patient("male", "2002-06-30"), labs=[earlier])
    # Thirteenth round part E (review 13, 34): aged 3-40 with no recorded cause, the card leads
    # with Wilson disease and orders ceruloplasmin alone (no zinc, magnesium, TSH, B12 screen).
    assert "exclude Wilson disease first" in found[0]["summary"]
    assert suggested(found[0]) == ["2064-4"]
    recommended = [
        s["actions"][0]["resource"]["code"]["coding"][0]["code"]
        for s in found[0]["suggestions"]
        if s.get("isRecommended")
    ]
    assert "2064-4" in recommended


def test_denosumab_is_never_simply_stopped(client: FlaskClient) -> None:
    earlier = alp(22, when="2026-08-15T08:00:00Z")
    found = cards(
        client,
        [alp(20)],
        labs=[earlier],
        medications=[medication(text="Prolia 60 mg/mL injection")],
    )
    assert "do not stop it without a plan" in found[0]["detail"]
    assert "on Prolia" in found[0]["summary"]


def test_a_screen_multiple_carries_its_comparator(client: FlaskClient) -> None:
    screen = alp(1000)
    screen["valueQuantity"]["comparator"] = ">"
    found = cards(client, [screen])
    assert found[0]["summary"].startswith("ALP >1000 U/L (>9.6x upper limit)")


def test_pregnancy_with_raised_transaminases_is_never_reassured(client: FlaskClient) -> None:
    thirty_weeks = [condition("Z3A.30", recorded="2026-11-19")]
    alt = observation("1742-6", 180, low=7, high=45)
    found = cards(client, [alp(220), ggt(20), alt], conditions=thirty_weeks)
    assert fired(found) == ["alp-high-pregnancy-liver"]
    assert found[0]["indicator"] == "warning"
    assert "compatible" not in found[0]["summary"]


def test_hypophosphatasia_in_free_text_counts_unless_only_suspected(client: FlaskClient) -> None:
    drug = medication(text="Alendronate 70 mg weekly")

    def problem(text: str) -> dict[str, object]:
        entry = condition("X")
        entry["code"] = {"text": text}
        return entry

    found = cards(client, [alp(19)], conditions=[problem("Hypophosphatasia")], medications=[drug])
    assert fired(found) == ["alp-known-hpp-antiresorptive"]
    found = cards(
        client, [alp(19)], conditions=[problem("Suspected hypophosphatasia")], medications=[drug]
    )
    assert fired(found) == ["alp-low-first"]


def test_an_enzyme_inducer_gets_its_own_words(client: FlaskClient) -> None:
    # Eighteenth round (review 18, B21): the induction words are for a rise below the
    # drug-injury level (ALP 1.8x here); at 3x (Aithal 2011: ALP 2x) they were false
    # reassurance, and the anti-epileptic injury card speaks instead.
    found = cards(client, [alp(190), ggt(120)], medications=[medication("8183")])
    assert "enzyme induction raises ALP and GGT" in found[0]["detail"]
    assert "avoid re-exposure" not in found[0]["detail"]
    found = cards(client, [alp(312), ggt(120)], medications=[medication("8183")])
    assert "usually no change to the drug is needed" not in found[0]["detail"]


def test_a_mild_non_fasting_rise_with_normal_ggt_is_repeated_fasting_first(
    client: FlaskClient,
) -> None:
    from tests.support.fhir import with_fasting

    found = cards(client, [with_fasting(alp(130), "NF"), ggt(20)])  # 1.25x
    assert fired(found) == ["alp-high-bone-source"]
    assert suggested(found[0]) == ["6768-6"]


# --- a lab range sent only as text ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("35-104 U/L", "reference 35-104 U/L (lab range)"),
        ("35 - 104", "reference 35-104 U/L (lab range)"),
        ("35 to 104 IU/L", "reference 35-104 U/L (lab range)"),
        ("0.58-1.74 ukat/L", "reference 35-104 U/L (lab range)"),
        ("<= 104 U/L", "(lab range completed from the knowledge base)"),
    ],
)
def test_a_range_sent_only_as_text_is_read(client: FlaskClient, text: str, shown: str) -> None:
    # Fourth bedside review: a range sent only as `referenceRange.text` was ignored and the
    # adult table (40-129 for a man) called an ALP of 120 normal against the lab's 35-104.
    result = alp(120, low=None, high=None)
    result["referenceRange"] = [{"text": text}]
    [card] = cards(client, [result], pt=patient("male"))
    assert card["source"]["topic"]["display"] == "alp-high-confirm-origin"
    assert shown in card["detail"]


def test_a_text_range_labelled_for_adults_is_read_for_an_adult(client: FlaskClient) -> None:
    # Re-check of the fifth review: "Adults: 35 to 104 U/L" was not read, and the table (40-129
    # for a man) called an ALP of 120 normal.
    result = alp(120, low=None, high=None)
    result["referenceRange"] = [{"text": "Adults: 35 to 104 U/L"}]
    [card] = cards(client, [result], pt=patient("male"))
    assert card["source"]["topic"]["display"] == "alp-high-confirm-origin"
    assert "reference 35-104 U/L (lab range)" in card["detail"]


@pytest.mark.parametrize(
    "text", ["M: 40-129; F: 35-104", "see report", "104-35 U/L", "35-104 mg/dL"]
)
def test_a_text_range_that_is_not_one_plain_range_is_not_read(
    client: FlaskClient, text: str
) -> None:
    # Two ranges, prose, reversed bounds or a unit that is not an enzyme unit: the table
    # (40-129 for a man), so 120 is normal.
    result = alp(120, low=None, high=None)
    result["referenceRange"] = [{"text": text}]
    assert cards(client, [result], pt=patient("male")) == []


def test_a_memoised_condition_is_found_by_the_object_not_only_its_id(kb: KnowledgeBase) -> None:
    # Leaf conditions are made ready once per knowledge base, keyed by id(); an id can be reused
    # by another object once the first is gone, and must not hand back the other's test.
    from cds_service.clinical.engine import check
    from cds_service.clinical.facts import Facts
    from cds_service.knowledge.model import Condition

    facts = Facts()
    facts.set("alp.xuln", 2.0)
    above = Condition("ALP above 1x", fact="alp.xuln", operator="above", operand=1)
    below = Condition("ALP below 1x", fact="alp.xuln", operator="below", operand=1)
    assert check(kb, above, facts).held
    kb.condition_memo[id(below)] = kb.condition_memo[id(above)]  # as if the id were reused
    assert not check(kb, below, facts).held


@pytest.mark.parametrize("value", [-5, 1e308, 100_001])
def test_an_implausible_alp_is_audited_not_carded(app: Flask, value: float) -> None:
    from cds_service.explain import evaluate_document

    body = sign_request([alp(value)], full_prefetch())
    answer = evaluate_document(app.extensions["alp_cds"].services, body)
    assert answer.body["cards"] == []
    [evaluation] = answer.trace.evaluations
    assert evaluation.not_interpreted is not None
    assert "not a plausible ALP measurement" in evaluation.not_interpreted


def test_an_alp_swapped_range_gives_way_to_the_table(app: Flask) -> None:
    from cds_service.explain import evaluate_document

    body = sign_request([alp(312, low=104, high=35)], full_prefetch())
    answer = evaluate_document(app.extensions["alp_cds"].services, body)
    [card] = answer.body["cards"]
    assert "(3.0x upper limit)" in card["summary"]  # 312 against the table's 104, not 35
    assert "lab range" not in card["detail"]


def test_a_zero_lower_limit_gives_way_to_the_tables(app: Flask) -> None:
    # "0-129 U/L": a placeholder lower limit would hide every low ALP at that laboratory.
    from cds_service.explain import evaluate_document

    body = sign_request([alp(22, low=0, high=129)], full_prefetch())
    answer = evaluate_document(app.extensions["alp_cds"].services, body)
    [card] = answer.body["cards"]
    assert card["summary"].startswith("Low ALP 22 U/L")
    facts = answer.trace.evaluations[0].facts
    assert facts["alp.range"].value == "35-129 U/L (lab range completed from the knowledge base)"
    # A real lower limit is the lab's own: 30 U/L is normal against 25-129.
    body = sign_request([alp(30, low=25, high=129)], full_prefetch())
    assert evaluate_document(app.extensions["alp_cds"].services, body).body["cards"] == []
