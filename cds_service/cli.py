"""The `alp-cds` command: serve the service and check the knowledge base."""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cds_service.knowledge.loader import KnowledgeBaseError
from cds_service.settings import Settings, SettingsError


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        raise SystemExit(f"alp-cds: configuration error: {exc}") from None


def serve(args: argparse.Namespace) -> int:
    from cds_service.serving import (
        GunicornServer,
        gunicorn_options,
        post_fork_warm_up,
        prepare_metrics_dir,
        worker_exit_drain,
    )

    settings = _settings()
    if not args.dev:
        # Before anything imports prometheus_client: workers then share their samples.
        prepare_metrics_dir(settings.data_dir)
    from cds_service.observability.logs import configure_logging

    configure_logging(settings.log_level, settings.dev_mode)
    from cds_service.app import create_app
    from cds_service.audit.migrate import NotMigrated

    try:
        app = create_app(settings)
    except NotMigrated as exc:
        # Exit status 2, before gunicorn forks: a worker would only die on its first write.
        print(f"alp-cds: {exc}", file=sys.stderr)
        return 2
    except KnowledgeBaseError as exc:
        raise SystemExit(f"alp-cds: knowledge base error: {exc}") from None
    except SettingsError as exc:
        raise SystemExit(f"alp-cds: configuration error: {exc}") from None
    logging.getLogger("cds_service").info(
        "starting",
        extra={"fields": {"event": "start", "settings": dict(settings.effective())}},
    )
    if args.dev:
        # Flask's own single-process server, for local development only.
        audit = app.extensions["alp_cds"].audit
        audit.start_writer(settings.audit_batch_ms)
        try:
            app.run(host=settings.host, port=settings.port, debug=False, use_reloader=False)
        finally:
            audit.stop_writer()
        return 0
    options = gunicorn_options(settings)
    options["post_fork"] = post_fork_warm_up(app)
    options["worker_exit"] = worker_exit_drain(app)
    GunicornServer(app, options).run()
    return 0


def kb_check(_: argparse.Namespace) -> int:
    from cds_service.app import load_knowledge_base

    settings = _settings()
    try:
        kb = load_knowledge_base(settings)
    except KnowledgeBaseError as exc:
        print(f"knowledge base error: {exc}", file=sys.stderr)
        return 1
    print(
        f"{kb.name} v{kb.version} ({kb.content_hash[:12]}): {len(kb.rules)} rules, "
        f"{len(kb.valuesets)} value sets, {len(kb.orderables)} orderables, "
        f"{len(kb.intervals)} interval tables, {len(kb.parameters)} parameters: OK"
    )
    return 0


def kb_report(args: argparse.Namespace) -> int:
    import json

    from cds_service.app import load_knowledge_base
    from cds_service.render.rulebook import rulebook, rulebook_html

    try:
        kb = load_knowledge_base(_settings())
    except KnowledgeBaseError as exc:
        print(f"knowledge base error: {exc}", file=sys.stderr)
        return 1
    text = rulebook_html(kb) if args.format == "html" else json.dumps(rulebook(kb), indent=2)
    if args.output == "-":
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text, "utf-8")
        print(f"wrote {args.output} ({len(kb.rules)} rules, knowledge base v{kb.version})")
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("expected a positive whole number")
    return value


def kb_impact(args: argparse.Namespace) -> int:
    import json

    from cds_service.app import load_knowledge_base
    from cds_service.console import impact

    settings = _settings()
    try:
        since = impact.parse_since(args.since, datetime.now(UTC))
    except ValueError:
        raise SystemExit(
            f"alp-cds: --since expects 30d or a date such as 2026-11-15, got {args.since!r}"
        ) from None
    try:
        current = load_knowledge_base(settings)
        candidate = impact.load_candidate(Path(args.candidate).resolve(), current)
    except KnowledgeBaseError as exc:
        print(f"knowledge base error: {exc}", file=sys.stderr)
        return 1
    report = impact.impact(
        current,
        candidate,
        _audit_engine(),
        since,
        candidate_name=str(Path(args.candidate).resolve()),
        limit=args.limit,
        examples=args.examples,
    )
    print(json.dumps(report.to_json(), indent=2) if args.json else impact.report_text(report))
    return 0


def evaluate(args: argparse.Namespace) -> int:
    import json

    from cds_service.alp_services import AlpServices
    from cds_service.app import load_knowledge_base, local_order_codes
    from cds_service.explain import EvaluateError, evaluate_document, explain_json, explain_text

    settings = _settings()
    try:
        kb = load_knowledge_base(settings)
        document = json.loads(Path(args.file).read_text("utf-8"))
        services = AlpServices(
            kb, settings.base_url, settings.result_sign_hook, local_order_codes(settings, kb)
        )
        answer = evaluate_document(services, document)
    except (OSError, ValueError) as exc:
        # KnowledgeBaseError, EvaluateError and JSON errors are all ValueErrors.
        kind = "cannot evaluate" if isinstance(exc, EvaluateError) else "error"
        print(f"{kind}: {exc}", file=sys.stderr)
        return 1
    print(explain_json(answer) if args.json else explain_text(answer.trace))
    return 0


def config_check(_: argparse.Namespace) -> int:
    import json

    from cds_service.app import load_trust_store

    try:
        settings = Settings.from_env()
        trust = load_trust_store(settings)
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 1
    print("Settings (from the environment; credentials masked):")
    for name, value in settings.effective():
        print(f"  {name} = {value}")
    print("\nTrusted CDS clients:")
    if not trust:
        print("  none")
    for issuer in trust.issuers.values():
        print("  " + json.dumps(issuer.describe(), indent=2).replace("\n", "\n  "))
    if not trust and not settings.dev_mode:
        print(
            "\nerror: no trusted CDS client outside development mode: the service will not start",
            file=sys.stderr,
        )
        return 1
    try:
        settings.require_public_base_url()
    except SettingsError as exc:
        print(f"\nerror: {exc}: the service will not start", file=sys.stderr)
        return 1
    if settings.dev_mode:
        print("\nWARNING: development mode" + ("" if trust else ", and no JWT is checked"))
    return 0


def _audit_engine(load_spool: bool = False) -> Any:
    from cds_service.audit.store import make_engine

    settings = _settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.audit_url)
    if load_spool:
        _load_spool(settings, engine)
    return engine


def _load_spool(settings: Settings, engine: Any) -> None:
    """Reports read the store; records the service wrote behind (the last ~150 ms, or all of an
    outage) are loaded from the spool first, as a running writer would. Best effort: a reader
    without write access to the data directory sees the store as it is."""
    from cds_service.audit.spool import Spool
    from cds_service.audit.store import OUTAGE, AuditStore

    # Loading uses each record's own knowledge-base version: none is needed here.
    store = AuditStore(engine, Spool(settings.data_dir / "audit-spool.jsonl"), "", "")
    try:
        if store.spool.pending():
            store.flush(everything=True)
    except (OSError, *OUTAGE) as exc:
        print(
            f"alp-cds: audit spool not loaded ({type(exc).__name__}); reading the store as is",
            file=sys.stderr,
        )


def _since(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text)
        parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        # The store compares in UTC: 0001-01-01T00:00+14:00 is before the first representable
        # instant, an OverflowError where the query is built.
        parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise SystemExit(
            f"alp-cds: --since expects a date such as 2026-11-15, got {text!r}"
        ) from None
    return parsed


def db_upgrade(_: argparse.Namespace) -> int:
    from cds_service.audit import migrate

    engine = _audit_engine()
    before = migrate.current_revision(engine)
    migrate.upgrade(engine)
    print(f"audit store at revision {migrate.current_revision(engine)} (was {before})")
    return 0


def _reason_names() -> Any:
    """The knowledge base's override-reason displays, for reasons sent as a code alone; None
    (codes shown as sent) when the knowledge base does not load here."""
    from cds_service.app import load_knowledge_base
    from cds_service.audit.reports import ReasonNames

    try:
        kb = load_knowledge_base(_settings())
    except (KnowledgeBaseError, OSError):
        return None
    return ReasonNames(kb.override_system, kb.override_reasons)


def audit_report(args: argparse.Namespace) -> int:
    import json

    from cds_service.audit import reports

    report = reports.rule_report(
        _audit_engine(load_spool=True), _since(args.since), _reason_names()
    )
    if args.format == "json":
        print(json.dumps(report, indent=2))
    elif args.format == "csv":
        sys.stdout.write(reports.report_csv(report))
    else:
        print(reports.report_table(report))
    return 0


def audit_show(args: argparse.Namespace) -> int:
    import json

    from cds_service.audit import reports
    from cds_service.explain import explain_text

    records = reports.invocation_detail(_audit_engine(load_spool=True), args.hook_instance)
    if not records:
        print(f"no invocation with hookInstance {args.hook_instance!r}", file=sys.stderr)
        return 1
    for record in records:
        trace = record["trace"]
        if args.json:
            print(json.dumps({**record, "trace": trace and trace.to_json()}, indent=2, default=str))
            continue
        print(
            f"{record['received_at']}  {record['service_id']}  status {record['status']}  "
            f"{record['latency_ms']} ms  issuer {record['issuer'] or '-'}"
            f"  user {record['user_ref']}  patient {record['patient']}"
            f"  knowledge base v{record['kb_version']}"
        )
        if record["reason"]:
            print(f"reason: {record['reason']}")
        for card in record["cards"]:
            print(
                f"card {card['card_uuid']}  {card['rule_id']} v{card['rule_version']}  "
                f"[{card['indicator']}] {card['summary']}"
            )
        for item in record["feedback"]:
            reasons = item.get("override_reasons") or (
                [{"code": item["override_code"], "display": item["override_display"]}]
                if item["override_code"]
                else []
            )
            shown = "; ".join(
                str(
                    r.get("display")
                    or r.get("code")
                    or ("(comment only)" if r.get("comment") else "(no reason given)")
                )
                + (f" {r['system']}|{r['code']}" if r.get("system") and r.get("code") else "")
                for r in reasons
            )
            print(
                f"feedback on {item['card_uuid']}: {item['outcome']} at {item['outcome_timestamp']}"
                + (f" ({shown})" if shown else "")
            )
            if item["override_comment"]:
                print(f"  comment: {item['override_comment']}")
            if item.get("extra"):
                print(f"  also sent: {json.dumps(item['extra'], default=str)}")
        if trace is not None:
            print(explain_text(trace, cards=False))
    return 0


def audit_export_feedback(args: argparse.Namespace) -> int:
    import json

    from cds_service.audit import reports

    print(
        json.dumps(
            reports.feedback_export(_audit_engine(load_spool=True), _since(args.since)), indent=2
        )
    )
    return 0


def audit_prune(args: argparse.Namespace) -> int:
    from cds_service.app import load_knowledge_base
    from cds_service.audit.spool import Spool
    from cds_service.audit.store import AuditStore

    settings = _settings()
    kb = load_knowledge_base(settings)
    store = AuditStore(
        _audit_engine(), Spool(settings.data_dir / "audit-spool.jsonl"), kb.version, kb.content_hash
    )
    days = args.older_than or settings.audit_retention_days
    print(f"removed {store.prune(days)} invocations older than {days} days")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="alp-cds", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve_cmd = commands.add_parser("serve", help="run the service (gunicorn)")
    serve_cmd.add_argument(
        "--dev", action="store_true", help="run Flask's development server instead"
    )
    serve_cmd.set_defaults(func=serve)
    kb = commands.add_parser("kb", help="knowledge base tools").add_subparsers(
        dest="kb_command", required=True
    )
    kb.add_parser("check", help="validate cards/").set_defaults(func=kb_check)
    report = kb.add_parser("report", help="write the rulebook (HTML or JSON)")
    report.add_argument("--format", choices=["html", "json"], default="html")
    report.add_argument("--output", "-o", default="rulebook.html", help="file, or - for stdout")
    report.set_defaults(func=kb_report)
    impact_cmd = kb.add_parser(
        "impact", help="what a candidate cards/ folder would change on stored invocations"
    )
    impact_cmd.add_argument("--candidate", required=True, help="the candidate cards/ folder")
    impact_cmd.add_argument("--since", default="30d", help="30d, or an ISO date (default 30d)")
    impact_cmd.add_argument(
        "--limit", type=_positive, default=2_000, help="newest invocations replayed (2000)"
    )
    impact_cmd.add_argument(
        "--examples", type=_positive, default=3, help="example invocations per rule"
    )
    impact_cmd.add_argument("--json", action="store_true")
    impact_cmd.set_defaults(func=kb_impact)
    config = commands.add_parser("config", help="configuration tools").add_subparsers(
        dest="config_command", required=True
    )
    config.add_parser("check", help="print the effective settings and trust").set_defaults(
        func=config_check
    )
    db = commands.add_parser("db", help="audit store schema").add_subparsers(
        dest="db_command", required=True
    )
    db.add_parser("upgrade", help="apply schema migrations").set_defaults(func=db_upgrade)
    audit = commands.add_parser("audit", help="audit trail reports").add_subparsers(
        dest="audit_command", required=True
    )
    report_cmd = audit.add_parser("report", help="per rule: fired, accepted, overridden, silent")
    report_cmd.add_argument("--since", help="ISO date or date-time (default: everything)")
    report_cmd.add_argument("--format", choices=["table", "csv", "json"], default="table")
    report_cmd.set_defaults(func=audit_report)
    show_cmd = audit.add_parser("show", help="one invocation's decision trace")
    show_cmd.add_argument("hook_instance")
    show_cmd.add_argument("--json", action="store_true")
    show_cmd.set_defaults(func=audit_show)
    export_cmd = audit.add_parser("export-feedback", help="feedback as computable JSON (HTI-1)")
    export_cmd.add_argument("--since")
    export_cmd.set_defaults(func=audit_export_feedback)
    prune_cmd = audit.add_parser("prune", help="remove records past the retention period")
    prune_cmd.add_argument(
        "--older-than", type=int, help="days (default ALP_CDS_AUDIT_RETENTION_DAYS)"
    )
    prune_cmd.set_defaults(func=audit_prune)
    evaluate_cmd = commands.add_parser(
        "evaluate", help="explain the cards for a request or FHIR Bundle file (offline)"
    )
    evaluate_cmd.add_argument("file", help="a CDS Hooks request or a FHIR Bundle (JSON)")
    evaluate_cmd.add_argument("--json", action="store_true", help="print the trace as JSON")
    evaluate_cmd.set_defaults(func=evaluate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result: int = args.func(args)
    except SettingsError as exc:  # a setting checked against the knowledge base as it loads
        raise SystemExit(f"alp-cds: configuration error: {exc}") from None
    return result


if __name__ == "__main__":
    sys.exit(main())
