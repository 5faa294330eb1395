"""alp-patient-view: the same rules on the most recent ALP of the last 180 days, only while its
follow-up is still open."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.rules_helper import fired
from tests.support.fhir import PATIENT_ID, USER, alp, full_prefetch, ggt, service_request

SERVICE = "/cds-services/alp-patient-view"  # the test clock is 2026-11-21T12:00Z


def view(client: FlaskClient, **prefetch: Any) -> list[dict[str, Any]]:
    body = {
        "hook": "patient-view",
        "hookInstance": "pv-1",
        "context": {"userId": USER, "patientId": PATIENT_ID},
        "prefetch": full_prefetch(**prefetch),
    }
    response = client.post(SERVICE, json=body)
    assert response.status_code == 200, response.get_json()
    found: list[dict[str, Any]] = response.get_json()["cards"]
    return found


def test_the_most_recent_alp_with_open_follow_up_gets_its_card(client: FlaskClient) -> None:
    labs = [
        alp(90, when="2026-06-01T08:00:00Z"),
        alp(312, when="2026-10-01T08:00:00Z", ident="latest"),
    ]
    found = view(client, labs=labs)
    assert fired(found) == ["alp-high-confirm-origin"]
    reason = found[0]["suggestions"][0]["actions"][0]["resource"]["reasonReference"]
    assert reason == [{"reference": "Observation/latest"}]


def test_only_the_most_recent_alp_counts(client: FlaskClient) -> None:
    labs = [alp(312, when="2026-06-01T08:00:00Z"), alp(80, when="2026-10-01T08:00:00Z")]
    assert view(client, labs=labs) == []


def test_a_follow_up_result_after_the_alp_closes_it(client: FlaskClient) -> None:
    labs = [alp(312, when="2026-10-01T08:00:00Z"), ggt(20, when="2026-10-08T08:00:00Z")]
    assert view(client, labs=labs) == []


def test_a_ggt_drawn_with_the_alp_is_used_not_a_closure(client: FlaskClient) -> None:
    labs = [alp(312, when="2026-10-01T08:00:00Z"), ggt(20, when="2026-10-01T08:00:00Z")]
    assert fired(view(client, labs=labs)) == ["alp-high-bone-source"]


def test_an_open_follow_up_order_closes_it(client: FlaskClient) -> None:
    labs = [alp(312, when="2026-10-01T08:00:00Z")]
    assert view(client, labs=labs, orders=[service_request("2324-2")]) == []
    assert view(client, labs=labs, orders=[service_request("24332-9")]) == []


def test_alps_older_than_180_days_are_ignored(client: FlaskClient) -> None:
    assert view(client, labs=[alp(312, when="2026-05-24T08:00:00Z")]) == []
    assert fired(view(client, labs=[alp(312, when="2026-05-26T08:00:00Z")])) == [
        "alp-high-confirm-origin"
    ]


def test_labs_are_required_for_patient_view(client: FlaskClient) -> None:
    body = {
        "hook": "patient-view",
        "hookInstance": "pv-2",
        "context": {"userId": USER, "patientId": PATIENT_ID},
        "prefetch": {k: v for k, v in full_prefetch().items() if k != "labs"},
    }
    assert client.post(SERVICE, json=body).status_code == 412


def test_a_withdrawn_alp_is_not_the_latest(client: FlaskClient) -> None:
    labs = [
        alp(312, when="2026-10-01T08:00:00Z", ident="real"),
        alp(80, when="2026-10-05T08:00:00Z", status="entered-in-error"),
    ]
    found = view(client, labs=labs)
    assert fired(found) == ["alp-high-confirm-origin"]


def test_a_withdrawn_follow_up_result_does_not_close_it(client: FlaskClient) -> None:
    labs = [
        alp(312, when="2026-10-01T08:00:00Z"),
        ggt(20, when="2026-10-08T08:00:00Z", status="entered-in-error"),
    ]
    assert fired(view(client, labs=labs)) == ["alp-high-confirm-origin"]


def test_a_do_not_perform_order_does_not_close_it(client: FlaskClient) -> None:
    labs = [alp(312, when="2026-10-01T08:00:00Z")]
    order = {**service_request("2324-2"), "doNotPerform": True}
    assert fired(view(client, labs=labs, orders=[order])) == ["alp-high-confirm-origin"]
