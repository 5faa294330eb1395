"""The CDS Hooks sandbox, as its source sends things (docs/ehr/sandbox.md): an ES384 JWT whose
`aud` is discovery URL + "/" + id, a request of hookInstance/hook/fhirServer/context only plus the
prefetch its `POST {fhir}/{Type}/_search` calls answered (failed keys simply missing), and
feedback posted from the card list. Run locally as docs/ehr/sandbox.md describes: the service in
development mode without ALP_CDS_PUBLIC_BASE_URL, called at http://localhost:8080. The sandbox's
own private key is not used (it is not ours to copy): a generated key stands in under its kid."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from pytest_httpserver import HTTPServer
from sqlalchemy import select

from cds_service.audit import reports, schema
from tests.rules_helper import fired
from tests.support.ehr import (
    audited_app,
    bearer,
    public_jwk,
    sandbox_accept,
    sandbox_dismiss,
    sandbox_patient_view,
    trust_file,
)
from tests.support.fhir import alp, full_prefetch

SANDBOX = "https://sandbox.cds-hooks.org"
JKU = "https://sandbox.cds-hooks.org/.well-known/jwks.json"
KID = "44823f3d-0b01-4a6c-a80e-b9d3e8a7226f"
KEY = ec.generate_private_key(ec.SECP384R1())
LOCAL = "http://localhost:8080"  # where the sandbox's user pointed serviceDiscoveryURL
VIEW = "/cds-services/alp-patient-view"


def sandbox_headers(aud: str) -> dict[str, str]:
    return {
        **bearer(KEY, "ES384", SANDBOX, aud, KID, life=300, jku=JKU),
        "Accept": "application/json",
        "Origin": "http://localhost:8081",  # the sandbox served locally
    }


@pytest.fixture
def local_sandbox(tmp_path: Path, httpserver: HTTPServer) -> Any:
    """The service as a local sandbox run uses it: development mode, JWTs checked, the FHIR
    server the sandbox points at allowed for the sandbox issuer."""
    httpserver.expect_request("/fhir/Procedure").respond_with_json(
        {"resourceType": "Bundle", "type": "searchset", "total": 0}
    )
    trust = trust_file(
        tmp_path,
        {
            "iss": SANDBOX,
            "algorithms": ["ES384"],
            "jwks": {"keys": [public_jwk(KEY, KID, "ES384")]},
            "jwks_urls": [JKU],
            "fhir_servers": [httpserver.url_for("/fhir")],
        },
    )
    app, store = audited_app(tmp_path, trust_files=(trust,))
    return app.test_client(), store, httpserver.url_for("/fhir"), httpserver


def test_the_sandbox_request_gets_the_card_with_links_it_can_open(local_sandbox: Any) -> None:
    client, _store, fhir, server = local_sandbox
    prefetch = full_prefetch(labs=[alp(312, when="2026-11-20T08:00:00Z", ident="alp-1")])
    # The sandbox's POST Procedure/_search failed and it fell back to nothing: key left out.
    body = sandbox_patient_view(fhir, prefetch, drop=["procedures"])
    response = client.post(
        VIEW,
        json=body,
        headers={**sandbox_headers(LOCAL + VIEW), "Host": "localhost:8080"},
    )
    assert response.status_code == 200, response.get_json()
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    [card] = response.get_json()["cards"]
    assert fired([card]) == ["alp-high-confirm-origin"]
    # Links on the URL the sandbox called, not the bind address 127.0.0.1:8080.
    assert card["links"][0]["url"].startswith(LOCAL + "/rulebook#")
    assert card["source"]["url"].startswith(LOCAL + "/rulebook#")
    assert card["overrideReasons"]  # the sandbox's Dismiss menu lists them
    # The missing key was fetched from the sandbox's fhirServer; nothing else was.
    assert [entry[0].path for entry in server.log] == ["/fhir/Procedure"]


def test_a_token_for_another_host_is_refused(local_sandbox: Any) -> None:
    client, _, fhir, _ = local_sandbox
    body = sandbox_patient_view(fhir, full_prefetch(labs=[alp(312)]))
    response = client.post(
        VIEW,
        json=body,
        headers={**sandbox_headers("http://elsewhere:8080" + VIEW), "Host": "localhost:8080"},
    )
    assert response.status_code == 401


def test_sandbox_feedback_is_stored_and_the_final_outcome_counted(local_sandbox: Any) -> None:
    client, store, fhir, _ = local_sandbox
    body = sandbox_patient_view(fhir, full_prefetch(labs=[alp(312)]))
    host = {"Host": "localhost:8080"}
    cards = [
        client.post(VIEW, json=body, headers={**sandbox_headers(LOCAL + VIEW), **host}).get_json()[
            "cards"
        ][0]
        for _ in range(3)
    ]
    feedback = LOCAL + VIEW + "/feedback"
    sent = [
        # card 0: a suggestion clicked, then the card dismissed with a reason
        sandbox_accept(cards[0], "2026-11-21T12:00:01.123Z"),
        sandbox_dismiss(cards[0], "2026-11-21T12:00:09.456Z", with_reason=True),
        # card 1: dismissed without choosing a reason
        sandbox_dismiss(cards[1], "2026-11-21T12:01:00.000Z", with_reason=False),
        # card 2: accepted only
        sandbox_accept(cards[2], "2026-11-21T12:02:00.000Z"),
    ]
    for item in sent:
        response = client.post(
            VIEW + "/feedback", json=item, headers={**sandbox_headers(feedback), **host}
        )
        assert response.status_code == 200, response.get_json()
    with store.engine.connect() as conn:
        rows = conn.execute(select(schema.feedback).order_by(schema.feedback.c.id)).all()
    dismissed = rows[1]
    reason = cards[0]["overrideReasons"][0]
    assert (dismissed.override_system, dismissed.override_code) == (
        reason["system"],
        reason["code"],
    )
    assert dismissed.override_display is None  # the sandbox does not send it back
    report = reports.rule_report(store.engine)
    [row] = [r for r in report["rules"] if r["shown"]]
    assert (row["shown"], row["accepted"], row["overridden"], row["no_feedback"]) == (3, 1, 2, 0)


def test_the_readme_links_the_ehr_guides() -> None:
    root = Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text("utf-8")
    for guide in ("epic.md", "oracle-health.md", "sandbox.md"):
        assert f"(docs/ehr/{guide})" in readme
        assert (root / "docs" / "ehr" / guide).is_file()
