"""MedicationAdministration: a dose charted as given (a zoledronate infusion, a denosumab
injection on the ward) counts as the drug, as a dose recorded as a procedure does; the
`administrations` key is supplementary (docs/hooks/lab-result-sign.md)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from cds_service.alp_services import DATA_KINDS, RESULT_SIGN_ID
from tests.rules_helper import SERVICE, cards, fired, suggested
from tests.support.fhir import (
    administration,
    alp,
    full_prefetch,
    ggt,
    medication,
    sign_request,
)

BONE_ALP = "17838-4"
PERSISTENT = "alp-low-persistent"
BONE = "alp-high-bone-source"
RISE = [alp(210), ggt(22, low=5, high=40), alp(70, when="2025-12-01T08:00:00Z")]


def test_a_zoledronate_infusion_charted_as_given_counts_for_the_hpp_caution(
    client: FlaskClient,
) -> None:
    # Must not miss: a persistently, markedly low ALP on a bisphosphonate given only as a
    # charted infusion (no MedicationRequest in the prefetch).
    earlier = [alp(22, when="2026-08-01T08:00:00Z")]
    infusion = administration("Zoledronic acid 5 mg/100 mL IV", "2025-11-03T10:00:00Z")
    [card] = cards(client, [alp(20)], labs=earlier, administrations=[infusion])
    assert fired([card]) == [PERSISTENT]
    assert "hold the drug" in card["summary"]
    assert "given 3 Nov 2025" in card["detail"]
    # Without it the same record gets the ordinary persistent-low card.
    [plain] = cards(client, [alp(20)], labs=earlier)
    assert "hold the drug" not in plain["summary"]


def test_a_denosumab_injection_charted_as_given_gives_the_rebound_line(
    client: FlaskClient,
) -> None:
    order = medication(text="Denosumab 60 mg subcutaneous every 6 months", status="stopped")
    order["authoredOn"] = "2021-01-15"
    injection = administration("Denosumab 60 mg/mL injection", "2026-01-20", code="993449")
    [card] = cards(client, RISE, medications=[order], administrations=[injection])
    assert fired([card]) == [BONE]
    assert "denosumab stopped: rebound bone turnover" in card["summary"]
    assert "given 20 Jan 2026" in card["detail"]
    assert BONE_ALP not in suggested(card)


def test_a_dose_not_given_or_undated_does_not_count(client: FlaskClient) -> None:
    for dose in (
        administration("Denosumab 60 mg/mL injection", "2026-01-20", status="not-done"),
        administration("Denosumab 60 mg/mL injection", "2026-01-20", status="entered-in-error"),
        {**administration("Denosumab 60 mg/mL injection", "2026-01-20"), "effectiveDateTime": None},
    ):
        [card] = cards(client, RISE, administrations=[dose])
        assert "denosumab" not in card["summary"].lower(), dose["status"]
        assert BONE_ALP in suggested(card)


def test_the_key_is_declared_and_its_absence_is_not_a_gap_on_the_card(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    document = app.test_client().get("/cds-services").get_json()
    service = next(s for s in document["services"] if s["id"] == RESULT_SIGN_ID)
    assert service["prefetch"]["administrations"].startswith(
        "MedicationAdministration?patient={{context.patientId}}&status=completed,in-progress,stopped"
    )
    assert [k.key for k in DATA_KINDS if k.supplementary] == ["administrations"]
    # Most EHRs cannot serve it: sent as an OperationOutcome (and no fhirServer to fetch it
    # from), the card does not list it as missing, and medications stay known.
    prefetch: dict[str, Any] = full_prefetch()
    prefetch["administrations"] = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "not-supported"}],
    }
    earlier = [alp(22, when="2026-08-01T08:00:00Z")]
    prefetch["labs"]["entry"] = [{"resource": r} for r in earlier]
    response = app.test_client().post(SERVICE, json=sign_request([alp(20)], prefetch))
    [card] = response.get_json()["cards"]
    assert "Not available" not in card["detail"]
    assert fired([card]) == [PERSISTENT]
    # Nor is the call logged as answered on partial data (it would be, on every call, at every
    # EHR that does not serve it); the trace keeps it.
    assert not [r for r in caplog.records if "partial data" in r.getMessage()]
    # The medication statements, by contrast, are a gap when they cannot be had.
    prefetch["statements"] = prefetch["administrations"]
    response = app.test_client().post(SERVICE, json=sign_request([alp(20)], prefetch))
    [card] = response.get_json()["cards"]
    assert "Not available: medication statements." in card["detail"]
    [warning] = [r for r in caplog.records if "partial data" in r.getMessage()]
    assert "statements" in warning.getMessage()
    assert "administrations" not in warning.getMessage()


def test_doses_given_in_part_over_a_period_or_by_reference_are_read(client: FlaskClient) -> None:
    earlier = [alp(22, when="2026-08-01T08:00:00Z")]
    # A stopped infusion (halted part-way) was still given; one charted by its period's start.
    halted = administration("Zoledronic acid 5 mg/100 mL IV", "2026-03-02", status="stopped")
    by_period = {
        **administration("Zoledronic acid 5 mg/100 mL IV", "x"),
        "effectiveDateTime": None,
        "effectivePeriod": {"start": "2026-03-02T10:00:00Z", "end": "2026-03-02T10:30:00Z"},
    }
    # A drug named by reference to a Medication included in the bundle.
    drug = {"resourceType": "Medication", "id": "zol", "code": {"text": "Zoledronic acid 5 mg"}}
    by_reference = {
        **administration("x", "2026-03-02"),
        "medicationCodeableConcept": None,
        "medicationReference": {"reference": "Medication/zol"},
    }
    for dose in (halted, by_period, [by_reference, drug]):
        doses = dose if isinstance(dose, list) else [dose]
        [card] = cards(client, [alp(20)], labs=earlier, administrations=doses)
        assert "given 2 Mar 2026" in card["summary"], doses[0]["id"]
