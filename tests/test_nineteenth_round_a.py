"""Nineteenth round (2026-12-02), part A: review 21's calcium, PTH and drug findings, review 20's
R20-43 and R20-30, and two open items (docs/rulebook.md, "Nineteenth round (2026-12-02), part A
(review 21: calcium, PTH and drugs)"). Each patient is built from the reviewer's facts."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.rules_helper import cards, fired, suggested
from tests.support.fhir import administration, alp, condition, ggt, medication
from tests.support.labs import RESULT_DATE, Labs, words
from tests.test_eighteenth_round_a import RIPE, TB_LABS, drug
from tests.test_eighteenth_round_i import calcium_mmol, pth_pmol

BONE_SOURCE = "alp-high-bone-source"
LIVER_SOURCE = "alp-high-liver-source"
PERSISTENT = "alp-low-persistent"
TB_CARD = "alp-high-antituberculosis-drugs"
PTH_LOINC = "2731-8"
VITAMIN_D_LOINC = "62292-8"
GRAVES = condition("E05.00")
GENERIC_BONE_LINE = "look for osteomalacia and hyperparathyroidism"


LABS = Labs(RESULT_DATE)


# --- R21-09 (noisy): a normal PTH with a raised calcium was asked for again -----------------


def test_a_raised_calcium_with_pth_not_suppressed_is_primary_hyperparathyroidism(
    client: FlaskClient,
) -> None:
    # Calcium 2.85 mmol/L, PTH 5.5 pmol/L (within 1.6-6.9: not suppressed), ALP 1.6x, GGT
    # normal, phosphate 0.7: "calcium raised: PTH first", and the generic line asked for PTH.
    labs = [alp(166), ggt(20), calcium_mmol(2.85), pth_pmol(5.5), LABS.phosphate(0.7)]
    [card] = cards(client, labs)
    assert fired([card]) == [BONE_SOURCE]
    assert "PTH not suppressed: primary hyperparathyroidism likely" in card["summary"]
    assert len(card["summary"]) <= 126
    detail = card["detail"]
    assert "PTH first" not in card["summary"] + detail
    assert "urine calcium/creatinine clearance ratio" in detail
    assert "familial hypocalciuric hypercalcaemia" in detail
    assert "25-OH vitamin D; endocrine referral" in detail
    assert GENERIC_BONE_LINE not in detail
    assert "Already done or ordered: PTH" not in detail
    assert PTH_LOINC not in suggested(card)
    assert VITAMIN_D_LOINC in suggested(card)
    assert words(card) < 80  # 100 before


def test_the_mirror_case_with_pth_suppressed_still_gets_the_myeloma_screen(
    client: FlaskClient,
) -> None:
    # R21-10 (correct in review 21): calcium 2.85, PTH 0.6 suppressed, no Graves disease.
    [card] = cards(client, [alp(190), ggt(20), calcium_mmol(2.85), pth_pmol(0.6)])
    assert "PTH suppressed: myeloma screen and PTHrP" in card["summary"]
    assert "free light chains, PTHrP" in card["detail"]
    assert "primary hyperparathyroidism likely" not in card["detail"]
    # No PTH measured: PTH first, as before.
    [asking] = cards(client, [alp(190), ggt(20), calcium_mmol(2.85)])
    assert "calcium raised: PTH first" in asking["summary"]
    assert PTH_LOINC in suggested(asking)


# --- R20-43 (noisy, 126 words): suppressed PTH beside Graves disease said it three times ----


def test_graves_disease_with_a_suppressed_pth_names_malignancy_and_myeloma_once(
    client: FlaskClient,
) -> None:
    labs = [alp(190), ggt(20), calcium_mmol(2.95), pth_pmol(0.8)]
    [card] = cards(client, labs, conditions=[GRAVES])
    assert fired([card]) == [BONE_SOURCE]
    detail = card["detail"]
    assert detail.count("myeloma") == 1
    assert "it does not explain this one" in detail
    assert GENERIC_BONE_LINE not in detail
    assert words(card) < 100  # 124 before


def test_graves_disease_with_a_normal_pth_and_a_high_calcium_is_hyperparathyroidism_too(
    client: FlaskClient,
) -> None:
    # Thyrotoxicosis suppresses PTH: a PTH within range beside calcium 2.95 is not suppressed.
    labs = [alp(190), ggt(20), calcium_mmol(2.95), pth_pmol(5.0)]
    [card] = cards(client, labs, conditions=[GRAVES])
    assert "primary hyperparathyroidism likely" in card["summary"]
    assert "it does not explain this one" in card["detail"]


# --- Open item: stable Graves disease with a raised calcium got no card ---------------------


def test_a_stable_alp_beside_graves_disease_does_not_silence_a_new_raised_calcium(
    client: FlaskClient,
) -> None:
    # ALP 190 stable against 185 three months ago, GGT normal, calcium 2.95, no PTH: the
    # stable-and-explained rule was silent (thyrotoxicosis explains the ALP).
    earlier = [alp(185, when="2026-08-20T08:00:00Z")]
    labs = [alp(190), ggt(20), calcium_mmol(2.95)]
    [card] = cards(client, labs, labs=earlier, conditions=[GRAVES])
    assert fired([card]) == [BONE_SOURCE]
    assert "calcium raised: PTH first" in card["summary"]
    assert PTH_LOINC in suggested(card)
    # A PTH suppressed on record: the myeloma screen.
    [screened] = cards(client, [*labs, pth_pmol(0.8)], labs=earlier, conditions=[GRAVES])
    assert "myeloma screen and PTHrP" in screened["summary"]
    # The neighbour that stays quiet: the same stable ALP with a normal calcium.
    normal = [alp(190), ggt(20), calcium_mmol(2.45)]
    assert cards(client, normal, labs=earlier, conditions=[GRAVES]) == []


# --- R21-12 (noisy): allopurinol started 4 weeks ago, no question about hypersensitivity ----


def test_allopurinol_started_weeks_ago_asks_about_rash_fever_and_eosinophilia(
    client: FlaskClient,
) -> None:
    # ALP 1.5x, GGT 3x, ALT and bilirubin normal, allopurinol begun 23 Oct 2026 for gout.
    labs = [alp(156), ggt(108), LABS.alt(30), LABS.bilirubin_umol(10)]
    allopurinol = drug("Allopurinol 300 mg daily", authored="2026-10-23")
    [card] = cards(client, labs, medications=[allopurinol])
    assert fired([card]) == [LIVER_SOURCE]
    detail = card["detail"]
    assert "Allopurinol, started 23 Oct 2026: early injury is usually hypersensitivity" in detail
    assert "ask about rash, fever; full blood count for eosinophilia" in detail
    assert "stop it at once if present, else recheck liver tests in 2-4 weeks" in detail
    assert "still being taken, can cause cholestatic injury" not in detail  # one line, not two
    # Begun years ago, or with no start recorded: the plain recheck line, as before.
    for old in (
        drug("Allopurinol 300 mg daily", authored="2019-03-01"),
        medication(text="Allopurinol 300 mg daily"),
    ):
        [card] = cards(client, labs, medications=[old])
        assert "still being taken, can cause cholestatic injury" in card["detail"]
        assert "rash" not in card["detail"]


def test_the_hypersensitivity_check_is_for_values_below_drug_injury_level(
    client: FlaskClient,
) -> None:
    # At injury level (ALP 2x with a raised GGT) the drug cards say stop it now.
    allopurinol = drug("Allopurinol 300 mg daily", authored="2026-10-23")
    found = cards(client, [alp(230), ggt(150), LABS.alt(30)], medications=[allopurinol])
    assert "early injury is usually hypersensitivity" not in " ".join(c["detail"] for c in found)


# --- Open item: valproate and methotrexate beside anti-TB treatment -------------------------


def tb_steps(client: FlaskClient, meds: list[dict[str, Any]]) -> list[str]:
    found = cards(client, TB_LABS, medications=[*RIPE, *meds])
    assert fired(found)[-1] == TB_CARD  # a carbamazepine begun weeks ago has its own warning too
    detail: str = found[-1]["detail"]
    return detail.split("\n- ")[1:]


def test_methotrexate_started_beside_tb_drugs_is_a_co_suspect(client: FlaskClient) -> None:
    mtx = drug("Methotrexate 15 mg weekly", authored="2026-11-01")
    [line] = [s for s in tb_steps(client, [mtx]) if s.startswith("Co-suspect")]
    assert line.startswith("Co-suspect: Methotrexate, started 1 Nov 2026; stop or replace it")


def test_valproate_started_beside_tb_drugs_is_replaced_never_stopped_abruptly(
    client: FlaskClient,
) -> None:
    for text in ("Sodium valproate 500 mg twice daily", "Carbamazepine 200 mg twice daily"):
        started = drug(text, authored="2026-11-01")
        [line] = [s for s in tb_steps(client, [started]) if s.startswith("Co-suspect")]
        assert "started 1 Nov 2026; ask its prescriber to replace it" in line, text
        assert "never stop it abruptly" in line
        assert "stop or replace it with the TB team" not in line


def test_long_standing_valproate_or_methotrexate_is_not_called_a_co_suspect(
    client: FlaskClient,
) -> None:
    for text in ("Sodium valproate 500 mg twice daily", "Methotrexate 15 mg weekly"):
        for entry in (drug(text, authored="2019-03-01"), medication(text=text)):
            assert not any(s.startswith("Co-suspect") for s in tb_steps(client, [entry])), text


# --- R20-30 (noisy, 133 words): denosumab given twice and re-prescribed named as two drugs ---


def test_denosumab_given_twice_and_prescribed_again_is_named_once(client: FlaskClient) -> None:
    # 71-year-old woman, osteoporosis, denosumab given 1 Dec 2025 and 1 Jun 2026, a new order
    # written on the ALP's day; ALP 24 U/L, and 27 a year before the first dose.
    doses = [
        administration("Denosumab 60 mg subcutaneous", "2025-12-01"),
        administration("Denosumab 60 mg subcutaneous", "2026-06-01"),
    ]
    for text in ("Denosumab 60 mg every 6 months", "Prolia (denosumab) 60 mg every 6 months"):
        order = medication(text=text)
        order["authoredOn"] = "2026-11-20"
        [card] = cards(
            client,
            [alp(24)],
            labs=[alp(27, when="2025-11-20T08:00:00Z")],
            medications=[order],
            administrations=doses,
        )
        assert fired([card]) == [PERSISTENT]
        summary, detail = card["summary"], card["detail"]
        assert "last given 1 Jun 2026" in summary, text
        assert summary.lower().count("denosumab") == 1, summary
        [record] = [line for line in detail.splitlines() if line.startswith("In the record:")]
        assert record == "In the record: Denosumab, last given 1 Jun 2026.", record
        # Doses were given: the rebound caution stays (R19-30 holds only a first dose), with the
        # review in the same caution, before the next dose.
        assert "do not stop it without a plan" in detail
        # Twenty-second round, part M: "review it with the bone team" -> "bone-team review".
        assert "bone-team review before the next dose" in detail
        assert detail.count("Caution") == 1
        assert words(card) < 133
