"""`alp-cds evaluate FILE`: run the rules on a request or a FHIR Bundle, offline, and explain.

A request file is handled exactly as the service would handle it, except that nothing is
fetched: keys missing from its prefetch are reported as unavailable. A Bundle file is read as the
patient's record; its most recent total ALP is evaluated, with the Observations dated with it as
co-resulted. The output is the cards and the decision trace: each fact with the resources it came
from, and for every rule whether it fired or why not.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from cds_service.alp_services import RESULT_SIGN_ID, AlpServices
from cds_service.clinical import engine
from cds_service.clinical.labs import effective_time
from cds_service.fhir.values import as_list
from cds_service.hooks import prefetch
from cds_service.hooks.blueprint import parse_hook_request
from cds_service.hooks.errors import CdsError
from cds_service.hooks.prefetch import KeyResult, ResolvedData
from cds_service.hooks.request import HookRequest
from cds_service.hooks.response import CdsResponse

BUNDLE_KEYS = {
    "Patient": "patient",
    "Condition": "conditions",
    "MedicationRequest": "medications",
    "Medication": "medications",
    "MedicationStatement": "statements",
    "Observation": "labs",
    "ServiceRequest": "orders",
    "Procedure": "procedures",
}


class EvaluateError(ValueError):
    """The file cannot be evaluated; the message says why."""


def evaluate_document(services: AlpServices, document: Any) -> CdsResponse:
    if not isinstance(document, Mapping):
        raise EvaluateError("the file must hold a JSON object")
    if document.get("resourceType") == "Bundle":
        return _evaluate_bundle(services, document)
    if "hook" in document:
        return _evaluate_request(services, document)
    raise EvaluateError("expected a CDS Hooks request (with 'hook') or a FHIR Bundle")


def _evaluate_request(services: AlpServices, body: Mapping[str, Any]) -> CdsResponse:
    declarations = {d.hook.id: d for d in services.declarations()}
    service = declarations.get(str(body.get("hook")))
    if service is None:
        raise EvaluateError(f"no service for hook {body.get('hook')!r}")
    try:
        request = parse_hook_request(service, body)
        with ThreadPoolExecutor(1) as pool:
            data = prefetch.resolve(service, request, lambda _: "evaluate runs offline", pool, 1.0)
        prefetch.require(service, data)
    except CdsError as exc:
        raise EvaluateError(str(exc)) from None
    return service.handler(request, data)


def _evaluate_bundle(services: AlpServices, bundle: Mapping[str, Any]) -> CdsResponse:
    resources = [
        e["resource"]
        for e in as_list(bundle.get("entry"))
        if isinstance(e, Mapping) and isinstance(e.get("resource"), dict)
    ]
    grouped: dict[str, list[dict[str, Any]]] = {key: [] for key in set(BUNDLE_KEYS.values())}
    for resource in resources:
        key = BUNDLE_KEYS.get(str(resource.get("resourceType")))
        if key:
            grouped[key].append(resource)
    if len(grouped["patient"]) != 1:
        raise EvaluateError("the Bundle must hold exactly one Patient")
    alps = [(effective_time(o), o) for o in engine.alp_results(services.kb, grouped["labs"])]
    dated = [(t, o) for t, o in alps if t is not None]
    if not dated:
        raise EvaluateError("the Bundle holds no dated total-ALP Observation")
    when, latest = max(dated, key=lambda pair: pair[0])
    tolerance = timedelta(hours=services.kb.param("result_time_tolerance_hours"))
    drawn_together = [
        o
        for o in grouped["labs"]
        if (t := effective_time(o)) is not None and abs(t - when) <= tolerance
    ]
    patient = grouped["patient"][0]
    data = ResolvedData(
        {
            key: KeyResult(key, source="file", ok=True, resources=list(found))
            for key, found in grouped.items()
        }
    )
    request = HookRequest(
        service_id=RESULT_SIGN_ID,
        hook=services.result_sign_hook,
        hook_instance=f"evaluate-{uuid.uuid4()}",
        context={
            "userId": "Practitioner/reviewer",
            "patientId": str(patient.get("id")),
            "results": {
                "resourceType": "Bundle",
                "type": "collection",
                "entry": [
                    {"resource": o}
                    for o in [latest, *[o for o in drawn_together if o is not latest]]
                ],
            },
        },
        fhir_server=None,
        fhir_authorization=None,
        prefetch=None,
        extension=None,
    )
    return services.result_sign(request, data)


def _value(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def _checks(checks: Iterable[Mapping[str, Any]], depth: int) -> list[str]:
    lines = []
    for check in checks:
        mark = "yes" if check["held"] else "no "
        fact = f"  ({check['fact']} = {_value(check['value'])})" if "fact" in check else ""
        lines.append(f"{'  ' * depth}{mark} {check['says']}{fact}")
        lines.extend(_checks(check.get("children", ()), depth + 1))
    return lines


def explain_text(response: CdsResponse) -> str:
    body = response.to_json()
    trace = response.trace or {}
    lines = [f"Cards ({len(body['cards'])}):"]
    for card in body["cards"]:
        rule = card["source"].get("topic", {}).get("display", "?")
        lines.append(f"  [{card['indicator']}] {card['summary']}   (rule {rule})")
        for suggestion in card.get("suggestions", []):
            codes = [
                f"{c['code']}"
                for a in suggestion.get("actions", [])
                for c in a["resource"]["code"]["coding"]
            ]
            lines.append(f"      suggests: {suggestion['label']} ({', '.join(codes)})")
    if not body["cards"]:
        lines.append("  (none)")
    kb = trace.get("knowledge_base", {})
    if kb:
        lines.append(f"\nKnowledge base v{kb.get('version')} ({str(kb.get('hash'))[:12]})")
    for evaluation in trace.get("evaluations", []):
        lines.append(f"\nDecision trace for {evaluation['observation']}:")
        if "not_interpreted" in evaluation:
            lines.append(f"  not interpreted: {evaluation['not_interpreted']}")
        if evaluation.get("facts"):
            lines.append("  Facts:")
            for name, fact in evaluation["facts"].items():
                source = f"   <- {', '.join(fact['from'])}" if fact.get("from") else ""
                note = f"   ({fact['note']})" if fact.get("note") else ""
                lines.append(f"    {name} = {_value(fact['value'])}{source}{note}")
        for finding, evidence in evaluation.get("findings", {}).items():
            lines.append(f"  Finding {finding}: {'; '.join(evidence)}")
        if evaluation.get("rules"):
            lines.append("  Rules:")
        for rule in evaluation.get("rules", []):
            if rule["fired"]:
                lines.append(f"    FIRED {rule['rule']} v{rule['version']}")
            else:
                lines.append(f"    not   {rule['rule']} v{rule['version']}: {rule['why_not']}")
            lines.extend(_checks(rule["checks"], 4))
    if trace.get("data"):
        lines.append("\nData:")
        for key, entry in trace["data"].items():
            problems = (
                f"; problems: {'; '.join(entry['problems'])}" if entry.get("problems") else ""
            )
            lines.append(f"  {key}: {entry['source']}, {entry['resources']} resource(s){problems}")
    if trace.get("reason"):
        lines.append(f"\n{trace['reason']}")
    return "\n".join(lines)


def explain_json(response: CdsResponse) -> str:
    return json.dumps({"response": response.to_json(), "trace": response.trace}, indent=2)
