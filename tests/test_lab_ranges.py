"""Reading a lab's own reference range (clinical/labs.py), without HTTP: structured bounds, and
a range sent only as text, which many EHRs send."""

from __future__ import annotations

from typing import Any

import pytest

from cds_service.clinical.labs import lab_interval


def as_reported(value: float, code: Any, text: Any) -> float | None:
    # An analyte with no interval table is judged in the unit it was reported in.
    return value


def phosphate(range_text: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "valueQuantity": {"value": 0.9, "unit": "mmol/L", "code": "mmol/L"},
        "referenceRange": [{"text": range_text}],
    }


@pytest.mark.parametrize(
    ("text", "bounds"),
    [
        ("0.8-1.5 mmol/L", (0.8, 1.5)),
        ("0.8 - 1.5", (0.8, 1.5)),
        ("0.8 to 1.5 MMOL/L", (0.8, 1.5)),
        ("< 1.5", (None, 1.5)),
        (">= 0.8 mmol/L", (0.8, None)),
    ],
)
def test_a_plain_text_range_in_the_results_unit_is_read(
    text: str, bounds: tuple[float | None, float | None]
) -> None:
    interval, has_age = lab_interval(phosphate(text), as_reported, "female", 20_000)
    assert interval is not None
    assert (interval.low, interval.high) == bounds
    assert interval.from_lab
    assert not has_age


@pytest.mark.parametrize(
    "text",
    [
        "2.5-4.5 mg/dL",  # another unit, and nothing converts it: never compared as if mmol/L
        "Adult: 0.8-1.5 mmol/L",
        "0.8-1.5 mmol/L (fasting); 0.9-1.6 child",
        "1.5-0.8",
        "normal",
    ],
)
def test_any_other_text_is_not_a_range(text: str) -> None:
    assert lab_interval(phosphate(text), as_reported, "female", 20_000) == (None, False)


def test_structured_bounds_win_over_the_text() -> None:
    observation = phosphate("0.1-9.9 mmol/L")
    observation["referenceRange"][0]["low"] = {"value": 0.8}
    observation["referenceRange"][0]["high"] = {"value": 1.5}
    interval, _ = lab_interval(observation, as_reported, "female", 20_000)
    assert interval is not None
    assert (interval.low, interval.high) == (0.8, 1.5)


@pytest.mark.parametrize(
    ("text", "sex", "bounds"),
    [
        ("Male 0.7-1.4 mmol/L; Female 0.8-1.5 mmol/L", "female", (0.8, 1.5)),
        ("Male 0.7-1.4 mmol/L; Female 0.8-1.5 mmol/L", "male", (0.7, 1.4)),
        ("M: 0.7-1.4, F: 0.8-1.5", "female", (0.8, 1.5)),
    ],
)
def test_one_range_per_sex_in_text_is_read_for_the_patients_sex(
    text: str, sex: str, bounds: tuple[float, float]
) -> None:
    # Fifth bedside review: "Male 50-160 U/L; Female 45-150 U/L" was not read, and the table
    # called a normal result raised.
    interval, _ = lab_interval(phosphate(text), as_reported, sex, 20_000)
    assert interval is not None
    assert (interval.low, interval.high) == bounds


@pytest.mark.parametrize(
    ("text", "sex"),
    [
        ("Male 0.7-1.4 mmol/L; Female 0.8-1.5 mmol/L", None),  # sex not known
        ("Male 0.7-1.4 mmol/L; 0.8-1.5 mmol/L", "female"),  # one part unlabelled
        ("Female 0.8-1.5; Female 0.9-1.6", "female"),  # two for the same sex
    ],
)
def test_a_per_sex_text_range_that_cannot_be_told_apart_is_not_read(
    text: str, sex: str | None
) -> None:
    assert lab_interval(phosphate(text), as_reported, sex, 20_000) == (None, False)


def test_a_unitless_text_range_far_from_the_result_is_another_unit() -> None:
    # Re-check of the fifth review: "0.58-1.74" (ukat/L) beside ALP 95 U/L was read as U/L,
    # and a normal ALP became 55 times its limit with an urgent-ultrasound card.
    alp_result: dict[str, Any] = {
        "resourceType": "Observation",
        "valueQuantity": {"value": 95, "unit": "U/L", "code": "U/L"},
        "referenceRange": [{"text": "0.58-1.74"}],
    }
    assert lab_interval(alp_result, as_reported, "female", 20_000) == (None, False)
    # The same text with its unit is converted and read; a plausible unitless range is read.
    alp_result["referenceRange"] = [{"text": "35-104"}]
    interval, _ = lab_interval(alp_result, as_reported, "female", 20_000)
    assert interval is not None
    assert (interval.low, interval.high) == (35, 104)
    # A truly extreme result against a plausible range is still read (20x and more is allowed
    # only with a unit): ALP 2000 against 35-104 is 19x.
    alp_result["valueQuantity"]["value"] = 2000
    interval, _ = lab_interval(alp_result, as_reported, "female", 20_000)
    assert interval is not None


ADULT_DAYS = 18 * 365.25


@pytest.mark.parametrize("text", ["Adults: 30 to 120 U/L", "Adult 30-120", "ADULT: 30 - 120 U/L"])
def test_a_range_labelled_for_adults_is_read_for_an_adult_only(text: str) -> None:
    # Fifth review: "Adults: 30 to 120 U/L" was not read, and the knowledge base's table judged
    # the ALP instead of the lab's own range.
    alp_result: dict[str, Any] = {
        "resourceType": "Observation",
        "valueQuantity": {"value": 125, "unit": "U/L", "code": "U/L"},
        "referenceRange": [{"text": text}],
    }
    interval, has_age = lab_interval(alp_result, as_reported, "female", 20_000, ADULT_DAYS)
    assert interval is not None
    assert (interval.low, interval.high) == (30, 120)
    assert has_age  # it names whom it is for
    # A child is never judged by it, nor anyone when the adult age or the patient's is unknown.
    assert lab_interval(alp_result, as_reported, "female", 3_000, ADULT_DAYS) == (None, False)
    assert lab_interval(alp_result, as_reported, "female", None, ADULT_DAYS) == (None, False)
    assert lab_interval(alp_result, as_reported, "female", 20_000) == (None, False)


def test_an_adult_range_leaves_a_child_to_the_age_table(kb: Any) -> None:
    from cds_service.clinical.labs import choose_interval, enzyme_converter

    child_alp: dict[str, Any] = {
        "resourceType": "Observation",
        "valueQuantity": {"value": 250, "unit": "U/L", "code": "U/L"},
        "referenceRange": [{"text": "Adults: 30 to 120 U/L"}],
    }
    convert = enzyme_converter(kb.units)
    interval, _ = choose_interval(child_alp, convert, kb.intervals["alp"], "male", 3_000, 18, 18)
    assert interval is not None
    assert not interval.from_lab  # the paediatric table, not an adult's 120 U/L
    assert interval.high is not None
    assert interval.high > 120


@pytest.mark.parametrize(
    ("low", "high"),
    [(104, 35), (0, 0), (50, 50), (None, 0), (None, -5), (-10, 35)],
)
def test_a_range_that_cannot_be_one_is_not_used(low: float | None, high: float) -> None:
    # High below low (the bounds swapped), 0-0 (an empty field) or a negative bound: the
    # knowledge base's table decides, not a ratio to a nonsense limit.
    observation = phosphate("")
    del observation["referenceRange"][0]["text"]
    if low is not None:
        observation["referenceRange"][0]["low"] = {"value": low}
    observation["referenceRange"][0]["high"] = {"value": high}
    assert lab_interval(observation, as_reported, "female", 20_000) == (None, False)
    # The same range the right way round is read.
    observation["referenceRange"][0] = {"low": {"value": 0.8}, "high": {"value": 1.5}}
    interval, _ = lab_interval(observation, as_reported, "female", 20_000)
    assert interval is not None
    assert (interval.low, interval.high) == (0.8, 1.5)
