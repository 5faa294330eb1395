"""Rule evaluation: every active rule against the facts of each ALP result, with a full trace.

A rule fires when all its conditions hold. For each rule the outcome keeps every condition with
the fact's value and whether it held, so a reviewer can read why a card fired or why not (the
handler copies them into the decision trace, hooks/trace.py).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cds_service.clinical.classify import Classified, classify
from cds_service.clinical.facts import Facts, Skipped, derive
from cds_service.clinical.record import PatientRecord
from cds_service.fhir.values import resource_key
from cds_service.knowledge.model import PLACEHOLDER_RE, Condition, KnowledgeBase, Rule

NUMERIC: dict[str, Callable[[float, float], bool]] = {
    "at_least": operator.ge,
    "above": operator.gt,
    "at_most": operator.le,
    "below": operator.lt,
}


@dataclass(frozen=True)
class Check:
    says: str
    held: bool
    fact: str | None = None
    value: Any = None
    children: tuple[Check, ...] = ()


@dataclass(frozen=True)
class RuleOutcome:
    rule: Rule
    fired: bool
    checks: tuple[Check, ...]
    suppressed_by: str | None = None

    @property
    def why_not(self) -> str | None:
        if self.suppressed_by:
            return f"superseded by {self.suppressed_by}"
        if self.fired:
            return None
        failed = next(c for c in self.checks if not c.held)
        return f"not true: {failed.says}"


@dataclass
class AlpEvaluation:
    observation: str
    facts: Facts | None
    outcomes: list[RuleOutcome] = field(default_factory=list)
    skipped: str | None = None

    @property
    def fired(self) -> list[RuleOutcome]:
        """Rules that fired and were not suppressed, in priority order."""
        return [o for o in self.outcomes if o.fired and not o.suppressed_by]

    def shown(self, kind: str) -> list[RuleOutcome]:
        return [o for o in self.fired if o.rule.kind == kind]


def _operand(kb: KnowledgeBase, operand: Any) -> Any:
    if isinstance(operand, Mapping) and "param" in operand:
        return kb.param(operand["param"])
    return operand


def check(kb: KnowledgeBase, condition: Condition, facts: Facts) -> Check:
    says = render_text(condition.says, facts, kb)
    if condition.combinator:
        children = tuple(check(kb, c, facts) for c in condition.children)
        if condition.combinator == "all":
            held = all(c.held for c in children)
        elif condition.combinator == "any":
            held = any(c.held for c in children)
        else:
            held = not any(c.held for c in children)
        return Check(says, held, children=children)
    if condition.fact is None or condition.operator is None:
        raise ValueError(f"condition {condition.says!r} has neither a fact test nor children")
    value = facts.get(condition.fact)
    operand = _operand(kb, condition.operand)
    return Check(says, _holds(condition.operator, value, operand), condition.fact, value)


def _holds(operator: str, value: Any, operand: Any) -> bool:
    if operator == "is":
        return bool(value == operand)
    if operator == "is_not":
        return bool(value != operand)
    if operator == "in":
        return value in operand
    if operator == "not_in":
        return value not in operand
    items = value if isinstance(value, list | tuple | set | frozenset) else ()
    if operator == "has":
        return operand in items
    if operator == "lacks":
        return operand not in items
    if operator == "has_any":
        return any(o in items for o in operand)
    if operator == "has_none":
        return not any(o in items for o in operand)
    compare = NUMERIC[operator]
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False  # an unknown number never satisfies a threshold
    return bool(compare(value, operand))


def evaluate_rule(kb: KnowledgeBase, rule: Rule, facts: Facts) -> RuleOutcome:
    checks = tuple(check(kb, c, facts) for c in rule.conditions)
    return RuleOutcome(rule, all(c.held for c in checks), checks)


def evaluate_alp(
    kb: KnowledgeBase,
    record: PatientRecord,
    alp: Mapping[str, Any],
    classified: Classified | None = None,
) -> AlpEvaluation:
    derived = derive(kb, record, alp, classified)
    if isinstance(derived, Skipped):
        return AlpEvaluation(derived.observation, None, skipped=derived.reason)
    evaluation = AlpEvaluation(resource_key(alp), derived)
    rules = sorted(kb.active_rules(), key=lambda r: (-r.priority, r.id))
    outcomes = [evaluate_rule(kb, rule, derived) for rule in rules]
    suppressed: dict[str, str] = {}
    for outcome in outcomes:
        if not outcome.fired or outcome.rule.id in suppressed:
            continue
        targets = (
            [o.rule.id for o in outcomes if o.rule.id != outcome.rule.id]
            if outcome.rule.exclusive
            else outcome.rule.suppresses
        )
        for target in targets:
            suppressed.setdefault(target, outcome.rule.id)
    for outcome in outcomes:
        if outcome.fired and outcome.rule.id in suppressed:
            outcome = RuleOutcome(outcome.rule, True, outcome.checks, suppressed[outcome.rule.id])
        evaluation.outcomes.append(outcome)
    return evaluation


def alp_results(kb: KnowledgeBase, resources: Any) -> list[Mapping[str, Any]]:
    """Total-ALP Observations among `resources`."""
    return [
        r
        for r in resources
        if r.get("resourceType") == "Observation" and "alp-total" in kb.classify(r.get("code"))
    ]


def evaluate(kb: KnowledgeBase, record: PatientRecord) -> list[AlpEvaluation]:
    """Evaluate every total-ALP result being signed."""
    alps = alp_results(kb, record.results)
    classified = classify(kb, record) if alps else None
    return [evaluate_alp(kb, record, alp, classified) for alp in alps]


def render_text(template: str, facts: Facts, kb: KnowledgeBase) -> str:
    """Fill `{{fact}}` and `{{param.name}}` placeholders; whitespace collapses to single spaces."""

    def replace(match: Any) -> str:
        name = match.group(1)
        if name.startswith("param."):
            value: Any = kb.param(name.removeprefix("param."))
        else:
            value = facts.get(name)
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value) or "none"
        if isinstance(value, float):
            # Facts keep three decimals for the rules; people read one.
            value = f"{value:.1f}"
        return "unknown" if value is None else str(value)

    return " ".join(PLACEHOLDER_RE.sub(replace, template).split())
