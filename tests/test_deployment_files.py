"""The container, compose and Kubernetes files agree with the code: ports, health paths, every
environment variable name, the gunicorn configuration, and the commands they run.

No Docker engine runs here, so these files are checked by reading them, not by running them
(docs/operations.md says what was and was not exercised)."""

from __future__ import annotations

import re
import runpy
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask

from cds_service.cli import build_parser
from cds_service.serving import LIMIT_REQUEST_FIELD_SIZE, gunicorn_options
from cds_service.settings import Settings

DOCKER = Path(__file__).resolve().parent.parent / "docker"
SETTINGS = {name for name, _, _ in Settings.documented()}


def routes(app: Flask) -> set[str]:
    return {rule.rule for rule in app.url_map.iter_rules()}


def load(name: str) -> Any:
    return yaml.safe_load((DOCKER / name).read_text("utf-8"))


def test_dockerfile(app: Flask) -> None:
    text = (DOCKER / "Dockerfile").read_text("utf-8")
    env = dict(re.findall(r"(ALP_CDS_[A-Z_]+)=(\S+)", text))
    assert set(env) <= SETTINGS
    assert re.search(r"^EXPOSE (\d+)$", text, re.MULTILINE).group(1) == env["ALP_CDS_PORT"]  # type: ignore[union-attr]
    assert "/healthz" in text
    assert "/healthz" in routes(app)
    assert re.search(r"^USER (?!root)\w+", text, re.MULTILINE)
    entry = re.search(r"^ENTRYPOINT \[(.*)\]$", text, re.MULTILINE).group(1)  # type: ignore[union-attr]
    assert '"gunicorn"' in entry
    assert '"cds_service.wsgi:app"' in entry
    assert (Path(__file__).resolve().parent.parent / "cds_service" / "wsgi.py").is_file()


def test_gunicorn_conf_matches_serve(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    monkeypatch.setenv("ALP_CDS_THREADS", "6")
    monkeypatch.setenv("ALP_CDS_PORT", "8080")
    conf = runpy.run_path(str(DOCKER / "gunicorn.conf.py"))
    serve = gunicorn_options(Settings.from_env())
    for name, value in serve.items():  # every option serve sets, the container sets alike
        assert conf[name] == value, name
    assert conf["worker_class"] == "cds_service.gunicorn_worker.JsonErrorWorker"
    assert conf["limit_request_field_size"] == LIMIT_REQUEST_FIELD_SIZE
    assert conf["threads"] == conf["worker_connections"] == 6
    assert conf["preload_app"] is True
    assert conf["bind"].endswith(":8080")
    assert callable(conf["post_fork"])
    assert callable(conf["child_exit"])
    assert conf["pre_fork"] is gunicorn_options(Settings.from_env())["pre_fork"]


def test_compose(app: Flask) -> None:
    compose = load("compose.yaml")
    services = compose["services"]
    replicas = [
        s
        for s in services.values()
        if "docker/Dockerfile" in str(s.get("build", {}).get("dockerfile"))
        and "entrypoint" not in s
    ]
    assert len(replicas) == 2
    for service in replicas:
        assert set(service["environment"]) <= SETTINGS
        assert service["environment"]["ALP_CDS_DATABASE_URL"].startswith("postgresql+psycopg://")
        assert service["environment"]["ALP_CDS_REDIS_URL"].startswith("redis://")
        Settings.from_env(
            {k: v for k, v in service["environment"].items() if k != "ALP_CDS_TRUST_FILE"}
        )
    assert {"postgres", "redis", "proxy"} <= set(services)
    migrate = services["migrate"]["entrypoint"]
    assert migrate[0] == "alp-cds"
    build_parser().parse_args(migrate[1:])  # a real command
    port = replicas[0]["environment"]["ALP_CDS_PORT"]
    nginx = (DOCKER / "nginx.conf").read_text("utf-8")
    assert nginx.count(f":{port};") == 2
    # The proxy passes a header line as long as the service takes (a 16 KB JWT), and longer,
    # so the service, not nginx's HTML page, answers one too long.
    buffers = re.search(r"^\s*large_client_header_buffers \d+ (\d+)k;$", nginx, re.MULTILINE)
    assert buffers is not None
    assert int(buffers.group(1)) * 1024 > LIMIT_REQUEST_FIELD_SIZE


def test_kubernetes(app: Flask) -> None:
    config = load("k8s/configmap.yaml")["data"]
    secret = load("k8s/secret.yaml")["stringData"]
    assert set(config) <= SETTINGS
    assert {k for k in secret if k.startswith("ALP_CDS_")} <= SETTINGS
    deployment = load("k8s/deployment.yaml")
    pod = deployment["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["ports"][0]["containerPort"] == int(config["ALP_CDS_PORT"])
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert {"/healthz", "/readyz", "/metrics"} <= routes(app)
    assert (
        deployment["spec"]["template"]["metadata"]["annotations"]["prometheus.io/path"]
        == "/metrics"
    )
    mount = next(m for m in container["volumeMounts"] if m["name"] == "trust")["mountPath"]
    assert config["ALP_CDS_TRUST_FILE"].startswith(mount + "/")
    [init] = pod["initContainers"]
    assert init["command"][0] == "alp-cds"
    build_parser().parse_args(init["command"][1:])
    assert pod["securityContext"]["runAsNonRoot"] is True
    # The image's USER is the uid the pod runs as: numeric, so runAsNonRoot can check it.
    dockerfile = (DOCKER / "Dockerfile").read_text("utf-8")
    user = re.search(r"^USER (\S+)$", dockerfile, re.MULTILINE).group(1)  # type: ignore[union-attr]
    assert user == str(pod["securityContext"]["runAsUser"]) != "0"
    hpa = load("k8s/hpa.yaml")
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    service = load("k8s/service.yaml")
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
