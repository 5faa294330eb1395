"""Facts the rules test, derived from the record for one ALP result.

Each fact keeps the resources it came from, so the decision trace can show a reviewer exactly
which record entries made a rule fire. `FACTS` is the catalogue of names rules may use; the
knowledge-base loader refuses a rule that names anything else, and /rulebook prints it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cds_service.clinical import pregnancy
from cds_service.clinical.classify import Classified, classify
from cds_service.clinical.findings import match_findings
from cds_service.clinical.labs import (
    UNUSABLE_STATUSES,
    Converter,
    Interval,
    choose_interval,
    effective_time,
    enzyme_converter,
    measured,
    measured_ul,
    unusable_reason,
)
from cds_service.clinical.record import PatientRecord, Resource
from cds_service.fhir.values import (
    as_list,
    as_str,
    codings,
    finite,
    parse_datetime,
    reference_parts,
    resource_key,
)
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
    "alp.earlier_lows": "number of earlier low ALP results in the low look-back window",
    "alp.persistent_low": "an earlier low ALP at least the persistence interval before this one",
    "alp.earlier_low_date": "date of the earliest earlier low ALP",
    "patient.age_years": "age in whole years at the time of the ALP",
    "patient.sex": "administrative sex (male, female, or unknown)",
    "pregnancy.status": "pregnant, not pregnant, or unknown",
    "pregnancy.trimester": "first, second, third, or unknown",
    "pregnancy.weeks": "gestational age in weeks at the ALP, if known",
    "specimen.fasting": "fasting, non-fasting, or unknown (Specimen.collection.fastingStatus)",
    "ggt.status": "high, normal, borderline (within the borderline fraction of its upper limit), "
    "unknown (no range), or absent",
    "ggt.value": "the GGT or 5'-nucleotidase value used",
    "ggt.xuln": "GGT divided by its upper limit",
    "alt.xuln": "ALT divided by its upper limit (co-resulted or within the liver-panel window)",
    "liver.r_ratio": "R ratio: (ALT/ULN) / (ALP/ULN)",
    "liver.pattern": "cholestatic, mixed, hepatocellular, or unknown (from the R ratio)",
    "bilirubin.status": "total bilirubin high, normal, unknown, or absent",
    "bilirubin.value_mgdl": "total bilirubin in mg/dL",
    "wilson.alp_bilirubin_ratio": "ALP (U/L) divided by total bilirubin (mg/dL)",
    "wilson.ast_alt_ratio": "AST divided by ALT",
    "potassium.status": "co-resulted potassium high, normal, low, unknown, or absent",
    "calcium.status": "co-resulted calcium high, normal, low, unknown, or absent",
    "findings.present": "findings (findings.yaml) found in the record",
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


@dataclass(frozen=True)
class Reading:
    """One analyte result judged against its interval."""

    key: str
    value: float
    """In the analyte's unit (U/L for enzymes, the table's unit otherwise)."""
    status: str
    high: float | None
    when: datetime | None


def patient_sex(patient: Resource | None) -> str | None:
    gender = as_str(patient.get("gender")) if patient else None
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


def _status(value: float, interval: Interval) -> str:
    if interval.high is not None and value > interval.high:
        return "high"
    if interval.low is not None and value < interval.low:
        return "low"
    return "normal"


def _fmt(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".") if value % 1 else f"{value:.0f}"


class _Context:
    """What every derivation for one ALP needs."""

    def __init__(
        self, kb: KnowledgeBase, record: PatientRecord, classified: Classified, when: datetime
    ) -> None:
        self.kb = kb
        self.record = record
        self.classified = classified
        self.when = when
        self.sex = patient_sex(record.patient)
        self.age_days = age_days_at(record.patient, when)
        self.paediatric = kb.param("paediatric_age_limit_years")
        self.tolerance = kb.param("result_time_tolerance_hours")
        self.enzyme = enzyme_converter(kb.units)
        self.co_resulted = classified.co_resulted

    def converter(self, table_id: str) -> Converter:
        table = self.kb.intervals.get(table_id)
        if table is None or table.unit == "U/L":
            return self.enzyme
        return table.convert

    def reading(
        self,
        valueset_ids: Iterable[str],
        table_id: str,
        days: float,
        co_resulted_only: bool = False,
    ) -> Reading | None:
        """The freshest usable result of an analyte: co-resulted first, then the latest in the
        window before the ALP."""
        convert = self.converter(table_id)
        candidates = []
        for entry in self.classified.observations_in(valueset_ids):
            if not entry.active:
                continue
            obs, key, obs_time = entry.resource, entry.key, entry.time
            together = key in self.co_resulted or (
                obs_time is not None
                and abs(obs_time - self.when) <= timedelta(hours=self.tolerance)
            )
            if co_resulted_only and not together:
                continue
            if together or _within(obs_time, self.when, days, self.tolerance):
                candidates.append((together, obs_time or self.when, obs))
        if not candidates:
            return None
        candidates.sort(key=lambda c: (c[0], c[1]), reverse=True)
        obs = candidates[0][2]
        value = measured(obs, convert)
        key = resource_key(obs)  # the chosen entry's key
        if value is None:
            return Reading(key, float("nan"), "unknown", None, candidates[0][1])
        table = self.kb.intervals.get(table_id)
        interval, _ = choose_interval(obs, convert, table, self.sex, self.age_days, 0)
        if interval is None or (interval.high is None and interval.low is None):
            return Reading(key, value, "unknown", None, candidates[0][1])
        return Reading(key, value, _status(value, interval), interval.high, candidates[0][1])


def derive(
    kb: KnowledgeBase, record: PatientRecord, alp: Resource, classified: Classified | None = None
) -> Facts | Skipped:
    """All facts for one ALP Observation, or why it cannot be interpreted. `classified` is the
    record's one-pass index; pass it when evaluating several ALPs of one record."""
    key = resource_key(alp)
    reason = unusable_reason(alp)
    if reason:
        return Skipped(key, reason)
    value = measured_ul(alp, kb.units)
    if value is None:
        unit = (alp.get("valueQuantity") or {}).get("unit") or "no unit"
        return Skipped(
            key, f"unit {unit!r} is not a catalytic-activity unit the knowledge base knows"
        )
    when = effective_time(alp) or record.now
    ctx = _Context(kb, record, classified or classify(kb, record), when)
    interval, note = choose_interval(
        alp, ctx.enzyme, kb.intervals.get("alp"), ctx.sex, ctx.age_days, ctx.paediatric
    )
    if interval is None or interval.high is None or interval.high <= 0:
        # A zero or negative upper limit is a lab's data error; dividing by it would
        # either crash or produce nonsense multiples of the limit.
        return Skipped(key, note or "no usable reference interval applies to this patient")

    facts = Facts()
    patient_ref = [resource_key(record.patient)] if record.patient else []
    facts.set("alp.status", _status(value.value_ul, interval), [key], note)
    facts.set("alp.value", _fmt(value.value), [key])
    facts.set("alp.unit", value.unit, [key])
    facts.set("alp.value_ul", round(value.value_ul, 2), [key])
    facts.set("alp.low", _fmt(interval.low) if interval.low is not None else "?", [key])
    facts.set("alp.high", _fmt(interval.high), [key])
    facts.set("alp.xuln", round(value.value_ul / interval.high, 3), [key])
    facts.set("alp.range_source", interval.source, [key] if interval.from_lab else patient_ref)
    facts.set("alp.date", when.date().isoformat(), [key])
    age = int(ctx.age_days // DAYS_PER["a"]) if ctx.age_days is not None else None
    facts.set("patient.age_years", age, patient_ref)
    facts.set("patient.sex", ctx.sex or "unknown", patient_ref)
    facts.details["alp_reference"] = key
    facts.details["alp_ul"] = value.value_ul
    facts.details["alp_uln"] = interval.high

    _earlier_alps(ctx, facts, key)
    _pregnancy(ctx, facts)
    _fasting(ctx, facts, alp)
    _ggt(ctx, facts)
    _liver_panel(ctx, facts)
    _electrolytes(ctx, facts)
    found = match_findings(kb, ctx.classified, when)
    facts.set(
        "findings.present",
        sorted(found),
        [line.split(":")[0] for v in found.values() for line in v],
    )
    facts.details["findings"] = found
    _open_orders(ctx, facts)
    _recent_results(ctx, facts, key)
    return facts


def _earlier_alps(ctx: _Context, facts: Facts, current: str) -> None:
    """Earlier low ALPs, each judged against the interval that applied on its own date."""
    lookback = ctx.kb.param("low_lookback_days")
    persistence = timedelta(days=ctx.kb.param("low_persistence_min_days"))
    lows: list[tuple[datetime, str]] = []
    for entry in ctx.classified.in_valueset("observations", "alp-total"):
        obs, key, obs_time = entry.resource, entry.key, entry.time
        if key == current or key in ctx.co_resulted:
            continue
        if not entry.active or obs_time is None or obs_time >= ctx.when:
            continue
        if obs_time < ctx.when - timedelta(days=lookback):
            continue
        value = measured_ul(obs, ctx.kb.units)
        age = age_days_at(ctx.record.patient, obs_time)
        interval, _ = choose_interval(
            obs, ctx.enzyme, ctx.kb.intervals.get("alp"), ctx.sex, age, ctx.paediatric
        )
        if value and interval and interval.low is not None and value.value_ul < interval.low:
            lows.append((obs_time, key))
    lows.sort()
    persistent = [k for t, k in lows if t <= ctx.when - persistence]
    facts.set("alp.earlier_lows", len(lows), [k for _, k in lows])
    facts.set("alp.persistent_low", bool(persistent), persistent)
    facts.set("alp.earlier_low_date", lows[0][0].date().isoformat() if lows else None)


def _pregnancy(ctx: _Context, facts: Facts) -> None:
    found = pregnancy.assess(ctx.kb, ctx.classified, ctx.when, ctx.sex)
    keys = [line.split(":")[0] for line in found.evidence]
    facts.set("pregnancy.status", found.status, keys)
    facts.set("pregnancy.trimester", found.trimester, keys)
    facts.set("pregnancy.weeks", found.weeks, keys)
    facts.details["pregnancy"] = found.evidence


FASTING = {"F": "fasting", "NF": "non-fasting", "NG": "unknown"}


def _fasting(ctx: _Context, facts: Facts, alp: Resource) -> None:
    link = alp.get("specimen")
    kind, ident = reference_parts(link) if isinstance(link, Mapping) else (None, None)
    specimen = None
    if ident and isinstance(link, Mapping) and str(link.get("reference", "")).startswith("#"):
        specimen = next(
            (
                c
                for c in as_list(alp.get("contained"))
                if isinstance(c, Mapping) and c.get("id") == ident
            ),
            None,
        )
    elif ident:
        specimen = ctx.record.find(kind or "Specimen", ident)
    status = "unknown"
    evidence = []
    collection = specimen.get("collection") if isinstance(specimen, Mapping) else None
    if isinstance(collection, Mapping):
        for coding in codings(collection.get("fastingStatusCodeableConcept")):
            status = FASTING.get(str(coding.get("code")), status)
        duration = collection.get("fastingStatusDuration")
        amount = finite(duration.get("value")) if isinstance(duration, Mapping) else None
        if amount is not None and isinstance(duration, Mapping):
            unit = str(duration.get("code") or duration.get("unit") or "h")
            hours = amount * {"min": 1 / 60, "h": 1, "d": 24}.get(unit, 1)
            status = "fasting" if hours >= 8 else "non-fasting"
        evidence = [resource_key(specimen)] if specimen else []
    facts.set("specimen.fasting", status, evidence)


def _ggt(ctx: _Context, facts: Facts) -> None:
    window = ctx.kb.param("ggt_lookback_days")
    ggt = ctx.reading(["ggt"], "ggt", window)
    if ggt is None:
        ggt = ctx.reading(["five-nucleotidase"], "five-nucleotidase", window)
    if ggt is None:
        facts.set("ggt.status", "absent")
        return
    facts.set("ggt.value", _fmt(ggt.value) if ggt.value == ggt.value else None, [ggt.key])
    status = ggt.status
    if ggt.high:
        xuln = ggt.value / ggt.high
        facts.set("ggt.xuln", round(xuln, 3), [ggt.key])
        # Rounded so that 0.9 and 1.1 times the limit fall inside a 10% band despite binary floats.
        if round(abs(xuln - 1), 6) <= ctx.kb.param("ggt_borderline_fraction"):
            status = "borderline"
    facts.set("ggt.status", status, [ggt.key])


def _liver_panel(ctx: _Context, facts: Facts) -> None:
    days = ctx.kb.param("liver_panel_window_days")
    alt = ctx.reading(["alt"], "alt", days)
    ast = ctx.reading(["ast"], "ast", days)
    bili = ctx.reading(["bilirubin-total"], "bilirubin-total", days)
    alp_ul = facts.details["alp_ul"]
    pattern = "unknown"
    if alt and alt.high and alt.value == alt.value and alp_ul > 0:
        alt_x = alt.value / alt.high
        facts.set("alt.xuln", round(alt_x, 3), [alt.key])
        r_ratio = alt_x / (alp_ul / facts.details["alp_uln"])
        facts.set("liver.r_ratio", round(r_ratio, 3), [alt.key, facts.details["alp_reference"]])
        if r_ratio <= ctx.kb.param("r_ratio_cholestatic_max"):
            pattern = "cholestatic"
        elif r_ratio >= ctx.kb.param("r_ratio_hepatocellular_min"):
            pattern = "hepatocellular"
        else:
            pattern = "mixed"
    facts.set("liver.pattern", pattern, [alt.key] if alt else [])
    if bili is None:
        facts.set("bilirubin.status", "absent")
    else:
        facts.set("bilirubin.status", bili.status, [bili.key])
        if bili.value == bili.value:
            facts.set("bilirubin.value_mgdl", round(bili.value, 2), [bili.key])
            if bili.value > 0:
                facts.set("wilson.alp_bilirubin_ratio", round(alp_ul / bili.value, 3), [bili.key])
    if alt and ast and alt.value and alt.value == alt.value and ast.value == ast.value:
        facts.set("wilson.ast_alt_ratio", round(ast.value / alt.value, 3), [ast.key, alt.key])


def _electrolytes(ctx: _Context, facts: Facts) -> None:
    for name, valueset in (("potassium", "potassium"), ("calcium", "calcium")):
        found = ctx.reading([valueset], valueset, 0, co_resulted_only=True)
        facts.set(
            f"{name}.status", found.status if found else "absent", [found.key] if found else []
        )


OPEN_ORDER_STATUSES = {"draft", "active", "on-hold"}


def _open_orders(ctx: _Context, facts: Facts) -> None:
    found: dict[str, str] = {}
    for order in ctx.record.orders:
        if order.get("resourceType") != "ServiceRequest":
            continue
        status = as_str(order.get("status"))
        if status not in OPEN_ORDER_STATUSES or order.get("doNotPerform") is True:
            continue
        if ctx.record.patient_id and not _about_patient(order, ctx.record.patient_id):
            continue
        for orderable in ctx.kb.orderables_ordered_by(order.get("code")):
            found.setdefault(orderable, resource_key(order))
    facts.set("orders.open", sorted(found), found.values())
    facts.details["open_orders"] = found


def _recent_results(ctx: _Context, facts: Facts, alp_key: str) -> None:
    found: dict[str, tuple[str, str]] = {}
    for entry in ctx.classified.entries["observations"]:
        obs, key, obs_time = entry.resource, entry.key, entry.time
        # A result without a number (e.g. a narrative isoenzyme report) still counts
        # as done; only a result that never happened or was withdrawn does not.
        if key == alp_key or as_str(obs.get("status")) in UNUSABLE_STATUSES:
            continue
        for orderable_id in ctx.kb.orderables_resulted_by(obs.get("code")):
            lookback = ctx.kb.orderables[orderable_id].lookback_days
            if lookback and _within(obs_time, ctx.when, lookback, ctx.tolerance):
                date = obs_time.date().isoformat() if obs_time else "unknown date"
                found.setdefault(orderable_id, (key, date))
    facts.set("results.recent", sorted(found), [v[0] for v in found.values()])
    facts.details["recent_results"] = found


def _about_patient(resource: Mapping[str, Any], patient_id: str) -> bool:
    subject = resource.get("subject")
    if not isinstance(subject, Mapping) or "reference" not in subject:
        return True
    return reference_parts(subject)[1] == patient_id
