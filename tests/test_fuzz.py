"""Fuzzing: schemathesis against the app's own OpenAPI document, and hypothesis properties over
request, context and prefetch shapes.

Everything runs in-process (WSGI). The only fhirServer the properties give is a closed port on
127.0.0.1, and `loopback_only` refuses to resolve any other host, so nothing leaves the machine.
Whatever is sent, the service must answer 200/400/404/412/413/415 (405 for a POST to the
discovery path) with strict JSON: an OperationOutcome for every error and `{"cards": [...]}` for
success; never a 5xx or a stack trace. (The `client` fixture also holds every response to the
CDS Hooks 2.0.1 rules.)

Bugs found this way stay at the end as regression tests, each with the answer it must get now.
The random data above is not steered away from any of them. All examples are derandomized and
bounded.
"""

from __future__ import annotations

import copy
import json
import math
import re
import socket
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, unquote_to_bytes

import pytest
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case, CheckContext
from schemathesis.checks import positive_data_acceptance
from schemathesis.config import SchemathesisConfig
from werkzeug.test import TestResponse

from cds_service.app import create_app
from cds_service.fhir.client import FhirClient, FhirError, Limits, new_session
from cds_service.settings import Settings
from tests.support import fhir

ALLOWED = {200, 400, 404, 412, 413, 415}
SIGN = "/cds-services/alp-result-sign"
VIEW = "/cds-services/alp-patient-view"
PREFETCH_KEYS = (
    "patient",
    "conditions",
    "medications",
    "statements",
    "labs",
    "orders",
    "procedures",
)
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


# --- no network but loopback ------------------------------------------------------------------


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Refuse to resolve anything but loopback; returns the other hosts the service asked for."""
    real = socket.getaddrinfo
    refused: list[str] = []

    def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in LOOPBACK and not name.startswith("127."):
            refused.append(name)
            raise socket.gaierror(socket.EAI_NONAME, "fuzz tests reach loopback only")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)
    return refused


def closed_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port  # nothing listens once the socket is closed


# --- strict answers ---------------------------------------------------------------------------


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (RFC 8259)")


def strict_json(data: bytes) -> Any:
    """RFC 8259 JSON: Python's NaN/Infinity extensions are refused."""
    return json.loads(data, parse_constant=_no_constant)


def check_answer(response: TestResponse, allowed: set[int] = ALLOWED) -> Any:
    status = response.status_code
    assert status in allowed, (status, response.data[:500])
    assert response.mimetype == "application/json", response.mimetype
    body = strict_json(response.data)
    assert isinstance(body, dict), body
    if status == 200:
        assert isinstance(body.get("cards"), list), body
    else:
        assert body.get("resourceType") == "OperationOutcome", body
        assert isinstance(body.get("issue"), list), body
        assert body["issue"], body
    return body


def non_finite(value: Any) -> bool:
    """Whether `json.dumps` writes NaN or Infinity somewhere in this value (not JSON)."""
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(non_finite(v) for v in value.values())
    if isinstance(value, list):
        return any(non_finite(v) for v in value)
    return False


def post(
    client: FlaskClient, path: str, body: Any, allowed: set[int] = ALLOWED, **request: Any
) -> Any:
    response = client.post(path, data=json.dumps(body), content_type="application/json", **request)
    answer = check_answer(response, allowed)
    if non_finite(body) and response.request.path.removesuffix("/feedback") in (SIGN, VIEW):
        # Whatever else is wrong or right with it, the body is not JSON (RFC 8259).
        assert response.status_code == 400, answer
        assert "JSON" in answer["issue"][0]["diagnostics"], answer
    return answer


# --- (a) schemathesis against /openapi.json ---------------------------------------------------

SCHEMATHESIS_CONFIG: dict[str, Any] = {
    "seed": 20261121,
    "generation": {"database": "none", "deterministic": True, "mode": "all"},
    "phases": {"stateful": {"enabled": False}},
    "operations": [
        {
            # A schema-valid call may still lack data the service cannot fetch: 412.
            "include-path-regex": "^/cds-services/[^/]+$",
            "checks": {"positive_data_acceptance": {"expected-statuses": ["200", "412"]}},
        },
        {
            # Schema-valid feedback about a card this service never issued is refused: 400.
            "include-path-regex": "^/cds-services/[^/]+/feedback$",
            "checks": {"positive_data_acceptance": {"expected-statuses": ["200", "400"]}},
        },
    ],
}
SCHEMATHESIS_SETTINGS = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def _fuzz_app() -> Flask:
    # Built at import: the schemathesis pytest plugin needs the schema at collection time, and
    # its fixture-based loader (`schemathesis.pytest.from_fixture`) fails on pytest 9.
    return create_app(Settings.from_env({}, dev_mode=True))


api = schemathesis.openapi.from_wsgi(
    "/openapi.json", _fuzz_app(), config=SchemathesisConfig.from_dict(SCHEMATHESIS_CONFIG)
)


# Where a schema-valid request may still be refused: rules JSON Schema cannot state.
CROSS_FIELD_REFUSALS = (["$.fhirServer"], ["$.fhirAuthorization.patient"])
UNFIT_TEXT = ("the body contains the control character U+0000", "the body contains an unpaired")


def only_cross_field_refusals(response: schemathesis.Response) -> bool:
    """A 400 whose every issue is at `$.fhirServer` (the service checks the host, and its `\\s`
    differs from ECMA-262's, where the documented pattern only gives an outline; pinned by
    `test_the_documented_fhir_server_pattern_is_the_one_enforced` below) or at
    `$.fhirAuthorization.patient` (it must name context.patientId: one field against another,
    which the schema describes in words; `tests/test_hooks_patient_scope.py` holds it), or a
    NUL or lone surrogate anywhere."""
    if response.status_code != 400:
        return False
    body = strict_json(response.content)
    issues = body.get("issue") if isinstance(body, dict) else None
    if not isinstance(issues, list) or not issues:
        return False
    return all(
        isinstance(issue, dict)
        and (
            issue.get("expression") in CROSS_FIELD_REFUSALS
            # A NUL or a lone surrogate in any string or member name: refused wherever it is
            # (tests/test_http.py holds it), which a schema cannot say of every string.
            or str(issue.get("diagnostics", "")).startswith(UNFIT_TEXT)
        )
        for issue in issues
    )


def error_is_operation_outcome(
    ctx: CheckContext, response: schemathesis.Response, case: Case[Any]
) -> bool | None:
    """Every error, documented status or not (405...), is a JSON OperationOutcome."""
    if response.status_code < 400:
        return None
    media = (response.headers.get("content-type") or [""])[0].split(";")[0].strip()
    assert media == "application/json", f"error media type {media!r}"
    body = strict_json(response.content)
    assert isinstance(body, dict), body
    assert body.get("resourceType") == "OperationOutcome", body
    assert body.get("issue"), body
    return True


@pytest.mark.slow
@api.parametrize()
@SCHEMATHESIS_SETTINGS
def test_the_api_conforms_to_its_openapi_document(case: Case[Any]) -> None:
    # Every generated fhirServer is sent as it is; a host the service refuses must still get a
    # 400 OperationOutcome at $.fhirServer (and pass every other check), only not a 200/412.
    response = case.call()
    excluded = [positive_data_acceptance] if only_cross_field_refusals(response) else []
    case.validate_response(
        response, additional_checks=[error_is_operation_outcome], excluded_checks=excluded
    )


# --- (b) hypothesis properties through the Flask test client ----------------------------------

PROPERTY_SETTINGS = settings(
    max_examples=50,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # one app serves every example, like a real one
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)

FHIR_KEYS = st.sampled_from(
    [
        "resourceType",
        "entry",
        "resource",
        "link",
        "relation",
        "url",
        "coding",
        "system",
        "code",
        "status",
        "gender",
        "value",
        "valueQuantity",
        "reference",
        "subject",
        "effectiveDateTime",
    ]
)
"""Element names the service reads, so that random objects give them values of any type."""

NASTY_TEXT = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "\u202e\u0645\u0631\u062d\u0628\u0627",
        "\U0001d518\U0001d52b\U0001d526\U0001d520",
        "\ud7ff\ufffd\uffff",
        "{{context.patientId}}",
        "Patient/../../x",
        "%2e%2e%2f",
        "a" * 300,
        "2026-02-30",
        "2026-11-20T25:61:61Z",
        "-0001-01-01",
        "9999-12-31T23:59:59.999999999+14:00",
    ]
)
TEXT = st.one_of(st.text(max_size=24), NASTY_TEXT)
KEYS = st.one_of(FHIR_KEYS, TEXT)
NUMBERS = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63),
    st.integers(min_value=-(10**400), max_value=10**400),  # most of them beyond a float
    st.floats(),  # NaN and the infinities too: `post` expects a 400 for them
    st.sampled_from(
        [
            0,
            -0.0,
            5e-324,
            1.7976931348623157e308,
            -1.7976931348623157e308,
            1e-300,
            2**1024,
            -(2**1024),
            10**400,
        ]
    ),
)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, TEXT)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(KEYS, children, max_size=4)
    ),
    max_leaves=12,
)
OBJECTS = st.dictionaries(KEYS, JSON_VALUES, max_size=5)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """The field's plausible value, or any JSON value in its place."""
    return st.one_of(strategy, JSON_VALUES)


LOINCS = st.sampled_from(
    ["6768-6", "77141-0", "59789-8", "1783-0", "2324-2", "17838-4", "24332-9", "1751-7", "1975-2"]
)
RESOURCE_TYPES = st.one_of(
    st.sampled_from(
        [
            "Observation",
            "Patient",
            "Condition",
            "MedicationRequest",
            "MedicationStatement",
            "ServiceRequest",
            "Procedure",
            "DiagnosticReport",
            "OperationOutcome",
            "Bundle",
            "Specimen",
        ]
    ),
    TEXT,
)
STATUS = maybe(
    st.one_of(
        st.sampled_from(["final", "amended", "preliminary", "cancelled", "active", "draft"]), TEXT
    )
)


CODINGS = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "system": maybe(st.one_of(st.just(fhir.LOINC), TEXT)),
            "code": maybe(st.one_of(LOINCS, TEXT)),
            "display": maybe(TEXT),
        },
    ),
    max_size=3,
)
CODEABLE = st.fixed_dictionaries({}, optional={"coding": maybe(CODINGS), "text": maybe(TEXT)})
QUANTITIES = st.fixed_dictionaries(
    {"value": maybe(NUMBERS)},
    optional={
        "unit": maybe(st.sampled_from(["U/L", "IU/L", "ukat/L", "mg/dL", "%", "a", "mo"])),
        "system": maybe(st.one_of(st.just(fhir.UCUM), TEXT)),
        "code": maybe(
            st.one_of(st.sampled_from(["U/L", "[IU]/L", "ukat/L", "/L", "a", "h"]), TEXT)
        ),
        "comparator": maybe(st.sampled_from(["<", ">", "<=", ">="])),
    },
)
DATES = maybe(st.one_of(st.dates().map(str), st.datetimes().map(lambda d: d.isoformat() + "Z")))
SPECIMENS = st.fixed_dictionaries(
    {"resourceType": st.just("Specimen"), "id": st.just("spec")},
    optional={
        "collection": maybe(
            st.fixed_dictionaries(
                {},
                optional={
                    "fastingStatusCodeableConcept": maybe(CODEABLE),
                    "fastingStatusDuration": maybe(QUANTITIES),
                },
            )
        )
    },
)
OBSERVATIONS = st.fixed_dictionaries(
    {"resourceType": st.just("Observation"), "code": maybe(CODEABLE)},
    optional={
        "id": st.one_of(st.from_regex(r"[A-Za-z0-9\-.]{1,64}", fullmatch=True), TEXT),
        "status": STATUS,
        "subject": maybe(st.just({"reference": f"Patient/{fhir.PATIENT_ID}"})),
        "effectiveDateTime": DATES,
        "effectivePeriod": maybe(st.fixed_dictionaries({}, optional={"start": DATES})),
        "issued": DATES,
        "valueQuantity": maybe(QUANTITIES),
        "referenceRange": maybe(
            st.lists(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "low": maybe(QUANTITIES),
                        "high": maybe(QUANTITIES),
                        "age": maybe(
                            st.fixed_dictionaries(
                                {}, optional={"low": QUANTITIES, "high": QUANTITIES}
                            )
                        ),
                        "appliesTo": maybe(st.lists(CODEABLE, max_size=2)),
                        "text": maybe(TEXT),
                    },
                ),
                max_size=2,
            )
        ),
        "interpretation": maybe(st.lists(CODEABLE, max_size=2)),
        "dataAbsentReason": maybe(CODEABLE),
        "specimen": maybe(st.just({"reference": "#spec"})),
        "contained": maybe(st.lists(st.one_of(SPECIMENS, OBJECTS), max_size=2)),
    },
)
OTHER_RESOURCES = st.fixed_dictionaries(
    {
        "resourceType": st.sampled_from(
            [
                "Condition",
                "MedicationRequest",
                "MedicationStatement",
                "Medication",
                "ServiceRequest",
                "Procedure",
                "Patient",
                "DiagnosticReport",
            ]
        )
    },
    optional={
        "id": TEXT,
        "status": STATUS,
        "gender": maybe(st.one_of(st.sampled_from(["female", "male", "other", "unknown"]), TEXT)),
        "birthDate": DATES,
        "code": maybe(CODEABLE),
        "clinicalStatus": maybe(CODEABLE),
        "verificationStatus": maybe(CODEABLE),
        "medicationCodeableConcept": maybe(CODEABLE),
        "medicationReference": maybe(st.just({"reference": "Medication/m"})),
        "onsetDateTime": DATES,
        "recordedDate": DATES,
        "performedDateTime": DATES,
        "authoredOn": DATES,
        "subject": JSON_VALUES,
        "extension": JSON_VALUES,
    },
)
RESOURCES = st.one_of(
    OBSERVATIONS,
    OTHER_RESOURCES,
    st.fixed_dictionaries({"resourceType": RESOURCE_TYPES}).flatmap(
        lambda base: OBJECTS.map(lambda extra: {**extra, **base})
    ),
)
ENTRIES = st.lists(
    st.one_of(st.fixed_dictionaries({"resource": RESOURCES}), JSON_VALUES), max_size=5
)
BUNDLES = st.fixed_dictionaries(
    {"resourceType": st.just("Bundle"), "type": st.sampled_from(["searchset", "collection"])},
    optional={
        "entry": maybe(ENTRIES),
        "total": maybe(NUMBERS),
        "link": maybe(
            st.lists(
                st.fixed_dictionaries({"relation": maybe(st.just("next")), "url": maybe(TEXT)}),
                max_size=2,
            )
        ),
    },
)
OUTCOMES = st.just(
    {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "processing", "diagnostics": "prefetch failed"}],
    }
)
PREFETCH_VALUES = st.one_of(st.none(), OUTCOMES, RESOURCES, BUNDLES, JSON_VALUES)
PREFETCH = st.dictionaries(
    st.one_of(st.sampled_from(PREFETCH_KEYS), TEXT), PREFETCH_VALUES, max_size=8
)
SERVICES = st.sampled_from([SIGN, VIEW])


def valid_request(path: str) -> dict[str, Any]:
    if path == SIGN:
        return fhir.sign_request([fhir.alp(312)], fhir.full_prefetch())
    return {
        "hook": "patient-view",
        "hookInstance": "pv-fuzz",
        "context": {"userId": fhir.USER, "patientId": fhir.PATIENT_ID},
        "prefetch": fhir.full_prefetch(labs=[fhir.alp(312, when="2026-10-01T08:00:00Z")]),
    }


def test_the_baseline_requests_give_cards(client: FlaskClient) -> None:
    """The mutations below start from requests that work."""
    for path in (SIGN, VIEW):
        assert post(client, path, valid_request(path))["cards"]


SEGMENTS = st.one_of(
    TEXT.map(lambda s: quote(s, safe="")),  # "" too: "/cds-services//feedback"
    st.sampled_from(["", ".", "..", "%2F", "/", "//", "alp-result-sign/", "alp-patient-view//"]),
)
DISCOVERY_PATHS = {"/cds-services", "/cds-services/"}  # GET only: a POST there is a 405


def wsgi_path(path: str) -> dict[str, Any]:
    """The path as a WSGI server passes it on (percent-decoded, bytes as latin-1). Given as the
    path itself, the test client would read a leading "//" as the start of a host name."""
    return {"PATH_INFO": unquote_to_bytes(path).decode("latin-1")}


@pytest.mark.slow
@PROPERTY_SETTINGS
@given(
    path=st.one_of(
        SERVICES,
        SEGMENTS.map(lambda s: f"/cds-services/{s}"),
        SEGMENTS.map(lambda s: f"/cds-services/{s}/feedback"),
        st.tuples(SEGMENTS, SEGMENTS).map(lambda s: f"/{s[0]}/cds-services/{s[1]}"),
        SERVICES.flatmap(lambda p: SEGMENTS.map(lambda s: f"{p}/{s}")),
    ),
    body=JSON_VALUES,
)
def test_any_json_body_gets_a_json_answer(
    client: FlaskClient, loopback_only: list[str], path: str, body: Any
) -> None:
    environ = wsgi_path(path)
    routed = "/" + environ["PATH_INFO"].lstrip("/")  # werkzeug drops extra leading slashes
    allowed = (ALLOWED | {405}) if routed in DISCOVERY_PATHS else ALLOWED
    post(client, "/", body, allowed, environ_overrides=environ)
    assert not loopback_only


@pytest.mark.slow
@PROPERTY_SETTINGS
@given(
    path=SERVICES,
    fields=st.dictionaries(
        st.sampled_from(
            ["hook", "hookInstance", "context", "prefetch", "extension", "fhirAuthorization", "x"]
        ),
        st.one_of(TEXT, JSON_VALUES),
        max_size=4,
    ),
    removed=st.sets(st.sampled_from(["hook", "hookInstance", "context", "prefetch"]), max_size=2),
)
def test_request_fields_of_any_type(
    client: FlaskClient,
    loopback_only: list[str],
    path: str,
    fields: dict[str, Any],
    removed: set[str],
) -> None:
    body = valid_request(path)
    for name in removed:
        body.pop(name, None)
    body.update(fields)
    post(client, path, body)
    assert not loopback_only


@pytest.mark.slow
@PROPERTY_SETTINGS
@given(
    path=SERVICES,
    context=st.dictionaries(
        st.one_of(st.sampled_from(["userId", "patientId", "encounterId", "results"]), KEYS),
        st.one_of(TEXT, JSON_VALUES, BUNDLES),
        max_size=5,
    ),
    keep=st.sets(st.sampled_from(["userId", "patientId", "results"])),
)
def test_context_fields_of_any_type(
    client: FlaskClient,
    loopback_only: list[str],
    path: str,
    context: dict[str, Any],
    keep: set[str],
) -> None:
    body = valid_request(path)
    base = {k: v for k, v in body["context"].items() if k in keep}
    body["context"] = {**base, **context}
    post(client, path, body)
    assert not loopback_only


@pytest.mark.slow
@PROPERTY_SETTINGS
@given(path=SERVICES, prefetch=PREFETCH, keep=st.sets(st.sampled_from(PREFETCH_KEYS)))
def test_prefetch_values_of_any_shape(
    client: FlaskClient,
    loopback_only: list[str],
    path: str,
    prefetch: dict[str, Any],
    keep: set[str],
) -> None:
    body = valid_request(path)
    base = {k: v for k, v in body["prefetch"].items() if k in keep}
    body["prefetch"] = {**base, **prefetch}
    post(client, path, body)
    assert not loopback_only


@pytest.mark.slow
@PROPERTY_SETTINGS
@given(
    entries=st.lists(
        st.one_of(st.fixed_dictionaries({"resource": RESOURCES}), JSON_VALUES),
        min_size=1,
        max_size=6,
    )
)
def test_result_bundle_entries_of_any_shape(
    client: FlaskClient, loopback_only: list[str], entries: list[Any]
) -> None:
    body = valid_request(SIGN)
    body["context"]["results"]["entry"] = entries
    post(client, SIGN, body)
    assert not loopback_only


@pytest.mark.slow
@settings(PROPERTY_SETTINGS, max_examples=30)
@given(
    alp=OBSERVATIONS,
    labs=st.lists(st.one_of(OBSERVATIONS, OTHER_RESOURCES), max_size=3),
    others=st.dictionaries(
        st.sampled_from(["conditions", "medications", "statements", "orders", "procedures"]),
        st.lists(OTHER_RESOURCES, max_size=3),
    ),
    patient=OTHER_RESOURCES.map(lambda p: {**p, "resourceType": "Patient", "id": fhir.PATIENT_ID}),
)
def test_resource_values_of_any_shape(
    client: FlaskClient,
    loopback_only: list[str],
    alp: dict[str, Any],
    labs: list[dict[str, Any]],
    others: dict[str, list[dict[str, Any]]],
    patient: dict[str, Any],
) -> None:
    """Results that reach the rules: a total-ALP code, then anything in the other fields."""
    alp = {**alp, "code": {"coding": [{"system": fhir.LOINC, "code": "6768-6"}]}}
    prefetch = fhir.full_prefetch(pt=patient, labs=[*labs, copy.deepcopy(alp)])
    prefetch.update({key: fhir.searchset(found) for key, found in others.items()})
    post(client, SIGN, fhir.sign_request([alp, *labs], prefetch))
    view = {
        "hook": "patient-view",
        "hookInstance": "pv-fuzz",
        "context": {"userId": fhir.USER, "patientId": fhir.PATIENT_ID},
        "prefetch": prefetch,
    }
    post(client, VIEW, view)
    assert not loopback_only


MEDIA_TYPES = st.one_of(
    st.sampled_from(
        [
            "application/json",
            "application/fhir+json",
            "application/json; charset=latin-1",
            "application/x-www-form-urlencoded",
            "text/plain",
            "multipart/form-data; boundary=x",
            "",
        ]
    ),
    TEXT.filter(lambda s: "\n" not in s and "\r" not in s),
)
RAW_BODIES = st.one_of(
    st.binary(max_size=200),
    TEXT.map(str.encode),
    JSON_VALUES.map(lambda v: json.dumps(v).encode("utf-16")),
    JSON_VALUES.map(lambda v: b"\xef\xbb\xbf" + json.dumps(v).encode()),
    st.integers(min_value=1, max_value=3000).map(lambda n: b"[" * n + b"]" * n),
    st.integers(min_value=1, max_value=3000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
)


@pytest.mark.slow
@PROPERTY_SETTINGS
@given(path=SERVICES, media_type=MEDIA_TYPES, raw=RAW_BODIES, feedback=st.booleans())
def test_raw_bodies_and_media_types(
    client: FlaskClient,
    loopback_only: list[str],
    path: str,
    media_type: str,
    raw: bytes,
    feedback: bool,
) -> None:
    target = path + "/feedback" if feedback else path
    check_answer(client.post(target, data=raw, headers={"Content-Type": media_type}))
    assert not loopback_only


@pytest.fixture
def small_client(make_app: Callable[..., Flask]) -> FlaskClient:
    return make_app(max_body_bytes=2048).test_client()


@pytest.mark.slow
@settings(PROPERTY_SETTINGS, max_examples=25)
@given(path=SERVICES, padding=st.integers(min_value=0, max_value=4096))
def test_bodies_around_the_size_limit(
    small_client: FlaskClient, loopback_only: list[str], path: str, padding: int
) -> None:
    body = valid_request(path)
    body.pop("prefetch")
    body["extension"] = {"org.example.padding": "x" * padding}
    raw = json.dumps(body).encode()
    response = small_client.post(path, data=raw, content_type="application/json")
    answer = check_answer(response)
    assert response.status_code == (413 if len(raw) > 2048 else 412), (len(raw), answer)


@pytest.mark.slow
@settings(PROPERTY_SETTINGS, max_examples=25)
@given(
    path=SERVICES,
    prefetch=PREFETCH,
    keep=st.sets(st.sampled_from(PREFETCH_KEYS)),
    token=st.booleans(),
)
def test_missing_data_from_an_unreachable_fhir_server(
    client: FlaskClient,
    loopback_only: list[str],
    path: str,
    prefetch: dict[str, Any],
    keep: set[str],
    token: bool,
) -> None:
    """The service fetches what prefetch lacks; the server (a closed loopback port) is down."""
    body = valid_request(path)
    body["prefetch"] = {**{k: v for k, v in body["prefetch"].items() if k in keep}, **prefetch}
    body["fhirServer"] = f"http://127.0.0.1:{closed_loopback_port()}/fhir"
    if token:
        body["fhirAuthorization"] = {
            "access_token": "secret-token",
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "patient/*.read",
            "subject": "alp-cds",
        }
    response = client.post(path, data=json.dumps(body), content_type="application/json")
    check_answer(response)
    assert b"secret-token" not in response.data
    assert not loopback_only


# --- bugs found by fuzzing: regression tests ------------------------------------------------


def _sign(mutate: Callable[[dict[str, Any]], None]) -> tuple[str, dict[str, Any]]:
    body = valid_request(SIGN)
    mutate(body)
    return SIGN, body


def _view(mutate: Callable[[dict[str, Any]], None]) -> tuple[str, dict[str, Any]]:
    body = valid_request(VIEW)
    mutate(body)
    return VIEW, body


def _result(body: dict[str, Any]) -> dict[str, Any]:
    observation: dict[str, Any] = body["context"]["results"]["entry"][0]["resource"]
    return observation


def _set(target: Callable[[dict[str, Any]], dict[str, Any]], **fields: Any) -> Any:
    return lambda body: target(body).update(fields)


def _labs(body: dict[str, Any]) -> dict[str, Any]:
    labs: dict[str, Any] = body["prefetch"]["labs"]
    return labs


def _first(key: str, resource: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    def mutate(body: dict[str, Any]) -> None:
        body["prefetch"][key] = fhir.searchset([resource])

    return mutate


ALP_CARD = "ALP 312 U/L (3.0x upper limit)"
"""The summary the baseline requests get; it must survive a malformed element elsewhere."""

BEYOND_FLOAT = 10**400
WRONG_TYPES: dict[str, tuple[str, dict[str, Any]]] = {
    # Each was a 500 (TypeError in the function named); a FHIR element of the wrong JSON type
    # now counts as absent, so the rest of the request is still used: 200 with the ALP card.
    # hooks/blueprint.py _check_bundle_sizes: len(bundle.get("entry") or ()) on a number
    "prefetch value with a numeric entry": _view(
        lambda b: b["prefetch"].update({"anything": {"entry": 1}})
    ),
    "patient-view context.results with a boolean entry": _view(
        lambda b: b["context"].update({"results": {"entry": True}})
    ),
    # fhir/client.py next_link: bundle.get("link") or () on a number
    "searchset Bundle with a numeric link": _sign(_set(_labs, link=1)),
    # fhir/values.py codings: concept.get("coding") or () on a number
    "Observation.code.coding a number": _sign(_set(_result, code={"coding": 1.5})),
    # clinical/labs.py unusable_reason: status in UNUSABLE_STATUSES on a list
    "Observation.status a list": _sign(_set(_result, status=["final"])),
    # knowledge/model.py _orderables: index.get((system, code)) with a list inside the key
    "prefetched Coding.code a list": _sign(
        _first(
            "labs", {**fhir.ggt(20), "code": {"coding": [{"system": fhir.LOINC, "code": ["x"]}]}}
        )
    ),
    # clinical/facts.py patient_sex: gender in {...} on a dict
    "Patient.gender an object": _sign(
        lambda b: b["prefetch"]["patient"].update({"gender": {"code": "female"}})
    ),
    # clinical/classify.py classify: medication status in ACTIVE_MEDICATION on a list
    "MedicationRequest.status a list": _sign(
        _first("medications", {**fhir.medication("6809"), "status": ["active"]})
    ),
    # clinical/facts.py _open_orders: order status in {...} on a dict
    "ServiceRequest.status an object": _sign(
        _first("orders", {**fhir.service_request("2324-2"), "status": {"a": 1}})
    ),
    # alp_services.py _latest_open_alp: order status in OPEN_ORDER_STATUSES on a list
    "patient-view ServiceRequest.status a list": _view(
        _first("orders", {**fhir.service_request("2324-2"), "status": ["active"]})
    ),
}
NOT_ALP_ANY_MORE = {"Observation.code.coding a number"}
"""Its only coding gone, the result is no longer known to be an ALP: no card, and no error."""

OVERFLOWS: dict[str, tuple[str, dict[str, Any]]] = {
    # Each was a 500 (OverflowError from float() in the function named). An integer beyond
    # float range is valid JSON, so the request is taken (200) and that number counts as absent.
    # clinical/labs.py numeric_value: float(value)
    "ALP value": _sign(lambda b: _result(b)["valueQuantity"].update({"value": BEYOND_FLOAT})),
    # clinical/labs.py _range_bound: float(quantity["value"])
    "reference range high": _sign(
        lambda b: _result(b)["referenceRange"][0]["high"].update({"value": -BEYOND_FLOAT})
    ),
    # clinical/labs.py _age_days: float(quantity["value"])
    "reference range age": _sign(
        lambda b: _result(b)["referenceRange"][0].update(
            {"age": {"low": {"value": BEYOND_FLOAT, "unit": "a"}}}
        )
    ),
    # clinical/facts.py _fasting: float(duration["value"])
    "specimen fasting duration": _sign(
        lambda b: b["context"]["results"]["entry"][0].update(
            {
                "resource": fhir.with_fasting(fhir.alp(312), "F")
                | {
                    "contained": [
                        {
                            "resourceType": "Specimen",
                            "id": "spec",
                            "collection": {
                                "fastingStatusDuration": {"value": BEYOND_FLOAT, "unit": "h"}
                            },
                        }
                    ]
                }
            }
        )
    ),
    # clinical/labs.py numeric_value, reached through the prefetched labs of patient-view
    "patient-view prefetched ALP value": _view(
        lambda b: _labs(b)["entry"][0]["resource"]["valueQuantity"].update({"value": BEYOND_FLOAT})
    ),
}
NO_ALP_VALUE = {"ALP value", "patient-view prefetched ALP value"}
"""Without a usable value the ALP gets no card; the other overflows leave the ALP card as is."""

BAD_FHIR_SERVERS = {
    # Were a 500: security/policy.py fhir_server_refusal (urlsplit(url).hostname raised
    # ValueError) and fhir/client.py FhirClient.get (urllib3 LocationParseError escaped).
    "unclosed IPv6 bracket": "https://[::1/fhir",
    "not an IP in brackets": "https://[zz]/fhir",
    "empty host label": "https://fhir..example.org/r4",
    "host label over 63 characters": f"https://{'a' * 64}.example.org/r4",
    # Were echoed in the 412 (fhir/client.py FhirClient._display kept the userinfo).
    "user and password": "https://alp:s3cret-pw@fhir.example.org/r4",
    "user only": "https://s3cret-pw@fhir.example.org/r4",
    "port out of range": "https://fhir.example.org:65536/r4",
    "port not a number": "https://fhir.example.org:https/r4",
    "negative port": "https://fhir.example.org:-443/r4",
}


@pytest.mark.parametrize("name", list(WRONG_TYPES))
def test_fhir_elements_of_the_wrong_type(
    client: FlaskClient, loopback_only: list[str], name: str
) -> None:
    path, body = WRONG_TYPES[name]
    response = client.post(path, json=copy.deepcopy(body))
    answer = check_answer(response)
    assert response.status_code == 200, answer
    summaries = [card["summary"] for card in answer["cards"]]
    if name in NOT_ALP_ANY_MORE:
        assert summaries == [], summaries
    else:
        assert any(s.startswith(ALP_CARD) for s in summaries), summaries
    assert not loopback_only


@pytest.mark.parametrize("name", list(OVERFLOWS))
def test_integers_beyond_float_range(
    client: FlaskClient, loopback_only: list[str], name: str
) -> None:
    path, body = OVERFLOWS[name]
    response = client.post(path, data=json.dumps(body), content_type="application/json")
    answer = check_answer(response)
    assert response.status_code == 200, answer
    summaries = [card["summary"] for card in answer["cards"]]
    if name in NO_ALP_VALUE:
        assert summaries == [], summaries
    else:
        assert any(s.startswith(ALP_CARD) for s in summaries), summaries
    assert not re.search(rb"\b-?inf\b|infx|\bnan\b", response.data, re.IGNORECASE), answer
    assert not loopback_only


@pytest.mark.parametrize("name", list(BAD_FHIR_SERVERS))
def test_malformed_fhir_server_hosts(
    client: FlaskClient, loopback_only: list[str], name: str
) -> None:
    body = valid_request(VIEW)
    del body["prefetch"]
    body["fhirServer"] = BAD_FHIR_SERVERS[name]
    response = client.post(VIEW, json=body)
    answer = check_answer(response)
    assert response.status_code == 400, answer
    assert [issue.get("expression") for issue in answer["issue"]] == [["$.fhirServer"]], answer
    assert b"s3cret-pw" not in response.data, answer
    assert not loopback_only  # refused before any lookup


@pytest.mark.parametrize("name", list(BAD_FHIR_SERVERS))
def test_the_fhir_client_fails_cleanly_on_malformed_hosts(
    loopback_only: list[str], name: str
) -> None:
    """Behind the request check, the client itself gives a FhirError, never a ValueError or
    urllib3's LocationParseError (`url_for` keeps an absolute URL as it is). Whether it names
    the URL's credentials: `test_next_link_credentials_are_not_echoed`."""
    client = FhirClient(
        "http://127.0.0.1:9/fhir", None, new_session(1), Limits(0.5, 0.5, 10_000, 2)
    )
    url = BAD_FHIR_SERVERS[name] + "/Patient/1"
    with pytest.raises(FhirError):
        client.get(client.url_for(url), time.monotonic() + 2)
    assert not loopback_only


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity", "1e400", "-1e400"])
def test_non_finite_numbers_are_not_json(client: FlaskClient, token: str) -> None:
    """Was taken: an ALP of Infinity got the card 'ALP inf U/L (infx upper limit)...'."""
    raw = json.dumps(valid_request(SIGN)).replace('"value": 312', f'"value": {token}', 1)
    assert token in raw
    response = client.post(SIGN, data=raw, content_type="application/json")
    answer = check_answer(response)
    assert response.status_code == 400, answer
    assert "not valid JSON" in answer["issue"][0]["diagnostics"], answer


@pytest.mark.parametrize(
    "path", ["/cds-services//feedback", f"{SIGN}//feedback", f"{VIEW}//", "/cds-services//"]
)
def test_empty_path_segments_get_json(client: FlaskClient, path: str) -> None:
    """Was werkzeug's 308 redirect as an HTML page; now a JSON 404 like any unknown path."""
    response = client.post("/", json=valid_request(SIGN), environ_overrides=wsgi_path(path))
    assert response.request.path == path
    answer = check_answer(response)
    assert response.status_code == 404, answer


def test_fhir_server_credentials_are_refused_not_echoed(
    client: FlaskClient, loopback_only: list[str]
) -> None:
    """Were echoed in the 412 OperationOutcome; now a 400 at $.fhirServer, without them."""
    body = valid_request(VIEW)
    del body["prefetch"]
    body["fhirServer"] = f"http://alp:s3cret-pw@127.0.0.1:{closed_loopback_port()}/fhir"
    response = client.post(VIEW, json=body)
    answer = check_answer(response)
    assert response.status_code == 400, answer
    assert answer["issue"][0]["expression"] == ["$.fhirServer"], answer
    assert b"s3cret-pw" not in response.data, answer
    assert not loopback_only


def test_next_link_credentials_are_not_echoed(
    client: FlaskClient, loopback_only: list[str]
) -> None:
    port = closed_loopback_port()
    body = valid_request(VIEW)
    body["fhirServer"] = f"http://127.0.0.1:{port}/fhir"
    _labs(body)["link"] = [
        {"relation": "next", "url": f"http://alp:s3cret-pw@127.0.0.1:{port}/fhir/Observation?p=2"}
    ]
    response = client.post(VIEW, json=body)
    answer = check_answer(response)
    assert not loopback_only
    assert b"s3cret-pw" not in response.data, answer


FHIR_SERVER_PATTERN_GAPS = {
    # (fhirServer, whether the documented pattern accepts it under ECMA-262, the regex dialect
    # of JSON Schema and OpenAPI; the service matches it with Python's `re` and then checks
    # hosts and characters itself). These once differed; the pattern now uses no `\s` and the
    # service refuses a final newline that Python's `$` would let through.
    "trailing newline": ("https://fhir.example.org/r4\n", False),
    "U+001C in the path": ("https://fhir.example.org/r\x1c4", False),
    "U+001F in the path": ("https://fhir.example.org/r\x1f4", False),
    "U+0085 in the path": ("https://fhir.example.org/r4\x85", False),
    "U+FEFF in the path": ("https://fhir.example.org/r4\ufeff", False),
    "non-ASCII host name": ("https://fhir.g\u0101.example/r4", False),
    "empty host label": ("https://fhir..example.org/r4", False),
    "underscore in the host": ("https://fhir_r4.example.org/r4", False),
    "credentials": ("https://alp:pw@fhir.example.org/r4", False),
    "a plain https URL": ("https://fhir.example.org/r4", True),
    "loopback with a port": ("http://127.0.0.1:8090/fhir", True),
    "bracketed IPv6": ("https://[::1]:443/fhir", True),
}


@pytest.mark.parametrize("name", list(FHIR_SERVER_PATTERN_GAPS))
def test_the_documented_fhir_server_pattern_is_the_one_enforced(
    client: FlaskClient, loopback_only: list[str], name: str
) -> None:
    url, documented = FHIR_SERVER_PATTERN_GAPS[name]
    body = valid_request(VIEW)
    body["fhirServer"] = url  # prefetch is complete: the server is never called
    response = client.post(VIEW, json=body)
    answer = check_answer(response)
    assert not loopback_only
    assert (response.status_code != 400) == documented, answer
