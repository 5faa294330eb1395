"""The rulebook: the whole knowledge base as one document for informatics review.

`rulebook(kb)` gives a JSON-able dict (served at /rulebook.json, written by `alp-cds kb report`);
`rulebook_html(kb)` renders the same content as one HTML page (served at /rulebook). Every rule
shows its conditions in words and as tests, thresholds with their citations, codes, card text,
citations, HTI-1 source attributes, version and review dates.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from cds_service.clinical.facts import FACTS
from cds_service.knowledge.model import (
    PLACEHOLDER_RE,
    Condition,
    KnowledgeBase,
    Parameter,
    Rule,
    TextItem,
)

OPERATOR_WORDS = {
    "is": "is",
    "is_not": "is not",
    "in": "is one of",
    "not_in": "is none of",
    "has": "includes",
    "lacks": "does not include",
    "has_any": "includes any of",
    "has_none": "includes none of",
    "at_least": "is at least",
    "above": "is above",
    "at_most": "is at most",
    "below": "is below",
}
HTI1_ORDER = (
    "race",
    "ethnicity",
    "language",
    "sexual_orientation",
    "gender_identity",
    "sex",
    "date_of_birth",
    "social_determinants_of_health",
    "health_status_assessments",
)


def _operand(kb: KnowledgeBase, value: Any) -> str:
    if isinstance(value, Mapping) and "param" in value:
        param = kb.parameters[value["param"]]
        return f"{param.value:g} ({param.unit}; parameter {param.name})"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _condition(kb: KnowledgeBase, condition: Condition) -> dict[str, Any]:
    out: dict[str, Any] = {"says": condition.says}
    if condition.combinator:
        out["combinator"] = condition.combinator
        out["test"] = {"all": "all of", "any": "any of", "none": "none of"}[condition.combinator]
        out["children"] = [_condition(kb, c) for c in condition.children]
        return out
    operand = _operand(kb, condition.operand)
    if condition.group:
        operand = f"group {condition.group} ({operand})"
    out["test"] = f"{condition.fact} {OPERATOR_WORDS[condition.operator or 'is']} {operand}"
    return out


def _walk(conditions: Iterable[Condition]) -> Iterable[Condition]:
    for condition in conditions:
        yield condition
        yield from _walk(condition.children)


def _text(kb: KnowledgeBase, items: Iterable[TextItem]) -> list[dict[str, Any]]:
    out = []
    for item in items:
        entry: dict[str, Any] = {"text": item.text}
        if item.only_if:
            entry["only_if"] = _condition(kb, item.only_if)
        out.append(entry)
    return out


def _rule_conditions(rule: Rule) -> list[Condition]:
    found = list(rule.conditions)
    if rule.card:
        found += [s.only_if for s in rule.card.suggest if s.only_if]
        found += [t.only_if for t in rule.card.items if t.only_if]
    return found


def _parameters_used(kb: KnowledgeBase, rule: Rule) -> list[str]:
    names: set[str] = set()
    texts = [c.says for c in _walk(_rule_conditions(rule))]
    if rule.card:
        texts += [rule.card.reasoning, *(t.text for t in rule.card.items)]
    texts.append(rule.annotation or "")
    for text in texts:
        names |= {
            n.removeprefix("param.") for n in PLACEHOLDER_RE.findall(text) if n.startswith("param.")
        }
    for condition in _walk(_rule_conditions(rule)):
        if isinstance(condition.operand, Mapping) and "param" in condition.operand:
            names.add(condition.operand["param"])
    return sorted(names)


def _findings_used(rule: Rule) -> list[str]:
    names: set[str] = set()
    for condition in _walk(_rule_conditions(rule)):
        if condition.fact == "findings.present":
            operand = condition.operand
            names |= set(operand) if isinstance(operand, list) else {operand}
    return sorted(names)


def _hti1(kb: KnowledgeBase, rule: Rule) -> dict[str, Any]:
    header = kb.header["hti1"]
    uses = {**header["uses"], **rule.hti1_uses}
    citations = [kb.citations[c].text for c in rule.citations]
    return {
        "intervention_type": header["intervention_type"],
        "bibliographic_citation": citations,
        "developer": header["developer"],
        "funding_source": header["funding"],
        "release_date": rule.dates["release_date"],
        "revision_date": rule.dates["revision_date"],
        "uses": {k: uses[k] for k in HTI1_ORDER},
    }


def _parameter(p: Parameter) -> dict[str, Any]:
    return {
        "name": p.name,
        "value": p.value,
        "unit": p.unit,
        "meaning": p.meaning,
        "citation": p.citation,
        "verified": p.verified,
    }


def _review(kb: KnowledgeBase, rule: Rule) -> dict[str, Any] | None:
    """The rule's clinical review record, with each source's text and whether it was read."""
    review = rule.review
    if review is None:
        return None

    def source(key: str) -> dict[str, Any]:
        c = kb.citations[key]
        return {"id": c.id, "text": c.text, "url": c.url, "verified": c.verified}

    return {
        "date": review.date,
        "reviewer": review.reviewer,
        "sources_read": [source(k) for k in review.sources_read],
        "evidence": [
            {"claim": e.claim, "level": e.level, "source": source(e.source)}
            for e in review.evidence
        ],
        "unverified": list(review.unverified),
        "unverified_parameters": [
            n for n in _parameters_used(kb, rule) if not kb.parameters[n].verified
        ],
    }


def rule_entry(kb: KnowledgeBase, rule: Rule) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": rule.id,
        "topic": rule.topic,
        "version": rule.version,
        "status": rule.status,
        "family": rule.family,
        "kind": rule.kind,
        "title": rule.title,
        "intent": rule.intent,
        "priority": rule.priority,
        "exclusive": rule.exclusive,
        "suppresses": list(rule.suppresses),
        "replaces": list(rule.replaces),
        "conditions": [_condition(kb, c) for c in rule.conditions],
        "parameters": [_parameter(kb.parameters[n]) for n in _parameters_used(kb, rule)],
        "findings": _findings_used(rule),
        "citations": [
            {"id": c.id, "text": c.text, "url": c.url, "verified": c.verified}
            for c in (kb.citations[key] for key in rule.citations)
        ],
        "dates": dict(rule.dates),
        "hti1": _hti1(kb, rule),
        "review": _review(kb, rule),
    }
    if rule.card:
        card = rule.card
        entry["card"] = {
            "indicator": card.indicator,
            "summary": _text(kb, card.summary),
            "finding": _text(kb, card.finding),
            "reasoning": card.reasoning,
            "next_steps": _text(kb, card.next_steps),
            "cautions": _text(kb, card.cautions),
            "suggestions": [
                {
                    "orderable": s.orderable,
                    "label": o.order_label,
                    "code": f"{o.system}|{o.code}",
                    "recommended": s.recommended,
                    "only_if": _condition(kb, s.only_if) if s.only_if else None,
                    "occurrence_weeks": [kb.param(n) for n in s.occurrence]
                    if s.occurrence
                    else None,
                }
                for s, o in ((s, kb.orderables[s.orderable]) for s in card.suggest)
            ],
            "override_reasons": [kb.override_reasons[r] for r in card.override_reasons],
        }
    if rule.annotation:
        entry["annotation"] = rule.annotation
    return entry


def rulebook(kb: KnowledgeBase) -> dict[str, Any]:
    rules = sorted(kb.rules.values(), key=lambda r: (-r.priority, r.id))
    return {
        "name": kb.name,
        "version": kb.version,
        "content_hash": kb.content_hash,
        "publisher": kb.header["publisher"],
        "status": kb.header["status"],
        "release_date": kb.header["release_date"],
        "revision_date": kb.header["revision_date"],
        "rules": [rule_entry(kb, r) for r in rules],
        "facts": dict(FACTS),
        "findings": [
            {
                "id": f.id,
                "label": f.label,
                "direction": f.direction,
                "note": f.note,
                "explains_below_xuln": f.explains_below_xuln,
                "sources": [
                    {
                        "from": s.kind,
                        "valueset": s.valueset,
                        "within_days": s.within_days,
                        "include_inactive": s.include_inactive,
                        "ended_within_days": s.ended_within_days,
                        "status": s.status,
                        "separate_draw": s.separate_draw,
                        "edta_marker": s.edta_marker,
                        "at_least": s.at_least,
                        "after": s.after,
                        "started_before_rise": s.started_before_rise,
                        "outweighed_by": (
                            {
                                "valueset": s.outweighed_by.valueset,
                                "status": list(s.outweighed_by.statuses),
                                "within_days": s.outweighed_by.within_days,
                            }
                            if s.outweighed_by
                            else None
                        ),
                    }
                    for s in f.sources
                ],
            }
            for f in kb.findings.values()
        ],
        "groups": {k: list(v) for k, v in kb.groups.items()},
        "parameters": [_parameter(p) for p in kb.parameters.values()],
        "orderables": [
            {
                "id": o.id,
                "label": o.label,
                "order_label": o.order_label,
                "system": o.system,
                "code": o.code,
                "display": o.display,
                "lookback_days": o.lookback_days,
                "citation": o.citation,
                "verified": o.verified,
            }
            for o in kb.orderables.values()
        ],
        "intervals": [
            {
                "id": t.id,
                "analyte": t.analyte,
                "unit": t.unit,
                "citation": t.citation,
                "verified": t.verified,
                "rows": [
                    {"sex": r.sex, "age": r.describe_age(), "low": r.low, "high": r.high}
                    for r in t.rows
                ],
            }
            for t in kb.intervals.values()
        ],
        "valuesets": [
            {
                "id": v.id,
                "title": v.title,
                "purpose": v.purpose,
                "names": list(v.names),
                "codes": [
                    {
                        "system": c.system,
                        "code": c.code,
                        "display": c.display,
                        "match": "exclude" if c.exclude else "prefix" if c.prefix else "exact",
                        "excludes_text": list(c.excludes_text),
                        "source": c.source,
                        "verified": c.verified,
                    }
                    for c in v.codes
                ],
            }
            for v in kb.valuesets.values()
        ],
        "citations": [
            {"id": c.id, "text": c.text, "url": c.url, "verified": c.verified, "note": c.note}
            for c in kb.citations.values()
        ],
    }


_environment = Environment(
    loader=PackageLoader("cds_service.render", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def rulebook_html(kb: KnowledgeBase) -> str:
    return _environment.get_template("rulebook.html").render(book=rulebook(kb))
