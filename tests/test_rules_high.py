"""Rule families for a raised ALP: liver source, bone source (and explained), origin unclear,
pregnancy, extreme, drugs (annotation) and the fasting repeat. Positive, negative and boundary
cases for each (confirm origin has its own module)."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from cds_service.knowledge.model import KnowledgeBase
from tests.rules_helper import card_for, cards, fired, suggested
from tests.support.fhir import (
    SNOMED,
    alp,
    coded_observation,
    condition,
    ggt,
    medication,
    observation,
    patient,
    service_request,
    with_fasting,
)

LIVER = "alp-high-liver-source"
BONE = "alp-high-bone-source"
BONE_EXPLAINED = "alp-high-bone-explained"
UNCLEAR = "alp-high-origin-unclear"
PREGNANCY = "alp-high-pregnancy"
EXTREME = "alp-extreme"
CONFIRM = "alp-high-confirm-origin"


# --- liver source ----------------------------------------------------------------------------


def test_raised_ggt_gives_the_liver_card_without_bone_alp(client: FlaskClient) -> None:
    found = cards(client, [alp(312), ggt(120)])
    assert fired(found) == [LIVER]
    card = found[0]
    assert "liver or biliary source likely" in card["summary"]
    assert "suggestions" not in card
    assert "ultrasound" in card["detail"]
    assert "anti-mitochondrial" in card["detail"]


def test_liver_card_names_known_liver_disease_and_psc_with_ibd(client: FlaskClient) -> None:
    found = cards(
        client, [alp(312), ggt(120)], conditions=[condition("K74.3"), condition("K51.90")]
    )
    detail = found[0]["detail"]
    assert "Known liver disease is in the record" in detail
    assert "K74.3" in detail
    assert "primary sclerosing cholangitis" in detail


def test_liver_card_gives_the_r_ratio_pattern(client: FlaskClient) -> None:
    alt = observation("1742-6", 40, low=7, high=40)  # ALT 1.0x ULN, ALP 3.0x ULN: R 0.3
    found = cards(client, [alp(312), ggt(120), alt])
    assert "R ratio 0.3: cholestatic pattern" in found[0]["detail"]


def test_normal_ggt_is_not_the_liver_card(client: FlaskClient) -> None:
    assert LIVER not in fired(cards(client, [alp(312), ggt(20)]))


def test_ggt_just_above_the_borderline_band_is_high(client: FlaskClient) -> None:
    # GGT ULN 36: 39.6 is exactly 1.1x (borderline); 40 is above the band.
    assert fired(cards(client, [alp(312), ggt(40)])) == [LIVER]
    assert fired(cards(client, [alp(312), ggt(39.6)])) == [UNCLEAR]


def test_ggt_without_a_range_uses_the_adult_table(client: FlaskClient) -> None:
    # Mayo GGT women 5-36 U/L.
    assert fired(cards(client, [alp(312), ggt(90, low=None, high=None)])) == [LIVER]


# --- bone source -----------------------------------------------------------------------------


def test_normal_ggt_suggests_bone_specific_alp(client: FlaskClient) -> None:
    found = cards(client, [alp(312), ggt(20)])
    assert fired(found) == [BONE]
    assert suggested(found[0]) == ["17838-4"]
    assert "25-OH vitamin D" in found[0]["detail"]


@pytest.mark.parametrize(
    ("code", "system", "words"),
    [
        ("M88.9", "http://hl7.org/fhir/sid/icd-10-cm", "Paget disease of bone"),
        ("M83.9", "http://hl7.org/fhir/sid/icd-10-cm", "Osteomalacia or rickets"),
        ("C79.51", "http://hl7.org/fhir/sid/icd-10-cm", "Bone metastases"),
        ("94222008", SNOMED, "Bone metastases"),
    ],
)
def test_a_known_bone_cause_explains_it_without_a_suggestion(
    client: FlaskClient, code: str, system: str, words: str
) -> None:
    found = cards(client, [alp(312), ggt(20)], conditions=[condition(code, system)])
    assert fired(found) == [BONE_EXPLAINED]
    assert "suggestions" not in found[0]
    assert words in found[0]["detail"]


def test_a_fracture_counts_for_90_days_even_when_resolved(client: FlaskClient) -> None:
    recent = condition("S72.001A", status="resolved", onset="2026-09-01")
    old = condition("S72.001A", status="resolved", onset="2026-08-01")
    assert fired(cards(client, [alp(312), ggt(20)], conditions=[recent])) == [BONE_EXPLAINED]
    assert fired(cards(client, [alp(312), ggt(20)], conditions=[old])) == [BONE]


def test_a_refuted_or_resolved_bone_condition_does_not_count(client: FlaskClient) -> None:
    refuted = condition("M88.9", verification="refuted")
    resolved = condition("M83.9", status="resolved")
    assert fired(cards(client, [alp(312), ggt(20)], conditions=[refuted, resolved])) == [BONE]


def test_bone_alp_already_ordered_is_not_suggested_again(client: FlaskClient) -> None:
    found = cards(client, [alp(312), ggt(20)], orders=[service_request("17838-4")])
    assert fired(found) == [BONE]
    assert "suggestions" not in found[0]
    assert "an order is already open" in found[0]["detail"]


# --- origin unclear --------------------------------------------------------------------------


def test_an_enzyme_inducing_antiepileptic_suggests_isoenzymes(client: FlaskClient) -> None:
    found = cards(client, [alp(312), ggt(120)], medications=[medication("8183")])
    assert fired(found) == [UNCLEAR]
    assert suggested(found[0]) == ["24332-9"]
    assert "anti-epileptic" in found[0]["detail"]


def test_an_antiepileptic_without_ggt_goes_straight_to_isoenzymes(client: FlaskClient) -> None:
    found = cards(client, [alp(312)], medications=[medication(text="Carbamazepine 200 mg tablet")])
    assert fired(found) == [UNCLEAR]
    assert "name match" in found[0]["detail"]


def test_liver_and_bone_disease_together_make_the_origin_unclear(client: FlaskClient) -> None:
    found = cards(
        client, [alp(312), ggt(120)], conditions=[condition("K74.60"), condition("M88.9")]
    )
    assert fired(found) == [UNCLEAR]


def test_liver_disease_alone_does_not(client: FlaskClient) -> None:
    assert fired(cards(client, [alp(312), ggt(120)], conditions=[condition("K74.60")])) == [LIVER]


@pytest.mark.parametrize(("value", "expected"), [(32.4, UNCLEAR), (32.3, BONE), (36, UNCLEAR)])
def test_borderline_ggt_band_edges(client: FlaskClient, value: float, expected: str) -> None:
    # ULN 36: the band is 32.4-39.6.
    assert fired(cards(client, [alp(312), ggt(value)])) == [expected]


# --- pregnancy -------------------------------------------------------------------------------

PREGNANT = coded_observation("82810-3", "http://loinc.org", "LA15173-0", "2026-11-01T09:00:00Z")


def test_late_pregnancy_is_compatible_with_placental_alp(client: FlaskClient) -> None:
    found = cards(
        client, [alp(250)], conditions=[condition("Z3A.34", recorded="2026-11-10")], labs=[PREGNANT]
    )
    assert fired(found) == [PREGNANCY]
    assert "suggestions" not in found[0]
    assert "placental" in found[0]["summary"]


def test_pregnancy_with_unknown_trimester_also_counts(client: FlaskClient) -> None:
    assert fired(cards(client, [alp(250)], conditions=[condition("Z33.1")])) == [PREGNANCY]


def test_first_trimester_is_not_placental(client: FlaskClient) -> None:
    found = cards(client, [alp(250)], conditions=[condition("Z3A.10", recorded="2026-11-15")])
    assert fired(found) == [CONFIRM]


def test_weeks_move_forward_to_the_alp_date(client: FlaskClient) -> None:
    # 26 weeks on 2026-09-25 is 34 weeks on 2026-11-20: third trimester.
    found = cards(client, [alp(250)], conditions=[condition("Z3A.26", recorded="2026-09-25")])
    assert fired(found) == [PREGNANCY]


def test_above_three_times_the_limit_is_not_presumed_placental(client: FlaskClient) -> None:
    pregnant = [condition("Z33.1")]
    assert fired(cards(client, [alp(312)], conditions=pregnant)) == [PREGNANCY]  # 3.0x
    assert fired(cards(client, [alp(313)], conditions=pregnant)) == [CONFIRM]  # 3.01x


def test_raised_ggt_in_pregnancy_gives_the_liver_card_with_bile_acids(client: FlaskClient) -> None:
    found = cards(client, [alp(250), ggt(90)], conditions=[condition("Z33.1")])
    assert fired(found) == [LIVER]
    assert "bile acids" in found[0]["detail"]


def test_a_not_pregnant_status_overrides_an_old_problem_list_entry(client: FlaskClient) -> None:
    not_pregnant = coded_observation(
        "82810-3", "http://loinc.org", "LA26683-5", "2026-11-19T09:00:00Z"
    )
    found = cards(client, [alp(250)], conditions=[condition("Z33.1")], labs=[not_pregnant])
    assert fired(found) == [CONFIRM]


def test_men_are_never_pregnant(client: FlaskClient) -> None:
    found = cards(client, [alp(250)], pt=patient("male"), conditions=[condition("Z33.1")])
    assert fired(found) == [CONFIRM]


# --- extreme ---------------------------------------------------------------------------------


def test_ten_times_the_limit_warns_and_the_other_rules_still_apply(client: FlaskClient) -> None:
    found = cards(client, [alp(1040)])  # 10.0x ULN
    assert fired(found) == [EXTREME, CONFIRM]
    assert found[0]["indicator"] == "warning"
    assert "sepsis" in found[0]["detail"]
    assert suggested(card_for(found, CONFIRM)) == ["2324-2"]


def test_1000_u_per_l_is_extreme_whatever_the_limit(client: FlaskClient) -> None:
    found = cards(client, [alp(1000, low=100, high=400)])  # 2.5x ULN
    assert fired(found)[0] == EXTREME
    assert fired(cards(client, [alp(999, low=100, high=400)]))[0] != EXTREME


def test_just_under_ten_times_is_not_extreme(client: FlaskClient) -> None:
    assert EXTREME not in fired(cards(client, [alp(985)]))  # 9.47x, 985 U/L


# --- drugs (annotation) ----------------------------------------------------------------------


def test_a_cholestatic_antibiotic_is_named_in_the_high_card(client: FlaskClient) -> None:
    found = cards(client, [alp(312)], medications=[medication("19711")])
    assert fired(found) == [CONFIRM]  # an annotation, not a card of its own
    assert "can raise ALP" in found[0]["detail"]
    assert "MedicationRequest/" in found[0]["detail"]


def test_the_drug_annotation_needs_a_high_alp(client: FlaskClient) -> None:
    found = cards(client, [alp(20)], medications=[medication("19711")])
    assert all("can raise ALP" not in c["detail"] for c in found)


def test_a_stopped_drug_does_not_count(client: FlaskClient) -> None:
    found = cards(client, [alp(312)], medications=[medication("19711", status="stopped")])
    assert "can raise ALP" not in found[0]["detail"]


def test_topical_forms_do_not_match_by_name(client: FlaskClient) -> None:
    found = cards(client, [alp(312)], medications=[medication(text="erythromycin 2% topical gel")])
    assert "can raise ALP" not in found[0]["detail"]


# --- fasting ---------------------------------------------------------------------------------


def test_a_mild_rise_on_a_non_fasting_specimen_adds_a_fasting_repeat(client: FlaskClient) -> None:
    found = cards(client, [with_fasting(alp(135), "NF")])  # 1.3x ULN
    assert fired(found) == [CONFIRM]
    assert suggested(found[0]) == ["2324-2", "6768-6"]
    assert "fasting repeat" in found[0]["detail"]


def test_no_fasting_repeat_at_or_above_1_5x_or_when_fasting(client: FlaskClient) -> None:
    assert suggested(cards(client, [with_fasting(alp(156), "NF")])[0]) == ["2324-2"]  # 1.5x
    assert suggested(cards(client, [with_fasting(alp(135), "F")])[0]) == ["2324-2"]
    assert suggested(cards(client, [alp(135)])[0]) == ["2324-2"]


def test_a_ggt_that_cannot_be_judged_sends_to_isoenzymes(client: FlaskClient) -> None:
    # A 9-year-old: the knowledge base has adult GGT intervals only, and the lab sent none.
    child = patient("female", "2017-05-01")
    found = cards(client, [alp(500), ggt(15, low=None, high=None)], pt=child)
    assert fired(found) == [UNCLEAR]
    assert "cannot be judged" in found[0]["detail"]


def test_a_withdrawn_pregnancy_status_is_not_evidence(client: FlaskClient) -> None:
    withdrawn = {**PREGNANT, "status": "entered-in-error"}
    assert fired(cards(client, [alp(250)], labs=[withdrawn])) == [CONFIRM]
    assert fired(cards(client, [alp(250)], labs=[PREGNANT])) == [PREGNANCY]


@pytest.mark.parametrize(
    ("recorded", "weeks"), [("2026-05-01", 59.0), ("2026-08-14", 44.0), ("2026-08-15", 43.9)]
)
def test_gestation_projected_past_term_is_not_believed(
    kb: KnowledgeBase, recorded: str, weeks: float
) -> None:
    from datetime import UTC, datetime

    from cds_service.clinical import pregnancy
    from cds_service.clinical.classify import classify
    from cds_service.clinical.record import PatientRecord

    when = datetime(2026, 11, 20, 8, tzinfo=UTC)
    record = PatientRecord(
        patient=patient("female"), now=when, conditions=(condition("Z3A.30", recorded=recorded),)
    )
    found = pregnancy.assess(kb, classify(kb, record), when, "female")
    assert found.status == "pregnant"
    projected = 30 + (when - datetime.fromisoformat(recorded).replace(tzinfo=UTC)).days / 7
    assert round(projected, 1) == weeks
    if weeks <= 44:
        assert found.weeks == weeks
    else:
        assert found.weeks is None
        assert found.trimester == "unknown"
