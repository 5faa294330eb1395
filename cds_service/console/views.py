"""What each console page shows, assembled from the audit store, the knowledge base and the
rulebook. Routes (blueprint.py) only pick the page and render these."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote

from markupsafe import Markup
from sqlalchemy import Engine

from cds_service.audit import reports
from cds_service.console import charts, trace
from cds_service.console.charts import Series
from cds_service.knowledge.model import KnowledgeBase, Rule
from cds_service.render.rulebook import rule_entry

PERIODS = (7, 30, 90, 365)
DEFAULT_PERIOD = 30
INDICATORS = ("info", "warning", "critical")


@dataclass(frozen=True)
class Period:
    days: int
    until: datetime

    @property
    def since(self) -> datetime:
        start = (self.until - timedelta(days=self.days - 1)).date()
        return datetime(start.year, start.month, start.day, tzinfo=UTC)

    def day_labels(self) -> list[str]:
        first = self.since.date()
        return [(first + timedelta(days=i)).isoformat() for i in range(self.days)]

    @property
    def granularity(self) -> str:
        if self.days <= 14:
            return "day"
        return "week" if self.days <= 120 else "month"

    def bucket(self, day: str) -> str:
        """The day, the Monday of its ISO week, or its month, as the period's bucket label."""
        if self.granularity == "day":
            return day
        parsed = date.fromisoformat(day)
        if self.granularity == "week":
            return (parsed - timedelta(days=parsed.weekday())).isoformat()
        return parsed.isoformat()[:7]

    def buckets(self) -> list[str]:
        return list(dict.fromkeys(self.bucket(d) for d in self.day_labels()))

    @property
    def bucket_name(self) -> str:
        return {"day": "day", "week": "week starting (Monday)", "month": "month"}[self.granularity]


def period(raw: str | None, now: datetime) -> Period:
    try:
        days = int(raw) if raw else DEFAULT_PERIOD
    except ValueError:
        days = DEFAULT_PERIOD
    return Period(days if days in PERIODS else DEFAULT_PERIOD, now)


def short_day(day: str) -> str:
    return day[5:] if len(day) == 10 else day


class RuleIndex:
    """Rules of the loaded knowledge base, found by the id the audit store keeps for them: the
    rule id, or its topic code once cards carry one (ARCHITECTURE section 5)."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self._by_key: dict[str, str] = {}
        for rule in kb.rules.values():
            self._by_key[rule.id] = rule.id
            topic = getattr(rule, "topic", None)
            if isinstance(topic, str) and topic:
                self._by_key[topic] = rule.id

    def canonical(self, stored: str | None) -> str:
        stored = stored or "(no rule)"
        return self._by_key.get(stored, stored)

    def rule(self, rule_id: str) -> Rule | None:
        return self.kb.rules.get(self._by_key.get(rule_id, rule_id))

    def aliases(self, rule_id: str) -> list[str]:
        found = {rule_id} | {k for k, v in self._by_key.items() if v == rule_id}
        return sorted(found)

    def title(self, rule_id: str) -> str:
        rule = self.rule(rule_id)
        return rule.title if rule else rule_id

    def ordered(self, extra: Iterable[str] = ()) -> list[str]:
        """Knowledge-base rules by priority, then ids only the store knows."""
        known = [r.id for r in sorted(self.kb.rules.values(), key=lambda r: (-r.priority, r.id))]
        return known + sorted({self.canonical(e) for e in extra} - set(known))


def rule_url(rule_id: str) -> str:
    return "/console/rules/" + quote(rule_id, safe="")


def invocation_url(hook_instance: str | None) -> str | None:
    return "/console/invocations/" + quote(hook_instance, safe="") if hook_instance else None


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _fmt_rate(value: float | None) -> str:
    return "–" if value is None else charts.percent(value)


@dataclass
class RuleCounts:
    fired: int = 0
    shown: int = 0
    accepted: int = 0
    overridden: int = 0

    @property
    def answered(self) -> int:
        return self.accepted + self.overridden

    @property
    def no_feedback(self) -> int:
        return max(0, self.shown - self.answered)

    @property
    def accept_rate(self) -> float | None:
        return _rate(self.accepted, self.shown)

    @property
    def override_rate(self) -> float | None:
        return _rate(self.overridden, self.shown)


@dataclass
class Figure:
    """A chart and the table of its numbers."""

    id: str
    title: str
    svg: Markup
    columns: Sequence[str]
    rows: Sequence[Sequence[Any]]
    note: str | None = None


@dataclass
class RuleActivity:
    """Per rule and bucket: counts, from `rule_daily` and `latest_feedback`."""

    totals: dict[str, RuleCounts] = field(default_factory=lambda: defaultdict(RuleCounts))
    by_bucket: dict[str, dict[str, RuleCounts]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(RuleCounts))
    )


def rule_activity(
    engine: Engine,
    index: RuleIndex,
    span: Period,
    rules: Sequence[str] | None = None,
    feedback: Sequence[Mapping[str, Any]] | None = None,
) -> RuleActivity:
    activity = RuleActivity()
    for stored, days in reports.rule_daily(engine, span.since, rules).items():
        rule = index.canonical(stored)
        for day, counts in days.items():
            for target in (activity.totals[rule], activity.by_bucket[rule][span.bucket(day)]):
                target.fired += counts["fired"]
                target.shown += counts["shown"]
    if feedback is None:
        feedback = reports.latest_feedback(engine, span.since, rules, reason_names(index.kb))
    for item in feedback:
        rule = index.canonical(item["rule_id"])
        for target in (activity.totals[rule], activity.by_bucket[rule][span.bucket(item["day"])]):
            if item["outcome"] == "accepted":
                target.accepted += 1
            elif item["outcome"] == "overridden":
                target.overridden += 1
    return activity


def override_reasons(item: Mapping[str, Any]) -> list[str]:
    """Every reason given with an override (Epic may send several), as `rule_report` names them."""
    return [str(r) for r in item.get("reasons") or [reports.NO_REASON]]


def reason_names(kb: KnowledgeBase) -> reports.ReasonNames:
    """The knowledge base's override-reason table, to name a reason sent as its code alone."""
    return reports.ReasonNames(kb.override_system, kb.override_reasons)


def overview(engine: Engine, kb: KnowledgeBase, span: Period) -> dict[str, Any]:
    index = RuleIndex(kb)
    days = span.day_labels()
    activity = reports.daily_activity(engine, span.since)
    latency = reports.daily_latency(engine, span.since)
    feedback = reports.latest_feedback(engine, span.since, names=reason_names(kb))
    rules = rule_activity(engine, index, span, feedback=feedback)
    figures = []

    # Invocations per day.
    answered_with = [activity.get(d, {}).get("with_cards", 0) for d in days]
    answered_without = [
        activity.get(d, {}).get("invocations", 0) - activity.get(d, {}).get("with_cards", 0)
        for d in days
    ]
    refused = [activity.get(d, {}).get("refused", 0) for d in days]
    title = "Invocations per day"
    figures.append(
        Figure(
            "invocations",
            title,
            charts.vbars(
                title,
                [short_day(d) for d in days],
                [
                    Series("answered with cards", answered_with, "s0"),
                    Series("answered, no card", answered_without, "s1"),
                    Series("refused", refused, "s3"),
                ],
                x_label="day (UTC)",
                y_label="invocations",
            ),
            ("day", "answered with cards", "answered, no card", "refused", "cards shown"),
            [
                (d, w, wo, r, activity.get(d, {}).get("cards", 0))
                for d, w, wo, r in zip(days, answered_with, answered_without, refused, strict=True)
                if w or wo or r
            ],
        )
    )

    # Cards by rule and indicator.
    by_rule: dict[str, Counter[str]] = defaultdict(Counter)
    for row in reports.cards_by_rule_and_indicator(engine, span.since):
        by_rule[index.canonical(row["rule"])][row["indicator"] or "info"] += row["count"]
    shown_rules = [r for r in index.ordered(by_rule) if by_rule.get(r)]
    title = "Cards shown by rule and indicator"
    figures.append(
        Figure(
            "cards-by-rule",
            title,
            charts.hbars(
                title,
                shown_rules,
                [
                    Series(ind, [by_rule[r][ind] for r in shown_rules], ind)
                    for ind in INDICATORS
                    if any(by_rule[r][ind] for r in shown_rules)
                ],
                x_label="cards shown",
                links=[rule_url(r) for r in shown_rules],
            ),
            ("rule", *INDICATORS, "total"),
            [
                (r, *(by_rule[r][i] for i in INDICATORS), sum(by_rule[r].values()))
                for r in shown_rules
            ],
        )
    )

    # Acceptance and override rate per rule over time.
    buckets = span.buckets()
    for key, label, attr in (
        ("acceptance", "Acceptance rate", "accepted"),
        ("override", "Override rate", "overridden"),
    ):
        title = f"{label} per rule, by {span.granularity} (latest answer per card)"
        values: list[list[float | None]] = []
        tips: list[list[str]] = []
        table: list[tuple[Any, ...]] = []
        for rule in shown_rules:
            row_values: list[float | None] = []
            row_tips = []
            for b in buckets:
                c = rules.by_bucket[rule].get(b, RuleCounts())
                rate = _rate(getattr(c, attr), c.shown)
                row_values.append(rate)
                row_tips.append(
                    f"{rule}, {span.granularity} {b}: {_fmt_rate(rate)} {attr} "
                    f"({getattr(c, attr)} of {c.shown} cards; {c.accepted} accepted, "
                    f"{c.overridden} overridden, {c.no_feedback} no answer)"
                )
                if c.shown:
                    table.append((rule, b, c.shown, c.accepted, c.overridden, _fmt_rate(rate)))
            values.append(row_values)
            tips.append(row_tips)
        figures.append(
            Figure(
                key,
                title,
                charts.heatmap(
                    title,
                    shown_rules,
                    [short_day(b) for b in buckets],
                    values,
                    tips,
                    x_label=span.bucket_name,
                    css="heat" if key == "acceptance" else "heatr",
                    links=[rule_url(r) for r in shown_rules],
                ),
                ("rule", span.granularity, "cards", "accepted", "overridden", "rate"),
                table,
                note="Blank cells: no card from that rule in that period.",
            )
        )

    # Top override reasons.
    reasons = Counter(
        r for f in feedback if f["outcome"] == "overridden" for r in override_reasons(f)
    )
    top = reasons.most_common(10)
    title = "Top override reasons"
    figures.append(
        Figure(
            "override-reasons",
            title,
            charts.hbars(
                title,
                [r for r, _ in top],
                [Series("overrides", [n for _, n in top], "s2")],
                x_label="cards overridden (latest answer)",
            ),
            ("reason", "overrides"),
            top,
        )
    )

    # Latency percentiles.
    per_day = latency["days"]
    title = "Latency percentiles per day (answered calls)"
    figures.append(
        Figure(
            "latency",
            title,
            charts.lines(
                title,
                [short_day(d) for d in days],
                [
                    Series(p, [per_day.get(d, {}).get(p) for d in days], css)
                    for p, css in (("p50", "s0"), ("p95", "s2"), ("p99", "s3"))
                ],
                x_label="day (UTC)",
                y_label="milliseconds",
                fmt=charts.millis,
            ),
            ("day", "calls", "p50 ms", "p95 ms", "p99 ms"),
            [(d, v["n"], v["p50"], v["p95"], v["p99"]) for d, v in per_day.items()],
        )
    )

    totals = RuleCounts(
        shown=sum(c.shown for c in rules.totals.values()),
        accepted=sum(c.accepted for c in rules.totals.values()),
        overridden=sum(c.overridden for c in rules.totals.values()),
    )
    rule_rows: list[dict[str, Any]] = []
    for rule_id in index.ordered(rules.totals):
        c = rules.totals.get(rule_id, RuleCounts())
        known = index.rule(rule_id)
        rule_rows.append(
            {
                "id": rule_id,
                "title": known.title if known else "(not in the loaded knowledge base)",
                "kind": known.kind if known else "",
                "counts": c,
                "accept": _fmt_rate(c.accept_rate),
                "override": _fmt_rate(c.override_rate),
            }
        )
    return {
        "figures": figures,
        "totals": {
            "invocations": sum(v["invocations"] for v in activity.values()),
            "with_cards": sum(v["with_cards"] for v in activity.values()),
            "cards": totals.shown,
            "refused": sum(v["refused"] for v in activity.values()),
            "accepted": totals.accepted,
            "overridden": totals.overridden,
            "accept_rate": _fmt_rate(totals.accept_rate),
            "override_rate": _fmt_rate(totals.override_rate),
            "latency": latency["overall"],
        },
        "rules": rule_rows,
        "kb_versions": reports.kb_versions(engine, span.since),
        "kb_current": (kb.version, kb.content_hash),
    }


def _review(entry: Mapping[str, Any]) -> Any:
    """The rule's clinical review record, when the knowledge base has one (issue 10 adds it)."""
    for key in ("clinical_review", "review"):
        if entry.get(key):
            return entry[key]
    return None


def rule_page(engine: Engine, kb: KnowledgeBase, rule_id: str, span: Period) -> dict[str, Any]:
    index = RuleIndex(kb)
    canonical = index.canonical(rule_id)
    known = index.rule(canonical)
    aliases = index.aliases(canonical)
    feedback = reports.latest_feedback(engine, span.since, aliases, reason_names(kb))
    activity = rule_activity(engine, index, span, aliases, feedback)
    buckets = span.buckets()
    counts = [activity.by_bucket[canonical].get(b, RuleCounts()) for b in buckets]
    labels = [short_day(b) for b in buckets]
    figures = []
    title = f"Fired, shown and answered, by {span.granularity}"
    figures.append(
        Figure(
            "rule-trend",
            title,
            charts.lines(
                title,
                labels,
                [
                    Series("cards shown", [c.shown for c in counts], "s0"),
                    Series("accepted", [c.accepted for c in counts], "s1"),
                    Series("overridden", [c.overridden for c in counts], "s3"),
                    # Dashed and drawn last: it often equals "cards shown" and would hide.
                    Series("fired", [c.fired for c in counts], "s4 dashed"),
                ],
                x_label=span.bucket_name,
                y_label="count",
                integer=True,
            ),
            (span.granularity, "fired", "shown", "accepted", "overridden", "no answer"),
            [
                (b, c.fired, c.shown, c.accepted, c.overridden, c.no_feedback)
                for b, c in zip(buckets, counts, strict=True)
                if c.fired or c.shown
            ],
        )
    )
    title = f"Acceptance and override rate, by {span.granularity}"
    figures.append(
        Figure(
            "rule-rates",
            title,
            charts.lines(
                title,
                labels,
                [
                    Series("acceptance rate", [c.accept_rate for c in counts], "s1"),
                    Series("override rate", [c.override_rate for c in counts], "s3"),
                ],
                x_label=span.bucket_name,
                y_label="share of cards shown",
                fmt=charts.percent,
                y_max=1.0,
            ),
            (span.granularity, "cards", "acceptance", "override"),
            [
                (b, c.shown, _fmt_rate(c.accept_rate), _fmt_rate(c.override_rate))
                for b, c in zip(buckets, counts, strict=True)
                if c.shown
            ],
        )
    )
    overrides = [f for f in feedback if f["outcome"] == "overridden"]
    reasons = Counter(r for f in overrides for r in override_reasons(f)).most_common()
    fired = reports.rule_invocations(engine, aliases, fired=True, limit=20)
    suppressed: list[dict[str, Any]] = []
    for row in reports.rule_invocations(engine, aliases, fired=False, limit=500):
        outcome = trace.rule_outcome(row["trace"], aliases, row["observation"])
        if outcome is None:
            outcome = trace.rule_outcome(row["trace"], aliases, None)
        if outcome and outcome.suppressed:
            suppressed.append({**row, "why_not": outcome.why_not})
            if len(suppressed) == 20:
                break
    entry = rule_entry(kb, known) if known else None
    return {
        "id": canonical,
        "known": known,
        "entry": entry,
        "review": _review(entry) if entry else None,
        "totals": activity.totals.get(canonical, RuleCounts()),
        "figures": figures,
        "reasons": reasons,
        "overrides": overrides[:50],
        "fired": fired,
        "suppressed": suppressed,
    }


def invocation_page(engine: Engine, hook_instance: str) -> list[dict[str, Any]]:
    records = reports.invocation_detail(engine, hook_instance)
    for record in records:
        by_card: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for item in record["feedback"]:
            # The timestamp as the client wrote it, kept when it was normalised to UTC: shown
            # beside the timestamp, not among the fields the service does not interpret.
            extra = dict(item.get("extra") or {})
            sent = extra.pop("outcomeTimestamp", None)
            item["sent_timestamp"] = sent if isinstance(sent, str) else None
            item["extra"] = extra or None
            by_card[item["card_uuid"]].append(item)
        for card in record["cards"]:
            card["feedback"] = sorted(
                by_card.get(card["card_uuid"], []), key=lambda f: str(f["received_at"])
            )
        record["view"] = trace.view(record["trace"])
    return records


def search(
    engine: Engine,
    index: RuleIndex,
    *,
    hook_instance: str | None,
    day: date | None,
    rule: str | None,
    page: int,
    per_page: int = 50,
) -> list[dict[str, Any]]:
    return reports.search_invocations(
        engine,
        hook_instance=hook_instance,
        day=day,
        rules=index.aliases(index.canonical(rule)) if rule else None,
        limit=per_page + 1,
        offset=(page - 1) * per_page,
    )
