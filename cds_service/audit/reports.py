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
from collections import Counter, defaultdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select, true

from cds_service.audit import schema
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
        moment = datetime.fromisoformat(str(row.outcome_timestamp).upper())
    except ValueError:
        moment = datetime.min.replace(tzinfo=UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment, int(row.id)


def _reason_labels(row: Any) -> list[str]:
    """Each reason given (Epic may give several), as a reviewer reads it."""
    labels = [
        r.get("display") or r.get("code") or "(comment only)"
        for r in row.override_reasons or ()
        if isinstance(r, dict)
    ]
    return labels or [row.override_display or row.override_code or "(comment only)"]


def rule_report(engine: Engine, since: datetime | None = None) -> dict[str, Any]:
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
                fb.c.override_code,
                fb.c.override_display,
                fb.c.override_reasons,
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
                for reason in _reason_labels(row):
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
