"""Posting a lab-result-sign request and reading back which rules showed cards."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.support.fhir import full_prefetch, sign_request

SERVICE = "/cds-services/alp-result-sign"


def cards(
    client: FlaskClient, results: list[dict[str, Any]], **prefetch: Any
) -> list[dict[str, Any]]:
    response = client.post(SERVICE, json=sign_request(results, full_prefetch(**prefetch)))
    assert response.status_code == 200, response.get_json()
    found: list[dict[str, Any]] = response.get_json()["cards"]
    return found


def fired(found: list[dict[str, Any]]) -> list[str]:
    return [c["source"]["topic"]["display"] for c in found]


def suggested(card: dict[str, Any]) -> list[str]:
    return [
        a["resource"]["code"]["coding"][0]["code"]
        for s in card.get("suggestions", [])
        for a in s["actions"]
    ]


def card_for(found: list[dict[str, Any]], rule: str) -> dict[str, Any]:
    return next(c for c in found if c["source"]["topic"]["display"] == rule)
