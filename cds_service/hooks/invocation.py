"""What the protocol layer tells the audit trail about each call.

One `Invocation` per service call (and per refused call to any CDS Hooks route): who called,
which hook instance, what was answered and why, the decision trace, and the latency. The route
and the pipeline fill it in; an `InvocationSink` (the audit store, metrics) keeps it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from cds_service.hooks.ids import random_uuid
from cds_service.hooks.request import HookRequest
from cds_service.hooks.trace import CardIssued, DecisionTrace


@dataclass
class Invocation:
    endpoint: str
    """service, discovery or feedback"""
    service_id: str | None = None
    record_id: str = field(default_factory=lambda: random_uuid().hex)
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    hook: str | None = None
    hook_instance: str | None = None
    status: int = 0
    reason: str | None = None
    issuer: str | None = None
    tenant: str | None = None
    patient: str | None = None
    user: str | None = None
    latency_ms: float = 0.0
    trace: DecisionTrace | None = None
    _started: float = field(default_factory=time.perf_counter, repr=False)

    @property
    def cards(self) -> tuple[CardIssued, ...]:
        return self.trace.cards if self.trace else ()

    def note_request(self, request: HookRequest) -> None:
        """Who and what the call is about, once the body has been checked."""
        self.hook = request.hook
        self.hook_instance = request.hook_instance
        patient = request.context.get("patientId")
        self.patient = f"Patient/{patient}" if patient else None
        self.user = request.context.get("userId")

    def finish(self, status: int, reason: str | None = None) -> None:
        self.status = status
        self.reason = reason
        self.latency_ms = round((time.perf_counter() - self._started) * 1000, 3)


class InvocationSink(Protocol):
    def record_invocation(self, invocation: Invocation) -> None:
        """Keep the record. Must not raise: the response goes out whatever happens here."""
        ...


class CompositeSink:
    """Hands each invocation to several sinks (the audit store, metrics)."""

    def __init__(self, sinks: tuple[InvocationSink, ...]) -> None:
        self.sinks = sinks

    def record_invocation(self, invocation: Invocation) -> None:
        for sink in self.sinks:
            sink.record_invocation(invocation)


class NullInvocationSink:
    def record_invocation(self, invocation: Invocation) -> None:
        return None
