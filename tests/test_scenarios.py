"""The scenario library, run twice: with the request's prefetch, and with prefetch removed so the
same data comes from a real FHIR server (Medplum's router, in memory) through the fetch path.

Each scenario folder in fhir_fixtures/scenarios/ holds request.json and expected.json (rules
fired, suggested LOINC codes, indicators).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import load_scenario, scenario_names
from tests.support.medplum import MedplumServer

TOKEN = "scenario-token-0001"


def outcome(cards: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "rules_fired": [c["source"]["topic"]["display"] for c in cards],
        "suggested_loinc": sorted(
            {
                coding["code"]
                for c in cards
                for s in c.get("suggestions", [])
                for a in s.get("actions", [])
                for coding in a["resource"]["code"]["coding"]
                if coding["system"] == "http://loinc.org"
            }
        ),
        "indicators": [c["indicator"] for c in cards],
    }


def without_uuids(cards: list[dict[str, Any]]) -> list[dict[str, Any]]:
    cleaned = copy.deepcopy(cards)
    for card in cleaned:
        card.pop("uuid", None)
        for suggestion in card.get("suggestions", []):
            suggestion.pop("uuid", None)
    return cleaned


def prefetched_resources(request: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for value in (request.get("prefetch") or {}).values():
        if not isinstance(value, dict):
            continue
        if value.get("resourceType") == "Bundle":
            for entry in value.get("entry", []):
                yield entry["resource"]
        else:
            yield value


def post(client: FlaskClient, request: dict[str, Any], service: str) -> list[dict[str, Any]]:
    response = client.post(f"/cds-services/{service}", json=request)
    assert response.status_code == 200, response.get_json()
    cards: list[dict[str, Any]] = response.get_json()["cards"]
    return cards


def quiet_reasons(client: FlaskClient, request: dict[str, Any]) -> list[str]:
    """Why a call gave no card, as the trace says it: the rules that fired (silent ones), why an
    item was not read or nothing was evaluated, and why each rule that did not fire did not."""
    from cds_service.explain import evaluate_document

    services = client.application.extensions["alp_cds"].services
    trace = evaluate_document(services, request).trace
    said = [f"reason: {trace.reason}"] if trace.reason else []
    for evaluation in trace.evaluations:
        if evaluation.not_interpreted:
            said.append(f"not interpreted: {evaluation.not_interpreted}")
        for decision in evaluation.rules:
            why = f"{decision.rule}: {decision.why_not}"
            said.append(f"fired {decision.rule}" if decision.fired else why)
    return said


@pytest.mark.parametrize("name", scenario_names())
def test_scenario_with_prefetch(client: FlaskClient, name: str) -> None:
    request, expected = load_scenario(name)
    cards = post(client, request, expected["service"])
    assert outcome(cards) == {
        k: expected[k] for k in ("rules_fired", "suggested_loinc", "indicators")
    }
    if not expected["rules_fired"]:
        # No card, for the reason the scenario names (code review, thirteenth round): silence
        # because the ALP went unread, or another rule held it back, must not pass too.
        assert expected["quiet"], name
        said = quiet_reasons(client, request)
        for reason in expected["quiet"]:
            assert reason in said, (name, reason, said)
    for card in cards:
        # Epic keeps override history by an alphanumeric topic code of at most 100 characters,
        # and every card offers override reasons so that every dismissal can be audited.
        assert re.fullmatch(r"[A-Za-z0-9]{1,100}", card["source"]["topic"]["code"])
        assert card["overrideReasons"]
        for suggestion in card.get("suggestions", []):
            assert len(suggestion["actions"]) == 1  # Epic takes one action per suggestion


@pytest.fixture(scope="module")
def fhir_server(medplum_available: None) -> Iterator[MedplumServer]:
    with MedplumServer(token=TOKEN) as server:
        yield server


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.parametrize("name", scenario_names())
def test_scenario_through_the_fetch_path(
    make_app: Callable[..., Flask], fhir_server: MedplumServer, name: str
) -> None:
    request, expected = load_scenario(name)
    client = make_app().test_client()
    with_prefetch = post(client, request, expected["service"])

    fhir_server.reset()
    fhir_server.load(prefetched_resources(request))
    fetched = copy.deepcopy(request)
    del fetched["prefetch"]
    fetched["fhirServer"] = fhir_server.base_url
    fetched["fhirAuthorization"] = {
        "access_token": TOKEN,
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "user/*.read",
        "subject": "alp-cds",
    }
    through_fetch = post(client, fetched, expected["service"])
    assert outcome(through_fetch) == outcome(with_prefetch)
    assert without_uuids(through_fetch) == without_uuids(with_prefetch)
