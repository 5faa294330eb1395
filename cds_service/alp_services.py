"""The two ALP services (ARCHITECTURE.md section 3): declarations and their handlers.

This is the one place where the protocol layer meets the clinical layer: a handler turns the
resolved prefetch into a `PatientRecord`, evaluates the rules, renders cards and keeps the
decision trace for the audit trail.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from cds_service.clinical import engine
from cds_service.clinical.record import PatientRecord
from cds_service.clinical.selection import select_result_set
from cds_service.fhir.values import LOINC
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
# Epic sends its native triggers (an advisory whose criteria matched) as patient-view with this
# top-level extension naming the triggering action (docs/ehr/epic.md).
EPIC_TRIGGER = "com.epic.cdshooks.request.bpa-trigger-action"
EPIC_OPEN_CHART_ACTIONS = frozenset({"60"})

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
            f"MedicationRequest?patient={patient}&status=active,on-hold,completed,stopped"
            "&_include=MedicationRequest:medication",
        ),
        PrefetchTemplate(
            "statements",
            f"MedicationStatement?patient={patient}&status=active,on-hold,completed,stopped",
        ),
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
        base_url: str | Callable[[], str],
        result_sign_hook: str,
        local_codes: Mapping[str, Any] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        new_uuid: Callable[[], str] = lambda: str(uuid.uuid4()),
        chart_open_days: float | None = None,
    ) -> None:
        self.kb = kb
        self.base_url = base_url
        """The public URL for card links, or a function giving it for the call being answered
        (the app derives it from the request when no public URL is configured)."""
        self.result_sign_hook = result_sign_hook
        self.local_codes = dict(local_codes or {})
        self.clock = clock
        self.new_uuid = new_uuid
        self.chart_open_days = chart_open_days
        """How old an ALP an Epic open-chart advisory may still remind about (None: the
        knowledge base's look-back)."""

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
            trace = {
                "knowledge_base": {"version": self.kb.version, "hash": self.kb.content_hash},
                "reason": chosen.reason,
                "selection": selection,
                "data": data.provenance(),
            }
            return CdsResponse(trace=trace)
        response = self._respond(request, data, self.record(request, data, chosen.results))
        response.trace["selection"] = selection
        return response

    def _respond(
        self, request: HookRequest, data: ResolvedData, record: PatientRecord
    ) -> CdsResponse:
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
        trace = {
            "knowledge_base": {"version": self.kb.version, "hash": self.kb.content_hash},
            "evaluations": [e.to_json() for e in evaluations],
            "data": data.provenance(),
            "cards": card_trace(cards),
        }
        return CdsResponse(cards=cards, trace=trace)


def epic_trigger_action(extension: Mapping[str, Any] | None) -> str | None:
    """Epic's triggering action code (a string like "60"), or None when the call has none."""
    value = (extension or {}).get(EPIC_TRIGGER)
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value).strip()
    return text[:32] or None
