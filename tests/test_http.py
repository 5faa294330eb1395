"""The HTTP surface through Flask's test client: discovery, errors, CORS, feedback.

Every response here also passes the conformance checks in conftest's CheckedClient.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from gunicorn.http.errors import ChunkMissingTerminator, InvalidChunkSize, NoMoreData

from cds_service.hooks.feedback import MemoryFeedbackSink
from tests.support.fhir import alp, full_prefetch, observation, sign_request

SERVICE = "/cds-services/alp-result-sign"


def issues(response: Any) -> list[dict[str, Any]]:
    body = response.get_json()
    assert body["resourceType"] == "OperationOutcome"
    return list(body["issue"])


def test_discovery_lists_both_services_with_prefetch_and_kb_version(client: FlaskClient) -> None:
    response = client.get("/cds-services")
    assert response.status_code == 200
    services = {s["id"]: s for s in response.get_json()["services"]}
    assert services["alp-result-sign"]["hook"] == "org.alp-cds.lab-result-sign"
    assert services["alp-patient-view"]["hook"] == "patient-view"
    for service in services.values():
        assert service["prefetch"]["patient"] == "Patient/{{context.patientId}}"
        assert service["extension"]["org.alp-cds.knowledge-base"]["version"] == "2.21.0"


def test_the_result_sign_hook_id_is_configurable(make_app: Callable[..., Flask]) -> None:
    app = make_app(result_sign_hook="com.example.result-sign")
    client = app.test_client()
    hooks = {s["id"]: s["hook"] for s in client.get("/cds-services").get_json()["services"]}
    assert hooks["alp-result-sign"] == "com.example.result-sign"
    body = sign_request([alp(312)], full_prefetch(), hook="com.example.result-sign")
    assert client.post(SERVICE, json=body).status_code == 200


def test_invalid_json_is_400(client: FlaskClient) -> None:
    response = client.post(SERVICE, data='{"hook": ', content_type="application/json")
    assert response.status_code == 400
    assert "not valid JSON" in issues(response)[0]["diagnostics"]


@pytest.mark.parametrize(
    ("escape", "refused"),
    [
        ("\\u0000", True),
        ("\\ud800", True),
        ("\\udc00x", True),
        ("\\n\\t\\r\\u0009", False),
        # Other controls: FHIR says SHOULD NOT, the stores keep them, and the patient keeps
        # the answer.
        ("\\b", False),
        ("\\u001F", False),
        ("\\ud83d\\ude00", False),  # a surrogate pair: one character
        ("\\\\u0000", False),  # an escaped backslash, then the text u0000
    ],
)
@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_control_characters_and_lone_surrogates_are_refused_with_their_path(
    client: FlaskClient, escape: str, refused: bool, encoding: str
) -> None:
    """Read as orjson reads UTF-8, and as the standard library's fallback reads UTF-16."""
    text = json.dumps(sign_request([alp(312, ident="alp-marker")], full_prefetch()))
    text = text.replace("alp-marker", f"alp{escape}", 1)
    assert escape in text
    response = client.post(SERVICE, data=text.encode(encoding), content_type="application/json")
    if not refused:
        assert response.status_code == 200
        return
    assert response.status_code == 400
    [issue] = issues(response)
    assert issue["expression"] == ["$.context.results.entry[0].resource.id"]
    assert "surrogate" in issue["diagnostics"] or "U+0000" in issue["diagnostics"]


def test_wrong_content_type_is_415(client: FlaskClient) -> None:
    response = client.post(
        SERVICE, data=json.dumps(sign_request([alp(312)])), content_type="text/plain"
    )
    assert response.status_code == 415


def test_missing_hook_instance_is_400_with_its_path(client: FlaskClient) -> None:
    body = sign_request([alp(312)], full_prefetch())
    del body["hookInstance"]
    response = client.post(SERVICE, json=body)
    assert response.status_code == 400
    assert issues(response)[0]["expression"] == ["$"]
    assert "hookInstance" in issues(response)[0]["diagnostics"]


@pytest.mark.parametrize(
    ("where", "name"),
    [((), "hookInstance"), (("context",), "patientId"), (("context",), "userId")],
)
def test_a_trailing_newline_in_an_identifier_is_400(
    client: FlaskClient, where: tuple[str, ...], name: str
) -> None:
    # Python's `$` matches before a final newline; such ids would forge log lines.
    body = sign_request([alp(312)], full_prefetch())
    holder = body
    for key in where:
        holder = holder[key]
    holder[name] = str(holder[name]) + "\n"
    response = client.post(SERVICE, json=body)
    assert response.status_code == 400
    assert name in json.dumps(issues(response))


def test_the_wrong_hook_is_400(client: FlaskClient) -> None:
    body = sign_request([alp(312)], full_prefetch(), hook="patient-view")
    response = client.post(SERVICE, json=body)
    assert response.status_code == 400
    assert issues(response)[0]["expression"] == ["$.hook"]


def test_an_unknown_service_is_404(client: FlaskClient) -> None:
    response = client.post("/cds-services/nope", json=sign_request([alp(312)]))
    assert response.status_code == 404
    assert client.get("/nowhere").status_code == 404


def test_a_wrong_method_is_405_with_allow(client: FlaskClient) -> None:
    response = client.get(SERVICE)
    assert response.status_code == 405
    assert "POST" in response.headers["Allow"]
    assert client.delete("/cds-services").status_code == 405


def test_a_10_mb_body_is_413(client: FlaskClient) -> None:
    body = b'{"hook": "' + b"x" * (10 * 1024 * 1024) + b'"}'
    response = client.post(SERVICE, data=body, content_type="application/json")
    assert response.status_code == 413


def test_a_chunked_body_over_the_limit_is_413(make_app: Callable[..., Flask]) -> None:
    client = make_app(max_body_bytes=4096).test_client()
    response = client.post(
        SERVICE,
        input_stream=io.BytesIO(b"x" * 10240),
        content_type="application/json",
        headers={"Transfer-Encoding": "chunked"},
        # What gunicorn sets for a chunked body with no Content-Length.
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 413


class _BrokenBody:
    """A body stream that fails as gunicorn's does mid-read."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def read(self, *_: Any) -> bytes:
        raise self.error

    readline = read


@pytest.mark.parametrize(
    "error",
    [
        InvalidChunkSize(b"ZZ"),
        ChunkMissingTerminator(b"xx"),
        NoMoreData(b""),
        TimeoutError("timed out"),
        ConnectionResetError(),
    ],
    ids=lambda e: type(e).__name__,
)
@pytest.mark.parametrize("chunked", [True, False])
def test_a_body_that_cannot_be_read_is_a_json_400(
    client: FlaskClient, error: Exception, chunked: bool
) -> None:
    """A malformed chunked body (QA 12 #6: chunk size `ZZ`) was a 500."""
    environ: dict[str, Any] = {"wsgi.input": _BrokenBody(error)}
    if chunked:  # what gunicorn sets for a chunked body with no Content-Length
        environ.update({"wsgi.input_terminated": True, "HTTP_TRANSFER_ENCODING": "chunked"})
    else:
        environ["CONTENT_LENGTH"] = "100"
    response = client.post(SERVICE, content_type="application/json", environ_overrides=environ)
    assert response.status_code == 400
    assert issues(response)[0]["diagnostics"] == "malformed request body"
    assert "ZZ" not in response.get_data(as_text=True)


def test_an_empty_body_is_400(client: FlaskClient) -> None:
    assert client.post(SERVICE, data=b"", content_type="application/json").status_code == 400


def test_deeply_nested_json_is_400_not_500(client: FlaskClient) -> None:
    body = "[" * 100_000 + "]" * 100_000
    response = client.post(SERVICE, data=body, content_type="application/json")
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (
            lambda b: b.update(
                fhirAuthorization={
                    "access_token": "t",
                    "token_type": "Bearer",
                    "expires_in": 60,
                    "scope": "s",
                    "subject": "c",
                }
            ),
            "$",
        ),
        (lambda b: b["context"].pop("patientId"), "$.context"),
        (lambda b: b["context"].update(userId="Nurse/1"), "$.context.userId"),
        (lambda b: b["context"].update(patientId="../../etc"), "$.context.patientId"),
        (lambda b: b["context"]["results"].update(type="searchset"), "$.context.results.type"),
        (lambda b: b.update(prefetch={"patient": "Patient/1"}), "$.prefetch.patient"),
        (lambda b: b.update(context=[]), "$.context"),
        (lambda b: b.update(hookInstance="has spaces and ; semicolons"), "$.hookInstance"),
    ],
)
def test_schema_violations_name_the_field(
    client: FlaskClient, mutate: Callable[[dict[str, Any]], Any], path: str
) -> None:
    body = sign_request([alp(312)], full_prefetch())
    mutate(body)
    response = client.post(SERVICE, json=body)
    assert response.status_code == 400
    assert path in [e for issue in issues(response) for e in issue.get("expression", [])]


def test_error_bodies_never_echo_tokens(client: FlaskClient) -> None:
    body = sign_request([alp(312)], full_prefetch())
    body["fhirAuthorization"] = {
        "access_token": "SECRET-ABC",
        "token_type": "Bearer",
        "expires_in": "soon",
        "scope": "s",
        "subject": "c",
    }
    response = client.post(SERVICE, json=body)
    assert response.status_code == 400
    assert "SECRET-ABC" not in response.get_data(as_text=True)


def test_a_bug_is_a_json_500_without_internals(
    make_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app()
    from cds_service.clinical import engine

    def explode(*_: Any) -> Any:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(engine, "evaluate", explode)
    response = app.test_client().post(SERVICE, json=sign_request([alp(312)], full_prefetch()))
    assert response.status_code == 500
    text = response.get_data(as_text=True)
    assert "secret internals" not in text
    assert "Traceback" not in text


def test_no_alp_in_the_results_gives_no_cards(client: FlaskClient) -> None:
    from tests.support.fhir import observation

    response = client.post(SERVICE, json=sign_request([observation("1742-6", 40)], full_prefetch()))
    assert response.status_code == 200
    assert response.get_json() == {"cards": []}


def test_missing_patient_without_fhir_server_is_412(client: FlaskClient) -> None:
    prefetch = full_prefetch()
    del prefetch["patient"]
    response = client.post(SERVICE, json=sign_request([alp(312)], prefetch))
    assert response.status_code == 412
    assert issues(response)[0]["expression"] == ["prefetch.patient"]


# --- CORS ----------------------------------------------------------------------------------


def test_preflight_needs_no_authentication(client: FlaskClient) -> None:
    response = client.options(
        SERVICE,
        headers={
            "Origin": "https://sandbox.cds-hooks.org",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Authorization" in response.headers["Access-Control-Allow-Headers"]
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert "Access-Control-Allow-Credentials" not in response.headers


@pytest.mark.parametrize("path", ["/cds-services", SERVICE, SERVICE + "/feedback", "/nowhere"])
def test_cors_headers_on_every_route(client: FlaskClient, path: str) -> None:
    response = client.get(path, headers={"Origin": "https://ehr.example.org"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_cors_origins_are_configurable(make_app: Callable[..., Flask]) -> None:
    client = make_app(cors_origins=("https://ehr.example.org",)).test_client()
    allowed = client.get("/cds-services", headers={"Origin": "https://ehr.example.org"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://ehr.example.org"
    assert "Origin" in allowed.headers["Vary"]
    refused = client.get("/cds-services", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in refused.headers
    preflight = client.options(
        "/cds-services",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "Access-Control-Allow-Methods" not in preflight.headers


# --- feedback ------------------------------------------------------------------------------


def feedback(*items: dict[str, Any]) -> dict[str, Any]:
    return {"feedback": list(items)}


ACCEPTED = {
    "card": "c-1",
    "outcome": "accepted",
    "acceptedSuggestions": [{"id": "s-1"}],
    "outcomeTimestamp": "2026-11-21T10:05:31Z",
}
OVERRIDDEN = {
    "card": "c-2",
    "outcome": "overridden",
    "outcomeTimestamp": "2026-11-21T10:06:00Z",
    "overrideReason": {
        "reason": {"system": "urn:alp-cds:override-reason", "code": "already-ordered"},
        "userComment": "done at the clinic",
    },
}


def test_feedback_batches_are_accepted_and_deduplicated(
    client: FlaskClient, feedback_sink: MemoryFeedbackSink
) -> None:
    response = client.post(SERVICE + "/feedback", json=feedback(ACCEPTED, OVERRIDDEN))
    assert response.status_code == 200
    assert client.post(SERVICE + "/feedback", json=feedback(ACCEPTED)).status_code == 200
    stored = feedback_sink.items()
    assert [(i.card, i.outcome) for i in stored] == [("c-1", "accepted"), ("c-2", "overridden")]
    assert stored[0].accepted_suggestions == ("s-1",)
    assert stored[1].override_reason == OVERRIDDEN["overrideReason"]["reason"]  # type: ignore[index]


@pytest.mark.parametrize(
    "item",
    [
        {
            "card": "c",
            "outcome": "accepted",
            "outcomeTimestamp": "2026-11-21T10:05:31Z",
        },  # no acceptedSuggestions
        {"card": "c", "outcome": "ignored", "outcomeTimestamp": "2026-11-21T10:05:31Z"},
        {"card": "c", "outcome": "overridden"},
        {"card": "c", "outcome": "overridden", "outcomeTimestamp": "yesterday"},
        {"outcome": "overridden", "outcomeTimestamp": "2026-11-21T10:05:31Z"},
        {
            "card": "c",
            "outcome": "overridden",
            "outcomeTimestamp": "2026-11-21T10:05:31Z",
            "overrideReason": {},
        },
        {
            "card": "c",
            "outcome": "overridden",
            "outcomeTimestamp": "2026-11-21T10:05:31Z",
            "overrideReason": {"reason": {"system": "x" * 257, "code": "too-long-system"}},
        },
        {
            "card": "c",
            "outcome": "overridden",
            "outcomeTimestamp": "2026-11-21T10:05:31." + "1" * 40 + "Z",
            "overrideReason": {"userComment": "timestamp longer than the audit column"},
        },
    ],
)
def test_invalid_feedback_is_400_and_nothing_is_stored(
    client: FlaskClient, feedback_sink: MemoryFeedbackSink, item: dict[str, Any]
) -> None:
    response = client.post(SERVICE + "/feedback", json=feedback(ACCEPTED, item))
    assert response.status_code == 400
    assert feedback_sink.items() == []


def test_feedback_for_an_unknown_service_is_404(client: FlaskClient) -> None:
    assert client.post("/cds-services/nope/feedback", json=feedback(ACCEPTED)).status_code == 404


def test_json_nested_beyond_the_limit_is_400(make_app: Callable[..., Flask]) -> None:
    client = make_app(max_json_depth=16).test_client()
    body = sign_request([alp(312)], full_prefetch())
    nested: dict[str, Any] = {}
    cursor = nested
    for _ in range(20):
        cursor["x"] = {}
        cursor = cursor["x"]
    body["extension"] = nested
    response = client.post(SERVICE, json=body)
    assert response.status_code == 400
    assert "nested deeper than 16" in issues(response)[0]["diagnostics"]


def test_a_bundle_over_the_entry_limit_is_refused(make_app: Callable[..., Flask]) -> None:
    from tests.support.fhir import searchset

    client = make_app(max_bundle_entries=50).test_client()
    prefetch = full_prefetch()
    prefetch["labs"] = searchset([alp(100, ident=f"a{i}") for i in range(51)])
    response = client.post(SERVICE, json=sign_request([alp(312)], prefetch))
    assert response.status_code == 400
    assert issues(response)[0]["expression"] == ["$.prefetch.labs"]


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def test_json_depth_from_bytes_matches_the_parsed_depth() -> None:
    import random

    from cds_service.hooks.pipeline import json_depth

    tricky = ["[", "]", "{", "}", '"', "\\", '\\"', "\\\\", "[[{", "}]]"]
    rng = random.Random(20261122)

    def build(level: int) -> Any:
        roll = rng.random()
        if level > 12 or roll < 0.3:
            return rng.choice(
                [1, 2.5, None, True, "".join(rng.choice(tricky) for _ in range(rng.randint(0, 6)))]
            )
        if roll < 0.65:
            return [build(level + 1) for _ in range(rng.randint(0, 3))]
        return {
            "".join(rng.choice(tricky) for _ in range(3)): build(level + 1)
            for _ in range(rng.randint(0, 3))
        }

    for _ in range(500):
        value = build(0)
        assert json_depth(json.dumps(value).encode()) == _depth(value)
        assert json_depth(json.dumps(value, ensure_ascii=False).encode()) == _depth(value)


@pytest.mark.parametrize(
    "result",
    [
        alp(312, high=0, low=0),
        alp(0),
        alp(312, specimen="Specimen/s1"),
        alp(312, specimen={"reference": 7}),
    ],
    ids=["upper-limit-zero", "alp-zero", "specimen-as-string", "specimen-reference-number"],
)
def test_odd_but_well_formed_results_answer_200(client: FlaskClient, result: Any) -> None:
    # Each of these once divided by zero or called .get on a string: a 500 for the EHR.
    alt = observation("1742-6", 80, low=7, high=56, ident="alt-1")
    response = client.post(SERVICE, json=sign_request([result, alt], full_prefetch()))
    assert response.status_code == 200
    assert isinstance(response.get_json()["cards"], list)
