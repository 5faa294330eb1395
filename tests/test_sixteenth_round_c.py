"""Review 16 (2026-12-01), part C: liver and drug injury, each with the record that showed it
(docs/rulebook.md, "Sixteenth round (2026-12-01), part C")."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.rules_helper import cards, fired
from tests.support.fhir import ICD10, alp, condition, ggt, medication, observation
from tests.test_fourteenth_round_f_liver import (
    AUGUST,
    LIVER_SOURCE,
    NEW_JAUNDICE,
    PBC,
    bilirubin,
    stable_labs,
    worded,
)

PBC_RESPONSE = "alp-high-pbc-response"
METASTASES = "alp-high-metastases"
URSODIOL = medication(text="Ursodeoxycholic acid 500 mg tablet, 1 in the morning and 2 at night")


# --- 1 (unsafe, R02 and R02b): a first jaundice in PBC on ursodiol was hidden --------------


def test_a_first_jaundice_in_pbc_on_ursodiol_is_never_hidden_by_the_response_card(
    client: FlaskClient,
) -> None:
    # R02b: PBC coded, on ursodiol, ALP 1.9x stable, GGT raised, a first bilirubin of 4.3:
    # the response card hid the liver card and said "no new diagnostic work-up".
    now, earlier = stable_labs(4.3, None)
    found = cards(client, now, labs=earlier, conditions=[PBC], medications=[URSODIOL])
    assert fired(found) == [LIVER_SOURCE]
    assert "Bilirubin raised: ultrasound today" in found[0]["detail"]
    assert "no new diagnostic work-up" not in found[0]["detail"]
    # R02: PBC in words, no GGT: no liver card can carry it; the new-jaundice warning does.
    no_ggt = [lab for lab in now if lab["code"]["coding"][0]["code"] != "2324-2"]
    pbc_words = worded("PBC - AMA M2 positive, on urso since 2021")
    found = cards(client, no_ggt, labs=earlier, conditions=[pbc_words], medications=[URSODIOL])
    assert fired(found) == [NEW_JAUNDICE]
    assert found[0]["indicator"] == "warning"
    assert "ultrasound, INR and albumin" in found[0]["detail"]
    # A rising bilirubin warns (as before); a bilirubin that is not new still gets the
    # response card.
    now, earlier = stable_labs(3.6, 0.8)
    found = cards(client, now, labs=earlier, conditions=[PBC], medications=[URSODIOL])
    assert fired(found) == [NEW_JAUNDICE]
    now, earlier = stable_labs(1.1, 0.9, alp_now=300)
    found = cards(client, now, labs=earlier, conditions=[PBC], medications=[URSODIOL])
    assert fired(found) == [PBC_RESPONSE]


def test_known_metastases_do_not_hide_a_first_jaundice(client: FlaskClient) -> None:
    # The same hole in the metastases card ("consistent with known metastases").
    mets = [condition("C78.7", onset="2025-01-01"), condition("C79.51", onset="2025-01-01")]
    now, earlier = stable_labs(5.0, None)
    found = cards(client, now, labs=earlier, conditions=mets)
    assert METASTASES not in fired(found)
    assert any("ultrasound today" in card["detail"] for card in found)
    now, earlier = stable_labs(0.8, 0.7, alp_now=300)
    assert METASTASES in fired(cards(client, now, labs=earlier, conditions=mets))


# --- 2 (unsafe, P20): anti-TB treatment taken now got "avoid re-exposure; recheck" --------

TB_CARD = "alp-high-antituberculosis-drugs"
RIPE = [
    medication("9384", text="Rifampicin 600 mg daily"),
    medication("6038", text="Isoniazid 300 mg daily"),
    medication("8987", text="Pyrazinamide 1.5 g daily"),
    medication("4110", text="Ethambutol 1.2 g daily"),
]


def test_anti_tb_treatment_taken_now_gets_the_tb_team_today_and_its_stopping_rule(
    client: FlaskClient,
) -> None:
    now = [
        alp(271, low=40, high=129),
        ggt(240, low=8, high=61),
        observation("1742-6", 116, low=7, high=40),
        bilirubin(1.9),
    ]
    found = cards(client, now, medications=RIPE)
    assert fired(found) == [TB_CARD]
    card = found[0]
    assert card["indicator"] == "warning"
    assert "TB team today" in card["summary"]
    assert "Pyrazinamide" in card["detail"]
    assert "3x or more with symptoms or jaundice, or 5x or more without" in card["detail"]
    assert "one at a time" in card["detail"]
    assert "INR today" in card["detail"]
    assert "avoid re-exposure" not in card["detail"]
    assert "anti-mitochondrial" not in card["detail"]
    # Pyrazinamide alone is read (by code and by name), and named as a drug that raises ALP.
    only_z = [medication(text="Pyrazinamide 500 mg tablets")]
    assert fired(cards(client, now, medications=only_z)) == [TB_CARD]
    # A course that ended is not "treatment now": the liver card with the ended-course line.
    ended = [dict(medication("9384", text="Rifampicin 600 mg daily", status="completed"))]
    ended[0]["authoredOn"] = "2026-10-20"
    found = cards(client, now, medications=ended)
    assert fired(found) == [LIVER_SOURCE]
    assert "avoid re-exposure" in found[0]["detail"]


# --- 3 (wrong, P22): a drug still taken, with a new jaundice, was never "stopped" ---------


def test_a_drug_still_being_taken_is_stopped_now_and_a_stopped_one_avoided(
    client: FlaskClient,
) -> None:
    now = [
        alp(486, low=35, high=104),
        ggt(612, low=6, high=42),
        observation("1742-6", 142, low=7, high=33),
        bilirubin(4.8),
    ]
    taking = [medication("37801", text="Terbinafine 250 mg daily for 12 weeks")]
    found = cards(client, now, medications=taking)
    # Twentieth round, part E (review 29, R29-37): a jaundice over 2x with ALP 2x on a drug still
    # taken is a jaundiced drug injury: the warning card, stop it and the INR now (not "INR and
    # liver tests within a week", slower than the finished course's "INR now"). It was the
    # info liver card with the still-taken annotation.
    assert fired(found) == ["alp-high-drug-jaundice"]
    assert "on Terbinafine: jaundiced drug injury; stop it, INR now" in found[0]["summary"]
    detail = found[0]["detail"]
    assert "Stop Terbinafine now" in detail
    assert "INR now; liver tests within 48-72 h" in detail
    assert "within a week" not in detail
    stopped = [dict(medication("37801", text="Terbinafine 250 mg daily", status="stopped"))]
    stopped[0]["authoredOn"] = "2026-10-20"
    detail = cards(client, now, medications=stopped)[0]["detail"]
    assert "avoid re-exposure" in detail
    assert "stop it now" not in detail


# --- 4 (noisy, P16): septic shock, a new cholestatic rise: sepsis named, no AMA -------------


def test_sepsis_is_named_as_the_likely_cause_and_holds_back_the_autoimmune_screen(
    client: FlaskClient,
) -> None:
    now = [alp(284, low=40, high=129), ggt(362, low=8, high=61), bilirubin(3.6)]
    earlier = [alp(96, low=40, high=129, when="2026-11-15T08:00:00Z")]
    shock = worded("Septic shock, pneumonia source", onset="2026-11-16")
    shock["code"]["coding"] = [{"system": ICD10, "code": "A41.9"}]
    found = cards(client, now, labs=earlier, conditions=[shock])
    assert fired(found) == [LIVER_SOURCE]
    assert "with sepsis: cholestasis of sepsis likely; bedside ultrasound" in found[0]["summary"]
    detail = found[0]["detail"]
    assert "cholestasis of sepsis is likely" in detail
    assert "Bilirubin raised: ultrasound today" in detail
    assert "anti-mitochondrial" not in detail
    # Without sepsis the autoimmune screen stays (with no normal ALP in the weeks before: a
    # rise from 96 U/L five days earlier is acute, not PBC, and holds AMA back by itself;
    # eighteenth round, part E, review 19 R19-29).
    found = cards(client, now)
    assert "anti-mitochondrial" in found[0]["detail"]
    found = cards(client, now, labs=earlier)
    assert "a rise within weeks is acute" in found[0]["detail"]
    assert "anti-mitochondrial" not in found[0]["detail"]


# --- 5 (noisy, P17): stable congestive hepatopathy; the transplant clause --------------------


def test_stable_congestive_hepatopathy_is_explained_and_the_transplant_clause_needs_one(
    client: FlaskClient,
) -> None:
    congestion = condition("K76.1", onset="2024-01-01")
    # P17: ALP 182 -> 196, GGT raised, bilirubin 1.9 -> 2.1 over 3.5 months.
    now = [alp(196, low=40, high=129), ggt(214, low=8, high=61), bilirubin(2.1)]
    earlier = [alp(182, low=40, high=129, when=AUGUST), bilirubin(1.9, when=AUGUST)]
    assert cards(client, now, labs=earlier, conditions=[congestion]) == []
    # Rising, it is shown, without the transplant's rejection.
    rising = [alp(330, low=40, high=129), *now[1:]]
    found = cards(client, rising, labs=earlier, conditions=[condition("B18.1")])
    detail = found[0]["detail"]
    assert "look for a complication (stone, stricture, tumour, flare)" in detail
    assert "rejection" not in detail
    # Review 21, R21-13: gallstones get a duct stone first, not "a complication rather than a
    # new diagnosis" (nineteenth round, part B).
    found = cards(client, rising, labs=earlier, conditions=[condition("K80.20")])
    assert "Gallstones recorded: a duct stone first" in found[0]["detail"]
    assert "rejection" not in found[0]["detail"]
    transplant = condition("Z94.4", onset="2022-04-01")
    # Changed in the twentieth round, part G (review 30, R30-43): a rise (182 -> 330) after a
    # transplant is now the transplant warning (Doppler, the transplant team); the liver card's
    # transplant clause is kept for a stable ALP past the quiet 2x (320 -> 330).
    found = cards(client, rising, labs=earlier, conditions=[transplant])
    assert fired(found) == ["alp-high-transplant-cholestasis"]
    stable_earlier = [alp(320, low=40, high=129, when=AUGUST), bilirubin(1.9, when=AUGUST)]
    found = cards(client, rising, labs=stable_earlier, conditions=[transplant])
    assert "rejection after a transplant" in found[0]["detail"]


# --- 6 (noisy, P19 and P11): amyloidosis and parenteral nutrition named ---------------------


def test_recorded_amyloidosis_or_parenteral_nutrition_is_named_and_holds_back_ama(
    client: FlaskClient,
) -> None:
    now = [alp(742, low=40, high=129), ggt(690, low=8, high=61), bilirubin(1.0)]
    amyloid = condition("E85.81", onset="2025-06-01")
    detail = cards(client, now, conditions=[amyloid])[0]["detail"]
    assert "hepatic amyloid likely" in detail
    assert "anti-mitochondrial" not in detail
    assert "metastases, lymphoma, granulomas" not in detail
    pn = [medication(text="Parenteral nutrition admixture 2.5 L IV over 14 h, 6 nights a week")]
    detail = cards(client, now, medications=pn)[0]["detail"]
    assert "intestinal failure-associated liver disease likely" in detail
    assert "anti-mitochondrial" not in detail
    home_pn = worded("Dependence on home parenteral nutrition")
    detail = cards(client, now, conditions=[home_pn])[0]["detail"]
    assert "intestinal failure-associated liver disease likely" in detail
    # Neither recorded: AMA and the infiltration line stay.
    detail = cards(client, now)[0]["detail"]
    assert "anti-mitochondrial" in detail
    assert "metastases, lymphoma, granulomas" in detail


# --- Review 17: the edges of part C ---------------------------------------------------------


def test_sepsis_beside_gallstones_is_cholangitis_until_excluded(client: FlaskClient) -> None:
    # Review 17, N10b (unsafe): sepsis of unknown source, gallstones, a first jaundice, no
    # temperature charted: "cholestasis of sepsis is likely".
    now = [alp(380, low=40, high=104), ggt(400, low=8, high=61), bilirubin(4.1)]
    sepsis = worded("Sepsis - source not yet identified", onset="2026-11-19")
    sepsis["code"]["coding"] = [{"system": ICD10, "code": "A41.9"}]
    found = cards(client, now, conditions=[sepsis, condition("K80.20")])
    detail = found[0]["detail"]
    # Eighteenth round, part C (review 18, E01): sepsis, a cholestatic picture and recorded
    # gallstones are now the cholangitis warning itself, not a line on the liver card.
    assert fired(found) == ["alp-high-suspected-cholangitis"]
    assert "acute cholangitis until excluded" in found[0]["summary"]
    assert "cholestasis of sepsis" not in detail + found[0]["summary"]


def test_rifampicin_alone_for_the_itch_of_pbc_is_not_anti_tb_treatment(
    client: FlaskClient,
) -> None:
    # Review 17, N09b: rifampicin for pruritus in PBC got "TB team today".
    rifampicin = [medication("9384", text="Rifampicin 150 mg twice daily for pruritus")]
    now = [alp(270, low=40, high=129), ggt(300, low=8, high=61)]
    assert TB_CARD not in fired(cards(client, now, conditions=[PBC], medications=rifampicin))
    # With isoniazid as well it is TB treatment, PBC or not; rifampicin alone without a
    # cholestatic disease (latent TB) still warns.
    both = [*rifampicin, medication("6038", text="Isoniazid 300 mg daily")]
    assert TB_CARD in fired(cards(client, now, conditions=[PBC], medications=both))
    assert TB_CARD in fired(cards(client, now, medications=rifampicin))


def test_transthyretin_amyloid_or_parenteral_nutrition_stopped_is_not_named(
    client: FlaskClient,
) -> None:
    # Review 17, N12 and N13: wild-type ATTR cardiac amyloid got "hepatic amyloid likely";
    # "off TPN since 2022" was read as parenteral nutrition now.
    now = [alp(300, low=40, high=104), ggt(300, low=8, high=61), bilirubin(1.0)]
    attr = condition("E85.82", onset="2024-01-01")
    attr["code"]["text"] = "Wild-type transthyretin cardiac amyloidosis (ATTRwt cardiomyopathy)"
    off_pn = worded("Short bowel syndrome - off TPN since 2022, now on oral diet")
    for entry in (attr, off_pn):
        detail = cards(client, now, conditions=[entry])[0]["detail"]
        assert "hepatic amyloid likely" not in detail
        assert "intestinal failure-associated" not in detail
        assert "anti-mitochondrial" in detail
