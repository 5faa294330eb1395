"""Fuzzing: schemathesis against the app's own OpenAPI document, and hypothesis properties over
request, context and prefetch shapes.

Everything runs in-process (WSGI). The only fhirServer the properties give is a closed port on
127.0.0.1, and `loopback_only` refuses to resolve any other host, so nothing leaves the machine.
Whatever is sent, the service must answer 200/400/404/412/413/415 with strict JSON: an
OperationOutcome for every error and `{"cards": [...]}` for success; never a 5xx or a stack
trace. (The `client` fixture also holds every response to the CDS Hooks 2.0.1 rules.)

Known bugs are pinned at the end as strict xfails; until they are fixed, the random data above
steers clear of them (`KNOWN_BUG_KEYS`, `known_fhir_server_bug`) so that these properties
keep guarding everything else. All examples are derandomized and bounded.
"""

from __future__ import annotations

import copy
import json
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case, CheckContext
from schemathesis.config import SchemathesisConfig
from werkzeug.test import TestResponse

from cds_service.app import create_app
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


def check_answer(response: TestResponse) -> Any:
    status = response.status_code
    assert status in ALLOWED, (status, response.data[:500])
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


def post(client: FlaskClient, path: str, body: Any) -> Any:
    return check_answer(client.post(path, data=json.dumps(body), content_type="application/json"))


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


def known_fhir_server_bug(url: Any) -> bool:
    """A fhirServer whose host makes the service answer 500 (see the xfail below)."""
    if not isinstance(url, str):
        return False
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return True  # fhir_server_refusal: urlsplit(...).hostname raises
    try:
        (host or "").encode("idna")
    except UnicodeError:
        return True  # FhirClient.get: urllib3 LocationParseError (empty or >63-char label)
    return False


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


@api.parametrize()
@SCHEMATHESIS_SETTINGS
def test_the_api_conforms_to_its_openapi_document(case: Case[Any]) -> None:
    if isinstance(case.body, dict) and known_fhir_server_bug(case.body.get("fhirServer")):
        # Until that bug is fixed, such a host is swapped for one that is simply unreachable.
        case.body = {**case.body, "fhirServer": "https://fhir.invalid/r4"}
    case.call_and_validate(additional_checks=[error_is_operation_outcome])


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

KNOWN_BUG_KEYS = frozenset({"entry", "link", "coding", "status", "gender", "system", "code"})
"""FHIR elements whose value of the wrong JSON type is a 500 today (xfails below); random
objects do not use them as keys, typed strategies give them their FHIR type."""

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
KEYS = TEXT.filter(lambda key: key not in KNOWN_BUG_KEYS)
NUMBERS = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63),
    st.integers(min_value=-(10**300), max_value=10**300),  # beyond a float: xfail below
    st.floats(allow_nan=False, allow_infinity=False),  # NaN, Infinity: xfail below
    st.sampled_from([0, -0.0, 5e-324, 1.7976931348623157e308, -1.7976931348623157e308, 1e-300]),
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
STATUS = st.one_of(
    st.sampled_from(["final", "amended", "preliminary", "cancelled", "active", "draft"]), TEXT
)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """The field's plausible value, or any JSON value in its place."""
    return st.one_of(strategy, JSON_VALUES)


CODINGS = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "system": st.one_of(st.just(fhir.LOINC), TEXT),
            "code": st.one_of(LOINCS, TEXT),
            "display": maybe(TEXT),
        },
    ),
    max_size=3,
)
CODEABLE = st.fixed_dictionaries({}, optional={"coding": CODINGS, "text": maybe(TEXT)})
QUANTITIES = st.fixed_dictionaries(
    {"value": maybe(NUMBERS)},
    optional={
        "unit": maybe(st.sampled_from(["U/L", "IU/L", "ukat/L", "mg/dL", "%", "a", "mo"])),
        "system": st.one_of(st.just(fhir.UCUM), TEXT),
        "code": st.one_of(st.sampled_from(["U/L", "[IU]/L", "ukat/L", "/L", "a", "h"]), TEXT),
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
    {"resourceType": st.just("Observation"), "code": CODEABLE},
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
        "gender": st.one_of(st.sampled_from(["female", "male", "other", "unknown"]), TEXT),
        "birthDate": DATES,
        "code": CODEABLE,
        "clinicalStatus": CODEABLE,
        "verificationStatus": CODEABLE,
        "medicationCodeableConcept": CODEABLE,
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
        "entry": ENTRIES,
        "total": maybe(NUMBERS),
        "link": st.lists(
            st.fixed_dictionaries({"relation": maybe(st.just("next")), "url": maybe(TEXT)}),
            max_size=2,
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


SEGMENTS = TEXT.filter(bool).map(lambda s: quote(s, safe=""))  # "//": xfail below


@PROPERTY_SETTINGS
@given(
    path=st.one_of(
        SERVICES,
        SEGMENTS.map(lambda s: f"/cds-services/{s}"),
        SEGMENTS.map(lambda s: f"/cds-services/{s}/feedback"),
    ),
    body=JSON_VALUES,
)
def test_any_json_body_gets_a_json_answer(
    client: FlaskClient, loopback_only: list[str], path: str, body: Any
) -> None:
    post(client, path, body)
    assert not loopback_only


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


# --- known bugs: strict xfails, so each one turns red (XPASS) once fixed -----------------------


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


BEYOND_FLOAT = 10**400
WRONG_TYPES: dict[str, tuple[str, dict[str, Any]]] = {
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
OVERFLOWS: dict[str, tuple[str, dict[str, Any]]] = {
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
BAD_FHIR_SERVERS = {
    # security/policy.py fhir_server_refusal: urlsplit(url).hostname raises ValueError
    "unclosed IPv6 bracket": "https://[::1/fhir",
    "not an IP in brackets": "https://[zz]/fhir",
    # fhir/client.py FhirClient.get: urllib3 LocationParseError escapes (not a RequestException)
    "empty host label": "https://fhir..example.org/r4",
    "host label over 63 characters": f"https://{'a' * 64}.example.org/r4",
}


@pytest.mark.xfail(
    strict=True,
    reason="known bug: a FHIR element of the wrong JSON type is a 500 (TypeError in the "
    "function named in WRONG_TYPES)",
)
@pytest.mark.parametrize("name", list(WRONG_TYPES))
def test_fhir_elements_of_the_wrong_type(
    client: FlaskClient, loopback_only: list[str], name: str
) -> None:
    path, body = WRONG_TYPES[name]
    post(client, path, copy.deepcopy(body))


@pytest.mark.xfail(
    strict=True,
    reason="known bug: an integer beyond float range in a Quantity value is a 500 "
    "(OverflowError from float() in the function named in OVERFLOWS)",
)
@pytest.mark.parametrize("name", list(OVERFLOWS))
def test_integers_beyond_float_range(
    client: FlaskClient, loopback_only: list[str], name: str
) -> None:
    path, body = OVERFLOWS[name]
    post(client, path, copy.deepcopy(body))


@pytest.mark.xfail(
    strict=True,
    reason="known bug: a malformed fhirServer host is a 500 (ValueError in "
    "security/policy.py fhir_server_refusal; LocationParseError in fhir/client.py get)",
)
@pytest.mark.parametrize("name", list(BAD_FHIR_SERVERS))
def test_malformed_fhir_server_hosts(
    client: FlaskClient, loopback_only: list[str], name: str
) -> None:
    body = valid_request(VIEW)
    del body["prefetch"]
    body["fhirServer"] = BAD_FHIR_SERVERS[name]
    assert known_fhir_server_bug(body["fhirServer"])
    post(client, VIEW, body)
    assert not loopback_only  # refused before any lookup


@pytest.mark.xfail(
    strict=True,
    reason="known bug: decode_json (hooks/request.py) accepts NaN, Infinity and 1e400 "
    "(Python json extensions, float overflow): an ALP of Infinity gets the card "
    "'ALP inf U/L (infx upper limit)...' instead of a 400",
)
@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_numbers_are_not_json(client: FlaskClient, token: str) -> None:
    raw = json.dumps(valid_request(SIGN)).replace('"value": 312', f'"value": {token}', 1)
    response = client.post(SIGN, data=raw, content_type="application/json")
    assert response.status_code == 400, response.get_json()


@pytest.mark.xfail(
    strict=True,
    reason="known bug: a path with '//' gets werkzeug's 308 redirect as an HTML page "
    "(Flask returns routing redirects without calling the JSON error handlers)",
)
@pytest.mark.parametrize("path", ["/cds-services//feedback", f"{SIGN}//feedback"])
def test_empty_path_segments_get_json(client: FlaskClient, path: str) -> None:
    response = client.post(path, json=valid_request(SIGN))
    assert response.mimetype == "application/json", (response.status_code, response.data[:80])


@pytest.mark.xfail(
    strict=True,
    reason="known bug: fhir/client.py FhirClient._display keeps the userinfo of fhirServer "
    "(parts.netloc), so 'user:password@' is echoed in the 412 OperationOutcome",
)
def test_fhir_server_credentials_are_not_echoed(
    client: FlaskClient, loopback_only: list[str]
) -> None:
    body = valid_request(VIEW)
    del body["prefetch"]
    body["fhirServer"] = f"http://alp:s3cret-pw@127.0.0.1:{closed_loopback_port()}/fhir"
    response = client.post(VIEW, json=body)
    assert check_answer(response)
    assert response.status_code == 412
    assert not loopback_only
    assert b"s3cret-pw" not in response.data, response.get_json()
