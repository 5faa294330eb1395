"""An OpenAPI 3.1 description of the service, built from the live service registry.

Nothing here is written twice: the request bodies are the JSON Schemas the service enforces
(`hooks/schemas/*.json`, with each service's hook context schema in `context` and its hook id as a
`const`), and there is one `POST /cds-services/{id}` (and its `/feedback`) per declared service, so
the document cannot drift from the code. The response schemas are written from the CDS Hooks
2.0.1 tables (discovery, card, source, suggestion, action, link, coding) with its JSON rule that no
element is null or empty except `"cards": []`; every error is a FHIR OperationOutcome.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from importlib import metadata
from typing import Any

from cds_service.hooks.declaration import ServiceDeclaration
from cds_service.hooks.request import schema as enforced_schema

OPENAPI_VERSION = "3.1.0"
CDS_HOOKS_VERSION = "2.0.1"
SECURITY_SCHEME = "cdsHooksJwt"
JSON = "application/json"
REQUEST_MEDIA_TYPES = ("application/json", "application/fhir+json")
SCHEMA_KEYWORDS_DROPPED = ("$schema", "$id")
"""Dropped when a standalone schema is embedded: the document has one dialect and one base URI."""

_REF = "#/components/schemas/"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF + name}


def _text(min_length: int = 1, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "minLength": min_length, **extra}


def _array(items: Mapping[str, Any], min_items: int = 1) -> dict[str, Any]:
    return {"type": "array", "minItems": min_items, "items": dict(items)}


def _object(required: list[str], properties: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object"}
    if required:
        schema["required"] = required
    schema["properties"] = dict(properties)
    schema.update(extra)
    return schema


NON_EMPTY_OBJECT: dict[str, Any] = {"type": "object", "minProperties": 1}


# --- schemas the service enforces on requests -------------------------------------------------


def request_schema_file(name: str) -> dict[str, Any]:
    """A copy of the schema the service validates with (`hooks/schemas/{name}.json`)."""
    enforced = enforced_schema(name).schema
    if not isinstance(enforced, Mapping):
        raise TypeError(f"schemas/{name}.json is not a JSON object")
    return copy.deepcopy(dict(enforced))


def embeddable(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A standalone JSON Schema without the keywords that only make sense at a file's root."""
    return {k: copy.deepcopy(v) for k, v in schema.items() if k not in SCHEMA_KEYWORDS_DROPPED}


def _rewrite_refs(value: Any, old_prefix: str, new_prefix: str) -> Any:
    if isinstance(value, dict):
        return {
            k: (
                new_prefix + v.removeprefix(old_prefix)
                if k == "$ref" and isinstance(v, str) and v.startswith(old_prefix)
                else _rewrite_refs(v, old_prefix, new_prefix)
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_rewrite_refs(v, old_prefix, new_prefix) for v in value]
    return value


def lift_definitions(
    schema: Mapping[str, Any], prefix: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Move `$defs` into components as `{prefix}.{name}` and point the `$ref`s at them."""
    body = embeddable(schema)
    definitions = body.pop("$defs", {})
    new_prefix = f"{_REF}{prefix}."
    lifted = {
        f"{prefix}.{name}": _rewrite_refs(definition, "#/$defs/", new_prefix)
        for name, definition in definitions.items()
    }
    return _rewrite_refs(body, "#/$defs/", new_prefix), lifted


def service_request_schema(service: ServiceDeclaration) -> dict[str, Any]:
    """The body `POST /cds-services/{id}` accepts: the 2.0.1 request schema, narrowed to the
    service's hook (a const) and its hook's context schema, exactly what the blueprint checks."""
    body = embeddable(request_schema_file("cds-request"))
    properties = body["properties"]
    properties["hook"] = {**properties["hook"], "const": service.hook.id}
    properties["context"] = {**properties["context"], **embeddable(service.hook.context_schema)}
    return body


# --- response schemas, from the CDS Hooks 2.0.1 tables ----------------------------------------


def _response_schemas() -> dict[str, Any]:
    url = _text(format="uri", pattern="^[A-Za-z][A-Za-z0-9+.-]*://")
    coding = _object(
        ["system", "code"],
        {"system": _text(), "code": _text(), "display": _text()},
        description="CDS Hooks 2.0.1 Coding.",
    )
    action = _object(
        ["type", "description"],
        {
            "type": {"enum": ["create", "update", "delete"]},
            "description": _text(),
            "resource": {
                **NON_EMPTY_OBJECT,
                "description": "The FHIR resource to create or "
                "update (for delete, the deprecated 1.0 form of resourceId).",
            },
            "resourceId": _text(description="Relative reference of the resource to delete."),
        },
        description="CDS Hooks 2.0.1 Action; `description` is required (cds-resp-5).",
        allOf=[
            {
                "if": {
                    "required": ["type"],
                    "properties": {"type": {"enum": ["create", "update"]}},
                },
                "then": {"required": ["resource"]},
            },
            {
                "if": {"required": ["type"], "properties": {"type": {"const": "delete"}}},
                "then": {"anyOf": [{"required": ["resourceId"]}, {"required": ["resource"]}]},
            },
        ],
    )
    return {
        "Coding": coding,
        "OverrideReason": {
            "allOf": [_ref("Coding")],
            "required": ["display"],
            "description": "A Coding with a display (cds-resp-4).",
        },
        "Source": _object(
            ["label"],
            {"label": _text(), "url": url, "icon": url, "topic": _ref("Coding")},
            description="CDS Hooks 2.0.1 Source.",
        ),
        "Action": action,
        "Suggestion": _object(
            ["label"],
            {
                "label": _text(),
                "uuid": _text(),
                "isRecommended": {"type": "boolean"},
                "actions": _array(_ref("Action")),
            },
            description="CDS Hooks 2.0.1 Suggestion.",
        ),
        "Link": _object(
            ["label", "url", "type"],
            {
                "label": _text(),
                "url": url,
                "type": {"enum": ["absolute", "smart"]},
                "appContext": _text(),
                "autolaunchable": {"type": "boolean"},
            },
            description="CDS Hooks 2.0.1 Link; appContext only on smart links (cds-resp-3).",
            allOf=[
                {
                    "if": {"required": ["type"], "properties": {"type": {"const": "absolute"}}},
                    "then": {"not": {"required": ["appContext"]}},
                }
            ],
        ),
        "Card": _object(
            ["summary", "indicator", "source"],
            {
                "uuid": _text(),
                "summary": _text(maxLength=139, description="Under 140 characters."),
                "detail": _text(description="GitHub Flavored Markdown."),
                "indicator": {"enum": ["info", "warning", "critical"]},
                "source": _ref("Source"),
                "suggestions": _array(_ref("Suggestion")),
                "selectionBehavior": {"enum": ["at-most-one", "any"]},
                "overrideReasons": _array(_ref("OverrideReason")),
                "links": _array(_ref("Link")),
                "extension": NON_EMPTY_OBJECT,
            },
            description="CDS Hooks 2.0.1 Card; selectionBehavior is required with "
            "suggestions (cds-resp-6).",
            dependentRequired={"suggestions": ["selectionBehavior"]},
        ),
        "CdsResponse": _object(
            ["cards"],
            {
                "cards": _array(_ref("Card"), min_items=0),
                "systemActions": _array(_ref("Action")),
            },
            description="CDS Hooks 2.0.1 response; `cards` may be empty, nothing else may.",
        ),
        "CdsService": _object(
            ["hook", "id", "description"],
            {
                "hook": _text(),
                "id": _text(pattern="^[A-Za-z0-9._-]+$"),
                "title": _text(),
                "description": _text(),
                "prefetch": {
                    **NON_EMPTY_OBJECT,
                    "additionalProperties": _text(description="A prefetch template."),
                },
                "usageRequirements": _text(),
                "extension": NON_EMPTY_OBJECT,
            },
            description="CDS Hooks 2.0.1 discovery entry.",
        ),
        "DiscoveryResponse": _object(
            ["services"], {"services": _array(_ref("CdsService"), min_items=0)}
        ),
        "FeedbackResponse": {
            "type": "object",
            "maxProperties": 0,
            "description": "CDS Hooks 2.0.1 defines no feedback response; this service answers {}.",
        },
        "OperationOutcome": _object(
            ["resourceType", "issue"],
            {
                "resourceType": {"const": "OperationOutcome"},
                "issue": _array(
                    _object(
                        ["severity", "code"],
                        {
                            "severity": {"enum": ["fatal", "error", "warning", "information"]},
                            "code": _text(description="FHIR issue-type code."),
                            "diagnostics": _text(),
                            "expression": _array(_text()),
                        },
                    )
                ),
            },
            description="FHIR OperationOutcome: the body of every error. It never echoes the "
            "request.",
        ),
        "Rulebook": _object(
            ["name", "version", "content_hash", "rules"],
            {
                "name": _text(),
                "version": _text(),
                "content_hash": _text(),
                "rules": {"type": "array", "items": {"type": "object"}},
            },
            description="The knowledge base's rules, parameters, orderables and citations.",
        ),
        "OpenApiDocument": _object(
            ["openapi", "info", "paths"],
            {"openapi": _text(), "info": {"type": "object"}, "paths": {"type": "object"}},
        ),
    }


ERRORS: dict[int, tuple[str, str]] = {
    400: (
        "BadRequest",
        "Malformed body, schema violation, wrong hook, or content the service cannot accept "
        "(such as feedback on a card it did not issue).",
    ),
    401: ("Unauthorized", "Missing or invalid CDS Hooks JWT (no detail is given)."),
    404: ("NotFound", "No CDS service with this id."),
    412: (
        "PreconditionFailed",
        "Required data is neither prefetched nor obtainable from fhirServer.",
    ),
    413: ("PayloadTooLarge", "The body is larger than the configured limit."),
    415: ("UnsupportedMediaType", "Content-Type is not application/json."),
    500: ("InternalError", "A bug in the service; details are only in its log."),
}


def _error_responses() -> dict[str, Any]:
    return {
        name: {"description": text, "content": {JSON: {"schema": _ref("OperationOutcome")}}}
        for name, text in ERRORS.values()
    }


def _responses(ok: Mapping[str, Any], errors: Iterable[int]) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": dict(ok)}
    for status in errors:
        responses[str(status)] = {"$ref": f"#/components/responses/{ERRORS[status][0]}"}
    return responses


def _json_ok(description: str, schema_name: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": _ref(schema_name)}}}


def _request_body(schema_name: str, description: str) -> dict[str, Any]:
    return {
        "required": True,
        "description": description,
        "content": {media: {"schema": _ref(schema_name)} for media in REQUEST_MEDIA_TYPES},
    }


def _package_version() -> str:
    try:
        return metadata.version("alp-cds")
    except metadata.PackageNotFoundError:
        return "0.0.0"


def openapi_document(
    registry: Iterable[ServiceDeclaration],
    base_url: str,
    *,
    authenticated: bool = True,
    version: str | None = None,
) -> dict[str, Any]:
    """The OpenAPI 3.1 document for these services, served from `base_url`.

    `registry` is iterated for its `ServiceDeclaration`s (a `ServiceRegistry` works). With
    `authenticated` the CDS Hooks routes require the bearer JWT; without it (development without
    a trust store) they declare no security requirement.
    """
    services = list(registry)
    schemas = _response_schemas()
    feedback_schema, feedback_defs = lift_definitions(
        request_schema_file("cds-feedback"), "CdsFeedback"
    )
    schemas["CdsFeedbackRequest"] = feedback_schema
    schemas.update(feedback_defs)

    security: list[dict[str, list[str]]] = [{SECURITY_SCHEME: []}] if authenticated else []
    open_route: list[dict[str, list[str]]] = []

    paths: dict[str, Any] = {
        "/cds-services": {
            "get": {
                "operationId": "discovery",
                "summary": "CDS Hooks discovery: the services this deployment offers",
                "tags": ["CDS Hooks"],
                "security": security,
                "responses": _responses(
                    _json_ok("The service list.", "DiscoveryResponse"), (401, 500)
                ),
            }
        }
    }
    for service in services:
        request_name = f"CdsRequest.{service.id}"
        schemas[request_name] = service_request_schema(service)
        paths[f"/cds-services/{service.id}"] = {
            "post": {
                "operationId": f"invoke.{service.id}",
                "summary": service.title,
                "description": f"{service.description}\n\nHook: `{service.hook.id}`.",
                "tags": ["CDS Hooks"],
                "security": security,
                "requestBody": _request_body(
                    request_name,
                    f"A CDS Hooks {CDS_HOOKS_VERSION} request for hook `{service.hook.id}`.",
                ),
                "responses": _responses(
                    _json_ok("Cards (possibly none).", "CdsResponse"),
                    (400, 401, 404, 412, 413, 415, 500),
                ),
            }
        }
        paths[f"/cds-services/{service.id}/feedback"] = {
            "post": {
                "operationId": f"feedback.{service.id}",
                "summary": f"Feedback on the cards of {service.id}",
                "description": "Batch-aware and idempotent: a repeated item is stored once.",
                "tags": ["CDS Hooks"],
                "security": security,
                "requestBody": _request_body("CdsFeedbackRequest", "CDS Hooks feedback."),
                "responses": _responses(
                    _json_ok("Recorded.", "FeedbackResponse"), (400, 401, 404, 413, 415, 500)
                ),
            }
        }
    paths["/rulebook"] = {
        "get": {
            "operationId": "rulebookPage",
            "summary": "The rulebook as a page for people",
            "tags": ["Documentation"],
            "security": open_route,
            "responses": {
                "200": {
                    "description": "HTML rulebook.",
                    "content": {"text/html": {"schema": {"type": "string"}}},
                },
                "500": {"$ref": "#/components/responses/InternalError"},
            },
        }
    }
    paths["/rulebook.json"] = {
        "get": {
            "operationId": "rulebook",
            "summary": "The rulebook as JSON",
            "tags": ["Documentation"],
            "security": open_route,
            "responses": _responses(_json_ok("The rulebook.", "Rulebook"), (500,)),
        }
    }
    paths["/openapi.json"] = {
        "get": {
            "operationId": "openapi",
            "summary": "This document",
            "tags": ["Documentation"],
            "security": open_route,
            "responses": _responses(_json_ok("OpenAPI 3.1.", "OpenApiDocument"), (500,)),
        }
    }

    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "alp-cds",
            "version": version or _package_version(),
            "summary": "CDS Hooks service for serum alkaline phosphatase follow-up",
            "description": f"CDS Hooks {CDS_HOOKS_VERSION} services. Errors are FHIR "
            "OperationOutcome bodies; 2.0.1 forbids null or empty elements in every payload "
            'except `"cards": []`.',
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "servers": [{"url": base_url.rstrip("/") or "/"}],
        "tags": [
            {"name": "CDS Hooks", "description": f"CDS Hooks {CDS_HOOKS_VERSION} endpoints."},
            {"name": "Documentation", "description": "Pages for people; no authentication."},
        ],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": _error_responses(),
            "securitySchemes": {
                SECURITY_SCHEME: {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "The CDS Hooks JWT the client signs (asymmetric alg, kid, "
                    "iss on the trust list, aud = the URL called, jti never reused).",
                }
            },
        },
    }
