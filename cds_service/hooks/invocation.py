"""What the protocol layer tells the audit trail about each call.

One `Invocation` per service call (and per refused call to any CDS Hooks route): who called,
which hook instance, what was answered and why, the handler's decision trace, and the latency.
The protocol layer fills it in; an `InvocationSink` (the audit store) keeps it.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol


@dataclass
class Invocation:
    endpoint: str
    """service, discovery or feedback"""
    service_id: str | None = None
    record_id: str = field(default_factory=lambda: uuid.uuid4().hex)
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
    cards: list[dict[str, Any]] = field(default_factory=list)
    trace: Any = None
    _started: float = field(default_factory=time.perf_counter, repr=False)

    def finish(self, status: int, reason: str | None = None) -> None:
        self.status = status
        self.reason = reason
        self.latency_ms = round((time.perf_counter() - self._started) * 1000, 3)

    def to_json(self) -> dict[str, Any]:
        return {
            "record_id": self.record_id,
            "endpoint": self.endpoint,
            "service_id": self.service_id,
            "received_at": self.received_at.isoformat(),
            "hook": self.hook,
            "hook_instance": self.hook_instance,
            "status": self.status,
            "reason": self.reason,
            "issuer": self.issuer,
            "tenant": self.tenant,
            "patient": self.patient,
            "user": self.user,
            "latency_ms": self.latency_ms,
            "cards": self.cards,
            "trace": self.trace,
        }


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


def card_summary(card: dict[str, Any]) -> dict[str, Any]:
    """What the audit keeps of a card as sent: uuid, rule, indicator, summary, suggestions."""
    topic = card.get("source", {}).get("topic", {})
    return {
        "uuid": card.get("uuid"),
        # This service's cards name their rule in the topic's display; the code is the
        # alphanumeric topic code EHRs keep override history by.
        "rule": topic.get("display") or topic.get("code"),
        "topic": topic.get("code"),
        "indicator": card.get("indicator"),
        "summary": card.get("summary"),
        "suggestions": [
            {
                "uuid": s.get("uuid"),
                "label": s.get("label"),
                "codes": [
                    f"{c.get('system')}|{c.get('code')}"
                    for a in s.get("actions", [])
                    for c in (a.get("resource") or {}).get("code", {}).get("coding", [])
                ],
            }
            for s in card.get("suggestions", [])
        ],
    }
