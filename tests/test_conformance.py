"""The conformance checker itself: it must catch what 2.0.1 forbids (else every check is hollow)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests import conformance
from tests.support.fhir import alp, full_prefetch, sign_request

GOOD_CARD: dict[str, Any] = {
    "uuid": "c1",
    "summary": "ALP 312 U/L (3.0x upper limit): order GGT",
    "indicator": "info",
    "source": {
        "label": "alp-cds",
        "url": "https://x.example/rulebook#r",
        "topic": {"system": "s", "code": "r"},
    },
    "suggestions": [
        {
            "label": "Order GGT",
            "uuid": "s1",
            "isRecommended": True,
            "actions": [
                {
                    "type": "create",
                    "description": "d",
                    "resource": {"resourceType": "ServiceRequest"},
                }
            ],
        }
    ],
    "selectionBehavior": "any",
    "overrideReasons": [{"system": "s", "code": "c", "display": "Already ordered"}],
    "links": [{"label": "Rulebook", "url": "https://x.example/rulebook", "type": "absolute"}],
}


def test_a_good_response_passes() -> None:
    conformance.check_service_response({"cards": [GOOD_CARD]})
    conformance.check_service_response({"cards": []})


def _broken(path: list[Any], value: Any) -> dict[str, Any]:
    card = copy.deepcopy(GOOD_CARD)
    target: Any = card
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return {"cards": [card]}


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (["summary"], "x" * 140),
        (["summary"], KeyError),
        (["indicator"], "hard-stop"),
        (["source", "label"], KeyError),
        (["source", "url"], "/relative"),
        (["selectionBehavior"], KeyError),
        (["overrideReasons", 0, "display"], KeyError),
        (["suggestions", 0, "actions", 0, "description"], KeyError),
        (["suggestions", 0, "actions", 0, "resource"], KeyError),
        (["links", 0, "type"], "relative"),
        (["detail"], ""),
        (["links"], []),
        (["source", "icon"], None),
        (["suggestions", 0, "uuid"], "c1"),
    ],
)
def test_each_violation_is_caught(path: list[Any], value: Any) -> None:
    with pytest.raises(conformance.NonConformance):
        conformance.check_service_response(_broken(path, value))


def test_discovery_tokens_are_checked() -> None:
    service = {
        "hook": "patient-view",
        "id": "x",
        "description": "d",
        "prefetch": {"p": "Patient/{{context.patient.id}}"},
    }
    with pytest.raises(conformance.NonConformance):
        conformance.check_discovery({"services": [service]})


def test_discovery_of_the_service_conforms(client: FlaskClient) -> None:
    body = client.get("/cds-services").get_json()
    conformance.check_discovery(body)
    assert {s["id"] for s in body["services"]} == {"alp-result-sign", "alp-patient-view"}


def test_a_service_response_with_cards_conforms(client: FlaskClient) -> None:
    response = client.post(
        "/cds-services/alp-result-sign", json=sign_request([alp(312)], full_prefetch())
    )
    body = response.get_json()
    assert body["cards"], "the check must have seen at least one card"
    conformance.check_service_response(body)
