"""Reading a stored decision trace for display.

The trace is the dict the service wrote at the time (today: `knowledge_base`, `evaluations`
with `facts`, `findings` and `rules`, `data` provenance, `cards`); these functions turn it into
rows for the invocation page and tolerate what an older or newer format lacks, so a page never
fails on an old record. The replay reads facts only through `console.impact.facts_from_trace`.
The audit store hands back the typed `DecisionTrace`; its `to_json()` is the stored shape.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cds_service.hooks.trace import DecisionTrace


def as_stored(trace: Any) -> Any:
    """The stored JSON shape, whether the caller has the typed trace or the raw column."""
    return trace.to_json() if isinstance(trace, DecisionTrace) else trace


def _text(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_text(v) for v in value) + "]" if value else "[]"
    return str(value)


@dataclass(frozen=True)
class FactRow:
    name: str
    value: str
    sources: tuple[str, ...]
    note: str | None


@dataclass(frozen=True)
class CheckRow:
    says: str
    held: bool
    fact: str | None
    value: str | None
    children: tuple[CheckRow, ...] = ()


@dataclass(frozen=True)
class RuleRow:
    rule: str
    version: str
    fired: bool
    why_not: str | None
    suppressed: bool
    checks: tuple[CheckRow, ...]


@dataclass
class EvaluationView:
    observation: str
    not_interpreted: str | None = None
    facts: list[FactRow] = field(default_factory=list)
    findings: list[tuple[str, list[str]]] = field(default_factory=list)
    rules: list[RuleRow] = field(default_factory=list)


@dataclass(frozen=True)
class DataRow:
    key: str
    source: str
    ok: bool | None
    resources: str
    pages: str
    problems: tuple[str, ...]
    applicable: bool


@dataclass
class TraceView:
    knowledge_base: str | None = None
    evaluations: list[EvaluationView] = field(default_factory=list)
    data: list[DataRow] = field(default_factory=list)
    reason: str | None = None


def _checks(raw: Any) -> tuple[CheckRow, ...]:
    rows = []
    for check in raw if isinstance(raw, list) else ():
        if not isinstance(check, Mapping):
            continue
        rows.append(
            CheckRow(
                says=str(check.get("says", "")),
                held=bool(check.get("held")),
                fact=str(check["fact"]) if "fact" in check else None,
                value=_text(check.get("value")) if "fact" in check else None,
                children=_checks(check.get("children")),
            )
        )
    return tuple(rows)


def _rules(raw: Any) -> list[RuleRow]:
    rows = []
    for rule in raw if isinstance(raw, list) else ():
        if not isinstance(rule, Mapping):
            continue
        why_not = rule.get("why_not")
        rows.append(
            RuleRow(
                rule=str(rule.get("rule", "?")),
                version=str(rule.get("version", "")),
                fired=bool(rule.get("fired")),
                why_not=str(why_not) if why_not else None,
                suppressed=is_suppression(why_not),
                checks=_checks(rule.get("checks")),
            )
        )
    return rows


def is_suppression(why_not: Any) -> bool:
    """The rule's conditions held but a higher-priority rule hid its card."""
    return isinstance(why_not, str) and why_not.startswith("superseded by")


def evaluations(trace: Any) -> list[Mapping[str, Any]]:
    trace = as_stored(trace)
    raw = trace.get("evaluations") if isinstance(trace, Mapping) else None
    return [e for e in raw if isinstance(e, Mapping)] if isinstance(raw, list) else []


def view(trace: Any) -> TraceView:
    trace = as_stored(trace)
    out = TraceView()
    if not isinstance(trace, Mapping):
        return out
    kb = trace.get("knowledge_base")
    if isinstance(kb, Mapping):
        out.knowledge_base = f"v{kb.get('version')} ({str(kb.get('hash'))[:12]})"
    reason = trace.get("reason")
    out.reason = str(reason) if reason else None
    for evaluation in evaluations(trace):
        ev = EvaluationView(observation=str(evaluation.get("observation", "?")))
        skipped = evaluation.get("not_interpreted")
        ev.not_interpreted = str(skipped) if skipped else None
        facts = evaluation.get("facts")
        for name, fact in facts.items() if isinstance(facts, Mapping) else ():
            if not isinstance(fact, Mapping):
                continue
            sources = fact.get("from")
            ev.facts.append(
                FactRow(
                    name=str(name),
                    value=_text(fact.get("value")),
                    sources=tuple(str(s) for s in sources) if isinstance(sources, list) else (),
                    note=str(fact["note"]) if fact.get("note") else None,
                )
            )
        findings = evaluation.get("findings")
        for finding, evidence in findings.items() if isinstance(findings, Mapping) else ():
            lines = [str(e) for e in evidence] if isinstance(evidence, list) else [str(evidence)]
            ev.findings.append((str(finding), lines))
        ev.rules = _rules(evaluation.get("rules"))
        out.evaluations.append(ev)
    data = trace.get("data")
    for key, entry in data.items() if isinstance(data, Mapping) else ():
        if not isinstance(entry, Mapping):
            continue
        problems = entry.get("problems")
        out.data.append(
            DataRow(
                key=str(key),
                source=str(entry.get("source", "?")),
                ok=entry.get("ok") if isinstance(entry.get("ok"), bool) else None,
                resources=str(entry.get("resources", "")),
                pages=str(entry.get("pages", "")),
                problems=tuple(str(p) for p in problems) if isinstance(problems, list) else (),
                applicable=entry.get("applicable", True) is not False,
            )
        )
    return out


def rule_outcome(trace: Any, rules: Sequence[str], observation: str | None) -> RuleRow | None:
    """One rule's outcome in a stored trace (for the ALP `observation` when given)."""
    for evaluation in evaluations(trace):
        if observation and str(evaluation.get("observation")) != observation:
            continue
        for row in _rules(evaluation.get("rules")):
            if row.rule in rules:
                return row
    return None
