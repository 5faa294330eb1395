"""The `alp-cds` command: `serve` under real gunicorn, `kb check`, and start-up failures."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from gunicorn import util
from gunicorn.workers.gthread import ThreadWorker
from sqlalchemy import text

from cds_service.app import build_audit_store
from cds_service.audit import migrate
from cds_service.cli import main
from cds_service.knowledge.model import KnowledgeBase
from cds_service.serving import gunicorn_options
from cds_service.settings import Settings
from tests.support.processes import alp_cds, free_port, served, stop

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "fhir_fixtures" / "scenarios" / "high-alp-no-ggt" / "request.json"


@pytest.fixture
def served_example() -> Iterator[str]:
    with served({"ALP_CDS_DEV_MODE": "true", "ALP_CDS_WORKERS": "2"}) as (base, _):
        yield base


def test_serve_opens_no_gunicorn_control_socket() -> None:
    """QA 12 #16: gunicorn 25.1+ opens ~/.gunicorn/gunicorn.ctl for every instance of a user,
    so a second instance on the host took over the first one's. The service does not use it."""
    options = gunicorn_options(Settings.from_env({}))
    assert options["control_socket_disable"] is True


@pytest.mark.slow
def test_two_instances_on_one_host_share_no_control_socket(tmp_path: Path) -> None:
    home, runtime = tmp_path / "home", tmp_path / "run"
    home.mkdir()
    runtime.mkdir()
    env = {
        "ALP_CDS_DEV_MODE": "true",
        "ALP_CDS_WORKERS": "1",
        "HOME": str(home),
        "XDG_RUNTIME_DIR": str(runtime),
    }
    with served(env) as (first, _), served(env) as (second, _):
        for base in (first, second):
            assert requests.get(base + "/healthz", timeout=5).status_code == 200
        # gunicorn's default would be runtime/gunicorn.ctl, the same for both.
        assert list(home.rglob("*.ctl")) == list(runtime.rglob("*.ctl")) == []


@pytest.mark.slow
def test_serve_runs_gunicorn_and_answers_the_example(served_example: str) -> None:
    services = requests.get(served_example + "/cds-services", timeout=5).json()["services"]
    assert {s["id"] for s in services} == {"alp-result-sign", "alp-patient-view"}
    body = json.loads(EXAMPLE.read_text("utf-8"))
    url = served_example + "/cds-services/alp-result-sign"
    response = requests.post(url, json=body, timeout=10)
    assert response.status_code == 200
    card = response.json()["cards"][0]
    assert card["source"]["topic"]["display"] == "alp-high-confirm-origin"
    assert response.headers["Server"].startswith("gunicorn")


@pytest.mark.slow
def test_a_chunked_oversized_body_is_413_under_gunicorn(served_example: str) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(10):
            yield b"x" * (1024 * 1024)

    response = requests.post(
        served_example + "/cds-services/alp-result-sign",
        data=chunks(),
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 413
    assert response.json()["resourceType"] == "OperationOutcome"


def test_gthread_workers_take_as_many_connections_as_threads() -> None:
    options = gunicorn_options(Settings.from_env({"ALP_CDS_THREADS": "6"}))
    # gthread, subclassed so gunicorn's own refusals are JSON (tests/test_gunicorn_worker.py).
    assert options["worker_class"] == "cds_service.gunicorn_worker.JsonErrorWorker"
    assert issubclass(util.load_class(options["worker_class"]), ThreadWorker)
    assert options["worker_connections"] == options["threads"] == 6
    assert options["preload_app"] is True


@pytest.mark.slow
def test_a_bad_setting_stops_serve_with_the_variable_name() -> None:
    process = alp_cds("serve", env={"ALP_CDS_PORT": "eighty"})
    _, err = process.communicate(timeout=30)
    assert process.returncode != 0
    assert "ALP_CDS_PORT" in err
    assert "Traceback" not in err


@pytest.mark.slow
def test_a_broken_knowledge_base_stops_serve(tmp_path: Path) -> None:
    cards = tmp_path / "cards"
    shutil.copytree(ROOT / "cards", cards)
    rule = cards / "rules" / "alp-high-confirm-origin.yaml"
    rule.write_text(rule.read_text("utf-8").replace("indicator: info", "indicator: loud"), "utf-8")
    env = {"ALP_CDS_KB_DIR": str(cards), "ALP_CDS_PORT": str(free_port()), "ALP_CDS_DEV_MODE": "1"}
    process = alp_cds("serve", env=env)
    _, err = process.communicate(timeout=30)
    assert process.returncode != 0
    assert "rules/alp-high-confirm-origin.yaml: $.card.indicator" in err


@pytest.mark.slow
def test_serve_refuses_to_start_without_trust_outside_dev_mode() -> None:
    process = alp_cds("serve", env={"ALP_CDS_PORT": str(free_port())})
    _, err = process.communicate(timeout=30)
    assert process.returncode != 0
    assert "ALP_CDS_TRUST_FILE: no trusted CDS client is configured" in err
    assert "Traceback" not in err


PRODUCTION = {
    "ALP_CDS_TRUST_PRESETS": "cds-hooks-sandbox",
    "ALP_CDS_PUBLIC_BASE_URL": "https://cds.example.org",
    "ALP_CDS_WORKERS": "1",  # more would need Redis for the replay cache
}


@pytest.mark.slow
def test_production_serve_stops_on_an_unmigrated_store_with_status_2() -> None:
    process = alp_cds("serve", env={**PRODUCTION, "ALP_CDS_PORT": str(free_port())})
    try:
        _, err = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        stop(process)
        pytest.fail("serve kept running on an unmigrated audit store")
    assert process.returncode == 2, err
    assert "Traceback" not in err
    assert "Booting worker" not in err
    assert "Starting gunicorn" not in err
    messages = [line for line in err.splitlines() if line.startswith("alp-cds:")]
    assert len(messages) == 1, err
    assert "the audit store (sqlite:///" in messages[0]
    assert "is at schema revision none (empty)" in messages[0]
    assert f"this version needs {migrate.head_revision()}" in messages[0]
    assert "run `alp-cds db upgrade`" in messages[0]
    assert "or set ALP_CDS_AUTO_MIGRATE=true" in messages[0]


def production_settings(data_dir: Path, **overrides: Any) -> Settings:
    env = {**PRODUCTION, "ALP_CDS_DATA_DIR": str(data_dir)}
    return Settings.from_env(env, **overrides)


def test_an_unmigrated_store_outside_development_mode_raises(
    tmp_path: Path, kb: KnowledgeBase
) -> None:
    with pytest.raises(migrate.NotMigrated, match=r"revision none \(empty\), this version needs"):
        build_audit_store(production_settings(tmp_path), kb)
    store = build_audit_store(production_settings(tmp_path, auto_migrate=True), kb)
    assert migrate.is_current(store.engine)
    build_audit_store(production_settings(tmp_path), kb)  # now current: starts


def test_a_store_migrated_by_a_newer_version_is_named_as_such(
    tmp_path: Path, kb: KnowledgeBase
) -> None:
    store = build_audit_store(production_settings(tmp_path, auto_migrate=True), kb)
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    for auto in (False, True):  # nothing to migrate to: auto-migrate cannot help either
        with pytest.raises(migrate.NotMigrated, match="9999_future, which this version does not"):
            build_audit_store(production_settings(tmp_path, auto_migrate=auto), kb)


@pytest.mark.slow
def test_production_serve_migrates_when_told_to() -> None:
    with served({**PRODUCTION, "ALP_CDS_AUTO_MIGRATE": "true"}) as (base, _):
        ready = requests.get(base + "/readyz", timeout=10)
        assert ready.status_code == 200, ready.text
        # Discovery needs a token in production: the service runs with trust, as configured.
        assert requests.get(base + "/cds-services", timeout=10).status_code == 401


@pytest.mark.slow
def test_production_serve_starts_after_db_upgrade(tmp_path: Path) -> None:
    env = {**PRODUCTION, "ALP_CDS_DATA_DIR": str(tmp_path)}
    upgrade = alp_cds("db", "upgrade", env=env)
    _, err = upgrade.communicate(timeout=60)
    assert upgrade.returncode == 0, err
    with served(env) as (base, _):
        assert requests.get(base + "/readyz", timeout=10).status_code == 200


def test_kb_check(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kb", "check"]) == 0
    assert "OK" in capsys.readouterr().out


def test_config_check_masks_secrets_and_lists_trust(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ALP_CDS_TRUST_PRESETS", "cds-hooks-sandbox")
    monkeypatch.setenv("ALP_CDS_REDIS_URL", "redis://:hunter2@127.0.0.1:6379/0")
    monkeypatch.setenv("ALP_CDS_PUBLIC_BASE_URL", "https://cds.example.org")
    assert main(["config", "check"]) == 0
    out = capsys.readouterr().out
    assert "hunter2" not in out
    assert "ALP_CDS_REDIS_URL = redis://:***@127.0.0.1:6379/0" in out
    assert '"iss": "https://sandbox.cds-hooks.org"' in out
    assert "pinned JWK Set (1 keys)" in out
    assert '"x":' not in out  # no key material


def test_config_check_fails_without_trust_outside_dev_mode(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in list(os.environ):
        if name.startswith("ALP_CDS_"):
            monkeypatch.delenv(name)
    assert main(["config", "check"]) == 1
    assert "will not start" in capsys.readouterr().err
    monkeypatch.setenv("ALP_CDS_TRUST_FILE", "/no/such/file")
    assert main(["config", "check"]) == 1
    assert "ALP_CDS_TRUST_FILE" in capsys.readouterr().err


@pytest.mark.parametrize("text", ["0001-01-01T00:00:00+14:00", "yesterday"])
def test_a_since_date_out_of_range_or_unreadable_is_a_message_not_a_traceback(text: str) -> None:
    from cds_service.cli import _since

    with pytest.raises(SystemExit, match="--since expects a date"):
        _since(text)
