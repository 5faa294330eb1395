"""Twenty-second round (2026-12-02), part J: review 41's findings 2 and 6 and the noisy R41-13
(docs/clinical-reviews/review-41.md): the fever-with-jaundice warning did not read Tokyo 2018
severity, so an INR of 1.6 or a creatinine of 250 went unnamed (R41-24, R41-55, wrong); part B's
kidney-injury line could not reach a mixed hepatitis on the liver-source card (R41-33, wrong);
Gilbert's hold-back of the fever-with-jaundice warning read the ALP only, not a GGT of 3x (R41-13,
noisy) (docs/rulebook.md, "Twenty-second round (2026-12-02), part J"). Each patient is rebuilt
from the reviewer's one-line facts, signed on 2 Dec 2026 (ALP limit 104, ALT 40, GGT 40)."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.rules_helper import card_for, fired, only, within_limits
from tests.support.labs import Labs, drug, post, since

NOW = "2026-12-02T08:00:00Z"
LABS = Labs(NOW)
FEVER_JAUNDICE = "alp-high-fever-jaundice"
LIVER = "alp-high-liver-source"
CHOLANGITIS = "alp-high-suspected-cholangitis"
GILBERT = since("E80.4", "2010-01-01")
FLU = since("J11.1", "2026-11-30")
CKD_4 = since("N18.4", "2020-01-01")
GRADE_3 = "Tokyo 2018 grade III (organ dysfunction): organ support and urgent biliary drainage"
UNGRADED = "drainage if obstructed; same-day senior review"
VITAMIN_K_LINE = (
    "INR 1.6 beside jaundice: IV vitamin K, INR again before any ERCP or biopsy; "
    "same-day team review."
)
GILBERT_FEVER_LINE = (
    "Gilbert syndrome recorded (fever raises its bilirubin): direct bilirubin today; "
    "if conjugated, treat as cholangitis."
)
KIDNEY_LINE = "kidney injury; same-day review (leptospirosis, hepatitis E, drug, ischaemia?)."


def _text(card: dict[str, Any]) -> str:
    return f"{card['summary']}\n{card['detail']}"


# --- R41-24, R41-55 (wrong): Tokyo 2018 grade III on the fever-with-jaundice warning -----------


def _febrile_jaundice(
    client: FlaskClient,
    alp: float,
    ggt: float,
    bilirubin: float,
    wbc: float,
    *more: dict[str, Any],
    conditions: list[dict[str, Any]] | None = None,
    medications: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    labs = [LABS.ggt(ggt), LABS.alt(60), LABS.bilirubin(bilirubin), LABS.temperature(38.9)]
    labs += [LABS.wbc(wbc), *more]
    return post(
        client, "male", "1960-01-01", [LABS.alp(alp)], labs, conditions or [], medications or []
    )


def _r41_24(client: FlaskClient, inr: float, **kw: Any) -> list[dict[str, Any]]:
    # obstructive: ALP 801 (7.7x), GGT 900, bilirubin 8 mg/dL, T 38.9, WBC 16
    return _febrile_jaundice(client, 801, 900, 8.0, 16, LABS.inr(inr), **kw)


def _r41_55(client: FlaskClient, creatinine: float, **kw: Any) -> list[dict[str, Any]]:
    # fever, WBC 13, ALP 208 (2x), GGT 150, bilirubin 5 mg/dL
    return _febrile_jaundice(client, 208, 150, 5.0, 13, LABS.creatinine(creatinine), **kw)


def test_r41_24_inr_1_6_is_tokyo_grade_3_with_vitamin_k(client: FlaskClient) -> None:
    card = only(_r41_24(client, 1.6), FEVER_JAUNDICE)
    assert card["indicator"] == "warning"
    assert "INR 1.6" in card["summary"]
    assert "Tokyo grade III" in card["summary"]
    assert "urgent drainage" in card["summary"]
    assert GRADE_3 in card["detail"]
    assert "Blood cultures, then antibiotics" in card["detail"]
    assert UNGRADED not in card["detail"]
    assert VITAMIN_K_LINE in card["detail"]
    # An INR in range is not graded III and asks for no vitamin K.
    card = only(_r41_24(client, 1.2), FEVER_JAUNDICE)
    assert "grade III" not in _text(card)
    assert UNGRADED in card["detail"]
    assert "vitamin K" not in card["detail"]
    # Warfarin's INR grades nothing and is not vitamin K deficiency.
    warfarin = [drug("Warfarin 3 mg daily", "2019-01-01")]
    found = _r41_24(client, 2.8, medications=warfarin)
    within_limits(found)
    card = card_for(found, FEVER_JAUNDICE)
    assert "grade III" not in _text(card)
    assert "IV vitamin K" not in card["detail"]


def test_inr_1_5_has_vitamin_k_but_tokyo_grade_3_needs_over_1_5(client: FlaskClient) -> None:
    # Part A's vitamin K bound is 1.5 or more (alf_inr_min); TG18's hepatic item is over 1.5.
    card = only(_r41_24(client, 1.5), FEVER_JAUNDICE)
    assert "INR 1.5 beside jaundice: IV vitamin K" in card["detail"]
    assert "grade III" not in _text(card)


def test_r41_55_creatinine_250_is_grade_3_and_names_leptospirosis(client: FlaskClient) -> None:
    card = only(_r41_55(client, 250), FEVER_JAUNDICE)
    assert "creatinine 250 umol/L" in card["summary"]
    assert "Tokyo grade III" in card["summary"]
    assert "leptospirosis?" in card["summary"]
    assert GRADE_3 in card["detail"]
    assert "Creatinine 250 umol/L" in card["detail"]
    assert "leptospirosis (Weil's disease)" in card["detail"]
    assert UNGRADED not in card["detail"]
    # Recorded CKD stage 4 explains the creatinine: neither grade III nor leptospirosis.
    card = only(_r41_55(client, 250, conditions=[CKD_4]), FEVER_JAUNDICE)
    assert "grade III" not in _text(card)
    assert "leptospirosis" not in _text(card)
    assert "creatinine" not in card["summary"]


def test_r41_55_a_creatinine_under_177_names_leptospirosis_without_grade_3(
    client: FlaskClient,
) -> None:
    card = only(_r41_55(client, 150), FEVER_JAUNDICE)
    assert "grade III" not in _text(card)
    assert "leptospirosis (Weil's disease)" in card["detail"]
    assert UNGRADED in card["detail"]


def test_inr_and_creatinine_both_named_within_limits(client: FlaskClient) -> None:
    found = _febrile_jaundice(client, 801, 900, 13.2, 16, LABS.inr(1.6), LABS.creatinine(1250))
    card = only(found, FEVER_JAUNDICE)
    assert "INR 1.6" in card["summary"]
    assert "creatinine 1250 umol/L" in card["summary"]
    for line in (GRADE_3, VITAMIN_K_LINE, "leptospirosis (Weil's disease)"):
        assert line in card["detail"]
    # The heaviest neighbour: warfarin (its INR grades nothing) and a cholestatic drug's line.
    medications = [
        drug("Warfarin 3 mg daily", "2019-01-01"),
        drug("Co-amoxiclav 625 mg three times daily", "2026-11-25"),
    ]
    found = _r41_55(client, 250, medications=medications)
    card = only(found, FEVER_JAUNDICE)
    assert "creatinine 250 umol/L" in card["summary"]
    assert "IV vitamin K" not in card["detail"]


def test_the_cholangitis_warning_counts_the_creatinine_for_grade_3(client: FlaskClient) -> None:
    # A duct stone recorded (K80.50): the suspected-cholangitis warning, graded on the creatinine.
    stone = since("K80.50", "2026-11-01")
    found = _r41_55(client, 250, conditions=[stone])
    card = only(found, CHOLANGITIS)
    assert (
        "Tokyo 2018 grade III (INR, platelets or creatinine: organ dysfunction)" in card["detail"]
    )
    found = _r41_55(client, 250, conditions=[stone, CKD_4])
    assert "grade III" not in only(found, CHOLANGITIS)["detail"]


# --- R41-33 (wrong): kidney injury beside a mixed hepatitis ------------------------------------


def _mixed(client: FlaskClient, *more: dict[str, Any], conditions: list[Any] | None = None) -> Any:
    # R41-33: ALT 160 (4x), ALP 146 (1.4x), GGT 120, creatinine 180, no CKD, afebrile
    labs = [LABS.ggt(120), LABS.alt(160), LABS.bilirubin(1.0), *more]
    return post(client, "female", "1975-01-01", [LABS.alp(146)], labs, conditions or [])


def test_r41_33_mixed_hepatitis_with_creatinine_180_names_the_kidney_injury(
    client: FlaskClient,
) -> None:
    card = only(_mixed(client, LABS.creatinine(180)), LIVER)
    assert f"Creatinine 180 umol/L, 2 Dec 2026: {KIDNEY_LINE}" in card["detail"]
    # not with CKD 4 recorded, not with a creatinine in range, not with an ALT under 3x
    card = only(_mixed(client, LABS.creatinine(180), conditions=[CKD_4]), LIVER)
    assert KIDNEY_LINE not in card["detail"]
    card = only(_mixed(client, LABS.creatinine(80)), LIVER)
    assert KIDNEY_LINE not in card["detail"]
    labs = [LABS.ggt(120), LABS.alt(100), LABS.creatinine(180)]
    found = post(client, "female", "1975-01-01", [LABS.alp(146)], labs, [])
    assert KIDNEY_LINE not in only(found, LIVER)["detail"]


# --- R41-13 (noisy): Gilbert's hold-back reads the GGT too -------------------------------------


def _gilbert_fever(client: FlaskClient, alp: float, ggt: float) -> list[dict[str, Any]]:
    labs = [LABS.ggt(ggt), LABS.alt(45), LABS.bilirubin(2.6), LABS.temperature(38.9)]
    return post(client, "male", "1970-01-01", [LABS.alp(alp)], labs, [GILBERT, FLU])


def test_r41_13_gilbert_with_fever_and_ggt_3x_is_the_cholangitis_warning(
    client: FlaskClient,
) -> None:
    # ALP 150 (1.44x), GGT 120 (3x), bilirubin 2.6: Tokyo B-2 on the GGT alone.
    card = only(_gilbert_fever(client, 150, 120), FEVER_JAUNDICE)
    assert "Blood cultures, then antibiotics" in card["detail"]
    # R39-26 (correct, kept): ALP 140, GGT 60 (1.5x, not over it): the info card's Gilbert line.
    card = only(_gilbert_fever(client, 140, 60), LIVER)
    assert GILBERT_FEVER_LINE in card["detail"]


def test_gilbert_with_fever_and_jaundice_gets_one_of_the_two_on_the_ggt_too(
    client: FlaskClient,
) -> None:
    # GGT 60 is 1.5x of 40 (held back), 61 over it; ALP 156 is 1.5x of 104.
    for alp in (110, 140, 155, 156, 198):
        for ggt in (45, 59, 60, 61, 80, 120, 400):
            found = _gilbert_fever(client, alp, ggt)
            within_limits(found)
            warned = FEVER_JAUNDICE in fired(found)
            lined = any(GILBERT_FEVER_LINE in card["detail"] for card in found)
            assert warned != lined, (alp, ggt, fired(found))
            assert warned == (alp >= 156 or ggt > 60), (alp, ggt, fired(found))


# --- the pregnancy twin: the same grade III items, beside the pregnancy liver warning ----------


def test_pregnant_with_fever_jaundice_and_inr_1_6_is_graded_on_the_twin(
    client: FlaskClient,
) -> None:
    pregnant = [since("Z33.1", "2026-04-15"), since("Z3A.33", "2026-12-01")]
    line = "If cholangitis, Tokyo 2018 grade III (INR or creatinine: organ dysfunction)"
    for more, graded in (
        (LABS.inr(1.6), True),
        (LABS.creatinine(250), True),
        (LABS.inr(1.2), False),
    ):
        labs = [LABS.ggt(150), LABS.alt(60), LABS.bilirubin(5.0), LABS.temperature(38.9), more]
        found = post(client, "female", "1995-01-01", [LABS.alp(300)], labs, pregnant)
        within_limits(found)
        twin = card_for(found, "alp-high-fever-jaundice-pregnancy")
        assert (line in twin["detail"]) == graded, twin["detail"]
        assert FEVER_JAUNDICE not in fired(found)
