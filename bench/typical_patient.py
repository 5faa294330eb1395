"""A realistic lab-result-sign request for a typical patient (ARCHITECTURE.md section 11):
20 conditions, 10 medications, 40 labs, full prefetch; `scale` multiplies the record.

Deterministic (no randomness), so runs compare.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

PATIENT_ID = "bench-pt"
ALP_TIME = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"

# Common chronic problems that are in no ALP value set (the engine must still scan them).
CONDITIONS = [
    "I10",
    "E78.5",
    "E11.9",
    "J45.909",
    "M54.5",
    "K21.9",
    "F41.1",
    "G47.33",
    "N18.3",
    "E66.9",
    "I48.91",
    "M17.11",
    "H52.4",
    "L40.0",
    "J30.9",
    "R73.03",
    "Z87.891",
    "E55.9",
    "I25.10",
    "K76.0",
]
MEDICATIONS = [
    ("314076", "lisinopril 10 MG Oral Tablet"),
    ("617312", "atorvastatin 40 MG Oral Tablet"),
    ("861007", "metformin 500 MG Oral Tablet"),
    ("745679", "albuterol inhaler"),
    ("197361", "amlodipine 5 MG Oral Tablet"),
    ("198211", "simvastatin 40 MG Oral Tablet"),
    ("313782", "acetaminophen 325 MG Oral Tablet"),
    ("310965", "ibuprofen 200 MG Oral Tablet"),
    ("866924", "metoprolol succinate 25 MG"),
    ("8640", "prednisone"),
]
LABS = [
    ("1742-6", 28, 7, 45),
    ("1920-8", 25, 8, 43),
    ("2951-2", 139, 135, 145),
    ("2823-3", 4.2, 3.6, 5.2),
    ("2160-0", 0.9, 0.6, 1.1),
    ("2345-7", 98, 70, 99),
    ("17861-6", 9.4, 8.6, 10.2),
    ("1975-2", 0.6, 0.1, 1.2),
    ("718-7", 13.5, 11.6, 15.0),
    ("6690-2", 6.2, 3.4, 9.6),
]


def _coded(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    coding: dict[str, Any] = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding]}


def _observation(
    ident: str, loinc: str, value: float, low: float, high: float, when: datetime
) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": ident,
        "status": "final",
        "category": [
            _coded("http://terminology.hl7.org/CodeSystem/observation-category", "laboratory")
        ],
        "code": _coded(LOINC, loinc),
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "effectiveDateTime": when.isoformat().replace("+00:00", "Z"),
        "valueQuantity": {"value": value, "unit": "U/L", "system": UCUM, "code": "U/L"},
        "referenceRange": [{"low": {"value": low}, "high": {"value": high}}],
    }


def _searchset(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [{"resource": r} for r in resources],
    }


def typical_request(scale: int = 1) -> dict[str, Any]:
    conditions = [
        {
            "resourceType": "Condition",
            "id": f"c-{i}",
            "clinicalStatus": _coded(
                "http://terminology.hl7.org/CodeSystem/condition-clinical", "active"
            ),
            "verificationStatus": _coded(
                "http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed"
            ),
            "code": _coded(ICD, CONDITIONS[i % len(CONDITIONS)]),
            "subject": {"reference": f"Patient/{PATIENT_ID}"},
            "onsetDateTime": (ALP_TIME - timedelta(days=30 * (i + 1))).date().isoformat(),
        }
        for i in range(20 * scale)
    ]
    medications = [
        {
            "resourceType": "MedicationRequest",
            "id": f"m-{i}",
            "status": "active",
            "intent": "order",
            "medicationCodeableConcept": _coded(RXNORM, *MEDICATIONS[i % len(MEDICATIONS)]),
            "subject": {"reference": f"Patient/{PATIENT_ID}"},
        }
        for i in range(10 * scale)
    ]
    labs = []
    for i in range(40 * scale):
        loinc, value, low, high = LABS[i % len(LABS)]
        labs.append(
            _observation(
                f"l-{i}", loinc, value, low, high, ALP_TIME - timedelta(days=3 * (i // 10) + 1)
            )
        )
    alp = _observation("alp-bench", "6768-6", 312, 35, 104, ALP_TIME)
    co_resulted = [_observation(f"co-{i}", *LABS[i], ALP_TIME) for i in range(4)]
    return {
        "hook": "org.alp-cds.lab-result-sign",
        "hookInstance": "2f1d4b6e-1111-4c3a-9e6b-000000000001",
        "context": {
            "userId": "Practitioner/bench-dr",
            "patientId": PATIENT_ID,
            "results": {
                "resourceType": "Bundle",
                "type": "collection",
                "entry": [{"resource": r} for r in [alp, *co_resulted]],
            },
        },
        "prefetch": {
            "patient": {
                "resourceType": "Patient",
                "id": PATIENT_ID,
                "gender": "female",
                "birthDate": "1961-04-02",
            },
            "conditions": _searchset(conditions),
            "medications": _searchset(medications),
            "statements": _searchset([]),
            "labs": _searchset(labs),
            "orders": _searchset([]),
            "procedures": _searchset([]),
        },
    }


def resource_count(request: dict[str, Any]) -> int:
    prefetch = request["prefetch"]
    return 1 + sum(
        len(v.get("entry", [])) for v in prefetch.values() if v.get("resourceType") == "Bundle"
    )


if __name__ == "__main__":
    json.dump(typical_request(int(sys.argv[1]) if len(sys.argv) > 1 else 1), sys.stdout)
