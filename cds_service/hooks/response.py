"""CDS Hooks 2.0.1 response types that serialise with no null or empty values.

2.0.1 says elements SHALL NOT be null or empty and optional ones without a value MUST be omitted;
the one exception is `"cards": []`. `compact` enforces that for everything below the top level,
including the FHIR resources carried in actions (FHIR has the same rule).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from cds_service.hooks.trace import DecisionTrace

Indicator = Literal["info", "warning", "critical"]
SUMMARY_LIMIT = 140


_SCALARS = (str, int, float)


def compact(value: Any) -> Any:
    """Drop None, '', [] and {} recursively (and containers that become empty)."""
    # Scalars and dicts first: most of a card is strings, and the Mapping ABC check is slow.
    if isinstance(value, _SCALARS):
        return None if value == "" else value
    if isinstance(value, dict | Mapping):
        out = {}
        for key, item in value.items():
            cleaned = compact(item)
            if cleaned is not None:
                out[key] = cleaned
        return out or None
    if isinstance(value, list | tuple):
        items = [c for c in map(compact, value) if c is not None]
        return items or None
    return None if value is None else value


@dataclass(frozen=True)
class Coding:
    system: str
    code: str
    display: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"system": self.system, "code": self.code, "display": self.display}


@dataclass(frozen=True)
class Source:
    label: str
    url: str | None = None
    icon: str | None = None
    topic: Coding | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "url": self.url,
            "icon": self.icon,
            "topic": self.topic.to_json() if self.topic else None,
        }


@dataclass(frozen=True)
class Action:
    type: Literal["create", "update", "delete"]
    description: str
    resource: Mapping[str, Any] | None = None
    resource_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "description": self.description,
            "resource": self.resource,
            "resourceId": self.resource_id,
        }


@dataclass(frozen=True)
class Suggestion:
    label: str
    uuid: str
    actions: Sequence[Action] = ()
    is_recommended: bool | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "uuid": self.uuid,
            "isRecommended": self.is_recommended,
            "actions": [a.to_json() for a in self.actions],
        }


@dataclass(frozen=True)
class Link:
    label: str
    url: str
    type: Literal["absolute", "smart"] = "absolute"
    app_context: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "url": self.url,
            "type": self.type,
            "appContext": self.app_context,
        }


@dataclass(frozen=True)
class Card:
    uuid: str
    summary: str
    indicator: Indicator
    source: Source
    detail: str | None = None
    suggestions: Sequence[Suggestion] = ()
    selection_behavior: Literal["at-most-one", "any"] | None = None
    override_reasons: Sequence[Coding] = ()
    links: Sequence[Link] = ()

    def __post_init__(self) -> None:
        if not self.summary or len(self.summary) >= SUMMARY_LIMIT:
            raise ValueError(
                f"card summary must be 1-{SUMMARY_LIMIT - 1} characters: {self.summary!r}"
            )
        if self.suggestions and self.selection_behavior is None:
            raise ValueError("selectionBehavior is required with suggestions")
        if any(not reason.display for reason in self.override_reasons):
            raise ValueError("override reasons need a display")

    def to_json(self) -> dict[str, Any]:
        card = {
            "uuid": self.uuid,
            "summary": self.summary,
            "detail": self.detail,
            "indicator": self.indicator,
            "source": self.source.to_json(),
            "suggestions": [s.to_json() for s in self.suggestions],
            "selectionBehavior": self.selection_behavior if self.suggestions else None,
            "overrideReasons": [r.to_json() for r in self.override_reasons],
            "links": [link.to_json() for link in self.links],
        }
        result: dict[str, Any] = compact(card)
        return result


@dataclass(frozen=True)
class CdsResponse:
    cards: Sequence[Card] = ()
    system_actions: Sequence[Action] = ()
    trace: DecisionTrace | None = field(default=None, compare=False)
    """The handler's decision trace, for the audit trail; never sent to the client."""

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"cards": [card.to_json() for card in self.cards]}
        if self.system_actions:
            body["systemActions"] = [compact(a.to_json()) for a in self.system_actions]
        return body
