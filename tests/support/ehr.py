"""Requests and feedback in the shapes real CDS clients send (docs/ehr/), and an app whose audit
store is the feedback sink, so feedback lands where reports and the CLI read it.

- Epic: patient-view with the top-level `com.epic.cdshooks.request.*` extension (the advisory's
  triggering action), context `patientId`/`userId`/`encounterId` only, searchsets that carry an
  OperationOutcome entry with `search.mode` `outcome`, feedback with `overrideReasons`.
- Oracle Health: patient-view as CDS Hooks 1.0 sends it (no prefetch: registration has none;
  fhirAuthorization without `patient`).
- CDS Hooks sandbox: exactly the fields its `callServices` builds, prefetch as its
  `POST {fhir}/{Type}/_search` answers (searchset entries with fullUrl and search.mode match),
  failed keys left out; feedback as its card list posts it.
"""

from __future__ import annotations

import copy
import functools
import json
import time
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from cds_service.alp_services import AlpServices
from cds_service.app import (
    build_audit_store,
    create_app,
    load_knowledge_base,
    local_order_codes,
    public_url,
)
from cds_service.audit.store import AuditStore
from cds_service.knowledge.model import KnowledgeBase
from cds_service.settings import DEFAULT_KB_DIR, Settings
from tests.conftest import NOW, CheckedClient
from tests.support.fhir import PATIENT_ID, full_prefetch

EPIC_FHIR = "https://fhir.hospital.example.org/api/FHIR/R4"
EPIC_USER = "Practitioner/eM5CWtq15N0WJeuCet5bJlQ3"
EPIC_ENCOUNTER = "eGmO0h.1.UTJ4ZnKdNl1aoA3"
ORACLE_USER = "Practitioner/12742069"
SANDBOX_USER = "Practitioner/COREPRACTITIONER1"
SANDBOX_FHIR = "https://launch.smarthealthit.org/v/r4/fhir"
PREFERENCE_LIST = "urn:com.epic.cdshooks.action.code.system.preference-list-item"


def epic_extension(action: str | None = "5") -> dict[str, Any]:
    extension = {
        "com.epic.cdshooks.request.cds-hooks-specification-version": "1.1",
        "com.epic.cdshooks.request.fhir-version": "R4",
        "com.epic.cdshooks.request.criteria-id": "8883611",
        "com.epic.cdshooks.request.epic-version": "10.9",
        "com.epic.cdshooks.request.cds-hooks-implementation-version": "1.8",
        "com.epic.cdshooks.request.cds-hooks-su-version": "0",
    }
    if action is not None:
        extension["com.epic.cdshooks.request.bpa-trigger-action"] = action
    return extension


def epic_outcome(
    code: str, text: str, severity: str = "warning", diagnostics: bool = True
) -> dict[str, Any]:
    """A searchset entry as Epic adds them: an OperationOutcome with search.mode outcome,
    worded in details.text (and sometimes diagnostics)."""
    entry: dict[str, Any] = {
        "fullUrl": f"urn:uuid:{uuid.uuid4()}",
        "resource": {
            "resourceType": "OperationOutcome",
            "issue": [
                {
                    "severity": severity,
                    "code": "processing",
                    "details": {
                        "coding": [
                            {
                                "system": "urn:oid:1.2.840.114350.1.13.0.1.7.2.657369",
                                "code": code,
                                "display": text,
                            }
                        ],
                        "text": text,
                    },
                }
            ],
        },
        "search": {"mode": "outcome"},
    }
    if diagnostics:
        entry["resource"]["issue"][0]["diagnostics"] = text
    return entry


def epic_searchset(
    resources: Iterable[Mapping[str, Any]], *outcomes: dict[str, Any]
) -> dict[str, Any]:
    entries: list[dict[str, Any]] = [
        {
            "fullUrl": f"{EPIC_FHIR}/{r['resourceType']}/{r['id']}",
            "resource": dict(r),
            "search": {"mode": "match"},
        }
        for r in resources
    ]
    entries += outcomes
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(entries) - len(outcomes),
        "link": [{"relation": "self", "url": f"{EPIC_FHIR}/Observation?patient={PATIENT_ID}"}],
    }
    if entries:
        bundle["entry"] = entries
    return bundle


def epic_patient_view(
    labs: Iterable[Mapping[str, Any]],
    action: str | None = "5",
    orders: Iterable[Mapping[str, Any]] = (),
    hook_instance: str | None = None,
) -> dict[str, Any]:
    """What Epic sends when an advisory (OPA) on a new ALP result calls the service."""
    prefetch = full_prefetch()
    prefetch["labs"] = epic_searchset(
        labs,
        epic_outcome(
            "4119",
            "This response includes information available to the authorized user at the time "
            "of the request. It may not contain the entire record available in the system.",
        ),
    )
    prefetch["conditions"] = epic_searchset(
        (),
        epic_outcome(
            "4101", "Resource request returns no results.", "information", diagnostics=False
        ),
    )
    prefetch["orders"] = epic_searchset(orders)
    body: dict[str, Any] = {
        "hook": "patient-view",
        "hookInstance": hook_instance or str(uuid.uuid4()),
        "fhirServer": EPIC_FHIR,
        "fhirAuthorization": {
            "access_token": "epic-access-token-not-a-real-one",
            "token_type": "Bearer",
            "expires_in": 3600,
            "scope": "Patient.Read Observation.Read Condition.Read MedicationRequest.Read",
            "subject": "d45049c3-3441-40ef-ab4d-b9cd86a17225",
        },
        "context": {"patientId": PATIENT_ID, "userId": EPIC_USER, "encounterId": EPIC_ENCOUNTER},
        "prefetch": prefetch,
    }
    extension = epic_extension(action)
    if action is not None:
        body["extension"] = extension
    return body


def sandbox_searchset(fhir: str, resources: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """A FHIR server's answer to the sandbox's POST {Type}/_search."""
    entries = [
        {
            "fullUrl": f"{fhir}/{r['resourceType']}/{r['id']}",
            "resource": dict(r),
            "search": {"mode": "match"},
        }
        for r in resources
    ]
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": "2026-11-21T11:59:00Z"},
        "type": "searchset",
        "total": len(entries),
        "link": [{"relation": "self", "url": f"{fhir}/Observation/_search"}],
    }
    if entries:
        bundle["entry"] = entries
    return bundle


def sandbox_patient_view(
    fhir: str,
    prefetch: Mapping[str, Any],
    drop: Iterable[str] = (),
) -> dict[str, Any]:
    """The sandbox's request: hookInstance, hook, fhirServer, context {patientId, userId}, and
    prefetch with every key its FHIR server answered (failed keys are simply missing)."""
    sent = {
        key: (
            sandbox_searchset(fhir, [e["resource"] for e in value.get("entry") or ()])
            if isinstance(value, Mapping) and value.get("resourceType") == "Bundle"
            else copy.deepcopy(value)
        )
        for key, value in prefetch.items()
        if key not in set(drop)
    }
    return {
        "hookInstance": str(uuid.uuid4()),
        "hook": "patient-view",
        "fhirServer": fhir,
        "context": {"patientId": PATIENT_ID, "userId": SANDBOX_USER},
        "prefetch": sent,
    }


def sandbox_accept(card: Mapping[str, Any], timestamp: str) -> dict[str, Any]:
    """The sandbox's feedback when a suggestion is clicked (card-list.jsx takeSuggestion)."""
    return {
        "feedback": [
            {
                "card": card["uuid"],
                "outcome": "accepted",
                "acceptedSuggestions": [{"id": card["suggestions"][0]["uuid"]}],
                "outcomeTimestamp": timestamp,
            }
        ]
    }


def sandbox_dismiss(card: Mapping[str, Any], timestamp: str, with_reason: bool) -> dict[str, Any]:
    """The sandbox's feedback on Dismiss: a reason's code and system (never its display), or
    no overrideReason at all when dismissed without choosing one."""
    item: dict[str, Any] = {
        "card": card["uuid"],
        "outcome": "overridden",
        "outcomeTimestamp": timestamp,
    }
    if with_reason:
        reason = card["overrideReasons"][0]
        item["overrideReason"] = {"reason": {"code": reason["code"], "system": reason["system"]}}
    return {"feedback": [item]}


def epic_override(
    card: Mapping[str, Any], timestamp: str, reasons: list[tuple[Mapping[str, Any], str | None]]
) -> dict[str, Any]:
    """Epic's feedback when a card is overridden: `overrideReasons`, each reason and comment."""
    listed = []
    for coding, comment in reasons:
        entry: dict[str, Any] = {"reason": dict(coding)}
        if comment is not None:
            entry["userComment"] = comment
        listed.append(entry)
    return {
        "feedback": [
            {
                "card": card["uuid"],
                "outcome": "overridden",
                "overrideReasons": listed,
                "outcomeTimestamp": timestamp,
            }
        ]
    }


@functools.cache
def shipped_knowledge_base() -> KnowledgeBase:
    """cards/ read once for all the apps these tests build (about a second each time; the
    knowledge base is immutable). A test pointing at its own copy still gets that copy."""
    return load_knowledge_base(Settings.from_env({}, dev_mode=True))


def audited_app(data_dir: Path, **overrides: Any) -> tuple[Flask, AuditStore]:
    """An app (development mode unless overridden) whose own SQLite audit store in `data_dir`
    takes the feedback, as in production; the CLI finds it with ALP_CDS_DATA_DIR=data_dir."""
    # One worker: an in-process app is one process (and with trust, more would need Redis).
    settings = Settings.from_env(
        {}, **{"dev_mode": True, "workers": 1, "data_dir": data_dir, **overrides}
    )
    kb = (
        shipped_knowledge_base()
        if settings.kb_dir == DEFAULT_KB_DIR
        else load_knowledge_base(settings)
    )
    store = build_audit_store(settings, kb)
    services = AlpServices(
        kb,
        public_url(settings).current,
        settings.result_sign_hook,
        local_order_codes(settings, kb),
        clock=lambda: NOW,
        chart_open_days=settings.epic_chart_open_days,
    )
    app = create_app(settings, services=services, audit=store)
    app.test_client_class = CheckedClient
    return app, store


def public_jwk(key: Any, kid: str, alg: str) -> dict[str, Any]:
    """The public half of a generated key as a JWK, for a pinned trust-file entry."""
    algorithm = ECAlgorithm if isinstance(key, ec.EllipticCurvePrivateKey) else RSAAlgorithm
    data: dict[str, Any] = json.loads(algorithm.to_jwk(key.public_key()))
    data.update(kid=kid, alg=alg, use="sig")
    return data


def bearer(
    key: Any, alg: str, iss: str, aud: Any, kid: str, life: int = 300, **header: Any
) -> dict[str, str]:
    """An Authorization header as a CDS client signs it: iss, aud (the URL called), iat, exp,
    jti; `header` adds e.g. jku."""
    now = int(time.time())
    claims = {"iss": iss, "aud": aud, "iat": now, "exp": now + life, "jti": str(uuid.uuid4())}
    token = jwt.encode(claims, key, algorithm=alg, headers={"kid": kid, "typ": "JWT", **header})
    return {"Authorization": f"Bearer {token}"}


def trust_file(folder: Path, *issuers: dict[str, Any]) -> Path:
    path = folder / f"trust-{uuid.uuid4().hex[:8]}.json"
    path.write_text(json.dumps({"issuers": list(issuers)}), "utf-8")
    return path
