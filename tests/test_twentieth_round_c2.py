"""Twentieth round (2026-12-02), part G: review 30's transplant, IgG4 cholangitis, uncertain
metastases and extreme-ALP findings (docs/rulebook.md, "Twentieth round (2026-12-02), part G").
Each patient is rebuilt from the reviewer's facts (review 30's gen.py and gen_probe.py), signed
on 2 Dec 2026."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.rules_helper import card_for, fired, suggested
from tests.support.labs import Labs, day, drug, post, since, worded, words

NOW = "2026-12-02T07:30:00Z"
BONE_ALP_LOINC = "17838-4"

LABS = Labs(NOW)


# --- R30-43 (wrong): a new cholestatic rise after a liver transplant ---------------------------

TRANSPLANT = [since("Z94.4", "2024-11-01")]
TACROLIMUS = [drug("Tacrolimus 2 mg twice daily", "2024-11-01")]


def _graft(
    client: FlaskClient, alp: float, earlier: float | None, medications: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    labs = [LABS.alp(earlier, when=day("2026-08-01"))] if earlier is not None else []
    results = [LABS.alp(alp), LABS.ggt(310), LABS.alt(70), LABS.bilirubin(1.6)]
    return post(client, "female", "1975-01-01", results, labs, TRANSPLANT, medications)


def test_a_cholestatic_rise_after_a_liver_transplant_is_a_warning_for_doppler(
    client: FlaskClient,
) -> None:
    found = _graft(client, 340, 120, TACROLIMUS)
    assert fired(found) == ["alp-high-transplant-cholestasis"]
    [card] = found
    assert card["indicator"] == "warning"
    assert "after a liver transplant, up from 120 U/L" in card["summary"]
    assert "Doppler ultrasound and transplant team this week" in card["summary"]
    assert len(card["summary"]) <= 126
    assert "hepatic artery" in card["detail"]
    assert "On Tacrolimus: trough level now" in card["detail"]
    assert "today rather than this week" in card["detail"]  # bilirubin 1.6 is raised
    assert "AMA" not in card["detail"]
    assert "anti-mitochondrial" not in card["detail"]
    assert words(card) <= 100


def test_a_first_high_alp_after_a_transplant_without_tacrolimus_has_no_level_line(
    client: FlaskClient,
) -> None:
    found = _graft(client, 340, None, [])
    assert fired(found) == ["alp-high-transplant-cholestasis"]
    [card] = found
    assert "(3.3x) with raised GGT after a liver transplant" in card["summary"]
    assert "trough" not in card["detail"]


def test_a_stable_alp_after_a_transplant_keeps_the_liver_card(client: FlaskClient) -> None:
    # neighbour: 330 against 340 is no new rise; the liver card with its transplant line
    found = _graft(client, 340, 330, TACROLIMUS)
    assert "alp-high-transplant-cholestasis" not in fired(found)
    assert "alp-high-liver-source" in fired(found)


def test_a_new_bilirubin_after_a_transplant_keeps_its_own_warning(client: FlaskClient) -> None:
    # neighbour: the new-bilirubin warning hides the liver card, so this one does not show
    labs = [LABS.alp(120, when=day("2026-08-01")), LABS.bilirubin(0.6, when=day("2026-08-01"))]
    results = [LABS.alp(340), LABS.ggt(310), LABS.alt(70), LABS.bilirubin(3.4)]
    found = post(client, "female", "1975-01-01", results, labs, TRANSPLANT, TACROLIMUS)
    assert "alp-high-bilirubin-new-known" in fired(found)
    assert "alp-high-transplant-cholestasis" not in fired(found)


# --- R30-15 (noisy): IgG4-related sclerosing cholangitis read, a rise named as a relapse ---------

PREDNISOLONE = [drug("Prednisolone 10 mg daily", "2025-02-01")]


def _igg4(client: FlaskClient, text: str, earlier: float) -> list[dict[str, Any]]:
    results = [LABS.alp(260), LABS.ggt(220), LABS.bilirubin(0.8)]
    labs = [LABS.alp(earlier, when=day("2026-07-01"))]
    return post(
        client, "male", "1963-01-01", results, labs, [worded(text, "2025-01-01")], PREDNISOLONE
    )


def test_a_rise_in_igg4_sclerosing_cholangitis_is_a_relapse_not_ama(client: FlaskClient) -> None:
    found = _igg4(client, "IgG4-related sclerosing cholangitis", 190)
    assert fired(found) == ["alp-high-igg4-cholangitis"]
    [card] = found
    assert "in known IgG4 sclerosing cholangitis, up from 190 U/L" in card["summary"]
    assert "relapse? MRCP, IgG4; hepatology" in card["summary"]
    assert len(card["summary"]) <= 126
    assert "MR cholangiography and serum IgG4" in card["detail"]
    assert "On Prednisolone: relapse comes most often as the dose is tapered" in card["detail"]
    assert "anti-mitochondrial" not in card["detail"]
    assert "AMA" not in card["detail"]
    assert words(card) <= 100


def test_a_stable_alp_in_igg4_sclerosing_cholangitis_is_the_known_disease(
    client: FlaskClient,
) -> None:
    found = _igg4(client, "IgG4 cholangitis", 250)
    assert fired(found) == ["alp-high-igg4-cholangitis"]
    assert "likely the known IgG4-related sclerosing cholangitis" in found[0]["summary"]
    assert "Prednisolone" not in found[0]["detail"]


def test_a_queried_igg4_cholangitis_is_not_read(client: FlaskClient) -> None:
    # neighbour: a question is not the disease; the liver card as before, and never PSC
    found = _igg4(client, "?IgG4 sclerosing cholangitis", 190)
    assert fired(found) == ["alp-high-liver-source"]


# --- R30-25 (noisy) and P06: the lesion first, the metastasis left open after it ----------------

BREAST_CANCER = since("C50.911", "2024-01-01")


def _lesion(client: FlaskClient, text: str) -> list[dict[str, Any]]:
    results = [LABS.alp(200), LABS.ggt(170), LABS.alt(35), LABS.bilirubin(0.6)]
    conditions = [BREAST_CANCER, worded(text, "2026-11-15")]
    return post(client, "female", "1960-01-01", results, [], conditions)


def test_a_liver_lesion_with_a_queried_or_unexcluded_metastasis_gets_the_mri(
    client: FlaskClient,
) -> None:
    for text in (
        "Indeterminate liver lesion, ?metastasis",
        "Liver lesion on CT, metastasis not excluded",
        "Hepatic lesion - ? metastasis",
        "Possible liver metastases",  # part A's, unchanged
    ):
        found = _lesion(client, text)
        assert fired(found) == ["alp-high-liver-source"], text
        assert "liver metastases not excluded on imaging: MRI" in found[0]["summary"], text
        assert f"{text}: MRI of the liver" in found[0]["detail"], text


def test_a_stated_liver_metastasis_stays_known(client: FlaskClient) -> None:
    # neighbours: singular or plural, stated, is the known disease (R30-26)
    for text in ("Liver metastases", "Liver metastasis from breast cancer"):
        found = _lesion(client, text)
        assert fired(found) == ["alp-high-liver-known"], text
        assert f"likely from known {text.lower()}" in found[0]["summary"], text


# --- R30-39 and P05 (noisy): an extreme bone ALP is one card --------------------------------

PSA_LOINC = "2857-1"


def _extreme_bone(
    client: FlaskClient,
    alp: dict[str, Any],
    conditions: list[dict[str, Any]] = [],  # noqa: B006
) -> list[dict[str, Any]]:
    return post(client, "male", "1954-01-01", [alp, LABS.ggt(35)], [], conditions)


def test_an_extreme_alp_with_a_normal_ggt_is_one_card_with_the_bone_work_up(
    client: FlaskClient,
) -> None:
    above = LABS.alp(1000)
    above["valueQuantity"]["comparator"] = ">"
    for alp in (above, LABS.alp(1050)):
        found = _extreme_bone(client, alp)
        assert fired(found) == ["alp-extreme"]
        [card] = found
        assert "GGT normal: extremely raised from bone" in card["summary"]
        assert "Paget disease or osteoblastic metastases" in card["detail"]
        assert "25-OH vitamin D and PTH; PSA in a man" in card["detail"]
        assert "in a child" not in card["detail"]
        assert suggested(card) == [PSA_LOINC]
        assert BONE_ALP_LOINC not in suggested(card)
        assert words(card) <= 90


def test_an_extreme_bone_alp_with_a_known_cancer_keeps_the_bone_card(client: FlaskClient) -> None:
    # neighbour: prostate cancer recorded; the bone card's own lines (PSA, imaging) still show
    found = _extreme_bone(client, LABS.alp(1050), [since("C61", "2023-01-01")])
    assert sorted(fired(found)) == ["alp-extreme", "alp-high-bone-source"]
    assert PSA_LOINC not in suggested(card_for(found, "alp-extreme"))


def test_an_extreme_alp_in_a_child_keeps_the_child_line(client: FlaskClient) -> None:
    # neighbour: a child is judged by multiples of the age limit; the bone card stays beside it
    alp = LABS.alp(4000, low=156, high=369)
    found = post(client, "female", "2016-01-01", [alp, LABS.ggt(15)])
    assert "alp-extreme" in fired(found)
    assert "alp-high-bone-source" in fired(found)
    detail = card_for(found, "alp-extreme")["detail"]
    assert "rickets, a fracture, a bone tumour or leukaemia" in detail
    assert "PSA" not in detail


# --- R30-24 (noisy): extreme ALP in pregnancy with a liver picture is one warning --------------

WEEKS_28 = [since("Z33.1", "2026-06-01"), since("Z3A.28", "2026-12-01")]


def test_an_extreme_alp_in_pregnancy_with_a_liver_picture_is_the_pregnancy_card(
    client: FlaskClient,
) -> None:
    results = [LABS.alp(1180), LABS.ggt(260), LABS.alt(140), LABS.bilirubin(2.2)]
    found = post(client, "female", "1988-01-01", results, [], WEEKS_28)
    assert fired(found) == ["alp-high-pregnancy-liver"]
    [card] = found
    assert "ALP 1180 U/L" in card["summary"]
    assert card["detail"].count("ultrasound") == 1


def test_an_extreme_placental_alp_keeps_the_extreme_card(client: FlaskClient) -> None:
    # neighbours: GGT normal (placental) or not measured keep alp-extreme's placental reading
    for results in (
        [LABS.alp(1180), LABS.ggt(20), LABS.alt(22)],
        [LABS.alp(1180), LABS.alt(22), LABS.bilirubin(0.4)],
    ):
        found = post(client, "female", "1988-01-01", results, [], WEEKS_28)
        assert "alp-extreme" in fired(found)
        assert "likely placental" in card_for(found, "alp-extreme")["summary"]
