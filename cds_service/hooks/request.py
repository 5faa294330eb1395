"""Parsing and validating CDS Hooks request bodies against the 2.0.1 tables.

Every way a body can be wrong ends as a `CdsError` with the JSON path of the problem; the
caller's mistake is never a 500 and the error never quotes the offending value (it may be a
token or patient data).
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from cds_service import strict_json
from cds_service.hooks.errors import CdsError, Issue, bad_request

MAX_ISSUES = 20
JSON_TYPES = ("application/json", "application/fhir+json")


@cache
def schema(name: str) -> Draft202012Validator:
    text = resources.files("cds_service.hooks").joinpath(f"schemas/{name}.json").read_text("utf-8")
    loaded = json.loads(text)
    Draft202012Validator.check_schema(loaded)
    return Draft202012Validator(loaded)


def validator_for(schema_doc: Mapping[str, Any]) -> Draft202012Validator:
    Draft202012Validator.check_schema(schema_doc)
    return Draft202012Validator(schema_doc)


def _path(error: ValidationError, root: str) -> str:
    path = root
    for part in error.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _message(error: ValidationError) -> str:
    # jsonschema's messages quote the instance, which can be a token or a patient's data.
    validator = error.validator
    schema_value: Any = error.validator_value
    if validator == "required":
        missing = [
            n for n in schema_value if isinstance(error.instance, dict) and n not in error.instance
        ]
        return f"missing required field {missing[0]!r}" if missing else "missing required field"
    if validator == "dependentRequired":
        return "fhirServer is required when fhirAuthorization is present"
    if validator == "type":
        return f"must be of type {schema_value}"
    if validator in {"const", "enum"}:
        allowed = [schema_value] if validator == "const" else list(schema_value)
        return "must be one of " + ", ".join(json.dumps(v) for v in allowed)
    if validator == "pattern":
        return "has an invalid format"
    if validator in {"minLength", "minItems"}:
        return "must not be empty" if schema_value == 1 else f"is shorter than {schema_value}"
    if validator in {"maxLength", "maxItems"}:
        return f"is longer than {schema_value}"
    if validator == "anyOf":
        return "must have reason or userComment"
    return f"fails the {validator} rule"


def check(validator: Draft202012Validator, instance: Any, root: str) -> None:
    """Raise a 400 listing up to MAX_ISSUES schema violations, each with its JSON path."""
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    if errors:
        issues = [
            Issue(
                "invalid" if e.validator != "required" else "required",
                _message(e),
                expression=_path(e, root),
            )
            for e in errors[:MAX_ISSUES]
        ]
        raise CdsError(400, issues)


def decode_json(body: bytes) -> Any:
    try:
        return strict_json.loads(body)
    except RecursionError:
        raise bad_request("JSON nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        position = f" at position {exc.pos}" if isinstance(exc, json.JSONDecodeError) else ""
        raise bad_request(f"the body is not valid JSON{position}") from None


_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def fhir_server_problem(url: str) -> str | None:
    """Why a fhirServer URL is unusable (the schema checks its outline), or None."""
    # Python's `$` lets a final newline through the schema's pattern where ECMA-262's does not.
    if any(not "!" <= ch <= "~" for ch in url):
        return "has a character outside printable ASCII"
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return "has an invalid host or port"
    if not host:
        return "has no host"
    if parts.username is not None or parts.password is not None:
        return "must not carry credentials"
    if parts.query or parts.fragment:
        return "must not have a query or fragment"
    if ":" in host:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return "has an invalid IPv6 address"
        return None
    labels = host.rstrip(".").split(".")
    if len(host) > 253 or not all(_HOST_LABEL.match(label) for label in labels):
        return "has an invalid host name"
    return None


@dataclass(frozen=True)
class FhirAuthorization:
    access_token: str
    scope: str
    subject: str
    expires_in: int
    patient: str | None

    def __repr__(self) -> str:  # keep the token out of any debug output
        return f"FhirAuthorization(subject={self.subject!r}, scope={self.scope!r})"


@dataclass(frozen=True)
class HookRequest:
    service_id: str
    hook: str
    hook_instance: str
    context: Mapping[str, Any]
    fhir_server: str | None
    fhir_authorization: FhirAuthorization | None
    prefetch: Mapping[str, Any] | None
    extension: Mapping[str, Any] | None
    auth: Any = None
    """What the caller's credentials proved (the verified JWT), if the service checks them."""

    @classmethod
    def parse(cls, service_id: str, body: Mapping[str, Any]) -> HookRequest:
        """Build from a body that already passed the request schema."""
        authorization = body.get("fhirAuthorization")
        return cls(
            service_id=service_id,
            hook=body["hook"],
            hook_instance=body["hookInstance"],
            context=body["context"],
            fhir_server=body.get("fhirServer"),
            fhir_authorization=FhirAuthorization(
                access_token=authorization["access_token"],
                scope=authorization["scope"],
                subject=authorization["subject"],
                expires_in=authorization["expires_in"],
                patient=authorization.get("patient"),
            )
            if authorization
            else None,
            prefetch=body.get("prefetch"),
            extension=body.get("extension"),
        )
