"""Sixteenth round (2026-12-01), the integrator's items (docs/rulebook.md, "Sixteenth round")."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.rules_helper import cards, fired
from tests.support.fhir import SNOMED, alp, condition, ggt, observation, patient
from tests.test_fourteenth_round_g import MYELOMA, albumin, calcium, ionised, labs
from tests.test_fourteenth_round_h import (
    BONE,
    GIRL_10,
    MAN_30,
    child_alp,
    child_ggt,
    g6pd_labs,
    words,
)
from tests.test_rules_high import PREGNANCY, bile_acids
from tests.test_rules_low import EXPLAINED, MILD_EARLIER_LOW, WILSON


@pytest.mark.parametrize(
    "text",
    ["Coeliac disease - gluten free diet", "Celiac disease", "Gluten-sensitive enteropathy"],
)
def test_coeliac_disease_in_words_is_read_as_coded_coeliac_disease_is(
    client: FlaskClient, text: str
) -> None:
    # A persistent mildly low ALP is explained by it, and a child's raised ALP within the growth
    # margin keeps the bone-source card (rickets from malabsorption), as K90.0 does.
    found = cards(client, [alp(33)], conditions=[words(text)], labs=[MILD_EARLIER_LOW])
    assert fired(found) == [EXPLAINED]
    assert text.split(" - ")[0].lower() in found[0]["detail"].lower()  # named in its words
    labs = [child_alp(480), child_ggt(12)]
    assert fired(cards(client, labs, pt=GIRL_10, conditions=[words(text)])) == [BONE]


@pytest.mark.parametrize(
    "text",
    [
        "?Coeliac disease - tTG awaited",
        "Coeliac screen negative",
        "Coeliac plexus block for pancreatic pain",
        "Mother has coeliac disease",
    ],
)
def test_a_query_a_negative_screen_or_a_relatives_coeliac_disease_is_not_the_patients(
    client: FlaskClient, text: str
) -> None:
    labs = [child_alp(480), child_ggt(12)]
    assert cards(client, labs, pt=GIRL_10, conditions=[words(text)]) == [], text


def test_bile_acids_of_cholestasis_of_pregnancy_are_named_on_the_raised_liver_tests_warning(
    client: FlaskClient,
) -> None:
    # Review 16, P12: 34 weeks, itching, bile acids 48, ALT 96: the warning listed cholestasis of
    # pregnancy among what "must be excluded" and did not name the bile acids.
    weeks = [condition("Z3A.34", recorded="2026-11-19")]
    labs = [alp(341, high=104), observation("1742-6", 96, low=7, high=33), ggt(20)]
    found = cards(client, [*labs, bile_acids(48)], conditions=weeks)
    assert fired(found) == ["alp-high-pregnancy-liver"]
    assert found[0]["indicator"] == "warning"
    assert "bile acids 48 umol/L" in found[0]["summary"]
    assert "cholestasis of pregnancy if itching" in found[0]["summary"]
    assert "Blood pressure, urine protein, platelets" in found[0]["detail"]  # HELLP still
    assert "Cholestasis of pregnancy, pre-eclampsia" not in found[0]["detail"]
    # Under 19 micromol/L they are not named as cholestasis of pregnancy.
    found = cards(client, [*labs, bile_acids(12)], conditions=weeks)
    assert fired(found) == ["alp-high-pregnancy-liver"]
    assert "cholestasis of pregnancy if" not in found[0]["summary"]


def test_an_inr_past_the_liver_failure_threshold_is_called_acute_liver_failure(
    client: FlaskClient,
) -> None:
    # Review 16, P03 and P04: "INR 3.4: at the acute-liver-failure threshold" read as borderline.
    found = cards(client, g6pd_labs(inr=3.4), pt=MAN_30)
    assert fired(found)[0] == WILSON
    assert (
        "INR 3.4: acute liver failure (INR 1.5 or more); a liver unit today." in found[0]["detail"]
    )


WOMAN_35 = patient("female", "1991-04-02")


def test_a_falling_alp_three_weeks_after_a_delivery_coded_in_snomed_is_clearing(
    client: FlaskClient,
) -> None:
    # Review 16, P13: vaginal delivery 22 days before (SNOMED 48782003, postpartum state
    # 86569001), ALP 214 falling from 398 before it, GGT normal: bone-specific ALP and "Paget
    # disease or metastases". Placental ALP clearing and lactation: a repeat after the puerperium.
    record = [
        condition("48782003", SNOMED, onset="2026-10-29"),
        condition("86569001", SNOMED, onset="2026-10-29"),
    ]
    before = [alp(398, high=104, when="2026-10-20T08:00:00Z", ident="alp-term")]
    found = cards(
        client, [alp(214, high=104), ggt(20)], pt=WOMAN_35, conditions=record, labs=before
    )
    assert fired(found) == [PREGNANCY]
    assert "22 days after delivery, falling (was 398 U/L on 20 Oct 2026)" in found[0]["summary"]
    assert "repeat 6-8 weeks after birth" in found[0]["summary"]
    assert "suggestions" not in found[0]
    # Rising since delivery, it is not clearing: the ordinary work-up.
    before = [alp(150, high=104, when="2026-11-05T08:00:00Z", ident="alp-after")]
    found = cards(
        client, [alp(214, high=104), ggt(20)], pt=WOMAN_35, conditions=record, labs=before
    )
    assert PREGNANCY not in fired(found)
    # Past the puerperium (delivered 50 days before), the same falling value is worked up.
    late = [condition("48782003", SNOMED, onset="2026-10-01")]
    before = [alp(398, high=104, when="2026-09-25T08:00:00Z", ident="alp-term")]
    found = cards(client, [alp(214, high=104), ggt(20)], pt=WOMAN_35, conditions=late, labs=before)
    assert PREGNANCY not in fired(found)


def test_a_raised_total_calcium_beside_a_normal_ionised_one_is_named_bound_not_repeated(
    client: FlaskClient,
) -> None:
    # Review 16, R04: myeloma, total calcium 2.95 with albumin 31 g/L (adjusted higher), ionised
    # 1.24 normal: "raised: repeat it; PTH only if it stays high". The ionised calcium settles it.
    record = labs(calcium(2.95), albumin(31), ionised(1.24), xuln=1.15)
    [card] = cards(client, record, conditions=[MYELOMA])
    assert "ionised calcium 1.24 mmol/L" in card["detail"]
    assert "bound calcium (a paraprotein), not hypercalcaemia" in card["detail"]
    assert "repeat it" not in card["detail"]
    assert "PTH" not in card["summary"]
    # Without myeloma the same calcium makes no "PTH first" summary either.
    [card] = cards(client, labs(calcium(2.70), ionised(1.24)))
    assert "PTH first" not in card["summary"]
    assert "bound calcium" in card["detail"]
    # A raised ionised calcium with it: PTH first, as before.
    [card] = cards(client, labs(calcium(2.70), ionised(1.40)))
    assert "PTH first" in card["summary"]
