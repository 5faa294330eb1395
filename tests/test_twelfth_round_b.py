"""Twelfth round, part B (2026-12-01): the eleventh clinical review's bone, oncology and
endocrine defects, each with the record that showed it (docs/rulebook.md, "Twelfth round,
part B")."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

from cds_service.knowledge.model import KnowledgeBase
from tests.rules_helper import SERVICE, cards, fired
from tests.support.fhir import alp, condition, ggt, medication, observation, patient
from tests.test_eleventh_round_b import EARLIER, MILD, worded

FIXTURES = Path(__file__).resolve().parent.parent / "fhir_fixtures" / "scenarios"


# --- 1 (unsafe): "Breast ca 2018 - mastectomy", and a history without a history word ---------


def test_ca_beside_an_organ_or_treatment_word_is_a_cancer_history(client: FlaskClient) -> None:
    for text in (
        "Breast ca 2018 - mastectomy",
        "Ca prostate - RT 2016",
        "melanoma 2019, WLE",
        "Ca of the colon, hemicolectomy 2017",
        "Lung ca - lobectomy 2015",
        "Ca - mastectomy and chemo 2012",
        "Renal ca",
        "Hodgkin lymphoma - chemotherapy 2010",
    ):
        found = cards(client, MILD, labs=EARLIER, conditions=[worded(text, status="resolved")])
        assert fired(found) == ["alp-high-bone-source"], text
        assert "a history of cancer: investigate the bone source now" in found[0]["summary"]


def test_ca_as_calcium_is_not_cancer(client: FlaskClient) -> None:
    for text in (
        "Ca 2.35 mmol/L",
        "low Ca",
        "Ca supplement",
        "ca++ 1.9, hypocalcaemia",
        "Adjusted Ca 2.7 - hypercalcaemia under review",
        "Thyroid surgery 2019, low Ca since",
        "BRCA1 carrier",
        "Carcinoid syndrome ruled out",
        "Rt hip OA",
        "FH breast ca",
        "Breast ca screening normal",
    ):
        found = cards(client, MILD, labs=EARLIER, conditions=[worded(text)])
        assert fired(found) == ["alp-high-mild-isolated"], text


def test_whole_word_names_need_every_part_as_a_whole_word(kb: KnowledgeBase) -> None:
    history = kb.valuesets["cancer-history"]
    assert history.match_name_in("breast ca 2018 - mastectomy") is not None
    assert history.match_name_in("ca. breast") is not None
    assert history.match_name_in("ca 2.35 mmol/l") is None
    assert history.match_name_in("low ca") is None
    assert history.match_name_in("ca supplement") is None
    # "rt" is "right" too: never with "ca"; inside "heart" it is no word at all.
    assert history.match_name_in("rt knee, ca 2.2") is None
    assert history.match_name_in("melanoma, heart failure") is None
    assert history.match_name_in("melanoma rt arm, excised") is not None
    # "wle" is a word, not the end of another one.
    assert history.match_name_in("melanoma bowles") is None


def test_ca_prostate_names_psa(client: FlaskClient) -> None:
    man = patient("male", "1950-03-01")
    found = cards(client, MILD, labs=EARLIER, pt=man,
                  conditions=[worded("Ca prostate - RT 2016", status="inactive")])  # fmt: skip
    assert fired(found) == ["alp-high-bone-source"]
    assert "PSA" in found[0]["detail"]
    breast = worded("Breast ca 2018 - mastectomy", status="resolved")
    found = cards(client, MILD, labs=EARLIER, conditions=[breast])
    assert "PSA" not in found[0]["detail"]


# --- 2: an AFF described by its ASBMR 2014 features, without the word "atypical" -----------


def on_alendronate() -> dict[str, Any]:
    drug = medication(text="Alendronic acid 70 mg once weekly", status="active")
    drug["authoredOn"] = "2017-05-01"
    return drug


def fracture(code: str, text: str) -> dict[str, Any]:
    entry = condition(code, onset="2026-07-04")
    entry["code"]["text"] = text
    return entry


BEFORE_DRUG = [alp(70, when="2017-04-01T08:00:00Z")]


def test_an_aff_described_by_its_features_is_an_aff(client: FlaskClient) -> None:
    for code, text in (
        (
            "S72.21XA",
            "Transverse subtrochanteric fracture of right femur after fall from standing, "
            "lateral cortical beaking",
        ),
        ("S72.301A", "Right femoral shaft fracture, transverse, simple fall"),
        ("99999", "Incomplete fracture of lateral cortex of femoral shaft with beaking, no trauma"),
        ("99999", "Subtrochanteric fracture, medial spike, low-energy fall"),
    ):
        found = cards(client, [alp(32)], labs=BEFORE_DRUG, medications=[on_alendronate()],
                      conditions=[fracture(code, text)])  # fmt: skip
        assert fired(found) == ["alp-low-antiresorptive-aff"], text


def test_an_ordinary_femoral_fracture_is_not_called_atypical(client: FlaskClient) -> None:
    for code, text in (
        ("S72.001A", "Transverse fracture neck of right femur after fall from standing"),
        ("S72.21XA", "Subtrochanteric fracture after fall from standing"),  # no feature
        ("S72.21XA", "Transverse subtrochanteric fracture"),  # no low-energy or beaking word
        ("S72.141A", "Intertrochanteric fracture, subtrochanteric extension, transverse, fall"),
        ("S72.301A", "Transverse fracture of femoral shaft, high-energy road traffic collision"),
        ("S72.301A", "Periprosthetic transverse femoral shaft fracture, fall from standing"),
        ("S72.301A", "Pathological transverse fracture of femoral shaft (metastasis), no trauma"),
    ):
        found = cards(client, [alp(32)], labs=BEFORE_DRUG, medications=[on_alendronate()],
                      conditions=[fracture(code, text)])  # fmt: skip
        assert "alp-low-antiresorptive-aff" not in fired(found), text


def test_the_aff_feature_words_are_whole_words(kb: KnowledgeBase) -> None:
    aff = kb.valuesets["atypical-femoral-fracture"]
    assert aff.match_name_in("transverse subtrochanteric fracture, beaking") is not None
    assert aff.match_name_in("transverse subtrochanteric fracture, beakers") is None
    # The word_exclude list vetoes the feature words only: "atypical" still counts.
    assert aff.match_name_in("atypical femoral fracture, periprosthetic") is not None


# --- 3: 25-OH vitamin D 32 nmol/L, low phosphate, raised PTH: secondary hyperparathyroidism ----


def bone_labs(vitd: float = 32, phos: float = 0.68, ca: float = 2.22) -> list[dict[str, Any]]:
    return [
        observation("62292-8", vitd, unit="nmol/L", ucum="nmol/L", low=50, high=125),
        observation("14879-1", phos, unit="mmol/L", ucum="mmol/L", low=0.8, high=1.5),
        observation("2731-8", 14.5, unit="pmol/L", ucum="pmol/L", low=1.6, high=6.9),
        observation("2000-8", ca, unit="mmol/L", ucum="mmol/L", low=2.2, high=2.6),
    ]


RAISED = [alp(200, low=35, high=104), ggt(25)]


def test_insufficient_vitamin_d_with_raised_pth_is_secondary_hyperparathyroidism(
    client: FlaskClient,
) -> None:
    found = cards(client, RAISED + bone_labs())
    assert fired(found) == ["alp-high-bone-explained"]
    assert "insufficient 25-OH vitamin D: secondary hyperparathyroidism" in found[0]["summary"]
    detail = found[0]["detail"]
    assert "Replete vitamin D; repeat ALP, PTH, calcium and phosphate" in detail
    assert "not primary hyperparathyroidism (which raises calcium)" in detail
    assert "osteomalacia is possible" in detail
    # A normal phosphate: the same reading, without the osteomalacia line.
    found = cards(client, RAISED + bone_labs(phos=1.0))
    assert "secondary hyperparathyroidism" in found[0]["summary"]
    assert "osteomalacia is possible" not in found[0]["detail"]
    # On replacement: dose and adherence, not "replete".
    drug = medication(text="Colecalciferol 800 units daily", status="active")
    found = cards(client, RAISED + bone_labs(), medications=[drug])
    assert "check dose and adherence" in found[0]["detail"]
    assert "Replete vitamin D;" not in found[0]["detail"]


def test_a_raised_calcium_or_a_replete_vitamin_d_keeps_hyperparathyroidism(
    client: FlaskClient,
) -> None:
    # Review 28 (R28-24): a raised calcium with the raised PTH is primary hyperparathyroidism,
    # named with its referral (it was "consistent with hyperparathyroidism" and no next step).
    found = cards(client, RAISED + bone_labs(ca=2.75))
    assert fired(found) == ["alp-high-bone-explained"]
    assert found[0]["summary"].endswith(
        "PTH raised: primary hyperparathyroidism; endocrine referral"
    )
    assert "secondary" not in found[0]["detail"]
    found = cards(client, RAISED + bone_labs(vitd=62))
    assert fired(found) == ["alp-high-bone-explained"]
    assert found[0]["summary"].endswith("PTH raised: consistent with hyperparathyroidism")
    assert "secondary" not in found[0]["detail"]
    # A deficient 25-OH vitamin D keeps its own reading (deficiency, loading).
    found = cards(client, RAISED + bone_labs(vitd=24))
    assert found[0]["summary"].endswith("consistent with vitamin D deficiency")


# --- 4: the late-postpartum line beside suspected cholangitis, with an LDH resulted ---------

LATE_POSTPARTUM = (
    FIXTURES / "v11-postpartum-day14-fever-cholestasis-cholangitis-named" / "request.json"
)


def with_ldh(request: dict[str, Any], value: float) -> dict[str, Any]:
    ldh = observation("2532-0", value, low=125, high=220)
    ldh["subject"] = {"reference": f"Patient/{request['context']['patientId']}"}
    request["context"]["results"]["entry"].append({"resource": ldh})
    return request


def test_the_late_postpartum_line_names_a_resulted_ldh(client: FlaskClient) -> None:
    request = json.loads(LATE_POSTPARTUM.read_text())
    response = client.post(SERVICE, json=request)
    assert response.status_code == 200, response.get_json()
    before = response.get_json()["cards"]
    assert "blood film and LDH for late HELLP" in before[0]["detail"]
    found = client.post(SERVICE, json=with_ldh(request, 820)).get_json()["cards"]
    assert fired(found) == ["alp-high-pregnancy-liver"]
    detail = found[0]["detail"]
    assert "LDH 820 U/L" in detail
    assert "a blood film too, for late HELLP or a thrombotic microangiopathy" in detail
    assert "blood film and LDH" not in detail


# --- 5: no placental reassurance beside a raised calcium in pregnancy ----------------------


def calcium(value: float) -> dict[str, Any]:
    return observation("2000-8", value, unit="mmol/L", ucum="mmol/L", low=2.2, high=2.6)


def test_a_raised_calcium_in_pregnancy_gets_pth_not_reassurance(client: FlaskClient) -> None:
    pregnant = [condition("Z3A.28", onset="2026-11-15")]
    placental = [alp(190, low=35, high=104), ggt(12)]
    found = cards(client, [*placental, calcium(2.78)], conditions=pregnant)
    assert fired(found) == ["alp-high-pregnancy-calcium"]
    assert found[0]["indicator"] == "warning"
    assert "PTH now" in found[0]["summary"]
    assert [a["resource"]["code"]["coding"][0]["code"]
            for s in found[0]["suggestions"] for a in s["actions"]] == ["2731-8"]  # fmt: skip
    # A normal or absent calcium keeps the reassurance.
    for extra in ([calcium(2.3)], []):
        found = cards(client, [*placental, *extra], conditions=pregnant)
        assert fired(found) == ["alp-high-pregnancy"]
    # In the first trimester the bone-source card asks for PTH, as outside pregnancy.
    early = [condition("Z3A.10", onset="2026-11-15")]
    found = cards(client, [*placental, calcium(2.78)], conditions=early)
    assert "alp-high-pregnancy-calcium" not in fired(found)
