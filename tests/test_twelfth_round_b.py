"""Twelfth round, part B (2026-12-01): the eleventh clinical review's bone, oncology and
endocrine defects, each with the record that showed it (docs/rulebook.md, "Twelfth round,
part B")."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from cds_service.knowledge.model import KnowledgeBase
from tests.rules_helper import cards, fired
from tests.support.fhir import alp, condition, ggt, medication, patient

LOCAL = "http://example.org/local"


def worded(text: str, **kwargs: Any) -> dict[str, Any]:
    entry = condition("99999", system=LOCAL, **kwargs)
    entry["code"]["text"] = text
    return entry


# --- 1 (unsafe): "Breast ca 2018 - mastectomy", and a history without a history word ---------

MILD = [alp(150, low=40, high=129), ggt(30)]
EARLIER = [alp(100, low=40, high=129, when="2025-12-15T08:00:00Z")]


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
