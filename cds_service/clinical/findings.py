"""Match the record's conditions, medications and procedures to the knowledge base's findings.

A finding (findings.yaml) names value sets to look for in one kind of record entry, optionally
within a time window before the ALP. Conditions count while clinically active and not refuted
(resolved ones too where the finding says so, e.g. a recent fracture). Medications count while
active, and where the finding says so a course that ended recently (drug-induced cholestasis
can start weeks after the last dose). Medications match by RxNorm ingredient or product code,
then, failing a code, by ingredient name in the text; the evidence says which.

A time window is about when something happened: a Condition's onset, a Procedure's performed
date. A recorded date alone, or a status or history code (ICD-10-CM Z95.1 "presence of
aortocoronary bypass graft"), never puts an entry inside a window.

A lab source counts the analyte's latest usable result in its window when it is outside its
reference range in the named direction (a measured low zinc is a zinc deficiency). Judging a
result against its range is the facts module's work; it is passed in as `measure`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cds_service.clinical.classify import Classified, Entry, medication_start, short_name
from cds_service.clinical.labs import numeric_value, result_quantity, unit_of
from cds_service.fhir.values import concept_text
from cds_service.knowledge.model import EdtaSignature, Finding, FindingSource, KnowledgeBase

STATUS_CODES = "status-history-codes"
"""Value set of codes that state a status or history, never an event."""
_INFUSION = re.compile(r"\b(infusion|intravenous|iv)\b", re.IGNORECASE)


KEYS_SEP = "|"
"""Between the record entries one mention names (a drug's request and its latest dose)."""


@dataclass
class Found:
    evidence: list[str] = field(default_factory=list)
    """`Type/id: code display` lines, for the decision trace."""
    mentions: list[str] = field(default_factory=list)
    """How a card names what was found ("amoxicillin / clavulanate, stopped 20 Oct 2026")."""
    named: list[str] = field(default_factory=list)
    """The record entry (`Type/id`) each mention names, in the same order: two findings that
    name one entry by different labels ("a biliary stent", "biliary drainage or a biliary
    stent") are one line on a card, not two (twelfth round)."""
    ended_only: bool = True
    """Medications: every match is a course that has ended."""
    doses: dict[str, tuple[int, datetime]] = field(default_factory=dict)
    """Medications given as doses: the drug as a card names it -> the index of its one mention
    and the day of the latest dose it names."""
    orders: dict[str, int] = field(default_factory=dict)
    """Medications: the drug as its value set matched it (lower case) -> the index of the
    mention of a request or statement for it, so that the doses given of the same drug are
    named on that one line (review 20, R20-30: "denosumab; denosumab, last given ...")."""
    dosed: set[str] = field(default_factory=set)
    """Medications: the drugs (as their value set matched them) named by their doses given; a
    request for one of them is not named again."""


@dataclass(frozen=True)
class Measurement:
    """An analyte's latest usable result in a window, judged against its reference range."""

    key: str
    status: str
    """low, normal, high or unknown"""
    shown: str
    """Value and date, as a card shows them: 6.1 umol/L, 12 Nov 2026."""
    value: float | None = None
    """In the analyte's unit (units.yaml `analytes`), when it could be converted."""
    previous: float | None = None
    """With a trend asked for: the result before it, from another draw within the trend
    window, in the same unit."""
    previous_shown: str = ""
    when: datetime | None = None
    """When it was drawn."""
    timed: bool = False
    """`when` carries a time of day (not a date alone)."""


Moment = tuple[datetime, bool]
"""When something happened, and whether that carries a time of day (not a date alone)."""

Measure = Callable[[str, float, bool, float | None, EdtaSignature | None], Measurement | None]
"""(value set id, days before the ALP, from another draw only, days before it to look for the
result it follows or None) -> the latest result of that analyte, or None."""


def day(when: datetime) -> str:
    return f"{when.day} {when:%b %Y}"


def _counts(
    kb: KnowledgeBase,
    entry: Entry,
    source: FindingSource,
    when: datetime,
    tolerance: timedelta,
    rise_since: datetime | None,
    anchor: Moment | None = None,
    ends: Sequence[datetime] = (),
) -> bool:
    """`anchor`: for a source with `after`, when the named finding's latest entry happened;
    `ends`: for a source with `ended_by`, when each procedure that ends it happened."""
    if source.kind == "conditions" and not entry.countable:
        return False
    if source.kind == "conditions" and source.confirmed and not entry.confirmed:
        return False
    if any(other in entry.matches for other in source.unless_in):
        return False
    if source.kind == "medications":
        if source.started_before_rise and rise_since is not None:
            started = medication_start(entry.resource)
            if started is not None and started >= rise_since:
                return False
        if source.started_within_days is not None:
            # A co-suspect is a drug begun recently: one with no start in the record, or begun
            # long before, is not counted here (its own findings still name it).
            started = medication_start(entry.resource)
            since = when - timedelta(days=kb.param(source.started_within_days))
            if started is None or not since <= started <= when + tolerance:
                return False
        if entry.active:
            return True
        if not (entry.ended and source.ended_within_days and entry.time is not None):
            return False
        since = when - timedelta(days=kb.param(source.ended_within_days))
        return since <= entry.time <= when + tolerance
    if not entry.active and not (source.kind == "conditions" and source.include_inactive):
        return False
    if source.within_days is None:
        return True
    if STATUS_CODES in entry.matches:
        return False
    if source.ended_by is not None and not _still_in_place(entry, source.ended_by, ends):
        return False
    since = when - timedelta(days=kb.param(source.within_days))
    happened, timed = entry.time, entry.timed
    if happened is None and source.recorded_dates:
        happened, timed = entry.recorded, entry.recorded_timed
    if source.after is not None and not _on_or_after(happened, timed, anchor):
        return False
    return happened is not None and since <= happened <= when + tolerance


def _still_in_place(entry: Entry, ended_by: str, ends: Sequence[datetime]) -> bool:
    """A removal is not a placement; a placement is ended by a removal on a later day. A
    removal the same day is an exchange written as two procedures: the new stent is in place
    (only the day is compared, with or without times)."""
    if ended_by in entry.matches:
        return False
    return entry.time is None or not any(end.date() > entry.time.date() for end in ends)


def _ends(
    classified: Classified, source: FindingSource, when: datetime, tolerance: timedelta
) -> list[datetime]:
    """When each done, dated procedure in the source's `ended_by` value set happened, up to
    the ALP (a removal planned for next week has not happened)."""
    if source.ended_by is None:
        return []
    return [
        entry.time
        for entry in classified.in_valueset(source.kind, source.ended_by)
        if entry.active and entry.time is not None and entry.time <= when + tolerance
    ]


def _on_or_after(happened: datetime | None, timed: bool, anchor: Moment | None) -> bool:
    """On or after the anchor (the latest drainage): by the clock when both carry a time of day
    (a fever at 06:00 was the reason for a drainage at 14:00 the same day), else by the day (a
    date alone cannot be ordered against the same day's events, so the same day counts)."""
    if happened is None or anchor is None:
        return False
    at, anchor_timed = anchor
    if timed and anchor_timed:
        return happened >= at
    return happened.date() >= at.date()


def _before(entry: Entry, anchor: Moment) -> bool:
    """Dated (onset, else recorded date) before the anchor: by the clock when both carry a
    time of day, else on an earlier day. An undated entry is never before it."""
    happened, timed = entry.time, entry.timed
    if happened is None:
        happened, timed = entry.recorded, entry.recorded_timed
    if happened is None:
        return False
    at, anchor_timed = anchor
    if timed and anchor_timed:
        return happened < at
    return happened.date() < at.date()


# An infection's classification qualifier after its name ("Pneumonia, unspecified organism";
# "Urinary tract infection, site not specified"): the name before it reads as the record's
# words (twentieth round, part E: it was named by the finding's generic label). Only these two:
# "Biliary cirrhosis, unspecified" and the like keep their finding's label.
_QUALIFIER = re.compile(r",\s*(?:unspecified organism|site not specified)$", re.IGNORECASE)


def _unqualified(name: str) -> str:
    return _QUALIFIER.sub("", name).strip()


def _mention(
    finding_label: str, entry: Entry, kind: str, valueset: str, eponyms: tuple[str, ...] = ()
) -> str:
    """How a card names an entry: the record's own words, else the finding's label (a code's
    official display, "Primary biliary cirrhosis (inclusion term: ...)", reads badly)."""
    if kind != "medications":
        name = entry.name.strip()
        if not name:
            # Coded only: the code's display when it reads as a name ("Primary sclerosing
            # cholangitis"); the finding's label when it is a catalogue title with notes.
            name = _unqualified(_matched_name(entry.matches[valueset]))
            if "(" in name or "[" in name or "," in name or len(name) > 45:
                return finding_label
        if len(name) > 60:
            return finding_label
        first = name.split(" ", 1)[0].rstrip(",;:")
        base = re.sub(r"'s?$", "", first)  # "Gilbert's", "Graves'": the name itself
        if name[:2].isupper() or (
            base[:1].isupper() and (base in finding_label or base in eponyms)
        ):
            # An acronym, or an eponym the finding's label writes capitalised (Paget disease).
            return name
        return name[0].lower() + name[1:]
    drug = entry.name.strip() or short_name({"text": _matched_name(entry.matches[valueset])})
    if entry.active or entry.time is None:
        return drug
    # An infusion (a yearly zoledronate) is given, not stopped: the date is when it was given
    # (an infusion order completed is the dose given the day it was written).
    given = entry.given or _INFUSION.search(
        concept_text(entry.resource.get("medicationCodeableConcept"))
    )
    status = entry.resource.get("status")
    if entry.stop_unknown and not (given and status == "completed"):
        # Stopped or completed on a day the record does not give: its written date is named as
        # what it is, never as the end (thirteenth round).
        return f"{drug}, ordered {day(entry.time)}, {status}"
    return f"{drug}, {'given' if given else 'stopped'} {day(entry.time)}"


def _with_start(mention: str, entry: Entry) -> str:
    """A drug counted for when it began is named with its start ("co-amoxiclav, started 10
    Nov 2026"; "..., started 2 Nov 2026, stopped 9 Nov 2026")."""
    started = medication_start(entry.resource)
    if started is None:
        return mention
    drug, sep, rest = mention.partition(", ")
    return f"{drug}, started {day(started)}{sep}{rest}"


def _name_dose(
    found: Found, dose: Entry, when: datetime, mention: str, matched: str | None = None
) -> None:
    """Name a drug given as several doses once, by its latest ("denosumab, last given 12 Dec
    2025"), not once per injection (review 13: two zoledronate infusions filled the summary).
    `matched`: the drug as its value set matched it; a request for the same drug already named
    takes the doses on its line (review 20, R20-30: the order and the doses were two drugs)."""
    drug = mention.rpartition(", given ")[0] or mention
    seen = found.doses.get(drug)
    if seen is None:
        # The same words may already stand for this dose (an infusion order named "given").
        if mention in found.mentions:
            found.doses[drug] = (found.mentions.index(mention), when)
            return
        if matched:
            found.dosed.add(matched)
        ordered = found.orders.get(matched) if matched else None
        if ordered is not None:
            found.doses[drug] = (ordered, when)
            found.mentions[ordered] = mention
            # The line names both entries: the request's key, then the latest dose's.
            found.named[ordered] = f"{found.named[ordered]}{KEYS_SEP}{dose.key}"
            return
        found.doses[drug] = (len(found.mentions), when)
        found.mentions.append(mention)
        found.named.append(dose.key)
        return
    index, latest = seen
    if when.date() == latest.date():
        return  # the same dose, recorded twice (a procedure and an administration)
    if when > latest:
        latest = when
        keys = found.named[index].split(KEYS_SEP)
        found.named[index] = KEYS_SEP.join([*keys[:-1], dose.key])
    found.mentions[index] = f"{drug}, last given {day(latest)}"
    found.doses[drug] = (index, latest)


def _matched_name(matched: str) -> str:
    """The evidence line's name: "name match: 'flucloxacillin' in ..." or "8183 phenytoin"."""
    if matched.startswith("name match"):
        return matched.split("'")[1]
    return matched.split(" ", 1)[-1]


def match_findings(
    kb: KnowledgeBase,
    classified: Classified,
    when: datetime,
    measure: Measure,
    rise_since: datetime | None,
) -> dict[str, Found]:
    """Finding id -> what was found, for findings present. `rise_since`: when the current rise
    of a raised ALP began (its first raised result), for sources that need a drug started
    before it."""
    tolerance = timedelta(hours=kb.param("result_time_tolerance_hours"))
    present: dict[str, Found] = {}
    for finding in kb.findings.values():
        found = _match(kb, classified, when, measure, rise_since, tolerance, finding)
        if found.evidence:
            present[finding.id] = found
    return present


def _no_labs(*_: object) -> None:
    return None


def recorded(kb: KnowledgeBase, classified: Classified, when: datetime, finding_id: str) -> bool:
    """Whether a finding read from the record only (the loader refuses one with a lab source
    where this is asked: `edta_unless`) is present at `when`."""
    tolerance = timedelta(hours=kb.param("result_time_tolerance_hours"))
    found = _match(kb, classified, when, _no_labs, None, tolerance, kb.findings[finding_id])
    return bool(found.evidence)


def _match(
    kb: KnowledgeBase,
    classified: Classified,
    when: datetime,
    measure: Measure,
    rise_since: datetime | None,
    tolerance: timedelta,
    finding: Finding,
) -> Found:
    """What the record holds of one finding (empty evidence: not present)."""
    found = Found()
    for source in finding.sources:
        anchor = None
        if source.after is not None:
            anchor = _latest(kb, classified, source.after, when, tolerance, rise_since)
        if source.kind == "labs" and source.at_least:
            _at_least(kb, classified, source, when, tolerance, found, anchor)
            continue
        if source.kind == "labs" and source.at_most:
            _at_most(kb, classified, source, when, tolerance, found)
            continue
        if source.kind == "labs":
            _measured(kb, measure, source, found, anchor)
            continue
        not_before = None
        if source.not_before is not None:
            not_before = _latest(kb, classified, source.not_before, when, tolerance, rise_since)
        ends = _ends(classified, source, when, tolerance)
        outweighed_until = _outweighed_until(kb, measure, source)
        for entry in classified.in_valueset(source.kind, source.valueset):
            if not _counts(kb, entry, source, when, tolerance, rise_since, anchor, ends):
                continue
            if not_before is not None and _before(entry, not_before):
                continue
            if outweighed_until is not None and _dated_by(entry, outweighed_until):
                continue
            line = f"{entry.key}: {entry.matches[source.valueset]}"
            if entry.stop_unknown:
                written = entry.time.date() if entry.time else "unknown"
                status = entry.resource.get("status")
                line += f" ({status}, end date not recorded; written {written})"
            elif entry.ended:
                line += f" (course ended {entry.time.date() if entry.time else 'unknown'})"
            if line not in found.evidence:
                found.evidence.append(line)
            found_set = kb.valuesets.get(source.valueset)
            eponyms = found_set.eponyms if found_set else ()
            mention = _mention(finding.label, entry, source.kind, source.valueset, eponyms)
            if source.started_within_days is not None:
                mention = _with_start(mention, entry)
            matched = None
            if source.kind == "medications":
                matched = _matched_name(entry.matches[source.valueset]).lower()
            if entry.given and entry.time is not None:
                _name_dose(found, entry, entry.time, mention, matched)
            elif matched is not None and entry.active and matched in found.dosed:
                pass  # its doses already name this drug, with the latest (review 20, R20-30)
            elif mention not in found.mentions:
                if matched is not None and entry.active:
                    found.orders.setdefault(matched, len(found.mentions))
                found.mentions.append(mention)
                found.named.append(entry.key)
            found.ended_only = found.ended_only and entry.ended
    return found


def _outweighed_until(
    kb: KnowledgeBase, measure: Measure, source: FindingSource
) -> datetime | None:
    """When the result that outweighs a source's coded entries was drawn, or None when there is
    no such result (the analyte's latest result in the window has another status)."""
    rule = source.outweighed_by
    if rule is None:
        return None
    # A threshold needs the value in the analyte's unit, which the trend form of measure gives
    # (a trend window of 0 days: no earlier result is wanted).
    trend = None if rule.at_least is None else 0.0
    result = measure(rule.valueset, kb.param(rule.within_days), False, trend, None)
    if result is None or result.when is None:
        return None
    if result.status in rule.statuses:
        return result.when
    at_least = None if rule.at_least is None else kb.param(rule.at_least)
    if at_least is not None and result.value is not None and result.value >= at_least:
        return result.when
    return None


def _dated_by(entry: Entry, until: datetime) -> bool:
    """The entry is dated (onset, else recorded date) on or before `until`'s day, or undated: a
    measurement from that day or later outweighs it."""
    dated = entry.time or entry.recorded
    return dated is None or dated.date() <= until.date()


def _latest(
    kb: KnowledgeBase,
    classified: Classified,
    finding_id: str,
    when: datetime,
    tolerance: timedelta,
    rise_since: datetime | None,
) -> Moment | None:
    """When the latest dated entry that counts for a finding happened (the last drainage), and
    whether that carries a time of day."""
    times: list[Moment] = []
    for source in kb.findings[finding_id].sources:
        if source.kind == "labs":
            continue
        ends = _ends(classified, source, when, tolerance)
        times.extend(
            (entry.time, entry.timed)
            for entry in classified.in_valueset(source.kind, source.valueset)
            if entry.time is not None
            and _counts(kb, entry, source, when, tolerance, rise_since, ends=ends)
        )
    return max(times, default=None)


def _measured(
    kb: KnowledgeBase,
    measure: Measure,
    source: FindingSource,
    found: Found,
    anchor: Moment | None = None,
) -> None:
    """`anchor`: for a source with `after`, when the named finding's latest entry happened; the
    latest result counts only when drawn on or after it (a CRP drawn hours before a same-day
    ERCP was its reason). With `after` and no such entry, nothing counts."""
    # The loader refuses a lab source without `within_days`.
    days = kb.param(source.within_days or "")
    result = measure(source.valueset, days, source.separate_draw, None, source.edta)
    if result is None or result.status != source.status:
        return
    if source.after is not None and not _on_or_after(result.when, result.timed, anchor):
        return
    for by, within_days in source.falling:
        # Each tier compares with the latest result before it within its own window: a
        # rebound after a fall (110 then 150) is rising in every tier.
        tier = measure(
            source.valueset,
            days,
            source.separate_draw,
            kb.param(within_days),
            source.edta,
        )
        if tier is not None and _falling(tier, kb.param(by)):
            return
    direction = "below" if source.status == "low" else "above"
    found.evidence.append(f"{result.key}: {result.shown}, {direction} its reference range")
    analyte = kb.valuesets[source.valueset].title.lower()
    found.mentions.append(f"{source.status} {analyte} ({result.shown})")
    found.named.append(result.key)
    found.ended_only = False


def _falling(result: Measurement, fraction: float) -> bool:
    """Lower than the result before it by at least `fraction` (a CRP of 180 after 260 the day
    before: the inflammation is settling). Without a comparable earlier result (none in the
    window, or a unit not converted) it is not falling: a new raised value counts."""
    if result.value is None or result.previous is None:
        return False
    return result.value <= (1 - fraction) * result.previous


_CELSIUS = frozenset({"cel", "degc", "\u00b0c", "c", "celsius"})
_FAHRENHEIT = frozenset({"[degf]", "[f]", "degf", "\u00b0f", "f", "fahrenheit"})
_BODY_C = (25.0, 45.0)
# "deg F", "degrees C", "°C ": the words and signs around the scale letter.
_DEGREE_WORDS = re.compile(r"degrees?|deg|\u00b0|\s")


_MILLI_IU_PER_L = frozenset(
    {"miu/l", "m[iu]/l", "mu/l", "uiu/ml", "u[iu]/ml", "\u00b5iu/ml", "\u03bciu/ml", "mcu/ml"}
)
"""Spellings of milli-international units per litre (1 mIU/L = 1 uIU/mL): a TSH threshold."""
_PER_NANOLITRE = frozenset(
    {
        "10*9/l",
        "10^9/l",
        "x10^9/l",
        "x10*9/l",
        "10e9/l",
        "x10e9/l",
        "/nl",
        "10*3/ul",
        "10^3/ul",
        "x10^3/ul",
        "x10*3/ul",
        "10e3/ul",
        "x10e3/ul",
        "k/ul",
        "thou/ul",
        "10*3/mm3",
        "10^3/mm3",
        "x10^3/mm3",
    }
)
"""Spellings of a cell count per nanolitre (10^9/L = 10^3/uL = 10^3/mm3, the same number): a
white cell count threshold (twentieth round, part A: Tokyo 2018's grade II white count)."""


def _in_unit(value: float, unit: str, target: str) -> float | None:
    """`value` in `unit` expressed in `target` (a parameter's unit), or None when it cannot be.
    Temperatures convert between degrees Celsius and Fahrenheit (UCUM Cel, [degF])."""
    folded, goal = _DEGREE_WORDS.sub("", unit.lower()), target.strip().lower()
    temperature = goal in _CELSIUS | _FAHRENHEIT
    if temperature and folded == "k":  # kelvin (UCUM K): a real unit, converted, not guessed
        value, folded = value - 273.15, "cel"
    elif temperature and folded not in _CELSIUS | _FAHRENHEIT:
        # A temperature without a unit, or in one not read: a body temperature is 25-45 in
        # Celsius and 77-113 in Fahrenheit, so the number says which (98.6 is not a fever).
        if _BODY_C[0] <= value <= _BODY_C[1]:
            folded = "cel"
        elif _BODY_C[0] * 9 / 5 + 32 <= value <= _BODY_C[1] * 9 / 5 + 32:
            folded = "[degf]"
        else:
            return None
    if folded == goal or not folded:
        return value
    if folded in _MILLI_IU_PER_L and goal in _MILLI_IU_PER_L:
        return value  # the same quantity spelt several ways (a TSH in mIU/L or uIU/mL)
    if folded in _PER_NANOLITRE and goal in _PER_NANOLITRE:
        return value  # a cell count in 10^9/L or 10^3/uL: the same number
    if goal in _CELSIUS and folded in _FAHRENHEIT:
        return (value - 32) * 5 / 9
    if goal in _FAHRENHEIT and folded in _CELSIUS:
        return value * 9 / 5 + 32
    if goal in _CELSIUS and folded in _CELSIUS:
        return value
    return None


def _at_most(
    kb: KnowledgeBase,
    classified: Classified,
    source: FindingSource,
    when: datetime,
    tolerance: timedelta,
    found: Found,
) -> None:
    """A fixed-threshold lab source read downwards: the latest usable result in the window, in
    the parameter's unit (units.yaml `analytes` converts; else only the same unit), counts when
    at or below the parameter. Only the latest: a severe value since corrected is not one now
    (unless `at_most_any`: then the lowest in the window)."""
    threshold = kb.parameters[source.at_most or ""]
    since = when - timedelta(days=kb.param(source.within_days or ""))
    units = kb.analyte_units.get(source.valueset)

    def in_unit(entry: Entry) -> float | None:
        reading = numeric_value(entry.resource)
        if reading is None:
            return None
        q = result_quantity(entry.resource) or {}
        if units is not None:
            return units.convert(reading, q.get("code"), q.get("unit"))
        return _in_unit(reading, unit_of(entry.resource), threshold.unit)

    readings = [
        (entry.time, entry)
        for entry in classified.in_valueset("observations", source.valueset)
        if entry.active
        and entry.time is not None
        and since <= entry.time <= when + tolerance
        and numeric_value(entry.resource) is not None
    ]
    chosen: tuple[float | None, Entry] | None = None
    if source.at_most_any:
        converted = [(v, e) for _, e in readings if (v := in_unit(e)) is not None]
        chosen = min(converted, key=lambda c: c[0], default=None)
    elif readings:
        latest = max(readings, key=lambda r: r[0])[1]
        chosen = (in_unit(latest), latest)
    if chosen is None:
        return
    converted_value, entry = chosen
    if converted_value is None or converted_value > threshold.value:
        return
    quantity = result_quantity(entry.resource) or {}
    unit = quantity.get("unit") or quantity.get("code") or ""
    shown = f"{quantity.get('value')} {unit}".strip()
    if str(unit).strip().lower() != threshold.unit.strip().lower():
        # Twentieth round, part J (review 30, R30-04): a value in another unit (magnesium in
        # mEq/L) is shown beside its conversion to the parameter's unit, as it was judged.
        shown = f"{shown} ({round(converted_value, 2):g} {threshold.unit})"
    title = kb.valuesets[source.valueset].title
    analyte = title if title.isupper() else title.lower()
    found.evidence.append(f"{entry.key}: {shown}, at most {threshold.value:g} {threshold.unit}")
    found.mentions.append(f"{analyte} {shown}, {day(entry.time or when)}")
    found.named.append(entry.key)
    found.ended_only = False


def _at_least(
    kb: KnowledgeBase,
    classified: Classified,
    source: FindingSource,
    when: datetime,
    tolerance: timedelta,
    found: Found,
    anchor: Moment | None = None,
) -> None:
    """A fixed-threshold lab source: the highest usable result in the window at or above the
    parameter (any reading counts: a fever that an antipyretic brought down still happened).
    With `after`, only readings on or after the anchor count (a temperature charted at 06:00
    was the reason for an ERCP at 14:00 the same day)."""
    threshold = kb.parameters[source.at_least or ""]
    since = when - timedelta(days=kb.param(source.within_days or ""))
    best: tuple[float, Entry] | None = None
    for entry in classified.in_valueset("observations", source.valueset):
        if not entry.active or entry.time is None or not since <= entry.time <= when + tolerance:
            continue
        if source.after is not None and not _on_or_after(entry.time, entry.timed, anchor):
            continue
        value = numeric_value(entry.resource)
        converted = (
            None if value is None else _in_unit(value, unit_of(entry.resource), threshold.unit)
        )
        above = converted is not None and converted >= threshold.value
        if above and converted is not None and (best is None or converted > best[0]):
            best = (converted, entry)
    if best is None:
        return
    value, entry = best
    quantity = result_quantity(entry.resource) or {}
    shown = f"{quantity.get('value')} {quantity.get('unit') or quantity.get('code') or ''}".strip()
    title = kb.valuesets[source.valueset].title
    analyte = title if title.isupper() else title.lower()  # an acronym stays one (TSH)
    found.evidence.append(f"{entry.key}: {shown}, at least {threshold.value:g} {threshold.unit}")
    found.mentions.append(f"{analyte} {shown}, {day(entry.time or when)}")
    found.named.append(entry.key)
    found.ended_only = False
