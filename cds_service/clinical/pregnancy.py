"""Pregnancy status and trimester at the time of the ALP.

Evidence, strongest first: a pregnancy-status Observation (LOINC 82810-3) of the last
`pregnancy_status_max_age_days`; an active pregnancy Condition. The trimester comes from a
gestational-age Observation or an ICD-10-CM Z3A "weeks of gestation" code (the code carries the
week count), moved forward to the ALP date; else from a third-trimester code; else unknown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cds_service.clinical.classify import Classified, recorded_time, value_of
from cds_service.clinical.labs import UNUSABLE_STATUSES
from cds_service.fhir.values import ICD10CM, as_str, codings
from cds_service.knowledge.model import KnowledgeBase

Z3A_WEEKS = re.compile(r"^Z3A\.?(\d{2})$")


@dataclass
class Pregnancy:
    status: str = "unknown"
    """pregnant, not pregnant or unknown"""
    trimester: str = "unknown"
    """first, second, third or unknown"""
    weeks: float | None = None
    evidence: list[str] = field(default_factory=list)


def trimester_for(weeks: float) -> str:
    if weeks < 14:
        return "first"
    if weeks < 28:
        return "second"
    return "third"


def assess(kb: KnowledgeBase, classified: Classified, when: datetime, sex: str | None) -> Pregnancy:
    result = Pregnancy()
    if sex == "male":
        result.status = "not pregnant"
        return result
    max_age = timedelta(days=kb.param("pregnancy_status_max_age_days"))
    pregnant_answers = kb.valuesets["pregnancy-status-pregnant"]
    not_pregnant_answers = kb.valuesets["pregnancy-status-not-pregnant"]
    latest: tuple[datetime, str, str] | None = None
    for entry in classified.in_valueset("observations", "pregnancy-status"):
        if entry.time is None or not (when - max_age <= entry.time <= when + timedelta(days=1)):
            continue
        # Coded answers have no number, so `entry.active` (numeric results) does not apply.
        if as_str(entry.resource.get("status")) in UNUSABLE_STATUSES:
            continue
        answer = entry.resource.get("valueCodeableConcept")
        if pregnant_answers.match(answer):
            value = "pregnant"
        elif not_pregnant_answers.match(answer):
            value = "not pregnant"
        else:
            continue
        if latest is None or entry.time > latest[0]:
            latest = (entry.time, value, entry.key)
    if latest is not None:
        result.status = latest[1]
        result.evidence.append(f"{latest[2]}: pregnancy status {latest[1]}")

    weeks_at: list[tuple[datetime, float, str]] = []
    coded_third = None
    conditions = {
        e.key: e
        for vs in ("pregnancy", "pregnancy-third-trimester")
        for e in classified.in_valueset("conditions", vs)
    }
    for entry in conditions.values():
        if not entry.countable or not entry.active:
            continue
        # A "weeks of gestation" code states the gestation on the day it was recorded, so here
        # (unlike an event window) the recorded date does date it.
        stated = entry.time or recorded_time(entry.resource)
        if stated is not None and stated < when - max_age:
            continue  # an old pregnancy left active on the problem list
        if result.status == "unknown":
            result.status = "pregnant"
        if result.status == "pregnant":
            result.evidence.append(f"{entry.key}: pregnancy condition")
        for coding in codings(entry.resource.get("code")):
            match = Z3A_WEEKS.match(str(coding.get("code", "")))
            # Z3A.00 is "weeks not specified"; a Z3A code with no date states today's gestation.
            if coding.get("system") == ICD10CM and match and match.group(1) != "00":
                weeks_at.append((stated or when, float(match.group(1)), entry.key))
        if "pregnancy-third-trimester" in entry.matches:
            coded_third = entry.key

    for entry in classified.in_valueset("observations", "gestational-age"):
        amount = value_of(entry)
        if amount is None or entry.time is None or not entry.active:
            continue
        unit = str((entry.resource.get("valueQuantity") or {}).get("code") or "wk")
        weeks_at.append((entry.time, amount / 7 if unit == "d" else amount, entry.key))

    if result.status != "pregnant":
        return result
    dated = [w for w in weeks_at if w[0] <= when + timedelta(days=1)]
    if dated:
        recorded, weeks, key = max(dated, key=lambda w: w[0])
        projected = round(weeks + (when - recorded).days / 7, 1)
        if projected <= kb.param("gestation_max_weeks"):
            result.weeks = projected
            result.trimester = trimester_for(projected)
            result.evidence.append(f"{key}: {weeks:g} weeks on {recorded.date()}")
    elif coded_third:
        result.trimester = "third"
        result.evidence.append(f"{coded_third}: third trimester")
    return result
