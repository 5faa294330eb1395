"""Warm a worker before it takes traffic, so the first real request costs what the tenth does.

Runs one synthetic call per service through the request pipeline (hooks/pipeline.py: parse,
schema validation, prefetch resolution, facts, rules, cards, the trace), and rehearses its audit
insert on the store's first connection. Nothing is audited or returned.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import Flask

from cds_service import strict_json
from cds_service.hooks.blueprint import EXTENSION_KEY, HookRuntime
from cds_service.hooks.invocation import Invocation

log = logging.getLogger(__name__)


def _observation(ident: str, loinc: str, value: float) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": ident,
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": loinc}]},
        "subject": {"reference": "Patient/warm-up"},
        "effectiveDateTime": "2026-01-01T08:00:00Z",
        "valueQuantity": {
            "value": value,
            "unit": "U/L",
            "system": "http://unitsofmeasure.org",
            "code": "U/L",
        },
        "referenceRange": [{"low": {"value": 35}, "high": {"value": 104}}],
    }


def warm_up(app: Flask) -> float:
    """Returns the seconds it took."""
    started = time.perf_counter()
    runtime: HookRuntime = app.extensions[EXTENSION_KEY]
    empty = {"resourceType": "Bundle", "type": "searchset"}
    for service in runtime.registry:
        context: dict[str, Any] = {"userId": "Practitioner/warm-up", "patientId": "warm-up"}
        if "results" in service.hook.context_schema.get("required", []):
            context["results"] = {
                "resourceType": "Bundle",
                "type": "collection",
                "entry": [{"resource": _observation("warm-alp", "6768-6", 312)}],
            }
        body = {
            "hook": service.hook.id,
            "hookInstance": "warm-up",
            "context": context,
            "prefetch": {
                **{t.key: empty for t in service.prefetch},
                "patient": {
                    "resourceType": "Patient",
                    "id": "warm-up",
                    "gender": "female",
                    "birthDate": "1960-01-01",
                },
                "labs": {
                    "resourceType": "Bundle",
                    "type": "searchset",
                    "entry": [{"resource": _observation("warm-ggt", "2324-2", 20)}],
                },
            },
        }
        invocation = Invocation(endpoint="service", service_id=service.id)
        # Every key is prefetched, so nothing is fetched from anywhere.
        runtime.pipeline.run(service, strict_json.dumps(body), invocation)
        invocation.finish(200)
        state = app.extensions.get("alp_cds")
        if state is not None:
            state.audit.rehearse(invocation)
    app.test_client().get("/healthz")  # Flask's own first-request work
    seconds = time.perf_counter() - started
    log.info("worker warmed up in %.1f ms", seconds * 1000)
    return seconds
