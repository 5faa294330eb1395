"""Shared fixtures: settings, the app, a test client that checks CDS Hooks conformance of every
response it receives, the knowledge base, and the scenario library."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from cds_service.alp_services import AlpServices
from cds_service.app import build_audit_store, create_app, load_knowledge_base, public_url
from cds_service.audit.store import AuditStore
from cds_service.fhir.client import new_session
from cds_service.hooks.feedback import MemoryFeedbackSink
from cds_service.knowledge.model import KnowledgeBase
from cds_service.settings import Settings
from tests import conformance
from tests.support.medplum import medplum_unavailable_reason

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "fhir_fixtures" / "scenarios"
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


class CheckedClient(FlaskClient):
    """A test client that holds every CDS Hooks response to the 2.0.1 rules."""

    def open(self, *args: Any, **kwargs: Any) -> TestResponse:
        response = super().open(*args, **kwargs)
        path = response.request.path
        if response.status_code >= 400 and path != "/readyz":  # readiness answers a status doc
            assert response.mimetype in {"application/json", "application/fhir+json"}, path
            conformance.check_error(response.get_json())
        elif response.request.method == "GET" and path == "/cds-services":
            conformance.check_discovery(response.get_json())
        elif (
            response.request.method == "POST"
            and path.startswith("/cds-services/")
            and not path.endswith("/feedback")
        ):
            conformance.check_service_response(response.get_json())
        return response


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings.from_env({}, dev_mode=True)


@pytest.fixture(scope="session")
def kb(settings: Settings) -> KnowledgeBase:
    return load_knowledge_base(settings)


@pytest.fixture
def feedback_sink() -> MemoryFeedbackSink:
    return MemoryFeedbackSink()


@pytest.fixture(scope="session")
def audit_store(tmp_path_factory: pytest.TempPathFactory, kb: KnowledgeBase) -> AuditStore:
    """One SQLite audit store for the session: every app the tests build writes its records."""
    data_dir = tmp_path_factory.mktemp("audit")
    settings = Settings.from_env({}, dev_mode=True, data_dir=data_dir)
    return build_audit_store(settings, kb)


@pytest.fixture
def make_app(
    settings: Settings,
    kb: KnowledgeBase,
    feedback_sink: MemoryFeedbackSink,
    audit_store: AuditStore,
) -> Callable[..., Flask]:
    def build(**overrides: Any) -> Flask:
        # One worker: an in-process app is one process (and with trust, more would need Redis).
        app_settings = Settings.from_env({}, **{"dev_mode": True, "workers": 1, **overrides})
        services = AlpServices(
            kb if "kb_dir" not in overrides else load_knowledge_base(app_settings),
            public_url(app_settings).current,  # as the app builds it: from the request
            app_settings.result_sign_hook,
            clock=lambda: NOW,
            chart_open_days=app_settings.epic_chart_open_days,
        )
        app = create_app(
            app_settings, feedback_sink=feedback_sink, services=services, audit=audit_store
        )
        app.test_client_class = CheckedClient
        return app

    return build


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def scenario_names() -> list[str]:
    return sorted(p.name for p in SCENARIOS.iterdir() if (p / "request.json").is_file())


def load_scenario(name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    folder = SCENARIOS / name
    request = json.loads((folder / "request.json").read_text("utf-8"))
    expected = json.loads((folder / "expected.json").read_text("utf-8"))
    return request, expected


@pytest.fixture(scope="session")
def medplum_available() -> None:
    """Skip (or, in CI, fail) when the Medplum FHIR test server cannot run here."""
    reason = medplum_unavailable_reason()
    if reason:
        if os.environ.get("ALP_TEST_REQUIRE_FHIR_SERVER") == "1":
            pytest.fail(f"FHIR test server required (ALP_TEST_REQUIRE_FHIR_SERVER=1): {reason}")
        pytest.skip(reason)


@pytest.fixture
def session() -> Iterator[Any]:
    """A FHIR HTTP session as the service builds it (pooled, no cookies, no proxy from env)."""
    s = new_session(4)
    yield s
    s.close()


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium for Playwright (`executable_path`, never a downloaded browser build);
    skip when it or the playwright package is missing, fail instead under
    ALP_TEST_REQUIRE_BROWSER=1 (.ci/run sets it)."""
    path = os.environ.get("ALP_TEST_CHROMIUM", "/usr/bin/chromium")
    reason = None
    if not os.access(path, os.X_OK):
        reason = f"{path} not found (apt-get install chromium; make test does it as root)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "the playwright package is not installed (pip install -e '.[test]')"
    if reason:
        if os.environ.get("ALP_TEST_REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser required (ALP_TEST_REQUIRE_BROWSER=1): {reason}")
        pytest.skip(reason)
    return path
