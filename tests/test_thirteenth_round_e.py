"""Thirteenth round, part E (2026-12-01): the thirteenth review's low-ALP and Wilson defects,
each with the record that showed it (docs/rulebook.md, "Thirteenth round ... part E")."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.rules_helper import cards, fired, suggested
from tests.support.fhir import (
    alp,
    condition,
    medication,
    observation,
    patient,
    procedure,
)

WILSON = "alp-wilson-pattern"
WILSON_YOUNG = "alp-low-wilson-young"
PERSISTENT = "alp-low-persistent"
MILD = "alp-low-persistent-mild"
EXPLAINED = "alp-low-explained"
URGENT_LOW = "alp-low-electrolyte-urgent"
FIRST = "alp-low-first"
CPT = "http://www.ama-assn.org/go/cpt"
NOW = "2026-11-20T08:00:00Z"
EARLIER = "2026-08-20T08:00:00Z"


def named(code: str, text: str, **kwargs: Any) -> dict[str, Any]:
    entry = condition(code, **kwargs)
    entry["code"]["text"] = text
    return entry


# --- 1 (48): an inherited haemolytic anaemia outside liver failure is not the Wilson pattern --


MAN_22 = patient("male", "2004-05-01")


def sickle_labs(inr: float = 1.1) -> list[dict[str, Any]]:
    return [
        alp(60, low=40, high=129),
        observation("1975-2", 17, unit="mg/dL", ucum="mg/dL", low=0.1, high=1.2),
        observation("1920-8", 190, low=10, high=40),
        observation("1742-6", 70, low=7, high=45),
        observation("6301-6", inr, unit=None, ucum=None),
    ]


def sickle_crisis() -> list[dict[str, Any]]:
    return [
        named("D57.00", "Hb-SS disease with crisis", onset="2026-11-18"),
        named("D57.1", "Sickle cell anemia", onset="2004-06-01"),
    ]


def test_sickle_crisis_with_a_normal_inr_is_not_the_wilson_pattern(client: FlaskClient) -> None:
    # Review 13, 48: bilirubin 17, AST/ALT 2.7, ALP/bilirubin 3.5, INR 1.1 in a sickle crisis
    # got "pattern of acute Wilson disease; discuss urgently with a liver unit".
    found = cards(client, sickle_labs(), conditions=sickle_crisis(), pt=MAN_22)
    assert WILSON not in fired(found)
    # Thalassaemia, G6PD deficiency and hereditary spherocytosis, by code or in words: the same.
    for entry in (
        condition("D56.1"),
        condition("D55.0"),
        condition("D58.0"),
        named("D64.9", "G6PD deficiency with haemolytic crisis"),
    ):
        assert WILSON not in fired(cards(client, sickle_labs(), conditions=[entry], pt=MAN_22))


def test_the_wilson_warning_still_shows_with_liver_failure_beside_sickle_cell(
    client: FlaskClient,
) -> None:
    # The must-not-miss: fulminant Wilson disease has Coombs-negative haemolysis and liver
    # failure; an INR of 1.5 or more, or acute liver failure recorded, keeps the warning.
    found = cards(client, sickle_labs(inr=1.6), conditions=sickle_crisis(), pt=MAN_22)
    assert fired(found) == [WILSON]
    failure = [*sickle_crisis(), condition("K72.00", onset="2026-11-19")]
    assert fired(cards(client, sickle_labs(inr=1.2), conditions=failure, pt=MAN_22)) == [WILSON]


def test_a_trait_or_thalassaemia_minor_does_not_silence_the_wilson_pattern(
    client: FlaskClient,
) -> None:
    for entry in (condition("D57.3"), condition("D56.3"), named("D64.9", "Sickle cell trait")):
        found = cards(client, sickle_labs(), conditions=[entry], pt=MAN_22)
        assert fired(found) == [WILSON], entry
    assert fired(cards(client, sickle_labs(), pt=MAN_22)) == [WILSON]


# --- 2 (34): a young person with a persistently low ALP and raised ALT: Wilson disease first --


BOY_13 = patient("male", "2013-06-01")


def boy_labs(alt_value: float = 175) -> list[dict[str, Any]]:
    # The adult range on the result; the age table (116-468 at 13) calls 95 low.
    return [
        alp(95, low=40, high=129, when=NOW),
        observation("1742-6", alt_value, low=7, high=45, when=NOW),
        observation("1920-8", 120, low=10, high=40, when=NOW),
    ]


BOY_EARLIER = [alp(100, low=40, high=129, when="2026-06-01T08:00:00Z")]


def test_boy_with_raised_alt_and_a_low_alp_for_age_leads_with_wilson(client: FlaskClient) -> None:
    # Review 13, 34: "consider hypophosphatasia" with PLP, zinc, magnesium, TSH, B12 and
    # ceruloplasmin, Wilson disease as the third bullet.
    found = cards(client, boy_labs(), pt=BOY_13, labs=BOY_EARLIER)
    assert fired(found) == [WILSON_YOUNG]
    card = found[0]
    assert card["indicator"] == "warning"
    assert "Wilson disease" in card["summary"]
    assert "hypophosphatasia" not in card["summary"]
    assert suggested(card) == ["2064-4"]
    assert "24-hour urine copper" in card["detail"]
    assert "paediatric hepatology" in card["detail"]


def test_a_neurological_sign_alone_leads_with_wilson_too(client: FlaskClient) -> None:
    tremor = named("R25.1", "Tremor", onset="2026-09-01")
    found = cards(client, boy_labs(alt_value=30), conditions=[tremor], pt=BOY_13, labs=BOY_EARLIER)
    assert fired(found) == [WILSON_YOUNG]
    assert "tremor" in found[0]["summary"].lower()


def test_without_liver_injury_or_on_a_bisphosphonate_the_hypophosphatasia_card_stays(
    client: FlaskClient,
) -> None:
    assert fired(cards(client, boy_labs(alt_value=30), pt=BOY_13, labs=BOY_EARLIER)) == [PERSISTENT]
    # Over the lead band (40), the hypophosphatasia card keeps its Wilson line.
    woman_50 = patient("female", "1976-01-01")
    labs = [
        alp(25, low=35, high=104, when=NOW),
        observation("1742-6", 175, low=7, high=45, when=NOW),
    ]
    before = [alp(26, low=35, high=104, when=EARLIER)]
    found = cards(client, labs, pt=woman_50, labs=before)
    assert fired(found) == [PERSISTENT]
    assert "2064-4" in suggested(found[0])
    # On alendronate the antiresorptive caution must show: not the Wilson-first card.
    young_woman = patient("female", "1996-01-01")
    drug = medication(text="Alendronate 70 mg weekly")
    on_drug = cards(client, labs, pt=young_woman, medications=[drug], labs=before)
    assert WILSON_YOUNG not in fired(on_drug)


# --- 3 (03): TSH under LOINC 11580-8 is read ---------------------------------------------------


def test_tsh_sent_as_11580_8_is_read_as_a_value(client: FlaskClient) -> None:
    # Review 13, 03: TSH 38 under 11580-8 was counted as done but never read.
    labs = [
        alp(31, when=NOW),
        observation("11580-8", 38, unit="u[IU]/mL", ucum="u[IU]/mL", low=0.4, high=4.0, when=NOW),
    ]
    found = cards(client, labs, labs=[alp(33, when=EARLIER)])
    assert fired(found) == [EXPLAINED]
    assert "TSH 38" in found[0]["summary"]
    assert suggested(found[0]) == []


# --- 4 (31, 04): a zinc or magnesium drawn with the ALP ----------------------------------------


def magnesium_labs(*extra: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        alp(33, low=40, high=129, when=NOW),
        observation("19123-9", 1.0, unit="mg/dL", ucum="mg/dL", low=1.6, high=2.6, when=NOW),
        *extra,
    ]


MG_EARLIER = [alp(34, low=40, high=129, when=EARLIER)]
CALCIUM_NORMAL = observation(
    "17861-6", 9.4, unit="mg/dL", ucum="mg/dL", low=8.6, high=10.3, when=NOW
)
POTASSIUM_NORMAL = observation(
    "2823-3", 4.2, unit="mmol/L", ucum="mmol/L", low=3.5, high=5.1, when=NOW
)
POTASSIUM_HIGH = observation(
    "2823-3", 7.9, unit="mmol/L", ucum="mmol/L", low=3.5, high=5.1, when=NOW
)


def test_same_draw_magnesium_counts_when_calcium_and_potassium_are_normal(
    client: FlaskClient,
) -> None:
    # Review 13, 04: magnesium 1.0 mg/dL drawn with the ALP was ignored (zinc, TSH, B12).
    found = cards(client, magnesium_labs(CALCIUM_NORMAL, POTASSIUM_NORMAL), labs=MG_EARLIER)
    # Twentieth round, part B: 1.0 mg/dL (0.41 mmol/L) is severe; the urgent card needs it
    # counted as the patient's and takes the explained card's place.
    assert fired(found) == [URGENT_LOW]
    assert "magnesium" in found[0]["summary"]
    assert suggested(found[0]) == []


def test_same_draw_zinc_not_counted_is_said_so(client: FlaskClient) -> None:
    # Review 13, 31: zinc 6.5 umol/L drawn with the ALP. Review 22 (R22-31): with no calcium or
    # potassium in that draw nothing points to EDTA, so the zinc counts (it was "not counted");
    # a low calcium with no potassium still keeps EDTA suspected, and the line says so.
    zinc = observation("5763-8", 6.5, unit="umol/L", ucum="umol/L", low=11, high=24, when=NOW)
    labs = [alp(30, low=40, high=129, when=NOW), zinc]
    earlier = [alp(32, low=40, high=129, when=EARLIER)]
    assert fired(cards(client, labs, labs=earlier)) == [EXPLAINED]
    calcium_low = observation(
        "17861-6", 7.6, unit="mg/dL", ucum="mg/dL", low=8.6, high=10.3, when=NOW
    )
    found = cards(client, [*labs, calcium_low], labs=earlier)
    assert fired(found) == [PERSISTENT]
    assert "Not counted: zinc 6.5 umol/L in this sample (EDTA" in found[0]["detail"]
    # With a potassium of 7.9 and no calcium in the draw (EDTA not ruled out) the magnesium is
    # not counted either. Sixteenth round, part A (review 15, P17): a high potassium beside a
    # normal calcium is not EDTA's signature (it lowers calcium), so that magnesium counts.
    # Twenty-first round, part I (review 35, R35-06, R35-07): a potassium of 7.9 is severe
    # (6.5 mmol/L or more) and leads, in place of the mild-persistent and magnesium cards; the
    # magnesium is still named (no IV magnesium until the serum repeat).
    found = cards(client, magnesium_labs(POTASSIUM_HIGH), labs=MG_EARLIER)
    assert fired(found) == ["alp-low-potassium-severe"]
    assert "Magnesium low in the same draw" in found[0]["detail"]
    found = cards(client, magnesium_labs(CALCIUM_NORMAL, POTASSIUM_HIGH), labs=MG_EARLIER)
    assert fired(found) == ["alp-low-potassium-severe"]
    assert "no IV magnesium until the repeat" in found[0]["detail"]


# --- 5 (30): adult teeth lost early, in words ----------------------------------------------------


def test_early_loss_of_adult_teeth_in_words_is_early_tooth_loss(client: FlaskClient) -> None:
    # Review 13, 30: on alendronate, 'Early loss of adult teeth (age 40s), dentures'.
    labs = [alp(24, when=NOW)]
    before = [alp(27, when=EARLIER)]
    drug = medication(text="Alendronate 70 mg weekly")
    teeth = named("K08.109", "Early loss of adult teeth (age 40s), dentures")
    found = cards(client, labs, medications=[drug], conditions=[teeth], labs=before)
    assert fired(found) == [PERSISTENT]
    assert "hypophosphatasia likely; stop it, PLP" in found[0]["summary"]
    assert suggested(found[0]) == ["62236-5"]
    # Teeth lost to caries are not the sign.
    decay = named("K08.109", "Early loss of adult teeth from caries")
    found = cards(client, labs, medications=[drug], conditions=[decay], labs=before)
    assert "stop it, PLP" not in found[0]["summary"]


# --- 6 (36) and 7 (26): a first low after cardiac surgery, or barely under the limit ------------


def test_first_low_after_cabg_recorded_by_cpt_and_words_is_quiet(client: FlaskClient) -> None:
    # Review 13, 36: CABG 10 days ago (CPT 33533), ALP 88 -> 34: "repeat in a serum tube".
    labs = [alp(34, low=40, high=129, when=NOW)]
    before = [alp(88, low=40, high=129, when=EARLIER)]
    cabg = procedure("33533", "2026-11-10", system=CPT)
    assert fired(cards(client, labs, procedures=[cabg], labs=before)) == []
    words = procedure("99999", "2026-11-10", system="urn:local")
    words["code"]["text"] = "Coronary artery bypass grafting x3"
    assert fired(cards(client, labs, procedures=[words], labs=before)) == []
    # A transcatheter valve is no bypass; surgery 60 days ago is not recent.
    tavi = procedure("99999", "2026-11-10", system="urn:local")
    tavi["code"]["text"] = "Transcatheter aortic valve replacement"
    assert fired(cards(client, labs, procedures=[tavi], labs=before)) == [FIRST]
    old = procedure("33533", "2026-09-01", system=CPT)
    assert fired(cards(client, labs, procedures=[old], labs=before)) == [FIRST]


def test_a_first_low_within_a_tenth_of_the_limit_is_quiet_in_a_well_adult(
    client: FlaskClient,
) -> None:
    # Review 13, 26: a well woman's first ALP 38 (lower limit 40) asked for a repeat.
    assert fired(cards(client, [alp(38, low=40, high=129)])) == []
    assert fired(cards(client, [alp(36, low=40, high=129)])) == [FIRST]  # 0.90x: acts
    # On a bisphosphonate, with early tooth loss, or in a child: still flagged.
    drug = medication(text="Alendronate 70 mg weekly")
    assert fired(cards(client, [alp(38, low=40, high=129)], medications=[drug])) == [FIRST]
    teeth = named("K08.109", "Premature tooth loss")
    assert fired(cards(client, [alp(38, low=40, high=129)], conditions=[teeth])) == [FIRST]
    child = patient("female", "2016-01-01")
    # 120 against the age table's 129 at 10 years (0.93x): a child's low is never waved through.
    assert fired(cards(client, [alp(120, low=40, high=129)], pt=child)) == [FIRST]
