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
from datetime import timedelta
from typing import Any

from cds_service import alp_services
from cds_service.alp_services import RESULT_SIGN_ID, AlpServices
from cds_service.clinical import engine
from cds_service.clinical.labs import effective_time
from cds_service.fhir.values import as_list
from cds_service.hooks.errors import CdsError
from cds_service.hooks.patient_scope import left_out
from cds_service.hooks.pipeline import Answer, Pipeline
from cds_service.hooks.prefetch import KeyResult, ResolvedData
from cds_service.hooks.request import HookRequest
from cds_service.hooks.trace import Check, DecisionTrace


class EvaluateError(ValueError):
    """The file cannot be evaluated; the message says why."""


def evaluate_document(services: AlpServices, document: Any) -> Answer:
    if not isinstance(document, Mapping):
        raise EvaluateError("the file must hold a JSON object")
    declarations = services.declarations()
    pipeline = Pipeline.offline(declarations, "evaluate runs offline")
    try:
        if document.get("resourceType") == "Bundle":
            service = next(d for d in declarations if d.id == RESULT_SIGN_ID)
            request, data = _bundle_call(services, document)
            return pipeline.run_resolved(service, request, data)
        if "hook" in document:
            by_hook = {d.hook.id: d for d in declarations}
            found = by_hook.get(str(document.get("hook")))
            if found is None:
                raise EvaluateError(f"no service for hook {document.get('hook')!r}")
            return pipeline.run_body(found, document)
    except CdsError as exc:
        raise EvaluateError(str(exc)) from None
    raise EvaluateError("expected a CDS Hooks request (with 'hook') or a FHIR Bundle")


def _bundle_call(
    services: AlpServices, bundle: Mapping[str, Any]
) -> tuple[HookRequest, ResolvedData]:
    """The call a result-sign of the Bundle's latest ALP would be, its record as prefetch."""
    resources = [
        e["resource"]
        for e in as_list(bundle.get("entry"))
        if isinstance(e, Mapping) and isinstance(e.get("resource"), dict)
    ]
    kinds = alp_services.DATA_KINDS
    grouped: dict[str, list[dict[str, Any]]] = {kind.key: [] for kind in kinds}
    key_of = {kind_type: kind.key for kind in kinds for kind_type in kind.resource_types}
    for resource in resources:
        key = key_of.get(str(resource.get("resourceType")))
        if key:
            grouped[key].append(resource)
    if len(grouped["patient"]) != 1:
        raise EvaluateError("the Bundle must hold exactly one Patient")
    patient = grouped["patient"][0]
    left: dict[str, str] = {}
    for key, found in grouped.items():  # another patient's resources are not this record
        grouped[key], left[key] = left_out(found, str(patient.get("id")))
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
    data = ResolvedData(
        {
            key: KeyResult(
                key,
                source="file",
                ok=True,
                resources=list(found),
                problems=[left[key]] if left[key] else [],
            )
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
    return request, data


def _value(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def _checks(checks: Iterable[Check], depth: int) -> list[str]:
    lines = []
    for check in checks:
        mark = "yes" if check.held else "no "
        fact = f"  ({check.fact} = {_value(check.value)})" if check.fact else ""
        lines.append(f"{'  ' * depth}{mark} {check.says}{fact}")
        lines.extend(_checks(check.children, depth + 1))
    return lines


def explain_text(trace: DecisionTrace, cards: bool = True) -> str:
    """The decision trace for a reader: cards (unless the caller lists them itself), knowledge
    base, each evaluated result's facts, findings and rules, and where the data came from."""
    lines = []
    if cards:
        lines.append(f"Cards ({len(trace.cards)}):")
        for card in trace.cards:
            lines.append(f"  [{card.indicator}] {card.summary}   (rule {card.rule or '?'})")
            for suggestion in card.suggestions:
                codes = [code.rpartition("|")[2] for code in suggestion.codes]
                lines.append(f"      suggests: {suggestion.label} ({', '.join(codes)})")
        if not trace.cards:
            lines.append("  (none)")
    if trace.knowledge:
        lines.append(f"\nKnowledge base v{trace.knowledge.version} ({trace.knowledge.hash[:12]})")
    for evaluation in trace.evaluations:
        lines.append(f"\nDecision trace for {evaluation.item}:")
        if evaluation.not_interpreted:
            lines.append(f"  not interpreted: {evaluation.not_interpreted}")
        if evaluation.facts:
            lines.append("  Facts:")
            for name, fact in evaluation.facts.items():
                source = f"   <- {', '.join(fact.evidence)}" if fact.evidence else ""
                note = f"   ({fact.note})" if fact.note else ""
                lines.append(f"    {name} = {_value(fact.value)}{source}{note}")
        for finding, evidence in evaluation.findings.items():
            lines.append(f"  Finding {finding}: {'; '.join(evidence)}")
        if evaluation.rules:
            lines.append("  Rules:")
        for rule in evaluation.rules:
            if rule.fired:
                lines.append(f"    FIRED {rule.rule} v{rule.version}")
            else:
                lines.append(f"    not   {rule.rule} v{rule.version}: {rule.why_not}")
            lines.extend(_checks(rule.checks, 4))
    if trace.data:
        lines.append("\nData:")
        for data in trace.data:
            problems = f"; problems: {'; '.join(data.problems)}" if data.problems else ""
            lines.append(f"  {data.key}: {data.source}, {data.resources} resource(s){problems}")
    if trace.reason:
        lines.append(f"\n{trace.reason}")
    return "\n".join(lines)


def explain_json(answer: Answer) -> str:
    return json.dumps({"response": answer.body, "trace": answer.trace.to_json()}, indent=2)
