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
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cds_service.clinical.classify import Classified, Entry, medication_start, short_name
from cds_service.clinical.labs import numeric_value, unit_of
from cds_service.fhir.values import concept_text
from cds_service.knowledge.model import FindingSource, KnowledgeBase

STATUS_CODES = "status-history-codes"
"""Value set of codes that state a status or history, never an event."""
_INFUSION = re.compile(r"\b(infusion|intravenous|iv)\b", re.IGNORECASE)


@dataclass
class Found:
    evidence: list[str] = field(default_factory=list)
    """`Type/id: code display` lines, for the decision trace."""
    mentions: list[str] = field(default_factory=list)
    """How a card names what was found ("amoxicillin / clavulanate, stopped 20 Oct 2026")."""
    ended_only: bool = True
    """Medications: every match is a course that has ended."""


@dataclass(frozen=True)
class Measurement:
    """An analyte's latest usable result in a window, judged against its reference range."""

    key: str
    status: str
    """low, normal, high or unknown"""
    shown: str
    """Value and date, as a card shows them: 6.1 umol/L, 12 Nov 2026."""
    when: datetime | None = None
    """When it was drawn."""


Measure = Callable[[str, float, bool], Measurement | None]
"""(value set id, days before the ALP, from another draw only) -> the latest result of that
analyte, or None."""


def day(when: datetime) -> str:
    return f"{when.day} {when:%b %Y}"


def _counts(
    kb: KnowledgeBase,
    entry: Entry,
    source: FindingSource,
    when: datetime,
    tolerance: timedelta,
    rise_since: datetime | None,
    anchor: datetime | None = None,
) -> bool:
    """`anchor`: for a source with `after`, when the named finding's latest entry happened."""
    if source.kind == "conditions" and not entry.countable:
        return False
    if source.kind == "conditions" and source.confirmed and not entry.confirmed:
        return False
    if source.kind == "medications":
        if source.started_before_rise and rise_since is not None:
            started = medication_start(entry.resource)
            if started is not None and started >= rise_since:
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
    since = when - timedelta(days=kb.param(source.within_days))
    happened = entry.time
    if happened is None and source.recorded_dates:
        happened = entry.recorded
    before_anchor = anchor is None or (happened is not None and happened.date() < anchor.date())
    if source.after is not None and before_anchor:
        return False
    return happened is not None and since <= happened <= when + tolerance


def _mention(finding_label: str, entry: Entry, kind: str, valueset: str) -> str:
    """How a card names an entry: the record's own words, else the finding's label (a code's
    official display, "Primary biliary cirrhosis (inclusion term: ...)", reads badly)."""
    if kind != "medications":
        name = entry.name.strip()
        if not name:
            # Coded only: the code's display when it reads as a name ("Primary sclerosing
            # cholangitis"); the finding's label when it is a catalogue title with notes.
            name = _matched_name(entry.matches[valueset])
            if "(" in name or "[" in name or "," in name or len(name) > 45:
                return finding_label
        if len(name) > 60:
            return finding_label
        return name if name[:2].isupper() else name[0].lower() + name[1:]
    drug = entry.name.strip() or short_name({"text": _matched_name(entry.matches[valueset])})
    if entry.active or entry.time is None:
        return drug
    # An infusion (a yearly zoledronate) is given, not stopped: the date is when it was given.
    given = _INFUSION.search(concept_text(entry.resource.get("medicationCodeableConcept")))
    return f"{drug}, {'given' if given else 'stopped'} {day(entry.time)}"


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
        found = Found()
        for source in finding.sources:
            if source.kind == "labs" and source.at_least:
                _at_least(kb, classified, source, when, tolerance, found)
                continue
            if source.kind == "labs":
                _measured(kb, measure, source, found)
                continue
            anchor = None
            if source.after is not None:
                anchor = _latest(kb, classified, source.after, when, tolerance, rise_since)
            outweighed_until = _outweighed_until(kb, measure, source)
            for entry in classified.in_valueset(source.kind, source.valueset):
                if not _counts(kb, entry, source, when, tolerance, rise_since, anchor):
                    continue
                if outweighed_until is not None and _dated_by(entry, outweighed_until):
                    continue
                line = f"{entry.key}: {entry.matches[source.valueset]}"
                if entry.ended:
                    line += f" (course ended {entry.time.date() if entry.time else 'unknown'})"
                if line not in found.evidence:
                    found.evidence.append(line)
                mention = _mention(finding.label, entry, source.kind, source.valueset)
                if mention not in found.mentions:
                    found.mentions.append(mention)
                found.ended_only = found.ended_only and entry.ended
        if found.evidence:
            present[finding.id] = found
    return present


def _outweighed_until(
    kb: KnowledgeBase, measure: Measure, source: FindingSource
) -> datetime | None:
    """When the result that outweighs a source's coded entries was drawn, or None when there is
    no such result (the analyte's latest result in the window has another status)."""
    rule = source.outweighed_by
    if rule is None:
        return None
    result = measure(rule.valueset, kb.param(rule.within_days), False)
    if result is None or result.status not in rule.statuses or result.when is None:
        return None
    return result.when


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
) -> datetime | None:
    """When the latest dated entry that counts for a finding happened (the last drainage)."""
    times = [
        entry.time
        for source in kb.findings[finding_id].sources
        if source.kind != "labs"
        for entry in classified.in_valueset(source.kind, source.valueset)
        if entry.time is not None and _counts(kb, entry, source, when, tolerance, rise_since)
    ]
    return max(times, default=None)


def _measured(kb: KnowledgeBase, measure: Measure, source: FindingSource, found: Found) -> None:
    # The loader refuses a lab source without `within_days`.
    result = measure(source.valueset, kb.param(source.within_days or ""), source.separate_draw)
    if result is None or result.status != source.status:
        return
    direction = "below" if source.status == "low" else "above"
    found.evidence.append(f"{result.key}: {result.shown}, {direction} its reference range")
    analyte = kb.valuesets[source.valueset].title.lower()
    found.mentions.append(f"{source.status} {analyte} ({result.shown})")
    found.ended_only = False


_CELSIUS = frozenset({"cel", "degc", "\u00b0c", "c", "celsius"})
_FAHRENHEIT = frozenset({"[degf]", "[f]", "degf", "\u00b0f", "f", "fahrenheit"})
_BODY_C = (25.0, 45.0)
# "deg F", "degrees C", "°C ": the words and signs around the scale letter.
_DEGREE_WORDS = re.compile(r"degrees?|deg|\u00b0|\s")


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
    if goal in _CELSIUS and folded in _FAHRENHEIT:
        return (value - 32) * 5 / 9
    if goal in _FAHRENHEIT and folded in _CELSIUS:
        return value * 9 / 5 + 32
    if goal in _CELSIUS and folded in _CELSIUS:
        return value
    return None


def _at_least(
    kb: KnowledgeBase,
    classified: Classified,
    source: FindingSource,
    when: datetime,
    tolerance: timedelta,
    found: Found,
) -> None:
    """A fixed-threshold lab source: the highest usable result in the window at or above the
    parameter (any reading counts: a fever that an antipyretic brought down still happened)."""
    threshold = kb.parameters[source.at_least or ""]
    since = when - timedelta(days=kb.param(source.within_days or ""))
    best: tuple[float, Entry] | None = None
    for entry in classified.in_valueset("observations", source.valueset):
        if not entry.active or entry.time is None or not since <= entry.time <= when + tolerance:
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
    quantity = entry.resource.get("valueQuantity") or {}
    shown = f"{quantity.get('value')} {quantity.get('unit') or quantity.get('code') or ''}".strip()
    analyte = kb.valuesets[source.valueset].title.lower()
    found.evidence.append(f"{entry.key}: {shown}, at least {threshold.value:g} {threshold.unit}")
    found.mentions.append(f"{analyte} {shown}, {day(entry.time or when)}")
    found.ended_only = False
