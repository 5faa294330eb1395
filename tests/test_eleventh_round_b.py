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
