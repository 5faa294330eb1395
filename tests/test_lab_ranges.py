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
