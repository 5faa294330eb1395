"""JSON for the hot path, with orjson, refusing what JSON itself does not allow.

Python's decoder accepts NaN, Infinity and numbers too large for a float (1e400 decodes to inf);
a NaN lab value would compare as neither high nor low and pass for normal. orjson refuses all of
these itself and parses 2-5x faster, so it reads every body first. What orjson refuses goes to the
standard library's decoder with the same refusals added, which keeps the standard library's answer
in the cases the two disagree: integers beyond a float (`10**400` stays an exact int that the
FHIR readers treat as absent, where orjson calls it infinity), lone surrogates, a UTF-8 byte order
mark, and error messages with positions. (orjson reads integers past 64 bits that a float can
hold as floats, as JavaScript does; the FHIR readers take every number as a float anyway.)
"""

from __future__ import annotations

import json
import math
from typing import Any

import orjson


def _constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:40]} is out of range")
    return value


def loads(data: str | bytes) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data, parse_constant=_constant, parse_float=_finite_float)


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON, keys in insertion order."""
    try:
        return orjson.dumps(value)
    except TypeError:
        # orjson refuses integers beyond 64 bits and types it does not know; the standard
        # library writes the first exactly and the rest as text.
        return json.dumps(value, default=str, ensure_ascii=False, separators=(",", ":")).encode()


def finite(value: Any) -> float | None:
    """A JSON number as a finite float; None for other types, booleans, NaN or infinities (an
    integer too large for a float too)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None
