"""Twenty-second round (2026-12-02), part A: review 39's wrong findings 1, 3 and 4
(docs/clinical-reviews/review-39.md): Gilbert syndrome holding back the fever-with-jaundice
warning whatever the ALP (R39-27, R39-04; R39-26 and R39-05 kept), "INR 1.6 (not an
anticoagulant's)" beside a recorded rivaroxaban (R39-19), and an obstructive jaundice whose INR
of 1.6 was not named (R39-17) (docs/rulebook.md, "Twenty-second round (2026-12-02), part A").
Each patient is rebuilt from the reviewer's one-line facts, signed on 2 Dec 2026."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.rules_helper import fired, only, within_limits
from tests.support.labs import Labs, drug, post, since

NOW = "2026-12-02T08:00:00Z"
LABS = Labs(NOW)
FEVER_JAUNDICE = "alp-high-fever-jaundice"
LIVER = "alp-high-liver-source"
SEVERE_INJURY = "alp-high-acute-liver-injury-severe"
SEVERE_HEPATITIS = "alp-high-acute-hepatitis-severe"
GILBERT = since("E80.4", "2010-01-01")
FLU = since("J11.1", "2026-11-30")
GILBERT_FEVER_LINE = (
    "Gilbert syndrome recorded (fever raises its bilirubin): direct bilirubin today; "
    "if conjugated, treat as cholangitis."
)
CULTURES = "Blood cultures, then antibiotics"
RIVAROXABAN = drug("Rivaroxaban 20 mg daily", "2019-01-01")
DOAC_LINE = (
    "it lifts the INR a little (rivaroxaban most, near a dose); INR again before the next dose; "
    "the liver unit decides on the drug."
)
VITAMIN_K_LINE = (
    "INR 1.6 beside jaundice: IV vitamin K, INR again before any ERCP or biopsy; "
    "same-day team review."
)


# --- R39-27, R39-04 (wrong): Gilbert syndrome, a fever, jaundice and a cholestatic ALP --------


def _gilbert_fever(
    client: FlaskClient,
    alp: float,
    ggt: float,
    bilirubin: float,
    *more: dict[str, Any],
    conditions: tuple[dict[str, Any], ...] = (GILBERT, FLU),
) -> list[dict[str, Any]]:
    labs = [LABS.ggt(ggt), LABS.alt(45), LABS.bilirubin(bilirubin), LABS.temperature(38.9), *more]
    return post(client, "male", "1970-01-01", [LABS.alp(alp)], labs, list(conditions))


def test_r39_27_gilbert_with_fever_and_alp_4x_is_the_cholangitis_warning(
    client: FlaskClient,
) -> None:
    # fever 38.9, WBC 17, ALP 420 (4x), GGT 400 (10x), bilirubin 3.5 unfractionated
    found = _gilbert_fever(client, 420, 400, 3.5, LABS.wbc(17), conditions=(GILBERT,))
    card = only(found, FEVER_JAUNDICE)
    assert card["indicator"] == "warning"
    assert CULTURES in card["detail"]
    assert "suspected cholangitis" in card["summary"]


def test_r39_04_gilbert_with_fever_and_alp_1_9x_is_the_cholangitis_warning(
    client: FlaskClient,
) -> None:
    # ALP 198 (1.9x of 104), GGT 120 (3x), bilirubin 2.6: above the 1.5x bound, a cholestasis
    # Gilbert syndrome does not make.
    card = only(_gilbert_fever(client, 198, 120, 2.6), FEVER_JAUNDICE)
    assert CULTURES in card["detail"]
    # R39-26 (correct, kept): ALP 140 (1.35x), bilirubin 2.6: the info card with the direct
    # bilirubin today, no antibiotics.
    card = only(_gilbert_fever(client, 140, 60, 2.6), LIVER)
    assert card["indicator"] == "info"
    assert GILBERT_FEVER_LINE in card["detail"]
    assert "then antibiotics" not in card["detail"]
    # R39-05 (correct, kept): a conjugated direct bilirubin keeps the warning at either ALP.
    for alp in (140, 198):
        found = _gilbert_fever(client, alp, 120, 2.6, LABS.direct_bilirubin(1.8))
        assert CULTURES in only(found, FEVER_JAUNDICE)["detail"]


def test_gilbert_with_fever_and_jaundice_never_gets_neither(client: FlaskClient) -> None:
    # The hold-back and the Gilbert fever line share jaundice_weight_loss_min_xuln (1.5x of 104
    # is 156): one of the two always shows, never both. Part J (review 41, R41-13): they share
    # gilbert_fever_ggt_max_xuln too (GGT 60 is 1.5x of 40): a GGT over it (200, 5x) is Tokyo
    # 2018 B-2 on its own and warns at any ALP; the ALP sweep holds at a GGT of 1.5x.
    for ggt in (60, 200):
        for alp in (110, 140, 150, 155, 156, 157, 170, 198, 300, 420, 800):
            found = _gilbert_fever(client, alp, ggt, 2.6)
            within_limits(found)
            warned = FEVER_JAUNDICE in fired(found)
            lined = any(GILBERT_FEVER_LINE in card["detail"] for card in found)
            assert warned != lined, (alp, ggt, fired(found))
            assert warned == (alp >= 156 or ggt > 60), (alp, ggt, fired(found))


def test_haemolysis_with_fever_and_a_cholestatic_alp_is_the_warning_too(
    client: FlaskClient,
) -> None:
    # Hereditary spherocytosis (D58.0) explains an unconjugated bilirubin, not an ALP of 4x.
    spherocytosis = since("D58.0", "2000-01-01")
    found = _gilbert_fever(client, 420, 400, 3.5, conditions=(spherocytosis,))
    assert CULTURES in only(found, FEVER_JAUNDICE)["detail"]


# --- R39-19 (wrong): rivaroxaban beside a failing INR ----------------------------------------


def _no_cause(
    client: FlaskClient, medications: list[dict[str, Any]], *more: dict[str, Any]
) -> list[dict[str, Any]]:
    # ALT 880 (22x), bilirubin 4.0, INR 1.6, ALP 180, GGT 90; no recorded cause
    labs = [LABS.ggt(90), LABS.alt(880), LABS.bilirubin(4.0), LABS.inr(1.6), *more]
    return post(client, "female", "1960-01-01", [LABS.alp(180)], labs, [], medications)


def test_r39_19_rivaroxaban_is_named_not_denied(client: FlaskClient) -> None:
    card = only(_no_cause(client, [RIVAROXABAN]), SEVERE_INJURY)
    assert card["indicator"] == "warning"
    assert "anticoagulant's" not in card["summary"]
    assert "INR 1.6: acute severe liver injury; liver unit today" in card["summary"]
    assert f"On Rivaroxaban: {DOAC_LINE}" in card["detail"]
    # the liver unit line still leads
    assert card["detail"].index("Liver unit (transplant centre) today") < card["detail"].index(
        "On Rivaroxaban"
    )
    # R39-16: no anticoagulant, no line; warfarin still explains the INR (no card of this rule)
    card = only(_no_cause(client, []), SEVERE_INJURY)
    assert "anticoagulant's" not in card["summary"]
    assert DOAC_LINE not in card["detail"]
    found = _no_cause(client, [drug("Warfarin 3 mg daily", "2019-01-01")])
    assert SEVERE_INJURY not in fired(found)


def test_the_doac_line_fits_beside_every_other_line(client: FlaskClient) -> None:
    # rivaroxaban and a low glucose: two conditional lines at once (a liver-injuring drug on
    # record is the Hy's law card's, not this one's)
    card = only(_no_cause(client, [RIVAROXABAN], LABS.glucose(3.0)), SEVERE_INJURY)
    assert DOAC_LINE in card["detail"]
    assert "IV glucose now" in card["detail"]


def test_r39_25_the_hepatitis_sibling_says_the_same_words(client: FlaskClient) -> None:
    labs = [LABS.ggt(120), LABS.alt(1500), LABS.bilirubin(5.0), LABS.inr(1.6)]
    found = post(
        client,
        "male",
        "1986-01-01",
        [LABS.alp(200)],
        labs,
        [since("B15.9", "2026-11-24")],
        [drug("Apixaban 5 mg twice daily", "2025-01-01")],
    )
    card = only(found, SEVERE_HEPATITIS)
    assert f"On Apixaban: {DOAC_LINE}" in card["detail"]


# --- R39-17 (wrong): obstructive jaundice with INR 1.6 -----------------------------------------


def _obstructive(
    client: FlaskClient,
    inr: float = 1.6,
    medications: list[dict[str, Any]] = [],  # noqa: B006
    *more: dict[str, Any],
) -> list[dict[str, Any]]:
    # ALP 800 (7.7x), GGT 900, bilirubin 8.0 mg/dL, ALT 150; no recorded cause
    labs = [LABS.ggt(900), LABS.alt(150), LABS.bilirubin(8.0), LABS.inr(inr), *more]
    return post(client, "male", "1955-01-01", [LABS.alp(800)], labs, [], medications)


def test_r39_17_obstructive_jaundice_names_the_inr_and_vitamin_k(client: FlaskClient) -> None:
    unconjugated = LABS.direct_bilirubin(0.2)
    # Twenty-second round, part H: the same summary and line now come on a warning that stands
    # in for the liver card (same-day action is a warning; part A's left-open item).
    card = only(_obstructive(client), "alp-high-obstructive-jaundice-inr")
    assert card["indicator"] == "warning"
    assert "INR 1.6" in card["summary"]
    assert "Ultrasound today, vitamin K; same-day review" in card["summary"]
    assert VITAMIN_K_LINE in card["detail"]
    assert "Ultrasound today (duct stone, stricture, tumour)" in card["detail"]
    # not under 1.5, not on warfarin (the drug's INR), not for a bilirubin shown unconjugated
    card = only(_obstructive(client, 1.3), LIVER)
    assert "vitamin K" not in f"{card['summary']}\n{card['detail']}"
    warfarin = [drug("Warfarin 3 mg daily", "2019-01-01")]
    for found in (_obstructive(client, 2.5, warfarin), _obstructive(client, 1.6, [], unconjugated)):
        within_limits(found)
        assert all("IV vitamin K" not in c["detail"] for c in found), fired(found)
