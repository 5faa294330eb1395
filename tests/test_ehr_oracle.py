"""Oracle Health (Cerner): patient-view only, CDS Hooks 1.0 shapes, services registered without
prefetch, so everything is fetched from fhirServer with the token it sends; JWTs from
https://cds-hooks.cerner.com (docs/ehr/oracle-health.md). Keys are generated here; the FHIR
server is a local stub (development mode allows plain http on loopback, JWTs still checked)."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.rules_helper import fired
from tests.support.ehr import ORACLE_USER, audited_app, bearer, public_jwk, trust_file
from tests.support.fhir import PATIENT_ID, alp, patient, searchset

CERNER = "https://cds-hooks.cerner.com"
CERNER_JKU = "https://authorization.cerner.com/jwk"
PUBLIC = "https://cds.example.org"
VIEW = "/cds-services/alp-patient-view"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
TENANT_PATH = "/r4/ec2458f2-1e24-41c8-b71b-0e701af7583d"
ACCESS_TOKEN = "oracle-access-token-for-fhir"


@pytest.fixture
def fhir(httpserver: HTTPServer) -> HTTPServer:
    """A Millennium-like FHIR server holding one patient with a high ALP filed today."""

    def answer(request: Request) -> Response:
        assert request.headers.get("Authorization") == f"Bearer {ACCESS_TOKEN}"
        resource = request.path.removeprefix(TENANT_PATH + "/")
        if resource == f"Patient/{PATIENT_ID}":
            body: Any = patient()
        elif resource == "Observation":
            body = searchset([alp(312, when="2026-11-21T07:00:00Z", ident="filed-today")])
        else:
            body = searchset(())
        return Response(json.dumps(body), status=200, content_type="application/fhir+json")

    httpserver.expect_request(re.compile(f"^{TENANT_PATH}/")).respond_with_handler(answer)
    return httpserver


def patient_view_1_0(fhir_server: str, **context: Any) -> dict[str, Any]:
    """A CDS Hooks 1.0 patient-view: userId, patientId and encounterId in context (1.0 makes
    userId REQUIRED), no prefetch, fhirAuthorization without the 2.0 `patient` field."""
    return {
        "hookInstance": str(uuid.uuid4()),
        "fhirServer": fhir_server,
        "hook": "patient-view",
        "fhirAuthorization": {
            "access_token": ACCESS_TOKEN,
            "token_type": "Bearer",
            "expires_in": 570,
            "scope": "patient/Patient.read patient/Observation.read patient/Condition.read",
            "subject": "alp-cds-oracle-client",
        },
        "context": {
            "userId": ORACLE_USER,
            "patientId": PATIENT_ID,
            "encounterId": "97953477",
            **context,
        },
    }


def oracle_app(tmp_path: Path, fhir_server: str) -> Any:
    trust = trust_file(
        tmp_path,
        {
            "iss": CERNER,
            "algorithms": ["RS384"],
            "jwks": {"keys": [public_jwk(KEY, "cerner-1", "RS384")]},
            "jwks_urls": [CERNER_JKU],
            "fhir_servers": [fhir_server],
        },
    )
    app, _ = audited_app(tmp_path, trust_files=(trust,), public_base_url=PUBLIC)
    return app.test_client()


def test_an_oracle_1_0_patient_view_gets_the_card_from_fetched_data(
    tmp_path: Path, fhir: HTTPServer
) -> None:
    fhir_server = fhir.url_for(TENANT_PATH)
    client = oracle_app(tmp_path, fhir_server)
    headers = bearer(KEY, "RS384", CERNER, PUBLIC + VIEW, "cerner-1", jku=CERNER_JKU)
    response = client.post(VIEW, json=patient_view_1_0(fhir_server), headers=headers)
    assert response.status_code == 200, response.get_json()
    found = response.get_json()["cards"]
    assert fired(found) == ["alp-high-confirm-origin"]
    order = found[0]["suggestions"][0]["actions"][0]["resource"]
    assert order["reasonReference"] == [{"reference": "Observation/filed-today"}]
    fetched = {entry[0].path.removeprefix(TENANT_PATH) for entry in fhir.log}
    assert {"/Patient/pt-1", "/Observation"} <= fetched  # no prefetch: all of it fetched
    # Links are absolute on the configured public URL (Oracle strips links not allow-listed at
    # registration: docs/ehr/oracle-health.md says which to list).
    assert found[0]["links"][0]["url"].startswith(PUBLIC + "/rulebook")


def test_1_0_requires_user_id_in_context(tmp_path: Path, fhir: HTTPServer) -> None:
    fhir_server = fhir.url_for(TENANT_PATH)
    client = oracle_app(tmp_path, fhir_server)
    body = patient_view_1_0(fhir_server)
    del body["context"]["userId"]
    headers = bearer(KEY, "RS384", CERNER, PUBLIC + VIEW, "cerner-1", jku=CERNER_JKU)
    response = client.post(VIEW, json=body, headers=headers)
    assert response.status_code == 400
    [issue] = response.get_json()["issue"]
    assert issue["expression"] == ["$.context"]
    assert "userId" in issue["diagnostics"]
    assert fhir.log == []  # refused before any fetch
