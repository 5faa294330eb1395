"""Reading lab Observations: usable status, time, value in the analyte's unit, and the interval
that applies to this patient.

The interval comes from the Observation's own `referenceRange` when one applies to this patient
(sex via `appliesTo`, age via `age`); a range without an age is not trusted for a child; otherwise
the knowledge base's age and sex table. `interpretation` flags are never used on their own:
labs rarely flag a low ALP.

FHIR JSON reaches here as dicts (orjson), so its objects are tested with `isinstance(x, dict)`:
the `Mapping` ABC check costs about ten times as much, and a call makes hundreds of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cds_service.fhir.values import UCUM, as_list, as_str, codings, finite, parse_datetime
from cds_service.knowledge.model import DAYS_PER, IntervalTable, UnitTable

UNUSABLE_STATUSES = {"entered-in-error", "cancelled", "registered"}
MALE_CODES = {"male", "248153007", "M"}
FEMALE_CODES = {"female", "248152002", "F"}
AGE_UNITS = {
    "a": "a", "yr": "a", "year": "a", "years": "a",
    "mo": "mo", "month": "mo", "months": "mo",
    "wk": "wk", "week": "wk", "weeks": "wk",
    "d": "d", "day": "d", "days": "d",
}  # fmt: skip

Converter = Callable[[float, Any, Any], "float | None"]
"""(value, UCUM code, unit text) -> value in the analyte's unit, or None for an unknown unit."""


def enzyme_converter(units: UnitTable) -> Converter:
    """Catalytic-activity units (U/L, IU/L, ukat/L...) into U/L."""

    def convert(value: float, code: Any, text: Any) -> float | None:
        if code is None and text is None:
            return value
        found = units.to_units_per_litre(value, code, text)
        return found[0] if found else None

    return convert


def effective_time(observation: Mapping[str, Any]) -> datetime | None:
    period = observation.get("effectivePeriod")
    for value in (
        observation.get("effectiveDateTime"),
        observation.get("effectiveInstant"),
        period.get("start") if isinstance(period, dict) else None,
        observation.get("issued"),
    ):
        parsed = parse_datetime(value)
        if parsed:
            return parsed
    return None


def result_quantity(observation: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The result as a FHIR Quantity: its `valueQuantity`, else a `valueString` that is a number
    with at most a comparator before it and a unit after ("312", ">1000", "<5 U/L": laboratory
    systems send a result past the measuring range as text, and those are the extreme ones). A
    quantity with no unit takes its reference range's: FHIR states the range in the result's
    units. None when the result is not a number (text such as "see comment", a coded value)."""
    given = observation.get("valueQuantity")
    if isinstance(given, dict):
        return given if _has_unit(given) else _with_range_unit(observation, given)
    text = observation.get("valueString")
    if not isinstance(text, str):
        return None
    match = _TEXT_RESULT.match(text.strip())
    if match is None:
        return None
    # Nineteenth round, part D (review 23, R23-29): "325 H" is the value and the laboratory's
    # abnormal flag (HL7 v2 table 0078), not a value in the unit "H".
    after, flag = match.group(3).strip(), None
    flagged = _TRAILING_FLAG.search(after)
    if flagged is not None:
        after, flag = after[: flagged.start()].strip(), flagged.group(1)
    if not _UNIT_ONLY.match(after):
        return None
    read: dict[str, Any] = {"value": float(match.group(2))}
    if match.group(1):
        read["comparator"] = _COMPARATORS.get(match.group(1), match.group(1))
    if flag:
        read["flag"] = flag
    unit = after
    if unit:
        read["unit"] = unit
        return read
    return _with_range_unit(observation, read)


def _has_unit(given: Mapping[str, Any]) -> bool:
    return bool(as_str(given.get("unit")) or as_str(given.get("code")))


def _with_range_unit(observation: Mapping[str, Any], given: Mapping[str, Any]) -> Mapping[str, Any]:
    for rr in as_list(observation.get("referenceRange")):
        for side in ("low", "high"):
            bound = rr.get(side) if isinstance(rr, dict) else None
            if isinstance(bound, dict) and _has_unit(bound):
                fields = ("unit", "code", "system")
                return {**given, **{k: bound[k] for k in fields if bound.get(k) is not None}}
    # Nineteenth round, part D (review 23, R23-29, R23-46): a range sent only as text carries
    # its unit in the words ("40-129 U/L"); one unit, whatever the sex or age label before it.
    for rr in as_list(observation.get("referenceRange")):
        text = rr.get("text") if isinstance(rr, dict) else None
        unit = _text_range_unit(text, finite(given.get("value")))
        if unit:
            return {**given, "unit": unit}
    return given


def _text_range_unit(text: Any, value: float | None) -> str | None:
    """The one unit a range written as text names after its numbers ("40 - 129 U/L", "Male
    40-129 U/L; Female 35-104 U/L"), or None (no unit, two different ones, or other words).
    A value far outside every range named (20 times past a limit, as for a range with no unit)
    is not in that range's unit: 95 beside "0.58-1.74 ukat/L" is not 95 ukat/L."""
    if not isinstance(text, str) or value is None:
        return None
    found: set[str] = set()
    for part in re.split(r"[;\n]|,(?=\s*[A-Za-z])", text):
        part = part.strip()
        for label in (_SEX_PART, _ADULT_PART):
            labelled = label.match(part)
            if labelled is not None:
                part = labelled.group(labelled.lastindex or 1).strip()
        for pattern in (_TEXT_RANGE, _TEXT_HIGH, LOWER_BOUND_TEXT):
            match = pattern.match(part)
            if match is not None:
                *numbers, unit = match.groups()
                unit = unit.strip()
                bounds = [float(n) for n in numbers]
                low, high = (
                    (bounds[0], bounds[1])
                    if pattern is _TEXT_RANGE
                    else (None, bounds[0])
                    if pattern is _TEXT_HIGH
                    else (bounds[0], None)
                )
                if not _plausible(value, low, high):
                    return None
                if unit and _UNIT_ONLY.match(unit):
                    found.add(unit)
                break
    return found.pop() if len(found) == 1 else None


def numeric_value(observation: Mapping[str, Any]) -> float | None:
    found = result_quantity(observation)
    return finite(found.get("value")) if found is not None else None


def unusable_reason(observation: Mapping[str, Any]) -> str | None:
    """Why a result cannot be interpreted at all, or None."""
    status = as_str(observation.get("status"))
    if status in UNUSABLE_STATUSES:
        return f"status is {status}"
    if observation.get("dataAbsentReason"):
        return "the result has a dataAbsentReason instead of a value"
    if numeric_value(observation) is None:
        return "the result has no numeric value"
    return None


def _unit_code(quantity: Mapping[str, Any]) -> Any:
    return quantity.get("code") if quantity.get("system") in (None, UCUM) else None


def _unit(observation: Mapping[str, Any]) -> tuple[Any, Any]:
    found = result_quantity(observation)
    if found is None:
        return None, None
    return _unit_code(found), found.get("unit")


def unit_of(observation: Mapping[str, Any]) -> str:
    """The result's unit as written: its UCUM code, else its unit text ("" when none)."""
    code, text = _unit(observation)
    return str(code or text or "")


@dataclass(frozen=True)
class Measured:
    value: float
    """As reported, in the reported unit."""
    unit: str
    value_ul: float
    comparator: str | None


def measured_ul(
    observation: Mapping[str, Any], units: UnitTable, floor_ul: float | None = None
) -> Measured | None:
    """The value in U/L, or None when the unit is not a catalytic-activity unit we know.

    `floor_ul`: the lowest lower limit of any ALP interval (U/L). Nineteenth round, part D
    (review 23, R23-46): a value sent with no unit at all, on it or its range, as "<N" with N
    below that floor is read in U/L. A laboratory writes "<N" at the bottom of its measuring
    range; in ukat/L or kU/L such a bound would lie above the whole reference range, which no
    laboratory reports, so it can only be a U/L value below every lower limit."""
    value = numeric_value(observation)
    if value is None:
        return None
    code, text = _unit(observation)
    converted = units.to_units_per_litre(value, code, text)
    comparator = as_str((result_quantity(observation) or {}).get("comparator"))
    if (
        converted is None
        and floor_ul is not None
        and code is None
        and not text
        and comparator in ("<", "<=")
        and 0 <= value < floor_ul
    ):
        converted = value, "U/L"
    if converted is None:
        return None
    return Measured(value, str(text or converted[1]), converted[0], comparator)


def measured(observation: Mapping[str, Any], convert: Converter) -> float | None:
    """The value in the analyte's unit via `convert`, or None."""
    value = numeric_value(observation)
    if value is None:
        return None
    code, text = _unit(observation)
    return convert(value, code, text)


@dataclass(frozen=True)
class Interval:
    low: float | None
    high: float | None
    source: str
    """Said in the card: where this interval came from."""
    from_lab: bool


def _age_days(quantity: Any) -> float | None:
    value = finite(quantity.get("value")) if isinstance(quantity, dict) else None
    if value is None:
        return None
    unit = AGE_UNITS.get(str(quantity.get("code") or quantity.get("unit") or "a").lower())
    if unit is None:
        return None
    return value * DAYS_PER[unit]


def _range_sex(applies_to: Any) -> str | None:
    for concept in applies_to or ():
        for coding in codings(concept):
            code = as_str(coding.get("code"))
            if code in MALE_CODES:
                return "male"
            if code in FEMALE_CODES:
                return "female"
    return None


def _named_age_band(rr: Mapping[str, Any], age_days: float | None) -> bool | None:
    """Whether the age band a range's words name ("15-16 y") holds this patient (to the end of
    its last year, month...), None when it names none. Code review 17, F3: with the age
    unknown a range for an age band is not known to apply (an adult band could be a child's
    range), so it is False, as `age` is skipped then: the range is not used."""
    texts = [rr.get("text")] + [
        t
        for concept in as_list(rr.get("appliesTo"))
        if isinstance(concept, dict)
        for t in [concept.get("text")] + [c.get("display") for c in codings(concept)]
    ]
    holds = None
    for text in texts:
        if not isinstance(text, str):
            continue
        for low, high, unit in _AGE_BAND.findall(text):
            if age_days is None:
                return False
            per = DAYS_PER[_BAND_UNITS.get(unit.lower(), "a")]
            inside = float(low) * per <= age_days < (float(high) + 1) * per
            holds = bool(holds) or inside
    return holds


def _range_bound(quantity: Any, convert: Converter, default: tuple[Any, Any]) -> float | None:
    value = finite(quantity.get("value")) if isinstance(quantity, dict) else None
    if value is None:
        return None
    code = quantity.get("code")
    text = quantity.get("unit")
    if code is None and text is None:
        code, text = default  # a bound without a unit is in the result's unit
    return convert(value, code, text)


_NUMBER = r"(\d+(?:\.\d+)?)"
_TEXT_RANGE = re.compile(rf"^{_NUMBER}\s*(?:-|\u2013|to)\s*{_NUMBER}\s*(.*)$", re.IGNORECASE)
_TEXT_HIGH = re.compile(rf"^(?:<=?|\u2264|up to)\s*{_NUMBER}\s*(.*)$", re.IGNORECASE)
# A lower bound written as text (">= 35 U/L").
LOWER_BOUND_TEXT = re.compile(rf"^(?:>=?|\u2265)\s*{_NUMBER}\s*(.*)$", re.IGNORECASE)
# A result sent as text: a comparator, a number, and what follows it (at most a unit).
_TEXT_RESULT = re.compile(rf"^(<=|>=|<|>|\u2264|\u2265)?\s*{_NUMBER}\s*(.*)$")
_COMPARATORS = {"\u2264": "<=", "\u2265": ">="}
# An abnormal flag the laboratory wrote after the number (HL7 v2 table 0078: H, L, HH, LL, A, AA,
# N), alone or in brackets, after the unit if there is one: read as a flag, never as a unit.
_TRAILING_FLAG = re.compile(r"(?:^|\s+)[\(\[]?(HH|LL|AA|H|L|A|N)[\)\]]?\*?$")
# What may follow the numbers: a unit ("U/L", "ukat/L", "IU/L"), nothing else. A second range
# ("40-129; F: 35-104") or a sex or age label leaves more than a unit, and the text is not read.
_UNIT_ONLY = re.compile(r"^[A-Za-z\u00b5\u03bc/\[\]]{0,12}$")
# One range per sex, as some EHRs send it: "Male 40-129 U/L; Female 35-104 U/L".
_SEX_PART = re.compile(r"^(male|female|men|women|m|f)\b\s*[:=]?\s*(.+)$", re.IGNORECASE)
# A range the lab labels as for adults ("Adults: 30 to 120 U/L"): read for an adult only.
_ADULT_PART = re.compile(r"^adults?\b\s*[:=]?\s*(.+)$", re.IGNORECASE)
# An age band named in a range's text or appliesTo ("50-162 U/L (female 15-16 y)"): the lab's
# own range for that age (review 16, P29).
_AGE_BAND = re.compile(
    rf"{_NUMBER}\s*(?:-|\u2013|to)\s*{_NUMBER}\s*(years?|yrs?|y|months?|mo|weeks?|wks?|wk|days?|d)\b",
    re.IGNORECASE,
)
_BAND_UNITS = {"y": "a", "yrs": "a", "mos": "mo", "wks": "wk"} | AGE_UNITS
_SEX_WORDS = {"male": "male", "men": "male", "m": "male",
              "female": "female", "women": "female", "f": "female"}  # fmt: skip


def _for_sex(text: str, sex: str | None) -> str | None:
    """The part of a text range for this patient's sex when every part is labelled by sex;
    the text itself when none is; None when it cannot be told (unlabelled parts, no sex)."""
    parts = [p.strip() for p in re.split(r"[;\n]|,(?=\s*[A-Za-z])", text) if p.strip()]
    labelled = [_SEX_PART.match(p) for p in parts]
    if not any(labelled):
        return text if len(parts) == 1 else None
    if not all(labelled) or sex is None:
        return None
    found = [m.group(2) for m in labelled if m and _SEX_WORDS[m.group(1).lower()] == sex]
    return found[0] if len(found) == 1 else None


# A range with no unit is taken in the result's unit only when the result lies within this
# factor of it: "0.58-1.74" (ukat/L) beside 95 U/L is another unit, not an ALP 55 times its limit.
_UNITLESS_PLAUSIBLE = 20.0


def _plausible(value: float | None, low: float | None, high: float | None) -> bool:
    if value is None:
        return False
    if high is not None and high > 0 and value > high * _UNITLESS_PLAUSIBLE:
        return False
    return not (low is not None and low > 0 and value < low / _UNITLESS_PLAUSIBLE)


def _text_bounds(
    text: Any, convert: Converter, default: tuple[Any, Any], sex: str | None, value: float | None
) -> tuple[float | None, float | None]:
    """(low, high) from a range sent only as text ("35-104 U/L", "<= 104", "> 35", or one such
    range per sex), the way many EHRs send it; (None, None) when the text is anything else."""
    if not isinstance(text, str):
        return None, None
    chosen = _for_sex(text.strip(), sex)
    if chosen is None:
        return None, None
    low, high, unitless = _one_range(chosen, convert, default)
    if unitless and not _plausible(value, low, high):
        return None, None
    return low, high


def _one_range(
    text: str, convert: Converter, default: tuple[Any, Any]
) -> tuple[float | None, float | None, bool]:
    """(low, high, sent without a unit) of one plain range; (None, None, False) otherwise."""
    for pattern, sides in ((_TEXT_RANGE, "both"), (_TEXT_HIGH, "high"), (LOWER_BOUND_TEXT, "low")):
        match = pattern.match(text)
        if match is None:
            continue
        *numbers, unit = match.groups()
        unit = unit.strip()
        if not _UNIT_ONLY.match(unit) or (
            unit and not _same_or_convertible(unit, convert, default)
        ):
            return None, None, False
        code, unit_text = (None, unit) if unit else default
        converted = [convert(float(n), code, unit_text) for n in numbers]
        values = [v for v in converted if v is not None]
        if len(values) != len(converted):
            return None, None, False
        if sides == "both":
            if values[0] >= values[1]:
                return None, None, False
            return values[0], values[1], not unit
        return (None, values[0], not unit) if sides == "high" else (values[0], None, not unit)
    return None, None, False


def _same_or_convertible(unit: str, convert: Converter, default: tuple[Any, Any]) -> bool:
    """A text range's unit is usable when it is the result's own unit, or one the analyte's
    converter really converts (ukat/L for an enzyme). An analyte judged only by its lab's range
    has no converter, so a range in another unit (mg/dL beside mmol/L) is not read."""
    own = {str(u).lower().replace("[iu]", "u").replace("iu", "u") for u in default if u}
    if unit.lower().replace("iu", "u") in own:
        return True
    factor = convert(1.0, None, unit)
    return factor is not None and factor != 1.0


def lab_interval(
    observation: Mapping[str, Any],
    convert: Converter,
    sex: str | None,
    age_days: float | None,
    adult_age_days: float | None = None,
) -> tuple[Interval | None, bool]:
    """The lab's own range that applies to this patient, and whether it carried an age. A text
    range labelled for adults carries one: it applies from `adult_age_days` (never when that or
    the patient's age is unknown)."""
    default = _unit(observation)
    best: tuple[int, Interval, bool] | None = None
    for rr in as_list(observation.get("referenceRange")):
        if not isinstance(rr, dict):
            continue
        kinds = {as_str(c.get("code")) for c in codings(rr.get("type"))}
        if kinds and not kinds & {"normal", "recommended"}:
            continue
        range_sex = _range_sex(rr.get("appliesTo"))
        if range_sex and range_sex != sex:
            continue
        age = rr.get("age")
        has_age = isinstance(age, dict)
        if isinstance(age, dict):
            if age_days is None:
                continue
            low_age = _age_days(age.get("low"))
            high_age = _age_days(age.get("high"))
            if (low_age is not None and age_days < low_age) or (
                high_age is not None and age_days > high_age
            ):
                continue
        if not has_age:
            band = _named_age_band(rr, age_days)
            if band is False:
                continue  # the lab's range for another age
            has_age = bool(band)
        low = _range_bound(rr.get("low"), convert, default)
        high = _range_bound(rr.get("high"), convert, default)
        if low is None and high is None:
            text = rr.get("text")
            adult = _ADULT_PART.match(text.strip()) if isinstance(text, str) else None
            if adult is not None:
                if adult_age_days is None or age_days is None or age_days < adult_age_days:
                    continue
                text, has_age = adult.group(1), True
            low, high = _text_bounds(text, convert, default, sex, measured(observation, convert))
        if low is None and high is None:
            continue
        if (high is not None and high <= 0) or (
            low is not None and (low < 0 or (high is not None and low >= high))
        ):
            continue  # a range that cannot be one (0-0, high below low): the table decides
        specificity = (2 if has_age else 0) + (1 if range_sex else 0)
        interval = Interval(low, high, "lab range", True)
        if best is None or specificity > best[0]:
            best = (specificity, interval, has_age)
    if best is None:
        return None, False
    return best[1], best[2]


def inside_own_range(
    observation: Mapping[str, Any],
    sex: str | None,
    age_days: float | None,
    paediatric_limit_years: float,
    adult_age_years: float | None = None,
) -> bool:
    """Eighteenth round, part D (reviews 17 and 18, N14 and N08): a result in no unit the
    knowledge base reads lies within the laboratory's own range sent with it in the same unit
    (none, or the same words), and the lab flags it normal or not at all. Then the lab itself
    calls it normal and the service has nothing to add. The range is chosen as for any result
    (sex, age band; for a child only one naming an age), and needs both limits, a lower one
    above zero: a "0-129" range cannot say a value is not low. A value with a comparator is
    not inside anything."""
    quantity = result_quantity(observation)
    value = finite(quantity.get("value")) if quantity is not None else None
    if value is None or quantity is None or as_str(quantity.get("comparator")):
        return False
    if quantity.get("flag") not in (None, "N") or not _flagged_normal_or_not_at_all(observation):
        return False
    unit = UnitTable.fold(unit_of(observation))

    def same_unit(number: float, code: Any, text: Any) -> float | None:
        written = [UnitTable.fold(u) for u in (code, text) if isinstance(u, str) and u.strip()]
        return number if (unit in written if written else not unit) else None

    adult_days = adult_age_years * DAYS_PER["a"] if adult_age_years is not None else None
    lab, has_age = lab_interval(observation, same_unit, sex, age_days, adult_days)
    child = age_days is not None and age_days < paediatric_limit_years * DAYS_PER["a"]
    if lab is None or lab.low is None or lab.high is None or (child and not has_age):
        return False
    return 0 < lab.low <= value <= lab.high


_NORMAL_FLAGS = {"N"}
"""HL7 v3 ObservationInterpretation: N is normal; any other flag (H, L, A...) is not."""


def _flagged_normal_or_not_at_all(observation: Mapping[str, Any]) -> bool:
    for concept in as_list(observation.get("interpretation")):
        codes = {as_str(c.get("code")) for c in codings(concept)}
        if not codes or not codes <= _NORMAL_FLAGS:
            return False
    return True


def choose_interval(
    observation: Mapping[str, Any],
    convert: Converter,
    table: IntervalTable | None,
    sex: str | None,
    age_days: float | None,
    paediatric_limit_years: float,
    adult_age_years: float | None = None,
    above_adult_margin: float | None = None,
) -> tuple[Interval | None, str | None]:
    """(interval, note): the lab's range when it applies, else the table; a note says why.
    `adult_age_years`: from when a range the lab labels "adult" applies (unread without it).
    `above_adult_margin`: a child's lab range without an age whose upper limit is more than this
    fraction above the table's at adult age (either sex) is a range for children, and used."""
    adult_days = adult_age_years * DAYS_PER["a"] if adult_age_years is not None else None
    lab, lab_has_age = lab_interval(observation, convert, sex, age_days, adult_days)
    child = age_days is not None and age_days < paediatric_limit_years * DAYS_PER["a"]
    note = None
    adult = table.lookup(adult_days, None) if table and adult_days is not None else None
    if (
        lab is not None
        and child
        and not lab_has_age
        and above_adult_margin is not None
        and adult is not None
        and lab.high is not None
        and lab.high > adult[1] * (1 + above_adult_margin)
    ):
        # Review 16 (P15, P29): no adult range reaches this high, so it is the lab's range for
        # children; replacing it made the card quote another range and multiple.
        note = "the lab's range has no age but is above any adult range: a range for children"
    elif lab is not None and child and not lab_has_age:
        note = "the lab's range has no age and this patient is a child, so the age table was used"
        lab = None
    fallback = None
    if table is not None and age_days is not None:
        found = table.lookup(age_days, sex)
        if found:
            fallback = Interval(
                found[0],
                found[1],
                f"{table.source_label}, {found[2]}",
                False,
            )
    if lab is not None and lab.low == 0 and fallback is not None and fallback.low:
        # "0-129 U/L": a lower limit of zero is a placeholder, not a limit (no ALP could ever be
        # low there); the table's lower limit stands in for it, as for a range without one.
        lab = Interval(None, lab.high, lab.source, lab.from_lab)
    if lab is not None:
        if (lab.low is None or lab.high is None) and fallback is not None:
            # Fill only the missing bound, and say so.
            return Interval(
                lab.low if lab.low is not None else fallback.low,
                lab.high if lab.high is not None else fallback.high,
                "lab range completed from the knowledge base",
                True,
            ), note
        return lab, note
    if fallback is None and age_days is None:
        return None, "no reference range from the lab and no birth date to choose one by age"
    return fallback, note
