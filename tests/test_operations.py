"""Operations: health and readiness, metrics that add up across gunicorn workers, the request log
line, graceful shutdown, and two instances sharing PostgreSQL and Redis."""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask
from jwt.algorithms import ECAlgorithm
from prometheus_client import CollectorRegistry, generate_latest, multiprocess
from sqlalchemy import create_engine, func, select, text
from werkzeug.serving import make_server
from werkzeug.wrappers import Response

from cds_service.audit import schema
from cds_service.audit.store import AuditStore, make_engine
from tests.support.fhir import alp, full_prefetch, sign_request
from tests.support.processes import TcpProxy, alp_cds, served, stop

SERVICE = "/cds-services/alp-result-sign"
EXAMPLE = (
    Path(__file__).resolve().parent.parent
    / "fhir_fixtures"
    / "scenarios"
    / "high-alp-no-ggt"
    / "request.json"
)
PG_URL = os.environ.get("ALP_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("ALP_TEST_REDIS_URL")
needs_pg = pytest.mark.skipif(
    not PG_URL, reason="set ALP_TEST_DATABASE_URL to run against PostgreSQL"
)
needs_redis = pytest.mark.skipif(
    not REDIS_URL, reason="set ALP_TEST_REDIS_URL to run against Redis"
)


def test_health_and_readiness(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/healthz").get_json() == {"status": "alive"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["checks"] == {
        "knowledge_base": "ok",
        "audit_store": "ok",
        "replay_cache": "ok",
    }


def test_unknown_service_ids_never_become_metric_labels(app: Flask) -> None:
    client = app.test_client()
    made_up = f"made-up-{uuid.uuid4().hex}"
    assert client.post(f"/cds-services/{made_up}", json={}).status_code == 404
    body = sign_request([alp(312)], full_prefetch())
    assert client.post("/cds-services/alp-result-sign", json=body).status_code == 200
    scrape = client.get("/metrics").get_data(as_text=True)
    assert made_up not in scrape
    assert 'service="alp-result-sign"' in scrape


def test_not_ready_while_the_store_is_down(app: Flask) -> None:
    store: AuditStore = app.extensions["alp_cds"].audit
    healthy = store.engine
    store.engine = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1")
    try:
        response = app.test_client().get("/readyz")
        assert response.status_code == 503
        assert response.get_json()["checks"]["audit_store"] == "failing"
        assert app.test_client().get("/healthz").status_code == 200  # alive, just not ready
    finally:
        store.engine.dispose()
        store.engine = healthy
    assert app.test_client().get("/readyz").status_code == 200


def test_not_ready_while_redis_is_down(make_app: Callable[..., Flask]) -> None:
    proxy = TcpProxy("127.0.0.1", 6379)
    proxy.start()
    app = make_app(redis_url=f"redis://127.0.0.1:{proxy.port}/15")
    proxy.cut()
    assert app.test_client().get("/readyz").get_json()["checks"]["replay_cache"] == "failing"


@pytest.mark.slow
@needs_pg
def test_readiness_follows_postgresql_going_away_and_coming_back(
    make_app: Callable[..., Flask], tmp_path: Path
) -> None:
    assert PG_URL
    target = urlsplit(PG_URL.replace("postgresql+psycopg", "postgresql"))
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432)
    proxy.start()
    proxied = PG_URL.replace(f"{target.hostname}:{target.port or 5432}", f"127.0.0.1:{proxy.port}")
    schema_name = f"alp_ready_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema_name}"'))
    restore: Callable[[], None] = lambda: None  # noqa: E731 - set once the store is swapped
    try:
        joiner = "&" if "?" in proxied else "?"
        url = f"{proxied}{joiner}options=-csearch_path%3D{schema_name}&connect_timeout=2"
        app = make_app(database_url=url, data_dir=tmp_path)
        from cds_service.app import build_audit_store
        from cds_service.settings import Settings

        store = build_audit_store(
            Settings.from_env({}, dev_mode=True, database_url=url, data_dir=tmp_path),
            app.extensions["alp_cds"].kb,
        )
        # The app's checks read this store. The app's store is the session's shared one: put
        # its engine back afterwards, or later tests would write to a cut proxy.
        shared = app.extensions["alp_cds"].audit
        session_engine, shared.engine = shared.engine, store.engine
        restore = lambda: setattr(shared, "engine", session_engine)  # noqa: E731
        client = app.test_client()
        assert client.get("/readyz").status_code == 200
        proxy.cut()
        assert client.get("/readyz").status_code == 503
        proxy.restore()
        deadline = time.monotonic() + 10
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, "did not become ready again"
            time.sleep(0.2)
    finally:
        restore()
        proxy.cut()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema_name}" CASCADE'))
        admin.dispose()


def test_one_json_log_line_per_request_with_nothing_clinical(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    body = sign_request([alp(312, ident="alp-logged")], full_prefetch())
    body["hookInstance"] = "hi-logged"
    with caplog.at_level(logging.INFO, logger="cds_service.request"):
        app.test_client().post(SERVICE, json=body)
    [record] = [r for r in caplog.records if r.name == "cds_service.request"]
    fields: dict[str, Any] = record.fields  # type: ignore[attr-defined]
    assert fields["hookInstance"] == "hi-logged"
    assert fields["service"] == "alp-result-sign"
    assert fields["status"] == 200
    assert fields["cards"] == 1
    assert fields["rules"] == ["alp-high-confirm-origin"]
    assert fields["latency_ms"] > 0
    from cds_service.observability.logs import JsonFormatter

    line = JsonFormatter().format(record)
    assert json.loads(line)["hookInstance"] == "hi-logged"
    for clinical in ("312", "Patient/", "pt-1", "alp-logged", "dr-1"):
        assert clinical not in line


# --- under gunicorn --------------------------------------------------------------------------


ROUTE = 'route="/cds-services/<service_id>",service="alp-result-sign"'
OK_REQUESTS = f'alp_cds_requests_total{{{ROUTE},status="200"}}'


def parse_samples(exposition: str) -> dict[str, float]:
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in exposition.splitlines()
        if line.startswith("alp_cds_")
    }


def answered_per_worker(metrics_dir: Path) -> dict[str, float]:
    """pid -> successful hook calls that worker answered, each worker's counter file read on its
    own (prometheus_client's collector over a folder holding only that file)."""
    counts = {}
    for path in sorted(metrics_dir.glob("counter_*.db")):
        with tempfile.TemporaryDirectory() as alone:
            shutil.copy(path, alone)
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry, path=alone)  # type: ignore[no-untyped-call]
            value = parse_samples(generate_latest(registry).decode()).get(OK_REQUESTS, 0.0)
        if value:
            counts[path.stem.removeprefix("counter_")] = value
    return counts


@pytest.mark.slow
def test_metrics_add_up_across_gunicorn_workers(tmp_path: Path) -> None:
    # Deterministic: calls go on (a new connection each) until both workers have answered some,
    # read from each worker's own counter file; then every scrape, whichever worker serves it,
    # must show the sum. (It used to send 30 calls and hope both workers took some; and it
    # failed outright when /healthz was slow to answer on a busy machine.)
    body = json.loads(EXAMPLE.read_text("utf-8"))
    env = {
        "ALP_CDS_DEV_MODE": "true",
        "ALP_CDS_WORKERS": "2",
        "ALP_CDS_THREADS": "2",
        "ALP_CDS_DATA_DIR": str(tmp_path),
    }
    with served(env) as (base, _):
        sent = 0
        while sent < 30 or len(answered_per_worker(tmp_path / "prometheus")) < 2:
            assert sent < 500, (
                f"one worker took every connection: {answered_per_worker(tmp_path / 'prometheus')}"
            )
            assert requests.post(base + SERVICE, json=body, timeout=30).status_code == 200
            sent += 1
        per_worker = answered_per_worker(tmp_path / "prometheus")
        assert len(per_worker) == 2
        assert sum(per_worker.values()) == sent
        requests.post(
            base + SERVICE, data="{", headers={"Content-Type": "application/json"}, timeout=30
        )
        for _ in range(4):
            # A new connection per scrape, so more than one worker serves them.
            samples = parse_samples(requests.get(base + "/metrics", timeout=30).text)
            assert samples[OK_REQUESTS] == sent
            assert (
                samples['alp_cds_cards_total{indicator="info",rule="alp-high-confirm-origin"}']
                == sent
            )
            assert (
                samples['alp_cds_fhir_fetches_total{key="labs",outcome="ok",source="prefetch"}']
                == sent
            )
            bad = f'alp_cds_requests_total{{{ROUTE},status="400"}}'
            assert samples[bad] == 1
            # Records written behind: at most those sent, loaded within a writer batch or two.
            assert 0 <= samples["alp_cds_audit_spool_records"] <= sent + 1
        deadline = time.monotonic() + 5
        while samples["alp_cds_audit_spool_records"] and time.monotonic() < deadline:
            time.sleep(0.1)
            samples = parse_samples(requests.get(base + "/metrics", timeout=30).text)
        assert samples["alp_cds_audit_spool_records"] == 0


@pytest.mark.slow
def test_sigterm_drains_in_flight_requests() -> None:
    def slow_fhir(environ: Any, start_response: Any) -> Any:
        time.sleep(1.5)
        return Response(
            '{"resourceType": "Bundle", "type": "searchset"}', content_type="application/fhir+json"
        )(environ, start_response)

    server = make_server("127.0.0.1", 0, slow_fhir, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    body = json.loads(EXAMPLE.read_text("utf-8"))
    del body["prefetch"]["conditions"]
    body["fhirServer"] = f"http://127.0.0.1:{server.server_port}/fhir"
    result: dict[str, Any] = {}
    with served({"ALP_CDS_DEV_MODE": "true", "ALP_CDS_WORKERS": "1"}) as (base, process):

        def call() -> None:
            result["response"] = requests.post(base + SERVICE, json=body, timeout=20)

        caller = threading.Thread(target=call)
        caller.start()
        time.sleep(0.5)  # the request is now waiting on the slow FHIR server
        stop(process)
        caller.join(20)
        assert process.returncode == 0
    server.shutdown()
    assert result["response"].status_code == 200
    assert result["response"].json()["cards"]


# --- scale-out -------------------------------------------------------------------------------


@pytest.mark.slow
@needs_pg
@needs_redis
def test_two_instances_share_the_audit_store_and_the_replay_cache(tmp_path: Path) -> None:
    assert PG_URL
    assert REDIS_URL
    key = ec.generate_private_key(ec.SECP384R1())
    jwk = json.loads(ECAlgorithm.to_jwk(key.public_key()))
    jwk.update(kid="k1", alg="ES384")
    trust = tmp_path / "trust.json"
    trust.write_text(
        json.dumps(
            {
                "issuers": [
                    {
                        "iss": "https://ehr.example.org",
                        "algorithms": ["ES384"],
                        "jwks": {"keys": [jwk]},
                    }
                ]
            }
        ),
        "utf-8",
    )
    schema_name = f"alp_scale_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema_name}"'))
    database = f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema_name}"
    public = "https://cds.example.org"
    env = {
        "ALP_CDS_DATABASE_URL": database,
        "ALP_CDS_REDIS_URL": REDIS_URL,
        "ALP_CDS_TRUST_FILE": str(trust),
        "ALP_CDS_PUBLIC_BASE_URL": public,
        "ALP_CDS_WORKERS": "1",
        "ALP_CDS_THREADS": "4",
    }
    upgrade = alp_cds("db", "upgrade", env=env)
    _, upgrade_err = upgrade.communicate(timeout=60)
    assert upgrade.returncode == 0, upgrade_err

    def token() -> str:
        now = int(time.time())
        claims = {
            "iss": "https://ehr.example.org",
            "aud": public + SERVICE,
            "iat": now,
            "exp": now + 300,
            "jti": str(uuid.uuid4()),
        }
        return jwt.encode(claims, key, algorithm="ES384", headers={"kid": "k1", "typ": "JWT"})

    body = json.loads(EXAMPLE.read_text("utf-8"))
    try:
        with served(env) as (first, _), served(env) as (second, _):
            for i in range(20):
                target = first if i % 2 else second
                headers = {"Authorization": f"Bearer {token()}"}
                assert (
                    requests.post(
                        target + SERVICE, json=body, headers=headers, timeout=10
                    ).status_code
                    == 200
                )
            reused = {"Authorization": f"Bearer {token()}"}
            assert (
                requests.post(first + SERVICE, json=body, headers=reused, timeout=10).status_code
                == 200
            )
            assert (
                requests.post(second + SERVICE, json=body, headers=reused, timeout=10).status_code
                == 401
            )
        engine = make_engine(database)
        with engine.connect() as conn:
            statuses = list(conn.execute(select(schema.invocations.c.status)).scalars())
            cards = conn.execute(select(func.count()).select_from(schema.cards)).scalar_one()
        engine.dispose()
        assert sorted(statuses) == [200] * 21 + [401]
        assert cards == 21
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema_name}" CASCADE'))
        admin.dispose()
