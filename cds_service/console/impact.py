"""Impact of a candidate knowledge base: what a changed `cards/` folder would have shown on the
invocations already answered, before it ships.

Each stored invocation's decision trace holds, per ALP result, the facts the rules were tested
on. For every one of the period, the facts are rebuilt from the trace (`facts_from_trace`, the one
place that reads the stored trace format), the rules of the current and of the candidate
knowledge base are evaluated on them, and the cards each would show are compared by rule: a card
appears (only the candidate shows it), goes (only the current one does), changes (both show it,
with another summary, indicator or set of suggested orders), or stays the same.

What replay cannot show: the facts were derived when the call was answered, with the knowledge
base then in service. A change that alters how facts are derived (value sets, reference
intervals, findings, units, a parameter no rule tests) is not visible on stored facts; the report
says so when the candidate differs there. Thresholds that rules test, rule logic, card text and
suggestions are replayed exactly.

Used by `alp-cds kb impact` and the console's impact preview, so both give the same answer.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from cds_service.audit import reports
from cds_service.clinical.engine import replay
from cds_service.clinical.facts import FACTS, Facts
from cds_service.clinical.plan import plan
from cds_service.hooks.trace import DecisionTrace
from cds_service.knowledge import loader
from cds_service.knowledge.model import Condition, KnowledgeBase, Rule
from cds_service.render.rulebook import rule_entry

KINDS = ("appear", "change", "go")
# About 2 ms per stored evaluation on one core with rulebook v2 (both knowledge bases, rules
# and card plans): the console's preview stays well inside gunicorn's request timeout;
# `kb impact --limit` can go further.
DEFAULT_LIMIT = 2_000
PREVIEW_BUDGET_SECONDS = 10.0
"""How long the console's preview replays before it stops and says so. It runs in a worker that
also answers EHR calls, and competes with them for the interpreter: an independent QA measured
hook calls going from 10 ms to a median of 60 ms while two previews of 2,000 invocations ran
for 30 s each. `alp-cds kb impact` has no budget."""
PREVIEW_LOCK = threading.Lock()
"""One preview at a time in a worker process: a second "Run" is told to wait, not queued."""
NOT_IN_TRACE = "(from the stored trace)"


def load_candidate(folder: Path, current: KnowledgeBase) -> KnowledgeBase:
    """The candidate, loaded and checked exactly as the service loads `cards/` at start-up
    (a broken candidate raises KnowledgeBaseError naming the file and the problem), with the
    deployment's local result codes the current one was given: configuration, not content, so
    not a difference to report."""
    candidate = loader.load(folder, FACTS)
    if not current.deployment_result_codes:
        return candidate
    return candidate.with_local_result_codes(current.deployment_result_codes)


# --- the stored trace -> facts ----------------------------------------------------------------


def facts_from_trace(
    evaluation: Mapping[str, Any], kb: KnowledgeBase | None = None
) -> Facts | None:
    """The facts one stored evaluation was decided on, rebuilt from its decision trace; None for
    an ALP result that was not interpreted (no facts were derived).

    THE one function in the replay that knows how facts are stored in the audit trace (the dict
    `AlpEvaluation.to_json` writes). Since the trace keeps each evaluation's `context` (the
    details card text needs), `Facts.from_trace` rebuilds them exactly. Records stored before
    that have only `facts`, `findings` and `observation`: what card plans need beyond them is
    rebuilt here as well as it can be (which orderables are on order or recently resulted, not
    which resource or date; the finding's label standing in for how a card named it), so old
    records still replay, with summaries that may name findings differently.
    """
    stored = evaluation.get("facts")
    if not isinstance(stored, Mapping) or evaluation.get("not_interpreted"):
        return None
    context = evaluation.get("context")
    if isinstance(context, Mapping):
        return Facts.from_trace(stored, context)
    facts = Facts()
    for name, entry in stored.items():
        if isinstance(entry, Mapping):
            facts.set(str(name), entry.get("value"), entry.get("from") or (), entry.get("note"))
    findings = evaluation.get("findings")
    facts.details["findings"] = dict(findings) if isinstance(findings, Mapping) else {}
    facts.details["alp_reference"] = str(evaluation.get("observation") or "")
    facts.details["alp_when"] = _day_start(facts.get("alp.date"))
    facts.details["mentions"] = {f: [_label(kb, f)] for f in facts.details["findings"]}
    facts.details["alp_ul"] = facts.get("alp.value_ul")
    facts.details["alp_uln"] = _number(facts.get("alp.high"))
    facts.details["open_orders"] = dict.fromkeys(_names(facts.get("orders.open")), NOT_IN_TRACE)
    facts.details["recent_results"] = dict.fromkeys(
        _names(facts.get("results.recent")), (NOT_IN_TRACE, "an unrecorded date")
    )
    return facts


def _label(kb: KnowledgeBase | None, finding: str) -> str:
    found = kb.findings.get(finding) if kb else None
    return found.label if found else finding


def stored_evaluations(
    trace: Any, kb: KnowledgeBase | None = None
) -> Iterator[tuple[str, Facts | None]]:
    """(ALP observation, facts or None) for each evaluation in one stored trace."""
    trace = trace.to_json() if isinstance(trace, DecisionTrace) else trace
    evaluations = trace.get("evaluations") if isinstance(trace, Mapping) else None
    for evaluation in evaluations if isinstance(evaluations, list) else ():
        if isinstance(evaluation, Mapping):
            yield str(evaluation.get("observation") or "?"), facts_from_trace(evaluation, kb)


def _day_start(value: Any) -> datetime | None:
    try:
        day = date.fromisoformat(str(value))
    except ValueError:
        return None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _names(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list | tuple) else []


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


# --- the cards a knowledge base shows on given facts ------------------------------------------


@dataclass(frozen=True)
class CardView:
    """What the comparison looks at in a card."""

    rule: str
    indicator: str
    summary: str
    orders: tuple[str, ...]
    """Suggested orders, by label."""
    codes: tuple[str, ...]
    """Their first codings, system|code: what the comparison uses (labels may be reworded)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "indicator": self.indicator,
            "summary": self.summary,
            "orders": list(self.orders),
        }


def cards_on(kb: KnowledgeBase, observation: str, facts: Facts) -> dict[str, CardView]:
    """The cards a knowledge base shows for one ALP's facts, by rule id: the card plan the
    service renders from (`clinical.plan`), so suggestions are chosen as the service chooses
    them."""
    views = {}
    for planned in plan(kb, [replay(kb, facts, observation)]):
        rule = planned.outcome.rule
        orders, codes = [], []
        for suggestion in planned.suggestions:
            weeks = suggestion.occurrence_weeks
            when = f" in {weeks[0]:g}-{weeks[1]:g} weeks" if weeks else ""
            orders.append(suggestion.orderable.order_label + when)
            codes.append(
                f"{suggestion.orderable.system}|{suggestion.orderable.code}"
                + (f"@{weeks[0]:g}-{weeks[1]:g}wk" if weeks else "")
            )
        views[rule.id] = CardView(
            rule=rule.id,
            indicator=rule.card.indicator if rule.card else "info",
            summary=planned.summary,
            orders=tuple(orders),
            codes=tuple(codes),
        )
    return views


def compare(before: Mapping[str, CardView], after: Mapping[str, CardView]) -> dict[str, str]:
    """rule -> appear, go, change or same, for every rule with a card on either side."""
    found = {}
    for rule in sorted(set(before) | set(after)):
        old, new = before.get(rule), after.get(rule)
        if old is None:
            found[rule] = "appear"
        elif new is None:
            found[rule] = "go"
        elif (old.indicator, old.summary, old.codes) != (new.indicator, new.summary, new.codes):
            found[rule] = "change"
        else:
            found[rule] = "same"
    return found


# --- the report -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Example:
    hook_instance: str | None
    received_at: datetime
    observation: str
    before: CardView | None
    after: CardView | None

    def to_json(self) -> dict[str, Any]:
        return {
            "hook_instance": self.hook_instance,
            "received_at": self.received_at.isoformat(),
            "observation": self.observation,
            "before": self.before.to_json() if self.before else None,
            "after": self.after.to_json() if self.after else None,
        }


@dataclass
class RuleImpact:
    rule: str
    title: str
    counts: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[Example]] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return any(self.counts[k] for k in KINDS)

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "title": self.title,
            "appear": self.counts["appear"],
            "change": self.counts["change"],
            "go": self.counts["go"],
            "same": self.counts["same"],
            "examples": {k: [e.to_json() for e in v] for k, v in self.examples.items()},
        }


@dataclass
class ImpactReport:
    candidate: str
    current: tuple[str, str]
    """version, content hash"""
    proposed: tuple[str, str]
    since: datetime
    invocations: int = 0
    evaluations: int = 0
    not_interpreted: int = 0
    other_kb: int = 0
    """Evaluations whose facts were derived under another knowledge base than the current."""
    truncated: bool = False
    stopped_after: float | None = None
    """Seconds after which the replay stopped, its budget spent (`invocations` is then how many
    were replayed)."""
    rules: list[RuleImpact] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def totals(self) -> dict[str, int]:
        return {k: sum(r.counts[k] for r in self.rules) for k in (*KINDS, "same")}

    def to_json(self) -> dict[str, Any]:
        return {
            "candidate": self.candidate,
            "current": {"version": self.current[0], "hash": self.current[1]},
            "candidate_kb": {"version": self.proposed[0], "hash": self.proposed[1]},
            "since": self.since.isoformat(),
            "invocations": self.invocations,
            "evaluations": self.evaluations,
            "not_interpreted": self.not_interpreted,
            "derived_under_other_kb": self.other_kb,
            "truncated": self.truncated,
            "stopped_after_seconds": self.stopped_after,
            "totals": self.totals(),
            "rules": [r.to_json() for r in self.rules],
            "warnings": list(self.warnings),
        }


def impact(
    current: KnowledgeBase,
    candidate: KnowledgeBase,
    engine: Engine,
    since: datetime,
    *,
    candidate_name: str = "candidate",
    limit: int = DEFAULT_LIMIT,
    examples: int = 3,
    budget_seconds: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> ImpactReport:
    """Replay the stored facts of answered invocations since `since` (the newest `limit`) under
    both knowledge bases and count, per rule, the cards that would appear, change or go. With
    `budget_seconds`, stop (newest first) once that much time has passed, and say so."""
    rows, truncated = reports.stored_traces(engine, since, limit)
    started = clock()
    available = len(rows)
    report = ImpactReport(
        candidate=candidate_name,
        current=(current.version, current.content_hash),
        proposed=(candidate.version, candidate.content_hash),
        since=since,
        invocations=len(rows),
        truncated=truncated,
    )
    titles = {r.id: r.title for r in current.rules.values()}
    titles.update({r.id: r.title for r in candidate.rules.values()})
    by_rule: dict[str, RuleImpact] = {}
    seen_facts: set[str] = set()
    for replayed, row in enumerate(rows):
        if budget_seconds is not None and clock() - started > budget_seconds:
            report.stopped_after = budget_seconds
            report.invocations = replayed
            break
        trace = row["trace"]
        kb_hash = (
            (trace.get("knowledge_base") or {}).get("hash") if isinstance(trace, dict) else None
        )
        for observation, facts in stored_evaluations(trace, current):
            if facts is None:
                report.not_interpreted += 1
                continue
            report.evaluations += 1
            if kb_hash != current.content_hash:
                report.other_kb += 1
            seen_facts.update(facts.values)
            before = cards_on(current, observation, facts)
            after = cards_on(candidate, observation, facts)
            for rule, kind in compare(before, after).items():
                entry = by_rule.setdefault(rule, RuleImpact(rule, titles.get(rule, rule)))
                entry.counts[kind] += 1
                listed = entry.examples.setdefault(kind, []) if kind != "same" else None
                if listed is not None and len(listed) < examples:
                    listed.append(
                        Example(
                            row["hook_instance"],
                            row["received_at"],
                            observation,
                            before.get(rule),
                            after.get(rule),
                        )
                    )
    report.rules = sorted(by_rule.values(), key=lambda r: (not r.changed, r.rule))
    report.warnings = _warnings(current, candidate, seen_facts, report)
    if report.stopped_after is not None:
        report.warnings.insert(
            0,
            f"Stopped after {report.stopped_after:g} s: the newest {report.invocations} of "
            f"{available} invocations were replayed. `alp-cds kb impact` replays them all.",
        )
    return report


def _walk(conditions: Iterable[Condition]) -> Iterator[Condition]:
    for condition in conditions:
        yield condition
        yield from _walk(condition.children)


def _facts_tested(rule: Rule) -> set[str]:
    conditions = list(rule.conditions)
    if rule.card:
        conditions += [s.only_if for s in rule.card.suggest if s.only_if]
        conditions += [t.only_if for t in rule.card.items if t.only_if]
    return {c.fact for c in _walk(conditions) if c.fact}


def _rule_parameters(kb: KnowledgeBase) -> set[str]:
    return {p["name"] for rule in kb.rules.values() for p in rule_entry(kb, rule)["parameters"]}


def _warnings(
    current: KnowledgeBase,
    candidate: KnowledgeBase,
    seen_facts: set[str],
    report: ImpactReport,
) -> list[str]:
    warnings = []
    if report.truncated:
        warnings.append(
            f"Only the newest {report.invocations} invocations of the period were replayed."
        )
    if report.evaluations and seen_facts:
        # Facts some evaluations lack (no bilirubin measured, say) are unknown for both sides
        # alike; a fact only the candidate tests, and never stored, makes its rules look quiet.
        current_tests = set().union(*(_facts_tested(r) for r in current.active_rules()))
        for rule in sorted(candidate.active_rules(), key=lambda r: r.id):
            missing = sorted(_facts_tested(rule) - current_tests - seen_facts)
            if missing:
                warnings.append(
                    f"Rule {rule.id} tests {', '.join(missing)}, which no stored evaluation of "
                    "the period holds: replayed as unknown."
                )
    derived = [
        name
        for name, differs in (
            ("value sets", current.valuesets != candidate.valuesets),
            ("reference intervals", current.intervals != candidate.intervals),
            (
                "findings",
                current.findings != candidate.findings or current.groups != candidate.groups,
            ),
            (
                "units",
                current.units != candidate.units
                or current.analyte_units != candidate.analyte_units,
            ),
            ("orderables", current.orderables != candidate.orderables),
        )
        if differs
    ]
    if derived:
        warnings.append(
            f"The candidate changes {', '.join(derived)}: these shape how facts are derived "
            "from the record, and stored facts were derived before the change, so their effect "
            "is not shown here."
        )
    used_by_rules = _rule_parameters(candidate) | _rule_parameters(current)
    changed = sorted(
        name
        for name in set(current.parameters) | set(candidate.parameters)
        if (p := current.parameters.get(name)) is None
        or (q := candidate.parameters.get(name)) is None
        or p.value != q.value
    )
    unreplayable = [name for name in changed if name not in used_by_rules]
    if unreplayable:
        warnings.append(
            f"Changed parameter(s) {', '.join(unreplayable)} are used in deriving facts, not "
            "tested by a rule: their effect is not shown by replaying stored facts."
        )
    if report.other_kb:
        warnings.append(
            f"{report.other_kb} of {report.evaluations} evaluations were derived under another "
            "knowledge-base version than the current one."
        )
    return warnings


def report_text(report: ImpactReport) -> str:
    totals = report.totals()
    lines = [
        f"Candidate {report.candidate}: knowledge base v{report.proposed[0]} "
        f"({report.proposed[1][:12]}) against the current v{report.current[0]} "
        f"({report.current[1][:12]})",
        f"Replayed {report.evaluations} ALP evaluations from {report.invocations} invocations "
        f"since {report.since.date().isoformat()} ({report.not_interpreted} not interpreted).",
        f"Cards that would appear: {totals['appear']}, change: {totals['change']}, "
        f"go: {totals['go']}, stay the same: {totals['same']}.",
        "",
        f"{'rule':34} {'appear':>7} {'change':>7} {'go':>7} {'same':>7}",
    ]
    for rule in report.rules:
        lines.append(
            f"{rule.rule:34} {rule.counts['appear']:>7} {rule.counts['change']:>7} "
            f"{rule.counts['go']:>7} {rule.counts['same']:>7}"
        )
    for rule in (r for r in report.rules if r.changed):
        for kind in KINDS:
            for example in rule.examples.get(kind, []):
                lines.append(
                    f"  {kind:6} {rule.rule}: hookInstance {example.hook_instance} "
                    f"({example.received_at.date().isoformat()}, {example.observation})"
                )
                for side, view in (("before", example.before), ("after", example.after)):
                    if view:
                        orders = f"; orders: {', '.join(view.orders)}" if view.orders else ""
                        lines.append(f"         {side}: [{view.indicator}] {view.summary}{orders}")
    if report.warnings:
        lines.append("")
        lines.extend(f"Note: {w}" for w in report.warnings)
    return "\n".join(lines)


def parse_since(text: str, now: datetime) -> datetime:
    """`30d` (days before now) or an ISO date or date-time (UTC when no zone is given)."""
    value = text.strip()
    if value.endswith("d") and value[:-1].isdigit():
        days = int(value[:-1])
        if not 1 <= days <= 3660:
            raise ValueError("expected from 1d to 3660d")
        return now - timedelta(days=days)
    parsed = datetime.fromisoformat(value)
    parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    try:
        parsed.astimezone(UTC)  # compared in UTC: an offset can push it out of range
    except OverflowError:
        raise ValueError("the date is out of range") from None
    return parsed
