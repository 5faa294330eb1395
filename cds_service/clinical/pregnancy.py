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

from cds_service.clinical.findings import INACTIVE, NOT_TRUE, condition_time, status_code
from cds_service.clinical.labs import effective_time, numeric_value
from cds_service.clinical.record import PatientRecord
from cds_service.fhir.values import ICD10CM, codings, resource_key
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


def assess(kb: KnowledgeBase, record: PatientRecord, when: datetime, sex: str | None) -> Pregnancy:
    result = Pregnancy()
    if sex == "male":
        result.status = "not pregnant"
        return result
    max_age = timedelta(days=kb.param("pregnancy_status_max_age_days"))
    status_codes = kb.valuesets["pregnancy-status"]
    pregnant_answers = kb.valuesets["pregnancy-status-pregnant"]
    not_pregnant_answers = kb.valuesets["pregnancy-status-not-pregnant"]
    latest: tuple[datetime, str, str] | None = None
    for obs in record.observations():
        if not status_codes.match(obs.get("code")):
            continue
        obs_time = effective_time(obs)
        if obs_time is None or not (when - max_age <= obs_time <= when + timedelta(days=1)):
            continue
        answer = obs.get("valueCodeableConcept")
        if pregnant_answers.match(answer):
            value = "pregnant"
        elif not_pregnant_answers.match(answer):
            value = "not pregnant"
        else:
            continue
        if latest is None or obs_time > latest[0]:
            latest = (obs_time, value, resource_key(obs))
    if latest is not None:
        result.status = latest[1]
        result.evidence.append(f"{latest[2]}: pregnancy status {latest[1]}")

    pregnancy_codes = kb.valuesets["pregnancy"]
    third = kb.valuesets["pregnancy-third-trimester"]
    weeks_at: list[tuple[datetime, float, str]] = []
    coded_third = None
    for condition in record.conditions:
        if condition.get("resourceType") != "Condition":
            continue
        if status_code(condition.get("verificationStatus")) in NOT_TRUE:
            continue
        if status_code(condition.get("clinicalStatus")) in INACTIVE:
            continue
        concept = condition.get("code")
        if not pregnancy_codes.match(concept) and not third.match(concept):
            continue
        recorded = condition_time(condition)
        if recorded is not None and recorded < when - max_age:
            continue  # an old pregnancy left active on the problem list
        if result.status == "unknown":
            result.status = "pregnant"
        if result.status == "pregnant":
            result.evidence.append(f"{resource_key(condition)}: pregnancy condition")
        for coding in codings(concept):
            match = Z3A_WEEKS.match(str(coding.get("code", "")))
            if coding.get("system") == ICD10CM and match and recorded is not None:
                weeks_at.append((recorded, float(match.group(1)), resource_key(condition)))
        if third.match(concept):
            coded_third = resource_key(condition)

    ages = kb.valuesets["gestational-age"]
    for obs in record.observations():
        if ages.match(obs.get("code")) and (amount := numeric_value(obs)) is not None:
            obs_time = effective_time(obs)
            unit = str((obs.get("valueQuantity") or {}).get("code") or "wk")
            weeks = amount / 7 if unit == "d" else amount
            if obs_time is not None:
                weeks_at.append((obs_time, weeks, resource_key(obs)))

    if result.status != "pregnant":
        return result
    dated = [w for w in weeks_at if w[0] <= when + timedelta(days=1)]
    if dated:
        recorded, weeks, key = max(dated, key=lambda w: w[0])
        result.weeks = round(weeks + (when - recorded).days / 7, 1)
        result.trimester = trimester_for(result.weeks)
        result.evidence.append(f"{key}: {weeks:g} weeks on {recorded.date()}")
    elif coded_third:
        result.trimester = "third"
        result.evidence.append(f"{coded_third}: third trimester")
    return result
