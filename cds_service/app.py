"""Flask application factory: settings, knowledge base, services, routes and error handling."""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import requests
from flask import Flask
from gunicorn.http.errors import ParseException

from cds_service.alp_services import AlpServices
from cds_service.audit import migrate
from cds_service.audit.spool import Spool
from cds_service.audit.store import AuditStore, make_engine
from cds_service.clinical.facts import FACTS
from cds_service.fhir.client import FhirClient, Limits, new_session
from cds_service.hooks.blueprint import (
    EXTENSION_KEY,
    HookRuntime,
    create_blueprint,
    register_error_handlers,
)
from cds_service.hooks.declaration import ServiceRegistry
from cds_service.hooks.feedback import FeedbackSink
from cds_service.hooks.invocation import CompositeSink
from cds_service.hooks.request import HookRequest
from cds_service.hooks.response import Coding
from cds_service.knowledge import loader
from cds_service.knowledge.model import KnowledgeBase
from cds_service.observability.logs import install_request_logging
from cds_service.observability.metrics import MetricsSink
from cds_service.observability.routes import create_ops_blueprint
from cds_service.security.cors import install_cors
from cds_service.security.jwt_auth import JwtVerifier
from cds_service.security.policy import authenticator, fhir_server_refusal, security_log
from cds_service.security.public_url import PublicUrl, parse_networks
from cds_service.security.replay import MemoryReplayCache, RedisReplayCache, ReplayCache
from cds_service.security.trust import TrustError, TrustStore, load_trust
from cds_service.settings import Settings, SettingsError, mask_url_credentials
from cds_service.web import create_web_blueprint

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AppState:
    settings: Settings
    kb: KnowledgeBase
    services: AlpServices
    audit: AuditStore


def build_audit_store(settings: Settings, kb: KnowledgeBase) -> AuditStore:
    """The audit store; migrated automatically in development mode or with
    ALP_CDS_AUTO_MIGRATE. Otherwise a reachable store whose schema is not current raises
    migrate.NotMigrated: under gunicorn each worker would die on its first write instead."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.audit_url)
    # Workers fork after the app is built (preload): each must open its own connections.
    os.register_at_fork(after_in_child=lambda: engine.dispose(close=False))
    store = AuditStore(
        engine,
        Spool(settings.data_dir / "audit-spool.jsonl", settings.audit_fsync_ms),
        kb.version,
        kb.content_hash,
        settings.audit_pseudonym_key,
    )
    head = migrate.head_revision()
    try:
        revision = migrate.current_revision(engine)
        known = migrate.is_known(revision)
        if revision != head and known and (settings.dev_mode or settings.auto_migrate):
            migrate.upgrade(engine)
            log.info("audit store migrated from revision %s to %s", revision, head)
            revision = head
    except Exception:  # an unreachable store must not stop the service
        log.warning("audit store unreachable at start-up; records will be spooled")
        return store
    store_name = f"the audit store ({mask_url_credentials(settings.audit_url)})"
    if not known:
        raise migrate.NotMigrated(
            f"{store_name} is at schema revision {revision}, which this version does not know "
            f"(its newest is {head}): it was migrated by a newer version; run that version"
        )
    if revision != head:
        raise migrate.NotMigrated(
            f"{store_name} is at schema revision {revision or 'none (empty)'}, this version "
            f"needs {head}: run `alp-cds db upgrade` with the same settings, or set "
            "ALP_CDS_AUTO_MIGRATE=true to migrate at start-up"
        )
    return store


def load_knowledge_base(settings: Settings) -> KnowledgeBase:
    """The knowledge base in `cards/`, with the deployment's local result codes."""
    kb = loader.load(settings.kb_dir, FACTS)
    if not settings.local_result_codes:
        return kb
    return kb.with_local_result_codes(local_result_codes(settings, kb))


def local_result_codes(
    settings: Settings, kb: KnowledgeBase
) -> dict[str, list[tuple[str, str, str | None]]]:
    """Deployment result codes per laboratory value set or orderable test; anything else (a
    condition's or a drug's value set, an unknown id) stops start-up."""
    codes: dict[str, list[tuple[str, str, str | None]]] = {}
    given: dict[tuple[str, str], str] = {}
    # An orderable whose result is the ALP itself (repeat ALP): a local ALP code goes to
    # alp-total, where it is read as an ALP.
    alp_itself = {
        key
        for key, orderable in kb.orderables.items()
        if "alp-total"
        in kb.classify({"coding": [{"system": orderable.system, "code": orderable.code}]})
    }
    for key, system, code, display in settings.local_result_codes:
        if key in alp_itself or (not kb.is_lab_valueset(key) and key not in kb.orderables):
            labs = sorted(
                {*(v for v in kb.valuesets if kb.is_lab_valueset(v)), *kb.orderables} - alp_itself
            )
            raise SettingsError(
                f"ALP_CDS_LOCAL_RESULT_CODES: {key!r} is not a laboratory value set or an "
                f"orderable test (known: {', '.join(labs)})"
            )
        earlier = given.setdefault((system, code), key)
        if earlier != key:
            # One result read as two tests (an ALP and a GGT) would be wrong for both.
            raise SettingsError(
                f"ALP_CDS_LOCAL_RESULT_CODES: {system}|{code} is given to both {earlier!r} "
                f"and {key!r}"
            )
        codes.setdefault(key, []).append((system, code, display))
    return codes


def load_trust_store(settings: Settings) -> TrustStore:
    try:
        return load_trust(settings.trust_files, settings.trust_presets)
    except TrustError as exc:
        raise SettingsError(f"ALP_CDS_TRUST_FILE: {exc}") from None


def replay_cache(settings: Settings) -> ReplayCache:
    return RedisReplayCache(settings.redis_url) if settings.redis_url else MemoryReplayCache()


def local_order_codes(settings: Settings, kb: KnowledgeBase) -> dict[str, list[Coding]]:
    """Deployment order codes per orderable; an unknown orderable id stops start-up."""
    codes: dict[str, list[Coding]] = {}
    for orderable, system, code, display in settings.local_order_codes:
        if orderable not in kb.orderables:
            known = ", ".join(kb.orderables)
            raise SettingsError(
                f"ALP_CDS_LOCAL_ORDER_CODES: unknown orderable {orderable!r} (known: {known})"
            )
        codes.setdefault(orderable, []).append(Coding(system, code, display))
    return codes


def public_url(settings: Settings) -> PublicUrl:
    """The configured public URL, or (development mode) the one each request came to."""
    return PublicUrl(
        settings.public_base_url, settings.base_url, parse_networks(settings.forwarded_allow_ips)
    )


def fhir_client_factory(settings: Settings, session: requests.Session) -> Any:
    limits = Limits(
        connect_timeout=settings.fhir_connect_timeout,
        read_timeout=settings.fhir_read_timeout,
        max_response_bytes=settings.fhir_max_response_bytes,
        max_pages=settings.fhir_max_pages,
    )

    def factory(request: HookRequest) -> FhirClient | str:
        if not request.fhir_server:
            return "the request has no fhirServer to fetch from"
        refusal = fhir_server_refusal(request.fhir_server, request.auth, settings.dev_mode)
        if refusal:
            host = (
                request.fhir_server.split("/")[2].rpartition("@")[2]
                if "//" in request.fhir_server
                else "?"
            )
            security_log.warning("security: fhirServer %r not contacted: %s", host[:200], refusal)
            return f"{refusal}; not contacted"
        token = request.fhir_authorization.access_token if request.fhir_authorization else None
        return FhirClient(request.fhir_server, token, session, limits)

    return factory


def create_app(
    settings: Settings | None = None,
    *,
    feedback_sink: FeedbackSink | None = None,
    services: AlpServices | None = None,
    audit: AuditStore | None = None,
) -> Flask:
    settings = settings or Settings.from_env()
    trust = load_trust_store(settings)
    if not trust and not settings.dev_mode:
        raise SettingsError(
            "ALP_CDS_TRUST_FILE: no trusted CDS client is configured; set ALP_CDS_TRUST_FILE "
            "(or ALP_CDS_TRUST_PRESETS), or ALP_CDS_DEV_MODE=true for development"
        )
    settings.require_public_base_url()
    public = public_url(settings)
    kb = services.kb if services else load_knowledge_base(settings)
    audit = audit or build_audit_store(settings, kb)
    services = services or AlpServices(
        kb,
        public.current,
        settings.result_sign_hook,
        local_order_codes(settings, kb),
        chart_open_days=settings.epic_chart_open_days,
    )

    app = Flask(__name__)
    # Werkzeug answers "//" and trailing-slash variants with an HTML redirect before any error
    # handler runs; without these rules they are plain JSON 404s like any other unknown path.
    app.url_map.merge_slashes = False
    app.url_map.strict_slashes = False
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.json.compact = True  # type: ignore[attr-defined]

    session = new_session(settings.fhir_max_parallel)
    replay = replay_cache(settings)
    app.extensions[EXTENSION_KEY] = HookRuntime(
        registry=ServiceRegistry(services.declarations()),
        feedback_sink=feedback_sink or audit,
        invocation_sink=CompositeSink((audit, MetricsSink())),
        client_factory=fhir_client_factory(settings, session),
        executor=ThreadPoolExecutor(settings.fhir_max_parallel, thread_name_prefix="fhir-fetch"),
        fhir_deadline=settings.fhir_deadline,
        authenticate=authenticator(
            JwtVerifier(trust, replay, settings.jwt_leeway, settings.jwt_max_lifetime),
            public.for_request,
        )
        if trust
        else None,
        max_json_depth=settings.max_json_depth,
        max_bundle_entries=settings.max_bundle_entries,
        # gunicorn raises its parse errors (InvalidChunkSize, ChunkMissingTerminator...) from
        # the body stream while the app reads it, and NoMoreData, an OSError, for a cut body.
        unreadable_body=(OSError, ParseException),
    )
    app.extensions["alp_cds"] = AppState(settings, kb, services, audit)

    install_cors(app, settings.cors_origins)
    install_request_logging(app)
    app.register_blueprint(create_blueprint())
    app.register_blueprint(create_web_blueprint(kb))
    app.register_blueprint(
        create_ops_blueprint(
            {
                "knowledge_base": lambda: bool(kb.rules),
                "audit_store": lambda: audit.ping() and migrate.is_current(audit.engine),
                "replay_cache": replay.ping,
            },
            audit.spool.depth,
        )
    )

    if settings.console_enabled:
        # Off unless sign-in is configured: then /console is the service's ordinary 404.
        from cds_service.console import create_console_blueprint

        app.register_blueprint(create_console_blueprint(settings, kb, audit.engine))

    register_error_handlers(app)
    if settings.dev_mode:
        log.warning(
            "DEVELOPMENT MODE (%s): plain-http fhirServer allowed on loopback; never in production",
            "JWT checked" if trust else "NO JWT CHECK",
        )
    log.info("knowledge base %s v%s (%s) loaded", kb.name, kb.version, kb.content_hash[:12])
    return app
