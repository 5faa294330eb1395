"""One pass over the record: each entry's value sets, time and status, computed once.

Every fact and finding asks "which entries are in value set X", often for several ALPs; answering
from an index built once per request keeps evaluation linear in the size of the record (a
5,000-resource record is evaluated in one pass, not once per value set).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cds_service.clinical.labs import effective_time, numeric_value, unusable_reason
from cds_service.clinical.record import PatientRecord, Resource
from cds_service.fhir.values import (
    as_list,
    as_str,
    codings,
    concept_text,
    parse_datetime,
    reference_parts,
    resource_key,
)
from cds_service.knowledge.model import KnowledgeBase

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


def _first_time(*values: Any) -> datetime | None:
    for value in values:
        parsed = parse_datetime(value)
        if parsed:
            return parsed
    return None


def condition_time(condition: Resource) -> datetime | None:
    """Onset, else the date it was recorded."""
    period = condition.get("onsetPeriod")
    start = period.get("start") if isinstance(period, Mapping) else None
    return _first_time(condition.get("onsetDateTime"), start, condition.get("recordedDate"))


def procedure_time(procedure: Resource) -> datetime | None:
    period = procedure.get("performedPeriod")
    bounds = (period.get("start"), period.get("end")) if isinstance(period, Mapping) else ()
    return _first_time(procedure.get("performedDateTime"), *bounds)


@dataclass(frozen=True)
class Entry:
    resource: Resource
    key: str
    matches: Mapping[str, str]
    """Value set id -> evidence ("K74.3 Primary biliary cirrhosis", or a name match)."""
    time: datetime | None
    active: bool
    """Conditions: clinically active; medications: active; procedures: done; observations:
    usable."""
    countable: bool = True
    """Conditions: not refuted or entered in error."""


@dataclass
class Classified:
    entries: dict[str, list[Entry]] = field(default_factory=dict)
    """conditions, medications, procedures, observations -> entries, in record order."""
    index: dict[tuple[str, str], list[Entry]] = field(default_factory=dict)
    """(kind, value set id) -> entries in it."""
    co_resulted: frozenset[str] = frozenset()

    def in_valueset(self, kind: str, valueset: str) -> list[Entry]:
        return self.index.get((kind, valueset), [])

    def observations_in(self, valuesets: Iterable[str]) -> list[Entry]:
        seen: dict[str, Entry] = {}
        for valueset in valuesets:
            for entry in self.in_valueset("observations", valueset):
                seen.setdefault(entry.key, entry)
        return list(seen.values())


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
        for contained in as_list(medication.get("contained")):
            if isinstance(contained, Mapping) and contained.get("id") == ident:
                return contained.get("code")
    found = record.find(kind or "Medication", ident)
    if found is not None and found.get("resourceType") == "Medication":
        return found.get("code")
    display = reference.get("display")
    return {"text": display} if isinstance(display, str) else None


def _matches(kb: KnowledgeBase, concept: Any, by_name: bool) -> dict[str, str]:
    found = {vs: f"{code.code} {code.display}" for vs, code in kb.classify(concept).items()}
    if by_name:
        text = concept_text(concept).lower()
        for valueset in kb.valuesets.values():
            if valueset.names and valueset.id not in found:
                name = valueset.match_name_in(text)
                if name is not None:
                    found[valueset.id] = (
                        f"name match: '{name}' in \"{_text(concept)}\" (no code matched)"
                    )
    return found


def _text(concept: Any) -> str:
    if not isinstance(concept, Mapping):
        return ""
    texts = [concept.get("text"), *(c.get("display") for c in codings(concept))]
    return next((str(t) for t in texts if t), "")


def classify(kb: KnowledgeBase, record: PatientRecord) -> Classified:
    result = Classified(co_resulted=frozenset(resource_key(r) for r in record.results))
    entries: dict[str, list[Entry]] = {
        k: [] for k in ("conditions", "medications", "procedures", "observations")
    }
    for condition in record.conditions:
        if condition.get("resourceType") != "Condition":
            continue
        entries["conditions"].append(
            Entry(
                condition,
                resource_key(condition),
                _matches(kb, condition.get("code"), by_name=False),
                condition_time(condition),
                active=status_code(condition.get("clinicalStatus")) not in INACTIVE,
                countable=status_code(condition.get("verificationStatus")) not in NOT_TRUE,
            )
        )
    for medication in record.medications:
        if medication.get("resourceType") not in {"MedicationRequest", "MedicationStatement"}:
            continue
        entries["medications"].append(
            Entry(
                medication,
                resource_key(medication),
                _matches(kb, medication_concept(record, medication), by_name=True),
                None,
                active=as_str(medication.get("status")) in ACTIVE_MEDICATION,
            )
        )
    for procedure in record.procedures:
        if procedure.get("resourceType") != "Procedure":
            continue
        entries["procedures"].append(
            Entry(
                procedure,
                resource_key(procedure),
                _matches(kb, procedure.get("code"), by_name=False),
                procedure_time(procedure),
                active=as_str(procedure.get("status")) in DONE_PROCEDURE,
            )
        )
    for observation in record.observations():
        entries["observations"].append(
            Entry(
                observation,
                resource_key(observation),
                _matches(kb, observation.get("code"), by_name=False),
                effective_time(observation),
                active=unusable_reason(observation) is None,
            )
        )
    result.entries = entries
    for kind, found in entries.items():
        for entry in found:
            for valueset in entry.matches:
                result.index.setdefault((kind, valueset), []).append(entry)
    return result


def value_of(entry: Entry) -> float | None:
    return numeric_value(entry.resource)
