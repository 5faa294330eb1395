"""Eighteenth round (2026-12-02), part E: the liver-source card reads the context that changes
the first test (review 19, pattern 2; docs/rulebook.md, "Eighteenth round (2026-12-02), part E")."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.rules_helper import cards, fired
from tests.support.fhir import alp, condition, ggt, medication, observation, procedure

LIVER = "alp-high-liver-source"
SURGERY = "alp-high-after-biliary-surgery"
PBC_RESPONSE = "alp-high-pbc-response"
AMA = "anti-mitochondrial"


def bilirubin(mg_dl: float, when: str = "2026-11-20T08:00:00Z") -> dict[str, Any]:
    return observation("1975-2", mg_dl, when=when, unit="mg/dL", ucum="mg/dL", low=0.1, high=1.2)


def alt(value: float, when: str = "2026-11-20T08:00:00Z") -> dict[str, Any]:
    return observation("1742-6", value, when=when, low=7, high=40)


def temperature(celsius: float) -> dict[str, Any]:
    return observation("8310-5", celsius, unit="Cel", ucum="Cel")


def steps(card: dict[str, Any]) -> list[str]:
    return [s.split("\n\n")[0] for s in card["detail"].split("\n- ")[1:]]


# --- R19-26: heart failure -------------------------------------------------------------------

HEART_FAILURE = condition("I50.9")


def test_heart_failure_names_congestion_and_holds_back_ama_and_ultrasound_today(
    client: FlaskClient,
) -> None:
    # R19-26: 81-year-old, I50.9, ALP 2x, GGT 5x, bilirubin 38 umol/L (2.2 mg/dL), ALT normal.
    found = cards(client, [alp(210), ggt(190), bilirubin(2.2), alt(35)], conditions=[HEART_FAILURE])
    assert fired(found) == [LIVER]
    [card] = found
    # Review 21, R21-08 (nineteenth round, part B): at ALP 2x or more with a raised bilirubin,
    # obstruction ranks with congestion; "congestion likely" and "congestion can explain it"
    # were too firm for this picture (this patient is at 2.02x).
    summary = card["summary"]
    assert "with heart failure: congestion or obstruction; ultrasound with Doppler" in summary
    lines = steps(card)
    assert lines[0].startswith("Heart failure recorded: congestion or obstruction")
    assert "ducts and hepatic veins" in lines[0]
    assert "recheck once decongested" in lines[0]
    assert not any("congestion can explain it" in s for s in lines)
    assert not any(s.startswith("Bilirubin raised: ultrasound today") for s in lines)
    assert not any(s.startswith("Ducts not dilated") for s in lines)


def test_heart_failure_does_not_quiet_a_fever_or_a_deep_jaundice(client: FlaskClient) -> None:
    # Over-reach: a fever with heart failure is still cholangitis first, ultrasound today.
    found = cards(
        client,
        [alp(210), ggt(190), bilirubin(2.2), temperature(38.6)],
        conditions=[HEART_FAILURE],
    )
    [card] = found
    assert "suspected cholangitis" in card["summary"]
    assert not any(s.startswith("Heart failure recorded") for s in steps(card))
    # A bilirubin past what congestion makes (3 mg/dL) is imaged today, heart failure or not.
    [card] = cards(client, [alp(210), ggt(190), bilirubin(4.5)], conditions=[HEART_FAILURE])
    assert any(s.startswith("Bilirubin raised: ultrasound today") for s in steps(card))
    # Without heart failure the card is as before.
    [card] = cards(client, [alp(210), ggt(190), bilirubin(2.2)])
    assert card["summary"].endswith("liver or biliary source; ultrasound first")
    assert any(s.startswith("Bilirubin raised: ultrasound today") for s in steps(card))
    assert any(s.startswith("Ducts not dilated: anti-mitochondrial") for s in steps(card))


def test_heart_failure_with_a_normal_bilirubin_asks_for_one_ultrasound(client: FlaskClient) -> None:
    [card] = cards(client, [alp(190), ggt(190), bilirubin(0.8)], conditions=[HEART_FAILURE])
    lines = steps(card)
    assert lines[0].startswith("Heart failure recorded")
    assert not any(s.startswith("Right upper quadrant ultrasound first") for s in lines)
    assert not any("congestion can explain it" in s for s in lines)


def test_a_resolved_heart_failure_congests_nothing(client: FlaskClient) -> None:
    [card] = cards(client, [alp(210), ggt(190)], conditions=[condition("I50.9", status="resolved")])
    assert "heart failure" not in card["summary"]
    assert any(s.startswith("Ducts not dilated") for s in steps(card))


# --- R19-29: after a cholecystectomy ---------------------------------------------------------

CHOLECYSTECTOMY = procedure("45595009", "2026-11-17T08:00:00Z")  # 3 days before the ALP


def test_a_cholestatic_rise_days_after_a_cholecystectomy_is_the_surgeons_today(
    client: FlaskClient,
) -> None:
    # R19-29: ALP 95 -> 310 in 10 days, bilirubin 10 -> 48 umol/L, ALT 210, GGT 380.
    earlier = [alp(95, when="2026-11-10T08:00:00Z"), bilirubin(0.6, when="2026-11-10T08:00:00Z")]
    found = cards(
        client,
        [alp(310), ggt(380), bilirubin(2.8), alt(210)],
        labs=earlier,
        procedures=[CHOLECYSTECTOMY],
    )
    assert fired(found) == [SURGERY]
    [card] = found
    assert card["indicator"] == "warning"
    assert "retained stone, bile leak or duct injury; surgical team today" in card["summary"]
    assert "up from 95 U/L" in card["detail"]
    assert "MRCP" in card["detail"]
    assert AMA not in card["detail"]


def test_a_falling_alp_after_a_cholecystectomy_or_an_old_one_is_not_the_surgeons(
    client: FlaskClient,
) -> None:
    # Over-reach: raised before the operation (the stone it was for) and now falling.
    earlier = [alp(420, when="2026-11-10T08:00:00Z")]
    found = cards(client, [alp(250), ggt(200)], labs=earlier, procedures=[CHOLECYSTECTOMY])
    assert SURGERY not in fired(found)
    # A cholecystectomy 60 days before is past the window: the liver card, as before.
    old = procedure("45595009", "2026-09-21T08:00:00Z")
    assert fired(cards(client, [alp(310), ggt(380)], procedures=[old])) == [LIVER]


def test_a_rise_from_a_normal_alp_within_weeks_holds_back_ama(client: FlaskClient) -> None:
    # R19-29, the general part: PBC does not raise the ALP from normal in weeks.
    earlier = [alp(95, when="2026-11-01T08:00:00Z")]
    [card] = cards(client, [alp(250), ggt(200)], labs=earlier)
    lines = steps(card)
    assert any(
        s.startswith("ALP normal on 1 Nov 2026: a rise within weeks is acute") for s in lines
    )
    assert AMA not in card["detail"]
    # Over-reach: a normal ALP a year before still leaves AMA for PBC.
    earlier = [alp(95, when="2025-12-01T08:00:00Z")]
    [card] = cards(client, [alp(250), ggt(200)], labs=earlier)
    assert AMA in card["detail"]


# --- R19-46: PBC coded inactive --------------------------------------------------------------


def test_pbc_coded_inactive_on_ursodiol_is_known_pbc(client: FlaskClient) -> None:
    # R19-46: K74.3 clinicalStatus inactive, ursodeoxycholic acid active, ALP 2.5x.
    udca = [medication(text="Ursodeoxycholic acid 500 mg tablet")]
    for status in ("inactive", "resolved"):
        found = cards(
            client,
            [alp(260), ggt(200), bilirubin(0.8)],
            conditions=[condition("K74.3", status=status)],
            medications=udca,
        )
        assert fired(found) == [PBC_RESPONSE], status
        assert AMA not in found[0]["detail"]


def test_a_refuted_pbc_still_does_not_count(client: FlaskClient) -> None:
    udca = [medication(text="Ursodeoxycholic acid 500 mg tablet")]
    for verification in ("refuted", "entered-in-error"):
        found = cards(
            client,
            [alp(260), ggt(200), bilirubin(0.8)],
            conditions=[condition("K74.3", status="inactive", verification=verification)],
            medications=udca,
        )
        assert fired(found) == [LIVER], verification


# --- R19-52: liver metastases resected -------------------------------------------------------


def test_resected_liver_metastases_lead_to_recurrence_imaging_not_ama(client: FlaskClient) -> None:
    # R19-52: C78.7 resolved, Z85.038, ALP 90 -> 240, GGT 280.
    earlier = [alp(90, when="2026-06-01T08:00:00Z")]
    found = cards(
        client,
        [alp(240), ggt(280), bilirubin(0.9)],
        labs=earlier,
        conditions=[condition("C78.7", status="resolved"), condition("Z85.038", status="resolved")],
    )
    assert fired(found) == [LIVER]
    [card] = found
    lines = steps(card)
    assert lines[0].startswith("Liver metastases treated before: a new rise is recurrence")
    assert "CEA" in lines[0]
    assert AMA not in card["detail"]


def test_a_treated_bowel_cancer_with_a_new_liver_source_rise_gets_ct(client: FlaskClient) -> None:
    found = cards(
        client, [alp(240), ggt(280)], conditions=[condition("Z85.038", status="resolved")]
    )
    [card] = found
    assert any("a new liver-source rise may be metastases; CT" in s for s in steps(card))
    assert AMA not in card["detail"]
    # Over-reach: a history of a skin cancer that rarely spreads (Z85.828) changes nothing.
    [card] = cards(
        client, [alp(240), ggt(280)], conditions=[condition("Z85.828", status="resolved")]
    )
    assert "CT" not in card["detail"]
    assert AMA in card["detail"]


def test_active_liver_metastases_still_explain_the_alp(client: FlaskClient) -> None:
    # Over-reach: an active C78.7 is a known cause (the liver-known card), not "treated before".
    found = cards(client, [alp(240), ggt(280)], conditions=[condition("C78.7")])
    assert LIVER not in fired(found)
    assert all("treated before" not in c["detail"] for c in found)


# --- R19-22 and R19-56: myeloma and lymphoma -------------------------------------------------


def test_myeloma_names_amyloid_and_infiltration_not_metastases(client: FlaskClient) -> None:
    # R19-22: C90.00, ALP 2.3x, GGT 150, bilirubin normal.
    [card] = cards(client, [alp(240), ggt(150), bilirubin(0.6)], conditions=[condition("C90.00")])
    assert "suggests liver metastases" not in card["detail"]
    lines = steps(card)
    assert lines[0].startswith("Known multiple myeloma: liver involvement is AL amyloid")
    assert "haematology" in lines[0]
    assert AMA not in card["detail"]


def test_a_solid_tumour_keeps_the_metastases_line(client: FlaskClient) -> None:
    # Over-reach: breast cancer (bone-tropic) still suggests liver metastases.
    [card] = cards(client, [alp(240), ggt(150)], conditions=[condition("C50.911")])
    assert "a liver source suggests liver metastases" in card["detail"]


def test_lymphoma_names_infiltration_for_haematology(client: FlaskClient) -> None:
    # R19-56: active DLBCL (C83.3-), ALP 5x, GGT raised, bilirubin normal.
    [card] = cards(client, [alp(520), ggt(410), bilirubin(0.8)], conditions=[condition("C83.30")])
    lines = steps(card)
    assert any("lymphomatous infiltration" in s and "haematology" in s for s in lines)
    assert not any(
        s.startswith("ALP 5.0x with a normal bilirubin can be infiltration") for s in lines
    )
    assert AMA not in card["detail"]


def test_heart_failure_after_a_drainage_keeps_the_drainage_lines(client: FlaskClient) -> None:
    # Over-reach: the congestion lines need no recent drainage; the bilirubin line stays then.
    ercp = procedure("386718000", "2026-11-10T08:00:00Z")
    [card] = cards(
        client, [alp(210), ggt(190), bilirubin(2.2)], conditions=[HEART_FAILURE], procedures=[ercp]
    )
    lines = steps(card)
    assert not any(s.startswith("Heart failure recorded") for s in lines)
    assert any(s.startswith("Bilirubin raised: ultrasound today") for s in lines)
