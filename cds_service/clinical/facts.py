"""Facts the rules test, derived from the record for one ALP result.

Each fact keeps the resources it came from, so the decision trace can show a reviewer exactly
which record entries made a rule fire. `FACTS` is the catalogue of names rules may use; the
knowledge-base loader refuses a rule that names anything else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cds_service.clinical.labs import (
    Interval,
    choose_interval,
    effective_time,
    measured_ul,
    unusable_reason,
)
from cds_service.clinical.record import PatientRecord, Resource
from cds_service.fhir.values import parse_datetime, resource_key
from cds_service.knowledge.model import DAYS_PER, KnowledgeBase

FACTS: dict[str, str] = {
    "alp.status": "high, low or normal against the interval for this patient",
    "alp.value": "the ALP value as reported",
    "alp.unit": "the unit as reported",
    "alp.value_ul": "the ALP value in U/L",
    "alp.low": "lower limit of the interval used, U/L",
    "alp.high": "upper limit of the interval used, U/L",
    "alp.xuln": "ALP divided by the upper limit",
    "alp.range_source": "where the interval came from",
    "alp.date": "date of the ALP specimen",
    "patient.age_years": "age in whole years at the time of the ALP",
    "patient.sex": "administrative sex (male, female, or unknown)",
    "ggt.status": "high, normal or unknown (no range) for the GGT or 5'-NT used; absent if none",
    "ggt.value": "the GGT or 5'-nucleotidase value used",
    "orders.open": "orderables with an open ServiceRequest",
    "results.recent": "orderables resulted within their look-back window before the ALP",
}


@dataclass
class Fact:
    value: Any
    evidence: tuple[str, ...] = ()
    note: str | None = None


@dataclass
class Facts:
    values: dict[str, Fact] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    """Supporting data for card text that rules do not test (e.g. which order is open)."""

    def set(
        self, name: str, value: Any, evidence: Iterable[str] = (), note: str | None = None
    ) -> None:
        self.values[name] = Fact(value, tuple(evidence), note)

    def get(self, name: str) -> Any:
        fact = self.values.get(name)
        return fact.value if fact else None

    def trace(self) -> dict[str, Any]:
        out = {}
        for name, fact in self.values.items():
            entry: dict[str, Any] = {"value": fact.value}
            if fact.evidence:
                entry["from"] = list(fact.evidence)
            if fact.note:
                entry["note"] = fact.note
            out[name] = entry
        return out


@dataclass(frozen=True)
class Skipped:
    """An ALP result that was not interpreted, and why (audited, no card)."""

    observation: str
    reason: str


def patient_sex(patient: Resource | None) -> str | None:
    gender = patient.get("gender") if patient else None
    return gender if gender in {"male", "female"} else None


def age_days_at(patient: Resource | None, when: datetime) -> float | None:
    born = parse_datetime(patient.get("birthDate")) if patient else None
    if born is None:
        return None
    return (when - born).total_seconds() / 86400


def _within(
    when: datetime | None, anchor: datetime, days_before: float, hours_after: float
) -> bool:
    if when is None:
        return False
    return anchor - timedelta(days=days_before) <= when <= anchor + timedelta(hours=hours_after)


def _interval_status(value: float, interval: Interval) -> str:
    if interval.high is not None and value > interval.high:
        return "high"
    if interval.low is not None and value < interval.low:
        return "low"
    return "normal"


def _fmt(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".") if value % 1 else f"{value:.0f}"


def derive(kb: KnowledgeBase, record: PatientRecord, alp: Resource) -> Facts | Skipped:
    """All facts for one ALP Observation, or why it cannot be interpreted."""
    key = resource_key(alp)
    reason = unusable_reason(alp)
    if reason:
        return Skipped(key, reason)
    measured = measured_ul(alp, kb.units)
    if measured is None:
        unit = (alp.get("valueQuantity") or {}).get("unit") or "no unit"
        return Skipped(
            key, f"unit {unit!r} is not a catalytic-activity unit the knowledge base knows"
        )
    when = effective_time(alp) or record.now
    patient = record.patient
    sex = patient_sex(patient)
    age_days = age_days_at(patient, when)
    interval, note = choose_interval(
        alp,
        kb.units,
        kb.intervals.get("alp"),
        sex,
        age_days,
        kb.param("paediatric_age_limit_years"),
    )
    if interval is None or interval.high is None:
        return Skipped(key, note or "no reference interval applies to this patient")

    facts = Facts()
    patient_ref = [resource_key(patient)] if patient else []
    facts.set("alp.status", _interval_status(measured.value_ul, interval), [key], note)
    facts.set("alp.value", _fmt(measured.value), [key])
    facts.set("alp.unit", measured.unit, [key])
    facts.set("alp.value_ul", round(measured.value_ul, 2), [key])
    facts.set("alp.low", _fmt(interval.low) if interval.low is not None else "?", [key])
    facts.set("alp.high", _fmt(interval.high), [key])
    facts.set("alp.xuln", round(measured.value_ul / interval.high, 1), [key])
    facts.set("alp.range_source", interval.source, [key] if interval.from_lab else patient_ref)
    facts.set("alp.date", when.date().isoformat(), [key])
    facts.set(
        "patient.age_years",
        int(age_days // DAYS_PER["a"]) if age_days is not None else None,
        patient_ref,
    )
    facts.set("patient.sex", sex or "unknown", patient_ref)
    facts.details["alp_reference"] = key

    _ggt(kb, record, facts, when, sex, age_days)
    _open_orders(kb, record, facts)
    _recent_results(kb, record, facts, when, key)
    return facts


def _ggt(
    kb: KnowledgeBase,
    record: PatientRecord,
    facts: Facts,
    when: datetime,
    sex: str | None,
    age_days: float | None,
) -> None:
    liver_codes = kb.orderables["ggt"].result_codes
    window = kb.param("ggt_lookback_days")
    tolerance = kb.param("result_time_tolerance_hours")
    candidates = []
    for obs in record.observations():
        if unusable_reason(obs):
            continue
        if not any(
            (c.get("system"), c.get("code")) in liver_codes
            for c in (obs.get("code") or {}).get("coding") or ()
        ):
            continue
        obs_time = effective_time(obs)
        co_resulted = any(obs is r for r in record.results)
        if co_resulted or _within(obs_time, when, window, tolerance):
            candidates.append((co_resulted, obs_time or when, obs))
    if not candidates:
        facts.set("ggt.status", "absent")
        return
    # Freshest first: a co-resulted value, then the latest before the ALP.
    candidates.sort(key=lambda c: (c[0], c[1]), reverse=True)
    obs = candidates[0][2]
    key = resource_key(obs)
    measured = measured_ul(obs, kb.units)
    value = (obs.get("valueQuantity") or {}).get("value")
    facts.set("ggt.value", value, [key])
    if measured is None:
        facts.set("ggt.status", "unknown", [key], "GGT unit not recognised")
        return
    table = kb.intervals.get("ggt")
    interval, _ = choose_interval(obs, kb.units, table, sex, age_days, 0)
    if interval is None or interval.high is None:
        facts.set("ggt.status", "unknown", [key], "no reference range for the GGT")
        return
    facts.set("ggt.status", _interval_status(measured.value_ul, interval), [key], interval.source)


OPEN_ORDER_STATUSES = {"draft", "active", "on-hold"}


def _open_orders(kb: KnowledgeBase, record: PatientRecord, facts: Facts) -> None:
    found: dict[str, str] = {}
    for order in record.orders:
        if order.get("resourceType") != "ServiceRequest":
            continue
        if order.get("status") not in OPEN_ORDER_STATUSES or order.get("doNotPerform") is True:
            continue
        if record.patient_id and not _about_patient(order, record.patient_id):
            continue
        for orderable in kb.orderables_ordered_by(order.get("code")):
            found.setdefault(orderable, resource_key(order))
    facts.set("orders.open", sorted(found), found.values())
    facts.details["open_orders"] = found


def _recent_results(
    kb: KnowledgeBase, record: PatientRecord, facts: Facts, when: datetime, alp_key: str
) -> None:
    tolerance = kb.param("result_time_tolerance_hours")
    found: dict[str, tuple[str, str]] = {}
    for obs in record.observations():
        key = resource_key(obs)
        if key == alp_key or (unusable_reason(obs) and not obs.get("valueCodeableConcept")):
            continue
        obs_time = effective_time(obs)
        for orderable_id in kb.orderables_resulted_by(obs.get("code")):
            lookback = kb.orderables[orderable_id].lookback_days
            if lookback and _within(obs_time, when, lookback, tolerance):
                date = obs_time.date().isoformat() if obs_time else "unknown date"
                found.setdefault(orderable_id, (key, date))
    facts.set("results.recent", sorted(found), [v[0] for v in found.values()])
    facts.details["recent_results"] = found


def _about_patient(resource: Mapping[str, Any], patient_id: str) -> bool:
    subject = resource.get("subject")
    if not isinstance(subject, Mapping) or "reference" not in subject:
        return True
    reference = str(subject["reference"])
    return reference.rstrip("/").split("/")[-1] == patient_id
