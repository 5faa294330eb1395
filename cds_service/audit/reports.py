"""Reports for reviewers, straight from the audit store.

- `rule_report`: per rule, how often it fired, how often its card was shown, accepted,
  overridden or left without feedback, the rates, the top override reasons; and latency
  percentiles of the invocations in the period.
- `invocation_detail`: one invocation's record, cards, feedback and decision trace (typed,
  hooks/trace.py), by hookInstance.
- `feedback_export`: feedback as computable JSON with the fields HTI-1 asks an EHR to be able
  to export: the intervention, the action taken, the feedback, the user, the date, the location.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, case, func, or_, select, true

from cds_service.audit import schema
from cds_service.hooks.feedback import outcome_moment
from cds_service.hooks.trace import DecisionTrace


def _percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return round(ordered[index], 2)


def _when(row: Any) -> tuple[datetime, int]:
    """A feedback row's place in time: outcomeTimestamp (RFC 3339, any offset), then arrival."""
    try:
        moment = outcome_moment(str(row.outcome_timestamp))
    except ValueError:  # stored before feedback checked that the date exists
        moment = datetime.min.replace(tzinfo=UTC)
    return moment, int(row.id)


COMMENT_ONLY = "(comment only)"
NO_REASON = "(no reason given)"


@dataclass(frozen=True)
class ReasonNames:
    """The displays of the service's own override reasons (the knowledge base's table), for
    a reason sent as its code alone (the CDS Hooks sandbox sends code and system only)."""

    system: str
    displays: Mapping[str, str]

    def display(self, system: Any, code: Any) -> str | None:
        if not isinstance(code, str) or system not in (None, "", self.system):
            return None
        return self.displays.get(code)


def _reason_label(
    system: Any, code: Any, display: Any, comment: Any, names: ReasonNames | None
) -> str:
    known = names.display(system, code) if names is not None else None
    if display or known or code:
        return str(display or known or code)
    return COMMENT_ONLY if comment else NO_REASON


def _reason_labels(row: Any, names: ReasonNames | None = None) -> list[str]:
    """Each reason given (Epic may give several), as a reviewer reads it: its display, else the
    display of the service's own code, else the code; "(comment only)" for a comment without a
    reason, "(no reason given)" for neither (a dismissal with nothing said)."""
    labels = [
        _reason_label(r.get("system"), r.get("code"), r.get("display"), r.get("comment"), names)
        for r in row.override_reasons or ()
        if isinstance(r, dict)
    ]
    comment = getattr(row, "override_comment", None)
    flat = _reason_label(
        row.override_system, row.override_code, row.override_display, comment, names
    )
    return labels or [flat]


def rule_report(
    engine: Engine, since: datetime | None = None, names: ReasonNames | None = None
) -> dict[str, Any]:
    inv, cards, outcomes, fb = (
        schema.invocations,
        schema.cards,
        schema.rule_outcomes,
        schema.feedback,
    )
    window = inv.c.received_at >= since if since else true()
    rules: dict[str, dict[str, Any]] = defaultdict(
        lambda: {
            "fired": 0,
            "shown": 0,
            "accepted": 0,
            "overridden": 0,
            "no_feedback": 0,
            "override_reasons": Counter(),
        }
    )
    with engine.connect() as conn:
        for row in conn.execute(
            select(outcomes.c.rule_id)
            .join(inv, inv.c.record_id == outcomes.c.record_id)
            .where(window, outcomes.c.fired.is_(True))
        ):
            rules[row.rule_id]["fired"] += 1
        shown = conn.execute(
            select(cards.c.card_uuid, cards.c.rule_id)
            .join(inv, inv.c.record_id == cards.c.record_id)
            .where(window)
        ).all()
        card_rule = {row.card_uuid: row.rule_id for row in shown}
        for row in shown:
            rules[row.rule_id]["shown"] += 1
        # A card has one outcome in the report: its final one, the latest by outcomeTimestamp
        # (accepted, then dismissed counts once, as overridden). Ties: the one received last.
        final: dict[str, Any] = {}
        for row in conn.execute(
            select(
                fb.c.id,
                fb.c.card_uuid,
                fb.c.outcome,
                fb.c.outcome_timestamp,
                fb.c.override_system,
                fb.c.override_code,
                fb.c.override_display,
                fb.c.override_reasons,
                fb.c.override_comment,
            )
            .join(cards, cards.c.card_uuid == fb.c.card_uuid)
            .join(inv, inv.c.record_id == cards.c.record_id)
            .where(window)
        ):
            held = final.get(row.card_uuid)
            if held is None or _when(row) >= _when(held):
                final[row.card_uuid] = row
        for card_uuid, row in final.items():
            if row.outcome == "overridden":
                for reason in _reason_labels(row, names):
                    rules[card_rule[card_uuid]]["override_reasons"][reason] += 1
        for card_uuid, rule_id in card_rule.items():
            given = final.get(card_uuid)
            if given is None:
                rules[rule_id]["no_feedback"] += 1
            elif given.outcome == "accepted":
                rules[rule_id]["accepted"] += 1
            elif given.outcome == "overridden":
                rules[rule_id]["overridden"] += 1
        latencies = [
            row.latency_ms
            for row in conn.execute(
                select(inv.c.latency_ms).where(
                    window, inv.c.endpoint == "service", inv.c.status == 200
                )
            )
        ]
        refused = conn.execute(select(inv.c.status).where(window, inv.c.status >= 400)).all()
    table = []
    for rule_id, counts in sorted(rules.items()):
        shown_count = counts["shown"]
        table.append(
            {
                "rule": rule_id,
                "fired": counts["fired"],
                "shown": shown_count,
                "accepted": counts["accepted"],
                "overridden": counts["overridden"],
                "no_feedback": counts["no_feedback"],
                "accept_rate": round(counts["accepted"] / shown_count, 3) if shown_count else None,
                "override_rate": round(counts["overridden"] / shown_count, 3)
                if shown_count
                else None,
                "top_override_reasons": [
                    {"reason": reason, "count": count}
                    for reason, count in counts["override_reasons"].most_common(3)
                ],
            }
        )
    statuses = Counter(row.status for row in refused)
    return {
        "since": since.isoformat() if since else None,
        "invocations": len(latencies),
        "latency_ms": {
            "p50": _percentile(latencies, 0.50),
            "p95": _percentile(latencies, 0.95),
            "p99": _percentile(latencies, 0.99),
        },
        "refused": {str(status): count for status, count in sorted(statuses.items())},
        "rules": table,
    }


def report_table(report: dict[str, Any]) -> str:
    lines = [
        f"Since {report['since'] or 'the beginning'}: {report['invocations']} answered calls; "
        f"latency ms p50 {report['latency_ms']['p50']}, p95 {report['latency_ms']['p95']}, "
        f"p99 {report['latency_ms']['p99']}; refused: {report['refused'] or 'none'}",
        "",
        f"{'rule':34} {'fired':>6} {'shown':>6} {'accept':>7} {'overr.':>7} {'none':>6} "
        f"{'acc %':>6} {'ovr %':>6}  top override reasons",
    ]

    def rate(value: float | None) -> str:
        return "-" if value is None else f"{value * 100:.0f}"

    for row in report["rules"]:
        reasons = "; ".join(f"{r['reason']} ({r['count']})" for r in row["top_override_reasons"])
        lines.append(
            f"{row['rule']:34} {row['fired']:>6} {row['shown']:>6} {row['accepted']:>7} "
            f"{row['overridden']:>7} {row['no_feedback']:>6} {rate(row['accept_rate']):>6} "
            f"{rate(row['override_rate']):>6}  {reasons}"
        )
    return "\n".join(lines)


def report_csv(report: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "rule",
            "fired",
            "shown",
            "accepted",
            "overridden",
            "no_feedback",
            "accept_rate",
            "override_rate",
            "top_override_reasons",
        ]
    )
    for row in report["rules"]:
        writer.writerow(
            [
                row["rule"],
                row["fired"],
                row["shown"],
                row["accepted"],
                row["overridden"],
                row["no_feedback"],
                row["accept_rate"],
                row["override_rate"],
                "; ".join(f"{r['reason']} ({r['count']})" for r in row["top_override_reasons"]),
            ]
        )
    return out.getvalue()


def invocation_detail(engine: Engine, hook_instance: str) -> list[dict[str, Any]]:
    inv, cards, fb = schema.invocations, schema.cards, schema.feedback
    with engine.connect() as conn:
        rows = (
            conn.execute(
                select(inv).where(inv.c.hook_instance == hook_instance).order_by(inv.c.received_at)
            )
            .mappings()
            .all()
        )
        found = []
        for row in rows:
            record = dict(row)
            record["received_at"] = row["received_at"].isoformat()
            record["trace"] = DecisionTrace.from_json(row["trace"]) if row["trace"] else None
            record["cards"] = [
                dict(card)
                for card in conn.execute(
                    select(cards).where(cards.c.record_id == row["record_id"])
                ).mappings()
            ]
            uuids = [card["card_uuid"] for card in record["cards"]]
            record["feedback"] = [
                {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in item.items()}
                for item in conn.execute(select(fb).where(fb.c.card_uuid.in_(uuids))).mappings()
            ]
            found.append(record)
        return found


def feedback_export(engine: Engine, since: datetime | None = None) -> list[dict[str, Any]]:
    inv, cards, fb = schema.invocations, schema.cards, schema.feedback
    query = (
        select(
            fb,
            cards.c.rule_id,
            cards.c.rule_version,
            cards.c.summary,
            cards.c.suggestions,
            inv.c.user_ref,
            inv.c.patient,
            inv.c.issuer,
            inv.c.tenant,
            inv.c.service_id.label("svc"),
            inv.c.hook_instance,
            inv.c.kb_version,
        )
        .join(cards, cards.c.card_uuid == fb.c.card_uuid)
        .join(inv, inv.c.record_id == cards.c.record_id)
        .order_by(fb.c.received_at)
    )
    if since:
        query = query.where(fb.c.received_at >= since)
    exported = []
    with engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
        # Which row is each card's final outcome (what `audit report` counts), over all its
        # feedback, not only the rows since `since`.
        uuids = list({row["card_uuid"] for row in rows})
        final_rows: dict[str, Any] = {}
        for chunk in (uuids[i : i + 500] for i in range(0, len(uuids), 500)):
            for item in conn.execute(
                select(fb.c.id, fb.c.card_uuid, fb.c.outcome_timestamp).where(
                    fb.c.card_uuid.in_(chunk)
                )
            ):
                held = final_rows.get(item.card_uuid)
                if held is None or _when(item) >= _when(held):
                    final_rows[item.card_uuid] = item
        final_ids = {uuid: item.id for uuid, item in final_rows.items()}
        for row in rows:
            suggestions = {s["uuid"]: s for s in row["suggestions"] or ()}
            accepted = [
                {
                    "suggestion": uuid,
                    "label": suggestions.get(uuid, {}).get("label"),
                    "codes": suggestions.get(uuid, {}).get("codes", []),
                }
                for uuid in row["accepted_suggestions"] or ()
            ]
            exported.append(
                {
                    "intervention": {
                        "rule": row["rule_id"],
                        "rule_version": row["rule_version"],
                        "knowledge_base_version": row["kb_version"],
                        "service": row["svc"],
                        "card": row["card_uuid"],
                        "card_summary": row["summary"],
                    },
                    "action_taken": {"outcome": row["outcome"], "accepted_suggestions": accepted},
                    "feedback": {
                        "override_reason": {
                            "system": row["override_system"],
                            "code": row["override_code"],
                            "display": row["override_display"],
                        }
                        if row["override_code"]
                        else None,
                        "comment": row["override_comment"],
                        # Every reason with its own comment (Epic sends a list), and what else
                        # the client sent that the service does not interpret.
                        "override_reasons": row["override_reasons"] or [],
                        "extra": row["extra"],
                    },
                    "final": final_ids.get(row["card_uuid"]) == row["id"],
                    "user": row["user_ref"],
                    "patient": row["patient"],
                    "date": row["outcome_timestamp"],
                    "received": row["received_at"].isoformat(),
                    "location": {
                        "issuer": row["issuer"],
                        "tenant": row["tenant"],
                        "hook_instance": row["hook_instance"],
                    },
                }
            )
    return exported


# --- read queries for the informatics console (cds_service/console) -----------------------
# Counting is done in SQL where it is a plain GROUP BY; percentiles and "latest outcome per
# card" are done here, over rows already narrowed to the period.

FEEDBACK_CSV_COLUMNS = (
    "received",
    "date",
    "outcome",
    "rule",
    "rule_version",
    "knowledge_base_version",
    "service",
    "card",
    "card_summary",
    "accepted_suggestions",
    "override_reason_system",
    "override_reason_code",
    "override_reason_display",
    "comment",
    "user",
    "patient",
    "issuer",
    "tenant",
    "hook_instance",
    "final",
    "all_override_reasons",
    "extra",
)


def _utc(value: datetime) -> datetime:
    """SQLite hands timestamps back without their zone; they were stored in UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _day(conn: Connection, column: Any) -> Any:
    """The UTC calendar day of a timestamp column, as YYYY-MM-DD text, in either database."""
    if conn.dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
    return func.substr(column, 1, 10)


def _answered(since: datetime) -> Any:
    inv = schema.invocations
    return and_(inv.c.received_at >= since, inv.c.endpoint == "service", inv.c.status == 200)


def daily_activity(engine: Engine, since: datetime) -> dict[str, dict[str, int]]:
    """Per UTC day: answered calls, calls answered with cards, cards, refused calls."""
    inv = schema.invocations
    days: dict[str, dict[str, int]] = defaultdict(
        lambda: {"invocations": 0, "with_cards": 0, "cards": 0, "refused": 0}
    )
    with engine.connect() as conn:
        day = _day(conn, inv.c.received_at).label("day")
        for row in conn.execute(
            select(
                day,
                func.count(),
                func.sum(case((inv.c.cards_count > 0, 1), else_=0)),
                func.sum(inv.c.cards_count),
            )
            .where(_answered(since))
            .group_by(day)
        ):
            days[row[0]].update(
                invocations=int(row[1]), with_cards=int(row[2] or 0), cards=int(row[3] or 0)
            )
        for row in conn.execute(
            select(day, func.count())
            .where(inv.c.received_at >= since, inv.c.status >= 400)
            .group_by(day)
        ):
            days[row[0]]["refused"] = int(row[1])
    return dict(sorted(days.items()))


def daily_latency(engine: Engine, since: datetime) -> dict[str, Any]:
    """p50, p95 and p99 latency (ms) of answered calls: per UTC day (`days`) and over the whole
    period (`overall`)."""
    inv = schema.invocations
    values: dict[str, list[float]] = defaultdict(list)
    with engine.connect() as conn:
        day = _day(conn, inv.c.received_at).label("day")
        for row in conn.execute(select(day, inv.c.latency_ms).where(_answered(since))):
            values[row[0]].append(float(row[1]))

    def summary(v: list[float]) -> dict[str, Any]:
        return {
            "n": len(v),
            "p50": _percentile(v, 0.50),
            "p95": _percentile(v, 0.95),
            "p99": _percentile(v, 0.99),
        }

    return {
        "days": {d: summary(v) for d, v in sorted(values.items())},
        "overall": summary([x for v in values.values() for x in v]),
    }


def cards_by_rule_and_indicator(engine: Engine, since: datetime) -> list[dict[str, Any]]:
    inv, cards = schema.invocations, schema.cards
    with engine.connect() as conn:
        rows = conn.execute(
            select(cards.c.rule_id, cards.c.indicator, func.count())
            .join(inv, inv.c.record_id == cards.c.record_id)
            .where(inv.c.received_at >= since)
            .group_by(cards.c.rule_id, cards.c.indicator)
        ).all()
    return [{"rule": r[0], "indicator": r[1], "count": int(r[2])} for r in rows]


def rule_daily(
    engine: Engine, since: datetime, rules: Sequence[str] | None = None
) -> dict[str, dict[str, dict[str, int]]]:
    """rule -> UTC day -> {"fired": n, "shown": n}. `rules` names every id a rule is stored
    under (its id and, once cards carry it, its topic code)."""
    inv, cards, outcomes = schema.invocations, schema.cards, schema.rule_outcomes
    found: dict[str, dict[str, dict[str, int]]] = defaultdict(
        lambda: defaultdict(lambda: {"fired": 0, "shown": 0})
    )
    with engine.connect() as conn:
        day = _day(conn, inv.c.received_at).label("day")
        fired = (
            select(outcomes.c.rule_id, day, func.count())
            .join(inv, inv.c.record_id == outcomes.c.record_id)
            .where(inv.c.received_at >= since, outcomes.c.fired.is_(True))
            .group_by(outcomes.c.rule_id, day)
        )
        shown = (
            select(cards.c.rule_id, day, func.count())
            .join(inv, inv.c.record_id == cards.c.record_id)
            .where(inv.c.received_at >= since)
            .group_by(cards.c.rule_id, day)
        )
        if rules is not None:
            fired = fired.where(outcomes.c.rule_id.in_(rules))
            shown = shown.where(cards.c.rule_id.in_(rules))
        for rule, d, count in conn.execute(fired):
            found[rule][d]["fired"] += int(count)
        for rule, d, count in conn.execute(shown):
            found[rule][d]["shown"] += int(count)
    return {rule: dict(by_day) for rule, by_day in found.items()}


def latest_feedback(
    engine: Engine,
    since: datetime,
    rules: Sequence[str] | None = None,
    names: ReasonNames | None = None,
) -> list[dict[str, Any]]:
    """One row per card with feedback in the period: its final outcome, chosen as `rule_report`
    chooses it (the latest by outcomeTimestamp, then the one received last), with the override
    reasons and comment, the card's rule, and the invocation's day and hookInstance. Newest
    answer first."""
    inv, cards, fb = schema.invocations, schema.cards, schema.feedback
    query = (
        select(
            fb.c.id,
            fb.c.card_uuid,
            fb.c.outcome,
            fb.c.outcome_timestamp,
            fb.c.override_system,
            fb.c.override_code,
            fb.c.override_display,
            fb.c.override_reasons,
            fb.c.override_comment,
            fb.c.received_at,
            cards.c.rule_id,
            inv.c.hook_instance,
            inv.c.user_ref,
            inv.c.received_at.label("invoked_at"),
        )
        .join(cards, cards.c.card_uuid == fb.c.card_uuid)
        .join(inv, inv.c.record_id == cards.c.record_id)
        .where(inv.c.received_at >= since)
    )
    if rules is not None:
        query = query.where(cards.c.rule_id.in_(rules))
    final: dict[str, Any] = {}
    with engine.connect() as conn:
        for row in conn.execute(query):
            held = final.get(row.card_uuid)
            if held is None or _when(row) >= _when(held):
                final[row.card_uuid] = row
    found = []
    for row in final.values():
        item = dict(row._mapping)
        item["received_at"] = _utc(item["received_at"])
        item["invoked_at"] = _utc(item["invoked_at"])
        item["day"] = item["invoked_at"].date().isoformat()
        item["reasons"] = _reason_labels(row, names) if row.outcome == "overridden" else []
        found.append(item)
    return sorted(found, key=lambda r: (r["received_at"], r["id"]), reverse=True)


def kb_versions(engine: Engine, since: datetime) -> list[dict[str, Any]]:
    """Knowledge-base versions that answered calls in the period, newest first."""
    inv = schema.invocations
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                inv.c.kb_version,
                inv.c.kb_hash,
                func.count(),
                func.min(inv.c.received_at),
                func.max(inv.c.received_at),
            )
            .where(inv.c.received_at >= since, inv.c.endpoint == "service")
            .group_by(inv.c.kb_version, inv.c.kb_hash)
        ).all()
    found = [
        {
            "version": r[0],
            "hash": r[1],
            "invocations": int(r[2]),
            "first": _utc(r[3]),
            "last": _utc(r[4]),
        }
        for r in rows
    ]
    return sorted(found, key=lambda r: r["last"], reverse=True)


def search_invocations(
    engine: Engine,
    *,
    hook_instance: str | None = None,
    day: date | None = None,
    rules: Sequence[str] | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Service invocations, newest first, narrowed by hookInstance (exact), UTC day, and rule
    (it fired, or its card was shown)."""
    inv, cards, outcomes = schema.invocations, schema.cards, schema.rule_outcomes
    query = select(
        inv.c.record_id,
        inv.c.received_at,
        inv.c.service_id,
        inv.c.hook_instance,
        inv.c.status,
        inv.c.reason,
        inv.c.cards_count,
        inv.c.latency_ms,
        inv.c.kb_version,
        inv.c.patient,
        inv.c.user_ref,
    ).where(inv.c.endpoint == "service")
    if hook_instance:
        query = query.where(inv.c.hook_instance == hook_instance)
    if day:
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        query = query.where(inv.c.received_at >= start)
        if day < date.max:  # the next day of 9999-12-31 is past datetime's range: no bound
            query = query.where(inv.c.received_at < start + timedelta(days=1))
    if rules:
        fired = select(outcomes.c.record_id).where(
            outcomes.c.rule_id.in_(rules), outcomes.c.fired.is_(True)
        )
        shown = select(cards.c.record_id).where(cards.c.rule_id.in_(rules))
        query = query.where(or_(inv.c.record_id.in_(fired), inv.c.record_id.in_(shown)))
    query = query.order_by(inv.c.received_at.desc()).limit(limit).offset(offset)
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(query).mappings()]
    for row in rows:
        row["received_at"] = _utc(row["received_at"])
    return rows


def rule_invocations(
    engine: Engine, rules: Sequence[str], *, fired: bool, limit: int
) -> list[dict[str, Any]]:
    """Most recent invocations in which a rule fired (`fired=True`), or held and was
    superseded by another rule, with their decision trace (the caller reads why not)."""
    inv, outcomes = schema.invocations, schema.rule_outcomes
    columns = [
        inv.c.record_id,
        inv.c.received_at,
        inv.c.hook_instance,
        inv.c.cards_count,
        outcomes.c.observation,
    ]
    if not fired:
        columns.append(inv.c.trace)
    query = (
        select(*columns)
        .join(inv, inv.c.record_id == outcomes.c.record_id)
        .where(outcomes.c.rule_id.in_(rules), outcomes.c.fired.is_(fired))
        .order_by(inv.c.received_at.desc())
        .limit(limit)
    )
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(query).mappings()]
    for row in rows:
        row["received_at"] = _utc(row["received_at"])
    return rows


def stored_traces(engine: Engine, since: datetime, limit: int) -> tuple[list[dict[str, Any]], bool]:
    """Answered service invocations of the period with their decision traces, newest first, at
    most `limit`; and whether there were more."""
    inv = schema.invocations
    query = (
        select(inv.c.record_id, inv.c.received_at, inv.c.hook_instance, inv.c.trace)
        .where(_answered(since), inv.c.trace.is_not(None))
        .order_by(inv.c.received_at.desc())
        .limit(limit + 1)
    )
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(query).mappings()]
    for row in rows:
        row["received_at"] = _utc(row["received_at"])
    return rows[:limit], len(rows) > limit


def console_access_log(engine: Engine, limit: int = 200) -> list[dict[str, Any]]:
    table = schema.console_access
    with engine.connect() as conn:
        rows = [
            dict(r)
            for r in conn.execute(
                select(table).order_by(table.c.at.desc(), table.c.id.desc()).limit(limit)
            ).mappings()
        ]
    for row in rows:
        row["at"] = _utc(row["at"])
    return rows


def _csv_cell(value: Any) -> str:
    """Text a spreadsheet will not run: a cell that starts like a formula gets a leading quote
    (OWASP CSV injection), since comments and reasons come from outside."""
    text = "" if value is None else str(value)
    if text[:1] in {"=", "+", "-", "@", "\t", "\r"}:
        return "'" + text
    return text


def feedback_csv(exported: Sequence[dict[str, Any]]) -> str:
    """`feedback_export` rows as CSV, one row per feedback item, FEEDBACK_CSV_COLUMNS: the first
    override reason in its own columns, every reason (Epic sends several, each with a comment)
    and fields the service does not interpret as JSON, and whether the row is the card's final
    outcome (the one reports count)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(FEEDBACK_CSV_COLUMNS)
    for item in exported:
        intervention = item["intervention"]
        reason = item["feedback"]["override_reason"] or {}
        accepted = "; ".join(
            str(s.get("label") or s["suggestion"])
            for s in item["action_taken"]["accepted_suggestions"]
        )
        writer.writerow(
            [
                _csv_cell(v)
                for v in (
                    item["received"],
                    item["date"],
                    item["action_taken"]["outcome"],
                    intervention["rule"],
                    intervention["rule_version"],
                    intervention["knowledge_base_version"],
                    intervention["service"],
                    intervention["card"],
                    intervention["card_summary"],
                    accepted,
                    reason.get("system"),
                    reason.get("code"),
                    reason.get("display"),
                    item["feedback"]["comment"],
                    item["user"],
                    item["patient"],
                    item["location"]["issuer"],
                    item["location"]["tenant"],
                    item["location"]["hook_instance"],
                    "yes" if item.get("final") else "no",
                    json.dumps(item["feedback"].get("override_reasons") or [], sort_keys=True),
                    json.dumps(item["feedback"]["extra"], sort_keys=True)
                    if item["feedback"].get("extra")
                    else "",
                )
            ]
        )
    return out.getvalue()
