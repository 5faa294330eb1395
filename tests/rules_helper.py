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


# The card contract's limits as the product holds them (ARCHITECTURE.md section 5 allows 150
# words and 140 characters; the product keeps 130 and 126, reviews 19-22).
SUMMARY_MAX_CHARS = 126
DETAIL_MAX_WORDS = 130


def within_limits(found: list[dict[str, Any]]) -> None:
    """Every card's summary and detail inside the product's limits."""
    for card in found:
        assert len(card["summary"]) <= SUMMARY_MAX_CHARS, card["summary"]
        detail_words = len(card["detail"].split())
        assert detail_words <= DETAIL_MAX_WORDS, (detail_words, card["detail"])


def only(found: list[dict[str, Any]], rule: str) -> dict[str, Any]:
    """The one card of `rule`, alone and inside the limits."""
    assert fired(found) == [rule], fired(found)
    within_limits(found)
    return found[0]
