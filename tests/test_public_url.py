"""Card links and the JWT audience: the configured public URL (required outside development
mode), or in development mode the URL the caller used, with X-Forwarded-* believed only from
ALP_CDS_FORWARDED_ALLOW_IPS. And the warnings a 412 or a partial answer leaves in the log."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from cds_service.hooks import prefetch
from cds_service.hooks.pipeline import data_problems
from cds_service.settings import SettingsError
from tests.support.ehr import audited_app
from tests.support.fhir import alp, full_prefetch, sign_request

SIGN = "/cds-services/alp-result-sign"


def link(app: Flask, **request: Any) -> str:
    response = app.test_client().post(
        SIGN, json=sign_request([alp(312)], full_prefetch()), **request
    )
    assert response.status_code == 200, response.get_json()
    url: str = response.get_json()["cards"][0]["links"][0]["url"]
    return url.split("/rulebook")[0]


def test_outside_development_mode_the_public_url_is_required(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="ALP_CDS_PUBLIC_BASE_URL: required outside"):
        audited_app(
            tmp_path,
            dev_mode=False,
            trust_presets=("cds-hooks-sandbox",),
            workers=1,
            auto_migrate=True,  # a fresh store; what is checked here is the public URL
        )


def test_a_configured_public_url_wins_over_whatever_the_request_says(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(public_base_url="https://cds.example.org/alp")
    headers = {"Host": "attacker.example", "X-Forwarded-Host": "evil.example"}
    assert link(app, headers=headers) == "https://cds.example.org/alp"


def test_in_development_mode_links_use_the_host_the_caller_used(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(host="0.0.0.0")  # noqa: S104 - the bind address a container uses
    assert link(app, headers={"Host": "cds.lan:8080"}) == "http://cds.lan:8080"
    assert link(app, base_url="https://tunnel.example.org") == "https://tunnel.example.org"


def test_forwarded_headers_count_only_from_allowed_proxies(
    make_app: Callable[..., Flask],
) -> None:
    forwarded = {
        "Host": "127.0.0.1:8080",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "client-says.example, cds.hospital.example",
        "X-Forwarded-Prefix": "/alp",
    }
    app = make_app()
    proxy = {"REMOTE_ADDR": "127.0.0.1"}  # a local proxy: in the default allow list
    assert link(app, headers=forwarded, environ_base=proxy) == "https://cds.hospital.example/alp"
    stranger = {"REMOTE_ADDR": "203.0.113.9"}
    assert link(app, headers=forwarded, environ_base=stranger) == "http://127.0.0.1:8080"
    allowed = make_app(forwarded_allow_ips=("203.0.113.0/24",))
    assert (
        link(allowed, headers=forwarded, environ_base=stranger)
        == "https://cds.hospital.example/alp"
    )


def test_a_host_header_that_is_not_a_host_falls_back_to_the_bind_address(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app()
    headers = {"X-Forwarded-Host": "evil.example/?x=", "Host": "127.0.0.1:8080"}
    assert link(app, headers=headers, environ_base={"REMOTE_ADDR": "127.0.0.1"}) == (
        "http://127.0.0.1:8080"
    )


def test_a_412_logs_a_warning_with_the_reason(
    make_app: Callable[..., Flask], caplog: pytest.LogCaptureFixture
) -> None:
    body = sign_request([alp(312)], {k: v for k, v in full_prefetch().items() if k != "patient"})
    body["hookInstance"] = "hi-412-log"
    with caplog.at_level(logging.WARNING, logger="cds_service.hooks"):
        response = make_app().test_client().post(SIGN, json=body)
    assert response.status_code == 412
    [line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("412 on")]
    assert line == (
        "412 on alp-result-sign (hookInstance hi-412-log): required data unobtainable: "
        "patient (not prefetched; the request has no fhirServer to fetch from)"
    )


def test_a_partial_answer_logs_a_warning_without_patient_data(
    make_app: Callable[..., Flask], caplog: pytest.LogCaptureFixture
) -> None:
    prefetch = full_prefetch()
    prefetch["conditions"] = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "timeout", "diagnostics": "Patient pt-1 busy"}],
    }
    body = sign_request([alp(312)], prefetch)
    body["hookInstance"] = "hi-partial-log"
    with caplog.at_level(logging.WARNING, logger="cds_service.hooks"):
        response = make_app().test_client().post(SIGN, json=body)
    assert response.status_code == 200
    [line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("partial")]
    assert line == (
        "partial data on alp-result-sign (hookInstance hi-partial-log): answered without "
        "conditions (client could not prefetch; the request has no fhirServer to fetch from)"
    )
    assert "pt-1" not in line  # the client's diagnostics stay in the audit record


def test_a_key_cut_short_says_how_much_came() -> None:
    # Integration QA round 2, defect 13: labs cut short at a refused page were logged as
    # "answered without labs" although what came was used.
    result = prefetch.KeyResult("labs", resources=[alp(312), alp(90)], problems=["page 2 lost"])
    data = prefetch.ResolvedData(keys={"labs": result})
    assert data_problems(data, ["labs"]).startswith("labs (2 received; ")
    assert data_problems(prefetch.ResolvedData(keys={}), ["labs"]) == "labs (no data)"


def test_log_reasons_keep_the_kind_of_problem_not_urls_or_diagnostics() -> None:
    from cds_service.hooks.pipeline import data_problems
    from cds_service.hooks.prefetch import KeyResult, ResolvedData

    data = ResolvedData(
        {
            "patient": KeyResult(
                "patient",
                problems=[
                    "not prefetched",
                    "deadline passed before GET https://u@fhir.example.org/r4/Patient/pt-1",
                ],
            ),
            "labs": KeyResult("labs", problems=["timed out: GET https://fhir.example.org/r4/x"]),
            "orders": KeyResult("orders"),
        }
    )
    assert data_problems(data, ["patient", "labs", "orders"]) == (
        "patient (not prefetched; deadline passed before GET https://fhir.example.org), "
        "labs (timed out), orders (no data)"
    )
