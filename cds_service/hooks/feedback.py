"""Feedback items and the sink interface that stores them.

CDS Hooks 2.0.1 defines the body but no response; feedback may repeat and arrive in batches, so
sinks must be idempotent on (card, outcome, outcomeTimestamp). The audit store implements the
same protocol with durable storage.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class FeedbackItem:
    service_id: str
    card: str
    outcome: str
    outcome_timestamp: str
    accepted_suggestions: tuple[str, ...] = ()
    override_reason: Mapping[str, Any] | None = None
    override_comment: str | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.card, self.outcome, self.outcome_timestamp)

    @classmethod
    def parse(cls, service_id: str, item: Mapping[str, Any]) -> FeedbackItem:
        """Build from an item that already passed the feedback schema."""
        override = item.get("overrideReason") or {}
        return cls(
            service_id=service_id,
            card=item["card"],
            outcome=item["outcome"],
            outcome_timestamp=item["outcomeTimestamp"],
            accepted_suggestions=tuple(s["id"] for s in item.get("acceptedSuggestions") or ()),
            override_reason=override.get("reason"),
            override_comment=override.get("userComment"),
        )


class FeedbackSink(Protocol):
    def record(self, items: Sequence[FeedbackItem]) -> int:
        """Store the items; return how many were new (the rest were duplicates)."""
        ...


class MemoryFeedbackSink:
    """Keeps the most recent feedback in memory, deduplicated; for tests and development."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._items: OrderedDict[tuple[str, str, str], FeedbackItem] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def record(self, items: Sequence[FeedbackItem]) -> int:
        new = 0
        with self._lock:
            for item in items:
                if item.key in self._items:
                    continue
                self._items[item.key] = item
                new += 1
                while len(self._items) > self._capacity:
                    self._items.popitem(last=False)
        return new

    def items(self) -> list[FeedbackItem]:
        with self._lock:
            return list(self._items.values())
