"""Twenty-first round (2026-12-02), part E: review 33's bone, renal, enzyme-induction and
already-explained findings (docs/rulebook.md, "Twenty-first round (2026-12-02), part E").
Each patient is rebuilt from the reviewer's facts (/work/review33-work cases.py), signed on
2 Dec 2026, with the neighbour that must not change beside it."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.rules_helper import card_for, fired, suggested
from tests.support.fhir import SNOMED, coded_observation, with_fasting
from tests.support.labs import Labs, day, drug, post, since, worded, words

NOW = "2026-12-02T08:00:00Z"
LABS = Labs(NOW)
BONE_ALP = "17838-4"
REPEAT_ALP = "6768-6"
VITAMIN_D = "62292-8"
DIALYSIS_CARD = "alp-high-dialysis-high-turnover"
BONE_EXPLAINED = "alp-high-bone-explained"
BONE_SOURCE = "alp-high-bone-source"
ORIGIN_UNCLEAR = "alp-high-origin-unclear"
LIVER_SOURCE = "alp-high-liver-source"


def short(card: dict[str, Any]) -> None:
    assert len(card["summary"]) < 140
    assert words(card) <= 130


# --- R33-11/12 (wrong): dialysis in words -------------------------------------------------------

CKD_MBD_LABS = [LABS.pth(85), LABS.ggt(30), LABS.calcium(2.45), LABS.phosphate(2.1)]


def test_r33_12_haemodialysis_in_words_gets_the_ckd_mbd_card(client: FlaskClient) -> None:
    worded_cards = post(
        client,
        "male",
        "1965-01-01",
        [LABS.alp(240)],
        CKD_MBD_LABS,
        [worded("End-stage kidney disease on haemodialysis", "2021-01-01")],
    )
    coded = post(
        client,
        "male",
        "1965-01-01",
        [LABS.alp(240)],
        CKD_MBD_LABS,
        [since("N18.6", "2021-01-01"), since("Z99.2", "2021-01-01")],
    )
    assert fired(worded_cards) == fired(coded) == [DIALYSIS_CARD]
    card = worded_cards[0]
    assert "Phosphate raised" in card["detail"]
    short(card)


def test_other_dialysis_words_count(client: FlaskClient) -> None:
    for text in [
        "ESRF on peritoneal dialysis (CAPD)",
        "CKD G5D - hemodialysis MWF",
        "ESKD on dialysis",
    ]:
        cards = post(client, "male", "1965-01-01", [LABS.alp(240)], CKD_MBD_LABS, [worded(text)])
        assert fired(cards) == [DIALYSIS_CARD], text


def test_not_on_dialysis_or_before_it_is_not_dialysis(client: FlaskClient) -> None:
    # Neighbours: pre-dialysis, planned, negated, an acute course or a past one are not G5D.
    for text in [
        "CKD stage 5, pre-dialysis",
        "CKD 5 not on dialysis",
        "CKD stage 5 - haemodialysis planned",
        "AKI requiring haemodialysis, acute kidney injury",
        "Renal transplant 2019, previously on haemodialysis",
        "Lithium toxicity treated with haemodialysis",
    ]:
        cards = post(client, "male", "1965-01-01", [LABS.alp(240)], CKD_MBD_LABS, [worded(text)])
        assert DIALYSIS_CARD not in fired(cards), text


# --- R33-10 (noisy): "Paget's disease" in words ------------------------------------------------

PAGET_STABLE = [LABS.alp(182, when=day("2025-12-01")), LABS.ggt(28)]


def test_r33_10_pagets_disease_in_words_is_quiet_like_the_coded_one(client: FlaskClient) -> None:
    for condition in [worded("Paget's disease", "2015-01-01"), since("M88.9", "2015-01-01")]:
        cards = post(client, "male", "1948-01-01", [LABS.alp(180)], PAGET_STABLE, [condition])
        assert cards == [], condition["code"]


def test_paget_disease_first_value_in_words_is_explained_not_bone_alp(client: FlaskClient) -> None:
    cards = post(
        client, "male", "1948-01-01", [LABS.alp(180)], [LABS.ggt(28)], [worded("Paget disease")]
    )
    assert fired(cards) == [BONE_EXPLAINED]
    assert BONE_ALP not in suggested(cards[0])


def test_breast_and_extramammary_paget_stay_excluded(client: FlaskClient) -> None:
    for text in ["Paget's disease of the nipple", "Extramammary Paget's disease of vulva"]:
        cards = post(
            client, "female", "1948-01-01", [LABS.alp(180)], [LABS.ggt(28)], [worded(text)]
        )
        assert fired(cards) == [BONE_SOURCE], text


# --- R33-09 (noisy): treated Paget, ALP falling ------------------------------------------------


def test_r33_09_falling_after_zoledronic_acid_says_responding(client: FlaskClient) -> None:
    given = drug("Zoledronic acid 5 mg IV infusion", "2026-06-15")
    given["status"] = "completed"
    [card] = post(
        client,
        "female",
        "1952-01-01",
        [LABS.alp(110)],
        [
            LABS.alp(320, when=day("2026-05-01")),
            LABS.alp(180, when=day("2026-09-01")),
            LABS.ggt(20),
        ],
        [since("M88.9", "2019-01-01")],
        [given],
    )
    assert fired([card]) == [BONE_EXPLAINED]
    assert "Paget disease responding" in card["summary"]
    assert "again in 6-12 months" in card["detail"]
    assert "compare with earlier values" not in card["detail"]
    short(card)


def test_untreated_stable_paget_keeps_compare_line(client: FlaskClient) -> None:
    # Neighbour: falling without a bisphosphonate is not "responding".
    [card] = post(
        client,
        "female",
        "1952-01-01",
        [LABS.alp(150)],
        [LABS.alp(200, when=day("2026-09-01")), LABS.ggt(20)],
        [since("M88.9", "2019-01-01")],
    )
    assert "responding" not in card["summary"]
    assert "compare with earlier values" in card["detail"]


# --- R33-37 / R33-50 (noisy): non-fasting with a normal ALP on record -------------------------

BLOOD_GROUP_O = coded_observation("883-9", SNOMED, "58460004", day("2020-01-01"))


def nonfasting(value: float) -> list[dict[str, Any]]:
    return [with_fasting(LABS.alp(value), "NF")]


EARLIER_NORMAL = [LABS.alp(95, when=day("2026-08-01")), LABS.ggt(20), LABS.alt(25)]


def test_r33_37_non_fasting_1_6x_with_a_normal_alp_leads_with_fasting_repeat(
    client: FlaskClient,
) -> None:
    [card] = post(client, "male", "1982-01-01", nonfasting(165), [*EARLIER_NORMAL, BLOOD_GROUP_O])
    assert fired([card]) == [BONE_SOURCE]
    assert "repeat fasting" in card["summary"]
    assert "still active" not in card["detail"]
    assert "investigate now" not in card["detail"]
    assert suggested(card) == [REPEAT_ALP]
    short(card)


def test_r33_50_non_fasting_1_44x_no_longer_contradicts_itself(client: FlaskClient) -> None:
    [card] = post(client, "male", "1982-01-01", nonfasting(150), EARLIER_NORMAL)
    assert "repeat fasting" in card["summary"]
    assert "still active" not in card["detail"]
    assert "only if still raised" in card["detail"]
    short(card)


def test_non_fasting_without_a_normal_alp_keeps_the_1_5x_cap(client: FlaskClient) -> None:
    # Neighbour: with no normal ALP on record, 1.6x non-fasting is worked up as before.
    [card] = post(client, "male", "1982-01-01", nonfasting(165), [LABS.ggt(20)])
    assert "order bone-specific ALP" in card["summary"]
    assert BONE_ALP in suggested(card)


def test_non_fasting_over_2x_is_not_a_meal(client: FlaskClient) -> None:
    [card] = post(client, "male", "1982-01-01", nonfasting(230), EARLIER_NORMAL)
    assert "repeat fasting" not in card["summary"]


# --- R33-23 / R33-24 / R33-25 (noisy): enzyme induction ----------------------------------------

PHENYTOIN = [drug("Phenytoin 300 mg daily", "2015-01-01")]
EPILEPSY = [since("G40.909", "2010-01-01")]
INDUCED = [LABS.ggt(110), LABS.alt(30), LABS.bilirubin(0.4)]


def test_r33_23_first_induced_rise_names_the_drug_and_vitamin_d(client: FlaskClient) -> None:
    [card] = post(client, "male", "1981-01-01", [LABS.alp(140)], INDUCED, EPILEPSY, PHENYTOIN)
    assert fired([card]) == [ORIGIN_UNCLEAR]
    assert "expected (enzyme induction); 25-OH vitamin D" in card["summary"]
    assert "isoenzymes" not in card["summary"].lower()
    assert "measure the fractions directly" not in card["detail"]
    assert suggested(card) == [VITAMIN_D]
    short(card)


def test_r33_24_stable_induced_rise_is_silent(client: FlaskClient) -> None:
    earlier = [LABS.alp(138, when=day("2026-06-01")), *INDUCED]
    assert post(client, "male", "1981-01-01", [LABS.alp(140)], earlier, EPILEPSY, PHENYTOIN) == []


def test_carbamazepine_stable_is_silent_too_but_not_with_raised_alt(client: FlaskClient) -> None:
    carbamazepine = [drug("Carbamazepine 400 mg twice daily", "2012-01-01")]
    earlier = [LABS.alp(138, when=day("2026-06-01")), *INDUCED]
    assert post(client, "male", "1981-01-01", [LABS.alp(140)], earlier, [], carbamazepine) == []
    injured = [LABS.alp(138, when=day("2026-06-01")), LABS.ggt(110), LABS.alt(95)]
    assert post(client, "male", "1981-01-01", [LABS.alp(140)], injured, [], carbamazepine)


def test_r33_25_carbamazepine_osteomalacia_unchanged(client: FlaskClient) -> None:
    labs = [LABS.ggt(35), LABS.calcium(2.12), LABS.phosphate(0.75), LABS.vitamin_d(18)]
    carbamazepine = [drug("Carbamazepine 400 mg twice daily", "2012-01-01")]
    [card] = post(client, "female", "1956-01-01", [LABS.alp(170)], labs, [], carbamazepine)
    assert fired([card]) == [ORIGIN_UNCLEAR]
    assert "osteomalacia likely" in card["summary"]
    assert "Isoenzymes only if it does not fall" in card["detail"]


def test_induced_rise_at_2x_keeps_isoenzymes(client: FlaskClient) -> None:
    # Neighbour: at the drug-injury ALP multiple induction no longer explains it.
    [card] = post(client, "male", "1981-01-01", [LABS.alp(215)], INDUCED, EPILEPSY, PHENYTOIN)
    assert "isoenzymes" in card["summary"]


# --- R33-46 (noisy): fatty liver, unchanged for six months --------------------------------------


def test_r33_46_unchanged_fatty_liver_rise_asks_for_ama_now(client: FlaskClient) -> None:
    labs = [LABS.alp(180, when=day("2026-06-01")), LABS.ggt(200), LABS.alt(60)]
    [card] = post(
        client, "male", "1969-01-01", [LABS.alp(180)], labs, [since("K76.0", "2022-01-01")]
    )
    assert fired([card]) == [LIVER_SOURCE]
    assert "AMA now" in card["summary"]
    assert "unchanged from 180 U/L on 1 Jun 2026" in card["summary"]
    assert "if the ALP stays raised" not in card["detail"]
    assert "if it persists" not in card["summary"]
    short(card)


def test_first_fatty_liver_rise_keeps_the_conditional(client: FlaskClient) -> None:
    labs = [LABS.ggt(200), LABS.alt(60)]
    [card] = post(
        client, "male", "1969-01-01", [LABS.alp(180)], labs, [since("K76.0", "2022-01-01")]
    )
    assert "AMA if it persists" in card["summary"]


# --- R33-13 / R33-14 (minor): coded primary hyperparathyroidism ---------------------------------

PHPT_LABS = [
    LABS.calcium(2.85),
    LABS.pth(12),
    LABS.phosphate(0.7),
    LABS.ggt(25),
    LABS.vitamin_d(45),
]


def test_r33_13_coded_phpt_gets_the_nice_referral_line_as_the_worded_one(
    client: FlaskClient,
) -> None:
    coded = post(
        client, "female", "1968-01-01", [LABS.alp(150)], PHPT_LABS, [since("E21.0", "2026-08-01")]
    )
    worded_cards = post(
        client,
        "female",
        "1968-01-01",
        [LABS.alp(150)],
        PHPT_LABS,
        [worded("Primary hyperparathyroidism", "2026-08-01")],
    )
    for cards in (coded, worded_cards):
        card = card_for(cards, BONE_EXPLAINED)
        assert "NICE: surgery at adjusted calcium 2.85 mmol/L" in card["detail"]
        short(card)
    assert "consistent with primary hyperparathyroidism" in coded[0]["summary"]


def test_coded_hyperparathyroidism_with_normal_calcium_has_no_referral_line(
    client: FlaskClient,
) -> None:
    labs = [LABS.calcium(2.40), LABS.pth(12), LABS.ggt(25)]
    [card] = post(
        client, "female", "1968-01-01", [LABS.alp(150)], labs, [since("E21.0", "2026-08-01")]
    )
    assert "NICE" not in card["detail"]


def test_dialysis_names_are_the_same_in_both_value_sets() -> None:
    # ckd-advanced (CKD-MBD as a bone cause) and dialysis (the G5D cards) read the same words.
    from pathlib import Path

    import yaml

    cards = Path(__file__).resolve().parents[1] / "cards" / "valuesets"

    def names(valueset: str) -> tuple[list[str], list[str]]:
        with open(cards / f"{valueset}.yaml", encoding="utf-8") as handle:
            doc = yaml.safe_load(handle)
        return doc["names"], doc["exclude_names"]

    assert names("dialysis") == names("ckd-advanced")
