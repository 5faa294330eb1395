"""Parsing and validating CDS Hooks request bodies against the 2.0.1 tables.

Every way a body can be wrong ends as a `CdsError` with the JSON path of the problem; the
caller's mistake is never a 500 and the error never quotes the offending value (it may be a
token or patient data).
"""

from __future__ import annotations

import copy
import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import jsonschema_rs
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from cds_service import strict_json
from cds_service.hooks.errors import CdsError, Issue, bad_request

if TYPE_CHECKING:
    from cds_service.hooks.definitions import HookDefinition

MAX_ISSUES = 20
JSON_TYPES = ("application/json", "application/fhir+json")
BUNDLE_LIMIT = "bundle entry limit"
"""Marks the maxItems that bounds Bundle entries: its error is a too-costly issue at the Bundle."""


@cache
def schema(name: str) -> Draft202012Validator:
    text = resources.files("cds_service.hooks").joinpath(f"schemas/{name}.json").read_text("utf-8")
    loaded = json.loads(text)
    Draft202012Validator.check_schema(loaded)
    return Draft202012Validator(loaded)


def validator_for(schema_doc: Mapping[str, Any]) -> Draft202012Validator:
    Draft202012Validator.check_schema(schema_doc)
    return Draft202012Validator(schema_doc)


@dataclass(frozen=True)
class RequestValidator:
    """A request schema twice over: compiled by jsonschema-rs for the yes or no that every valid
    call needs (a few microseconds, against a few hundred for jsonschema), and jsonschema for the
    itemised 400 of an invalid one (every problem with its path, in words that never quote the
    value). Both follow JSON Schema 2020-12 and the patterns mean the same in Rust's and Python's
    regular expressions (tests/test_hot_path.py holds them to one answer)."""

    schema: Mapping[str, Any]
    full: Draft202012Validator
    fast: jsonschema_rs.Validator

    @classmethod
    def build(cls, schema_doc: Mapping[str, Any]) -> RequestValidator:
        full = validator_for(schema_doc)
        return cls(schema_doc, full, jsonschema_rs.validator_for(dict(schema_doc), offline=True))

    def check(self, instance: Any, root: str = "$") -> None:
        try:
            if self.fast.is_valid(instance):
                return
        except (ValueError, TypeError, OverflowError):
            pass  # what Rust cannot take (lone surrogates, integers past 64 bits): judge in full
        check(self.full, instance, root)


def request_validator(hook: HookDefinition, max_bundle_entries: int) -> RequestValidator:
    """One schema for a service's whole request body, so the body is validated in one pass: the
    2.0.1 envelope, the hook's context (only when `hook` names this hook, so a call of the wrong
    hook is told so rather than listed its context's differences), and the entry limit of every
    Bundle in `context.results` and `prefetch`."""
    envelope = schema("cds-request").schema
    if not isinstance(envelope, Mapping):
        raise TypeError("the cds-request schema must be an object")
    document = copy.deepcopy(dict(envelope))
    bounded = {"properties": {"entry": {"maxItems": max_bundle_entries, "$comment": BUNDLE_LIMIT}}}
    properties = document["properties"]
    properties["context"] = {**properties["context"], "properties": {"results": bounded}}
    prefetch_value = properties["prefetch"]["additionalProperties"]
    properties["prefetch"]["additionalProperties"] = {**prefetch_value, **bounded}
    context = {k: v for k, v in hook.context_schema.items() if k != "$schema"}
    document["if"] = {"required": ["hook"], "properties": {"hook": {"const": hook.id}}}
    document["then"] = {"properties": {"context": context}}
    return RequestValidator.build(document)


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


def _issue(error: ValidationError, root: str) -> Issue:
    marked = isinstance(error.schema, Mapping) and error.schema.get("$comment") == BUNDLE_LIMIT
    if error.validator == "maxItems" and marked:
        bundle = _path(error, root).removesuffix(".entry")
        return Issue(
            "too-costly", f"more than {error.validator_value} Bundle entries", expression=bundle
        )
    code = "invalid" if error.validator != "required" else "required"
    return Issue(code, _message(error), expression=_path(error, root))


def check(validator: Draft202012Validator, instance: Any, root: str) -> None:
    """Raise a 400 listing up to MAX_ISSUES schema violations, each with its JSON path."""
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    if errors:
        # A field can break the envelope and the hook's context schema the same way (both
        # say `context` is an object): list each problem once.
        issues = list(dict.fromkeys(_issue(e, root) for e in errors))
        raise CdsError(400, issues[:MAX_ISSUES])


def decode_json(body: bytes) -> Any:
    try:
        return strict_json.loads_text(body)
    except RecursionError:
        raise bad_request("JSON nested too deeply") from None
    except strict_json.UnfitText as unfit:
        # Refused whole, before anything is answered or stored: the audit store could not keep
        # such a string (PostgreSQL refuses NUL, UTF-8 cannot encode a lone surrogate), and an
        # answered call must never go unrecorded. The path only, never the string.
        raise bad_request(f"the body contains {unfit.what}", unfit.path) from None
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
    def parse(cls, service_id: str, body: Mapping[str, Any], auth: Any = None) -> HookRequest:
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
            auth=auth,
        )
