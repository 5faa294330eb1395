"""The decision trace of one call: typed, written once, read by field.

The handler writes what it decided (each evaluated item's facts and rule decisions, the cards it
issued with the rule behind each); the pipeline adds where each prefetch key's data came from.
The audit store, metrics, `alp-cds audit show` and `alp-cds evaluate` read the fields. Nothing
here knows what a rule or fact means: names, values, the resources they came from.

`to_json` is the one serialisation (the audit record's JSON column, `--json` output).
`from_json` reads a stored trace back, including those written before this type existed: the JSON
keeps the shape reviewers already read (`knowledge_base`, `evaluations` with `observation`,
`facts`, `findings` and `rules`, `data`, `cards`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from cds_service.hooks.response import Card

Rewrite = Callable[[str], str]


def _rewrite_value(value: Any, rewrite: Rewrite) -> Any:
    if isinstance(value, str):
        return rewrite(value)
    if isinstance(value, list | tuple):
        return [_rewrite_value(v, rewrite) for v in value]
    return value


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list | tuple) else ()


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


@dataclass(frozen=True, slots=True)
class DataSource:
    """Where one prefetch key's data came from, and what went wrong."""

    key: str
    source: str
    """prefetch, fetch, file, or none"""
    ok: bool
    resources: int = 0
    pages: int = 0
    problems: tuple[str, ...] = ()
    applicable: bool = True
    """False when the key's query needs a context field this call does not have."""

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"source": self.source, "ok": self.ok, "resources": self.resources}
        if self.pages:
            entry["pages"] = self.pages
        if self.problems:
            entry["problems"] = list(self.problems)
        if not self.applicable:
            entry["applicable"] = False
        return entry

    @classmethod
    def from_json(cls, key: str, doc: Any) -> DataSource:
        doc = _mapping(doc)
        return cls(
            key=key,
            source=str(doc.get("source", "none")),
            ok=bool(doc.get("ok")),
            resources=int(doc.get("resources") or 0),
            pages=int(doc.get("pages") or 0),
            problems=_strings(doc.get("problems")),
            applicable=bool(doc.get("applicable", True)),
        )


class Fact(Protocol):
    """One named fact: its value, the resources it came from (`Type/id`), a note for the reader.

    A protocol, so a handler's own fact objects go into the trace as they are, uncopied."""

    @property
    def value(self) -> Any: ...
    @property
    def evidence(self) -> Sequence[str]: ...
    @property
    def note(self) -> str | None: ...


class Check(Protocol):
    """One condition of a rule in words, whether it held, the fact it tested and that fact's
    value; "all of" / "any of" conditions have children. A protocol, like `Fact`."""

    @property
    def says(self) -> str: ...
    @property
    def held(self) -> bool: ...
    @property
    def fact(self) -> str | None: ...
    @property
    def value(self) -> Any: ...
    @property
    def children(self) -> Sequence[Check]: ...
    @property
    def not_known(self) -> Sequence[str]: ...


@dataclass(frozen=True, slots=True)
class FactTrace:
    """A `Fact` read back from a stored trace."""

    value: Any
    evidence: tuple[str, ...] = ()
    note: str | None = None

    @classmethod
    def from_json(cls, doc: Any) -> FactTrace:
        doc = _mapping(doc)
        note = doc.get("note")
        return cls(doc.get("value"), _strings(doc.get("from")), note if note else None)


@dataclass(frozen=True, slots=True)
class CheckTrace:
    """A `Check` read back from a stored trace."""

    says: str
    held: bool
    fact: str | None = None
    value: Any = None
    children: tuple[CheckTrace, ...] = ()
    not_known: tuple[str, ...] = ()
    """Kinds of data the fact depends on that could not be had (the check says "not known")."""

    @classmethod
    def from_json(cls, doc: Any) -> CheckTrace:
        doc = _mapping(doc)
        fact = doc.get("fact")
        return cls(
            says=str(doc.get("says", "")),
            held=bool(doc.get("held")),
            fact=str(fact) if fact else None,
            value=doc.get("value"),
            children=tuple(cls.from_json(c) for c in doc.get("children") or ()),
            not_known=_strings(doc.get("not_known")),
        )


def fact_json(fact: Fact) -> dict[str, Any]:
    entry: dict[str, Any] = {"value": fact.value}
    if fact.evidence:
        entry["from"] = list(fact.evidence)
    if fact.note:
        entry["note"] = fact.note
    return entry


def check_json(check: Check) -> dict[str, Any]:
    out: dict[str, Any] = {"says": check.says, "held": check.held}
    if check.fact:
        out["fact"] = check.fact
        out["value"] = check.value
    if check.not_known:
        out["not_known"] = list(check.not_known)
    if check.children:
        out["children"] = [check_json(c) for c in check.children]
    return out


def _rewrite_check(check: Check, rewrite: Rewrite) -> CheckTrace:
    return CheckTrace(
        says=rewrite(check.says),
        held=check.held,
        fact=check.fact,
        value=_rewrite_value(check.value, rewrite),
        children=tuple(_rewrite_check(c, rewrite) for c in check.children),
        not_known=tuple(check.not_known),
    )


@dataclass(frozen=True, slots=True)
class RuleDecision:
    """What one rule decided for one evaluated item."""

    rule: str
    version: str
    fired: bool
    """Its conditions held and no other rule suppressed it: its effect is in the answer."""
    checks: Sequence[Check] = ()
    """Every check of a rule that fired; for one that did not, the one that failed."""
    why_not: str | None = None
    suppressed_by: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rule": self.rule,
            "version": self.version,
            "fired": self.fired,
            "checks": [check_json(c) for c in self.checks],
        }
        if self.why_not:
            out["why_not"] = self.why_not
        if self.suppressed_by:
            out["suppressed_by"] = self.suppressed_by
        return out

    @classmethod
    def from_json(cls, doc: Any) -> RuleDecision:
        doc = _mapping(doc)
        why_not, suppressed_by = doc.get("why_not"), doc.get("suppressed_by")
        return cls(
            rule=str(doc.get("rule", "")),
            version=str(doc.get("version", "")),
            fired=bool(doc.get("fired")),
            checks=tuple(CheckTrace.from_json(c) for c in doc.get("checks") or ()),
            why_not=str(why_not) if why_not else None,
            suppressed_by=str(suppressed_by) if suppressed_by else None,
        )

    def rewritten(self, rewrite: Rewrite) -> RuleDecision:
        return replace(
            self,
            checks=tuple(_rewrite_check(c, rewrite) for c in self.checks),
            why_not=rewrite(self.why_not) if self.why_not else None,
        )


@dataclass(frozen=True, slots=True)
class Evaluation:
    """One evaluated item (a FHIR resource), the facts derived for it and every rule's decision."""

    item: str
    """The resource evaluated, as `Type/id`."""
    facts: Mapping[str, Fact] = field(default_factory=dict)
    findings: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Named findings in the record, each with its evidence."""
    rules: tuple[RuleDecision, ...] = ()
    not_interpreted: str | None = None
    """Why the item was not evaluated at all, if it was not."""
    context: Mapping[str, Any] = field(default_factory=dict)
    """What the handler needs beyond the facts to replay the item (JSON-safe; the handler's)."""

    def to_json(self) -> dict[str, Any]:
        # "observation": the stored key predates the generic name; records of either age agree.
        out: dict[str, Any] = {"observation": self.item}
        if self.not_interpreted:
            out["not_interpreted"] = self.not_interpreted
        if self.facts:
            out["facts"] = {name: fact_json(fact) for name, fact in self.facts.items()}
        if self.findings:
            out["findings"] = {name: list(found) for name, found in self.findings.items()}
        if self.context:
            out["context"] = dict(self.context)
        out["rules"] = [r.to_json() for r in self.rules]
        return out

    @classmethod
    def from_json(cls, doc: Any) -> Evaluation:
        doc = _mapping(doc)
        skipped = doc.get("not_interpreted")
        return cls(
            item=str(doc.get("observation") or doc.get("item") or ""),
            facts={str(k): FactTrace.from_json(v) for k, v in _mapping(doc.get("facts")).items()},
            findings={str(k): _strings(v) for k, v in _mapping(doc.get("findings")).items()},
            rules=tuple(RuleDecision.from_json(r) for r in doc.get("rules") or ()),
            not_interpreted=str(skipped) if skipped else None,
            context=_mapping(doc.get("context")),
        )

    def rewritten(self, rewrite: Rewrite) -> Evaluation:
        return replace(
            self,
            item=rewrite(self.item),
            facts={
                name: FactTrace(
                    _rewrite_value(fact.value, rewrite),
                    tuple(rewrite(e) for e in fact.evidence),
                    rewrite(fact.note) if fact.note else None,
                )
                for name, fact in self.facts.items()
            },
            findings={
                name: tuple(rewrite(e) for e in found) for name, found in self.findings.items()
            },
            rules=tuple(r.rewritten(rewrite) for r in self.rules),
            not_interpreted=rewrite(self.not_interpreted) if self.not_interpreted else None,
        )


@dataclass(frozen=True, slots=True)
class SuggestionIssued:
    uuid: str
    label: str
    codes: tuple[str, ...] = ()
    """`system|code` of each coding the suggestion's actions order."""

    def to_json(self) -> dict[str, Any]:
        return {"uuid": self.uuid, "label": self.label, "codes": list(self.codes)}

    @classmethod
    def from_json(cls, doc: Any) -> SuggestionIssued:
        if isinstance(doc, str):  # traces written before suggestions were summarised here
            return cls(doc, "")
        doc = _mapping(doc)
        return cls(
            str(doc.get("uuid", "")), str(doc.get("label") or ""), _strings(doc.get("codes"))
        )


@dataclass(frozen=True, slots=True)
class CardIssued:
    """A card as sent, and the rule that issued it (from the handler, never read off the card)."""

    uuid: str
    indicator: str
    summary: str
    rule: str | None = None
    rule_version: str | None = None
    suggestions: tuple[SuggestionIssued, ...] = ()

    @classmethod
    def of(cls, card: Card, rule: str | None = None, rule_version: str | None = None) -> CardIssued:
        return cls(
            uuid=card.uuid,
            indicator=card.indicator,
            summary=card.summary,
            rule=rule,
            rule_version=rule_version,
            suggestions=tuple(
                SuggestionIssued(
                    suggestion.uuid,
                    suggestion.label,
                    tuple(
                        f"{coding.get('system')}|{coding.get('code')}"
                        for action in suggestion.actions
                        for coding in _mapping(_mapping(action.resource).get("code")).get(
                            "coding", ()
                        )
                    ),
                )
                for suggestion in card.suggestions
            ),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"uuid": self.uuid, "rule": self.rule}
        if self.rule_version:
            out["rule_version"] = self.rule_version
        out["indicator"] = self.indicator
        out["summary"] = self.summary
        out["suggestions"] = [s.to_json() for s in self.suggestions]
        return out

    @classmethod
    def from_json(cls, doc: Any) -> CardIssued:
        doc = _mapping(doc)
        rule, version = doc.get("rule"), doc.get("rule_version")
        return cls(
            uuid=str(doc.get("uuid", "")),
            indicator=str(doc.get("indicator", "")),
            summary=str(doc.get("summary") or ""),
            rule=str(rule) if rule else None,
            rule_version=str(version) if version else None,
            suggestions=tuple(SuggestionIssued.from_json(s) for s in doc.get("suggestions") or ()),
        )


@dataclass(frozen=True, slots=True)
class KnowledgeVersion:
    version: str
    hash: str


_TRACE_KEYS = frozenset({"knowledge_base", "evaluations", "cards", "data", "reason"})


@dataclass(frozen=True, slots=True)
class DecisionTrace:
    knowledge: KnowledgeVersion | None = None
    evaluations: tuple[Evaluation, ...] = ()
    cards: tuple[CardIssued, ...] = ()
    data: tuple[DataSource, ...] = ()
    """One entry per prefetch key, in declaration order."""
    reason: str | None = None
    """Why nothing was evaluated, when nothing was."""
    notes: Mapping[str, Any] = field(default_factory=dict)
    """The handler's own notes for a reviewer, JSON-safe (e.g. which result set a patient-view
    call was answered for, and why)."""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.knowledge:
            out["knowledge_base"] = {"version": self.knowledge.version, "hash": self.knowledge.hash}
        if self.evaluations:
            out["evaluations"] = [e.to_json() for e in self.evaluations]
        if self.data:
            out["data"] = {d.key: d.to_json() for d in self.data}
        if self.cards:
            out["cards"] = [c.to_json() for c in self.cards]
        if self.reason:
            out["reason"] = self.reason
        out.update(self.notes)
        return out

    @classmethod
    def from_json(cls, doc: Any) -> DecisionTrace:
        """A stored trace; tolerant, since records outlive the code that wrote them."""
        doc = _mapping(doc)
        knowledge = _mapping(doc.get("knowledge_base"))
        reason = doc.get("reason")
        return cls(
            knowledge=KnowledgeVersion(str(knowledge.get("version")), str(knowledge.get("hash")))
            if knowledge
            else None,
            evaluations=tuple(Evaluation.from_json(e) for e in doc.get("evaluations") or ()),
            cards=tuple(CardIssued.from_json(c) for c in doc.get("cards") or ()),
            data=tuple(DataSource.from_json(k, v) for k, v in _mapping(doc.get("data")).items()),
            reason=str(reason) if reason else None,
            notes={k: v for k, v in doc.items() if k not in _TRACE_KEYS},
        )

    def rewritten(self, rewrite: Rewrite) -> DecisionTrace:
        """A copy with `rewrite` applied to every text that can name a patient or user: resource
        references, fact values and notes, check wording, data problems (fetch errors name the
        URL read). Pseudonymisation uses it; ids, versions and rule names are left alone."""
        return replace(
            self,
            evaluations=tuple(e.rewritten(rewrite) for e in self.evaluations),
            cards=tuple(replace(c, summary=rewrite(c.summary)) for c in self.cards),
            data=tuple(
                replace(d, problems=tuple(rewrite(p) for p in d.problems)) for d in self.data
            ),
            reason=rewrite(self.reason) if self.reason else None,
        )
