"""JSON decoding that refuses what JSON itself does not allow but Python's decoder accepts:
NaN, Infinity, and numbers too large for a float (1e400 decodes to inf). A NaN lab value would
otherwise compare as neither high nor low and pass for normal."""

from __future__ import annotations

import json
import math
from typing import Any


def _constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:40]} is out of range")
    return value


def loads(data: str | bytes) -> Any:
    return json.loads(data, parse_constant=_constant, parse_float=_finite_float)
