"""Feedback items and the sink interface that stores them.

CDS Hooks 2.0.1 defines the body but no response; feedback may repeat and arrive in batches, so
sinks must be idempotent on (card, outcome, outcomeTimestamp). The audit store implements the
same protocol with durable storage.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
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


@dataclass
class FeedbackResult:
    stored: int = 0
    duplicates: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)
    """(index in the batch, why) for items that were not stored."""


class FeedbackSink(Protocol):
    def record(self, items: Sequence[FeedbackItem]) -> FeedbackResult:
        """Store each item on its own (a bad item does not stop the others); duplicates of
        (card, outcome, outcomeTimestamp) are stored once."""
        ...


class MemoryFeedbackSink:
    """Keeps the most recent feedback in memory, deduplicated; for tests and development."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._items: OrderedDict[tuple[str, str, str], FeedbackItem] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def record(self, items: Sequence[FeedbackItem]) -> FeedbackResult:
        result = FeedbackResult()
        with self._lock:
            for item in items:
                if item.key in self._items:
                    result.duplicates += 1
                    continue
                self._items[item.key] = item
                result.stored += 1
                while len(self._items) > self._capacity:
                    self._items.popitem(last=False)
        return result

    def items(self) -> list[FeedbackItem]:
        with self._lock:
            return list(self._items.values())
