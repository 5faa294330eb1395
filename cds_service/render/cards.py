"""Turn card plans into CDS Hooks cards (ARCHITECTURE.md section 5).

The detail is written for a 20-second read: the finding, why, what to do, what in the record
explains or contributes, and one line for data that could not be had. Criteria, citations, rule
ids and versions are one click away (the rulebook link) and in the audit trail, not on the card.
Which cards show and which tests they suggest was decided in `clinical/plan.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from cds_service.clinical.engine import AlpEvaluation
from cds_service.clinical.plan import CardPlan, PlannedSuggestion, plan
from cds_service.hooks.response import Action, Card, Coding, Link, Source, Suggestion
from cds_service.hooks.trace import CardIssued
from cds_service.knowledge.model import KnowledgeBase, Rule
from cds_service.render.orders import service_request

SUMMARY_LIMIT = 139
RULE_SYSTEM = "urn:alp-cds:rule"


@dataclass(frozen=True)
class RenderContext:
    """What cards need beyond the evaluation: where the rulebook lives and who is ordering."""

    base_url: str
    patient_id: str
    user: str | None
    encounter_id: str | None
    new_uuid: Callable[[], str]
    local_codes: Mapping[str, Sequence[Coding]] = field(default_factory=dict)
    unavailable: Sequence[str] = ()


def rule_url(kb: KnowledgeBase, base_url: str, rule: Rule) -> str:
    return f"{base_url.rstrip('/')}{kb.header['rulebook_path']}#{rule.id}"


def render(
    kb: KnowledgeBase, evaluations: Sequence[AlpEvaluation], ctx: RenderContext
) -> list[Card]:
    return [card(kb, planned, ctx) for planned in plan(kb, evaluations)]


def shorten(summary: str, limit: int = SUMMARY_LIMIT) -> str:
    """A summary under the CDS Hooks limit: a longer one is cut at the last whole word that
    fits, never mid-word, and ends with an ellipsis."""
    if len(summary) <= limit:
        return summary
    cut = summary[: limit - 1]
    if not summary[limit - 1].isspace() and " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:-") + "…"


def card(kb: KnowledgeBase, planned: CardPlan, ctx: RenderContext) -> Card:
    rule = planned.outcome.rule
    template = rule.card
    if template is None:
        raise ValueError(f"rule {rule.id} has no card")
    summary = shorten(planned.summary)
    suggestions = tuple(_suggestion(s, planned, ctx) for s in planned.suggestions)
    url = rule_url(kb, ctx.base_url, rule)
    reasons = tuple(
        Coding(kb.override_system, code, kb.override_reasons[code])
        for code in template.override_reasons
    )
    return Card(
        uuid=ctx.new_uuid(),
        summary=summary,
        indicator=template.indicator,  # type: ignore[arg-type]
        detail=detail(planned, ctx.unavailable),
        source=Source(
            label=kb.header["source_label"],
            url=url,
            topic=Coding(RULE_SYSTEM, rule.topic, rule.id),
        ),
        suggestions=suggestions,
        selection_behavior="any" if suggestions else None,
        # Every card offers override reasons, so every dismissal can be audited.
        override_reasons=reasons,
        links=(Link(label=f"Why this card: {rule.title}"[:120], url=url),),
    )


def _suggestion(planned: PlannedSuggestion, card_plan: CardPlan, ctx: RenderContext) -> Suggestion:
    orderable = planned.orderable
    label = orderable.order_label
    occurrence = None
    if planned.occurrence_weeks:
        start, end = planned.occurrence_weeks
        when = card_plan.facts.details["alp_when"]
        occurrence = (
            (when + timedelta(weeks=start)).date().isoformat(),
            (when + timedelta(weeks=end)).date().isoformat(),
        )
        label = f"{label} in {start:g}-{end:g} weeks"
    resource = service_request(
        orderable,
        patient_id=ctx.patient_id,
        reason=card_plan.facts.details["alp_reference"],
        requester=ctx.user,
        encounter_id=ctx.encounter_id,
        local_codes=ctx.local_codes.get(orderable.id, ()),
        occurrence=occurrence,
    )
    return Suggestion(
        label=label,
        uuid=ctx.new_uuid(),
        is_recommended=True if planned.recommended else None,
        actions=(Action("create", f"Propose a {orderable.label} order", resource),),
    )


def detail(planned: CardPlan, unavailable: Sequence[str]) -> str:
    parts = [planned.finding, planned.reasoning]
    bullets = [f"- {_sentence(s)}" for s in planned.steps]
    bullets += [f"- **Caution:** {c}" for c in planned.cautions]
    if bullets:
        parts.append("\n".join(bullets))
    tail = []
    if planned.already:
        tail.append(f"Already done or ordered: {'; '.join(planned.already)}.")
    if unavailable:
        tail.append(f"Not available: {', '.join(unavailable)}.")
    record = _record_line(planned.factors, [*parts, *tail]) if planned.factors else ""
    if record:
        tail.insert(0, record)
    if tail:
        parts.append("\n".join(tail))
    return "\n\n".join(p for p in parts if p)


DETAIL_MAX_WORDS = 130
"""A card's detail is read in 20 seconds: at most this many words (the card contract)."""


def _record_line(factors: Sequence[str], parts: Sequence[str]) -> str:
    """ "In the record: ...", its mentions cut from the end (counted) when the whole detail
    would pass DETAIL_MAX_WORDS: the card's own lines come first (twenty-first round, part G;
    review 34, R34-36: a cholangitis warning at 153 words listing every infection sign). When
    not even one fits, the count alone ("In the record: 4 more items."), so the reader knows
    the record was read (twenty-second round, part D); no line only when not even that fits."""
    used = sum(len(p.split()) for p in parts if p)
    shown = list(factors)
    line = f"In the record: {'; '.join(shown)}."
    while used + len(line.split()) > DETAIL_MAX_WORDS and shown:
        shown.pop()
        left = len(factors) - len(shown)
        line = (
            f"In the record: {'; '.join(shown)} (and {left} more)."
            if shown
            else f"In the record: {left} more item{'' if left == 1 else 's'}."
        )
    return line if used + len(line.split()) <= DETAIL_MAX_WORDS else ""


def _sentence(text: str) -> str:
    """A bullet starts with a capital, even when it starts with a drug's name."""
    return text[:1].upper() + text[1:]


def card_trace(
    evaluations: Sequence[AlpEvaluation], cards: Sequence[Card]
) -> tuple[CardIssued, ...]:
    """What the audit trail keeps of each card, with the rule that issued it. `render` makes one
    card per shown card rule, in this order; a mismatch is a bug, so it raises."""
    issuers = [o.rule for e in evaluations if e.facts is not None for o in e.shown("card")]
    return tuple(
        CardIssued.of(card, rule.id, rule.version)
        for card, rule in zip(cards, issuers, strict=True)
    )
