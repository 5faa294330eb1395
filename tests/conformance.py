"""CDS Hooks 2.0.1 conformance checks, applied to every response the test client sees.

The rules come from the 2.0.1 tables (discovery, card, suggestion, action, link, coding) and the
JSON rule that no element is null or empty except `"cards": []`; invariants follow the 3.0
logical models (cds-resp-3..6). Each check raises AssertionError naming the JSON path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

TOKEN_RE = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
USER_TOKENS = {
    "userPractitionerId",
    "userPractitionerRoleId",
    "userPatientId",
    "userRelatedPersonId",
}
INDICATORS = {"info", "warning", "critical"}
ABSOLUTE_URL = re.compile(r"^https?://[^\s/]+")


class NonConformance(AssertionError):
    pass


def _fail(path: str, message: str) -> None:
    raise NonConformance(f"{path}: {message}")


def no_empty_values(value: Any, path: str = "$", allow_empty_cards: bool = True) -> None:
    """2.0.1: elements SHALL NOT be null or empty; the only exception is `"cards": []`."""
    if value is None or value in ("", [], {}):
        if not (allow_empty_cards and path == "$.cards" and value == []):
            _fail(path, f"null or empty value {value!r}")
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            no_empty_values(item, f"{path}.{key}", allow_empty_cards)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            no_empty_values(item, f"{path}[{i}]", allow_empty_cards)


def _string(obj: Mapping[str, Any], key: str, path: str, required: bool = True) -> str | None:
    value = obj.get(key)
    if value is None:
        if required:
            _fail(f"{path}.{key}", "required")
        return None
    if not isinstance(value, str):
        _fail(f"{path}.{key}", "must be a string")
    return str(value)


def check_coding(coding: Any, path: str, display_required: bool = False) -> None:
    if not isinstance(coding, Mapping):
        _fail(path, "a Coding must be an object")
    _string(coding, "system", path)
    _string(coding, "code", path)
    _string(coding, "display", path, required=display_required)


def check_discovery(body: Any) -> None:
    services = body.get("services")
    if not isinstance(services, list):
        _fail("$.services", "required array")
    if services:  # `{"services": []}` is the one allowed empty discovery answer
        no_empty_values(body, allow_empty_cards=False)
    for i, service in enumerate(services):
        path = f"$.services[{i}]"
        for key in ("hook", "id", "description"):
            _string(service, key, path)
        _string(service, "title", path, required=False)
        if not re.fullmatch(r"[A-Za-z0-9._-]+", service["id"]):
            _fail(f"{path}.id", "must be usable as a URL path segment")
        prefetch = service.get("prefetch", {})
        if not isinstance(prefetch, Mapping):
            _fail(f"{path}.prefetch", "must be an object")
        for key, template in prefetch.items():
            if not isinstance(template, str):
                _fail(f"{path}.prefetch.{key}", "must be a string")
            for token in TOKEN_RE.findall(template):
                if (
                    not (token.startswith("context.") and "." not in token[8:])
                    and token not in USER_TOKENS
                ):
                    _fail(
                        f"{path}.prefetch.{key}", f"{{{{{token}}}}} is not a 2.0.1 prefetch token"
                    )
        if "extension" in service and not isinstance(service["extension"], Mapping):
            _fail(f"{path}.extension", "must be an object")


def check_action(action: Any, path: str) -> None:
    if action.get("type") not in {"create", "update", "delete"}:
        _fail(f"{path}.type", "must be create, update or delete")
    _string(action, "description", path)  # cds-resp-5: required on card actions
    if action["type"] in {"create", "update"} and not isinstance(action.get("resource"), Mapping):
        _fail(f"{path}.resource", f"required for {action['type']}")
    if action["type"] == "delete" and not (action.get("resourceId") or action.get("resource")):
        _fail(f"{path}.resourceId", "required for delete")


def check_card(card: Any, path: str) -> None:
    summary = _string(card, "summary", path)
    assert summary is not None
    if len(summary) >= 140:
        _fail(f"{path}.summary", f"{len(summary)} characters; must be under 140")
    if card.get("indicator") not in INDICATORS:
        _fail(f"{path}.indicator", "must be info, warning or critical")
    _string(card, "uuid", path, required=False)
    _string(card, "detail", path, required=False)
    source = card.get("source")
    if not isinstance(source, Mapping):
        _fail(f"{path}.source", "required object")
    _string(source, "label", f"{path}.source")
    for key in ("url", "icon"):
        url = _string(source, key, f"{path}.source", required=False)
        if url is not None and not ABSOLUTE_URL.match(url):
            _fail(f"{path}.source.{key}", "must be an absolute URL")
    if "topic" in source:
        check_coding(source["topic"], f"{path}.source.topic")
    suggestions = card.get("suggestions")
    if suggestions is not None:
        behaviour = card.get("selectionBehavior")
        if behaviour not in {"at-most-one", "any"}:  # cds-resp-6
            _fail(f"{path}.selectionBehavior", "required with suggestions: at-most-one or any")
        for j, suggestion in enumerate(suggestions):
            spath = f"{path}.suggestions[{j}]"
            _string(suggestion, "label", spath)
            _string(suggestion, "uuid", spath, required=False)
            if "isRecommended" in suggestion and not isinstance(suggestion["isRecommended"], bool):
                _fail(f"{spath}.isRecommended", "must be a boolean")
            for k, action in enumerate(suggestion.get("actions", [])):
                check_action(action, f"{spath}.actions[{k}]")
    for j, reason in enumerate(card.get("overrideReasons", [])):
        check_coding(reason, f"{path}.overrideReasons[{j}]", display_required=True)  # cds-resp-4
    for j, link in enumerate(card.get("links", [])):
        lpath = f"{path}.links[{j}]"
        _string(link, "label", lpath)
        url = _string(link, "url", lpath)
        if link.get("type") not in {"absolute", "smart"}:
            _fail(f"{lpath}.type", "must be absolute or smart")
        if url and not ABSOLUTE_URL.match(url):
            _fail(f"{lpath}.url", "must be an absolute URL")
        if "appContext" in link and link["type"] != "smart":  # cds-resp-3
            _fail(f"{lpath}.appContext", "only allowed on smart links")


def check_service_response(body: Any) -> None:
    if not isinstance(body, Mapping) or not isinstance(body.get("cards"), list):
        _fail("$.cards", "required array")
    no_empty_values(body)
    uuids = []
    for i, card in enumerate(body["cards"]):
        check_card(card, f"$.cards[{i}]")
        uuids.append(card.get("uuid"))
        uuids.extend(s.get("uuid") for s in card.get("suggestions", []))
    present = [u for u in uuids if u]
    if len(present) != len(set(present)):
        _fail("$.cards", "card and suggestion uuids must be unique")
    for i, action in enumerate(body.get("systemActions", [])):
        check_action(action, f"$.systemActions[{i}]")


def check_error(body: Any) -> None:
    if not isinstance(body, Mapping) or body.get("resourceType") != "OperationOutcome":
        _fail("$", "error bodies must be an OperationOutcome")
    issues = body.get("issue")
    if not isinstance(issues, list) or not issues:
        _fail("$.issue", "at least one issue required")
    for i, issue in enumerate(issues):
        if issue.get("severity") not in {"fatal", "error", "warning", "information"}:
            _fail(f"$.issue[{i}].severity", "invalid")
        _string(issue, "code", f"$.issue[{i}]")
    no_empty_values(body, allow_empty_cards=False)
