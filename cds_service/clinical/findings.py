"""Match the record's conditions, medications and procedures to the knowledge base's findings.

A finding (findings.yaml) names value sets to look for in one kind of record entry, optionally
within a time window before the ALP. Conditions count while clinically active and not refuted
(resolved ones too where the finding says so, e.g. a recent fracture). Medications match by
RxNorm ingredient or product code, then, failing a code, by ingredient name in the text; the
evidence says which, so a reviewer can see a name-based match.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from cds_service.clinical.record import PatientRecord, Resource
from cds_service.fhir.values import codings, parse_datetime, reference_parts, resource_key
from cds_service.knowledge.model import Finding, FindingSource, KnowledgeBase, ValueSet

INACTIVE = {"inactive", "remission", "resolved"}
NOT_TRUE = {"refuted", "entered-in-error"}
ACTIVE_MEDICATION = {"active", "on-hold", "intended"}
DONE_PROCEDURE = {"completed", "in-progress"}


def status_code(concept: Any) -> str | None:
    for coding in codings(concept):
        code = coding.get("code")
        if isinstance(code, str):
            return code
    return None


def condition_time(condition: Resource) -> datetime | None:
    period = condition.get("onsetPeriod")
    for value in (
        condition.get("onsetDateTime"),
        period.get("start") if isinstance(period, Mapping) else None,
        condition.get("recordedDate"),
    ):
        parsed = parse_datetime(value)
        if parsed:
            return parsed
    return None


def _procedure_time(procedure: Resource) -> datetime | None:
    period = procedure.get("performedPeriod")
    for value in (
        procedure.get("performedDateTime"),
        period.get("start") if isinstance(period, Mapping) else None,
        period.get("end") if isinstance(period, Mapping) else None,
    ):
        parsed = parse_datetime(value)
        if parsed:
            return parsed
    return None


def _in_window(
    when: datetime | None, anchor: datetime, days: float | None, tolerance_hours: float
) -> bool:
    if days is None:
        return True
    if when is None:
        return False
    return anchor - timedelta(days=days) <= when <= anchor + timedelta(hours=tolerance_hours)


def medication_concept(record: PatientRecord, medication: Resource) -> Any:
    """The medication's CodeableConcept, resolving medicationReference through contained or
    included Medication resources; a bare reference's display stands in as text."""
    concept = medication.get("medicationCodeableConcept")
    if concept:
        return concept
    reference = medication.get("medicationReference")
    if not isinstance(reference, Mapping):
        return None
    kind, ident = reference_parts(reference)
    if ident is not None and str(reference.get("reference", "")).startswith("#"):
        for contained in medication.get("contained") or ():
            if isinstance(contained, Mapping) and contained.get("id") == ident:
                return contained.get("code")
    found = record.find(kind or "Medication", ident)
    if found is not None and found.get("resourceType") == "Medication":
        return found.get("code")
    display = reference.get("display")
    return {"text": display} if isinstance(display, str) else None


def _match(valueset: ValueSet, concept: Any) -> str | None:
    """Evidence text for a match, or None."""
    code = valueset.match(concept)
    if code is not None:
        return f"{code.code} {code.display}"
    name = valueset.match_name(concept)
    if name is not None:
        text = next(
            (
                str(t)
                for t in [concept.get("text"), *(c.get("display") for c in codings(concept))]
                if t
            ),
            name,
        )
        return f"name match: '{name}' in \"{text}\" (no code matched)"
    return None


def _entries(
    kb: KnowledgeBase, record: PatientRecord, source: FindingSource, when: datetime
) -> Iterable[tuple[Resource, str]]:
    valueset = kb.valuesets[source.valueset]
    days = kb.param(source.within_days) if source.within_days else None
    tolerance = kb.param("result_time_tolerance_hours")
    if source.kind == "conditions":
        for condition in record.conditions:
            if condition.get("resourceType") != "Condition":
                continue
            if status_code(condition.get("verificationStatus")) in NOT_TRUE:
                continue
            clinical = status_code(condition.get("clinicalStatus"))
            if clinical in INACTIVE and not source.include_inactive:
                continue
            if not _in_window(condition_time(condition), when, days, tolerance):
                continue
            evidence = _match(valueset, condition.get("code"))
            if evidence:
                yield condition, evidence
    elif source.kind == "procedures":
        for procedure in record.procedures:
            if procedure.get("resourceType") != "Procedure":
                continue
            if procedure.get("status") not in DONE_PROCEDURE:
                continue
            if not _in_window(_procedure_time(procedure), when, days, tolerance):
                continue
            evidence = _match(valueset, procedure.get("code"))
            if evidence:
                yield procedure, evidence
    else:
        for medication in record.medications:
            if medication.get("resourceType") not in {"MedicationRequest", "MedicationStatement"}:
                continue
            if medication.get("status") not in ACTIVE_MEDICATION:
                continue
            evidence = _match(valueset, medication_concept(record, medication))
            if evidence:
                yield medication, evidence


def match_findings(
    kb: KnowledgeBase, record: PatientRecord, when: datetime
) -> dict[str, list[str]]:
    """Finding id -> evidence lines (`Type/id: code display`), for findings present."""
    present: dict[str, list[str]] = {}
    for finding in kb.findings.values():
        lines = _evidence(kb, record, finding, when)
        if lines:
            present[finding.id] = lines
    return present


def _evidence(
    kb: KnowledgeBase, record: PatientRecord, finding: Finding, when: datetime
) -> list[str]:
    lines: list[str] = []
    for source in finding.sources:
        for resource, evidence in _entries(kb, record, source, when):
            line = f"{resource_key(resource)}: {evidence}"
            if line not in lines:
                lines.append(line)
    return lines
