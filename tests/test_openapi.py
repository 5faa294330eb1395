"""The OpenAPI document: valid OpenAPI 3.1, served without authentication, and in step with the
code (routes, service registry, the request schemas the service enforces, real responses)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_openapi
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from cds_service.hooks.blueprint import EXTENSION_KEY
from cds_service.hooks.declaration import ServiceDeclaration, ServiceRegistry
from cds_service.hooks.definitions import PATIENT_VIEW
from cds_service.hooks.request import schema as enforced_schema
from cds_service.hooks.response import CdsResponse
from cds_service.openapi import SCHEMA_KEYWORDS_DROPPED, SECURITY_SCHEME, openapi_document
from tests.conftest import load_scenario, scenario_names
from tests.support import fhir

DOC_URI = "urn:alp-cds:openapi"
METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture
def doc(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body: dict[str, Any] = response.get_json()
    return body


def component(doc: dict[str, Any], name: str) -> Draft202012Validator:
    """A validator for one of the document's schemas, its `$ref`s resolved in the document."""
    registry: Registry[Any] = Registry().with_resource(DOC_URI, DRAFT202012.create_resource(doc))
    return Draft202012Validator(
        {"$ref": f"{DOC_URI}#/components/schemas/{name}"}, registry=registry
    )


def inline_refs(value: Any, doc: dict[str, Any]) -> Any:
    """The schema with every local `$ref` replaced by what it points at."""
    if isinstance(value, dict):
        ref = value.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            target: Any = doc
            for part in ref[2:].split("/"):
                target = target[part]
            rest = {k: v for k, v in value.items() if k != "$ref"}
            return inline_refs({**target, **rest}, doc)
        return {k: inline_refs(v, doc) for k, v in value.items()}
    if isinstance(value, list):
        return [inline_refs(v, doc) for v in value]
    return value


def strip_root_keywords(schema: Any) -> dict[str, Any]:
    assert isinstance(schema, Mapping), schema
    return {k: v for k, v in schema.items() if k not in SCHEMA_KEYWORDS_DROPPED}


def operations(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in doc["paths"].items()
        for method in item
        if method in METHODS
    }


def request_schema_of(doc: dict[str, Any], path: str) -> dict[str, Any]:
    content = doc["paths"][path]["post"]["requestBody"]["content"]
    ref = content["application/json"]["schema"]["$ref"]
    assert all(media["schema"]["$ref"] == ref for media in content.values())
    found: dict[str, Any] = inline_refs({"$ref": ref}, doc)
    return found


# --- valid OpenAPI ----------------------------------------------------------------------------


def test_the_document_is_valid_openapi_3_1(doc: dict[str, Any]) -> None:
    assert doc["openapi"].startswith("3.1.")
    validate_openapi(doc)


def refs(value: Any) -> list[str]:
    if isinstance(value, dict):
        found = [value["$ref"]] if isinstance(value.get("$ref"), str) else []
        return found + [r for v in value.values() for r in refs(v)]
    if isinstance(value, list):
        return [r for v in value for r in refs(v)]
    return []


def test_every_schema_is_valid_json_schema_2020_12(doc: dict[str, Any]) -> None:
    for schema in doc["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
    registry: Registry[Any] = Registry().with_resource(DOC_URI, DRAFT202012.create_resource(doc))
    resolver = registry.resolver(DOC_URI)
    for ref in refs(doc):
        assert ref.startswith("#/components/"), ref
        resolver.lookup(ref)  # raises if it points nowhere


def test_errors_are_documented_as_json_operation_outcomes(doc: dict[str, Any]) -> None:
    responses = doc["components"]["responses"]
    for path, item in doc["paths"].items():
        if not path.startswith("/cds-services/"):
            continue
        documented = item["post"]["responses"]
        expected = {"400", "401", "404", "413", "415", "500"}
        if not path.endswith("/feedback"):
            expected.add("412")
        assert set(documented) == {"200"} | expected, path
        for status in expected:
            name = documented[status]["$ref"].rsplit("/", 1)[1]
            assert responses[name]["content"] == {
                "application/json": {"schema": {"$ref": "#/components/schemas/OperationOutcome"}}
            }


# --- served without authentication; security follows the deployment -------------------------


def test_served_without_authentication_when_the_service_requires_a_jwt(
    make_app: Callable[..., Flask],
) -> None:
    client = make_app(trust_presets=("cds-hooks-sandbox",)).test_client()
    assert client.get("/cds-services").status_code == 401
    response = client.get("/openapi.json")
    assert response.status_code == 200
    doc = response.get_json()
    scheme = doc["components"]["securitySchemes"][SECURITY_SCHEME]
    assert scheme == {**scheme, "type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    for method, path in operations(doc):
        security = doc["paths"][path][method.lower()]["security"]
        if path.startswith("/cds-services"):
            assert security == [{SECURITY_SCHEME: []}], path
            assert "401" in doc["paths"][path][method.lower()]["responses"], path
        else:
            assert security == [], path


def test_without_a_trust_store_no_operation_requires_the_jwt(doc: dict[str, Any]) -> None:
    assert SECURITY_SCHEME in doc["components"]["securitySchemes"]
    for method, path in operations(doc):
        assert doc["paths"][path][method.lower()]["security"] == [], (method, path)


def test_the_server_is_the_public_base_url(make_app: Callable[..., Flask]) -> None:
    client = make_app(public_base_url="https://cds.example.org/alp").test_client()
    assert client.get("/openapi.json").get_json()["servers"] == [
        {"url": "https://cds.example.org/alp"}
    ]


# --- in step with the code --------------------------------------------------------------------


def test_every_cds_services_route_is_documented_and_vice_versa(
    app: Flask, doc: dict[str, Any]
) -> None:
    ids = [service.id for service in app.extensions[EXTENSION_KEY].registry]
    routed: set[tuple[str, str]] = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/cds-services"):
            continue
        methods = (rule.methods or set()) - {"HEAD", "OPTIONS"}
        paths = (
            [rule.rule.replace("<service_id>", service_id) for service_id in ids]
            if "<service_id>" in rule.rule
            else [rule.rule]
        )
        routed |= {(method, path) for method in methods for path in paths}
    documented = {(m, p) for m, p in operations(doc) if p.startswith("/cds-services")}
    assert documented == routed

    adapter = app.url_map.bind("localhost")
    for method, path in operations(doc):  # the other documented paths are real routes too
        adapter.match(path, method)


def test_every_discovered_service_has_its_paths(client: FlaskClient, doc: dict[str, Any]) -> None:
    services = client.get("/cds-services").get_json()["services"]
    assert services
    for service in services:
        for path in (f"/cds-services/{service['id']}", f"/cds-services/{service['id']}/feedback"):
            assert "post" in doc["paths"][path], path
        body = request_schema_of(doc, f"/cds-services/{service['id']}")
        assert body["properties"]["hook"]["const"] == service["hook"]


def test_the_request_schema_is_the_one_the_service_enforces(
    app: Flask, doc: dict[str, Any]
) -> None:
    enforced = strip_root_keywords(enforced_schema("cds-request").schema)
    for service in app.extensions[EXTENSION_KEY].registry:
        documented = request_schema_of(doc, f"/cds-services/{service.id}")
        # The service checks the generic request schema, then that `hook` is its own...
        properties = documented["properties"]
        assert properties["hook"] == {**enforced["properties"]["hook"], "const": service.hook.id}
        # ...then `context` against its hook's context schema.
        assert properties["context"] == {
            **enforced["properties"]["context"],
            **strip_root_keywords(dict(service.hook.context_schema)),
        }
        generic = copy.deepcopy(documented)
        generic["properties"]["hook"] = enforced["properties"]["hook"]
        generic["properties"]["context"] = enforced["properties"]["context"]
        assert generic == enforced


def test_the_feedback_schema_is_the_one_the_service_enforces(doc: dict[str, Any]) -> None:
    enforced = strip_root_keywords(enforced_schema("cds-feedback").schema)
    local = strip_root_keywords(inline_refs(enforced, enforced))
    local.pop("$defs")
    for path in doc["paths"]:
        if path.endswith("/feedback"):
            assert request_schema_of(doc, path) == local


def _sign_bodies() -> list[tuple[str, dict[str, Any]]]:
    good = fhir.sign_request([fhir.alp(312)], fhir.full_prefetch())
    cases = [("valid", good)]
    wrong_hook = copy.deepcopy(good)
    wrong_hook["hook"] = "patient-view"
    cases.append(("wrong hook", wrong_hook))
    no_results = copy.deepcopy(good)
    del no_results["context"]["results"]
    cases.append(("no results", no_results))
    bad_patient = copy.deepcopy(good)
    bad_patient["context"]["patientId"] = "../Patient/1"
    cases.append(("bad patient id", bad_patient))
    bad_entry = copy.deepcopy(good)
    bad_entry["context"]["results"]["entry"] = [{"resource": 1}]
    cases.append(("bad entry", bad_entry))
    no_server = copy.deepcopy(good)
    no_server["fhirAuthorization"] = {
        "access_token": "t",
        "token_type": "Bearer",
        "expires_in": 60,
        "scope": "patient/*.read",
        "subject": "alp-cds",
    }
    cases.append(("fhirAuthorization without fhirServer", no_server))
    bad_prefetch = copy.deepcopy(good)
    bad_prefetch["prefetch"]["patient"] = "Patient/1"
    cases.append(("prefetch value not an object", bad_prefetch))
    return cases


@pytest.mark.parametrize(
    ("case", "body"), _sign_bodies(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_the_documented_schema_accepts_what_the_service_accepts(
    client: FlaskClient, doc: dict[str, Any], case: str, body: dict[str, Any]
) -> None:
    path = "/cds-services/alp-result-sign"
    name = doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"][
        "$ref"
    ].rsplit("/", 1)[1]
    response = client.post(path, json=body)
    assert component(doc, name).is_valid(body) == (response.status_code != 400), (
        case,
        response.get_json(),
    )


def test_services_added_to_the_registry_get_their_paths() -> None:
    def handler(*_: Any) -> CdsResponse:
        return CdsResponse()

    registry = ServiceRegistry(
        [ServiceDeclaration("x-view", PATIENT_VIEW, "X", "An extra service.", handler)]
    )
    doc = openapi_document(registry, "https://cds.example.org")
    validate_openapi(doc)
    assert {p for p in doc["paths"] if p.startswith("/cds-services")} == {
        "/cds-services",
        "/cds-services/x-view",
        "/cds-services/x-view/feedback",
    }
    assert doc["paths"]["/cds-services"]["get"]["security"] == [{SECURITY_SCHEME: []}]


# --- real responses match the documented schemas --------------------------------------------


def test_discovery_matches_its_schema(client: FlaskClient, doc: dict[str, Any]) -> None:
    component(doc, "DiscoveryResponse").validate(client.get("/cds-services").get_json())


def test_the_rulebook_and_this_document_match_their_schemas(
    client: FlaskClient, doc: dict[str, Any]
) -> None:
    component(doc, "Rulebook").validate(client.get("/rulebook.json").get_json())
    component(doc, "OpenApiDocument").validate(doc)


@pytest.mark.parametrize("name", scenario_names())
def test_every_scenario_response_matches_the_cards_schema(
    client: FlaskClient, doc: dict[str, Any], name: str
) -> None:
    request, expected = load_scenario(name)
    response = client.post(f"/cds-services/{expected['service']}", json=request)
    assert response.status_code == 200, response.get_json()
    component(doc, "CdsResponse").validate(response.get_json())


def test_error_responses_match_the_operation_outcome_schema(
    client: FlaskClient, doc: dict[str, Any]
) -> None:
    outcome = component(doc, "OperationOutcome")
    answers = [
        client.post("/cds-services/nope", json={}),
        client.post("/cds-services/alp-result-sign", data="{", content_type="application/json"),
        client.post("/cds-services/alp-result-sign", data="{}", content_type="text/plain"),
        client.get("/cds-services/alp-result-sign"),
        client.post("/cds-services/alp-patient-view/feedback", json={"feedback": []}),
    ]
    for response in answers:
        assert response.status_code >= 400
        outcome.validate(response.get_json())


def _card(**changes: Any) -> dict[str, Any]:
    card: dict[str, Any] = {
        "uuid": "c-1",
        "summary": "ALP 312 U/L: order GGT",
        "indicator": "info",
        "source": {"label": "alp-cds", "topic": {"system": "urn:x", "code": "r"}},
        "suggestions": [
            {
                "label": "Order GGT",
                "uuid": "s-1",
                "actions": [{"type": "create", "description": "Order", "resource": {"a": 1}}],
            }
        ],
        "selectionBehavior": "any",
        "overrideReasons": [{"system": "urn:x", "code": "no", "display": "No"}],
        "links": [{"label": "Rule", "url": "https://x.example/r", "type": "absolute"}],
    }
    card.update(changes)
    return {k: v for k, v in card.items() if v is not None}


@pytest.mark.parametrize(
    ("why", "body"),
    [
        ("no cards", {}),
        ("summary of 140 characters", {"cards": [_card(summary="x" * 140)]}),
        ("unknown indicator", {"cards": [_card(indicator="hard-stop")]}),
        ("no source", {"cards": [_card(source=None)]}),
        ("suggestions without selectionBehavior", {"cards": [_card(selectionBehavior=None)]}),
        ("empty detail", {"cards": [_card(detail="")]}),
        ("empty links", {"cards": [_card(links=[])]}),
        (
            "override reason without display",
            {"cards": [_card(overrideReasons=[{"system": "urn:x", "code": "no"}])]},
        ),
        (
            "create without resource",
            {
                "cards": [
                    _card(
                        suggestions=[
                            {"label": "L", "actions": [{"type": "create", "description": "d"}]}
                        ]
                    )
                ]
            },
        ),
        (
            "appContext on an absolute link",
            {
                "cards": [
                    _card(
                        links=[
                            {
                                "label": "L",
                                "url": "https://x",
                                "type": "absolute",
                                "appContext": "a",
                            }
                        ]
                    )
                ]
            },
        ),
        (
            "relative link",
            {"cards": [_card(links=[{"label": "L", "url": "/r", "type": "absolute"}])]},
        ),
    ],
)
def test_the_cards_schema_refuses_what_2_0_1_forbids(
    doc: dict[str, Any], why: str, body: dict[str, Any]
) -> None:
    schema = component(doc, "CdsResponse")
    assert schema.is_valid({"cards": [_card()]})
    assert schema.is_valid({"cards": []})
    assert not schema.is_valid(body), why
