"""Eleventh round, part B (2026-11-30): the tenth clinical review's defects U3, W3, W4, W5, W6,
N3 and three text defects, each with the record that showed it (docs/rulebook.md, "Eleventh
round, part B")."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from cds_service.knowledge.model import KnowledgeBase
from tests.rules_helper import cards, fired
from tests.support.fhir import alp, condition, ggt, medication

LOCAL = "http://example.org/local"


def worded(text: str, **kwargs: Any) -> dict[str, Any]:
    entry = condition("99999", system=LOCAL, **kwargs)
    entry["code"]["text"] = text
    return entry


# --- U3: a cancer history in words, or a resolved cancer code, is not a mild rise to repeat ---

MILD = [alp(150, low=40, high=129), ggt(30)]
EARLIER = [alp(100, low=40, high=129, when="2025-12-15T08:00:00Z")]


def test_a_cancer_history_in_words_is_investigated_now(client: FlaskClient) -> None:
    # Reviewer 26: "History of malignant melanoma, excised 2020", ALP 100 then 150.
    assert fired(cards(client, MILD, labs=EARLIER)) == ["alp-high-mild-isolated"]
    for text in (
        "History of malignant melanoma, excised 2020",
        "Prostate cancer, treated 2019",
        "Previous breast cancer (lumpectomy and radiotherapy 2015)",
        "H/O carcinoma of the colon",
        "Hodgkin lymphoma in remission",
    ):
        found = cards(client, MILD, labs=EARLIER, conditions=[worded(text)])
        assert fired(found) == ["alp-high-bone-source"], text
        assert "a history of cancer: investigate the bone source now" in found[0]["summary"]
    # Not a family history, a screening, a benign lesion or a denial: the repeat stands.
    for text in (
        "Family history of prostate cancer",
        "No history of cancer",
        "Previous cervical cancer screening normal",
        "Basal cell carcinoma of the nose, excised 2021",
        "History of benign breast lump",
    ):
        found = cards(client, MILD, labs=EARLIER, conditions=[worded(text)])
        assert fired(found) == ["alp-high-mild-isolated"], text


def test_a_resolved_or_inactive_cancer_code_is_a_history(client: FlaskClient) -> None:
    # Reviewer 28: C61 "Malignant neoplasm of prostate", clinicalStatus resolved, abated 2019.
    for code, status in (("C61", "resolved"), ("C43.5", "inactive"), ("C50.911", "remission"),
                         ("C18.7", "resolved")):  # fmt: skip
        found = cards(client, MILD, labs=EARLIER, conditions=[condition(code, status=status)])
        assert fired(found) == ["alp-high-bone-source"], code
        assert "a history of cancer" in found[0]["summary"]
    # Other skin cancer (C44, basal and squamous cell) is left out, as Z85.828 is.
    found = cards(client, MILD, labs=EARLIER, conditions=[condition("C44.311", status="resolved")])
    assert fired(found) == ["alp-high-mild-isolated"]
    # A family history (Z80) is not a personal one.
    found = cards(client, MILD, labs=EARLIER, conditions=[condition("Z80.42")])
    assert fired(found) == ["alp-high-mild-isolated"]
    # An active prostate cancer keeps its own (bone-tropic) summary: bone metastases.
    found = cards(client, MILD, labs=EARLIER, conditions=[condition("C61")])
    assert fired(found) == ["alp-high-bone-source"]
    assert "look for bone metastases" in found[0]["summary"]


def test_a_refuted_cancer_code_is_not_a_history(client: FlaskClient) -> None:
    found = cards(client, MILD, labs=EARLIER,
                  conditions=[condition("C61", status=None, verification="refuted")])  # fmt: skip
    assert fired(found) == ["alp-high-mild-isolated"]


def test_a_name_with_parts_needs_every_part(kb: KnowledgeBase) -> None:
    history = kb.valuesets["cancer-history"]
    assert history.match_name_in("history of malignant melanoma") is not None
    assert history.match_name_in("melanoma") is None
    assert history.match_name_in("family history of melanoma") is None


# --- W3: an AFF coded as a subtrochanteric or shaft fracture, with "atypical" in its words -----


def on_zoledronate() -> dict[str, Any]:
    drug = medication(text="Zoledronic acid 5 mg IV yearly", status="active")
    drug["authoredOn"] = "2018-11-01"
    return drug


def test_a_subtrochanteric_fracture_worded_atypical_is_an_aff(client: FlaskClient) -> None:
    # Reviewer 14: S72.22XA "Atypical subtrochanteric fracture of femur, left
    # (bisphosphonate-associated)", zoledronate, ALP 48 then 33 then 30.
    labs = [alp(48, when="2018-10-01T08:00:00Z"), alp(33, when="2026-07-05T08:00:00Z")]
    for code, text in (
        (
            "S72.22XA",
            "Atypical subtrochanteric fracture of femur, left (bisphosphonate-associated)",
        ),
        ("S72.301A", "Fracture of shaft of right femur, atypical"),
    ):
        fracture = condition(code, onset="2026-07-04")
        fracture["code"]["text"] = text
        found = cards(client, [alp(30)], labs=labs, medications=[on_zoledronate()],
                      conditions=[fracture])  # fmt: skip
        assert fired(found) == ["alp-low-antiresorptive-aff"], code
    # The same codes without the word are ordinary fractures; a neck fracture never counts.
    for code, text in (
        ("S72.22XA", "Subtrochanteric fracture of femur, left"),
        ("S72.001A", "Atypical fracture of neck of right femur"),
    ):
        fracture = condition(code, onset="2026-07-04")
        fracture["code"]["text"] = text
        found = cards(client, [alp(30)], labs=labs, medications=[on_zoledronate()],
                      conditions=[fracture])  # fmt: skip
        assert "alp-low-antiresorptive-aff" not in fired(found), code


# --- W4: a measured 25-OH vitamin D of 30 nmol/L or more does not leave a coded deficiency ----
# explaining a raised bone ALP -------------------------------------------------------------


def test_an_insufficient_but_not_deficient_vitamin_d_outweighs_the_coded_deficiency(
    client: FlaskClient,
) -> None:
    # Reviewer 15: E55.9, colecalciferol 800 IU for 8 months, 25-OH D 18 ng/mL (45 nmol/L), no
    # range; ALP 160 then 165 (1.6x), GGT 20: silence (the coded deficiency explained it).
    from tests.support.fhir import observation

    coded = condition("E55.9", onset="2026-03-01")
    earlier = [alp(160, low=35, high=104, when="2026-08-20T08:00:00Z")]
    labs = [alp(165, low=35, high=104), ggt(20)]
    for value, unit in ((18, "ng/mL"), (45, "nmol/L"), (30, "nmol/L")):
        vit_d = observation("62292-8", value, unit=unit, ucum=unit, when="2026-10-20T08:00:00Z")
        found = cards(client, labs, labs=[*earlier, vit_d], conditions=[coded])
        assert fired(found) == ["alp-high-bone-source"], (value, unit)
        assert "does not explain this rise" in found[0]["detail"]
    # Below 30 nmol/L (11 ng/mL, 27 nmol/L) the coded deficiency still explains it (quiet or
    # its own card), and the line is not shown.
    for value, unit in ((11, "ng/mL"), (29, "nmol/L")):
        vit_d = observation("62292-8", value, unit=unit, ucum=unit, when="2026-10-20T08:00:00Z")
        found = cards(client, labs, labs=[*earlier, vit_d], conditions=[coded])
        assert "alp-high-bone-source" not in fired(found), (value, unit)
    # A result with no unit is never compared with the threshold: the code still explains it.
    vit_d = observation("62292-8", 45, unit=None, ucum=None, when="2026-10-20T08:00:00Z")
    vit_d["referenceRange"] = [{"low": {"value": 50}, "high": {"value": 125}}]
    found = cards(client, labs, labs=[*earlier, vit_d], conditions=[coded])
    assert "alp-high-bone-source" not in fired(found)


# --- W5: a large documented rise is compared over three years, not one ---------------------


def test_a_large_rise_from_an_alp_13_months_back_is_a_real_change(client: FlaskClient) -> None:
    # Reviewer 20: ALP 45 in October 2025, 118 now (1.13x, +162%), woman of 70: the repeat card.
    labs = [alp(118, low=35, high=104), ggt(20)]
    for when in ("2025-10-15T08:00:00Z", "2024-01-10T08:00:00Z"):
        found = cards(client, labs, labs=[alp(45, low=35, high=104, when=when)])
        assert fired(found) == ["alp-high-bone-source"], when
        assert "far more than the variation between results" in found[0]["detail"]
    # The latest earlier ALP is the baseline: 45 three years back, 100 last spring: the repeat.
    older = [
        alp(45, low=35, high=104, when="2024-01-10T08:00:00Z"),
        alp(100, low=35, high=104, when="2026-04-10T08:00:00Z"),
    ]
    found = cards(client, labs, labs=older)
    assert fired(found) == ["alp-high-mild-isolated"]


def test_an_old_raised_alp_past_two_years_does_not_end_a_first_rise(client: FlaskClient) -> None:
    # The longer change window does not widen the first-raised history (low_lookback_days): a
    # raised ALP 30 months back leaves today's as the first raised of its run.
    labs = [alp(118, low=35, high=104), ggt(20)]
    old_high = alp(112, low=35, high=104, when="2024-05-10T08:00:00Z")
    found = cards(client, labs, labs=[old_high])
    assert fired(found) == ["alp-high-mild-isolated"]


# --- W6: a child with rickets in the labs and a normal GGT gets the rickets wording ----------


def test_toddler_rickets_with_a_normal_ggt_gets_x_ray_calcium_and_no_adult_loading(
    client: FlaskClient,
) -> None:
    # Reviewer 21: boy of 2, bow legs, ALP 1250, GGT 12, 25-OH D 18 nmol/L, PTH 25 pmol/L,
    # phosphate low, calcium 2.08: "consistent with vitamin D deficiency ... loading".
    from tests.support.fhir import observation, patient

    boy = patient("male", "2024-09-01")
    vit_d = observation("62292-8", 18, unit="nmol/L", ucum="nmol/L")
    pth = observation("2731-8", 25, unit="pmol/L", ucum="pmol/L", low=1.6, high=6.9)
    phosphate = observation("2777-1", 0.9, unit="mmol/L", ucum="mmol/L", low=1.3, high=2.1)
    calcium = observation("17861-6", 2.08, unit="mmol/L", ucum="mmol/L", low=2.2, high=2.7)
    labs = [alp(1250, low=None, high=None), ggt(12, low=5, high=36), calcium]
    found = cards(client, labs, labs=[vit_d, pth, phosphate], pt=boy)
    assert fired(found) == ["alp-high-bone-explained"]
    card = found[0]
    assert "nutritional rickets likely; wrist or knee X-ray, treat" in card["summary"]
    assert "treat with vitamin D and calcium" in card["detail"]
    assert "Calcium 2.08 mmol/L is low" in card["detail"]
    assert "loading" not in card["detail"]
    # Deficient with a low phosphate but no PTH, ALP over 3x: the bone-source card, same words.
    found = cards(client, labs, labs=[vit_d, phosphate], pt=boy)
    assert fired(found) == ["alp-high-bone-source"]
    card = found[0]
    assert "nutritional rickets likely; wrist or knee X-ray, treat" in card["summary"]
    assert "treat with vitamin D and calcium" in card["detail"]
    assert "Calcium 2.08 mmol/L is low" in card["detail"]
    # An adult with a deficient 25-OH vitamin D keeps the adult replacement line.
    adult_labs = [alp(180, low=40, high=129), ggt(20)]
    found = cards(
        client, adult_labs, labs=[observation("62292-8", 18, unit="nmol/L", ucum="nmol/L")]
    )
    assert fired(found) == ["alp-high-bone-explained"]
    assert "colecalciferol loading" in found[0]["detail"]
    assert "rickets" not in found[0]["summary"]


# --- N3: shock liver on heart failure with a GGT of 4x is congestion's, not a second disease --


def test_shock_liver_on_heart_failure_with_ggt_4x_is_quiet(client: FlaskClient) -> None:
    # Reviewer 22: ischaemic hepatitis (cardiogenic shock) on heart failure, ALT 2500, R 36,
    # GGT 250 (4.1x): viral and autoimmune serology.
    from tests.support.fhir import observation

    shock = condition("K76.2", onset="2026-11-17")
    shock["code"]["text"] = "Ischaemic hepatitis (shock liver)"
    failure = condition("I50.9", onset="2024-05-01")
    injury = [
        observation("1742-6", 2500, low=7, high=45),
        observation("1920-8", 3100, low=8, high=43),
    ]
    labs = [alp(200, low=40, high=129), ggt(250, low=10, high=61), *injury]
    assert cards(client, labs, conditions=[shock, failure]) == []
    # Without the heart failure: the tenth round's 3x cap stands (a card; twelfth round: the
    # second-cause card with ultrasound and Doppler, not the hepatitis serology).
    assert fired(cards(client, labs, conditions=[shock])) == [
        "alp-high-acute-injury-disproportionate"
    ]
    # Heart failure in words counts; a resolved one does not.
    worded_failure = worded("Congestive cardiac failure (HFrEF)")
    assert cards(client, labs, conditions=[shock, worded_failure]) == []
    gone = condition("I50.9", status="resolved")
    assert cards(client, labs, conditions=[shock, gone]) != []
    # GGT 5x or more, or heart failure without a shock liver: still a card.
    high_ggt = [alp(200, low=40, high=129), ggt(320, low=10, high=61), *injury]
    assert cards(client, high_ggt, conditions=[shock, failure]) != []
    assert cards(client, labs, conditions=[failure]) != []
    # A mixed pattern (ALT 3x): not the injury's, a card.
    mixed = [alp(200, low=40, high=129), ggt(250, low=10, high=61),
             observation("1742-6", 140, low=7, high=45)]  # fmt: skip
    assert cards(client, mixed, conditions=[shock, failure]) != []


# --- Text: the marker named by the recorded cancer; LDH not asked for when resulted ----------


def test_psa_is_named_only_for_a_prostate_cancer(client: FlaskClient) -> None:
    # Review 10 patient 18: "the cancer's marker (PSA after prostate cancer)" for a woman with
    # breast cancer.
    for code in ("Z85.3", "C50.911"):
        status = "resolved" if code.startswith("C") else "active"
        found = cards(client, MILD, labs=EARLIER, conditions=[condition(code, status=status)])
        assert fired(found) == ["alp-high-bone-source"], code
        assert "PSA" not in found[0]["detail"], code
        assert "bone imaging with the oncology team" in found[0]["detail"]
    # Active breast cancer (bone-tropic): no PSA either.
    found = cards(client, MILD, labs=EARLIER, conditions=[condition("C50.911")])
    assert "PSA" not in found[0]["detail"]
    for entry in (condition("Z85.46"), condition("C61", status="resolved"), condition("C61")):
        found = cards(client, MILD, labs=EARLIER, conditions=[entry])
        assert "PSA" in found[0]["detail"]


def test_ldh_is_not_asked_for_when_already_resulted(client: FlaskClient) -> None:
    # Review 9 patient 09: day 1 after delivery, platelets 72, LDH 820 resulted: "LDH and a blood
    # film too".
    import json
    from pathlib import Path

    request = json.loads(
        (
            Path(__file__).parent.parent
            / "fhir_fixtures/scenarios/v11-postpartum-low-platelets-ldh-resulted/request.json"
        ).read_text()
    )
    response = client.post("/cds-services/alp-result-sign", json=request)
    detail = response.get_json()["cards"][0]["detail"]
    assert "LDH and a blood film too" not in detail
    assert "LDH 820 U/L" in detail
    # Twentieth round, part C (R29-35): platelets 72 with AST and LDH over their limits are
    # HELLP by the Tennessee criteria, stated as present; the film is still asked for.
    assert "a blood film" in detail
