"""Rule evaluation: every active rule against the facts of each ALP result, with a full trace.

A rule fires when all its conditions hold. For each rule the outcome keeps every condition with
the fact's value and whether it held, so a reviewer can read why a card fired or why not (the
handler copies them into the decision trace, hooks/trace.py).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cds_service.clinical.classify import Classified, classify, result_name_matches
from cds_service.clinical.facts import Facts, Skipped, alp_floor, derive
from cds_service.clinical.findings import KEYS_SEP
from cds_service.clinical.labs import (
    effective_time,
    measured_ul,
    result_quantity,
    unusable_reason,
)
from cds_service.clinical.record import PatientRecord
from cds_service.fhir.values import resource_key
from cds_service.knowledge.model import (
    PLACEHOLDER_RE,
    Condition,
    KnowledgeBase,
    PreparedCondition,
    Rule,
    TextItem,
)

NUMERIC: dict[str, Callable[[float, float], bool]] = {
    "at_least": operator.ge,
    "above": operator.gt,
    "at_most": operator.le,
    "below": operator.lt,
}


# Checks, outcomes and entries are made by the hundred per call: slotted and not frozen (a
# frozen dataclass sets each field through object.__setattr__, four times the cost). Nothing
# changes them after they are made.
@dataclass(slots=True)
class Check:
    says: str
    held: bool
    fact: str | None = None
    value: Any = None
    children: tuple[Check, ...] = ()
    not_known: tuple[str, ...] = ()
    """Record kinds the fact depends on that could not be had: the check was decided on what
    was available, and says so."""


@dataclass(slots=True)
class RuleOutcome:
    rule: Rule
    fired: bool
    checks: tuple[Check, ...]
    suppressed_by: str | None = None

    @property
    def why_not(self) -> str | None:
        if self.suppressed_by in self.rule.replaces:
            return f"shows only in place of {self.suppressed_by}, which did not fire"
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
    _, key, test = _prepared(kb, condition)
    if facts.checked_for is not kb:
        facts.checked.clear()
        facts.checked_for = kb
    done: Check | None = facts.checked.get(key)
    if done is None:
        done = _check(kb, condition, test, facts)
        facts.checked[key] = done
    return done


def _prepared(kb: KnowledgeBase, condition: Condition) -> PreparedCondition:
    known = kb.condition_memo.get(id(condition))
    if known is None or known[0] is not condition:  # the object itself, not just its id
        known = _prepare(kb, condition)
        kb.condition_memo[id(condition)] = known
    return known


def _prepare(kb: KnowledgeBase, condition: Condition) -> PreparedCondition:
    """A condition made ready once per knowledge base: the key under which its check is shared
    by every rule that words and tests it the same way, and, for a leaf, its test with the
    operand (a parameter read once) and operator bound."""
    if condition.combinator:
        children = [_prepared(kb, c)[1] for c in condition.children]
        return (condition, repr((condition.says, condition.combinator, children)), None)
    if condition.fact is None or condition.operator is None:
        raise ValueError(f"condition {condition.says!r} has neither a fact test nor children")
    operand = _operand(kb, condition.operand)
    key = repr((condition.says, condition.fact, condition.operator, operand))
    return (condition, key, _test(condition.operator, operand))


def _check(
    kb: KnowledgeBase, condition: Condition, test: Callable[[Any], bool] | None, facts: Facts
) -> Check:
    says = render_text(condition.says, facts, kb)
    if test is None or condition.fact is None:  # a combinator (_prepare)
        children = tuple(check(kb, c, facts) for c in condition.children)
        if condition.combinator == "all":
            held = all(c.held for c in children)
        elif condition.combinator == "any":
            held = any(c.held for c in children)
        else:
            held = not any(c.held for c in children)
        return Check(says, held, children=children)
    value = facts.get(condition.fact)
    missing = facts.unknown_because(condition.fact)
    if missing:
        says = f"{says} (not known: {', '.join(missing)} unavailable)"
    return Check(says, test(value), condition.fact, value, not_known=missing)


def _test(operator: str, operand: Any) -> Callable[[Any], bool]:
    """A leaf condition as a function of its fact's value."""
    if operator in NUMERIC:
        compare = NUMERIC[operator]

        def threshold(value: Any) -> bool:
            # An unknown number never satisfies a threshold.
            if not isinstance(value, int | float) or isinstance(value, bool):
                return False
            return bool(compare(value, operand))

        return threshold
    return lambda value: _holds(operator, value, operand)


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
    """Conditions in order up to the first that fails: a rule that fired keeps every check, one
    that did not keeps the checks up to the one that failed (what its `why_not` and the trace
    read), so the rest are never computed."""
    checks: list[Check] = []
    for condition in rule.conditions:
        checks.append(check(kb, condition, facts))
        if not checks[-1].held:
            return RuleOutcome(rule, False, tuple(checks))
    return RuleOutcome(rule, True, tuple(checks))


def replay(kb: KnowledgeBase, facts: Facts, observation: str) -> AlpEvaluation:
    """Evaluate `kb`'s rules on facts already derived (a stored evaluation)."""
    return _outcomes(kb, AlpEvaluation(observation, facts), facts)


def evaluate_alp(
    kb: KnowledgeBase,
    record: PatientRecord,
    alp: Mapping[str, Any],
    classified: Classified | None = None,
) -> AlpEvaluation:
    derived = derive(kb, record, alp, classified)
    if isinstance(derived, Skipped):
        return AlpEvaluation(derived.observation, None, skipped=derived.reason)
    return _outcomes(kb, AlpEvaluation(resource_key(alp), derived), derived)


def _outcomes(kb: KnowledgeBase, evaluation: AlpEvaluation, derived: Facts) -> AlpEvaluation:
    rules = sorted(kb.active_rules(), key=lambda r: (-r.priority, r.id))
    outcomes = [evaluate_rule(kb, rule, derived) for rule in rules]
    # A rule that `replaces` others and ends up hidden (none of them shown) suppresses nothing:
    # its own lines stand in for the ones it hides, so they must show where it does not
    # (twentieth round, part E: the drug-jaundice line when another card hides the liver card).
    hidden: set[str] = set()
    while True:
        suppressed = _suppressed(outcomes, hidden)
        _replace(outcomes, suppressed)
        newly = {
            o.rule.id
            for o in outcomes
            if o.fired and o.rule.replaces and o.rule.suppresses and o.rule.id in suppressed
        } - hidden
        if not newly:
            break
        hidden |= newly
    for outcome in outcomes:
        if outcome.fired and outcome.rule.id in suppressed:
            outcome = RuleOutcome(outcome.rule, True, outcome.checks, suppressed[outcome.rule.id])
        evaluation.outcomes.append(outcome)
    return evaluation


def _suppressed(outcomes: list[RuleOutcome], hidden: set[str]) -> dict[str, str]:
    """What each fired rule hides, in priority order; a hidden rule hides nothing."""
    suppressed: dict[str, str] = {}
    for outcome in outcomes:
        rule_id = outcome.rule.id
        if not outcome.fired or rule_id in suppressed or rule_id in hidden:
            continue
        targets = (
            [o.rule.id for o in outcomes if o.rule.id != rule_id]
            if outcome.rule.exclusive
            else outcome.rule.suppresses
        )
        for target in targets:
            suppressed.setdefault(target, rule_id)
    return suppressed


def _replace(outcomes: list[RuleOutcome], suppressed: dict[str, str]) -> None:
    """A rule that `replaces` others shows only where one of them would have shown (it fired
    and no other rule hid it), and then hides it. Otherwise it is hidden by what hid them, or,
    when none of them fired, marked with the first of them (`RuleOutcome.why_not` says so).
    Eighteenth round, part C (review 18, E10): the liver-not-cleared card stands in for the
    bone-source card, never beside the specific cards (pregnancy, TMA, acute injury) that
    already hide that one."""
    fired = {o.rule.id for o in outcomes if o.fired}
    for outcome in outcomes:
        rule = outcome.rule
        if not outcome.fired or not rule.replaces or rule.id in suppressed:
            continue
        shown = [t for t in rule.replaces if t in fired and t not in suppressed]
        for target in shown:
            suppressed[target] = rule.id
        if not shown:
            hidden = next((suppressed[t] for t in rule.replaces if t in suppressed), None)
            suppressed[rule.id] = hidden or rule.replaces[0]


def alp_results(kb: KnowledgeBase, resources: Any) -> list[Mapping[str, Any]]:
    """Total-ALP Observations among `resources`."""
    return [r for r in resources if r.get("resourceType") == "Observation" and is_total_alp(kb, r)]


def is_total_alp(kb: KnowledgeBase, observation: Mapping[str, Any]) -> bool:
    """By a code in alp-total, else, with no code of it in any value set, by its words ("ALK
    PHOS" under a local code; twelfth round, part D)."""
    found = kb.classify(observation.get("code"))
    if "alp-total" in found:
        return True
    return not found and "alp-total" in result_name_matches(kb, observation.get("code"))


def definitive(kb: KnowledgeBase, alps: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The ALP a result set is answered on: the latest interpretable value without a comparator
    (a ">1000" screen is superseded by its diluted re-assay), else the latest with one."""
    floor = alp_floor(kb)
    usable = [a for a in alps if unusable_reason(a) is None and measured_ul(a, kb.units, floor)]
    if not usable:
        return None

    def rank(alp: Mapping[str, Any]) -> tuple[bool, datetime]:
        quantity = result_quantity(alp) or {}
        when = effective_time(alp) or datetime.min.replace(tzinfo=UTC)
        return (not quantity.get("comparator"), when)

    return max(usable, key=rank)


def evaluate(kb: KnowledgeBase, record: PatientRecord) -> list[AlpEvaluation]:
    """One answer per result set: several ALPs signed together are evaluated once, on the
    definitive value; the others are recorded as superseded by it."""
    alps = alp_results(kb, record.results)
    if not alps:
        return []
    classified = classify(kb, record)
    chosen = definitive(kb, alps)
    evaluations = []
    for alp in alps:
        if chosen is not None and alp is not chosen:
            reason = f"superseded by {resource_key(chosen)}: one answer per result set"
            evaluations.append(AlpEvaluation(resource_key(alp), None, skipped=reason))
        else:
            evaluations.append(evaluate_alp(kb, record, alp, classified))
    return evaluations


# The card contract's summary length (the CDS Hooks hard limit is 140).
SUMMARY_TARGET = 126


def summary_text(kb: KnowledgeBase, variants: Sequence[TextItem], facts: Facts) -> str:
    """The first summary variant whose condition holds (the last has none). A summary over
    SUMMARY_TARGET that lists labels (`{{labels.X}}`) names only as many as fit, the rest as
    "N more" (review 28, R28-38: three causes cut the summary off at "may..."); the detail's
    record line names them all."""
    chosen = next(
        (v for v in variants if v.only_if is None or check(kb, v.only_if, facts).held),
        variants[-1],
    )
    text = render_text(chosen.text, facts, kb)
    if len(text) <= SUMMARY_TARGET or "{{labels." not in chosen.text:
        return text
    most = max(
        (
            len(labels(kb, facts, n[7:]))
            for n in PLACEHOLDER_RE.findall(chosen.text)
            if n.startswith("labels.")
        ),
        default=0,
    )
    for cap in range(most - 1, 0, -1):
        text = _render(chosen.text, facts, kb, labels_cap=cap)
        if len(text) <= SUMMARY_TARGET:
            break
    return text


def mentions(kb: KnowledgeBase, facts: Facts, finding_ids: Sequence[str]) -> list[str]:
    """How a card names the findings present among `finding_ids`, in the record's words."""
    found: Mapping[str, list[str]] = facts.details.get("mentions", {})
    # The entry each mention names (absent in evaluations stored before the twelfth round):
    # one entry found by two findings is named once, by the first (a stent was printed twice,
    # as "a biliary stent" and as "biliary drainage or a biliary stent").
    keys: Mapping[str, list[str]] = facts.details.get("mention_keys", {})
    out: list[str] = []
    named: set[str] = set()
    for finding_id in finding_ids:
        entries = keys.get(finding_id, ())
        for i, mention in enumerate(found.get(finding_id, ())):
            # One mention may name several entries (a drug's request and its doses given).
            key = set(entries[i].split(KEYS_SEP)) if i < len(entries) else set()
            if mention in out or key & named:
                continue
            out.append(mention)
            named |= key
    return out


def labels(kb: KnowledgeBase, facts: Facts, name: str) -> list[str]:
    """The knowledge base's labels of the findings present in a group (or of one finding): a
    short name for a summary, where the record's own words ("paracetamol poisoning,
    intentional self-harm, initial encounter") would not fit."""
    present = facts.get("findings.present") or []
    ids = kb.groups.get(name, [name])
    found = list(dict.fromkeys(kb.findings[f].label or f for f in ids if f in present))
    # One thing named once (twentieth round, part H, R30-45): a label that another present
    # label ends with ("hypothyroidism" beside "untreated hypothyroidism", the coded finding and
    # the measured one) is the same condition said less exactly.
    return [x for x in found if not any(o != x and o.endswith(f" {x}") for o in found)]


def render_text(template: str, facts: Facts, kb: KnowledgeBase) -> str:
    """Fill `{{fact}}` and `{{param.name}}` placeholders; whitespace collapses to single spaces.
    A text that names only parameters reads the same for every record: it is rendered once per
    knowledge base (most rule conditions are such texts)."""
    known = kb.text_memo.get(template)
    if known:  # (text,): the same for every record
        return known[0]
    text = _render(template, facts, kb)
    if known is None:  # first sight: remember whether it names anything but parameters
        fixed = all(name.startswith("param.") for name in PLACEHOLDER_RE.findall(template))
        kb.text_memo.remember(template, (text,) if fixed else ())
    return text


def listed(items: Sequence[str], cap: int | None = None) -> str:
    """Items in a phrase: "a, b and c"; beyond `cap`, the rest counted ("a, b and 2 more")."""
    if cap is not None and len(items) > cap:
        return ", ".join(items[:cap]) + f" and {len(items) - cap} more"
    return " and ".join([", ".join(items[:-1]), items[-1]]) if len(items) > 1 else "".join(items)


def _render(template: str, facts: Facts, kb: KnowledgeBase, labels_cap: int | None = None) -> str:

    def replace(match: Any) -> str:
        name = match.group(1)
        if name.startswith("param."):
            value: Any = kb.param(name.removeprefix("param."))
        elif name.startswith("group."):
            value = "; ".join(mentions(kb, facts, kb.groups[name.removeprefix("group.")])) or None
        elif name.startswith("explaining."):
            # Only the group's findings that can explain this ALP's height (eighteenth round:
            # "consistent with fracture of femur" at 2.5x named a cause that cannot explain it).
            explaining = set(facts.get("findings.explaining") or [])
            group = kb.groups[name.removeprefix("explaining.")]
            value = "; ".join(mentions(kb, facts, [f for f in group if f in explaining])) or None
        elif name.startswith("finding."):
            value = "; ".join(mentions(kb, facts, [name.removeprefix("finding.")])) or None
        elif name.startswith("drug."):
            # A drug's name alone, inside a sentence: its record words without the dates
            # ("Denosumab, given 1 Dec 2026" reads "Denosumab"; nineteenth round, part J, R27-07).
            names = [_bare_drug(m) for m in mentions(kb, facts, [name.removeprefix("drug.")])]
            value = "; ".join(dict.fromkeys(names)) or None
        elif name.startswith("list."):
            # A group in a phrase ("from heart failure, amiodarone or liver metastases"): the
            # record's words joined with commas, a capital that only opens a word lowered
            # ("Amiodarone", not "TPN"; nineteenth round, part H, R23-16).
            found = mentions(kb, facts, kb.groups[name.removeprefix("list.")])
            value = ", ".join(_in_phrase(m) for m in found) or None
        elif name.startswith("labels."):
            value = listed(labels(kb, facts, name.removeprefix("labels.")), labels_cap) or None
        else:
            value = facts.get(name)
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value) or "none"
        if isinstance(value, float):
            # Facts keep three decimals for the rules; people read one.
            value = f"{value:.1f}"
        return "unknown" if value is None else str(value)

    text = " ".join(PLACEHOLDER_RE.sub(replace, template).split())
    # A count filled into a plural ("{{pregnancy.days_since_delivery}} days"): one is singular
    # (not "32+1 weeks", a gestation: review 26).
    return _ONE_PLURAL.sub(r"\1", text)


_DRUG_DATES = re.compile(r", (?:last given|given|stopped|started|ordered) .*$")


def _bare_drug(mention: str) -> str:
    """A medication mention without the dates a record line carries ("co-amoxiclav, started
    10 Nov 2026, stopped 9 Dec 2026" -> "co-amoxiclav")."""
    return _DRUG_DATES.sub("", mention)


def _in_phrase(mention: str) -> str:
    """A record's words inside a sentence: "Amiodarone" reads "amiodarone"; "TPN" is kept."""
    if len(mention) > 1 and mention[0].isupper() and mention[1].islower():
        return mention[0].lower() + mention[1:]
    return mention


_ONE_PLURAL = re.compile(r"(?<![\d.,+])(1 (?:day|week|month|year))s\b")
