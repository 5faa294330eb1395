"""The two ALP services (ARCHITECTURE.md section 3): declarations and their handlers.

This is the one place where the protocol layer meets the clinical layer: a handler turns the
resolved prefetch into a `PatientRecord`, evaluates the rules, renders cards and writes its part
of the decision trace (hooks/trace.py) for the audit trail.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from cds_service.clinical import engine
from cds_service.clinical.classify import GIVEN_ADMINISTRATION
from cds_service.clinical.engine import AlpEvaluation, RuleOutcome
from cds_service.clinical.record import PatientRecord, Resource
from cds_service.clinical.selection import select_result_set
from cds_service.fhir.values import LOINC, codings, concept_text
from cds_service.hooks.declaration import PrefetchTemplate, ServiceDeclaration
from cds_service.hooks.definitions import PATIENT_VIEW, lab_result_sign
from cds_service.hooks.ids import random_uuid
from cds_service.hooks.prefetch import ResolvedData
from cds_service.hooks.request import HookRequest
from cds_service.hooks.response import CdsResponse
from cds_service.hooks.trace import DecisionTrace, Evaluation, KnowledgeVersion, RuleDecision
from cds_service.knowledge.model import LOCAL_SOURCE, KnowledgeBase
from cds_service.render.cards import RenderContext, card_trace, render

RESULT_SIGN_ID = "alp-result-sign"
PATIENT_VIEW_ID = "alp-patient-view"
KB_EXTENSION = "org.alp-cds.knowledge-base"
# Epic sends its native triggers (an advisory whose criteria matched) as patient-view with this
# top-level extension naming the triggering action (docs/ehr/epic.md).
EPIC_TRIGGER = "com.epic.cdshooks.request.bpa-trigger-action"
EPIC_OPEN_CHART_ACTIONS = frozenset({"60"})

PATIENT = "{{context.patientId}}"
LAB_CODES = "$LAB_CODES"
"""Stands for the result codes the rules read (`lab_codes`) in a query."""


@dataclass(frozen=True)
class DataKind:
    """One kind of data in the patient's record: how it is asked for, named and filed."""

    key: str
    """The prefetch key."""
    query: str
    """The prefetch template (CDS Hooks 2.0.1 tokens; LAB_CODES is filled in)."""
    label: str
    """How a card names this data when it could not be had."""
    record_field: str
    """The PatientRecord field its resources fill."""
    resource_types: tuple[str, ...]
    """Resource types `alp-cds evaluate` files under this kind when it reads a FHIR Bundle."""
    required_by: tuple[str, ...] = ()
    """Services that answer 412 rather than decide without it."""
    supplementary: bool = False
    """It adds to another kind of the same record field, which stands without it: when it
    cannot be had the trace and the audit record say so, but facts are not "not known" and
    cards do not list it (most EHRs do not serve it to CDS services)."""


DATA_KINDS = (
    DataKind(
        key="patient",
        query=f"Patient/{PATIENT}",
        label="the Patient",
        record_field="patient",
        resource_types=("Patient",),
        required_by=(RESULT_SIGN_ID, PATIENT_VIEW_ID),
    ),
    DataKind(
        key="conditions",
        query=f"Condition?patient={PATIENT}",
        label="conditions",
        record_field="conditions",
        resource_types=("Condition",),
    ),
    DataKind(
        key="medications",
        query=f"MedicationRequest?patient={PATIENT}&status=active,on-hold,completed,stopped"
        "&_include=MedicationRequest:medication",
        label="medication orders",
        record_field="medications",
        resource_types=("MedicationRequest", "Medication"),
    ),
    DataKind(
        key="statements",
        query=f"MedicationStatement?patient={PATIENT}&status=active,on-hold,completed,stopped",
        label="medication statements",
        record_field="medications",
        resource_types=("MedicationStatement",),
    ),
    DataKind(
        key="administrations",
        # Newest first: a long stay charts thousands of doses (every paracetamol), and the
        # pages read before FHIR_MAX_PAGES stops should hold the recent ones.
        query=f"MedicationAdministration?patient={PATIENT}&status={','.join(GIVEN_ADMINISTRATION)}"
        "&_include=MedicationAdministration:medication&_sort=-effective-time&_count=200",
        label="medication administrations",
        record_field="medications",
        resource_types=("MedicationAdministration",),
        supplementary=True,
    ),
    DataKind(
        key="labs",
        query=f"Observation?patient={PATIENT}&code={LAB_CODES}&_sort=-date&_count=200",
        label="recent lab results",
        record_field="labs",
        resource_types=("Observation",),
        required_by=(PATIENT_VIEW_ID,),
    ),
    DataKind(
        key="orders",
        query=f"ServiceRequest?patient={PATIENT}&status=draft,active,on-hold",
        label="open orders",
        record_field="orders",
        resource_types=("ServiceRequest",),
    ),
    DataKind(
        key="procedures",
        query=f"Procedure?patient={PATIENT}",
        label="procedures",
        record_field="procedures",
        resource_types=("Procedure",),
    ),
)
DATA_LABELS = {kind.key: kind.label for kind in DATA_KINDS}


def lab_codes(kb: KnowledgeBase) -> list[str]:
    """Every result code the rules read, as `system|code` tokens for the `labs` prefetch query:
    LOINC codes, and the deployment's local result codes (a result filed only under its local
    code would not come back from a LOINC-only query)."""
    codes = {
        (c.system, c.code)
        for vs in kb.valuesets.values()
        for c in vs.codes
        if c.is_loinc_test or c.source == LOCAL_SOURCE
    }
    for orderable in kb.orderables.values():
        codes |= {(system, code) for system, code in orderable.result_codes if system == LOINC}
        codes |= orderable.local_result_codes
    return [f"{system}|{code}" for system, code in sorted(codes)]


def prefetch_templates(kb: KnowledgeBase, service_id: str) -> tuple[PrefetchTemplate, ...]:
    codes = ",".join(lab_codes(kb))
    return tuple(
        PrefetchTemplate(
            kind.key,
            kind.query.replace(LAB_CODES, codes),
            required=service_id in kind.required_by,
            supplementary=kind.supplementary,
        )
        for kind in DATA_KINDS
    )


def _rule_decision(outcome: RuleOutcome) -> RuleDecision:
    # Every check of a rule that fired; for one that did not, the first check that failed (what
    # a reviewer needs, and it keeps each audit record small).
    checks = outcome.checks if outcome.fired else (next(c for c in outcome.checks if not c.held),)
    return RuleDecision(
        rule=outcome.rule.id,
        version=outcome.rule.version,
        fired=outcome.fired and not outcome.suppressed_by,
        checks=checks,
        why_not=outcome.why_not,
        suppressed_by=outcome.suppressed_by,
    )


def evaluation_trace(evaluation: AlpEvaluation) -> Evaluation:
    """One ALP's facts and rule decisions as the decision trace keeps them. Facts and checks go
    in as the engine made them (they are the trace's `Fact` and `Check`); nothing is copied."""
    facts = evaluation.facts
    return Evaluation(
        item=evaluation.observation,
        facts=facts.values if facts else {},  # the clinical Fact objects, uncopied
        findings={
            name: tuple(evidence)
            for name, evidence in (facts.details.get("findings", {}).items() if facts else ())
        },
        rules=tuple(_rule_decision(o) for o in evaluation.outcomes),
        not_interpreted=evaluation.skipped,
        context=facts.context() if facts else {},
    )


class AlpServices:
    """Holds the loaded knowledge base and deployment settings the handlers need."""

    def __init__(
        self,
        kb: KnowledgeBase,
        base_url: str | Callable[[], str],
        result_sign_hook: str,
        local_codes: Mapping[str, Any] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        new_uuid: Callable[[], str] = lambda: str(random_uuid()),
        chart_open_days: float | None = None,
    ) -> None:
        self.local_codes = dict(local_codes or {})
        if self.local_codes:
            # An order filed under a local code is an open order for its test (facts, selection).
            kb = kb.with_local_order_codes(
                {
                    key: [(c.system, c.code) for c in found]
                    for key, found in self.local_codes.items()
                }
            )
        self.kb = kb
        self.base_url = base_url
        """The public URL for card links, or a function giving it for the call being answered
        (the app derives it from the request when no public URL is configured)."""
        self.result_sign_hook = result_sign_hook
        self.clock = clock
        self.new_uuid = new_uuid
        self.chart_open_days = chart_open_days
        """How old an ALP an Epic open-chart advisory may still remind about (None: the
        knowledge base's look-back)."""
        self.knowledge = KnowledgeVersion(kb.version, kb.content_hash)

    def public_base_url(self) -> str:
        return self.base_url() if callable(self.base_url) else self.base_url

    def declarations(self) -> list[ServiceDeclaration]:
        extension = {KB_EXTENSION: {"version": self.kb.version, "hash": self.kb.content_hash}}
        return [
            ServiceDeclaration(
                id=RESULT_SIGN_ID,
                hook=lab_result_sign(self.result_sign_hook),
                title="Alkaline phosphatase follow-up at result signing",
                description=(
                    "When a result set containing a serum alkaline phosphatase is signed, "
                    "interprets it for this patient (age, sex, pregnancy, lab range, drugs, "
                    "conditions) and suggests the right next test: GGT, bone-specific ALP, "
                    "ALP isoenzymes, or a low-ALP work-up."
                ),
                handler=self.result_sign,
                prefetch=prefetch_templates(self.kb, RESULT_SIGN_ID),
                usage_requirements=(
                    "Send the Observations being signed in context.results (a collection Bundle)."
                ),
                extension=extension,
            ),
            ServiceDeclaration(
                id=PATIENT_VIEW_ID,
                hook=PATIENT_VIEW,
                title="Alkaline phosphatase follow-up when the chart opens",
                description=(
                    "Evaluates the most recent alkaline phosphatase of the last "
                    f"{self.kb.param('patient_view_lookback_days'):g} days while its follow-up "
                    "is still open (no GGT, isoenzymes or bone ALP resulted after it and none "
                    "ordered)."
                ),
                handler=self.patient_view,
                prefetch=prefetch_templates(self.kb, PATIENT_VIEW_ID),
                extension=extension,
            ),
        ]

    def record(
        self, request: HookRequest, data: ResolvedData, results: tuple[Any, ...]
    ) -> PatientRecord:
        # A supplementary kind that could not be had leaves its field as known as it was.
        missing = set(data.unavailable()) - {k.key for k in DATA_KINDS if k.supplementary}
        filed: dict[str, list[Resource]] = {}
        for kind in DATA_KINDS:
            filed.setdefault(kind.record_field, []).extend(data.resources(kind.key))
        patient = filed.pop("patient", [])
        groups: dict[str, Any] = {name: tuple(found) for name, found in filed.items()}
        return PatientRecord(
            patient=patient[0] if patient else None,
            now=self.clock(),
            results=results,
            user=request.context.get("userId"),
            encounter=request.context.get("encounterId"),
            unavailable=tuple(kind.label for kind in DATA_KINDS if kind.key in missing),
            # Facts derived from a kind that could not be had are "not known", never "none".
            missing=frozenset(kind.record_field for kind in DATA_KINDS if kind.key in missing),
            **groups,
        )

    def result_sign(self, request: HookRequest, data: ResolvedData) -> CdsResponse:
        bundle = request.context["results"]
        results = tuple(
            e["resource"] for e in bundle.get("entry", ()) if isinstance(e.get("resource"), dict)
        )
        return self._respond(request, self.record(request, data, results))

    def patient_view(self, request: HookRequest, data: ResolvedData) -> CdsResponse:
        """The production path in Epic and Oracle Health: find the ALP the call is about and
        answer as alp-result-sign would for its result set (clinical/selection.py)."""
        action = epic_trigger_action(request.extension)
        chart_open = action in EPIC_OPEN_CHART_ACTIONS
        chosen = select_result_set(
            self.kb,
            self.record(request, data, ()),
            self.chart_open_days if chart_open else None,
        )
        selection = chosen.to_json()
        selection["trigger"] = (
            "a call without the Epic trigger extension"
            if action is None
            else f"Epic advisory, triggering action {action}"
            + (" (open chart)" if chart_open else "")
        )
        if not chosen.results:
            notes = {"selection": selection}
            quiet = DecisionTrace(knowledge=self.knowledge, reason=chosen.reason, notes=notes)
            return CdsResponse(trace=quiet)
        response = self._respond(request, self.record(request, data, chosen.results))
        if response.trace is None:  # _respond always writes one
            return response
        return replace(response, trace=replace(response.trace, notes={"selection": selection}))

    def _respond(self, request: HookRequest, record: PatientRecord) -> CdsResponse:
        evaluations = engine.evaluate(self.kb, record)
        context = RenderContext(
            base_url=self.public_base_url(),
            patient_id=request.context["patientId"],
            user=request.context.get("userId"),
            encounter_id=request.context.get("encounterId"),
            new_uuid=self.new_uuid,
            local_codes=self.local_codes,
            unavailable=record.unavailable,
        )
        cards = render(self.kb, evaluations, context)
        trace = DecisionTrace(
            knowledge=self.knowledge,
            evaluations=tuple(evaluation_trace(e) for e in evaluations),
            cards=card_trace(evaluations, cards),
            reason=None if evaluations else no_alp_reason(record.results),
        )
        return CdsResponse(cards=cards, trace=trace)


def no_alp_reason(results: tuple[Any, ...]) -> str | None:
    """Why a call with results gave no answer: none of them is a total ALP the knowledge base
    recognises (by code, or by its words). Twelfth round, part D (review 12, N11): an ALP under
    an unmapped local code got no card and an empty trace; the audit record now names what was
    sent, so the integrating team can map it (ALP, by LOINC 6768-6 or its words)."""
    if not results:
        return None
    sent = []
    for resource in results[:10]:
        code = resource.get("code") if isinstance(resource, dict) else None
        pairs = [f"{c.get('system')}|{c.get('code')}" for c in codings(code)]
        text = concept_text(code)
        sent.append(f"{', '.join(pairs) or 'no code'}{f' ({text})' if text else ''}")
    more = f" and {len(results) - 10} more" if len(results) > 10 else ""
    return (
        f"no total ALP recognised among the {len(results)} result(s) sent: {'; '.join(sent)}{more}"
    )


def epic_trigger_action(extension: Mapping[str, Any] | None) -> str | None:
    """Epic's triggering action code (a string like "60"), or None when the call has none."""
    value = (extension or {}).get(EPIC_TRIGGER)
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value).strip()
    return text[:32] or None
