"""Suggested orders as FHIR R4 ServiceRequest proposals (ARCHITECTURE.md section 5)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cds_service.hooks.response import Coding
from cds_service.knowledge.model import Orderable

# US Core's ServiceRequest category for laboratory orders.
LAB_CATEGORY = {
    "coding": [
        {"system": "http://snomed.info/sct", "code": "108252007", "display": "Laboratory procedure"}
    ]
}


def service_request(
    orderable: Orderable,
    *,
    patient_id: str,
    reason: str,
    requester: str | None,
    encounter_id: str | None,
    local_codes: Sequence[Coding] = (),
    occurrence: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """A draft proposal: the EHR turns it into a real order only if the clinician accepts it."""
    coding = [{"system": orderable.system, "code": orderable.code, "display": orderable.display}]
    coding += [c.to_json() for c in local_codes]
    resource: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "status": "draft",
        "intent": "proposal",
        "category": [LAB_CATEGORY],
        "code": {
            "coding": [{k: v for k, v in c.items() if v} for c in coding],
            "text": orderable.label,
        },
        "subject": {"reference": f"Patient/{patient_id}"},
        "reasonReference": [{"reference": reason}],
    }
    if encounter_id:
        resource["encounter"] = {"reference": f"Encounter/{encounter_id}"}
    if requester:
        resource["requester"] = {"reference": requester}
    if occurrence:
        # A test for later (a repeat in 8-12 weeks): the EHR schedules it in this period.
        resource["occurrencePeriod"] = {"start": occurrence[0], "end": occurrence[1]}
    return resource
