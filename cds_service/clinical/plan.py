"""Which cards an evaluation shows, what each says, and which tests each suggests.

These are clinical decisions, so they live here rather than in rendering: a test is suggested
once per result set (by the highest-priority card that asks for it), never while an order for it
is open or a result for it lies inside its look-back window (the card says which), and only when
its own condition holds. `render/cards.py` turns a plan into CDS Hooks JSON.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from cds_service.clinical.engine import (
    AlpEvaluation,
    RuleOutcome,
    check,
    mentions,
    render_text,
    summary_text,
)
from cds_service.clinical.facts import Facts
from cds_service.knowledge.model import KnowledgeBase, Orderable, TextItem


@dataclass(frozen=True)
class PlannedSuggestion:
    orderable: Orderable
    recommended: bool
    occurrence_weeks: tuple[float, float] | None = None
    """The test is for later: this many weeks after the result."""


@dataclass
class CardPlan:
    outcome: RuleOutcome
    facts: Facts
    summary: str
    finding: str
    reasoning: str
    steps: list[str] = field(default_factory=list)
    cautions: list[str] = field(default_factory=list)
    suggestions: list[PlannedSuggestion] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    """Tests not suggested because they are done or ordered, as the card says it."""
    factors: list[str] = field(default_factory=list)
    """What in the record explains or contributes, by name."""

    @property
    def rule_id(self) -> str:
        return self.outcome.rule.id


def plan(kb: KnowledgeBase, evaluations: Sequence[AlpEvaluation]) -> list[CardPlan]:
    plans: list[CardPlan] = []
    for evaluation in evaluations:
        facts = evaluation.facts
        if facts is None:
            continue
        annotations = [
            render_text(o.rule.annotation or "", facts, kb) for o in evaluation.shown("annotation")
        ]
        suggested: set[str] = set()
        cards = [
            _plan_card(kb, outcome, facts, suggested, annotations)
            for outcome in evaluation.shown("card")
        ]
        # Twenty-first round, part G (review 34, R34-23, R34-48): a warning never trails an info
        # card. Rules are evaluated by priority, which ranks what suppresses what, not urgency:
        # the cards are ordered by indicator first, priority within it (a stable sort).
        cards.sort(key=lambda card: -INDICATOR_RANK.get(_indicator(card), 0))
        plans.extend(cards)
    return plans


INDICATOR_RANK = {"critical": 2, "warning": 1, "info": 0}
"""A card's urgency, for its place in the response (critical first)."""


def _indicator(card: CardPlan) -> str:
    template = card.outcome.rule.card
    return template.indicator if template is not None else "info"


def _plan_card(
    kb: KnowledgeBase,
    outcome: RuleOutcome,
    facts: Facts,
    suggested: set[str],
    annotations: Sequence[str],
) -> CardPlan:
    template = outcome.rule.card
    if template is None:
        raise ValueError(f"rule {outcome.rule.id} has no card")
    card = CardPlan(
        outcome=outcome,
        facts=facts,
        summary=summary_text(kb, template.summary, facts),
        finding=_finding(kb, template.finding, facts, template.finding_of),
        reasoning=render_text(template.reasoning, facts, kb),
        # A drug that can explain the ALP leads: it is the first thing to act on, after any line
        # the card marks `leads` (HELLP by its criteria: R32-30).
        steps=_lines(kb, [i for i in template.next_steps if i.leads], facts)
        + list(annotations)
        + _lines(kb, [i for i in template.next_steps if not i.leads], facts),
        cautions=_lines(kb, template.cautions, facts),
        factors=contributing_factors(kb, facts, template.record_omits),
    )
    for item in template.suggest:
        if item.only_if is not None and not check(kb, item.only_if, facts).held:
            continue
        orderable = kb.orderables[item.orderable]
        if orderable.id in suggested:
            continue  # another card of this result set asks for it
        done = _already(orderable, facts)
        if done:
            card.already.append(done)
            continue
        weeks = (
            (kb.param(item.occurrence[0]), kb.param(item.occurrence[1]))
            if item.occurrence
            else None
        )
        card.suggestions.append(PlannedSuggestion(orderable, item.recommended, weeks))
        if item.note:
            card.steps.append(render_text(item.note, facts, kb))
        suggested.add(orderable.id)
    return card


def _already(orderable: Orderable, facts: Facts) -> str | None:
    open_orders: Mapping[str, str] = facts.details.get("open_orders", {})
    if orderable.id in open_orders:
        return f"{orderable.label} (on order)"
    recent: Mapping[str, tuple[str, str]] = facts.details.get("recent_results", {})
    if orderable.id in recent:
        return f"{orderable.label} ({recent[orderable.id][1]})"
    return None


def _lines(kb: KnowledgeBase, items: Sequence[TextItem], facts: Facts) -> list[str]:
    return [
        render_text(item.text, facts, kb)
        for item in items
        if item.only_if is None or check(kb, item.only_if, facts).held
    ]


PRELIMINARY = "Preliminary result: confirm on the final report."


def _finding(
    kb: KnowledgeBase, template: Sequence[TextItem], facts: Facts, result: str = "alp"
) -> str:
    """The card's finding line. A preliminary result says so on the card whose finding it is:
    the laboratory has not released it and may still correct it or hold it for a flag (review
    19, R19-42; FHIR ObservationStatus: "data may be incomplete or unverified"). Status is per
    result: a final calcium's card does not carry the ALP's preliminary status (review 22,
    R22-45); the ALP's own card, beside it, does."""
    finding = summary_text(kb, template, facts)
    preliminary = facts.get(f"{result}.preliminary") is True
    return f"{finding} {PRELIMINARY}" if preliminary else finding


def contributing_factors(kb: KnowledgeBase, facts: Facts, omits: Sequence[str] = ()) -> list[str]:
    """What in the record bears on this ALP, in the record's words: findings of the ALP's
    direction (and drugs every card should name), pregnancy, a non-fasting specimen. A mention
    the card names itself (`omits`: the urgent magnesium card's magnesium) is left out, and so is
    the same words found by another finding (twenty-first round, part B)."""
    status = facts.get("alp.status")
    # "none" findings explain neither direction but are context on every card (a drug to review);
    # "unlisted" ones are read only by the rules that name them (a child's limp).
    wanted = {"high": {"high", "both"}, "low": {"low", "both"}}.get(status, set()) | {"none"}
    found: Mapping[str, list[str]] = facts.details.get("mentions", {})
    ids = [f for f in found if kb.findings[f].direction in wanted]
    # Twenty-first round, part L (review 37, R37-12): every mention of an omitted finding, not
    # `mentions`' one-per-entry list (an overdose found by two findings was named by the second).
    said = {mention for finding_id in omits for mention in found.get(finding_id, ())}
    lines = [line for line in mentions(kb, facts, ids) if line not in said]
    if status == "high" and facts.get("pregnancy.status") == "pregnant":
        # Review 26 (minor): whole weeks and days (33+2 weeks), as obstetrics writes them.
        gestation = facts.get("pregnancy.gestation")
        trimester = facts.get("pregnancy.trimester")
        lines.append(
            f"pregnant, {gestation}"
            if gestation
            else f"pregnant ({trimester} trimester)"
            if trimester != "unknown"
            else "pregnant (weeks not known)"
        )
    if status == "high" and facts.get("specimen.fasting") == "non-fasting":
        lines.append("non-fasting specimen")
    return lines
