"""The two ALP services (ARCHITECTURE.md section 3): declarations and their handlers.

This is the one place where the protocol layer meets the clinical layer: a handler turns the
resolved prefetch into a `PatientRecord`, evaluates the rules, renders cards and keeps the
decision trace for the audit trail.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from cds_service.clinical import engine
from cds_service.clinical.facts import OPEN_ORDER_STATUSES
from cds_service.clinical.labs import UNUSABLE_STATUSES, effective_time, unusable_reason
from cds_service.clinical.record import PatientRecord
from cds_service.fhir.values import LOINC, as_str
from cds_service.hooks.declaration import PrefetchTemplate, ServiceDeclaration
from cds_service.hooks.definitions import PATIENT_VIEW, lab_result_sign
from cds_service.hooks.prefetch import ResolvedData
from cds_service.hooks.request import HookRequest
from cds_service.hooks.response import CdsResponse
from cds_service.knowledge.model import KnowledgeBase
from cds_service.render.cards import RenderContext, card_trace, render

RESULT_SIGN_ID = "alp-result-sign"
PATIENT_VIEW_ID = "alp-patient-view"
KB_EXTENSION = "org.alp-cds.knowledge-base"

DATA_LABELS = {
    "patient": "the Patient",
    "conditions": "conditions",
    "medications": "medication orders",
    "statements": "medication statements",
    "labs": "recent lab results",
    "orders": "open orders",
    "procedures": "procedures",
}


def lab_codes(kb: KnowledgeBase) -> list[str]:
    """Every LOINC code the rules read, for the `labs` prefetch query."""
    # LA/LL/LP codes are LOINC answers, answer lists and parts, not observation codes.
    codes = {
        c.code
        for vs in kb.valuesets.values()
        for c in vs.codes
        if c.system == LOINC and not c.code.startswith(("LA", "LL", "LP"))
    }
    for orderable in kb.orderables.values():
        codes |= {code for system, code in orderable.result_codes if system == LOINC}
    return sorted(codes)


def prefetch_templates(kb: KnowledgeBase, labs_required: bool) -> tuple[PrefetchTemplate, ...]:
    patient = "{{context.patientId}}"
    codes = ",".join(f"{LOINC}|{code}" for code in lab_codes(kb))
    return (
        PrefetchTemplate("patient", f"Patient/{patient}", required=True),
        PrefetchTemplate("conditions", f"Condition?patient={patient}"),
        PrefetchTemplate(
            "medications",
            f"MedicationRequest?patient={patient}&status=active"
            "&_include=MedicationRequest:medication",
        ),
        PrefetchTemplate("statements", f"MedicationStatement?patient={patient}&status=active"),
        PrefetchTemplate(
            "labs",
            f"Observation?patient={patient}&code={codes}&_sort=-date&_count=200",
            required=labs_required,
        ),
        PrefetchTemplate("orders", f"ServiceRequest?patient={patient}&status=draft,active,on-hold"),
        PrefetchTemplate("procedures", f"Procedure?patient={patient}"),
    )


class AlpServices:
    """Holds the loaded knowledge base and deployment settings the handlers need."""

    def __init__(
        self,
        kb: KnowledgeBase,
        base_url: str,
        result_sign_hook: str,
        local_codes: Mapping[str, Any] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        new_uuid: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self.kb = kb
        self.base_url = base_url
        self.result_sign_hook = result_sign_hook
        self.local_codes = dict(local_codes or {})
        self.clock = clock
        self.new_uuid = new_uuid

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
                prefetch=prefetch_templates(self.kb, labs_required=False),
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
                prefetch=prefetch_templates(self.kb, labs_required=True),
                extension=extension,
            ),
        ]

    def record(
        self, request: HookRequest, data: ResolvedData, results: tuple[Any, ...]
    ) -> PatientRecord:
        medications = tuple(data.resources("medications")) + tuple(data.resources("statements"))
        return PatientRecord(
            patient=data.resource("patient"),
            now=self.clock(),
            results=results,
            conditions=tuple(data.resources("conditions")),
            medications=medications,
            labs=tuple(data.resources("labs")),
            orders=tuple(data.resources("orders")),
            procedures=tuple(data.resources("procedures")),
            user=request.context.get("userId"),
            encounter=request.context.get("encounterId"),
            unavailable=tuple(DATA_LABELS.get(k, k) for k in data.unavailable()),
            missing=frozenset(
                "medications" if k == "statements" else k for k in data.unavailable()
            ),
        )

    def result_sign(self, request: HookRequest, data: ResolvedData) -> CdsResponse:
        bundle = request.context["results"]
        results = tuple(
            e["resource"] for e in bundle.get("entry", ()) if isinstance(e.get("resource"), dict)
        )
        return self._respond(request, data, self.record(request, data, results))

    def patient_view(self, request: HookRequest, data: ResolvedData) -> CdsResponse:
        record = self.record(request, data, ())
        latest = self._latest_open_alp(record)
        if latest is None:
            return CdsResponse(trace={"reason": "no recent ALP with open follow-up"})
        return self._respond(request, data, self.record(request, data, (latest,)))

    def _latest_open_alp(self, record: PatientRecord) -> Any:
        """The most recent ALP in the look-back window, unless its follow-up is under way: a
        follow-up test (orderables.yaml `closes_follow_up`) resulted after it or on order."""
        since = record.now - timedelta(days=self.kb.param("patient_view_lookback_days"))
        dated = [
            (effective_time(obs), obs)
            for obs in engine.alp_results(self.kb, record.labs)
            if unusable_reason(obs) is None
        ]
        recent = [(when, obs) for when, obs in dated if when is not None and when >= since]
        if not recent:
            return None
        when, latest = max(recent, key=lambda pair: pair[0])
        follow_ups = {o.id for o in self.kb.orderables.values() if o.closes_follow_up}
        for obs in record.labs:
            if as_str(obs.get("status")) in UNUSABLE_STATUSES:
                continue
            obs_time = effective_time(obs)
            resulted = set(self.kb.orderables_resulted_by(obs.get("code")))
            if resulted & follow_ups and obs_time is not None and obs_time > when:
                return None
        for order in record.orders:
            open_order = as_str(order.get("status")) in OPEN_ORDER_STATUSES
            # A "do not perform" order records that the test must NOT be done: no follow-up.
            if order.get("doNotPerform") is True:
                continue
            if open_order and set(self.kb.orderables_ordered_by(order.get("code"))) & follow_ups:
                return None
        return latest

    def _respond(
        self, request: HookRequest, data: ResolvedData, record: PatientRecord
    ) -> CdsResponse:
        evaluations = engine.evaluate(self.kb, record)
        context = RenderContext(
            base_url=self.base_url,
            patient_id=request.context["patientId"],
            user=request.context.get("userId"),
            encounter_id=request.context.get("encounterId"),
            new_uuid=self.new_uuid,
            local_codes=self.local_codes,
            unavailable=record.unavailable,
        )
        cards = render(self.kb, evaluations, context)
        trace = {
            "knowledge_base": {"version": self.kb.version, "hash": self.kb.content_hash},
            "evaluations": [e.to_json() for e in evaluations],
            "data": data.provenance(),
            "cards": card_trace(cards),
        }
        return CdsResponse(cards=cards, trace=trace)
