"""Flask application factory: settings, knowledge base, services, routes and error handling."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from flask import Flask

from cds_service.alp_services import AlpServices
from cds_service.clinical.facts import FACTS
from cds_service.fhir.client import FhirClient, Limits, new_session
from cds_service.hooks.blueprint import (
    EXTENSION_KEY,
    HookRuntime,
    create_blueprint,
    register_error_handlers,
)
from cds_service.hooks.declaration import ServiceRegistry
from cds_service.hooks.feedback import FeedbackSink, MemoryFeedbackSink
from cds_service.hooks.request import HookRequest
from cds_service.hooks.response import Coding
from cds_service.knowledge import loader
from cds_service.knowledge.model import KnowledgeBase
from cds_service.security.cors import install_cors
from cds_service.settings import Settings, SettingsError
from cds_service.web import create_web_blueprint

log = logging.getLogger(__name__)
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


@dataclass(frozen=True)
class AppState:
    settings: Settings
    kb: KnowledgeBase
    services: AlpServices


def load_knowledge_base(settings: Settings) -> KnowledgeBase:
    return loader.load(settings.kb_dir, FACTS)


def local_codes(settings: Settings, kb: KnowledgeBase) -> dict[str, list[Coding]]:
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
        parts = urlsplit(request.fhir_server)
        scheme = parts.scheme.lower()
        if scheme != "https":
            loopback = (parts.hostname or "") in LOOPBACK_HOSTS
            if not (settings.dev_mode and loopback):
                log.warning("security: refused plain-http fhirServer %s", parts.hostname)
                return "fhirServer is not https; not contacted"
        token = request.fhir_authorization.access_token if request.fhir_authorization else None
        return FhirClient(request.fhir_server, token, session, limits)

    return factory


def create_app(
    settings: Settings | None = None,
    *,
    feedback_sink: FeedbackSink | None = None,
    services: AlpServices | None = None,
) -> Flask:
    settings = settings or Settings.from_env()
    kb = services.kb if services else load_knowledge_base(settings)
    services = services or AlpServices(
        kb, settings.base_url, settings.result_sign_hook, local_codes(settings, kb)
    )

    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.json.compact = True  # type: ignore[attr-defined]

    session = new_session(settings.fhir_max_parallel)
    app.extensions[EXTENSION_KEY] = HookRuntime(
        registry=ServiceRegistry(services.declarations()),
        feedback_sink=feedback_sink or MemoryFeedbackSink(),
        client_factory=fhir_client_factory(settings, session),
        executor=ThreadPoolExecutor(settings.fhir_max_parallel, thread_name_prefix="fhir-fetch"),
        fhir_deadline=settings.fhir_deadline,
    )
    app.extensions["alp_cds"] = AppState(settings, kb, services)

    install_cors(app, settings.cors_origins)
    app.register_blueprint(create_blueprint())
    app.register_blueprint(create_web_blueprint(kb))
    register_error_handlers(app)
    if settings.dev_mode:
        log.warning(
            "DEVELOPMENT MODE: plain-http fhirServer on loopback allowed; never use in production"
        )
    log.info("knowledge base %s v%s (%s) loaded", kb.name, kb.version, kb.content_hash[:12])
    return app
