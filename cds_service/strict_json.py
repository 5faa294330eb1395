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
import re
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


class UnfitText(ValueError):
    """A string of the document holds a character no stored text may hold; `path` is where
    (a JSON path such as `$.prefetch.labs.entry[0].resource.id`)."""

    def __init__(self, path: str, what: str) -> None:
        super().__init__(f"{what} at {path}")
        self.path = path
        self.what = what


# Escapes that can put an unfit character into a decoded string: \u0000 and any surrogate
# escape (a pair is fine; the walk decides). An escaped backslash is matched as a whole, so
# `\\u0000` (a backslash, then "u0000") is not.
_SUSPECT_ESCAPE = re.compile(rb"\\(?:u0000|u[dD][89a-fA-F][0-9a-fA-F]{2})|\\\\")
# Characters refused in any string: NUL (PostgreSQL text cannot hold it, so the call could not
# be audited) and lone surrogates (not Unicode scalar values: RFC 8259 section 8.2, I-JSON RFC
# 7493 section 2.1; no UTF-8 can encode them). Other C0 controls are kept: FHIR R4 says strings
# SHOULD NOT hold them, not SHALL NOT, both stores keep them, and refusing a call for a stray
# control character in an old note would cost the patient the whole answer.
_UNFIT_CHAR = re.compile("[\x00\ud800-\udfff]")


def _what(text: str) -> str:
    found = _UNFIT_CHAR.search(text)
    char = found.group() if found else ""
    if "\ud800" <= char <= "\udfff":
        return "an unpaired UTF-16 surrogate"
    return f"the control character U+{ord(char):04X}"


def unfit_text(value: Any, path: str = "$") -> UnfitText | None:
    """The first string (key or value) of a decoded document holding a NUL or a lone surrogate;
    None when there is none."""
    stack: list[tuple[str, Any]] = [(path, value)]
    while stack:
        where, node = stack.pop()
        if isinstance(node, str):
            if _UNFIT_CHAR.search(node):
                return UnfitText(where, _what(node))
        elif isinstance(node, dict):
            for key, item in reversed(node.items()):
                if _UNFIT_CHAR.search(key):
                    return UnfitText(where, _what(key) + " in a member name")
                stack.append((f"{where}.{key}", item))
        elif isinstance(node, list):
            stack.extend((f"{where}[{i}]", item) for i, item in reversed(list(enumerate(node))))
    return None


def loads_text(data: bytes) -> Any:
    """`loads`, refusing (UnfitText, a ValueError) a document whose strings hold a character
    that no stored text may hold. JSON text cannot carry such a character unescaped, and orjson
    refuses lone surrogates, so a document orjson read whose bytes have no suspect escape needs
    no walk: the hot path pays one byte search."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        value = json.loads(data, parse_constant=_constant, parse_float=_finite_float)
    else:
        if b"\\" not in data or not any(
            m.group() != b"\\\\" for m in _SUSPECT_ESCAPE.finditer(data)
        ):
            return value
    problem = unfit_text(value)
    if problem is not None:
        raise problem
    return value


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
