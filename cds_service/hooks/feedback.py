"""Feedback items and the sink interface that stores them.

CDS Hooks 2.0.1 defines the body but no response; feedback may repeat and arrive in batches, so
sinks must be idempotent on (card, outcome, outcomeTimestamp), the timestamp taken as the instant
it names (normalised to UTC text; the text as sent is kept in `extra` when it differs). The
audit store implements the same protocol with durable storage.

Clients say why a card was overridden in two shapes, and both are kept:
- CDS Hooks 2.0.1 (and the CDS Hooks sandbox): `overrideReason` {`reason`: Coding,
  `userComment`}; the sandbox sends `reason` with `code` and `system` only, no display;
- Epic: `overrideReasons`, a list of {`reason`, `userComment`}.
Anything else an item or the body carries (an `extension`, a field a future version adds) is
kept in `extra`, keyed by its path, so nothing a client sends is silently dropped.

Card and suggestion uuids are matched case-insensitively (RFC 9562: hex digits are
case-insensitive on input; the service issues them in lower case), and `outcomeTimestamp` must be
a real RFC 3339 date-time, not only look like one: a batch is stored whole or not at all, so one
impossible date refuses the batch (400) instead of being stored and never counting; so does one
more than a day ahead of the service's clock (the latest answer is a card's final one).
"""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from cds_service.hooks.errors import CdsError, Issue

ITEM_FIELDS = frozenset(
    {
        "card",
        "outcome",
        "outcomeTimestamp",
        "acceptedSuggestions",
        "overrideReason",
        "overrideReasons",
    }
)
REASON_FIELDS = frozenset({"reason", "userComment"})
CODING_FIELDS = frozenset({"system", "code", "display"})
MAX_EXTRA_CHARS = 16_384
# How far ahead of the service's clock an outcomeTimestamp may be (clocks drift; a day is
# generous). The latest answer is a card's final one, so a timestamp years ahead would fix the
# outcome of its card for those years.
MAX_FUTURE = timedelta(days=1)
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
# What the feedback schema's pattern lets through, split into its fields.
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:(\d{2}))"
)


def canonical_uuid(value: str) -> str:
    """A UUID in the lower case the service issues it in; anything else as it came."""
    return value.lower() if _UUID.fullmatch(value) else value


def outcome_moment(value: str) -> datetime:
    """An RFC 3339 date-time (section 5.6) as an aware datetime, or ValueError if it names no
    real moment (2026-02-31, 25:61). A leap second (:60, allowed by RFC 3339) is read as the
    last instant of its minute, since datetime has no second 60."""
    match = _RFC3339.fullmatch(value)
    if match is None:
        raise ValueError(f"not an RFC 3339 date-time: {value[:40]!r}")
    second = int(match[6])
    if second > 60 or int(match[9] or 0) > 59:
        # fromisoformat would take 61 seconds as an error but a +05:75 offset as +06:15.
        raise ValueError("second or offset minute out of range")
    text = value.upper()
    if second == 60:
        text = f"{text[:17]}59.999999{text[17 + 2 + len(match[7] or '') :]}"
    return datetime.fromisoformat(text)  # ValueError for a day, hour or offset out of range


def normalised_timestamp(value: str) -> str:
    """The instant an RFC 3339 date-time names, written one way: UTC, `Z`, fraction only when
    there is one (`2026-11-30T23:00:03+01:00` and `2026-11-30T22:00:03.000Z` are both
    `2026-11-30T22:00:03Z`). Feedback is deduplicated on this text, so a client that writes
    the same moment differently on a retry stores it once."""
    moment = outcome_moment(value).astimezone(UTC)
    fraction = f".{moment.microsecond:06d}".rstrip("0") if moment.microsecond else ""
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z"


@dataclass(frozen=True)
class OverrideReason:
    """One reason a user gave: the Coding (as sent) and the free-text comment."""

    reason: Mapping[str, Any] | None = None
    comment: str | None = None

    def _coding(self, name: str) -> str | None:
        value = (self.reason or {}).get(name)
        return value if isinstance(value, str) else None

    @property
    def system(self) -> str | None:
        return self._coding("system")

    @property
    def code(self) -> str | None:
        return self._coding("code")

    @property
    def display(self) -> str | None:
        return self._coding("display")

    def to_json(self) -> dict[str, Any]:
        return {
            "system": self.system,
            "code": self.code,
            "display": self.display,
            "comment": self.comment,
        }


@dataclass(frozen=True)
class FeedbackItem:
    service_id: str
    card: str
    outcome: str
    outcome_timestamp: str
    accepted_suggestions: tuple[str, ...] = ()
    override_reasons: tuple[OverrideReason, ...] = ()
    extra: Mapping[str, Any] | None = None
    """Fields the service does not interpret, by path (`extension`, `overrideReasons[0].x`,
    `$.extension` for the request body's own), so that none is lost."""
    issuer: str | None = None
    """Who sent it: the JWT's `iss`; None in development mode (no JWT). Feedback is taken only
    from the issuer of the call that produced the card."""
    issuer_known: bool = True
    """False for feedback spooled by a version that did not record the sender: it was checked
    then as it is now, bar the issuer, and is not refused for want of one on replay."""

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.card, self.outcome, self.outcome_timestamp)

    @property
    def override_reason(self) -> Mapping[str, Any] | None:
        """The first reason's Coding (the 2.0.1 shape has one)."""
        return next((r.reason for r in self.override_reasons if r.reason), None)

    @property
    def override_comment(self) -> str | None:
        comments = [r.comment for r in self.override_reasons if r.comment]
        return "\n".join(comments) if comments else None

    @classmethod
    def parse(
        cls,
        service_id: str,
        item: Mapping[str, Any],
        body_extra: Mapping[str, Any] | None = None,
        issuer: str | None = None,
    ) -> FeedbackItem:
        """Build from an item that already passed the feedback schema."""
        extra: dict[str, Any] = dict(body_extra or {})
        extra.update((k, v) for k, v in item.items() if k not in ITEM_FIELDS)
        given: list[tuple[str, Mapping[str, Any]]] = []
        if isinstance(item.get("overrideReason"), Mapping):
            given.append(("overrideReason", item["overrideReason"]))
        for index, entry in enumerate(item.get("overrideReasons") or ()):
            given.append((f"overrideReasons[{index}]", entry))
        reasons = []
        for path, entry in given:
            extra.update((f"{path}.{k}", v) for k, v in entry.items() if k not in REASON_FIELDS)
            coding = entry.get("reason")
            if isinstance(coding, Mapping):
                extra.update(
                    (f"{path}.reason.{k}", v) for k, v in coding.items() if k not in CODING_FIELDS
                )
            reasons.append(OverrideReason(coding, entry.get("userComment")))
        for index, accepted in enumerate(item.get("acceptedSuggestions") or ()):
            extra.update(
                (f"acceptedSuggestions[{index}].{k}", v) for k, v in accepted.items() if k != "id"
            )
        timestamp = normalised_timestamp(item["outcomeTimestamp"])
        if timestamp != item["outcomeTimestamp"]:
            extra["outcomeTimestamp"] = item["outcomeTimestamp"]  # as sent, for the record
        return cls(
            service_id=service_id,
            card=canonical_uuid(item["card"]),
            outcome=item["outcome"],
            outcome_timestamp=timestamp,
            accepted_suggestions=tuple(
                canonical_uuid(s["id"]) for s in item.get("acceptedSuggestions") or ()
            ),
            override_reasons=tuple(reasons),
            extra=_bounded(extra) if extra else None,
            issuer=issuer,
        )

    def to_json(self) -> dict[str, Any]:
        """For the spool: what `from_json` reads back."""
        return {
            "service_id": self.service_id,
            "card": self.card,
            "outcome": self.outcome,
            "outcome_timestamp": self.outcome_timestamp,
            "accepted_suggestions": list(self.accepted_suggestions),
            "override_reasons": [
                {"reason": r.reason, "comment": r.comment} for r in self.override_reasons
            ],
            "extra": self.extra,
            "issuer": self.issuer,
        }

    @classmethod
    def from_json(cls, fields: Mapping[str, Any]) -> FeedbackItem:
        if "override_reasons" in fields:
            reasons = tuple(
                OverrideReason(r.get("reason"), r.get("comment"))
                for r in fields["override_reasons"]
            )
        else:  # spooled before override_reasons existed: one reason, one comment
            reason, comment = fields.get("override_reason"), fields.get("override_comment")
            reasons = (OverrideReason(reason, comment),) if reason or comment else ()
        return cls(
            service_id=fields["service_id"],
            card=fields["card"],
            outcome=fields["outcome"],
            outcome_timestamp=fields["outcome_timestamp"],
            accepted_suggestions=tuple(fields.get("accepted_suggestions") or ()),
            override_reasons=reasons,
            extra=fields.get("extra"),
            issuer=fields.get("issuer"),
            issuer_known="issuer" in fields,
        )


def parse_feedback(
    service_id: str,
    body: Mapping[str, Any],
    now: datetime | None = None,
    issuer: str | None = None,
) -> list[FeedbackItem]:
    """Every item of a feedback body that passed the schema; the body's own unknown fields go
    into each item's `extra` as `$.<name>`. A CdsError (400) for an outcomeTimestamp that is no
    real moment (the schema checks its form only) or is more than MAX_FUTURE after `now`."""
    latest = (now or datetime.now(UTC)) + MAX_FUTURE
    issues = []
    for index, item in enumerate(body["feedback"]):
        where = f"$.feedback[{index}].outcomeTimestamp"
        try:
            moment = outcome_moment(item["outcomeTimestamp"])
            moment.astimezone(UTC)  # 0001-01-01T00:00:00+01:00 has no instant in range
        except (ValueError, OverflowError):
            issues.append(Issue("invalid", "is not a valid RFC 3339 date-time", expression=where))
            continue
        if moment > latest:
            issues.append(Issue("invalid", "is more than a day in the future", expression=where))
    if issues:
        raise refused(issues, len(body["feedback"]))
    body_extra = {f"$.{k}": v for k, v in body.items() if k != "feedback"}
    return [FeedbackItem.parse(service_id, item, body_extra, issuer) for item in body["feedback"]]


def refused(issues: list[Issue], batch_size: int) -> CdsError:
    """The 400 for a batch with refused items: nothing of it is stored, and with more than one
    item that is said outright, so no client takes the others as kept."""
    if batch_size > 1:
        note = "no item of this batch was stored; send it again without the items refused"
        issues = [*issues, Issue("informational", note, severity="information")]
    return CdsError(400, issues)


def _bounded(extra: dict[str, Any]) -> dict[str, Any]:
    """Unknown fields as sent, unless they are huge: then their names and sizes, so the audit
    record says what came without one client filling the store."""
    text = json.dumps(extra, default=str)
    if len(text) <= MAX_EXTRA_CHARS:
        return extra
    return {
        "_truncated": True,
        "fields": {k: len(json.dumps(v, default=str)) for k, v in list(extra.items())[:200]},
    }


@dataclass
class FeedbackResult:
    stored: int = 0
    duplicates: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)
    """(index in the batch, why) for the items refused; when there are any, nothing of the
    batch was stored."""


class FeedbackSink(Protocol):
    def record(self, items: Sequence[FeedbackItem]) -> FeedbackResult:
        """Store the batch whole or not at all: if any item is refused (a card not issued, a
        suggestion not offered), none is stored and `rejected` says which and why. Duplicates of
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
