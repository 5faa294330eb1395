"""One call, one patient (hooks/patient_scope.py): another patient's resources never reach the
rules, and a context about two patients is refused."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from cds_service.explain import evaluate_document
from cds_service.hooks.patient_scope import foreign_in_context, left_out, names_another_patient
from tests.rules_helper import fired
from tests.support.fhir import (
    PATIENT_ID,
    alp,
    condition,
    full_prefetch,
    ggt,
    patient,
    service_request,
    sign_request,
)
from tests.test_patient_view import view

VIEW = "/cds-services/alp-patient-view"  # the test clock is 2026-11-21T12:00Z
SIGN = "/cds-services/alp-result-sign"
ELSEWHERE = {"subject": {"reference": "Patient/someone-else"}}


@pytest.mark.parametrize(
    ("reference", "foreign"),
    [
        ({"subject": {"reference": f"Patient/{PATIENT_ID}"}}, False),
        ({"subject": {"reference": f"https://ehr.example/fhir/Patient/{PATIENT_ID}"}}, False),
        ({"subject": {"reference": f"Patient/{PATIENT_ID}/_history/3"}}, False),
        ({"patient": {"reference": f"Patient/{PATIENT_ID}"}}, False),
        ({}, False),  # a patient-scoped query returned it
        ({"subject": {"reference": "#p1"}}, False),  # contained: cannot be read as Type/id
        ({"subject": {"identifier": {"value": "MRN-1"}}}, False),
        ({"subject": {"reference": "Patient/someone-else"}}, True),
        ({"subject": {"reference": "https://ehr.example/fhir/Patient/someone-else"}}, True),
        ({"patient": {"reference": "Patient/someone-else"}}, True),
        ({"subject": {"reference": "Group/ward-7"}}, True),  # not this patient's own record
    ],
)
def test_which_resources_name_another_patient(reference: dict[str, Any], foreign: bool) -> None:
    resource = {"resourceType": "Observation", "id": "x", **reference}
    assert names_another_patient(resource, PATIENT_ID) is foreign


def test_left_out_resources_are_counted_and_named() -> None:
    mine = alp(312, ident="mine")
    theirs = [alp(900, ident=f"theirs-{i}", **ELSEWHERE) for i in range(5)]
    kept, problem = left_out([mine, *theirs], PATIENT_ID)
    assert kept == [mine]
    assert problem == (
        "5 about another patient left out "
        "(Observation/theirs-0, Observation/theirs-1, Observation/theirs-2 and 2 more)"
    )
    assert left_out([mine], PATIENT_ID) == ([mine], "")


def test_the_context_is_searched_in_resources_and_bundles() -> None:
    context = {
        "patientId": PATIENT_ID,
        "results": {
            "resourceType": "Bundle",
            "entry": [{"resource": alp(312)}, {"resource": ggt(20, **ELSEWHERE)}],
        },
        "draft": service_request("2324-2") | ELSEWHERE,
    }
    assert foreign_in_context(context, PATIENT_ID) == [
        "$.context.results.entry[1].resource",
        "$.context.draft",
    ]


def test_a_result_of_another_patient_being_signed_is_refused(client: FlaskClient) -> None:
    body = sign_request([alp(312, **ELSEWHERE)], full_prefetch())
    response = client.post(SIGN, json=body)
    assert response.status_code == 400
    [issue] = response.get_json()["issue"]
    assert "another patient" in issue["diagnostics"]
    assert issue["expression"] == ["$.context.results.entry[0].resource"]


def test_another_patients_alp_gets_no_card(client: FlaskClient) -> None:
    assert view(client, labs=[alp(312, when="2026-10-01T08:00:00Z", **ELSEWHERE)]) == []


def test_another_patients_newer_alp_does_not_replace_this_patients(client: FlaskClient) -> None:
    labs = [
        alp(312, when="2026-10-01T08:00:00Z", ident="mine"),
        alp(900, when="2026-11-01T08:00:00Z", ident="theirs", **ELSEWHERE),
    ]
    [card] = view(client, labs=labs)
    assert "312 U/L" in card["summary"]
    order = card["suggestions"][0]["actions"][0]["resource"]
    assert order["reasonReference"] == [{"reference": "Observation/mine"}]


def test_another_patients_ggt_does_not_decide_the_source(client: FlaskClient) -> None:
    labs = [
        alp(312, when="2026-10-01T08:00:00Z"),
        ggt(20, when="2026-10-01T08:00:00Z", **ELSEWHERE),
    ]
    assert fired(view(client, labs=labs)) == ["alp-high-confirm-origin"]


def test_another_patients_order_does_not_silence_the_card(client: FlaskClient) -> None:
    labs = [alp(312, when="2026-10-01T08:00:00Z")]
    orders = [service_request("2324-2") | ELSEWHERE]
    assert fired(view(client, labs=labs, orders=orders)) == ["alp-high-confirm-origin"]
    body = sign_request([alp(312)], full_prefetch(orders=orders))
    assert fired(client.post(SIGN, json=body).get_json()["cards"]) == ["alp-high-confirm-origin"]


def test_another_patients_diagnosis_explains_nothing(client: FlaskClient) -> None:
    paget = condition("M88.9") | ELSEWHERE
    body = sign_request([alp(312), ggt(20)], full_prefetch(conditions=[paget]))
    assert fired(client.post(SIGN, json=body).get_json()["cards"]) == ["alp-high-bone-source"]


def test_the_audit_trace_says_what_was_left_out(app: Flask) -> None:
    theirs = ggt(20, ident="theirs", **ELSEWHERE)
    body = sign_request([alp(312)], full_prefetch(labs=[theirs]))
    answer = evaluate_document(app.extensions["alp_cds"].services, body)
    labs = next(d for d in answer.trace.data if d.key == "labs")
    assert labs.problems == ("1 about another patient left out (Observation/theirs)",)
    assert labs.resources == 0


def test_a_bundle_evaluated_offline_keeps_to_its_patient(app: Flask) -> None:
    mine = alp(312, when="2026-10-01T08:00:00Z", ident="mine")
    theirs = alp(900, when="2026-11-01T08:00:00Z", ident="theirs", **ELSEWHERE)
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in (patient(), mine, theirs)],
    }
    answer = evaluate_document(app.extensions["alp_cds"].services, bundle)
    [card] = answer.body["cards"]
    assert "312 U/L" in card["summary"]


@pytest.mark.parametrize(
    ("scoped", "status"), [("pt-other", 400), ("pt-1", 200), ("Patient/pt-1", 200)]
)
def test_a_token_scoped_to_another_patient_is_refused(
    client: FlaskClient, scoped: str, status: int
) -> None:
    """QA 12 #14: fhirAuthorization.patient naming another patient than context.patientId was
    accepted silently, and the token used to fetch this patient's data."""
    body = sign_request([alp(312)], full_prefetch())
    body["fhirServer"] = "https://fhir.example.org/r4"
    body["fhirAuthorization"] = {
        "access_token": "SECRET-ABC",
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "patient/*.read",
        "subject": "alp-cds",
        "patient": scoped,
    }
    response = client.post(SIGN, json=body)
    assert response.status_code == status, response.get_json()
    if status == 400:
        [issue] = response.get_json()["issue"]
        assert issue["expression"] == ["$.fhirAuthorization.patient"]
        assert "pt-other" not in response.get_data(as_text=True)
