"""Eighteenth round (2026-12-02), part B: review 18's drug findings (B21, B25, E24) and "stop it
now" for drugs dangerous to stop abruptly (docs/rulebook.md, "Eighteenth round (2026-12-02),
part B")."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.rules_helper import cards, fired, suggested
from tests.support.fhir import alp, ggt, medication, observation
from tests.test_fourteenth_round_f_liver import PBC, bilirubin

AED_INJURY = "alp-high-antiepileptic-injury"
RIFAMPICIN_HEPATITIS = "alp-high-rifampicin-itch-hepatitis"
TB_CARD = "alp-high-antituberculosis-drugs"
UNCLEAR = "alp-high-origin-unclear"
LIVER_SOURCE = "alp-high-liver-source"
INDUCTION = "usually no change to the drug is needed"
CARBAMAZEPINE = [medication("2002", text="Carbamazepine 400 mg twice daily")]


def alt(value: float) -> dict[str, Any]:
    return observation("1742-6", value, low=7, high=40)


def text(found: list[dict[str, Any]]) -> str:
    return " ".join(c["summary"] + " " + c["detail"] for c in found)


# --- 1 (unsafe, B21): injury-level values on an enzyme inducer were "no change needed" --------


def test_injury_level_values_on_carbamazepine_get_the_prescriber_today_not_reassurance(
    client: FlaskClient,
) -> None:
    # ALP 3x with ALT 8x on carbamazepine: the induction words, and "stop it now", both showed.
    found = cards(client, [alp(312), ggt(200), alt(320)], medications=CARBAMAZEPINE)
    assert fired(found) == [AED_INJURY]
    [card] = found
    assert card["indicator"] == "warning"
    assert "possible drug liver injury; prescriber today, do not stop abruptly" in card["summary"]
    assert "never stop it abruptly (seizures)" in card["detail"]
    assert "rash, fever" in card["detail"]
    assert "eosinophilia" in card["detail"]
    assert INDUCTION not in card["detail"]
    assert "stop it now" not in card["detail"]
    assert suggested(card) == []  # ALT raised: the liver is the source, no isoenzymes


def test_a_jaundice_on_phenytoin_is_injury_level_even_with_a_mild_alp(
    client: FlaskClient,
) -> None:
    phenytoin = [medication("8183", text="Phenytoin 300 mg daily")]
    found = cards(client, [alp(140), ggt(150), alt(35), bilirubin(2.9)], medications=phenytoin)
    assert fired(found) == [AED_INJURY]
    assert "INR today" in found[0]["detail"]
    assert INDUCTION not in text(found)


def test_below_injury_level_the_induction_words_stay_and_nothing_says_stop(
    client: FlaskClient,
) -> None:
    # The over-reach check: ALP 1.3x, ALT normal, on carbamazepine. Carbamazepine is also in
    # the cholestatic-drug list, and it used to get "stop it now" beside the induction words.
    found = cards(client, [alp(135), ggt(100), alt(30)], medications=CARBAMAZEPINE)
    assert fired(found) == [UNCLEAR]
    assert "Carbamazepine: enzyme induction raises ALP and GGT" in found[0]["detail"]
    assert INDUCTION in found[0]["detail"]
    assert "stop it now" not in found[0]["detail"]
    # ALT 4x (under 5x) with a mild ALP is still below the case definition.
    found = cards(client, [alp(135), ggt(100), alt(160)], medications=CARBAMAZEPINE)
    assert AED_INJURY not in fired(found)


def test_a_high_alp_with_a_normal_or_missing_ggt_is_not_called_liver_injury(
    client: FlaskClient,
) -> None:
    # The ALP branch needs a raised GGT (bone: induced vitamin D deficiency); the reassuring
    # words still go at 2x or more, and with no GGT the isoenzymes card settles the origin.
    found = cards(client, [alp(312), ggt(30)], medications=CARBAMAZEPINE)
    assert AED_INJURY not in fired(found)
    assert INDUCTION not in text(found)
    found = cards(client, [alp(312)], medications=CARBAMAZEPINE)
    assert fired(found) == [UNCLEAR]
    assert INDUCTION not in text(found)


# --- 2: "stop it now" only for a drug safe to stop, and only at injury level ----------------


def test_a_hepatotoxic_drug_below_injury_level_is_rechecked_not_stopped(
    client: FlaskClient,
) -> None:
    allopurinol = [medication("519", text="Allopurinol 300 mg daily")]
    found = cards(client, [alp(135), ggt(100), alt(30)], medications=allopurinol)
    detail = text(found)
    assert "Allopurinol, still being taken, can cause cholestatic injury: below" in detail
    assert "recheck liver tests in 2-4 weeks" in detail
    assert "stop it now" not in detail
    # Review 20 (R20-61): an anti-infective named as the likely cause is switched instead of
    # continued to a recheck (alp-high-anti-infective-switch); terbinafine was this test's drug.
    terbinafine = [medication("37801", text="Terbinafine 250 mg daily")]
    detail = text(cards(client, [alp(135), ggt(100), alt(30)], medications=terbinafine))
    assert "is a likely cause: stop it, or switch it if still needed" in detail
    assert "recheck liver tests in 2-4 weeks" not in detail
    # At injury level (ALT 6x) it is still "stop it now" (the over-reach check).
    detail = text(cards(client, [alp(135), ggt(100), alt(240)], medications=terbinafine))
    assert "stop it now" in detail
    assert "below drug-injury" not in detail
    # A jaundice over 2x counts too.
    detail = text(cards(client, [alp(135), ggt(100), bilirubin(3.1)], medications=terbinafine))
    assert "stop it now" in detail


def test_a_drug_dangerous_to_stop_abruptly_is_never_told_stop_it_now(
    client: FlaskClient,
) -> None:
    # Azathioprine after a transplant or for IBD, and carbamazepine, at injury level.
    azathioprine = [medication("1256", text="Azathioprine 100 mg daily")]
    for drugs in (azathioprine, CARBAMAZEPINE):
        detail = text(cards(client, [alp(400), ggt(300), alt(260)], medications=drugs))
        assert "stop it now" not in detail
        assert "recheck liver tests in 2-4 weeks" not in detail


# --- 3 (wrong, B25): a thiopurine with a cholestatic ALP got the generic drug line ----------


def test_a_thiopurine_with_a_cholestatic_alp_asks_for_metabolite_levels_and_the_team(
    client: FlaskClient,
) -> None:
    for name in ("Azathioprine 150 mg daily", "Mercaptopurine 75 mg daily"):
        found = cards(client, [alp(300), ggt(250), alt(60)], medications=[medication(text=name)])
        assert fired(found) == [LIVER_SOURCE]  # its ultrasound and MRCP path stays (PSC in IBD)
        detail = found[0]["detail"]
        assert name.split()[0] + ": thiopurine cholestasis or nodular regenerative" in detail
        assert "thiopurine metabolite levels (6-TGN, 6-MMP" in detail
        assert "prescribing team (IBD, transplant)" in detail
        assert "stop it now" not in detail
    # A bone-source ALP (GGT and ALT normal) on azathioprine: no thiopurine line.
    found = cards(client, [alp(300), ggt(20), alt(20)], medications=[medication(text=name)])
    assert "thiopurine" not in text(found)


# --- 4 (wrong, E24): rifampicin for the itch of PBC, now with a hepatitis -------------------

RIFAMPICIN_FOR_ITCH = [medication("9384", text="Rifampicin 150 mg twice daily for pruritus")]


def test_rifampicin_for_itch_with_a_hepatitis_is_stopped(client: FlaskClient) -> None:
    now = [alp(390, low=40, high=130), ggt(300, low=8, high=61), alt(250)]  # ALT 6.2x
    found = cards(client, now, conditions=[PBC], medications=RIFAMPICIN_FOR_ITCH)
    assert fired(found) == [RIFAMPICIN_HEPATITIS]
    [card] = found
    assert card["indicator"] == "warning"
    assert "rifampicin hepatitis likely; stop rifampicin" in card["summary"]
    assert "it can be stopped at once" in card["detail"]
    # ALT 3x with a bilirubin over 2x also counts (Webb 2018; Aithal 2011).
    found = cards(
        client,
        [alp(390, low=40, high=130), ggt(300, low=8, high=61), alt(130), bilirubin(2.8)],
        conditions=[PBC],
        medications=RIFAMPICIN_FOR_ITCH,
    )
    assert RIFAMPICIN_HEPATITIS in fired(found)
    assert "INR today" in text(found)


def test_rifampicin_for_itch_without_a_hepatitis_stays_quiet(client: FlaskClient) -> None:
    # The over-reach checks: PBC's own mild ALT rise, and anti-TB treatment in PBC.
    now = [alp(390, low=40, high=130), ggt(300, low=8, high=61), alt(70)]  # ALT 1.75x
    found = cards(client, now, conditions=[PBC], medications=RIFAMPICIN_FOR_ITCH)
    assert RIFAMPICIN_HEPATITIS not in fired(found)
    assert "rifampicin hepatitis" not in text(found)
    hepatitis = [alp(390, low=40, high=130), ggt(300, low=8, high=61), alt(250)]
    both = [*RIFAMPICIN_FOR_ITCH, medication("6038", text="Isoniazid 300 mg daily")]
    found = cards(client, hepatitis, conditions=[PBC], medications=both)
    assert TB_CARD in fired(found)
    assert RIFAMPICIN_HEPATITIS not in fired(found)
