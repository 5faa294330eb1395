"""Twenty-first round (2026-12-02), part M: review 38's unsafe findings (docs/clinical-reviews/
review-38.md, findings 1-3): a failing liver with no recorded cause (R38-24, R38-47, R38-48), a
HELLP card hiding a paracetamol overdose (R38-37), and pre-eclampsia after birth hiding a severe
acute hepatitis B and the baby's prophylaxis (R38-44) (docs/rulebook.md, "Twenty-first round
(2026-12-02), part M"). Each patient is rebuilt from the reviewer's facts
(/work/review38-work/cases.py), signed on 2 Dec 2026."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.rules_helper import fired
from tests.support.labs import Labs, drug, post, since, worded, words

NOW = "2026-12-02T08:00:00Z"
LABS = Labs(NOW)
SEVERE_INJURY = "alp-high-acute-liver-injury-severe"
SEVERE_HEPATITIS = "alp-high-acute-hepatitis-severe"
PREGNANCY_LIVER = "alp-high-pregnancy-liver"
CAUSE = "alp-high-hepatocellular-jaundice-cause"
FB = "1996-01-01"


def _short(found: list[dict[str, Any]]) -> None:
    for card in found:
        assert len(card["summary"]) < 140, card["summary"]
        assert words(card) <= 130, (words(card), card["detail"])


def _one(found: list[dict[str, Any]], rule: str) -> dict[str, Any]:
    assert fired(found) == [rule], fired(found)
    _short(found)
    return found[0]


def _text(card: dict[str, Any]) -> str:
    return f"{card['summary']}\n{card['detail']}"


# --- R38-48, R38-24, R38-47 (unsafe): a failing liver with no recorded cause ------------------


def _no_cause(
    client: FlaskClient,
    conditions: list[dict[str, Any]] = [],  # noqa: B006
    medications: list[dict[str, Any]] = [],  # noqa: B006
    inr_value: float = 1.9,
) -> list[dict[str, Any]]:
    # R38-48 (E08b): ALT 1500 (37.5x), bilirubin 5.0, INR 1.9, glucose 3.0, creatinine 170
    labs = [
        LABS.ggt(70),
        LABS.alt(1500),
        LABS.bilirubin(5.0),
        LABS.glucose(3.0),
        LABS.inr(inr_value),
    ]
    labs += [LABS.creatinine(170)]
    return post(client, "female", FB, [LABS.alp(200)], labs, conditions, medications)


def test_r38_48_jaundice_and_inr_1_9_with_no_cause_is_a_liver_unit_warning(
    client: FlaskClient,
) -> None:
    card = _one(_no_cause(client), SEVERE_INJURY)
    assert card["indicator"] == "warning"
    assert "INR 1.9: acute severe liver injury" in card["summary"]
    assert "liver unit today" in card["summary"]
    assert "Liver unit (transplant centre) today" in card["detail"]
    assert "Glucose 3.0: IV glucose now" in card["detail"]
    assert "acetylcysteine if any doubt" in card["detail"]
    assert "ultrasound with Doppler" in card["detail"]
    assert "INR and paracetamol level today" not in _text(card)


def test_r38_24_fatty_liver_labs_50_days_after_birth_are_not_ultrasound_first(
    client: FlaskClient,
) -> None:
    # E08: past the 42-day window the pregnancy card is silent; the injury is not
    labs = [LABS.ggt(70), LABS.ast(450), LABS.alt(400), LABS.bilirubin(5.0), LABS.glucose(3.0)]
    labs += [LABS.inr(1.7), LABS.creatinine(170), LABS.platelets(180)]
    found = post(client, "female", FB, [LABS.alp(350)], labs, [since("O80", "2026-10-13")])
    card = _one(found, SEVERE_INJURY)
    assert "INR 1.7" in card["summary"]
    assert "ultrasound first" not in _text(card)


def test_r38_47_methotrexate_is_named_and_withheld(client: FlaskClient) -> None:
    # X12b: RA on methotrexate, fever 38.5, ALT 600, bilirubin 3.5, INR 1.7
    labs = [
        LABS.ggt(150),
        LABS.alt(600),
        LABS.bilirubin(3.5),
        LABS.inr(1.7),
        LABS.temperature(38.5),
    ]
    found = post(
        client, "female", "1970-01-01", [LABS.alp(250)], labs, [since("M06.9", "2018-01-01")],
        [drug("Methotrexate 15 mg once weekly", "2018-01-01")],
    )  # fmt: skip
    card = _one(found, SEVERE_INJURY)
    assert "liver unit today" in card["summary"]
    assert "Methotrexate" in card["detail"]
    assert "withhold it" in card["detail"]
    # the warning leads: the liver unit line comes before the drug line
    assert card["detail"].index("Liver unit") < card["detail"].index("Methotrexate")


def test_r38_48_on_warfarin_the_inr_is_the_drugs(client: FlaskClient) -> None:
    found = _no_cause(client, medications=[drug("Warfarin 5 mg daily", "2020-01-01")])
    assert SEVERE_INJURY not in fired(found)


def test_r38_48_in_recorded_cirrhosis_the_inr_may_be_chronic(client: FlaskClient) -> None:
    found = _no_cause(client, conditions=[since("K74.60", "2020-01-01")])
    assert SEVERE_INJURY not in fired(found)


def test_r38_48_inr_1_4_keeps_the_info_card(client: FlaskClient) -> None:
    # Twenty-second round, part K (review 41, finding 4, R41-16: this patient): the info card at
    # INR 1.4 with jaundice was wrong; a jaundiced acute hepatitis is hepatology today, now the
    # warning alp-high-jaundiced-hepatitis in the info card's place (still not the severe card).
    found = _no_cause(client, inr_value=1.4)
    assert fired(found) == ["alp-high-jaundiced-hepatitis"]
    assert found[0]["indicator"] == "warning"


def test_a_recorded_hepatitis_keeps_its_own_severe_card(client: FlaskClient) -> None:
    found = _no_cause(client, conditions=[since("B16.9", "2026-11-24")])
    assert fired(found) == [SEVERE_HEPATITIS]


# --- R38-37 (unsafe): HELLP with a paracetamol overdose two days ago --------------------------


def _hellp(client: FlaskClient, platelet_count: float = 70) -> list[dict[str, Any]]:
    # X07: 34 weeks, platelets 70, LDH 800, AST 300, ALT 280 (7x), bilirubin 2.0, T39.1X2A 30 Nov
    labs = [LABS.ggt(50), LABS.ast(300), LABS.alt(280), LABS.bilirubin(2.0)]
    labs += [
        LABS.platelets(platelet_count),
        LABS.ldh(800),
        LABS.inr(1.2),
        LABS.glucose(5.0),
        LABS.creatinine(70),
    ]
    conditions = [since("Z33.1", "2026-04-15"), since("Z3A.34", "2026-12-01")]
    conditions += [since("T39.1X2A", "2026-11-30")]
    return post(client, "female", "1994-01-01", [LABS.alp(420)], labs, conditions)


def test_r38_37_hellp_and_a_paracetamol_overdose_show_both_warnings(client: FlaskClient) -> None:
    found = _hellp(client)
    assert fired(found) == [PREGNANCY_LIVER, CAUSE], fired(found)
    _short(found)
    hellp, paracetamol = found
    assert "HELLP syndrome" in hellp["summary"]
    assert paracetamol["indicator"] == "warning"
    assert "acetylcysteine" in paracetamol["summary"]
    assert "obstetric team" in paracetamol["summary"]
    assert "treated as outside pregnancy" in paracetamol["detail"]
    # placental ALP: no "more than this injury explains" ultrasound line in pregnancy
    assert "second, cholestatic cause" not in paracetamol["detail"]


def test_r38_37_without_hellps_platelets_the_paracetamol_card_stands_alone(
    client: FlaskClient,
) -> None:
    # neighbour (part G, R34-46): platelets 180, the paracetamol card alone, still shown though
    # the placental ALP makes the pattern look cholestatic
    card = _one(_hellp(client, platelet_count=180), CAUSE)
    assert "acetylcysteine" in card["summary"]


# --- R38-44 (unsafe): after birth, pre-eclampsia hid a severe acute hepatitis B and the baby --


def _after_birth_hbv(client: FlaskClient, inr_value: float) -> list[dict[str, Any]]:
    # X14: delivered 28 Nov (day 4), "PET" in words, acute hepatitis B (B16.9), ALT 150 (3.75x),
    # AST 170, bilirubin 2.0, platelets 160
    labs = [LABS.ggt(60), LABS.alt(150), LABS.ast(170), LABS.bilirubin(2.0), LABS.inr(inr_value)]
    labs += [LABS.platelets(160)]
    conditions = [since("O80", "2026-11-28"), worded("PET", "2026-11-27")]
    conditions += [since("B16.9", "2026-11-20")]
    return post(client, "female", "1993-01-01", [LABS.alp(300)], labs, conditions)


def test_r38_44_inr_1_6_after_birth_reaches_the_liver_unit_and_names_the_baby(
    client: FlaskClient,
) -> None:
    card = _one(_after_birth_hbv(client, 1.6), PREGNANCY_LIVER)
    assert card["indicator"] == "warning"
    summary = card["summary"]
    assert summary.startswith("Delivered 28 Nov 2026, pre-eclampsia, hepatitis B, INR 1.6")
    assert "liver and obstetric units today" in summary
    assert "HBIG by day 7" in summary
    detail = card["detail"]
    assert "INR 1.6 already with a recorded hepatitis" in detail
    assert "liver unit today (transplant centre)" in detail
    assert "Baby born 28 Nov 2026: HBV vaccine + HBIG if not given (HBIG by day 7)" in detail
    assert "magnesium sulfate" in detail  # pre-eclampsia's line stays


def test_r38_44_inr_1_2_keeps_pre_eclampsia_first_and_still_names_the_baby(
    client: FlaskClient,
) -> None:
    card = _one(_after_birth_hbv(client, 1.2), PREGNANCY_LIVER)
    assert card["summary"].startswith("Delivered, pre-eclampsia with raised transaminases")
    assert "liver unit today" not in card["detail"]
    assert "Baby born 28 Nov 2026: HBV vaccine + HBIG" in card["detail"]


def test_r38_44_in_pregnancy_a_non_hepatocellular_hepatitis_with_inr_1_6_names_the_liver_unit(
    client: FlaskClient,
) -> None:
    # neighbour: the same labs at 33 weeks; the recorded-hepatitis INR lines needed a
    # hepatocellular pattern
    labs = [LABS.ggt(60), LABS.alt(150), LABS.ast(170), LABS.bilirubin(2.0), LABS.inr(1.6)]
    labs += [LABS.platelets(160)]
    conditions = [since("Z33.1", "2026-05-01"), since("Z3A.33", "2026-12-01")]
    conditions += [since("B16.9", "2026-11-20")]
    found = post(client, "female", "1993-01-01", [LABS.alp(300)], labs, conditions)
    card = _one(found, PREGNANCY_LIVER)
    assert "INR 1.6 already" in card["detail"]
    assert "liver unit today" in card["detail"]


# --- E02 (R38-18's card): known AIH on azathioprine with INR 1.6 stays within 130 words -------


def test_e02_aih_on_azathioprine_with_inr_1_6_stays_short(client: FlaskClient) -> None:
    labs = [LABS.ggt(150), LABS.alt(800), LABS.bilirubin(4.0), LABS.inr(1.6)]
    drugs = [drug("Azathioprine 100 mg daily", "2024-03-01")]
    drugs += [drug("Prednisolone 10 mg daily", "2024-03-01")]
    aih = [since("K75.4", "2024-03-01")]
    found = post(client, "female", "1980-01-01", [LABS.alp(220)], labs, aih, drugs)
    card = _one(found, CAUSE)
    assert "INR 1.6 already" in card["detail"]
    assert "liver unit" in card["summary"]
    assert "IgG and INR today" not in card["detail"]
