"""Twenty-second round (2026-12-02), part C: review 38's findings 6, 7 and 8 (docs/clinical-
reviews/review-38.md): a normal GGT in pregnancy read as a duct stone (finding 7, R38-02), known
PSC with fever and a normal GGT given the bone card (finding 8, R38-30), and the paracetamol
overdose on warfarin with a raised creatinine whose summary asked for the INR on file and left
the creatinine out (finding 6, R38-31) (docs/rulebook.md, "Twenty-second round (2026-12-02),
part C"). Each patient is rebuilt from the reviewer's facts, signed on 2 Dec 2026."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.rules_helper import fired, only, within_limits
from tests.support.labs import Labs, day, drug, post, since

NOW = "2026-12-02T08:00:00Z"
LABS = Labs(NOW)
FB = "1996-01-01"
PREGNANCY_LIVER = "alp-high-pregnancy-liver"
CHOLANGITIS = "alp-high-suspected-cholangitis"
CAUSE = "alp-high-hepatocellular-jaundice-cause"
BONE = "alp-high-bone-source"
WARFARIN = drug("Warfarin 5 mg daily", "2015-01-01")
OVERDOSE = since("T39.1X2A", "2026-11-30")


def _text(card: dict[str, Any]) -> str:
    return f"{card['summary']}\n{card['detail']}"


def pregnant(weeks: int) -> list[dict[str, Any]]:
    return [since("Z33.1", "2026-04-15"), since(f"Z3A.{weeks}", "2026-12-01")]


# --- R38-02 (finding 7): a normal GGT in pregnancy is not a duct stone ------------------------


def _r38_02(client: FlaskClient, ggt: float = 30, extra: list[Any] = []) -> list[dict[str, Any]]:  # noqa: B006
    labs = [LABS.ggt(ggt), LABS.alt(90), LABS.bilirubin(1.6), LABS.glucose(5.0)]
    labs += [LABS.creatinine(60), LABS.inr(2.6), *extra]
    return post(
        client, "female", FB, [LABS.alp(320)], labs,
        [*pregnant(33), since("Z95.2", "2015-01-01")], [WARFARIN],
    )  # fmt: skip


def test_r38_02_normal_ggt_in_pregnancy_leads_with_bile_acids(client: FlaskClient) -> None:
    card = only(_r38_02(client), PREGNANCY_LIVER)
    assert card["indicator"] == "warning"
    assert "duct stone" not in _text(card)
    assert "cholestatic" not in card["summary"]
    assert "bile acids" in card["summary"]
    assert "GGT normal" in card["summary"]
    assert "Serum bile acids, blood pressure, urine protein" in card["detail"]
    assert "hepatitis picture" not in _text(card)


def test_r38_02_bile_acids_on_file_lead_with_a_normal_ggt(client: FlaskClient) -> None:
    # neighbour: bile acids of 45 already resulted: cholestasis of pregnancy named, not asked for
    card = only(_r38_02(client, extra=[LABS.bile_acids(45)]), PREGNANCY_LIVER)
    assert "bile acids 45" in card["summary"]
    assert "Serum bile acids today" not in card["summary"]
    assert "hepatitis picture" not in _text(card)
    assert "duct stone" not in _text(card)


def test_r38_02_alt_over_5x_with_a_normal_ggt_stays_the_hepatitis_picture(
    client: FlaskClient,
) -> None:
    # neighbour: ALT 6x with a normal GGT is hepatitis's list (twentieth round, part M)
    labs = [LABS.ggt(30), LABS.alt(240), LABS.bilirubin(1.6)]
    card = only(post(client, "female", FB, [LABS.alp(320)], labs, pregnant(33)), PREGNANCY_LIVER)
    assert "hepatitis picture" in card["summary"]
    assert "HEV IgM" in card["detail"]


def test_r38_02_a_raised_ggt_keeps_the_duct_stone_ultrasound(client: FlaskClient) -> None:
    # neighbour: GGT 3x with ALT 2.25x and a raised bilirubin is the liver's cholestasis
    card = only(_r38_02(client, ggt=120), PREGNANCY_LIVER)
    assert "ultrasound for duct stones" in card["summary"]


# --- R38-30 (finding 8): known PSC with fever and a normal GGT --------------------------------


def _psc(client: FlaskClient, extra: list[dict[str, Any]] = []) -> list[dict[str, Any]]:  # noqa: B006
    labs = [LABS.alp(280, when=day("2026-09-01")), LABS.ggt(30), LABS.alt(35)]
    labs += [LABS.bilirubin(1.0), LABS.temperature(38.8), LABS.wbc(14)]
    conditions = [since("K83.01", "2018-01-01"), since("K51.90", "2015-01-01"), *extra]
    return post(client, "male", "1980-01-01", [LABS.alp(300)], labs, conditions)


def test_r38_30_psc_with_fever_and_a_normal_ggt_is_suspected_cholangitis(
    client: FlaskClient,
) -> None:
    found = _psc(client)
    card = only(found, CHOLANGITIS)
    assert card["indicator"] == "warning"
    assert card["summary"].startswith("Infection signs in known PSC: acute cholangitis")
    assert "Blood cultures, then antibiotics" in card["detail"]
    assert "isoenzymes" not in _text(card)


def test_r38_30_psc_with_a_recorded_pneumonia_stays_out_of_the_cholangitis_warning(
    client: FlaskClient,
) -> None:
    # neighbour (part D, R24-03; part K, R36-48): another infection explains the fever
    found = _psc(client, [since("J18.9", "2026-11-30")])
    within_limits(found)
    assert CHOLANGITIS not in fired(found)


# --- R38-31 (finding 6): paracetamol overdose on warfarin with a raised creatinine -------------


def _overdose(
    client: FlaskClient, creatinine: float, conditions: tuple[dict[str, Any], ...] = ()
) -> list[dict[str, Any]]:
    labs = [LABS.ggt(80), LABS.alt(3000), LABS.ast(2800), LABS.bilirubin(1.0)]
    labs += [LABS.inr(3.5), LABS.creatinine(creatinine)]
    return post(
        client, "male", "1985-01-01", [LABS.alp(130)], labs,
        [OVERDOSE, since("I48.91", "2019-01-01"), *conditions], [WARFARIN],
    )  # fmt: skip


def test_r38_31_overdose_on_warfarin_with_a_raised_creatinine_names_it(
    client: FlaskClient,
) -> None:
    found = _overdose(client, 250)
    within_limits(found)
    card = found[fired(found).index(CAUSE)]
    assert card["indicator"] == "warning"
    assert card["summary"].endswith(
        "after paracetamol overdose, creatinine 250: acetylcysteine; liver unit now"
    )
    assert "INR today" not in card["summary"]
    assert "King's by pH, lactate and creatinine" in card["detail"]


def test_r38_31_creatinine_explained_by_ckd_4_is_not_named(client: FlaskClient) -> None:
    # neighbour (part L, R39-03): CKD 4 explains the creatinine; the warfarin INR is named
    found = _overdose(client, 250, conditions=(since("N18.4", "2018-01-01"),))
    within_limits(found)
    card = found[fired(found).index(CAUSE)]
    assert "creatinine 250" not in card["summary"]
    assert "INR 3.5 on Warfarin: acetylcysteine; liver unit today" in card["summary"]


def test_r38_39_apixaban_inr_1_8_with_creatinine_keeps_the_inr_or_creatinine_line(
    client: FlaskClient,
) -> None:
    # neighbour (R38-39, judged correct): an INR of 1.8 no vitamin K antagonist explains
    labs = [LABS.ggt(80), LABS.alt(2480), LABS.bilirubin(1.0), LABS.inr(1.8), LABS.creatinine(250)]
    found = post(
        client, "male", "1985-01-01", [LABS.alp(130)], labs,
        [OVERDOSE, since("I48.91", "2019-01-01")], [drug("Apixaban 5 mg", "2019-01-01")],
    )  # fmt: skip
    within_limits(found)
    card = found[fired(found).index(CAUSE)]
    # twenty-second round, part K (review 41, R41-43): the INR and creatinine are named
    assert "INR 1.8, creatinine 250: acetylcysteine; liver unit now" in card["summary"]


def test_overdose_with_an_inr_on_file_does_not_ask_for_it(client: FlaskClient) -> None:
    # neighbour: no anticoagulant, INR 1.2, creatinine normal: the INR is named, not asked for
    labs = [LABS.ggt(80), LABS.alt(400), LABS.bilirubin(1.0), LABS.inr(1.2), LABS.creatinine(70)]
    found = post(client, "male", "1985-01-01", [LABS.alp(130)], labs, [OVERDOSE])
    within_limits(found)
    card = found[fired(found).index(CAUSE)]
    assert "INR 1.2: acetylcysteine" in card["summary"]
    assert "INR today" not in card["summary"]


def test_r38_31_overdose_on_warfarin_with_a_normal_creatinine_names_its_inr(
    client: FlaskClient,
) -> None:
    found = _overdose(client, 80)
    within_limits(found)
    card = found[fired(found).index(CAUSE)]
    assert "INR 3.5 on Warfarin: acetylcysteine; liver unit today" in card["summary"]
