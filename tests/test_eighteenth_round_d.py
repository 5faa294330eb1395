"""Eighteenth round (2026-12-02), part D: laboratory data (reviews 17 and 18, code review 17):
catalytic units, EDTA beside a potassium-raising drug, same-draw values, age-band ranges and a
normal result in an unread unit (docs/rulebook.md, "Eighteenth round (2026-12-02), part D")."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from cds_service.clinical.facts import FACTS, Facts, derive
from cds_service.clinical.record import PatientRecord
from cds_service.knowledge import loader
from cds_service.knowledge.loader import KnowledgeBaseError
from cds_service.knowledge.model import KnowledgeBase
from tests.rules_helper import cards, fired
from tests.support.fhir import alp, condition, ggt, medication, observation, patient
from tests.test_fourteenth_round_h import OMEPRAZOLE_74, mmol

CARDS = Path(__file__).resolve().parent.parent / "cards"
NOW = "2026-11-20T08:00:00Z"
LATER_SAME_DAY = "2026-11-20T16:00:00Z"
UNIT = "alp-unit-unknown"
ARTEFACT = "alp-low-sample-artefact"
GROSS = "alp-low-sample-artefact-gross"
EXPLAINED = "alp-low-explained"
# Twentieth round, part B: a magnesium of 0.5 mmol/L or less counted as the patient's gets the
# urgent card in place of the explained one; it shows only when the magnesium is counted.
URGENT_LOW = "alp-low-electrolyte-urgent"
RAMIPRIL = medication(text="ramipril 5 MG Oral Capsule")


# --- 1 (E21, wrong): real catalytic units are read ---------------------------------------------


@pytest.mark.parametrize(
    ("unit", "value", "low", "high"),
    [
        ("kU/L", 0.31, 0.035, 0.104),  # 1 kU/L = 1000 U/L (UCUM prefix k)
        ("kIU/L", 0.31, 0.035, 0.104),
        ("U/mL", 0.31, 0.035, 0.104),  # 1 U/mL = 1000 U/L
        ("IU/mL", 0.31, 0.035, 0.104),
        ("µkat/l", 5.2, 0.58, 1.74),  # 1 ukat/L = 60 U/L
        ("microkat/L", 5.2, 0.58, 1.74),
        ("UI/L", 310, 35, 104),  # French and Spanish for IU/L
    ],
)
def test_an_alp_in_a_real_catalytic_unit_is_interpreted(
    client: FlaskClient, unit: str, value: float, low: float, high: float
) -> None:
    # E21: an ALP of 0.31 kU/L (310 U/L, 3x) was "not interpreted".
    result = alp(value, unit=unit, ucum=None, low=low, high=high)
    found = cards(client, [result, ggt(20)])
    assert found, unit
    assert UNIT not in fired(found)
    assert f"ALP {value:g} {unit}" in found[0]["summary"]


def test_a_kilo_unit_is_converted_by_a_thousand(kb: KnowledgeBase) -> None:
    for unit in ("kU/L", "U/mL", "IU/mL", "[IU]/mL", "k[IU]/L"):
        assert kb.units.to_units_per_litre(0.12, None, unit) == (120.0, "kU/L"), unit
    assert kb.units.to_units_per_litre(2.0, None, "µkat/l") == (120.0, "ukat/L")
    # mU/mL and mIU/mL are U/L (m/m), not a thousand times it.
    assert kb.units.to_units_per_litre(120.0, None, "mIU/mL") == (120.0, "U/L")


def test_a_unit_that_is_not_a_catalytic_concentration_is_still_not_read(
    client: FlaskClient,
) -> None:
    # Over-reach: U/g (per gram of protein), a bare "U" and mg/dL are not ALP concentrations.
    for unit in ("U/g", "U", "mg/dL"):
        found = cards(client, [alp(312, unit=unit, ucum=None, low=None, high=None)])
        assert fired(found) == [UNIT], unit


# --- 2 (N01 / E13, wrong): a drug explains the potassium, not the calcium ------------------------


def n01(potassium: float, calcium_value: float | None) -> list[dict[str, Any]]:
    """ALP 19 with a low magnesium, the potassium and calcium of the same draw."""
    found = [
        alp(19, low=40, high=129, when=NOW),
        mmol("2601-3", 0.45, 0.7, 1.0),  # magnesium, low
        mmol("2823-3", potassium, 3.5, 5.1),
    ]
    if calcium_value is not None:
        found.append(mmol("2000-8", calcium_value, 2.15, 2.55))
    return found


OLD_WOMAN = {"pt": patient("female", "1950-03-01")}


def test_a_potassium_raising_drug_does_not_clear_edta_beside_a_low_calcium(
    client: FlaskClient,
) -> None:
    # N01: potassium 7.9, calcium 1.58, low magnesium, ALP 19 on ramipril was read as a real low
    # ALP and magnesium: ramipril cleared the EDTA reading.
    found = cards(client, n01(7.9, 1.58), medications=[RAMIPRIL], **OLD_WOMAN)
    # Twenty-first round, integrator: a potassium of 7.0 or more with a low calcium is now its own
    # warning (alp-low-sample-artefact-gross: repeat and ECG now), standing in for this card.
    assert fired(found) == [GROSS]
    # Twenty-first round, part B (R32-26): a potassium of 7.9 with a calcium of 1.58 is gross
    # contamination, and a potassium that high is also checked by ECG now in case it is real:
    # the summary names it and says so (was "possible EDTA contamination; repeat ALP").
    assert "K 7.9 mmol/L, low Ca: probable EDTA contamination" in found[0]["summary"]
    assert "ECG now" in found[0]["summary"]


def test_kidney_failure_still_clears_edta_beside_a_low_calcium(client: FlaskClient) -> None:
    # Kidney failure raises potassium and lowers calcium: the sample is read as it is, and the
    # low magnesium is counted as the patient's.
    found = cards(
        client, n01(7.9, 1.58), medications=[RAMIPRIL], conditions=[condition("N18.5")],
        **OLD_WOMAN,
    )  # fmt: skip
    assert ARTEFACT not in fired(found)
    # Twenty-first round, part I (review 35, R35-06, R35-07, unsafe): potassium 7.9 is severe
    # (6.5 mmol/L or more), so the card leads with it, not with the magnesium (IV magnesium
    # waits for the serum repeat); the magnesium is named once, in its line.
    assert fired(found) == ["alp-low-potassium-severe"]
    assert found[0]["summary"].startswith("K 7.9 mmol/L: treat as real until a serum repeat")
    assert "no IV magnesium until the repeat" in found[0]["detail"]
    assert "low magnesium (" not in found[0]["detail"]
    # Acute kidney injury too.
    found = cards(client, n01(6.8, 1.80), conditions=[condition("N17.9")], **OLD_WOMAN)
    assert ARTEFACT not in fired(found)


def test_a_potassium_raising_drug_still_explains_a_high_potassium_alone(
    client: FlaskClient,
) -> None:
    # Over-reach: on spironolactone or ramipril, a high potassium with a normal calcium (or no
    # calcium measured) is the drug's, and the same draw's low magnesium counts.
    record = {**OMEPRAZOLE_74, "medications": [*OMEPRAZOLE_74["medications"], RAMIPRIL]}
    for calcium_value in (2.30, None):
        found = cards(client, n01(5.9, calcium_value), **record)
        assert fired(found) == [URGENT_LOW], calcium_value
        assert "magnesium" in found[0]["summary"]
        assert "EDTA" not in found[0]["detail"]
    # Without the drug and no calcium measured, the magnesium is still set aside.
    found = cards(client, n01(5.9, None), **OMEPRAZOLE_74)
    assert "Not counted: magnesium 0.45 mmol/L in this sample" in found[0]["detail"]


def test_the_kidney_part_is_checked_in_the_knowledge_base(tmp_path: Path) -> None:
    copy = tmp_path / "cards"
    shutil.copytree(CARDS, copy)
    findings = copy / "findings.yaml"
    text = findings.read_text("utf-8")
    old = "edta_unless_both: kidney-failure-electrolytes"
    assert old in text
    findings.write_text(text.replace(old, "edta_unless_both: magnesium-low-measured", 1), "utf-8")
    with pytest.raises(KnowledgeBaseError, match="edta_unless_both: 'magnesium-low-measured'"):
        loader.load(copy, FACTS)
    findings.write_text(text.replace("edta_lowered: calcium, ", "", 1), "utf-8")
    with pytest.raises(KnowledgeBaseError, match="`edta_unless_both` needs `edta_lowered`"):
        loader.load(copy, FACTS)


# --- 3 (code review 17, F2): the value of the ALP's own draw before a later repeat --------------


def magnesium_with_a_repeat_potassium(
    client: FlaskClient, *, drawn: float, repeated: float
) -> list[dict[str, Any]]:
    """A low magnesium drawn with the ALP beside a potassium of `drawn`, and a potassium of
    `repeated` eight hours later the same day (omeprazole, the magnesium's recorded cause)."""
    draw = [
        alp(31, low=40, high=129, when=NOW),
        mmol("2601-3", 0.30, 0.7, 1.0),
        mmol("2823-3", drawn, 3.5, 5.1),
    ]
    repeat = observation(
        "2823-3", repeated, unit="mmol/L", ucum="mmol/L", low=3.5, high=5.1, when=LATER_SAME_DAY
    )
    record = {**OMEPRAZOLE_74, "labs": [*OMEPRAZOLE_74["labs"], repeat]}
    return cards(client, draw, **record)


def test_the_potassium_of_the_alps_draw_is_read_before_a_repeat_the_same_day(
    client: FlaskClient,
) -> None:
    # The ALP's draw: potassium 4.2 (no EDTA), magnesium low. A potassium of 5.9 eight hours
    # later hid it: EDTA was "not ruled out" and the magnesium not counted.
    found = magnesium_with_a_repeat_potassium(client, drawn=4.2, repeated=5.9)
    assert fired(found) == [URGENT_LOW]
    assert "magnesium" in found[0]["summary"]
    assert "Not counted" not in found[0]["detail"]


def test_a_high_potassium_in_the_alps_draw_is_not_hidden_by_a_normal_repeat(
    client: FlaskClient,
) -> None:
    # The other way: the ALP's own draw has EDTA's potassium; a normal one later does not make
    # that draw's low magnesium the patient's.
    found = magnesium_with_a_repeat_potassium(client, drawn=6.2, repeated=4.4)
    assert "Not counted: magnesium 0.3 mmol/L in this sample" in found[0]["detail"]


def test_the_artefact_card_reads_the_potassium_of_the_alps_draw(client: FlaskClient) -> None:
    # Potassium 7.9 and calcium 1.58 drawn with ALP 19; a potassium of 4.4 eight hours later (a
    # correctly drawn repeat) hid the high one, and the artefact card with it.
    repeat = observation(
        "2823-3", 4.4, unit="mmol/L", ucum="mmol/L", low=3.5, high=5.1, when=LATER_SAME_DAY
    )
    found = cards(client, n01(7.9, 1.58), labs=[repeat], **OLD_WOMAN)
    # Twenty-first round, integrator: a potassium of 7.0 or more with a low calcium is now its own
    # warning (alp-low-sample-artefact-gross: repeat and ECG now), standing in for this card.
    assert fired(found) == [GROSS]


def bili(loinc: str, mg_dl: float, when: str = NOW, high: float = 1.2) -> dict[str, Any]:
    return observation(loinc, mg_dl, when=when, unit="mg/dL", ucum="mg/dL", low=0.0, high=high)


def facts_of(kb: KnowledgeBase, results: list[dict[str, Any]], labs: list[dict[str, Any]]) -> Facts:
    record = PatientRecord(
        patient("female", "1970-01-01"),
        datetime(2026, 11, 20, 18, tzinfo=UTC),
        results=tuple(results),
        labs=tuple(labs),
    )
    found = derive(kb, record, results[0])
    assert isinstance(found, Facts)
    return found


def bilirubin_draw() -> list[dict[str, Any]]:
    """The ALP's draw: total bilirubin 3.0 with a direct of 2.4 (conjugated)."""
    return [
        alp(310, low=40, high=129),
        ggt(200),
        bili("1975-2", 3.0),
        bili("1968-7", 2.4, high=0.3),
    ]


def test_the_direct_bilirubin_of_the_totals_draw_is_read_before_a_later_one(
    kb: KnowledgeBase,
) -> None:
    # Total 3.0 and direct 2.4 drawn with the ALP; a direct of 2.0 alone eight hours later was
    # taken, found to be from another draw, and the fraction left unknown.
    draw = bilirubin_draw()
    later = bili("1968-7", 2.0, LATER_SAME_DAY, high=0.3)
    found = facts_of(kb, draw, [later])
    assert found.get("bilirubin.fraction") == "conjugated"
    assert str(found.get("bilirubin.direct")).startswith("2.4 mg/dL, 80%")


def test_the_total_bilirubin_of_the_alps_draw_is_read_before_a_later_one(
    kb: KnowledgeBase,
) -> None:
    # A repeat total (2.8) later the same day without a direct hid the ALP's draw's pair.
    draw = bilirubin_draw()
    later = bili("1975-2", 2.8, LATER_SAME_DAY)
    found = facts_of(kb, draw, [later])
    assert found.get("bilirubin.value_mgdl") == 3.0
    assert found.get("bilirubin.fraction") == "conjugated"
    # Over-reach: with no total in the ALP's draw, the freshest total is still read.
    found = facts_of(kb, draw[:2], [bili("1975-2", 2.8, LATER_SAME_DAY)])
    assert found.get("bilirubin.value_mgdl") == 2.8


# --- 4 (code review 17, F3): an age-band range is not used when the age is unknown ---------------


def banded(value: float, band: str, **kwargs: Any) -> dict[str, Any]:
    result = alp(value, low=30, high=120, **kwargs)
    result["referenceRange"][0]["appliesTo"] = [{"text": band}]
    return result


def test_an_age_band_range_is_not_used_when_the_age_is_unknown(client: FlaskClient) -> None:
    # An adult band (18-99 y) is not known to apply to a patient without a birth date: it could
    # be a child's. With no other range and no age to choose one by, no card (as for any ALP
    # with no usable range).
    no_age = patient("female", None)
    assert cards(client, [banded(180, "adults 18-99 years"), ggt(20)], pt=no_age) == []
    # With the age known the band is used.
    found = cards(client, [banded(180, "adults 18-99 years"), ggt(20)])
    assert found
    assert "30-120" in found[0]["detail"]


def test_a_range_without_an_age_is_still_used_when_the_age_is_unknown(
    client: FlaskClient,
) -> None:
    # Over-reach: a plain range sent with the ALP is the lab's range, whatever the age.
    found = cards(client, [alp(180, low=30, high=120), ggt(20)], pt=patient("female", None))
    assert found
    assert "30-120" in found[0]["detail"]


def test_with_the_age_unknown_the_plain_range_is_chosen_over_a_banded_one(
    kb: KnowledgeBase,
) -> None:
    result = alp(100, low=30, high=120)
    result["referenceRange"].append(
        {"low": {"value": 100, "unit": "U/L"}, "high": {"value": 400, "unit": "U/L"},
         "appliesTo": [{"text": "children 1-12 y"}]}
    )  # fmt: skip
    record = PatientRecord(patient("female", None), datetime(2026, 11, 21, tzinfo=UTC),
                           results=(result,))  # fmt: skip
    found = derive(kb, record, result)
    assert isinstance(found, Facts)
    assert found.get("alp.status") == "normal"  # 100 in 30-120, not low for 100-400


# --- 5 (N14 / N08, noisy): a normal unitless ALP inside its own unitless range is quiet ---------


def unitless(value: float, low: float | None = 35, high: float | None = 104, **kw: Any) -> Any:
    return alp(value, unit=None, ucum=None, low=low, high=high, **kw)


def test_a_normal_alp_without_a_unit_inside_its_own_range_is_quiet(client: FlaskClient) -> None:
    # N14: ALP 80 with no unit, range 35-104 with no unit: "not interpreted" for a normal result.
    assert cards(client, [unitless(80)]) == []
    # N08: the same unit words on the value and the range, a unit not read ("units").
    same = alp(80, unit="units", ucum=None, low=35, high=104)
    assert cards(client, [same]) == []
    # Flagged normal by the lab: quiet too.
    assert cards(client, [unitless(80, interpretation=[flag("N")])]) == []


def flag(code: str) -> dict[str, Any]:
    system = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
    return {"coding": [{"system": system, "code": code}]}


def test_an_unread_unit_outside_or_without_a_full_range_still_says_so(
    client: FlaskClient,
) -> None:
    # Over-reach: outside the range, flagged, a range without a lower limit (or 0), a range in
    # another unit, a comparator, or a child's range without an age: still "not interpreted".
    for result in (
        unitless(396),
        unitless(20),
        unitless(80, interpretation=[flag("H")]),
        unitless(80, low=None),
        unitless(80, low=0),
        unitless(80, low=None, high=None),
        alp(80, unit="units", ucum=None, low=None, high=None),
    ):
        assert fired(cards(client, [result])) == [UNIT]
    other = alp(80, unit="units", ucum=None, low=35, high=104)
    other["referenceRange"][0]["low"]["unit"] = "IU"
    other["referenceRange"][0]["high"]["unit"] = "IU"
    assert fired(cards(client, [other])) == [UNIT]
    below = unitless(80)
    below["valueQuantity"]["comparator"] = "<"
    assert fired(cards(client, [below])) == [UNIT]
    child = patient("male", "2016-05-01")
    assert fired(cards(client, [unitless(200, low=100, high=400)], pt=child)) == [UNIT]
