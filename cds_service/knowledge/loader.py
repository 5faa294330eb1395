"""Load `cards/` into immutable, indexed objects, checking every file against its JSON Schema.

A broken file stops start-up with the file, the path inside it and the reason, e.g.
`rules/alp-high-confirm-origin.yaml: $.card.indicator: must be one of "info", ...`. After the
schemas pass, cross-references are checked (citations, value sets, orderables, parameters, fact
names used in conditions and card text).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

from cds_service.knowledge.model import (
    PLACEHOLDER_RE,
    AgeBound,
    Citation,
    Code,
    Condition,
    Evidence,
    Finding,
    FindingSource,
    IntervalRow,
    IntervalTable,
    KnowledgeBase,
    Orderable,
    Outweighed,
    Parameter,
    Review,
    Rule,
    RuleCard,
    SuggestionTemplate,
    TextItem,
    UnitTable,
    ValueSet,
)

COMBINATORS = ("all", "any", "none")
OPERATORS = (
    "is",
    "is_not",
    "in",
    "not_in",
    "has",
    "lacks",
    "has_any",
    "has_none",
    "at_least",
    "above",
    "at_most",
    "below",
)


class KnowledgeBaseError(ValueError):
    """The knowledge base cannot be used; the message names the file, path and reason."""


class _StringDatesLoader(yaml.SafeLoader):
    """YAML without implicit timestamps: "2026-11-22" stays the string the schema expects."""


_StringDatesLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _mapping_without_duplicates(loader: _StringDatesLoader, node: yaml.MappingNode) -> Any:
    """A key given twice in one mapping is an error, not the last one silently winning (two
    helpers each added an `easl-pbc-2017` citation in the eighteenth round; one text was lost)."""
    loader.flatten_mapping(node)
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_StringDatesLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _mapping_without_duplicates,
)


def _read(path: Path, root: Path) -> Any:
    try:
        return yaml.load(path.read_text("utf-8"), Loader=_StringDatesLoader)  # noqa: S506 - safe loader subclass
    except yaml.YAMLError as exc:
        raise KnowledgeBaseError(f"{path.relative_to(root)}: not valid YAML: {exc}") from None


def _validate(document: Any, schema: Draft202012Validator, where: str) -> None:
    errors = sorted(schema.iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        error = min(errors, key=lambda e: len(list(e.absolute_path)) * -1)
        path = "$" + "".join(
            f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path
        )
        raise KnowledgeBaseError(f"{where}: {path}: {error.message}")


class _Loader:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.schemas: dict[str, Draft202012Validator] = {}
        for path in sorted((root / "schemas").glob("*.schema.json")):
            schema = json.loads(path.read_text("utf-8"))
            Draft202012Validator.check_schema(schema)
            self.schemas[path.name.removesuffix(".schema.json")] = Draft202012Validator(schema)

    def document(self, relative: str, kind: str) -> Any:
        path = self.root / relative
        if not path.is_file():
            raise KnowledgeBaseError(f"{relative}: missing")
        data = _read(path, self.root)
        _validate(data, self.schemas[kind], relative)
        return data

    def documents(self, folder: str, kind: str) -> Iterable[tuple[str, Any]]:
        for path in sorted((self.root / folder).glob("*.yaml")):
            relative = str(path.relative_to(self.root))
            yield relative, self.document(relative, kind)


def content_hash(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(
        p for p in root.rglob("*") if p.is_file() and p.suffix in {".yaml", ".json"}
    ):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def _condition(
    raw: Mapping[str, Any], groups: Mapping[str, tuple[str, ...]], where: str
) -> Condition:
    for combinator in COMBINATORS:
        if combinator in raw:
            return Condition(
                says=raw["says"],
                combinator=combinator,
                children=tuple(_condition(c, groups, where) for c in raw[combinator]),
            )
    operator = next(op for op in OPERATORS if op in raw)
    operand = raw[operator]
    group = None
    if isinstance(operand, Mapping) and "group" in operand:
        group = operand["group"]
        if group not in groups:
            raise KnowledgeBaseError(f"{where}: unknown findings group {group!r}")
        operand = list(groups[group])
    return Condition(
        says=raw["says"], fact=raw["fact"], operator=operator, operand=operand, group=group
    )


def _text_items(
    raw: Any, groups: Mapping[str, tuple[str, ...]], where: str
) -> tuple[TextItem, ...]:
    items = []
    for item in raw or ():
        if isinstance(item, str):
            items.append(TextItem(item.strip()))
        else:
            items.append(
                TextItem(
                    item["text"].strip(),
                    _condition(item["only_if"], groups, where),
                    leads=bool(item.get("leads", False)),
                )
            )
    return tuple(items)


def _findings(
    doc: Mapping[str, Any], valuesets: Mapping[str, ValueSet], parameters: Mapping[str, Parameter]
) -> tuple[dict[str, Finding], dict[str, tuple[str, ...]]]:
    findings = {}
    for key, raw in doc["findings"].items():
        sources = []
        for i, src in enumerate(raw["sources"]):
            where = f"findings.yaml: $.findings.{key}.sources[{i}]"
            if src["valueset"] not in valuesets:
                raise KnowledgeBaseError(f"{where}.valueset: unknown value set {src['valueset']!r}")
            for window in ("within_days", "ended_within_days", "started_within_days"):
                if src.get(window) and src[window] not in parameters:
                    raise KnowledgeBaseError(f"{where}.{window}: unknown parameter {src[window]!r}")
            measures = [k for k in ("status", "at_least", "at_most") if k in src]
            if (src["from"] == "labs") != bool(measures):
                raise KnowledgeBaseError(
                    f"{where}: `status` goes with, and only with, from: labs (or `at_least`, "
                    "`at_most`)"
                )
            if len(measures) > 1:
                raise KnowledgeBaseError(
                    f"{where}: `status`, `at_least` and `at_most` exclude each other"
                )
            for bound in ("at_least", "at_most"):
                if src.get(bound) and src[bound] not in parameters:
                    raise KnowledgeBaseError(f"{where}.{bound}: unknown parameter {src[bound]!r}")
            if src["from"] == "labs" and not src.get("within_days"):
                raise KnowledgeBaseError(f"{where}: a lab source needs `within_days`")
            if src.get("started_before_rise") and src["from"] != "medications":
                raise KnowledgeBaseError(f"{where}: `started_before_rise` is for medications only")
            if src.get("started_within_days") and src["from"] != "medications":
                raise KnowledgeBaseError(f"{where}: `started_within_days` is for medications only")
            for other in src.get("unless_in", ()):
                if src["from"] not in ("medications", "conditions"):
                    raise KnowledgeBaseError(
                        f"{where}: `unless_in` is for medications and conditions only"
                    )
                if other not in valuesets:
                    raise KnowledgeBaseError(f"{where}.unless_in: unknown value set {other!r}")
            if src.get("separate_draw") and src["from"] != "labs":
                raise KnowledgeBaseError(f"{where}: `separate_draw` is for labs only")
            marker = src.get("edta_marker")
            if marker and not src.get("separate_draw"):
                raise KnowledgeBaseError(f"{where}: `edta_marker` needs `separate_draw`")
            if marker and marker not in valuesets:
                raise KnowledgeBaseError(f"{where}.edta_marker: unknown value set {marker!r}")
            _check_edta(src, where, marker, valuesets, doc["findings"])
            gross = src.get("edta_marker_gross")
            if gross and not src.get("edta_lowered"):
                raise KnowledgeBaseError(f"{where}: `edta_marker_gross` needs `edta_lowered`")
            if gross and gross not in parameters:
                raise KnowledgeBaseError(f"{where}.edta_marker_gross: unknown parameter {gross!r}")
            for flag in ("confirmed", "recorded_dates"):
                if src.get(flag) and src["from"] != "conditions":
                    raise KnowledgeBaseError(f"{where}: `{flag}` is for conditions only")
            if src.get("after") and (
                src["from"] not in ("conditions", "labs") or not src.get("within_days")
            ):
                raise KnowledgeBaseError(
                    f"{where}: `after` is for conditions or labs with `within_days`"
                )
            if src.get("after") and src["after"] not in doc["findings"]:
                raise KnowledgeBaseError(f"{where}.after: unknown finding {src['after']!r}")
            if src.get("not_before") and src["from"] != "conditions":
                raise KnowledgeBaseError(f"{where}: `not_before` is for conditions only")
            if src.get("not_before") and src["not_before"] not in doc["findings"]:
                raise KnowledgeBaseError(
                    f"{where}.not_before: unknown finding {src['not_before']!r}"
                )
            if src.get("recorded_dates") and not src.get("within_days"):
                raise KnowledgeBaseError(f"{where}: `recorded_dates` needs `within_days`")
            ended_by = src.get("ended_by")
            if ended_by and src["from"] != "procedures":
                raise KnowledgeBaseError(f"{where}: `ended_by` is for procedures only")
            if ended_by and ended_by not in valuesets:
                raise KnowledgeBaseError(f"{where}.ended_by: unknown value set {ended_by!r}")
            falling = src.get("unless_falling") or []
            tiers = [falling] if isinstance(falling, dict) else list(falling)
            if tiers and src.get("status") != "high":
                raise KnowledgeBaseError(f"{where}: `unless_falling` is for labs with status: high")
            for i, tier in enumerate(tiers):
                at = "" if isinstance(falling, dict) else f"[{i}]"
                for part in ("by", "within_days"):
                    if tier[part] not in parameters:
                        raise KnowledgeBaseError(
                            f"{where}.unless_falling{at}.{part}: unknown parameter {tier[part]!r}"
                        )
            outweighed = _outweighed(src, where, valuesets, parameters)
            sources.append(
                FindingSource(
                    src["from"],
                    src["valueset"],
                    src.get("within_days"),
                    src.get("include_inactive", False),
                    src.get("ended_within_days"),
                    src.get("status"),
                    separate_draw=src.get("separate_draw", False),
                    edta_marker=marker,
                    edta_lowered=src.get("edta_lowered"),
                    edta_unless=src.get("edta_unless"),
                    edta_unless_both=src.get("edta_unless_both"),
                    edta_unless_no_marker=src.get("edta_unless_no_marker"),
                    edta_marker_gross=src.get("edta_marker_gross"),
                    confirmed=src.get("confirmed", False),
                    recorded_dates=src.get("recorded_dates", False),
                    started_before_rise=src.get("started_before_rise", False),
                    started_within_days=src.get("started_within_days"),
                    unless_in=tuple(src.get("unless_in", ())),
                    at_least=src.get("at_least"),
                    at_most=src.get("at_most"),
                    at_most_any=src.get("at_most_any", False),
                    after=src.get("after"),
                    not_before=src.get("not_before"),
                    ended_by=ended_by,
                    falling=tuple((tier["by"], tier["within_days"]) for tier in tiers),
                    outweighed_by=outweighed,
                )
            )
        limit = raw.get("explains_below_xuln")
        if limit and limit not in parameters:
            raise KnowledgeBaseError(
                f"findings.yaml: $.findings.{key}.explains_below_xuln: unknown parameter {limit!r}"
            )
        findings[key] = Finding(
            key, raw["label"], raw["direction"], tuple(sources), raw.get("note"), limit
        )
    groups = {}
    for name, members in doc["groups"].items():
        for member in members:
            if member not in findings:
                raise KnowledgeBaseError(
                    f"findings.yaml: $.groups.{name}: unknown finding {member!r}"
                )
        groups[name] = tuple(members)
    return findings, groups


def _outweighed(
    src: Mapping[str, Any],
    where: str,
    valuesets: Mapping[str, ValueSet],
    parameters: Mapping[str, Parameter],
) -> Outweighed | None:
    raw = src.get("outweighed_by")
    if raw is None:
        if "outweighed_at_least" in src:
            raise KnowledgeBaseError(f"{where}: `outweighed_at_least` needs `outweighed_by`")
        return None
    if src["from"] != "conditions":
        raise KnowledgeBaseError(f"{where}: `outweighed_by` is for conditions only")
    if raw["valueset"] not in valuesets:
        raise KnowledgeBaseError(
            f"{where}.outweighed_by.valueset: unknown value set {raw['valueset']!r}"
        )
    if raw["within_days"] not in parameters:
        raise KnowledgeBaseError(
            f"{where}.outweighed_by.within_days: unknown parameter {raw['within_days']!r}"
        )
    at_least = src.get("outweighed_at_least")
    if at_least is not None and at_least not in parameters:
        raise KnowledgeBaseError(f"{where}.outweighed_at_least: unknown parameter {at_least!r}")
    return Outweighed(raw["valueset"], tuple(raw["status"]), raw["within_days"], at_least)


def load(root: Path, fact_names: Iterable[str] = ()) -> KnowledgeBase:
    """Read and check the whole knowledge base under `root` (the `cards/` folder)."""
    if not root.is_dir():
        raise KnowledgeBaseError(f"{root}: knowledge base folder not found")
    loader = _Loader(root)
    header = loader.document("kb.yaml", "kb")
    citations: dict[str, Citation] = {}
    for where, doc in loader.documents("citations", "citations"):
        for key, c in doc["citations"].items():
            if key in citations:
                raise KnowledgeBaseError(f"{where}: $.citations.{key}: citation defined twice")
            citations[key] = Citation(
                key, c["text"], c.get("url"), c["verified"], c.get("note"), c["kind"]
            )
    refs = _References(citations)

    valuesets: dict[str, ValueSet] = {}
    for where, doc in loader.documents("valuesets", "valueset"):
        if doc["id"] in valuesets:
            raise KnowledgeBaseError(f"{where}: $.id: value set {doc['id']!r} defined twice")
        codes = []
        for i, code in enumerate(doc["codes"]):
            refs.citation(code["source"], f"{where}: $.codes[{i}].source")
            codes.append(
                Code(
                    code["system"],
                    code["code"],
                    code["display"],
                    code["source"],
                    code["verified"],
                    code.get("match", "exact") == "prefix",
                    tuple(code.get("requires_text", ())),
                    tuple(code.get("excludes_text", ())),
                    code.get("match", "exact") == "exclude",
                )
            )
        if bool(doc.get("context_names")) != bool(doc.get("context")):
            raise KnowledgeBaseError(f"{where}: $.context_names and $.context go together")
        if "citation" in doc:
            refs.citation(doc["citation"], f"{where}: $.citation")
        valuesets[doc["id"]] = ValueSet(
            doc["id"],
            doc["title"],
            doc["purpose"],
            tuple(codes),
            tuple(doc.get("names", ())),
            tuple(doc.get("exclude_names", ())),
            tuple(doc.get("context_names", ())),
            tuple(doc.get("context", ())),
            tuple(doc.get("word_names", ())),
            tuple(doc.get("word_exclude", ())),
            tuple(doc.get("result_names", ())),
            tuple(doc.get("result_exclude", ())),
            bool(doc.get("given_as_procedure", False)),
            bool(doc.get("relatives_veto", True)),
            bool(doc.get("negation_veto", True)),
            tuple(doc.get("cues_before", ())),
            tuple(doc.get("cues_after", ())),
            tuple(doc.get("cues_pseudo", ())),
            tuple(doc.get("clause_breaks", ())),
            int(doc.get("window_words", 0)),
            int(doc.get("window_after_words", 0)),
            tuple(doc.get("text_marks", ())),
            tuple(doc.get("text_mark_negations", ())),
            doc.get("citation"),
            doc.get("verified"),
        )

    units_doc = loader.document("units.yaml", "units")
    refs.citation(units_doc["citation"], "units.yaml: $.citation")
    units = UnitTable.build(units_doc["units"], units_doc["citation"])
    analyte_units: dict[str, UnitTable] = {}
    for key, raw in units_doc.get("analytes", {}).items():
        where = f"units.yaml: $.analytes.{key}"
        if key not in valuesets:
            raise KnowledgeBaseError(f"{where}: unknown value set {key!r}")
        refs.citation(raw["citation"], f"{where}.citation")
        if raw.get("catalytic"):
            # An enzyme read against a fixed threshold (LDH 600 U/L): the table above.
            analyte_units[key] = units
            continue
        if not raw.get("units"):
            raise KnowledgeBaseError(f"{where}: `units` is needed unless `catalytic` is true")
        analyte_units[key] = UnitTable.build(
            raw["units"], raw["citation"], raw["unit"], compact=True
        )

    intervals: dict[str, IntervalTable] = {}
    for where, doc in loader.documents("intervals", "intervals"):
        refs.citation(doc["citation"], f"{where}: $.citation")
        rows = tuple(
            IntervalRow(
                sex=row["sex"],
                low=float(row["low"]),
                high=float(row["high"]),
                age_from=AgeBound.of(row.get("from")),
                age_to=AgeBound.of(row.get("to")),
            )
            for row in doc["rows"]
        )
        for i, row in enumerate(rows):
            if row.low >= row.high:
                raise KnowledgeBaseError(f"{where}: $.rows[{i}]: low must be below high")
        intervals[doc["id"]] = IntervalTable(
            doc["id"],
            doc["analyte"],
            doc["unit"],
            doc["citation"],
            rows,
            doc.get("verified", True),
            {UnitTable.fold(unit): float(f) for unit, f in doc.get("conversions", {}).items()},
            citations[doc["citation"]].text.split(".")[0],
        )

    parameters = {}
    parameters_doc = loader.document("parameters.yaml", "parameters")
    for name, p in parameters_doc["parameters"].items():
        refs.citation(p["citation"], f"parameters.yaml: $.parameters.{name}.citation")
        parameters[name] = Parameter(
            name,
            p["value"],
            p["unit"],
            p["meaning"],
            p["citation"],
            # A parameter is as verified as its source, unless it says otherwise.
            p.get("verified", citations[p["citation"]].verified if p["citation"] else False),
        )

    orderables = {}
    for key, o in loader.document("orderables.yaml", "orderables")["orderables"].items():
        where = f"orderables.yaml: $.orderables.{key}"
        refs.citation(o["citation"], f"{where}.citation")
        result_codes = {(c["system"], c["code"]) for c in o.get("result_codes", ())}
        for vs in o.get("result_valuesets", ()):
            if vs not in valuesets:
                raise KnowledgeBaseError(f"{where}.result_valuesets: unknown value set {vs!r}")
            result_codes |= {(c.system, c.code) for c in valuesets[vs].codes}
        if not result_codes and "result_valuesets" not in o:
            result_codes = {(o["code"]["system"], o["code"]["code"])}
        orderables[key] = Orderable(
            id=key,
            label=o["label"],
            order_label=o["order_label"],
            system=o["code"]["system"],
            code=o["code"]["code"],
            display=o["code"].get("display"),
            result_codes=frozenset(result_codes),
            lookback_days=o["lookback_days"],
            citation=o["citation"],
            verified=o["verified"],
            closes_follow_up=o.get("closes_follow_up", False),
            result_valuesets=tuple(o.get("result_valuesets", ())),
            result_names=tuple(n.lower() for n in o.get("result_names", ())),
            result_exclude=tuple(w.lower() for w in o.get("result_exclude", ())),
        )

    override_doc = loader.document("override-reasons.yaml", "override-reasons")
    _check_same_as(parameters_doc, parameters, intervals)
    findings, groups = _findings(
        loader.document("findings.yaml", "findings"), valuesets, parameters
    )

    reasons = override_doc["reasons"]
    for reason in override_doc["default"]:
        if reason not in reasons:
            raise KnowledgeBaseError(f"override-reasons.yaml: $.default: unknown reason {reason!r}")
    known_facts = set(fact_names)
    rules: dict[str, Rule] = {}
    topics: dict[str, str] = {}
    for where, doc in loader.documents("rules", "rule"):
        if doc["id"] in rules:
            raise KnowledgeBaseError(f"{where}: $.id: rule {doc['id']!r} defined twice")
        if Path(where).stem != doc["id"]:
            raise KnowledgeBaseError(f"{where}: $.id: must match the file name ({doc['id']!r})")
        if doc["topic"] in topics:
            raise KnowledgeBaseError(
                f"{where}: $.topic: {doc['topic']!r} is already rule {topics[doc['topic']]!r}'s"
            )
        topics[doc["topic"]] = doc["id"]
        rule = _rule(doc, groups, where, tuple(override_doc["default"]))
        _check_rule(rule, where, refs, parameters, orderables, reasons, known_facts)
        _check_mentions(rule, where, groups, findings)
        _check_findings_used(rule, where, findings)
        rules[rule.id] = rule
    for rule in rules.values():
        for other in rule.suppresses:
            if other not in rules:
                raise KnowledgeBaseError(
                    f"rules/{rule.id}.yaml: $.suppresses: unknown rule {other!r}"
                )
        for other in rule.replaces:
            if other not in rules or other == rule.id:
                raise KnowledgeBaseError(
                    f"rules/{rule.id}.yaml: $.replaces: unknown rule {other!r}"
                )

    return KnowledgeBase(
        name=header["name"],
        version=header["version"],
        content_hash=content_hash(root),
        header=header,
        citations=citations,
        valuesets=valuesets,
        units=units,
        intervals=intervals,
        parameters=parameters,
        orderables=orderables,
        override_system=override_doc["system"],
        override_reasons=dict(override_doc["reasons"]),
        default_override_reasons=tuple(override_doc["default"]),
        findings=findings,
        groups=groups,
        rules=rules,
        analyte_units=analyte_units,
    )


def _check_edta(
    src: Mapping[str, Any],
    where: str,
    marker: str | None,
    valuesets: Mapping[str, ValueSet],
    findings: Mapping[str, Any],
) -> None:
    """Sixteenth round, part A (review 15, P17): the rest of the EDTA signature goes with its
    marker; the finding that explains a high marker is read from the record only (a lab source
    there would ask for the same draw's EDTA reading again)."""
    lowered = src.get("edta_lowered")
    keys = ("edta_unless", "edta_unless_both", "edta_unless_no_marker")
    unless = {key: src.get(key) for key in keys}
    if (lowered or any(unless.values())) and not marker:
        raise KnowledgeBaseError(
            f"{where}: `edta_lowered` and the `edta_unless*` options need `edta_marker`"
        )
    if lowered and lowered not in valuesets:
        raise KnowledgeBaseError(f"{where}.edta_lowered: unknown value set {lowered!r}")
    for key in ("edta_unless_both", "edta_unless_no_marker"):
        if unless[key] and not lowered:
            # Both name the lowered analyte they also explain (eighteenth round, part D; part I
            # of the nineteenth).
            raise KnowledgeBaseError(f"{where}: `{key}` needs `edta_lowered`")
    for key, finding in unless.items():
        if finding is None:
            continue
        if finding not in findings:
            raise KnowledgeBaseError(f"{where}.{key}: unknown finding {finding!r}")
        if any(s["from"] == "labs" for s in findings[finding]["sources"]):
            raise KnowledgeBaseError(f"{where}.{key}: {finding!r} must not read labs")


def _check_same_as(
    doc: Mapping[str, Any],
    parameters: Mapping[str, Parameter],
    intervals: Mapping[str, IntervalTable],
) -> None:
    """Sixteenth round, part A (review 15, N11): a threshold kept in a second unit for the card
    text (calcium_severe_mmol_l beside calcium_severe_mg_dl) must stay the same threshold: a
    reviewer who changes one and not the other is told so."""
    for name, raw in doc["parameters"].items():
        same = raw.get("same_as")
        if same is None:
            continue
        where = f"parameters.yaml: $.parameters.{name}.same_as"
        other = parameters.get(same["param"])
        if other is None:
            raise KnowledgeBaseError(f"{where}.param: unknown parameter {same['param']!r}")
        table = intervals.get(same["table"])
        factor = table.conversions.get(UnitTable.fold(same["unit"])) if table else None
        if table is None or factor is None:
            raise KnowledgeBaseError(
                f"{where}: interval table {same['table']!r} converts no {same['unit']!r}"
            )
        # The factor converts `unit` into the table's unit, so the pair holds only when this
        # parameter is in `unit` and the other in the table's unit (a parameter's unit is a
        # unit followed by words: "mg/dL (total calcium)").
        for parameter, unit in ((parameters[name], same["unit"]), (other, table.unit)):
            if parameter.unit.split(" (")[0].strip() != unit:
                raise KnowledgeBaseError(
                    f"{where}: {parameter.name} is in {parameter.unit!r}, not {unit!r}"
                )
        converted = parameters[name].value * factor
        if abs(converted - other.value) > 0.01 * abs(other.value):
            raise KnowledgeBaseError(
                f"{where}: {parameters[name].value:g} {same['unit']} is {converted:.2f}, "
                f"not {other.name} {other.value:g}; change both"
            )


def _variants(
    raw: Any, groups: Mapping[str, tuple[str, ...]], where: str, path: str
) -> tuple[TextItem, ...]:
    """A text, or variants of it: the first whose only_if holds, the last with none."""
    if isinstance(raw, str):
        return (TextItem(raw.strip()),)
    variants = tuple(
        TextItem(
            v["text"].strip(), _condition(v["only_if"], groups, where) if "only_if" in v else None
        )
        for v in raw
    )
    if variants[-1].only_if is not None or any(v.only_if is None for v in variants[:-1]):
        raise KnowledgeBaseError(
            f"{where}: {path}: only the last variant, and it alone, has no only_if"
        )
    return variants


def _review(raw: Mapping[str, Any] | None) -> Review | None:
    if not raw:
        return None
    return Review(
        date=raw["date"],
        reviewer=raw["reviewer"],
        sources_read=tuple(raw["sources_read"]),
        evidence=tuple(
            Evidence(e["claim"].strip(), e["source"], e.get("level")) for e in raw["evidence"]
        ),
        unverified=tuple(" ".join(u.split()) for u in raw["unverified"]),
    )


def _rule(
    doc: Mapping[str, Any],
    groups: Mapping[str, tuple[str, ...]],
    where: str,
    default_reasons: tuple[str, ...],
) -> Rule:
    card = doc.get("card")
    return Rule(
        id=doc["id"],
        topic=doc["topic"],
        version=doc["version"],
        status=doc["status"],
        family=doc["family"],
        title=doc["title"],
        intent=doc["intent"].strip(),
        kind=doc.get("kind", "card"),
        priority=doc.get("priority", 0),
        exclusive=doc.get("exclusive", False),
        suppresses=tuple(doc.get("suppresses", ())),
        replaces=tuple(doc.get("replaces", ())),
        conditions=tuple(_condition(c, groups, where) for c in doc["conditions"]),
        card=RuleCard(
            indicator=card["indicator"],
            summary=_variants(card["summary"], groups, where, "$.card.summary"),
            finding=_variants(card["finding"], groups, where, "$.card.finding"),
            reasoning=card["reasoning"].strip(),
            next_steps=_text_items(card.get("next_steps"), groups, where),
            cautions=_text_items(card.get("cautions"), groups, where),
            suggest=tuple(
                SuggestionTemplate(
                    s["orderable"],
                    s.get("recommended", False),
                    _condition(s["only_if"], groups, where) if "only_if" in s else None,
                    (s["occurrence"]["from"], s["occurrence"]["to"]) if "occurrence" in s else None,
                    " ".join(s["note"].split()) if "note" in s else None,
                )
                for s in card.get("suggest", ())
            ),
            override_reasons=tuple(card.get("override_reasons", default_reasons)),
            finding_of=card.get("finding_of", "alp"),
            record_omits=tuple(card.get("record_omits", ())),
        )
        if card
        else None,
        annotation=" ".join(doc["annotation"].split()) if doc.get("annotation") else None,
        citations=tuple(doc["citations"]),
        dates={
            k: doc[k]
            for k in (
                "approval_date",
                "last_review_date",
                "next_review_date",
                "release_date",
                "revision_date",
            )
        },
        hti1_uses=dict((doc.get("hti1") or {}).get("uses", {})),
        review=_review(doc.get("review")),
    )


class _References:
    def __init__(self, citations: Mapping[str, Citation]) -> None:
        self.citations = citations

    def citation(self, key: str | None, where: str) -> None:
        if key is not None and key not in self.citations:
            raise KnowledgeBaseError(
                f"{where}: unknown citation {key!r} (add it to a file in citations/)"
            )

    def clinical(self, key: str, where: str) -> None:
        """A rule's sources: clinical ones only (a consumer page may inform a list of causes in
        a value set, never a rule)."""
        self.citation(key, where)
        if self.citations[key].kind == "consumer":
            raise KnowledgeBaseError(f"{where}: {key!r} is a consumer page, not a clinical source")


def _walk(condition: Condition) -> Iterable[Condition]:
    yield condition
    for child in condition.children:
        yield from _walk(child)


def _check_rule(
    rule: Rule,
    where: str,
    refs: _References,
    parameters: Mapping[str, Parameter],
    orderables: Mapping[str, Orderable],
    reasons: Mapping[str, str],
    known_facts: set[str],
) -> None:
    for i, key in enumerate(rule.citations):
        refs.clinical(key, f"{where}: $.citations[{i}]")
    if rule.review:
        for i, key in enumerate(rule.review.sources_read):
            refs.clinical(key, f"{where}: $.review.sources_read[{i}]")
        for i, evidence in enumerate(rule.review.evidence):
            refs.clinical(evidence.source, f"{where}: $.review.evidence[{i}].source")
    card = rule.card
    conditions = list(rule.conditions)
    if card:
        conditions += [s.only_if for s in card.suggest if s.only_if]
        conditions += [t.only_if for t in card.items if t.only_if]
        for i, suggestion in enumerate(card.suggest):
            for name in suggestion.occurrence or ():
                if name not in parameters:
                    raise KnowledgeBaseError(
                        f"{where}: $.card.suggest[{i}].occurrence: unknown parameter {name!r}"
                    )
    for top in conditions:
        for condition in _walk(top):
            if condition.fact is not None and known_facts and condition.fact not in known_facts:
                raise KnowledgeBaseError(f"{where}: condition on unknown fact {condition.fact!r}")
            operand = condition.operand
            if isinstance(operand, Mapping) and operand.get("param") not in parameters:
                raise KnowledgeBaseError(f"{where}: unknown parameter {operand.get('param')!r}")
            if (
                condition.operator in {"has", "lacks"}
                and condition.fact in {"orders.open", "results.recent"}
                and operand not in orderables
            ):
                raise KnowledgeBaseError(f"{where}: unknown orderable {operand!r}")
    if card is None:
        _check_texts([rule.annotation or ""], rule, where, parameters, known_facts)
        return
    for i, suggestion in enumerate(card.suggest):
        if suggestion.orderable not in orderables:
            where_in_file = f"{where}: $.card.suggest[{i}].orderable"
            raise KnowledgeBaseError(f"{where_in_file}: unknown orderable {suggestion.orderable!r}")
    for reason in card.override_reasons:
        if reason not in reasons:
            raise KnowledgeBaseError(f"{where}: $.card.override_reasons: unknown reason {reason!r}")
    texts = [card.reasoning, *(t.text for t in card.items)]
    texts += [s.note for s in card.suggest if s.note]
    _check_texts(texts, rule, where, parameters, known_facts)


def _check_mentions(
    rule: Rule, where: str, groups: Mapping[str, Any], findings: Mapping[str, Finding]
) -> None:
    card = rule.card
    texts = [rule.annotation or ""]
    if card:
        texts += [card.reasoning, *(t.text for t in card.items)]
    for text in texts:
        for name in PLACEHOLDER_RE.findall(text):
            kind, _, key = name.partition(".")
            if (
                (kind in ("group", "explaining", "list") and key not in groups)
                or (kind in ("finding", "drug") and key not in findings)
                or (kind == "labels" and key not in groups and key not in findings)
            ):
                raise KnowledgeBaseError(f"{where}: text names unknown {kind} {key!r}")


def _check_findings_used(rule: Rule, where: str, findings: Mapping[str, Finding]) -> None:
    tops = list(rule.conditions)
    if rule.card:
        tops += [s.only_if for s in rule.card.suggest if s.only_if]
        tops += [t.only_if for t in rule.card.items if t.only_if]
    for name in rule.card.record_omits if rule.card else ():
        if name not in findings:
            raise KnowledgeBaseError(f"{where}.card.record_omits: unknown finding {name!r}")
    for top in tops:
        for condition in _walk(top):
            if condition.fact != "findings.present":
                continue
            operand = condition.operand
            names = operand if isinstance(operand, list) else [operand]
            for name in names:
                if name not in findings:
                    raise KnowledgeBaseError(f"{where}: unknown finding {name!r}")


def _check_texts(
    texts: list[str],
    rule: Rule,
    where: str,
    parameters: Mapping[str, Parameter],
    known_facts: set[str],
) -> None:
    texts = texts + [c.says for top in rule.conditions for c in _walk(top)]
    for text in texts:
        for name in PLACEHOLDER_RE.findall(text):
            if name.startswith("param."):
                if name.removeprefix("param.") not in parameters:
                    raise KnowledgeBaseError(f"{where}: text uses unknown parameter {{{{{name}}}}}")
            elif name.startswith(
                ("group.", "explaining.", "finding.", "drug.", "labels.", "list.")
            ):
                continue  # checked by _check_mentions
            elif known_facts and name not in known_facts:
                raise KnowledgeBaseError(f"{where}: text uses unknown fact {{{{{name}}}}}")
