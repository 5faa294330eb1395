"""Compact builders for the FHIR resources and CDS Hooks requests the tests send."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterable, Mapping
from typing import Any

UCUM = "http://unitsofmeasure.org"
LOINC = "http://loinc.org"
RESULT_SIGN_HOOK = "org.alp-cds.lab-result-sign"
PATIENT_ID = "pt-1"
USER = "Practitioner/dr-1"

_ids = itertools.count(1)


def patient(gender: str | None = "female", birth_date: str | None = "1970-01-01") -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": "Patient", "id": PATIENT_ID}
    if gender:
        resource["gender"] = gender
    if birth_date:
        resource["birthDate"] = birth_date
    return resource


def quantity(value: float, unit: str | None = "U/L", code: str | None = "U/L") -> dict[str, Any]:
    out: dict[str, Any] = {"value": value}
    if unit:
        out["unit"] = unit
    if code:
        out["system"] = UCUM
        out["code"] = code
    return out


def observation(
    loinc: str,
    value: float | None,
    *,
    when: str = "2026-11-20T08:00:00Z",
    unit: str | None = "U/L",
    ucum: str | None = "U/L",
    low: float | None = None,
    high: float | None = None,
    status: str = "final",
    ident: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": ident or f"obs-{loinc}-{next(_ids)}",
        "status": status,
        "code": {"coding": [{"system": LOINC, "code": loinc}]},
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "effectiveDateTime": when,
    }
    if value is not None:
        resource["valueQuantity"] = quantity(value, unit, ucum)
    if low is not None or high is not None:
        rr: dict[str, Any] = {}
        if low is not None:
            rr["low"] = quantity(low, unit, ucum)
        if high is not None:
            rr["high"] = quantity(high, unit, ucum)
        resource["referenceRange"] = [rr]
    resource.update(extra)
    return resource


def alp(value: float | None, **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("low", 35)
    kwargs.setdefault("high", 104)
    return observation("6768-6", value, **kwargs)


def ggt(value: float, **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("low", 5)
    kwargs.setdefault("high", 36)
    return observation("2324-2", value, **kwargs)


def service_request(loinc: str, status: str = "active") -> dict[str, Any]:
    return {
        "resourceType": "ServiceRequest",
        "id": f"sr-{loinc}-{next(_ids)}",
        "status": status,
        "intent": "order",
        "code": {"coding": [{"system": LOINC, "code": loinc}]},
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
    }


def searchset(resources: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    entries = [{"resource": dict(r)} for r in resources]
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset"}
    if entries:
        bundle["entry"] = entries
    return bundle


def full_prefetch(
    *,
    pt: Mapping[str, Any] | None = None,
    labs: Iterable[Mapping[str, Any]] = (),
    orders: Iterable[Mapping[str, Any]] = (),
    conditions: Iterable[Mapping[str, Any]] = (),
    medications: Iterable[Mapping[str, Any]] = (),
    procedures: Iterable[Mapping[str, Any]] = (),
    administrations: Iterable[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    return {
        "patient": dict(pt) if pt is not None else patient(),
        "conditions": searchset(conditions),
        "medications": searchset(medications),
        "statements": searchset(()),
        "administrations": searchset(administrations),
        "labs": searchset(labs),
        "orders": searchset(orders),
        "procedures": searchset(procedures),
    }


def sign_request(
    results: Iterable[Mapping[str, Any]],
    prefetch: Mapping[str, Any] | None = None,
    **top: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "hook": RESULT_SIGN_HOOK,
        "hookInstance": f"hi-{next(_ids)}",
        "context": {
            "userId": USER,
            "patientId": PATIENT_ID,
            "results": {
                "resourceType": "Bundle",
                "type": "collection",
                "entry": [{"resource": dict(r)} for r in results],
            },
        },
    }
    if prefetch is not None:
        body["prefetch"] = copy.deepcopy(dict(prefetch))
    body.update(top)
    return body


ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


def condition(
    code: str,
    system: str = ICD10,
    *,
    status: str | None = "active",
    verification: str | None = "confirmed",
    onset: str | None = None,
    recorded: str | None = None,
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Condition",
        "id": f"cond-{next(_ids)}",
        "code": {"coding": [{"system": system, "code": code}]},
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
    }
    if status:
        resource["clinicalStatus"] = {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "code": status,
                }
            ]
        }
    if verification:
        resource["verificationStatus"] = {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                    "code": verification,
                }
            ]
        }
    if onset:
        resource["onsetDateTime"] = onset
    if recorded:
        resource["recordedDate"] = recorded
    return resource


def medication(
    code: str | None = None, *, text: str | None = None, status: str = "active"
) -> dict[str, Any]:
    concept: dict[str, Any] = {}
    if code:
        concept["coding"] = [{"system": RXNORM, "code": code}]
    if text:
        concept["text"] = text
    return {
        "resourceType": "MedicationRequest",
        "id": f"mr-{next(_ids)}",
        "status": status,
        "intent": "order",
        "medicationCodeableConcept": concept,
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
    }


def administration(
    text: str, given: str, *, code: str | None = None, status: str = "completed"
) -> dict[str, Any]:
    """A dose charted as given (MedicationAdministration), by RxNorm code and/or text."""
    concept: dict[str, Any] = {"text": text}
    if code:
        concept["coding"] = [{"system": RXNORM, "code": code}]
    return {
        "resourceType": "MedicationAdministration",
        "id": f"ma-{next(_ids)}",
        "status": status,
        "medicationCodeableConcept": concept,
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "effectiveDateTime": given,
    }


def procedure(
    code: str, performed: str, system: str = SNOMED, status: str = "completed"
) -> dict[str, Any]:
    return {
        "resourceType": "Procedure",
        "id": f"proc-{next(_ids)}",
        "status": status,
        "code": {"coding": [{"system": system, "code": code}]},
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "performedDateTime": performed,
    }


def coded_observation(loinc: str, answer_system: str, answer: str, when: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": f"obs-{loinc}-{next(_ids)}",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": loinc}]},
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "effectiveDateTime": when,
        "valueCodeableConcept": {"coding": [{"system": answer_system, "code": answer}]},
    }


def with_fasting(observation_resource: dict[str, Any], code: str) -> dict[str, Any]:
    """Attach a contained Specimen whose collection has this v2-0916 fasting status."""
    observation_resource["contained"] = [
        {
            "resourceType": "Specimen",
            "id": "spec",
            "collection": {
                "fastingStatusCodeableConcept": {
                    "coding": [
                        {"system": "http://terminology.hl7.org/CodeSystem/v2-0916", "code": code}
                    ]
                }
            },
        }
    ]
    observation_resource["specimen"] = {"reference": "#spec"}
    return observation_resource
