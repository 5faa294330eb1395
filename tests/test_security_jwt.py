"""CDS Hooks JWT trust: a battery of bad tokens (each a bare 401), the shapes real clients send
(each accepted), replay across replicas sharing Redis, and the fhirServer allow-list.

Keys are generated here; the JWKS of the "Epic-like" issuer is served on loopback.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm, get_default_algorithms
from pytest_httpserver import HTTPServer
from sqlalchemy import select
from werkzeug import Response

from cds_service.alp_services import AlpServices
from cds_service.app import build_audit_store, create_app
from cds_service.audit import schema
from cds_service.audit.store import AuditStore
from cds_service.hooks.feedback import MemoryFeedbackSink
from cds_service.knowledge.model import KnowledgeBase
from cds_service.security.trust import ASYMMETRIC
from cds_service.settings import Settings
from tests.conftest import NOW, CheckedClient
from tests.support.fhir import alp, full_prefetch, sign_request

BASE = "https://cds.example.org"
SERVICE = "/cds-services/alp-result-sign"
AUD = BASE + SERVICE
SANDBOX = "https://sandbox.example.org"
SANDBOX_JKU = "https://sandbox.example.org/.well-known/jwks.json"
EPIC = "https://fhir.hospital.example.org/api/FHIR/R4"
MODERN = "https://modern.example.org"
TENANTED = "https://tenanted.example.org"

EC384 = ec.generate_private_key(ec.SECP384R1())
EC256 = ec.generate_private_key(ec.SECP256R1())
EC521 = ec.generate_private_key(ec.SECP521R1())
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_EC384 = ec.generate_private_key(ec.SECP384R1())


def jwk(key: Any, kid: str, alg: str) -> dict[str, Any]:
    algorithm = ECAlgorithm if isinstance(key, ec.EllipticCurvePrivateKey) else RSAAlgorithm
    data: dict[str, Any] = json.loads(algorithm.to_jwk(key.public_key()))
    data.update(kid=kid, alg=alg, use="sig")
    return data


@pytest.fixture(scope="module")
def jwks_server() -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.1")
    server.start()
    server.expect_request("/epic/jwks").respond_with_json(
        {"keys": [jwk(RSA_KEY, "epic-1", "RS384")]}
    )
    yield server
    server.clear()
    server.stop()


@pytest.fixture(scope="module")
def trust_file(tmp_path_factory: pytest.TempPathFactory, jwks_server: HTTPServer) -> Path:
    trust = {
        "issuers": [
            {
                "iss": SANDBOX,
                "algorithms": ["ES384"],
                "jwks": {"keys": [jwk(EC384, "sandbox-1", "ES384")]},
                "jwks_urls": [SANDBOX_JKU],
                "fhir_servers": ["https://fhir.sandbox.example.org/r4"],
            },
            {
                "iss": EPIC,
                "algorithms": ["RS384"],
                "jwks_urls": [jwks_server.url_for("/epic/jwks")],
                "fhir_servers": [EPIC],
            },
            {
                "iss": MODERN,
                "algorithms": ["ES256", "RS256", "ES384"],
                "jwks": {
                    "keys": [
                        jwk(EC256, "m-ec", "ES256"),
                        jwk(RSA_KEY, "m-rsa", "RS256"),
                        jwk(OTHER_EC384, "m-384", "ES384"),
                    ]
                },
            },
            {
                "iss": TENANTED,
                "algorithms": ["ES384"],
                "jwks": {"keys": [jwk(OTHER_EC384, "t-1", "ES384")]},
                "tenants": ["hospital-a"],
            },
        ]
    }
    path = tmp_path_factory.mktemp("trust") / "trust.yaml"
    path.write_text(json.dumps(trust), "utf-8")
    return path


@pytest.fixture(scope="module")
def audit(tmp_path_factory: pytest.TempPathFactory, kb: KnowledgeBase) -> AuditStore:
    settings = Settings.from_env({}, dev_mode=True, data_dir=tmp_path_factory.mktemp("audit"))
    return build_audit_store(settings, kb)


def make(trust_file: Path, kb: KnowledgeBase, audit: AuditStore, **overrides: Any) -> Flask:
    settings = Settings.from_env(
        # One worker: these apps run in-process, where the in-memory jti cache is shared.
        {
            "ALP_CDS_TRUST_FILE": str(trust_file),
            "ALP_CDS_PUBLIC_BASE_URL": BASE,
            "ALP_CDS_WORKERS": "1",
        },
        **overrides,
    )
    services = AlpServices(kb, settings.base_url, settings.result_sign_hook, clock=lambda: NOW)
    app = create_app(settings, services=services, audit=audit, feedback_sink=MemoryFeedbackSink())
    app.test_client_class = CheckedClient
    return app


@pytest.fixture
def secured(trust_file: Path, kb: KnowledgeBase, audit: AuditStore) -> FlaskClient:
    return make(trust_file, kb, audit).test_client()


def claims(
    iss: str | None = SANDBOX, aud: Any = AUD, life: int = 300, **extra: Any
) -> dict[str, Any]:
    now = int(time.time())
    body: dict[str, Any] = {
        "iss": iss,
        "aud": aud,
        "iat": now,
        "exp": now + life,
        "jti": str(uuid.uuid4()),
    }
    body.update(extra)
    return {k: v for k, v in body.items() if v is not None}


def sign(payload: dict[str, Any], key: Any = EC384, alg: str = "ES384", **header: Any) -> str:
    headers: dict[str, Any] = {"kid": "sandbox-1", "typ": "JWT", "jku": SANDBOX_JKU}
    headers.update(header)
    headers = {k: v for k, v in headers.items() if v is not None}
    return jwt.encode(payload, key, algorithm=alg, headers=headers)


def b64(data: dict[str, Any] | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def call(
    client: FlaskClient, token: str | None, path: str = SERVICE, scheme: str = "Bearer"
) -> Any:
    headers = {"Authorization": f"{scheme} {token}"} if token is not None else {}
    if path.removesuffix("/").endswith("/cds-services"):
        return client.get(path, headers=headers)
    if path.removesuffix("/").endswith("/feedback"):
        body: dict[str, Any] = {
            "feedback": [
                {
                    "card": "c",
                    "outcome": "overridden",
                    "outcomeTimestamp": "2026-11-21T10:00:00Z",
                    "overrideReason": {"userComment": "x"},
                }
            ]
        }
        return client.post(path, json=body, headers=headers)
    return client.post(path, json=sign_request([alp(312)], full_prefetch()), headers=headers)


def public_pem(key: Any) -> bytes:
    pem: bytes = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem


def _tampered_payload() -> str:
    head, _, signature = sign(claims()).split(".")
    return f"{head}.{b64(claims(aud=AUD, jti='forged'))}.{signature}"


def _tampered_signature() -> str:
    head, payload, signature = sign(claims()).split(".")
    flipped = signature[:-4] + ("AAAA" if not signature.endswith("AAAA") else "BBBB")
    return f"{head}.{payload}.{flipped}"


def _unsigned() -> str:
    return f"{b64({'alg': 'none', 'typ': 'JWT', 'kid': 'sandbox-1'})}.{b64(claims())}."


def _hs256_with_public_key() -> str:
    header = b64({"alg": "HS256", "typ": "JWT", "kid": "sandbox-1"})
    payload = b64(claims())
    import hmac
    from hashlib import sha256

    mac = hmac.new(public_pem(EC384), f"{header}.{payload}".encode(), sha256).digest()
    return f"{header}.{payload}.{b64(mac)}"


def _rsa_under_es384_header() -> str:
    token = sign(claims(), RSA_KEY, "RS384")
    _, payload, signature = token.split(".")
    return f"{b64({'alg': 'ES384', 'typ': 'JWT', 'kid': 'sandbox-1'})}.{payload}.{signature}"


def _another_issuers_key() -> str:
    return sign(claims(), OTHER_EC384, "ES384")  # kid sandbox-1, but not the sandbox's key


BAD_TOKENS: dict[str, tuple[Callable[[], str], str]] = {
    # name: (token factory, the reason the server must log)
    "alg none": (_unsigned, "not a compact JWS"),
    "HS256 keyed with the public key": (_hs256_with_public_key, "alg 'HS256' is not allowed"),
    "HS256 with a secret": (
        lambda: jwt.encode(claims(), "secret" * 8, algorithm="HS256", headers={"kid": "sandbox-1"}),
        "alg 'HS256' is not allowed",
    ),
    "unknown kid (pinned)": (lambda: sign(claims(), kid="nope"), "no pinned key with kid 'nope'"),
    "unknown kid (JWKS URL)": (
        lambda: sign(claims(iss=EPIC), RSA_KEY, "RS384", kid="rotated-away", jku=None),
        "Unable to find a signing key",
    ),
    "missing kid": (lambda: sign(claims(), kid=None), "missing kid"),
    "untrusted iss": (lambda: sign(claims(iss="https://evil.example.org")), "is not trusted"),
    "missing iss": (lambda: sign(claims(iss=None)), "missing iss"),
    "wrong aud": (
        lambda: sign(claims(aud="https://cds.example.org/cds-services/other")),
        "InvalidAudienceError",
    ),
    "aud of another host": (
        lambda: sign(claims(aud="https://evil.example.org" + SERVICE)),
        "InvalidAudienceError",
    ),
    "discovery aud on a service": (
        lambda: sign(claims(aud=BASE + "/cds-services")),
        "InvalidAudienceError",
    ),
    "missing aud": (lambda: sign(claims(aud=None)), 'missing the "aud" claim'),
    "expired": (
        lambda: sign(claims(iat=int(time.time()) - 900, exp=int(time.time()) - 120)),
        "ExpiredSignatureError",
    ),
    "nbf in the future": (lambda: sign(claims(nbf=int(time.time()) + 600)), "not yet valid (nbf)"),
    "iat in the future": (
        lambda: sign(claims(iat=int(time.time()) + 600, exp=int(time.time()) + 900)),
        "not yet valid (iat)",
    ),
    "missing exp": (lambda: sign(claims(exp=None)), 'missing the "exp" claim'),
    "missing iat": (lambda: sign(claims(iat=None)), 'missing the "iat" claim'),
    "missing jti": (lambda: sign(claims(jti=None)), 'missing the "jti" claim'),
    "empty jti": (lambda: sign(claims(jti="")), "jti is empty"),
    "lifetime over an hour": (lambda: sign(claims(life=7200)), "lifetime exceeds the maximum"),
    "jku not allow-listed": (
        lambda: sign(claims(), jku="https://evil.example.org/jwks.json"),
        "is not allow-listed for this issuer",
    ),
    "tampered payload": (_tampered_payload, "Signature verification failed"),
    "tampered signature": (_tampered_signature, "Signature verification failed"),
    "another issuer's key": (_another_issuers_key, "Signature verification failed"),
    "RSA signature under an ES384 header": (
        _rsa_under_es384_header,
        "Signature verification failed",
    ),
    "algorithm not allowed for the issuer": (
        lambda: sign(claims(), EC521, "ES512"),
        "alg 'ES512' is not allowed",
    ),
    "RS384 for an ES384-only issuer": (
        lambda: sign(claims(), RSA_KEY, "RS384"),
        "alg 'RS384' is not allowed",
    ),
    "typ not JWT": (lambda: sign(claims(), typ="at+jwt"), "typ is not JWT"),
    "tenant not allow-listed": (
        lambda: sign(claims(iss=TENANTED, tenant="hospital-b"), OTHER_EC384, kid="t-1", jku=None),
        "tenant is not allow-listed",
    ),
    "tenant missing where required": (
        lambda: sign(claims(iss=TENANTED), OTHER_EC384, kid="t-1", jku=None),
        "tenant is not allow-listed",
    ),
    "oversized token": (lambda: sign(claims(padding="x" * 20_000)), "token too large"),
    "malformed base64": (lambda: "e30.!!!.abc", "malformed base64 or JSON"),
    "two segments": (lambda: ".".join(sign(claims()).split(".")[:2]), "not a compact JWS"),
    "payload not an object": (
        lambda: f"{b64({'alg': 'ES384', 'typ': 'JWT', 'kid': 'sandbox-1'})}.{b64(b'[1,2]')}.abc",
        "not a JSON object",
    ),
    "garbage": (lambda: "not-a-jwt", "not a compact JWS"),
    "alg not a string": (
        lambda: f"{b64({'alg': ['ES384'], 'typ': 'JWT', 'kid': 'sandbox-1'})}.{b64(claims())}.abc",
        "alg \"['ES384']\" is not allowed",
    ),
    "header nested thousands deep": (
        lambda: f"{b64(b'[' * 5000 + b']' * 5000)}.{b64(claims())}.abc",
        "malformed base64 or JSON",
    ),
    "tenant not a string": (
        lambda: sign(claims(iss=TENANTED, tenant=["hospital-a"]), OTHER_EC384, kid="t-1", jku=None),
        "tenant is not allow-listed",
    ),
    "exp beyond any float": (lambda: sign(claims(exp=10**400)), "malformed iat or exp"),
    # RFC 7519 NumericDate is a JSON number; PyJWT's int() would take these.
    "exp a numeric string": (
        lambda: sign(claims(exp=str(int(time.time()) + 300))),
        "malformed iat or exp",
    ),
    "iat a numeric string": (
        lambda: sign(claims(iat=str(int(time.time())))),
        "malformed iat or exp",
    ),
    "iat true": (lambda: sign(claims(iat=True)), "malformed iat or exp"),
    "nbf a numeric string": (
        lambda: sign(claims(nbf=str(int(time.time()) - 60))),
        "malformed nbf",
    ),
}


@pytest.mark.parametrize("name", list(BAD_TOKENS))
def test_each_bad_token_is_a_bare_401_for_the_right_reason(
    secured: FlaskClient, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    factory, reason = BAD_TOKENS[name]
    with caplog.at_level(logging.WARNING, logger="cds_service.security"):
        response = call(secured, factory())
    assert response.status_code == 401, name
    assert reason in caplog.text
    body = response.get_json()
    assert body == {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "login", "diagnostics": "authentication failed"}],
    }
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    ("header", "scheme"), [(None, "Bearer"), ("", "Bearer"), ("dXNlcjpwYXNz", "Basic")]
)
def test_missing_or_non_bearer_credentials_are_401(
    secured: FlaskClient, header: str | None, scheme: str
) -> None:
    assert call(secured, header, scheme=scheme).status_code == 401


def test_a_replayed_jti_is_rejected(secured: FlaskClient) -> None:
    token = sign(claims())
    assert call(secured, token).status_code == 200
    assert call(secured, token).status_code == 401


@pytest.mark.parametrize("path", ["/cds-services", SERVICE + "/feedback"])
def test_discovery_and_feedback_are_authenticated_with_their_own_aud(
    secured: FlaskClient, path: str
) -> None:
    assert call(secured, None, path).status_code == 401
    assert call(secured, sign(claims(aud=AUD)), path).status_code == 401
    assert call(secured, sign(claims(aud=BASE + path)), path).status_code == 200


def test_the_sandbox_shape_is_accepted(secured: FlaskClient) -> None:
    # ES384, kid and jku, 5-minute life, no sub or nbf.
    response = call(secured, sign(claims(life=300)))
    assert response.status_code == 200
    assert response.get_json()["cards"]


def test_the_epic_shape_is_accepted(secured: FlaskClient, jwks_server: HTTPServer) -> None:
    # RS384 from the issuer's JWKS URL, sub, nbf 5 minutes before iat, 15-minute life.
    now = int(time.time())
    token = sign(
        claims(iss=EPIC, iat=now, nbf=now - 300, exp=now + 900, sub="epic-client-id"),
        RSA_KEY,
        "RS384",
        kid="epic-1",
        jku=None,
    )
    assert call(secured, token).status_code == 200


@pytest.mark.parametrize(
    ("key", "alg", "kid"), [(EC256, "ES256", "m-ec"), (RSA_KEY, "RS256", "m-rsa")]
)
def test_es256_and_rs256_are_accepted(secured: FlaskClient, key: Any, alg: str, kid: str) -> None:
    assert call(secured, sign(claims(iss=MODERN), key, alg, kid=kid, jku=None)).status_code == 200


def test_a_key_the_issuer_rotates_to_is_accepted_at_once_and_random_kids_do_not_flood_its_url(
    httpserver: HTTPServer, tmp_path: Path, kb: KnowledgeBase, audit: AuditStore
) -> None:
    rotated = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    published = [jwk(RSA_KEY, "epic-1", "RS384")]
    httpserver.expect_request("/jwks").respond_with_handler(
        lambda _: Response(json.dumps({"keys": published}), content_type="application/json")
    )
    trust = {
        "issuers": [
            {"iss": EPIC, "algorithms": ["RS384"], "jwks_urls": [httpserver.url_for("/jwks")]}
        ]
    }
    path = tmp_path / "trust.json"
    path.write_text(json.dumps(trust), "utf-8")
    client = make(path, kb, audit).test_client()

    def token(key: Any, kid: str) -> str:
        return sign(claims(iss=EPIC), key, "RS384", kid=kid, jku=None)

    assert call(client, token(RSA_KEY, "epic-1")).status_code == 200
    published.append(jwk(rotated, "epic-2", "RS384"))  # Epic rotates its signing key
    assert call(client, token(rotated, "epic-2")).status_code == 200  # not 30 s later: now
    assert len(httpserver.log) == 2
    for _ in range(10):
        assert call(client, token(rotated, str(uuid.uuid4()))).status_code == 401
    # At most one refetch for the ten random kids (none while epic-2's refetch is under 5 s old).
    assert len(httpserver.log) <= 3


def test_aud_with_a_trailing_slash_or_as_a_list(secured: FlaskClient) -> None:
    assert call(secured, sign(claims(aud=AUD + "/"))).status_code == 200
    assert call(secured, sign(claims(aud=["https://other.example", AUD]))).status_code == 200


@pytest.mark.parametrize("path", [SERVICE, SERVICE + "/", "/cds-services", "/cds-services/"])
@pytest.mark.parametrize("slash", ["", "/"])
def test_a_trailing_slash_on_the_url_called_or_on_aud_is_tolerated_either_way(
    secured: FlaskClient, path: str, slash: str
) -> None:
    aud = BASE + path.removesuffix("/") + slash
    assert call(secured, sign(claims(aud=aud)), path).status_code == 200, (path, aud)


def test_a_trailing_slash_is_all_that_is_tolerated(secured: FlaskClient) -> None:
    for aud in (AUD + "//", AUD + "/x", BASE + "/cds-services/"):
        assert call(secured, sign(claims(aud=aud)), SERVICE + "/").status_code == 401, aud


def test_numeric_dates_with_a_fraction_are_accepted(secured: FlaskClient) -> None:
    # RFC 7519 section 2: a NumericDate may be non-integer.
    now = time.time()
    token = sign(claims(iat=now - 0.5, nbf=now - 60.25, exp=now + 299.75))
    assert call(secured, token).status_code == 200


# One client for every example: each token has its own jti, so nothing carries over.
@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    claim=st.sampled_from(["iat", "exp", "nbf"]),
    value=st.one_of(
        st.text(alphabet="0123456789.", min_size=1, max_size=12),
        st.booleans(),
        st.none(),
        st.lists(st.integers(), max_size=2),
        st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    ),
)
def test_a_date_claim_that_is_not_a_json_number_is_a_bare_401(
    secured: FlaskClient, claim: str, value: Any
) -> None:
    now = int(time.time())
    payload = claims(iat=now, exp=now + 300)
    payload[claim] = value
    response = call(secured, sign(payload))
    assert response.status_code == 401, (claim, value)
    assert response.get_json()["issue"][0]["diagnostics"] == "authentication failed"


def test_an_allowed_tenant_is_accepted(secured: FlaskClient) -> None:
    token = sign(claims(iss=TENANTED, tenant="hospital-a"), OTHER_EC384, kid="t-1", jku=None)
    assert call(secured, token).status_code == 200


def test_leeway_accepts_a_recently_expired_token(secured: FlaskClient) -> None:
    now = int(time.time())
    assert call(secured, sign(claims(iat=now - 330, exp=now - 30))).status_code == 200


def test_the_preflight_needs_no_token(secured: FlaskClient) -> None:
    response = secured.options(
        SERVICE,
        headers={"Origin": "https://sandbox.example.org", "Access-Control-Request-Method": "POST"},
    )
    assert response.status_code == 204


def test_the_rulebook_stays_public(secured: FlaskClient) -> None:
    assert secured.get("/rulebook.json").status_code == 200


@pytest.mark.skipif(
    not os.environ.get("ALP_TEST_REDIS_URL"), reason="set ALP_TEST_REDIS_URL to run against Redis"
)
def test_a_replay_across_two_instances_sharing_redis_is_rejected(
    audit: AuditStore, trust_file: Path, kb: KnowledgeBase
) -> None:
    url = os.environ["ALP_TEST_REDIS_URL"]
    first = make(trust_file, kb, audit, redis_url=url).test_client()
    second = make(trust_file, kb, audit, redis_url=url).test_client()
    token = sign(claims())
    assert call(first, token).status_code == 200
    assert call(second, token).status_code == 401
    fresh = sign(claims())
    assert call(second, fresh).status_code == 200


# --- fhirServer policy ---------------------------------------------------------------------


def fetch_request(fhir_server: str, token: str = "fhir-access-token-XYZ") -> dict[str, Any]:
    prefetch = full_prefetch()
    del prefetch["conditions"]
    body = sign_request([alp(312)], prefetch, fhirServer=fhir_server)
    body["fhirAuthorization"] = {
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": 30,
        "scope": "user/*.read",
        "subject": "alp-cds",
    }
    return body


def test_a_fhir_server_not_on_the_issuers_list_is_never_contacted(
    secured: FlaskClient, httpserver: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    httpserver.expect_request("/fhir/Condition").respond_with_json(
        {"resourceType": "Bundle", "type": "searchset"}
    )
    with caplog.at_level(logging.WARNING, logger="cds_service.security"):
        response = secured.post(
            SERVICE,
            json=fetch_request(httpserver.url_for("/fhir")),
            headers={"Authorization": f"Bearer {sign(claims())}"},
        )
    assert response.status_code == 200
    assert httpserver.log == []
    assert "Not available:" in response.get_json()["cards"][0]["detail"]
    assert "not contacted" in caplog.text


def sandbox_trusting(folder: Path, fhir_server: str) -> Path:
    """A trust file with only the sandbox-like issuer, which may send this fhirServer."""
    trust = {
        "issuers": [
            {
                "iss": SANDBOX,
                "algorithms": ["ES384"],
                "jwks": {"keys": [jwk(EC384, "sandbox-1", "ES384")]},
                "fhir_servers": [fhir_server],
            }
        ]
    }
    path = folder / "trust.json"
    path.write_text(json.dumps(trust), "utf-8")
    return path


def test_plain_http_is_refused_even_when_listed_outside_dev_mode(
    audit: AuditStore, trust_file: Path, kb: KnowledgeBase, httpserver: HTTPServer, tmp_path: Path
) -> None:
    path = sandbox_trusting(tmp_path, httpserver.url_for("/fhir"))
    client = make(path, kb, audit).test_client()
    response = client.post(
        SERVICE,
        json=fetch_request(httpserver.url_for("/fhir")),
        headers={"Authorization": f"Bearer {sign(claims(), jku=None)}"},
    )
    assert response.status_code == 200
    assert httpserver.log == []
    dev = make(path, kb, audit, dev_mode=True).test_client()
    httpserver.expect_request("/fhir/Condition").respond_with_json(
        {"resourceType": "Bundle", "type": "searchset"}
    )
    dev.post(
        SERVICE,
        json=fetch_request(httpserver.url_for("/fhir")),
        headers={"Authorization": f"Bearer {sign(claims(), jku=None)}"},
    )
    # Listed, development mode, and on loopback: now it is contacted.
    assert [e[0].path for e in httpserver.log] == ["/fhir/Condition"]


def test_tokens_never_reach_the_logs(
    audit: AuditStore,
    trust_file: Path,
    kb: KnowledgeBase,
    httpserver: HTTPServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    path = sandbox_trusting(tmp_path, httpserver.url_for("/fhir"))
    client = make(path, kb, audit, dev_mode=True).test_client()
    httpserver.expect_request("/fhir/Condition").respond_with_data("boom", status=500)
    good = sign(claims(), jku=None)
    bad = sign(claims(aud="https://wrong.example"), jku=None)
    access = "fhir-access-token-SECRET-123"
    with caplog.at_level(logging.DEBUG):
        client.post(
            SERVICE,
            json=fetch_request(httpserver.url_for("/fhir"), access),
            headers={"Authorization": f"Bearer {good}"},
        )
        client.post(
            SERVICE,
            json=fetch_request(httpserver.url_for("/fhir"), access),
            headers={"Authorization": f"Bearer {bad}"},
        )
        client.post(
            SERVICE,
            data="{broken",
            content_type="application/json",
            headers={"Authorization": f"Bearer {good}"},
        )
    text = caplog.text
    assert "rejected JWT" in text  # the failure was logged...
    with audit.engine.connect() as conn:
        stored = " ".join(str(row) for row in conn.execute(select(schema.invocations)))
    assert "authentication failed" in stored  # ...and audited...
    for secret in (good, bad, access, good.split(".")[2], bad.split(".")[2]):
        assert secret not in text  # ...without any token
        assert secret not in stored


def test_an_unreachable_replay_cache_fails_closed(
    audit: AuditStore, trust_file: Path, kb: KnowledgeBase, caplog: pytest.LogCaptureFixture
) -> None:
    # Nothing listens on port 1: the jti cannot be recorded, so no token is accepted.
    client = make(trust_file, kb, audit, redis_url="redis://127.0.0.1:1/0").test_client()
    with caplog.at_level(logging.WARNING, logger="cds_service.security"):
        response = call(client, sign(claims()))
    assert response.status_code == 401
    assert "replay cache unavailable" in caplog.text


# --- every header/key pairing: 401 or, only when alg, key, kid and signature all agree, 200 ----

ANY_KEY = "https://any-key.example.org"
ED25519 = ed25519.Ed25519PrivateKey.generate()
HMAC_SECRET = b"an-hmac-secret-an-issuer-should-never-have-" * 2
# kid -> (private key or secret, the natural algorithm of that key)
KEYS: dict[str, tuple[Any, str]] = {
    "rsa": (RSA_KEY, "RS384"),
    "p256": (EC256, "ES256"),
    "p384": (EC384, "ES384"),
    "p521": (EC521, "ES512"),
    "ed25519": (ED25519, "EdDSA"),
    "oct": (HMAC_SECRET, "HS256"),
}
HEADER_ALGS = [
    *sorted(ASYMMETRIC),
    "ES256K",
    "EdDSA",
    "HS256",
    "HS384",
    "HS512",
    "none",
    "",
    "es384",  # case matters (RFC 7515 section 4.1.1)
]
# Which key each accepted algorithm verifies with.
FITS = {
    **{alg: {"rsa"} for alg in ASYMMETRIC if alg[:2] in {"RS", "PS"}},
    "ES256": {"p256"},
    "ES384": {"p384"},
    "ES512": {"p521"},
}


def fitting_keys(alg: Any) -> set[str]:
    return FITS.get(alg, set()) if isinstance(alg, str) else set()


def any_jwk(kid: str) -> dict[str, Any]:
    key, _ = KEYS[kid]
    if kid == "oct":
        data: dict[str, Any] = {"kty": "oct", "k": b64(HMAC_SECRET)}
    elif kid == "ed25519":
        data = json.loads(OKPAlgorithm.to_jwk(key.public_key()))
    else:
        data = jwk(key, kid, KEYS[kid][1])
        del data["alg"]  # many JWK Sets leave it out; the header's alg must still fit the key
    data.update(kid=kid, use="sig")
    return data


@pytest.fixture(scope="module")
def any_key_client(
    tmp_path_factory: pytest.TempPathFactory, kb: KnowledgeBase, audit: AuditStore
) -> FlaskClient:
    """An issuer allowing every asymmetric algorithm, whose pinned set holds a key of each type
    (an HMAC secret too, as a careless JWKS might)."""
    trust = {
        "issuers": [
            {
                "iss": ANY_KEY,
                "algorithms": sorted(ASYMMETRIC),
                "jwks": {"keys": [any_jwk(kid) for kid in KEYS]},
            }
        ]
    }
    path = tmp_path_factory.mktemp("any-key") / "trust.json"
    path.write_text(json.dumps(trust), "utf-8")
    return make(path, kb, audit).test_client()


def crafted(alg: Any, kid_mode: str, kid: str, signer: str) -> str:
    """A token with this header; signed by `signer`'s key with the header's alg when that key
    can make such a signature, else with the key's own algorithm ("garbage": random bytes)."""
    header: dict[str, Any] = {"alg": alg, "typ": "JWT"}
    if kid_mode == "present":
        header["kid"] = kid
    elif kid_mode == "unknown":
        header["kid"] = "no-such-kid"
    signing_input = f"{b64(header)}.{b64(claims(iss=ANY_KEY))}"
    if signer == "garbage":
        signature = os.urandom(64)
    else:
        key, natural = KEYS[signer]
        algorithms = get_default_algorithms()
        algorithm = algorithms[alg if signer in fitting_keys(alg) else natural]
        signature = algorithm.sign(signing_input.encode(), algorithm.prepare_key(key))
    return f"{signing_input}.{b64(signature)}"


def accepted(alg: Any, kid_mode: str, kid: str, signer: str) -> bool:
    return kid_mode == "present" and kid in fitting_keys(alg) and signer == kid


def check_refused_or_accepted(
    client: FlaskClient, alg: Any, kid_mode: str, kid: str, signer: str
) -> None:
    response = call(client, crafted(alg, kid_mode, kid, signer))
    case = f"alg={alg!r} kid={kid_mode}:{kid} signed-by={signer}"
    if accepted(alg, kid_mode, kid, signer):
        assert response.status_code == 200, case
        return
    assert response.status_code == 401, case
    assert response.get_json()["resourceType"] == "OperationOutcome", case


def test_every_alg_and_key_type_pairing_is_refused_unless_it_fits(
    any_key_client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    # The whole alg x key (type, curve) space, each key signing for itself: an ES384 header on
    # the RSA key, an ES256 header on the P-384 key, RS384 on an HMAC secret...
    with caplog.at_level(logging.WARNING, logger="cds_service.security"):
        for alg in HEADER_ALGS:
            for kid in KEYS:
                check_refused_or_accepted(any_key_client, alg, "present", kid, kid)
    assert "alg 'ES384' does not fit the key for this kid (RSA)" in caplog.text
    assert "alg 'ES256' does not fit the key for this kid (EC secp384r1)" in caplog.text
    assert "alg 'RS384' does not fit the key for this kid (symmetric secret)" in caplog.text
    assert "unverifiable token" not in caplog.text  # every pairing was foreseen, none fell through


@pytest.mark.slow
@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    alg=st.one_of(
        st.sampled_from(HEADER_ALGS),
        st.sampled_from([None, 384, ["ES384"], {"alg": "ES384"}, True]),
    ),
    kid_mode=st.sampled_from(["present", "absent", "unknown"]),
    kid=st.sampled_from(sorted(KEYS)),
    signer=st.sampled_from([*sorted(KEYS), "garbage"]),
)
def test_no_header_and_key_combination_is_a_5xx(
    any_key_client: FlaskClient, alg: Any, kid_mode: str, kid: str, signer: str
) -> None:
    check_refused_or_accepted(any_key_client, alg, kid_mode, kid, signer)


@pytest.mark.parametrize(
    ("kid", "header"),
    [("rsa", "ES384"), ("p384", "RS384"), ("p384", "ES256"), ("p256", "ES512"), ("oct", "RS256")],
)
def test_the_reported_mismatches_are_401_with_the_reason_logged(
    any_key_client: FlaskClient, kid: str, header: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="cds_service.security"):
        response = call(any_key_client, crafted(header, "present", kid, kid))
    assert response.status_code == 401
    assert f"alg '{header}' does not fit the key for this kid" in caplog.text
    assert f"iss={ANY_KEY!r}" in caplog.text  # the refusal names who sent it
