"""The fetch client against a real loopback HTTP server (pytest-httpserver)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug.wrappers import Request, Response

from cds_service.fhir.client import (
    FhirClient,
    FhirForbidden,
    FhirInvalidResponse,
    FhirNotFound,
    FhirPolicyError,
    FhirServerError,
    FhirTimeout,
    FhirUnauthorized,
    FhirUnreachable,
    Limits,
)

LIMITS = Limits(connect_timeout=1.0, read_timeout=0.5, max_response_bytes=64 * 1024, max_pages=3)


def client_for(
    server: HTTPServer,
    session: Any,
    token: str | None = "tok-123",
    limits: Limits = LIMITS,
) -> FhirClient:
    return FhirClient(server.url_for("/fhir"), token, session, limits)


def deadline(seconds: float = 5.0) -> float:
    return time.monotonic() + seconds


def test_read_sends_the_bearer_token_and_fhir_accept(httpserver: HTTPServer, session: Any) -> None:
    httpserver.expect_request(
        "/fhir/Patient/p1",
        headers={"Authorization": "Bearer tok-123", "Accept": "application/fhir+json"},
    ).respond_with_json({"resourceType": "Patient", "id": "p1"})
    got = client_for(httpserver, session).get(
        client_for(httpserver, session).url_for("Patient/p1"), deadline()
    )
    assert got["id"] == "p1"
    httpserver.check_assertions()


def test_no_authorization_header_without_a_token(httpserver: HTTPServer, session: Any) -> None:
    seen: list[str | None] = []

    def handler(request: Request) -> Response:
        seen.append(request.headers.get("Authorization"))
        return Response(
            json.dumps({"resourceType": "Patient", "id": "p1"}),
            content_type="application/fhir+json",
        )

    httpserver.expect_request("/fhir/Patient/p1").respond_with_handler(handler)
    client = client_for(httpserver, session, token=None)
    client.get(client.url_for("Patient/p1"), deadline())
    assert seen == [None]


def test_the_token_is_never_sent_outside_fhir_server(httpserver: HTTPServer, session: Any) -> None:
    client = FhirClient("https://ehr.example.org/fhir", "tok-123", session, LIMITS)
    with pytest.raises(FhirPolicyError):
        client.get(httpserver.url_for("/fhir/Patient/p1"), deadline())
    with pytest.raises(FhirPolicyError):
        client.get("https://ehr.example.org/other/Patient/p1", deadline())
    assert httpserver.log == []  # nothing was contacted


@pytest.mark.parametrize("path", ["/fhir/../admin", "/fhir/%2e%2E/admin", "/fhir/./Patient/p1"])
def test_dot_segments_in_a_url_are_refused(httpserver: HTTPServer, session: Any, path: str) -> None:
    client = client_for(httpserver, session)
    with pytest.raises(FhirPolicyError):
        client.get(httpserver.url_for("/").rstrip("/") + path, deadline())
    assert httpserver.log == []


def test_next_links_to_another_host_are_refused(httpserver: HTTPServer, session: Any) -> None:
    page = {
        "resourceType": "Bundle",
        "type": "searchset",
        "link": [{"relation": "next", "url": "http://evil.example/fhir/steal?page=2"}],
    }
    client = client_for(httpserver, session)
    with pytest.raises(FhirPolicyError):
        list(client.pages(page, deadline()))


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (401, FhirUnauthorized),
        (403, FhirForbidden),
        (404, FhirNotFound),
        (410, FhirNotFound),
        (500, FhirServerError),
        (503, FhirServerError),
        (429, FhirServerError),
        (302, FhirServerError),
    ],
)
def test_each_http_failure_has_its_exception(
    httpserver: HTTPServer, session: Any, status: int, error: type[Exception]
) -> None:
    httpserver.expect_request("/fhir/Patient/p1").respond_with_data(
        "x", status=status, headers={"Location": "http://a/"}
    )
    client = client_for(httpserver, session)
    with pytest.raises(error) as caught:
        client.get(client.url_for("Patient/p1"), deadline())
    assert "tok-123" not in str(caught.value)


def test_redirects_are_not_followed(httpserver: HTTPServer, session: Any) -> None:
    httpserver.expect_request("/fhir/Patient/p1").respond_with_data(
        "", status=307, headers={"Location": httpserver.url_for("/fhir/Patient/p2")}
    )
    client = client_for(httpserver, session)
    with pytest.raises(FhirServerError):
        client.get(client.url_for("Patient/p1"), deadline())
    assert [entry[0].path for entry in httpserver.log] == ["/fhir/Patient/p1"]


@pytest.mark.parametrize(
    "body",
    ["<html>login</html>", '{"resourceType": "Patient"', "[1, 2]", '{"id": "no type"}', "\x00\xff"],
)
def test_bodies_that_are_not_fhir_json_are_rejected(
    httpserver: HTTPServer, session: Any, body: str
) -> None:
    httpserver.expect_request("/fhir/Patient/p1").respond_with_data(body, content_type="text/html")
    client = client_for(httpserver, session)
    with pytest.raises(FhirInvalidResponse):
        client.get(client.url_for("Patient/p1"), deadline())


@pytest.mark.parametrize("text", ["p\\u0000x", "p\\ud800x"])
def test_a_resource_with_a_nul_or_lone_surrogate_is_rejected(
    httpserver: HTTPServer, session: Any, text: str
) -> None:
    """Its ids and texts reach the audit record, which could not keep them."""
    body = '{"resourceType": "Patient", "id": "' + text + '"}'
    httpserver.expect_request("/fhir/Patient/p1").respond_with_data(
        body, content_type="application/fhir+json"
    )
    client = client_for(httpserver, session)
    with pytest.raises(FhirInvalidResponse, match="a NUL or a lone surrogate"):
        client.get(client.url_for("Patient/p1"), deadline())


def test_a_response_larger_than_the_limit_is_rejected(httpserver: HTTPServer, session: Any) -> None:
    big = {
        "resourceType": "Bundle",
        "type": "searchset",
        "padding": "x" * (LIMITS.max_response_bytes + 10),
    }
    httpserver.expect_request("/fhir/Observation").respond_with_json(big)
    client = client_for(httpserver, session)
    with pytest.raises(FhirInvalidResponse, match="too large"):
        client.get(client.url_for("Observation"), deadline())


@pytest.fixture
def hanging(httpserver: HTTPServer) -> Iterator[None]:
    """A handler that hangs until the test ends (the test server has one thread, so release it)."""
    release = threading.Event()

    def hang(_: Request) -> Response:
        release.wait(5)
        return Response("{}", content_type="application/json")

    httpserver.expect_request("/fhir/Patient/p1").respond_with_handler(hang)
    yield
    release.set()


@pytest.mark.usefixtures("hanging")
def test_a_server_that_hangs_times_out_within_the_read_timeout(
    httpserver: HTTPServer, session: Any
) -> None:
    client = client_for(httpserver, session)
    started = time.monotonic()
    with pytest.raises(FhirTimeout):
        client.get(client.url_for("Patient/p1"), deadline())
    assert time.monotonic() - started < 1.4


@pytest.mark.usefixtures("hanging")
def test_the_overall_deadline_caps_the_read_timeout(httpserver: HTTPServer, session: Any) -> None:
    generous = Limits(connect_timeout=1.0, read_timeout=5.0, max_response_bytes=1024, max_pages=3)
    client = client_for(httpserver, session, limits=generous)
    with pytest.raises(FhirTimeout):
        client.get(client.url_for("Patient/p1"), deadline(0.2))
    with pytest.raises(FhirTimeout):
        client.get(client.url_for("Patient/p1"), deadline(-1))


def test_a_refused_connection_is_unreachable(session: Any) -> None:
    client = FhirClient("http://127.0.0.1:9/fhir", None, session, LIMITS)
    with pytest.raises(FhirUnreachable):
        client.get(client.url_for("Patient/p1"), deadline())


def _page(n: int, next_url: str | None) -> dict[str, Any]:
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": {"resourceType": "Condition", "id": f"c{n}"}}],
    }
    if next_url:
        bundle["link"] = [{"relation": "next", "url": next_url}]
    return bundle


def test_paging_follows_next_links_with_the_token(httpserver: HTTPServer, session: Any) -> None:
    httpserver.expect_request(
        "/fhir/Condition", query_string="page=2", headers={"Authorization": "Bearer tok-123"}
    ).respond_with_json(_page(2, httpserver.url_for("/fhir/Condition?page=3")))
    httpserver.expect_request("/fhir/Condition", query_string="page=3").respond_with_json(
        _page(3, None)
    )
    client = client_for(httpserver, session)
    pages = list(client.pages(_page(1, httpserver.url_for("/fhir/Condition?page=2")), deadline()))
    assert [p["entry"][0]["resource"]["id"] for p in pages] == ["c1", "c2", "c3"]


def test_endless_next_links_stop_at_the_page_limit(httpserver: HTTPServer, session: Any) -> None:
    httpserver.expect_request("/fhir/Condition").respond_with_json(
        _page(9, httpserver.url_for("/fhir/Condition?again=1"))
    )
    client = client_for(httpserver, session)
    seen: list[Any] = []

    def follow() -> None:
        seen.extend(
            client.pages(_page(1, httpserver.url_for("/fhir/Condition?again=1")), deadline())
        )

    with pytest.raises(FhirInvalidResponse, match="pages"):
        follow()
    assert len(seen) == LIMITS.max_pages


def test_repr_never_shows_the_token(session: Any) -> None:
    assert "tok-123" not in repr(
        FhirClient("https://ehr.example.org/fhir", "tok-123", session, LIMITS)
    )


def test_queries_containing_urls_stay_relative_to_the_base(session: Any) -> None:
    client = FhirClient("https://ehr.example.org/fhir/", None, session, LIMITS)
    query = "Observation?code=http://loinc.org|6768-6,http://loinc.org|2324-2"
    assert client.url_for(query) == "https://ehr.example.org/fhir/" + query
    assert (
        client.url_for("https://ehr.example.org/fhir/Patient/1")
        == "https://ehr.example.org/fhir/Patient/1"
    )
