"""One call is about one patient: data about another is never this call's data.

A misconfigured prefetch template (a search without `patient=`), an aggregated FHIR endpoint or
an interface engine that batches results can put another patient's resources into a call. Read
as this patient's, they make wrong-patient cards: another patient's ALP answered, another
patient's GGT deciding the source, another patient's open order silencing a card. So:

- a resource in the call's context (`context.results`, `context.draftOrders`) that names another
  patient makes the request invalid (400): the EHR is asking about two patients at once;
- a resource in prefetched or fetched data that names another patient is left out of the data,
  and the key's problems say how many were (the audit trail and the console show it).

"Names another patient": its `subject` or `patient` reference is a Patient with another id, or
is not a Patient at all (a Group, a Device: not this patient's own record). A resource with no
such reference, or one that cannot be read as `Type/id` (a contained or `urn:uuid:` reference),
is kept: a patient-scoped query returned it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from cds_service.fhir.values import reference_parts

PATIENT_FIELDS = ("subject", "patient")
SHOWN = 3
"""How many left-out resources a problem names."""


def names_another_patient(resource: Mapping[str, Any], patient_id: str) -> bool:
    own = f"Patient/{patient_id}"
    for name in PATIENT_FIELDS:
        reference = resource.get(name)
        if not isinstance(reference, dict):
            continue
        # Nearly every resource says "Patient/<id>" exactly: settled without splitting it.
        if reference.get("reference") == own:
            continue
        kind, ident = reference_parts(reference)
        if kind is None or ident is None:
            continue
        if kind != "Patient" or ident != patient_id:
            return True
    return False


def context_resources(context: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(JSON path, resource) of each FHIR resource in the context: values that are resources,
    and the entries of values that are Bundles."""
    for name, value in context.items():
        if not isinstance(value, dict) or not isinstance(value.get("resourceType"), str):
            continue
        if value["resourceType"] != "Bundle":
            yield f"$.context.{name}", value
            continue
        for index, entry in enumerate(value.get("entry") or ()):
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if isinstance(resource, dict):
                yield f"$.context.{name}.entry[{index}].resource", resource


def foreign_in_context(context: Mapping[str, Any], patient_id: str) -> list[str]:
    """JSON paths of the context's resources about another patient."""
    return [
        path
        for path, resource in context_resources(context)
        if names_another_patient(resource, patient_id)
    ]


def left_out(resources: list[dict[str, Any]], patient_id: str) -> tuple[list[dict[str, Any]], str]:
    """The resources about this patient, and a problem naming those left out ("" if none)."""
    kept: list[dict[str, Any]] = []
    foreign: list[dict[str, Any]] = []
    for resource in resources:
        (foreign if names_another_patient(resource, patient_id) else kept).append(resource)
    if not foreign:
        return resources, ""
    shown = ", ".join(f"{r.get('resourceType', '?')}/{r.get('id', '?')}" for r in foreign[:SHOWN])
    more = f" and {len(foreign) - SHOWN} more" if len(foreign) > SHOWN else ""
    return kept, f"{len(foreign)} about another patient left out ({shown}{more})"
