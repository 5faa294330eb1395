"""Twenty-second round (2026-12-02), part R: the liver cards (jaundiced hepatitis, hepatocellular,
acute liver injury, liver source) stay within 130 words in every combination of an ALP of 1.3x,
3x or 8x; a GGT normal or raised; an ALT of 4x or 20x; a bilirubin normal or 4 mg/dL; no INR or
an INR of 1.2 or 1.7; infection signs (38.9 C, WBC 16) or none; a creatinine of 70 or 250
umol/L; warfarin, co-amoxiclav or no drug; and Gilbert syndrome or not (docs/rulebook.md,
"Twenty-second round (2026-12-02), part R"). A sweep of 4194 high-ALP liver cards had found 38
over 130 words: alp-high-jaundiced-hepatitis 24 (137: warfarin, ALT 20x, bilirubin 4 mg/dL, no
INR, creatinine 250), alp-high-liver-hepatocellular 8, alp-high-acute-liver-injury-severe 4
(149: co-amoxiclav, ALT 20x, bilirubin 4, INR 1.7, creatinine 250) and alp-high-liver-source 2.
The shorter wording must keep every action: hepatology or the liver unit today, the INR named or
asked for, a paracetamol level, serology with HEV IgM, the drug stopped, on warfarin the
anticoagulation team and that its INR does not grade the injury, the kidney line naming the
creatinine, and IV vitamin K where it shows."""

from __future__ import annotations

import itertools
from typing import Any

from flask.testing import FlaskClient

from tests.rules_helper import card_for, fired, within_limits
from tests.support.labs import Labs, drug, post, since

NOW = "2026-12-02T08:00:00Z"
LABS = Labs(NOW)
WOMAN = ("female", "1970-01-01")
JAUNDICED = "alp-high-jaundiced-hepatitis"
HEPATOCELLULAR = "alp-high-liver-hepatocellular"
SEVERE = "alp-high-acute-liver-injury-severe"
SOURCE = "alp-high-liver-source"
RULES = {JAUNDICED, HEPATOCELLULAR, SEVERE, SOURCE}
WARFARIN = [drug("Warfarin 3 mg daily", "2019-01-01")]
CO_AMOXICLAV = [drug("Co-amoxiclav 625 mg three times daily", "2026-11-10")]
DRUGS: dict[str, list[dict[str, Any]]] = {
    "none": [],
    "warfarin": WARFARIN,
    "co-amoxiclav": CO_AMOXICLAV,
}
CONDITIONS: dict[str, list[dict[str, Any]]] = {
    "none": [],
    "gilbert": [since("E80.4", "2010-01-01")],
}


def _post(
    client: FlaskClient,
    alp: float,
    ggt: float,
    alt: float,
    bilirubin: float,
    inr: float | None,
    fever: bool,
    creatinine: float,
    drugs: list[dict[str, Any]],
    conditions: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    labs = [LABS.ggt(ggt), LABS.alt(alt), LABS.bilirubin(bilirubin)]
    if inr is not None:
        labs.append(LABS.inr(inr))
    if fever:
        labs += [LABS.temperature(38.9), LABS.wbc(16)]
    labs.append(LABS.creatinine(creatinine))
    return post(client, *WOMAN, [LABS.alp(alp)], labs, conditions, drugs)


def test_the_liver_cards_stay_within_the_limits_in_every_combination(client: FlaskClient) -> None:
    seen: set[str] = set()
    for (
        alp,
        ggt,
        alt,
        bilirubin,
        inr,
        fever,
        creatinine,
        drug_key,
        condition_key,
    ) in itertools.product(
        [140, 310, 830],
        [30, 200],
        [160, 800],
        [0.8, 4.0],
        [None, 1.2, 1.7],
        [False, True],
        [70, 250],
        DRUGS,
        CONDITIONS,
    ):
        found = _post(
            client,
            alp,
            ggt,
            alt,
            bilirubin,
            inr,
            fever,
            creatinine,
            DRUGS[drug_key],
            CONDITIONS[condition_key],
        )
        mine = [card for card in found if fired([card])[0] in RULES]
        seen.update(fired(mine))
        within_limits(mine)
    assert seen == RULES, seen  # every one of the four cards is reached by the product


def test_jaundiced_hepatitis_on_warfarin_keeps_every_action(client: FlaskClient) -> None:
    # the worst before part R (137 words): warfarin, ALT 20x, bilirubin 4, no INR, creatinine 250
    found = _post(client, 140, 200, 800, 4.0, None, False, 250, WARFARIN, [])
    within_limits(found)
    detail = card_for(found, JAUNDICED)["detail"]
    assert "hepatology today" in detail
    assert "On Warfarin the INR does not grade the injury (factor V if available)" in detail
    assert (
        "Liver injury raises Warfarin's effect: INR today, with the anticoagulation team." in detail
    )
    assert "liver tests and INR within 24-48 h" in detail
    assert "Creatinine 250 umol/L, 2 Dec 2026: kidney injury; same-day review" in detail
    assert "A paracetamol level today; acetylcysteine at once" in detail
    assert "HEV IgM" in detail


def test_severe_injury_on_co_amoxiclav_keeps_every_action(client: FlaskClient) -> None:
    # the worst before part R (149): co-amoxiclav, ALT 20x, bilirubin 4, INR 1.7, creatinine 250
    found = _post(client, 830, 200, 800, 4.0, 1.7, False, 250, CO_AMOXICLAV, [])
    within_limits(found)
    card = card_for(found, SEVERE)
    assert "INR 1.7" in card["summary"]
    assert "liver unit today" in card["summary"]
    detail = card["detail"]
    assert "Liver unit (transplant centre) today" in detail
    assert "INR 12-hourly" in detail
    assert "Creatinine 250 umol/L, 2 Dec 2026: kidney injury too" in detail
    assert "Co-amoxiclav: can injure the liver; stop it now." in detail
    assert "Paracetamol level now" in detail
    assert "HEV IgM" in detail
    # the drug-jaundice annotation ("hepatology if INR 1.5 or more") is hidden on this card
    assert "jaundiced drug injury" not in detail
    assert "hepatology if INR" not in detail


def test_hepatocellular_and_liver_source_keep_their_actions(client: FlaskClient) -> None:
    found = _post(client, 140, 200, 800, 0.8, 1.2, False, 250, CO_AMOXICLAV, [])
    within_limits(found)
    card = card_for(found, HEPATOCELLULAR)
    assert "paracetamol level today" in card["summary"]
    detail = card["detail"]
    assert "a paracetamol level today" in detail
    assert "stop it now" in detail
    assert "Creatinine 250 umol/L, 2 Dec 2026: kidney injury; same-day review" in detail
    assert "HEV IgM" in detail

    found = _post(client, 830, 200, 160, 0.8, 1.7, False, 250, CO_AMOXICLAV, [])
    within_limits(found)
    detail = card_for(found, SOURCE)["detail"]
    assert "INR 1.7, no anticoagulant: IV vitamin K, INR again tomorrow" in detail
    assert "hepatology today" in detail
    assert "stop it now" in detail
    assert "Creatinine 250 umol/L, 2 Dec 2026: kidney injury; same-day review" in detail
