"""Trust presets and the trust files that extend them, and what a refused token leaves in the
log: the expected and received `aud`, never the token."""

from __future__ import annotations

import json
import logging
import os
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric import ec

from cds_service.security.trust import TrustError, load_trust
from tests.support.ehr import audited_app, bearer, public_jwk, trust_file
from tests.support.fhir import alp, full_prefetch, sign_request

SANDBOX = "https://sandbox.cds-hooks.org"
PRESET = "cds-hooks-sandbox"
LOCAL_FHIR = "http://localhost:8103/fhir/R4"


def preset_text() -> str:
    return resources.files("cds_service.security").joinpath(f"presets/{PRESET}.yaml").read_text()


def test_a_trust_file_extends_the_sandbox_preset_without_repeating_its_keys(
    tmp_path: Path,
) -> None:
    extension = trust_file(tmp_path, {"iss": SANDBOX, "fhir_servers": [LOCAL_FHIR]})
    another = trust_file(tmp_path, {"iss": SANDBOX, "tenants": ["demo"]})
    issuer = load_trust([extension, another], [PRESET]).issuers[SANDBOX]
    assert issuer.jwks is not None
    assert [k.key_id for k in issuer.jwks.keys] == ["44823f3d-0b01-4a6c-a80e-b9d3e8a7226f"]
    assert issuer.algorithms == frozenset({"ES384"})
    assert issuer.fhir_servers == {"https://launch.smarthealthit.org/v/r4/fhir", LOCAL_FHIR}
    assert issuer.tenants == {"demo"}
    assert "preset cds-hooks-sandbox" in issuer.source
    assert str(extension) in issuer.source


def test_repeating_the_preset_unchanged_is_fine_changing_it_is_not(tmp_path: Path) -> None:
    raw = yaml.safe_load(preset_text())["issuers"][0]
    repeated = trust_file(tmp_path, {**raw, "fhir_servers": [LOCAL_FHIR]})
    assert LOCAL_FHIR in load_trust([repeated], [PRESET]).issuers[SANDBOX].fhir_servers
    other_key = ec.generate_private_key(ec.SECP384R1())
    for change in (
        {"jwks": {"keys": [public_jwk(other_key, "mine", "ES384")]}},
        {"algorithms": ["ES256"]},
        {"jwks_urls": ["https://evil.example/jwks.json"]},
    ):
        path = trust_file(tmp_path, {"iss": SANDBOX, **change})
        with pytest.raises(TrustError, match=f"not change its {next(iter(change))}"):
            load_trust([path], [PRESET])


def test_an_issuer_named_twice_outside_a_preset_is_still_an_error(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    entry = {"iss": "https://ehr.example.org", "jwks": {"keys": [public_jwk(key, "k", "ES384")]}}
    with pytest.raises(TrustError, match="configured twice"):
        load_trust([trust_file(tmp_path, entry), trust_file(tmp_path, entry)], [])
    with pytest.raises(TrustError, match="needs a pinned"):  # no preset to take keys from
        load_trust([trust_file(tmp_path, {"iss": SANDBOX, "fhir_servers": [LOCAL_FHIR]})], [])


def test_config_check_passes_with_the_preset_and_a_file_naming_the_sandbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from cds_service.cli import main

    for name in list(os.environ):
        if name.startswith("ALP_CDS_"):
            monkeypatch.delenv(name)
    path = trust_file(tmp_path, {"iss": SANDBOX, "fhir_servers": [LOCAL_FHIR]})
    monkeypatch.setenv("ALP_CDS_TRUST_PRESETS", PRESET)
    monkeypatch.setenv("ALP_CDS_TRUST_FILE", str(path))
    monkeypatch.setenv("ALP_CDS_PUBLIC_BASE_URL", "https://cds.example.org")
    monkeypatch.setenv("ALP_CDS_WORKERS", "1")
    assert main(["config", "check"]) == 0
    out = capsys.readouterr().out
    assert LOCAL_FHIR in out
    assert "pinned JWK Set (1 keys)" in out


def test_the_preset_says_what_the_sandbox_really_defaults_to() -> None:
    text = preset_text()
    # sandbox src/reducers/fhir-server-reducers.js: defaultFhirServer is the launcher's DSTU2
    # server, which this R4 service does not read; the preset must not claim an R4 default.
    assert "https://launch.smarthealthit.org/v/r2/fhir" in text
    assert "R4 default" not in text
    servers = yaml.safe_load(text)["issuers"][0]["fhir_servers"]
    assert servers == ["https://launch.smarthealthit.org/v/r4/fhir"]


@pytest.mark.parametrize(
    ("aud", "received"),
    [
        (
            "https://cds.example.org/cds-services/alp-result-sign",
            "'https://cds.example.org/cds-services/alp-result-sign'",
        ),
        (
            ["https://a.example/x", "https://b.example/y"],
            "['https://a.example/x', 'https://b.example/y']",
        ),
    ],
)
def test_a_refused_token_logs_expected_and_received_aud_never_the_token(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, aud: Any, received: str
) -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    iss = "https://ehr.example.org"
    issuer = {
        "iss": iss,
        "algorithms": ["ES384"],
        "jwks": {"keys": [public_jwk(key, "k1", "ES384")]},
    }
    app, _ = audited_app(
        tmp_path,
        trust_files=(trust_file(tmp_path, issuer),),
        public_base_url="https://cds.example.org/alp",  # behind a path prefix the EHR forgot
        dev_mode=False,
        workers=1,
    )
    headers = bearer(key, "ES384", iss, aud, "k1")
    token = headers["Authorization"].removeprefix("Bearer ")
    with caplog.at_level(logging.WARNING, logger="cds_service.security"):
        response = app.test_client().post(
            "/cds-services/alp-result-sign",
            json=sign_request([alp(312)], full_prefetch()),
            headers=headers,
        )
    assert response.status_code == 401
    assert "authentication failed" in json.dumps(response.get_json())
    line = next(r.getMessage() for r in caplog.records if "rejected JWT" in r.getMessage())
    assert "aud expected 'https://cds.example.org/alp/cds-services/alp-result-sign'" in line
    assert f"received {received}" in line
    for part in token.split("."):
        assert part not in caplog.text
