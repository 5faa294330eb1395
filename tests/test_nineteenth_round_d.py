"""Nineteenth round (2026-12-02), part D: review 23's cholangitis in known PBC or PSC, and ALP
values as the laboratory sent them (docs/rulebook.md, "Nineteenth round (2026-12-02), part D").
Each patient is rebuilt from the reviewer's facts (docs/clinical-reviews/review-23.md)."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from cds_service.clinical.labs import result_quantity
from tests.rules_helper import SERVICE, cards, fired
from tests.support.fhir import (
    PATIENT_ID,
    alp,
    condition,
    full_prefetch,
    ggt,
    medication,
    patient,
    searchset,
    sign_request,
)
from tests.support.labs import Labs

CHOLANGITIS = "alp-high-suspected-cholangitis"
PBC_NEW_RISE = "alp-high-pbc-new-rise"
PBC_RESPONSE = "alp-high-pbc-response"
NEW_JAUNDICE = "alp-high-bilirubin-new-known"
PSC_CARD = "alp-high-psc-cholestasis"
LIVER = "alp-high-liver-source"

NOW = "2026-12-02T07:30:00Z"
SEPTEMBER = "2026-09-01T08:00:00Z"
MARCH = "2026-03-01T08:00:00Z"
AUGUST = "2026-08-10T08:00:00Z"

PBC = condition("K74.3", onset="2018-01-01")
PSC = condition("K83.01", onset="2016-01-01")
COLITIS = condition("K51.90", onset="2012-01-01")
URSODIOL = medication(text="Ursodeoxycholic acid 500 mg twice daily")


LABS = Labs(NOW)


def steps(card: dict[str, Any]) -> list[str]:
    return [s.split("\n\n")[0] for s in card["detail"].split("\n- ")[1:]]


def pbc_jump(bili_now: float = 1.0, infection: bool = True) -> tuple[list[Any], list[Any]]:
    """R23-41 (and R23-25, R23-42): PBC on ursodiol, ALP 172 and 176, today 412, GGT 420, ALT
    140; temperature 38.9, WBC 16.5 and CRP 145 unless `infection` is False."""
    now = [alp(412, when=NOW), LABS.bilirubin(bili_now), ggt(420, high=40, when=NOW), LABS.alt(140)]
    earlier = [alp(176, when=SEPTEMBER), alp(172, when=MARCH), LABS.bilirubin(0.7, when=SEPTEMBER)]
    if infection:
        earlier += [LABS.temperature(38.9), LABS.wbc(16.5), LABS.crp(145)]
    return now, earlier


# --- R23-41 (unsafe): fever, WBC and CRP with a 2.3-fold ALP jump in known PBC ----------------


def test_infection_signs_with_a_jump_in_pbc_are_suspected_cholangitis(client: FlaskClient) -> None:
    now, earlier = pbc_jump()
    found = cards(client, now, labs=earlier, conditions=[PBC], medications=[URSODIOL])
    assert fired(found) == [CHOLANGITIS]
    [card] = found
    assert card["indicator"] == "warning"
    assert card["summary"].startswith(
        "Infection signs and a new rise in known PBC: acute cholangitis"
    )
    assert card["summary"].endswith("cultures, antibiotics, ultrasound today")
    assert len(card["summary"]) <= 126
    lines = steps(card)
    assert lines[0].startswith("Blood cultures, then antibiotics")
    assert any(s.startswith("Ultrasound today") for s in lines)
    assert not any(s.startswith("Known PSC") for s in lines)
    assert "second-line" not in card["detail"]
    assert "no new diagnostic work-up" not in card["detail"]
    assert len(card["detail"].split()) <= 150


# --- R23-42 (wrong): the same jump without infection signs is a new event --------------------


def test_a_jump_in_treated_pbc_is_a_new_event_not_non_response(client: FlaskClient) -> None:
    now, earlier = pbc_jump(infection=False)
    found = cards(client, now, labs=earlier, conditions=[PBC], medications=[URSODIOL])
    assert fired(found) == [PBC_NEW_RISE]
    [card] = found
    assert card["indicator"] == "info"
    assert "in known PBC, up from 176 U/L on 1 Sep 2026" in card["summary"]
    assert card["summary"].endswith("not non-response; ultrasound first")
    lines = steps(card)
    assert lines[0].startswith("Right upper quadrant ultrasound first")
    assert "whether the ursodeoxycholic acid is being taken" in lines[1]
    assert any(s.startswith("ALT 3.5x: IgG and smooth-muscle antibody") for s in lines)
    assert "second-line" not in card["detail"]


def test_a_steady_alp_above_the_response_threshold_keeps_the_response_card(
    client: FlaskClient,
) -> None:
    # R23-40's shape (2.3x on ursodiol, not steady against June's 235) with a rise within the
    # reference change on the last value (240 to 296, 23%): still a treatment-response reading.
    found = cards(
        client,
        [alp(296, when=NOW), ggt(160, high=40, when=NOW), LABS.bilirubin(0.9)],
        labs=[alp(235, when="2026-06-15T08:00:00Z"), alp(240, when=SEPTEMBER)],
        conditions=[PBC],
        medications=[URSODIOL],
    )
    assert fired(found) == [PBC_RESPONSE]
    assert "Infection signs" not in found[0]["detail"]
    # A normal ALT: no overlap line on the new-rise card.
    now, earlier = pbc_jump(infection=False)
    now[3] = LABS.alt(38)
    [card] = cards(client, now, labs=earlier, conditions=[PBC], medications=[URSODIOL])
    assert fired([card]) == [PBC_NEW_RISE]
    assert "smooth-muscle" not in card["detail"]


def test_infection_signs_without_a_rise_do_not_call_pbc_cholangitis(client: FlaskClient) -> None:
    # Over-reach: a first ALP in the window (no rise to read) with a fever: the response card,
    # which now says to image today when no other source is known.
    now, earlier = pbc_jump()
    earlier = [e for e in earlier if e["code"]["coding"][0]["code"] != "6768-6"]
    now[0] = alp(240, when=NOW)
    found = cards(client, now, labs=earlier, conditions=[PBC], medications=[URSODIOL])
    assert CHOLANGITIS not in fired(found)
    assert fired(found) == [PBC_RESPONSE]
    assert "Infection signs recorded: with no other source, ultrasound today" in found[0]["detail"]


# --- R23-25 and R23-26 (wrong): fever and a rising bilirubin in PBC and PSC -------------------


def test_fever_and_a_rising_bilirubin_in_pbc_lead_with_cholangitis(client: FlaskClient) -> None:
    now, earlier = pbc_jump(bili_now=4.1)
    found = cards(client, now, labs=earlier, conditions=[PBC], medications=[URSODIOL])
    assert fired(found) == [CHOLANGITIS]
    [card] = found
    assert "known PBC: acute cholangitis until excluded" in card["summary"]
    assert "Bilirubin 4.1 mg/dL raised: supports obstruction." in steps(card)
    assert "Fever or rigors" not in card["detail"]
    # Without the infection signs the new-jaundice warning is unchanged.
    now, earlier = pbc_jump(bili_now=4.1, infection=False)
    found = cards(client, now, labs=earlier, conditions=[PBC], medications=[URSODIOL])
    assert fired(found) == [NEW_JAUNDICE]
    assert "Fever or rigors: treat as cholangitis, same day." in steps(found[0])


def psc_patient(bili_now: float, infection: bool = True) -> list[list[Any]]:
    """R23-26: 41M, PSC with ulcerative colitis, ALP 352 against 338 in August, bilirubin 1.1
    then `bili_now`, GGT 380, ALT 110; temperature 38.6 and CRP 95."""
    now = [alp(352, when=NOW), LABS.bilirubin(bili_now), ggt(380, high=40, when=NOW), LABS.alt(110)]
    earlier = [alp(338, when=AUGUST), LABS.bilirubin(1.1, when=AUGUST)]
    if infection:
        earlier += [LABS.temperature(38.6), LABS.crp(95)]
    return [now, earlier]


def test_fever_and_a_rising_bilirubin_in_psc_is_cholangitis_first(client: FlaskClient) -> None:
    now, earlier = psc_patient(3.6)
    found = cards(client, now, labs=earlier, conditions=[PSC, COLITIS])
    assert fired(found) == [CHOLANGITIS]
    [card] = found
    assert card["summary"].startswith("Infection signs and a new rise in known PSC")
    # Twenty-second round, part O: the PSC line is merged into the cultures line.
    assert (
        "Blood cultures, then antibiotics without waiting for imaging; hepatology or ERCP team "
        "today; MRCP for a stricture once settled." in steps(card)
    )
    assert PSC_CARD not in fired(found)
    assert NEW_JAUNDICE not in fired(found)
    # Twenty-first round, part K (review 36, R36-42, unsafe): this expectation was clinically
    # wrong. PSC with a fever (38.6, CRP 95) and a raised GGT is Tokyo 2018 A + B with the
    # strictures as C: suspected cholangitis even with nothing rising (PSC with T 38.8, WBC 14
    # and a stable ALP was silent). It now says so without "a new rise". A rising bilirubin
    # without a fever keeps the new-jaundice warning.
    now, earlier = psc_patient(1.1)
    steady = cards(client, now, labs=earlier, conditions=[PSC, COLITIS])
    assert fired(steady) == [CHOLANGITIS]
    assert steady[0]["summary"].startswith("Infection signs in known PSC: acute cholangitis")
    now, earlier = psc_patient(3.6, infection=False)
    assert fired(cards(client, now, labs=earlier, conditions=[PSC, COLITIS])) == [NEW_JAUNDICE]


def test_a_recorded_fever_is_not_written_as_a_condition(client: FlaskClient) -> None:
    # Cirrhosis (not PBC or PSC) with a fever and a rising bilirubin: the new-jaundice warning
    # says the fever is recorded, with cultures and antibiotics.
    now, earlier = psc_patient(3.6)
    found = cards(client, now, labs=earlier, conditions=[condition("K74.60", onset="2019-01-01")])
    assert fired(found) == [NEW_JAUNDICE]
    lines = steps(found[0])
    assert any(s.startswith("Fever recorded: cholangitis or another sepsis") for s in lines)
    assert not any(s.startswith("Fever or rigors") for s in lines)


# --- R23-29 and R23-46 (wrong): values as the laboratory sent them ----------------------------


def text_alp(text: str, range_text: str | None, when: str = NOW) -> dict[str, Any]:
    resource = alp(None, low=None, high=None, when=when)
    resource["valueString"] = text
    if range_text is not None:
        resource["referenceRange"] = [{"text": range_text}]
    return resource


def post(client: FlaskClient, results: list[Any], **prefetch: Any) -> list[dict[str, Any]]:
    statements = prefetch.pop("statements", ())
    body = full_prefetch(**prefetch)
    body["statements"] = searchset(statements)
    response = client.post(SERVICE, json=sign_request(results, body))
    assert response.status_code == 200, response.get_json()
    found: list[dict[str, Any]] = response.get_json()["cards"]
    return found


def test_a_trailing_flag_is_a_flag_not_a_unit() -> None:
    for text in ("325 H", "325H", "325 (H)", "325 U/L H", "325 HH"):
        read = result_quantity({"valueString": text, "referenceRange": [{"text": "40-129 U/L"}]})
        assert read is not None, text
        assert read["value"] == 325.0, text
        assert read["unit"] == "U/L", text
        assert read["flag"] in ("H", "HH"), text
    # The unit comes from a text range, labelled by sex too, when it names one unit.
    read = result_quantity(
        {"valueString": "88", "referenceRange": [{"text": "Male 40 - 129 U/L; Female 35-104 U/L"}]}
    )
    assert read == {"value": 88.0, "unit": "U/L"}
    # Two different units, or other words, name none.
    read = result_quantity(
        {
            "valueString": "88",
            "referenceRange": [{"text": "Male 40-129 U/L; Female 0.6-1.7 ukat/L"}],
        }
    )
    assert read == {"value": 88.0}
    # A value far outside the range is not in its unit: 95 beside 0.58-1.74 ukat/L.
    read = result_quantity({"valueString": "95", "referenceRange": [{"text": "0.58-1.74 ukat/L"}]})
    assert read == {"value": 95.0}


def test_r23_29_an_alp_sent_as_325_h_with_a_text_range_is_interpreted(client: FlaskClient) -> None:
    found = cards(
        client,
        [text_alp("325 H", "40-129 U/L"), ggt(205, high=40, when=NOW)],
        pt=patient("male", "1968-08-08"),
    )
    assert fired(found) == [LIVER]
    assert found[0]["summary"].startswith("ALP 325 U/L (2.5x upper limit) with raised GGT")
    # With no unit anywhere the flag is still not called a unit.
    found = cards(client, [text_alp("325 H", None)], pt=patient("male", "1968-08-08"))
    assert fired(found) == ["alp-unit-unknown"]
    assert "sent without a unit" in found[0]["summary"]
    assert "not a unit" not in found[0]["summary"]


ALENDRONATE = {
    "resourceType": "MedicationStatement",
    "id": "ms-alendronate",
    "status": "active",
    "medicationCodeableConcept": {"text": "Alendronic acid 70 mg weekly"},
    "subject": {"reference": f"Patient/{PATIENT_ID}"},
    "effectivePeriod": {"start": "2021-03-01"},
}


def test_r23_46_a_value_below_every_limit_sent_as_text_counts_as_low(client: FlaskClient) -> None:
    earlier = [alp(22, low=30, high=130, when="2026-07-01T08:00:00Z")]
    conditions = [condition(c) for c in ("E11.9", "N18.31", "I48.91", "M17.11")]
    for range_text in ("30-130 U/L", "30 - 130", None):
        found = post(
            client,
            [text_alp("<20", range_text)],
            pt=patient("female", "1960-10-10"),
            labs=earlier,
            conditions=conditions,
            statements=[ALENDRONATE],
        )
        assert fired(found) == ["alp-low-persistent"], range_text
        [card] = found
        assert card["indicator"] == "warning"
        assert card["summary"].startswith("Persistently low ALP <20 U/L on Alendronic acid")
        assert "hypophosphatasia" in card["summary"]
    # A "<" with no unit above the lowest ALP limit (35 U/L) could be another unit's: not read.
    found = post(client, [text_alp("<50", None)], pt=patient("female", "1960-10-10"))
    assert fired(found) == ["alp-unit-unknown"]


def test_a_rise_in_pregnancy_is_not_read_as_a_new_event_in_pbc(client: FlaskClient) -> None:
    # Over-reach: placental ALP rises through pregnancy (R23-04's codes at 34 weeks).
    pregnant = [condition("Z33.1", onset="2026-04-15"), condition("Z3A.34", onset="2026-11-28")]
    now, earlier = pbc_jump(infection=False)
    found = cards(client, now, labs=earlier, conditions=[PBC, *pregnant], medications=[URSODIOL])
    assert PBC_NEW_RISE not in fired(found)
    now, earlier = pbc_jump()
    found = cards(client, now, labs=earlier, conditions=[PBC, *pregnant], medications=[URSODIOL])
    assert CHOLANGITIS not in fired(found)
