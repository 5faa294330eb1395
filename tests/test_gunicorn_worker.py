"""Requests gunicorn refuses before the app sees them (cds_service/gunicorn_worker.py): a JSON
OperationOutcome with the CORS header, never gunicorn's HTML page; and a JWT up to the
documented 16 KB passes gunicorn's header limit (QA report D3).

The error writer and the worker's handle_error are tested here with a socket pair; `alp-cds
serve` and the container's gunicorn.conf.py are tested under a real gunicorn (slow)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask
from gunicorn.config import Config
from gunicorn.glogging import Logger
from gunicorn.http.errors import (
    InvalidHeader,
    InvalidRequestLine,
    LimitRequestHeaders,
    LimitRequestLine,
    UnsupportedTransferCoding,
)
from jwt.algorithms import ECAlgorithm

from cds_service.gunicorn_worker import (
    READ_TIMEOUT_SECONDS,
    JsonErrorWorker,
    diagnostics,
    error_response,
)
from cds_service.hooks.errors import Issue
from cds_service.security.jwt_auth import MAX_TOKEN_BYTES
from cds_service.serving import LIMIT_REQUEST_FIELD_SIZE, gunicorn_options
from cds_service.settings import Settings
from tests.support.ehr import audited_app
from tests.support.fhir import alp, full_prefetch, sign_request
from tests.support.processes import free_port, served, stop, wait_until_up

ROOT = Path(__file__).resolve().parent.parent


def parse(raw: bytes) -> tuple[str, dict[str, str], Any]:
    """Status line, headers (lower-case names) and JSON body of a raw HTTP/1.1 response."""
    head, _, body = raw.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v for k, _, v in (line.partition(": ") for line in lines)}
    assert int(headers["content-length"]) == len(body)
    return status, headers, json.loads(body)


# --- the error writer ---------------------------------------------------------------------


def test_the_error_response_is_an_operation_outcome_that_closes_the_connection() -> None:
    raw = error_response(431, "Request Header Fields Too Large", Issue("too-long", "big"), "*")
    status, headers, body = parse(raw)
    assert status == "HTTP/1.1 431 Request Header Fields Too Large"
    assert headers["content-type"] == "application/json"
    assert headers["connection"] == "close"
    assert headers["access-control-allow-origin"] == "*"
    assert "vary" not in headers
    assert body == {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "too-long", "diagnostics": "big"}],
    }


def test_an_echoed_origin_varies_by_origin_and_none_sends_no_cors_header() -> None:
    _, echoed, _ = parse(error_response(400, "Bad Request", Issue("invalid", "x"), "https://a.org"))
    assert echoed["access-control-allow-origin"] == "https://a.org"
    assert echoed["vary"] == "Origin"
    _, none, _ = parse(error_response(400, "Bad Request", Issue("invalid", "x"), None))
    assert "access-control-allow-origin" not in none


@pytest.mark.parametrize(
    ("status", "reason", "code", "text"),
    [
        (
            431,
            "Request Header Fields Too Large",
            "too-long",
            "request header fields too large (at most 100 fields, each line at most 32768 bytes)",
        ),
        (414, "URI Too Long", "too-long", "request line too long (at most 4094 bytes)"),
        (400, "Bad Request", "invalid", "malformed HTTP request"),
        (501, "Not Implemented", "not-supported", "not implemented"),
        (403, "Forbidden", "forbidden", "forbidden"),
        (500, "Internal Server Error", "exception", "internal server error"),
    ],
)
def test_each_status_has_fixed_diagnostics(status: int, reason: str, code: str, text: str) -> None:
    cfg = Config()
    cfg.set("limit_request_field_size", LIMIT_REQUEST_FIELD_SIZE)
    assert diagnostics(status, reason, cfg) == Issue(code, text)


# --- the worker's handle_error, on a socket pair -----------------------------------------


@pytest.fixture
def worker() -> Iterator[JsonErrorWorker]:
    cfg = Config()
    for key, value in gunicorn_options(Settings.from_env({})).items():
        cfg.set(key, value)
    made = JsonErrorWorker(0, os.getpid(), [], None, 30, cfg, Logger(cfg))
    yield made
    made.tmp.close()


def answer(
    worker: JsonErrorWorker, exc: BaseException, req: Any = None
) -> tuple[str, dict[str, str], Any]:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        worker.handle_error(req, ours, ("127.0.0.1", 5000), exc)
        ours.shutdown(socket.SHUT_WR)
        raw = b""
        while chunk := theirs.recv(65536):
            raw += chunk
    return parse(raw)


def an_app(tmp_path: Path, origins: str) -> Flask:
    app, _ = audited_app(tmp_path, cors_origins=tuple(origins.split(",")))
    return app


SECRET = "eyJhbGciOiJFUzM4NCJ9.secret-token-part"


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (LimitRequestHeaders("limit request headers fields size"), 431),
        (LimitRequestHeaders("limit request headers fields"), 431),
        (LimitRequestLine(5028, 4094), 414),
        (InvalidRequestLine(f"GET /cds-services?token={SECRET} HTTP/1.1"), 400),
        (InvalidHeader(f"Authorization Bearer {SECRET}"), 400),
        (UnsupportedTransferCoding("gzip"), 501),
        (RuntimeError(f"a bug near {SECRET}"), 500),
    ],
)
def test_every_refusal_is_json_with_cors_and_echoes_nothing(
    worker: JsonErrorWorker, tmp_path: Path, exc: BaseException, status: int
) -> None:
    worker.wsgi = an_app(tmp_path, "*")
    line, headers, body = answer(worker, exc)
    assert line.startswith(f"HTTP/1.1 {status} ")
    assert headers["access-control-allow-origin"] == "*"
    assert headers["content-type"] == "application/json"
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["severity"] == "error"
    assert "secret" not in json.dumps(body)


@pytest.mark.parametrize(
    "exc",
    [
        InvalidRequestLine(f"GET /cds-services?token={SECRET} HTTP/1.1"),
        InvalidHeader(f"Authorization Bearer {SECRET}"),
        LimitRequestHeaders(f"Authorization: Bearer {SECRET}"),
    ],
)
def test_gunicorns_log_line_names_the_refusal_not_the_request(
    worker: JsonErrorWorker, tmp_path: Path, exc: BaseException
) -> None:
    lines: list[str] = []
    worker.log = SimpleNamespace(
        warning=lambda msg, *a: lines.append(msg % a if a else msg),
        debug=lambda *a, **k: None,
        access=lambda *a, **k: None,
        exception=lambda *a, **k: None,
    )
    worker.wsgi = an_app(tmp_path, "*")
    line, _, _ = answer(worker, exc)
    assert line.startswith("HTTP/1.1 4")  # still the status gunicorn picks for it
    assert lines == [f"Invalid request from ip=127.0.0.1: {type(exc).__name__}"]


def test_an_origin_list_is_honoured_when_the_headers_were_read(
    worker: JsonErrorWorker, tmp_path: Path
) -> None:
    worker.wsgi = an_app(tmp_path, "https://ehr.example.org")
    # InvalidHeader on Content-Length comes after the headers were parsed: the request is known.
    req = SimpleNamespace(
        headers=[("ORIGIN", "https://ehr.example.org")],
        body=None,
        method="POST",
        query="",
        uri="/cds-services/alp-result-sign",
        version=(1, 1),
    )
    _, headers, _ = answer(worker, InvalidHeader("CONTENT-LENGTH"), req)
    assert headers["access-control-allow-origin"] == "https://ehr.example.org"
    assert headers["vary"] == "Origin"
    req.headers = [("ORIGIN", "https://evil.example.org")]
    _, headers, _ = answer(worker, InvalidHeader("CONTENT-LENGTH"), req)
    assert "access-control-allow-origin" not in headers
    # Headers never read (the usual case): an origin list cannot be matched, so no header.
    _, headers, _ = answer(worker, LimitRequestHeaders("limit request headers fields size"))
    assert "access-control-allow-origin" not in headers


def test_serve_and_the_container_use_this_worker_with_room_for_the_jwt_limit() -> None:
    options = gunicorn_options(Settings.from_env({}))
    assert options["worker_class"] == "cds_service.gunicorn_worker.JsonErrorWorker"
    # "Authorization: Bearer " + a token of the documented maximum + CRLF fits, with room for
    # an oversized one to reach the app's 401; and it stays bounded.
    line = len("Authorization: Bearer \r\n") + MAX_TOKEN_BYTES
    assert line + 4096 <= options["limit_request_field_size"] <= 64 * 1024


# --- under a real gunicorn ----------------------------------------------------------------

EC384 = ec.generate_private_key(ec.SECP384R1())
ISSUER = "https://ehr.example.org"
ORIGIN = {"Origin": "https://sandbox.example.org"}


def token(aud: str, size: int) -> str:
    """A valid ES384 token of about `size` characters (a padding claim)."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": aud,
        "iat": now,
        "exp": now + 300,
        "jti": str(uuid.uuid4()),
    }
    plain = jwt.encode(claims, EC384, algorithm="ES384", headers={"kid": "k1", "typ": "JWT"})
    claims["pad"] = "x" * int((size - len(plain)) * 3 / 4 - 12)
    signed = jwt.encode(claims, EC384, algorithm="ES384", headers={"kid": "k1", "typ": "JWT"})
    assert abs(len(signed) - size) < 64, len(signed)
    return signed


@pytest.fixture(scope="module")
def trusting_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    key = json.loads(ECAlgorithm.to_jwk(EC384.public_key()))
    key.update(kid="k1", alg="ES384", use="sig")
    trust = {"issuers": [{"iss": ISSUER, "algorithms": ["ES384"], "jwks": {"keys": [key]}}]}
    path = tmp_path_factory.mktemp("trust") / "trust.json"
    path.write_text(json.dumps(trust), "utf-8")
    # Development mode with trust: tokens are checked, and aud is the URL the caller used.
    env = {"ALP_CDS_DEV_MODE": "true", "ALP_CDS_WORKERS": "1", "ALP_CDS_TRUST_FILE": str(path)}
    with served(env) as (base, _):
        yield base


SERVICE = "/cds-services/alp-result-sign"
BODY = sign_request([alp(312)], full_prefetch())


def post_with(base: str, bearer: str) -> requests.Response:
    headers = {"Authorization": f"Bearer {bearer}", **ORIGIN}
    return requests.post(base + SERVICE, json=BODY, headers=headers, timeout=10)


@pytest.mark.slow
def test_a_valid_token_up_to_the_documented_16_kb_is_accepted(trusting_server: str) -> None:
    for size in (9_000, 12_000, MAX_TOKEN_BYTES - 32):  # QA cases 226 (9 KB) and 226b (12 KB)
        response = post_with(trusting_server, token(trusting_server + SERVICE, size))
        assert response.status_code == 200, (size, response.text[:300])
        assert response.json()["cards"]


@pytest.mark.slow
def test_a_token_over_the_limit_gets_the_apps_bare_401(trusting_server: str) -> None:
    response = post_with(trusting_server, token(trusting_server + SERVICE, 20_000))  # QA 226c
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.json()["issue"][0]["diagnostics"] == "authentication failed"


@pytest.mark.slow
def test_a_header_beyond_gunicorns_limit_is_a_json_431_with_cors(trusting_server: str) -> None:
    response = post_with(trusting_server, "x" * (LIMIT_REQUEST_FIELD_SIZE + 1))
    assert response.status_code == 431
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.json()["issue"][0]["code"] == "too-long"
    many = {f"X-Header-{n}": "1" for n in range(120)}  # over limit_request_fields (100)
    response = requests.get(trusting_server + "/cds-services", headers=many, timeout=10)
    assert response.status_code == 431
    assert response.json()["resourceType"] == "OperationOutcome"


@pytest.mark.slow
def test_a_long_url_is_a_json_414_with_cors(trusting_server: str) -> None:
    response = requests.get(trusting_server + "/cds-services/" + "x" * 5000, timeout=10)  # QA 170
    assert response.status_code == 414
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.json()["issue"][0]["diagnostics"].startswith("request line too long")


@pytest.mark.slow
def test_a_malformed_request_is_a_json_400(trusting_server: str) -> None:
    host, port = trusting_server.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"GARBAGE /\x01 HTTP/1.1\r\nHost: x\r\n\r\n")
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    status, headers, body = parse(raw)
    assert status == "HTTP/1.1 400 Bad Request"
    assert headers["access-control-allow-origin"] == "*"
    assert body["issue"][0]["diagnostics"] == "malformed HTTP request"


def raw_exchange(base: str, request: bytes, timeout: float = 10) -> bytes:
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(request)
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    return raw


@pytest.mark.slow
def test_a_malformed_chunked_body_is_a_json_400(trusting_server: str) -> None:
    """QA 12 #6: a chunk size of `ZZ` was a 500 (gunicorn's InvalidChunkSize, unhandled)."""
    bearer = token(trusting_server + SERVICE, 1000)
    host = trusting_server.removeprefix("http://")
    request = (
        f"POST {SERVICE} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {bearer}\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
        "Connection: close\r\n\r\nZZ\r\n{}\r\n0\r\n\r\n"
    ).encode()
    head, _, body = raw_exchange(trusting_server, request).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 "), head
    assert json.loads(body)["issue"][0]["diagnostics"] == "malformed request body"


@pytest.mark.slow
def test_the_containers_gunicorn_conf_answers_the_same(tmp_path: Path) -> None:
    """docker/gunicorn.conf.py and cds_service.wsgi:app, as the image's ENTRYPOINT runs them."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALP_CDS_", "PROMETHEUS_"))}
    env.update(
        ALP_CDS_DEV_MODE="true",
        ALP_CDS_WORKERS="1",
        ALP_CDS_HOST="127.0.0.1",
        ALP_CDS_PORT=str(port),
        ALP_CDS_DATA_DIR=tempfile.mkdtemp(prefix="alp-cds-conf-", dir=tmp_path),
    )
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--config",
        str(ROOT / "docker" / "gunicorn.conf.py"),
        "cds_service.wsgi:app",
    ]
    process = subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base + "/healthz", process)
        fits = requests.get(base + "/cds-services", headers={"X-Pad": "x" * 16_400}, timeout=10)
        assert fits.status_code == 200
        response = requests.get(
            base + "/cds-services", headers={"X-Pad": "x" * 40_000, **ORIGIN}, timeout=10
        )
        assert response.status_code == 431
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert response.json()["resourceType"] == "OperationOutcome"
    finally:
        stop(process)


@pytest.mark.slow
def test_stalled_bodies_are_dropped_and_do_not_hold_every_thread() -> None:
    """QA 12 #5: connections that send headers and part of a body, then nothing, held a worker
    thread each until the client closed them; threads + 1 of them stopped the service."""
    env = {"ALP_CDS_DEV_MODE": "true", "ALP_CDS_WORKERS": "1", "ALP_CDS_THREADS": "2"}
    with served(env) as (base, _):
        host, port = base.removeprefix("http://").split(":")
        stalled = []
        started = time.monotonic()
        for _ in range(3):  # one more than the threads
            sock = socket.create_connection((host, int(port)), timeout=60)
            sock.sendall(
                f"POST {SERVICE} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
                '{"a":'.encode()
            )
            stalled.append(sock)
        time.sleep(1)  # every stalled request is in a thread, reading its body
        try:
            health = requests.get(base + "/healthz", timeout=40)
            assert health.status_code == 200
            assert time.monotonic() - started < READ_TIMEOUT_SECONDS * 2 + 10
            for sock in stalled:  # each answered and closed, or closed, by the server
                raw = b""
                while chunk := sock.recv(65536):
                    raw += chunk
                assert raw == b"" or raw.startswith(b"HTTP/1.1 400 "), raw[:200]
            assert time.monotonic() - started < READ_TIMEOUT_SECONDS * 3 + 10
        finally:
            for sock in stalled:
                sock.close()
