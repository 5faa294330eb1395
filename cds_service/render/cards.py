"""Turn fired rules into CDS Hooks cards (ARCHITECTURE.md section 5).

Cards for one ALP are built in rule priority order and a test already suggested by an earlier
card is not suggested again, so a clinician never sees two cards asking for the same test. A test
with an open order or a result inside its look-back window is not suggested either, and the
card's detail says so. Annotation rules add their text to the ALP's cards; silent rules show
nothing (their decision is in the trace).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from cds_service.clinical.engine import AlpEvaluation, Check, RuleOutcome, check, render_text
from cds_service.clinical.facts import Facts
from cds_service.hooks.response import Action, Card, Coding, Link, Source, Suggestion
from cds_service.hooks.trace import CardIssued
from cds_service.knowledge.model import KnowledgeBase, Orderable, Rule, TextItem
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
    cards: list[Card] = []
    for evaluation in evaluations:
        if evaluation.facts is None:
            continue
        annotations = [
            render_text(o.rule.annotation or "", evaluation.facts, kb)
            for o in evaluation.shown("annotation")
        ]
        suggested: dict[str, str] = {}
        for outcome in evaluation.shown("card"):
            cards.append(_card(kb, outcome, evaluation.facts, ctx, suggested, annotations))
    return cards


def _card(
    kb: KnowledgeBase,
    outcome: RuleOutcome,
    facts: Facts,
    ctx: RenderContext,
    suggested: dict[str, str],
    annotations: Sequence[str],
) -> Card:
    rule = outcome.rule
    template = rule.card
    if template is None:
        raise ValueError(f"rule {rule.id} has no card")
    suggestions: list[Suggestion] = []
    not_suggested: list[str] = []
    for item in template.suggest:
        orderable = kb.orderables[item.orderable]
        if item.only_if is not None and not check(kb, item.only_if, facts).held:
            continue
        reason = _reason_not_to_suggest(orderable, facts, suggested)
        if reason:
            not_suggested.append(f"{orderable.label}: {reason}")
            continue
        suggestions.append(_suggestion(orderable, item.recommended, facts, ctx))
        suggested[orderable.id] = rule.title

    summary = render_text(template.summary, facts, kb)
    if len(summary) > SUMMARY_LIMIT:
        summary = summary[: SUMMARY_LIMIT - 1].rstrip() + "…"
    url = rule_url(kb, ctx.base_url, rule)
    reasons = [
        Coding(kb.override_system, code, kb.override_reasons[code])
        for code in template.override_reasons
    ]
    return Card(
        uuid=ctx.new_uuid(),
        summary=summary,
        indicator=template.indicator,  # type: ignore[arg-type]
        detail=_detail(kb, outcome, facts, ctx, not_suggested, annotations),
        source=Source(
            label=kb.header["source_label"],
            url=url,
            topic=Coding(RULE_SYSTEM, rule.id, rule.title),
        ),
        suggestions=tuple(suggestions),
        selection_behavior="any" if suggestions else None,
        override_reasons=tuple(reasons) if suggestions else (),
        links=(Link(label=f"Rulebook: {rule.title}", url=url),),
    )


def _reason_not_to_suggest(
    orderable: Orderable, facts: Facts, suggested: Mapping[str, str]
) -> str | None:
    if orderable.id in suggested:
        return f'already suggested by "{suggested[orderable.id]}"'
    open_orders: Mapping[str, str] = facts.details.get("open_orders", {})
    if orderable.id in open_orders:
        return f"an order is already open ({open_orders[orderable.id]})"
    recent: Mapping[str, tuple[str, str]] = facts.details.get("recent_results", {})
    if orderable.id in recent:
        key, date = recent[orderable.id]
        return f"resulted on {date} ({key}), within {orderable.lookback_days} days"
    return None


def _suggestion(
    orderable: Orderable, recommended: bool, facts: Facts, ctx: RenderContext
) -> Suggestion:
    resource = service_request(
        orderable,
        patient_id=ctx.patient_id,
        reason=facts.details["alp_reference"],
        requester=ctx.user,
        encounter_id=ctx.encounter_id,
        local_codes=ctx.local_codes.get(orderable.id, ()),
    )
    return Suggestion(
        label=orderable.order_label,
        uuid=ctx.new_uuid(),
        is_recommended=True if recommended else None,
        actions=(Action("create", f"Propose a {orderable.label} order", resource),),
    )


def _lines(kb: KnowledgeBase, items: Sequence[TextItem], facts: Facts) -> list[str]:
    return [
        render_text(item.text, facts, kb)
        for item in items
        if item.only_if is None or check(kb, item.only_if, facts).held
    ]


def contributing_factors(kb: KnowledgeBase, facts: Facts) -> list[str]:
    """What in the record bears on this ALP: findings of the ALP's direction, pregnancy, age,
    fasting; each with the record entries it came from."""
    status = facts.get("alp.status")
    # "none" findings explain neither direction but are context on every card (a drug to review).
    wanted = {"high": {"high", "both"}, "low": {"low", "both"}}.get(status, set()) | {"none"}
    lines = []
    found: Mapping[str, list[str]] = facts.details.get("findings", {})
    for finding_id, evidence in found.items():
        finding = kb.findings[finding_id]
        if finding.direction not in wanted:
            continue
        note = f" {finding.note}" if finding.note else ""
        lines.append(f"{finding.label.capitalize()} ({'; '.join(evidence)}).{note}")
    if status == "high" and facts.get("pregnancy.status") == "pregnant":
        trimester = facts.get("pregnancy.trimester")
        lines.append(f"Pregnant ({trimester} trimester): placental ALP rises through pregnancy.")
    age = facts.get("patient.age_years")
    if age is not None and age < kb.param("paediatric_age_limit_years"):
        lines.append(
            f"Age {age}: growing bone makes ALP higher in children; the result was judged "
            "against an interval for this age."
        )
    if status == "high" and facts.get("specimen.fasting") == "non-fasting":
        lines.append("The specimen was not fasting: intestinal ALP can rise after a fatty meal.")
    return lines


def _criterion(check: Check) -> str:
    """A met condition in words; for "any of", also which alternative held."""
    held = [c.says for c in check.children if c.held]
    return (
        f"{check.says}: {'; '.join(held)}"
        if held and len(held) < len(check.children)
        else check.says
    )


def _detail(
    kb: KnowledgeBase,
    outcome: RuleOutcome,
    facts: Facts,
    ctx: RenderContext,
    not_suggested: Sequence[str],
    annotations: Sequence[str],
) -> str:
    rule = outcome.rule
    template = rule.card
    assert template is not None  # noqa: S101 - checked by the caller
    parts = [
        f"**Finding.** {render_text(template.finding, facts, kb)}",
        f"**Why this card.** {render_text(template.reasoning, facts, kb)}",
        "**Criteria met.**\n" + "\n".join(f"- {_criterion(c)}" for c in outcome.checks),
    ]
    factors = contributing_factors(kb, facts) + list(annotations)
    if factors:
        parts.append("**Found in the record.**\n" + "\n".join(f"- {f}" for f in factors))
    steps = _lines(kb, template.next_steps, facts)
    if steps:
        parts.append("**Next steps to consider.**\n" + "\n".join(f"- {s}" for s in steps))
    cautions = _lines(kb, template.cautions, facts)
    if cautions:
        parts.append("**Caution.**\n" + "\n".join(f"- {c}" for c in cautions))
    if not_suggested:
        parts.append("**Not suggested.**\n" + "\n".join(f"- {line}" for line in not_suggested))
    if ctx.unavailable:
        parts.append(
            "**Data not available.** This card was decided without: "
            + ", ".join(ctx.unavailable)
            + "."
        )
    sources = []
    for key in rule.citations:
        citation = kb.citations[key]
        text = f"[{citation.text}]({citation.url})" if citation.url else citation.text
        sources.append(f"- {text}" + ("" if citation.verified else " (secondary or unverified)"))
    parts.append("**Sources.**\n" + "\n".join(sources))
    parts.append(
        f"Rule `{rule.id}` v{rule.version}, knowledge base v{kb.version} ({kb.content_hash[:12]})."
    )
    return "\n\n".join(parts)


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
