"""The patient's data as the clinical layer sees it: plain FHIR dicts, grouped by kind.

Nothing here knows where the data came from (prefetch, fetch, a file); `unavailable` lists the
kinds of data that could not be had, so explanations can say what was missing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cds_service.fhir.values import resource_key

Resource = Mapping[str, Any]


@dataclass(frozen=True)
class PatientRecord:
    patient: Resource | None
    now: datetime
    results: tuple[Resource, ...] = ()
    """Resources being signed (Observations, maybe the DiagnosticReport grouping them)."""
    conditions: tuple[Resource, ...] = ()
    medications: tuple[Resource, ...] = ()
    """MedicationRequest, MedicationStatement and MedicationAdministration resources, plus
    included Medication resources."""
    labs: tuple[Resource, ...] = ()
    orders: tuple[Resource, ...] = ()
    procedures: tuple[Resource, ...] = ()
    user: str | None = None
    encounter: str | None = None
    unavailable: tuple[str, ...] = ()
    missing: frozenset[str] = frozenset()
    """Kinds of data that could not be had (conditions, medications, labs, orders,
    procedures): facts derived from them are "not known", never "none"."""
    _index: dict[str, Resource] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for group in (
            self.results,
            self.conditions,
            self.medications,
            self.labs,
            self.orders,
            self.procedures,
        ):
            for resource in group:
                self._index.setdefault(resource_key(resource), resource)
        if self.patient:
            self._index.setdefault(resource_key(self.patient), self.patient)

    @property
    def patient_id(self) -> str | None:
        if not self.patient:
            return None
        value = self.patient.get("id")
        return value if isinstance(value, str) else None

    def find(self, kind: str | None, ident: str | None) -> Resource | None:
        if ident is None:
            return None
        if kind:
            return self._index.get(f"{kind}/{ident}")
        return next((r for k, r in self._index.items() if k.endswith(f"/{ident}")), None)

    def observations(self) -> Iterable[Resource]:
        """Every Observation, co-resulted first, each once."""
        seen: set[str] = set()
        for resource in (*self.results, *self.labs):
            if resource.get("resourceType") != "Observation":
                continue
            key = resource_key(resource)
            if key in seen:
                continue
            seen.add(key)
            yield resource
