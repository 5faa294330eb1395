"""Thirteenth round, part C (2026-12-01): the thirteenth clinical review's raised-calcium and
malignancy-in-words defects (patients 45, 44, 08, 07), each with the record that showed it
(docs/rulebook.md, "Thirteenth round (2026-12-01), part C")."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from cds_service.clinical.classify import short_name
from tests.rules_helper import card_for, cards, fired, suggested
from tests.support.fhir import alp, condition, ggt, medication, observation

LOCAL = "urn:oid:1.2.3"
PTH = "2731-8"
BONE_ALP = "17838-4"
CALCIUM = "alp-calcium-urgent"
BONE = "alp-high-bone-source"
EARLIER = "2026-08-10T08:00:00Z"


def calcium(value: float, when: str = "2026-11-20T08:00:00Z") -> dict[str, Any]:
    return observation("2000-8", value, unit="mmol/L", ucum="mmol/L", low=2.2, high=2.6, when=when)


def creatinine(value: float) -> dict[str, Any]:
    return observation("2160-0", value, unit="mg/dL", ucum="mg/dL", low=0.7, high=1.3)


def worded(text: str, code: str = "99999", system: str = LOCAL) -> dict[str, Any]:
    entry = condition(code, system=system)
    entry["code"]["text"] = text
    return entry


PROSTATE = condition("C61")
BONE_METS = condition("C79.51")
NOW = [alp(280, high=129, low=40), ggt(30, low=5, high=60)]
SEPT = "2026-09-10T08:00:00Z"


# --- 1 (unsafe, 45): a raised calcium beside coded bone metastases, the ALP stable ---------


def test_a_calcium_of_3_3_with_bone_metastases_warns_though_the_alp_is_stable(
    client: FlaskClient,
) -> None:
    before = [alp(250, high=129, low=40, when=EARLIER), calcium(2.40, when=EARLIER)]
    found = cards(
        client,
        [*NOW, calcium(3.30), creatinine(1.6)],
        labs=before,
        conditions=[PROSTATE, BONE_METS],
    )
    assert fired(found) == [CALCIUM]
    card = found[0]
    assert card["indicator"] == "warning"
    assert card["summary"].startswith("Calcium 3.3 mmol/L")
    assert "was 2.4" in card["detail"]
    assert "creatinine 1.6 mg/dL" in card["detail"]
    assert "treat today" in card["summary"]
    assert suggested(card) == []
    assert "Calcium raised: PTH first" not in card["detail"]


# --- 2 (unsafe, 44): myeloma in words, calcium 3.40, creatinine 2.1 ------------------------


def test_myeloma_in_words_is_a_cancer_and_its_calcium_is_not_sent_to_pth_first(
    client: FlaskClient,
) -> None:
    labs = [alp(140, high=129, low=40), ggt(30, low=5, high=60), calcium(3.40), creatinine(2.1)]
    found = cards(client, labs, conditions=[worded("Multiple myeloma (IgG kappa), lytic lesions")])
    assert fired(found) == [CALCIUM]
    card = found[0]
    assert "PTH first (" not in card["summary"]
    assert "Calcium raised: PTH" not in card["detail"]
    assert suggested(card) == []
    assert "haematology" in card["detail"]


def test_a_myeloma_query_or_a_relatives_myeloma_is_not_a_cancer_recorded(
    client: FlaskClient,
) -> None:
    labs = [alp(140, high=129, low=40), ggt(30, low=5, high=60), calcium(2.75)]
    for text in ("?multiple myeloma - awaiting SPEP", "Father - multiple myeloma"):
        found = cards(client, labs, conditions=[worded(text)])
        assert CALCIUM not in fired(found), text


# --- 3 (unsafe, 08): a calcium under 3.0 with bone metastases on denosumab -----------------


def test_a_mildly_raised_calcium_with_bone_metastases_warns_and_is_not_asked_for_again(
    client: FlaskClient,
) -> None:
    aug = "2026-08-20T08:00:00Z"
    found = cards(
        client,
        [alp(260, high=129, low=35), ggt(25, low=5, high=60), calcium(2.95)],
        labs=[alp(180, high=129, low=35, when=aug), calcium(2.45, when=aug)],
        conditions=[condition("C50.911"), BONE_METS],
        medications=[medication(text="Xgeva 120 MG in 1.7 ML Injection")],
    )
    assert fired(found) == [CALCIUM]
    card = found[0]
    assert "calcium, phosphate" not in card["detail"].lower()
    assert "ALP rising (was 180 U/L" in card["detail"]
    assert "oncology restaging" in card["detail"]
    assert "Xgeva in" not in card["detail"]


def test_an_rxnorm_dose_in_a_volume_is_cut_with_its_in() -> None:
    assert short_name({"text": "Xgeva 120 MG in 1.7 ML Injection"}) == "Xgeva"


# --- 4: a calcium of 3.0 or more with no cancer recorded; a mild one with none --------------


def test_a_calcium_of_3_0_or_more_without_a_cancer_warns_with_pth(client: FlaskClient) -> None:
    labs = [alp(150, high=129, low=40), ggt(30, low=5, high=60), calcium(3.10)]
    found = cards(client, labs)
    assert fired(found) == [CALCIUM]
    assert suggested(found[0]) == [PTH]
    assert "3.0 mmol/L (12 mg/dL) or more" in found[0]["summary"]


def test_a_mild_calcium_without_a_cancer_stays_pth_first_on_the_bone_card(
    client: FlaskClient,
) -> None:
    labs = [alp(150, high=129, low=40), ggt(30, low=5, high=60), calcium(2.75)]
    found = cards(client, labs)
    assert fired(found) == [BONE]
    assert PTH in suggested(found[0])


def test_a_calcium_of_12_mg_dl_counts_as_3_0_mmol_l(client: FlaskClient) -> None:
    ca = observation("17861-6", 12.1, unit="mg/dL", ucum="mg/dL", low=8.6, high=10.3)
    found = cards(client, [alp(150, high=129, low=40), ggt(30, low=5, high=60), ca])
    assert fired(found) == [CALCIUM]


# --- 5 (noisy, 07): bone metastases in words --------------------------------------------


def test_bone_metastases_in_words_explain_a_stable_bone_source_rise(client: FlaskClient) -> None:
    text = "Metastatic prostate adenocarcinoma - bone mets (spine, pelvis) on bone scan 2025"
    entry = condition("C61")
    entry["code"]["text"] = text
    now = [alp(410, high=129, low=40), ggt(30, low=5, high=60)]
    before = [alp(380, high=129, low=40, when=SEPT)]
    assert fired(cards(client, now, labs=before, conditions=[entry])) == []


def test_queried_or_negated_bone_metastases_in_words_do_not_count(client: FlaskClient) -> None:
    now = [alp(410, high=129, low=40), ggt(30, low=5, high=60)]
    before = [alp(380, high=129, low=40, when=SEPT)]
    for text in ("Prostate cancer - ?bone mets, for bone scan", "Prostate cancer, no bone mets"):
        entry = condition("C61")
        entry["code"]["text"] = text
        found = cards(client, now, labs=before, conditions=[entry])
        assert fired(found) == [BONE], text
        # Review 22 (R22-11): with prostate cancer the bone-source card offers PSA, not
        # bone-specific ALP (the normal GGT has placed the ALP in bone already).
        assert suggested(found[0]) == ["2857-1"]


def test_the_bone_tropic_cancer_summary_reads_known_cancer_not_known_a(
    client: FlaskClient,
) -> None:
    # Review 13 (07): a text over 60 characters is named by the finding's label, which read
    # "known a cancer that often spreads to bone".
    entry = condition("C61")
    entry["code"]["text"] = "Metastatic prostate adenocarcinoma, Gleason 4+5, on ADT since 2024"
    labs = [alp(410, high=129, low=40), ggt(30, low=5, high=60)]
    found = cards(client, labs, conditions=[entry])
    summary = card_for(found, BONE)["summary"]
    assert "known a " not in summary
    assert "known cancer that often spreads to bone" in summary


# --- 6: a cancer without known metastases: the threshold decides --------------------------


def test_prostate_cancer_without_metastases_and_a_mild_calcium_keeps_the_bone_card(
    client: FlaskClient,
) -> None:
    # Review 12 N13 (calcium 2.60, prostate cancer): repeat it albumin-adjusted, no warning.
    labs = [alp(320, high=129, low=40), ggt(30, low=5, high=60), calcium(2.75)]
    found = cards(client, labs, conditions=[PROSTATE])
    assert fired(found) == [BONE]


def test_prostate_cancer_without_metastases_and_a_calcium_of_3_1_warns_with_pth(
    client: FlaskClient,
) -> None:
    labs = [alp(320, high=129, low=40), ggt(30, low=5, high=60), calcium(3.10)]
    found = cards(client, labs, conditions=[PROSTATE])
    assert fired(found) == [CALCIUM]
    assert "with a cancer recorded" in found[0]["summary"]
    assert suggested(found[0]) == [PTH]
    assert "primary hyperparathyroidism is common too" in found[0]["detail"]


def test_a_calcium_of_3_0_or_more_warns_beside_a_normal_alp(client: FlaskClient) -> None:
    # The ALP is the trigger, not the question: a severe calcium resulted with it is named.
    found = cards(client, [alp(80), calcium(3.20)])
    assert fired(found) == [CALCIUM]
