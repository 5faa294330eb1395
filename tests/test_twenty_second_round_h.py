"""Twenty-second round, part H: failing INRs on the liver cards (the loose ends of parts A and B).

1. Obstructive jaundice with INR 1.6 (review 39, R39-17) was named by part A on the info liver
   card: it is now a warning (alp-high-obstructive-jaundice-inr) in that card's place.
2. An INR of 1.5 or more without jaundice on an acute hepatocellular injury (ALT 15x, bilirubin
   normal, INR 1.7, no warfarin) got the info hepatocellular card: it is now EASL 2017's acute
   liver injury on alp-high-acute-liver-injury-severe (liver unit today, paracetamol level, a look
   for confusion now), from an ALT of 5x; warfarin still stands it down, a DOAC does not.
3. On warfarin with an INR on record the drug-injury cards asked for it again ("Liver injury
   raises Warfarin's effect: INR today"; review 37, R37-28): the INR is now named.
4. Part B's kidney line names hepatitis E but the serology line lacked HEV IgM: added.

(docs/rulebook.md, "Twenty-second round (2026-12-02), part H".)"""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.rules_helper import fired, only, within_limits
from tests.support.labs import Labs, drug, post, since

NOW = "2026-12-02T08:00:00Z"
LABS = Labs(NOW)
OBSTRUCTIVE = "alp-high-obstructive-jaundice-inr"
LIVER = "alp-high-liver-source"
SEVERE_INJURY = "alp-high-acute-liver-injury-severe"
HEPATOCELLULAR = "alp-high-liver-hepatocellular"
HYS_LAW = "alp-high-drug-hys-law"
DRUG_JAUNDICE = "alp-high-drug-jaundice"
WARFARIN = drug("Warfarin 3 mg daily", "2019-01-01")
RIVAROXABAN = drug("Rivaroxaban 20 mg daily", "2019-01-01")
CO_AMOXICLAV = drug("Co-amoxiclav 625 mg three times daily", "2026-11-28")
UTI = since("N39.0", "2026-11-28")
VITAMIN_K_LINE = (
    "INR 1.6 beside jaundice: IV vitamin K, INR again before any ERCP or biopsy; "
    "same-day team review."
)


# --- 1. Obstructive jaundice with INR 1.6: a warning -------------------------------------------


def _obstructive(
    client: FlaskClient,
    inr: float = 1.6,
    conditions: list[dict[str, Any]] = [],  # noqa: B006
    medications: list[dict[str, Any]] = [],  # noqa: B006
    *more: dict[str, Any],
) -> list[dict[str, Any]]:
    # review 39's R39-17: ALP 800 (7.7x), GGT 900, bilirubin 8.0 mg/dL, ALT 150; no recorded cause
    labs = [LABS.ggt(900), LABS.alt(150), LABS.bilirubin(8.0), LABS.inr(inr), *more]
    return post(client, "male", "1955-01-01", [LABS.alp(800)], labs, conditions, medications)


def test_obstructive_jaundice_with_a_failing_inr_is_a_warning(client: FlaskClient) -> None:
    card = only(_obstructive(client), OBSTRUCTIVE)
    assert card["indicator"] == "warning"
    assert card["summary"] == (
        "ALP 800 U/L (7.7x), bilirubin 8.0 mg/dL, INR 1.6: obstructive jaundice? "
        "Ultrasound today, vitamin K; same-day review"
    )
    detail = card["detail"]
    assert VITAMIN_K_LINE in detail
    assert "Ultrasound today (duct stone, stricture, tumour)" in detail
    assert "INR not corrected by the next day, or ducts not dilated: hepatology today" in detail
    # no PBC work-up on the day an obstruction is excluded
    assert "anti-mitochondrial" not in detail


def test_obstructive_warning_neighbours(client: FlaskClient) -> None:
    # under 1.5: the info liver card, no vitamin K
    card = only(_obstructive(client, 1.3), LIVER)
    assert card["indicator"] == "info"
    assert "vitamin K" not in f"{card['summary']}\n{card['detail']}"
    # on warfarin the INR is the drug's; a bilirubin shown unconjugated is not obstruction
    for found in (
        _obstructive(client, 1.6, [], [WARFARIN]),
        _obstructive(client, 1.6, [], [], LABS.direct_bilirubin(0.2)),
    ):
        within_limits(found)
        assert OBSTRUCTIVE not in fired(found)
        assert all("IV vitamin K" not in c["detail"] for c in found), fired(found)
    # a DOAC does not explain the INR of a jaundice: the warning stays
    card = only(_obstructive(client, 1.6, [], [RIVAROXABAN]), OBSTRUCTIVE)
    assert VITAMIN_K_LINE in card["detail"]
    # sepsis recorded: the liver card's own first test (cholestasis of sepsis) leads, with the
    # vitamin K line part A put there
    card = only(_obstructive(client, 1.6, [since("A41.9", "2026-12-01")]), LIVER)
    assert "sepsis" in card["summary"]
    assert VITAMIN_K_LINE in card["detail"]


# --- 2. Acute liver injury without jaundice: INR 1.7 -------------------------------------------


def _hepatitis(
    client: FlaskClient,
    alt: float = 600,
    inr: float = 1.7,
    medications: list[dict[str, Any]] = [],  # noqa: B006
    bilirubin: float = 0.8,
) -> list[dict[str, Any]]:
    # ALP 150 (1.4x), GGT 200, ALT 600 (15x), bilirubin normal, no recorded cause
    labs = [LABS.ggt(200), LABS.alt(alt), LABS.bilirubin(bilirubin), LABS.inr(inr)]
    return post(client, "male", "1970-01-01", [LABS.alp(150)], labs, [], medications)


def test_alt_15x_with_inr_1_7_and_no_jaundice_is_acute_liver_injury(client: FlaskClient) -> None:
    card = only(_hepatitis(client), SEVERE_INJURY)
    assert card["indicator"] == "warning"
    assert card["summary"] == (
        "ALT 15.0x with INR 1.7: acute liver injury, failing synthesis; liver unit today, "
        "paracetamol level now"
    )
    detail = card["detail"]
    assert "Liver unit today; look for confusion now (encephalopathy: acute liver failure)" in (
        detail
    )
    assert "Paracetamol level now" in detail
    assert "HEV IgM" in detail
    # the jaundiced wording is not used without jaundice
    assert "Liver unit (transplant centre) today, before any confusion" not in detail


def test_acute_liver_injury_floor_and_anticoagulants(client: FlaskClient) -> None:
    # ALT 8x (at or above ali_alt_xuln, 5x): the warning, where nothing named the INR before
    card = only(_hepatitis(client, alt=320), SEVERE_INJURY)
    assert "ALT 8.0x with INR 1.7" in card["summary"]
    # ALT 4x without jaundice: not this warning (an INR of 1.7 is likelier chronic disease,
    # vitamin K deficiency or a drug)
    found = _hepatitis(client, alt=160)
    within_limits(found)
    assert SEVERE_INJURY not in fired(found)
    # a DOAC does not explain it fully: the warning, with its repeat-before-the-next-dose line
    card = only(_hepatitis(client, medications=[RIVAROXABAN]), SEVERE_INJURY)
    assert "INR again before the next dose" in card["detail"]
    # INR 1.4: the info card names it, as part B left it
    card = only(_hepatitis(client, inr=1.4), HEPATOCELLULAR)
    assert "INR 1.4 (hepatology today at 1.5 or more)" in card["detail"]


def test_acute_liver_injury_on_a_drug_has_no_recheck_in_weeks(client: FlaskClient) -> None:
    # without jaundice Hy's law does not fire: the drug annotations (recheck in 2-4 weeks, liver
    # tests in 1-2 weeks) no longer ride on the warning; its own drug lines say it
    taken = only(_hepatitis(client, medications=[CO_AMOXICLAV]), SEVERE_INJURY)
    assert "Co-amoxiclav: can injure the liver; stop it now." in taken["detail"]
    assert "still being taken" not in taken["detail"]
    labs = [LABS.ggt(200), LABS.alt(600), LABS.bilirubin(0.8), LABS.inr(1.7)]
    found = post(client, "male", "1970-01-01", [LABS.alp(150)], labs, [UTI], [CO_AMOXICLAV])
    switched = only(found, SEVERE_INJURY)
    assert "Switch Co-amoxiclav today" in switched["detail"]
    assert "stop it now" not in switched["detail"]
    assert "1-2 weeks" not in switched["detail"]
    finished = dict(CO_AMOXICLAV, status="completed")
    card = only(_hepatitis(client, medications=[finished]), SEVERE_INJURY)
    assert "a possible cause; no re-exposure." in card["detail"]
    assert "2-4 weeks" not in card["detail"]


def test_on_warfarin_the_inr_is_the_drugs_not_a_grade(client: FlaskClient) -> None:
    card = only(_hepatitis(client, medications=[WARFARIN]), HEPATOCELLULAR)
    assert card["indicator"] == "info"
    assert "INR 1.7 on Warfarin (the drug's; follow the bilirubin)" in card["detail"]
    assert "hepatology today at 1.5" not in card["detail"]


# --- 3. Warfarin with an INR on record (R37-28) -------------------------------------------------


def _hys_law(client: FlaskClient, *labs: dict[str, Any], infection: bool = False) -> Any:
    results = [LABS.ggt(300), LABS.alt(900), LABS.bilirubin(4.0), *labs]
    conditions = [UTI] if infection else []
    return post(
        client, "male", "1950-01-01", [LABS.alp(250)], results, conditions, [WARFARIN, CO_AMOXICLAV]
    )


def _cholestatic(client: FlaskClient, *labs: dict[str, Any], infection: bool = False) -> Any:
    results = [LABS.ggt(600), LABS.alt(120), LABS.bilirubin(4.0), *labs]
    conditions = [UTI] if infection else []
    return post(
        client, "male", "1950-01-01", [LABS.alp(600)], results, conditions, [WARFARIN, CO_AMOXICLAV]
    )


NAMED = "INR 2.6 on Warfarin: anticoagulation team today (liver injury raises its effect)."


def test_hys_law_on_warfarin_names_the_inr_in_the_draw(client: FlaskClient) -> None:
    card = only(_hys_law(client, LABS.inr(2.6)), HYS_LAW)
    detail = card["detail"]
    assert NAMED in detail
    assert "INR today" not in detail
    assert "liver tests and INR within 24-48 h" in detail
    # no INR on record: still asked for
    card = only(_hys_law(client), HYS_LAW)
    assert (
        "Liver injury raises Warfarin's effect: INR today, with the anticoagulation team"
        in card["detail"]
    )


def test_drug_jaundice_on_warfarin_names_the_inr_in_the_draw(client: FlaskClient) -> None:
    card = only(_cholestatic(client, LABS.inr(2.6)), DRUG_JAUNDICE)
    assert card["summary"].endswith("stop it; INR 2.6 on Warfarin"), card["summary"]
    assert NAMED in card["detail"]
    assert "INR now" not in card["detail"]
    card = only(_cholestatic(client), DRUG_JAUNDICE)
    assert "INR for Warfarin's effect" in card["summary"]
    assert "Liver injury raises Warfarin's effect: INR now" in card["detail"]


def test_switched_antibiotic_with_warfarin_stays_within_length(client: FlaskClient) -> None:
    # the longest of these: an antibiotic to switch for a urinary tract infection, warfarin
    for found, rule in (
        (_cholestatic(client, LABS.inr(2.6), infection=True), DRUG_JAUNDICE),
        (_hys_law(client, LABS.inr(2.6), infection=True), HYS_LAW),
    ):
        card = only(found, rule)
        assert NAMED in card["detail"]
        assert "Switch Co-amoxiclav today" in card["detail"]


# --- 4. HEV IgM beside the kidney line ---------------------------------------------------------


def test_hepatitis_serology_asks_for_hev_igm(client: FlaskClient) -> None:
    # part B's R39-02: ALT 20x, creatinine 180, INR 1.2 in the draw; the bilirubin 1.0 mg/dL
    # (part K: at R39-02's 3.0 the jaundiced-hepatitis warning stands in for this card, its own
    # work-up line with HEV IgM, tests/test_twenty_second_round_k.py)
    labs = [LABS.ggt(200), LABS.alt(800), LABS.bilirubin(1.0), LABS.inr(1.2)]
    found = post(
        client, "male", "1970-01-01", [LABS.alp(150)], [*labs, LABS.creatinine(180)], [], []
    )
    card = only(found, HEPATOCELLULAR)
    detail = card["detail"]
    assert "hepatitis E" in detail
    assert "HBsAg, anti-HCV (HAV and HEV IgM if acute), ANA" in detail


# --- 3b. R37-28 itself: the fever-with-jaundice warning on warfarin, INR 2.5 in the draw ---------


def _r37_28(client: FlaskClient, *inr: dict[str, Any]) -> list[dict[str, Any]]:
    # review 37's R37-28 (R35-56): 68M, AF on warfarin, co-amoxiclav finished 15 Nov; ALP 380,
    # GGT 420, ALT 150, bilirubin 5.0 mg/dL, fever 38.5
    finished = dict(drug("Co-amoxiclav 625 mg three times daily", "2026-11-08"), status="completed")
    labs = [LABS.ggt(420), LABS.alt(150), LABS.bilirubin(5.0), LABS.temperature(38.5), *inr]
    return post(
        client,
        "male",
        "1958-01-01",
        [LABS.alp(380)],
        labs,
        [since("I48.91", "2018-01-01")],
        [WARFARIN, finished],
    )


def test_r37_28_fever_with_jaundice_on_warfarin_names_the_inr(client: FlaskClient) -> None:
    card = only(_r37_28(client, LABS.inr(2.5)), "alp-high-fever-jaundice")
    assert card["indicator"] == "warning"
    detail = card["detail"]
    assert (
        "INR 2.5 on Warfarin: anticoagulation team today; INR again in 24-48 h "
        "(liver injury raises its effect)."
    ) in detail
    assert "INR now" not in detail
    # no INR on record: still asked for
    card = only(_r37_28(client), "alp-high-fever-jaundice")
    assert "INR now for its effect" in card["detail"]
