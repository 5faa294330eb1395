"""Hook definitions: each hook's context fields, which of them are prefetch tokens, and a schema.

`patient-view` is from the HL7 CDS Hooks Library (v1.0). No standard hook fires when a result is
signed, so `lab-result-sign` is defined here (docs/hooks/lab-result-sign.md) under a reverse-domain
id that deployers can change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

FHIR_ID = "^[A-Za-z0-9\\-.]{1,64}$(?!\\n)"
USER_REFERENCE = (
    "^(Practitioner|PractitionerRole|Patient|RelatedPerson)/[A-Za-z0-9\\-.]{1,64}$(?!\\n)"
)


@dataclass(frozen=True)
class HookDefinition:
    id: str
    context_schema: Mapping[str, Any]
    prefetch_tokens: frozenset[str]
    """Top-level context fields marked 'Prefetch Token: Yes'."""


def _context(required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "required": required,
        "properties": properties,
    }


_USER_PATIENT_ENCOUNTER = {
    "userId": {"type": "string", "pattern": USER_REFERENCE},
    "patientId": {"type": "string", "pattern": FHIR_ID},
    "encounterId": {"type": "string", "pattern": FHIR_ID},
}

PATIENT_VIEW = HookDefinition(
    id="patient-view",
    context_schema=_context(["userId", "patientId"], dict(_USER_PATIENT_ENCOUNTER)),
    prefetch_tokens=frozenset({"userId", "patientId", "encounterId"}),
)


def lab_result_sign(hook_id: str) -> HookDefinition:
    """The result-signing hook under the configured id; the context is the same whatever the id."""
    results = {
        "description": "FHIR Bundle (type collection) of the Observations being signed, "
        "optionally with the DiagnosticReport that groups them.",
        "type": "object",
        "required": ["resourceType", "type", "entry"],
        "properties": {
            "resourceType": {"const": "Bundle"},
            "type": {"const": "collection"},
            "entry": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["resource"],
                    "properties": {
                        "resource": {
                            "type": "object",
                            "required": ["resourceType"],
                            "properties": {"resourceType": {"type": "string"}},
                        }
                    },
                },
            },
        },
    }
    return HookDefinition(
        id=hook_id,
        context_schema=_context(
            ["userId", "patientId", "results"], {**_USER_PATIENT_ENCOUNTER, "results": results}
        ),
        prefetch_tokens=frozenset({"userId", "patientId", "encounterId"}),
    )
