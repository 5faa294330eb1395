"""Twenty-second round, part K: review 41's liver-card findings 4 and 3 and four noisy items.

1. Finding 4 (R41-16, R41-56, R41-01): a jaundiced acute hepatitis with no recorded cause and an
   INR under 1.5 (or none) got the info hepatocellular card ("hepatology today at 1.5 or more"),
   the bilirubin unnamed: it is now a warning, alp-high-jaundiced-hepatitis, naming it.
2. Finding 3 (R41-19, R41-48): the same on warfarin got the info card with an INR clause that
   could not be acted on: the same warning with Hy's law's two warfarin lines; beside the
   methotrexate cytopenia warning the silent quiet rule stands back for it (R41-48, R41-49).
3. Finding 8, noisy: R41-43 and R41-53 (the overdose summaries name the INR), R41-30 and R41-29
   (azathioprine in autoimmune hepatitis).

(docs/rulebook.md, "Twenty-second round (2026-12-02), part K".)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from flask.testing import FlaskClient

from tests.rules_helper import card_for, fired, only, within_limits
from tests.support.labs import Labs, drug, post, since

NOW = "2026-12-02T08:00:00Z"
LABS = Labs(NOW)
JAUNDICED = "alp-high-jaundiced-hepatitis"
HEPATOCELLULAR = "alp-high-liver-hepatocellular"
SEVERE_INJURY = "alp-high-acute-liver-injury-severe"
HYS_LAW = "alp-high-drug-hys-law"
CYTOPENIA = "alp-high-methotrexate-cytopenia"
QUIET = "alp-high-methotrexate-cytopenia-quiet"
WARFARIN = drug("Warfarin 3 mg daily", "2019-01-01")
RA = since("M06.9", "2015-01-01")
RULES = Path(__file__).resolve().parents[1] / "cards" / "rules"
HEPATOLOGY_LINE = (
    "Jaundiced acute hepatitis: hepatology today; INR again in 12-24 h; liver unit "
    "(transplant centre) at 1.5 or with any confusion."
)
FACTOR_V = "On Warfarin the INR does not grade the injury (factor V if available)"


def _rule(rule: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((RULES / f"{rule}.yaml").read_text())
    return loaded


def _hepatitis(
    client: FlaskClient,
    *more: dict[str, Any],
    bilirubin: float = 4.0,
    conditions: list[dict[str, Any]] = [],  # noqa: B006
    medications: list[dict[str, Any]] = [],  # noqa: B006
) -> list[dict[str, Any]]:
    # R41-16: ALT 880 (22x), bilirubin 4.0 mg/dL, ALP 150, GGT 80; no recorded cause
    labs = [LABS.ggt(80), LABS.alt(880), LABS.bilirubin(bilirubin), *more]
    found = post(client, "male", "1970-01-01", [LABS.alp(150)], labs, conditions, medications)
    within_limits(found)
    return found


# --- 1. Finding 4: no cause, jaundice, INR under 1.5 ----------------------------------------------


def test_r41_16_jaundiced_hepatitis_at_inr_1_4_is_a_warning_naming_the_bilirubin(
    client: FlaskClient,
) -> None:
    card = only(_hepatitis(client, LABS.inr(1.4)), JAUNDICED)
    assert card["indicator"] == "warning"
    assert card["summary"] == (
        "ALT 22.0x, bilirubin 4.0 mg/dL, INR 1.4: jaundiced acute hepatitis; hepatology today, "
        "liver unit at 1.5"
    )
    detail = card["detail"]
    assert HEPATOLOGY_LINE in detail
    assert "hepatology today at 1.5 or more" not in detail
    assert "A paracetamol level today; acetylcysteine at once" in detail
    assert "HEV IgM" in detail
    assert "drug, herbal and alcohol history" in detail


def test_r41_01_bilirubin_3_inr_1_2_and_no_inr_at_all(client: FlaskClient) -> None:
    card = only(_hepatitis(client, LABS.inr(1.2), bilirubin=3.0), JAUNDICED)
    assert "bilirubin 3.0 mg/dL, INR 1.2: jaundiced acute hepatitis" in card["summary"]
    card = only(_hepatitis(client), JAUNDICED)
    assert card["summary"] == (
        "ALT 22.0x, bilirubin 4.0 mg/dL: jaundiced acute hepatitis; INR and paracetamol level "
        "now, hepatology today"
    )
    assert (
        "hepatology today; INR now and in 12-24 h; liver unit (transplant centre)"
        in (card["detail"])
    )


def test_r41_56_the_kidney_line_comes_along(client: FlaskClient) -> None:
    found = _hepatitis(
        client, LABS.inr(1.4), LABS.creatinine(180), conditions=[since("N18.30", "2020-01-01")]
    )
    card = only(found, JAUNDICED)
    assert "kidney injury; same-day review (leptospirosis" in card["detail"]


def test_the_neighbours_inr_1_5_normal_bilirubin_unconjugated_recorded_cause(
    client: FlaskClient,
) -> None:
    # INR 1.5: the severe card (the two never fire together)
    only(_hepatitis(client, LABS.inr(1.5)), SEVERE_INJURY)
    # no jaundice: the info card as before
    card = only(_hepatitis(client, LABS.inr(1.2), bilirubin=1.0), HEPATOCELLULAR)
    assert card["indicator"] == "info"
    # a bilirubin shown unconjugated: not jaundiced hepatitis
    found = _hepatitis(client, LABS.inr(1.2), LABS.direct_bilirubin(0.2))
    assert JAUNDICED not in fired(found), fired(found)
    # a drug on record: Hy's law, as before
    found = _hepatitis(
        client, LABS.inr(1.2), medications=[drug("Terbinafine 250 mg daily", "2026-11-01")]
    )
    assert fired(found) == [HYS_LAW], fired(found)


# --- 2. Finding 3: on warfarin -------------------------------------------------------------------


def test_r41_19_on_warfarin_the_warning_with_hys_laws_warfarin_lines(client: FlaskClient) -> None:
    card = only(_hepatitis(client, LABS.inr(3.2), medications=[WARFARIN]), JAUNDICED)
    assert card["summary"] == (
        "ALT 22.0x, bilirubin 4.0 mg/dL, INR 3.2 on Warfarin: jaundiced acute hepatitis; "
        "hepatology today"
    )
    detail = card["detail"]
    assert FACTOR_V in detail
    assert "INR 3.2 on Warfarin: above the usual range" in detail
    assert "hepatology today at 1.5" not in detail
    assert HEPATOLOGY_LINE not in detail
    card = only(_hepatitis(client, LABS.inr(2.6), medications=[WARFARIN]), JAUNDICED)
    assert (
        "INR 2.6 on Warfarin: anticoagulation team today (liver injury raises its effect)."
    ) in card["detail"]


def test_the_warfarin_lines_are_hys_laws_words() -> None:
    def texts(rule: str) -> set[str]:
        return {s["text"] if isinstance(s, dict) else s for s in _rule(rule)["card"]["next_steps"]}

    mine = {t for t in texts(JAUNDICED) if "vitamin-k-antagonist" in t}
    assert len(mine) == 7
    assert mine <= texts(HYS_LAW)


def _ra(
    client: FlaskClient, *labs: dict[str, Any], medications: Any = (), bilirubin: float = 4.0
) -> list[dict[str, Any]]:
    # RA on weekly methotrexate, WBC 1.8, ALP 2x, ALT 15x, bilirubin 4 mg/dL
    base = [LABS.ggt(150), LABS.alt(600), LABS.bilirubin(bilirubin), LABS.wbc(1.8)]
    mtx = drug("Methotrexate 20 mg once weekly", "2023-01-01")
    found = post(
        client,
        "female",
        "1964-01-01",
        [LABS.alp(208)],
        [*base, *labs],
        [RA],
        [mtx, *medications],
    )
    within_limits(found)
    return found


def test_r41_48_and_r41_49_beside_the_methotrexate_cytopenia_warning(client: FlaskClient) -> None:
    found = _ra(client, LABS.inr(2.6), medications=[WARFARIN])
    assert set(fired(found)) == {CYTOPENIA, JAUNDICED}, fired(found)
    assert FACTOR_V in card_for(found, JAUNDICED)["detail"]
    found = _ra(client, LABS.inr(1.4), LABS.temperature(38.6))
    assert set(fired(found)) == {CYTOPENIA, JAUNDICED}, fired(found)
    assert "INR 1.4" in card_for(found, JAUNDICED)["summary"]
    # no jaundice, INR 1.4: the quiet rule still hides the info liver card
    found = _ra(client, LABS.inr(1.4), bilirubin=0.8)
    assert fired(found) == [CYTOPENIA], fired(found)


def test_the_quiet_rule_mirrors_the_jaundiced_hepatitis_triggers() -> None:
    def bare(c: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in c.items() if k != "says"}

    mine = [bare(c) for c in _rule(JAUNDICED)["conditions"]]
    released = _rule(QUIET)["conditions"][3]["none"][2]["all"]
    assert len(released) == 4
    for trigger in released:
        assert bare(trigger) in mine, trigger


# --- 3. Noisy: the overdose summaries name the INR (R41-43, R41-53) -------------------------------

CAUSE = "alp-high-hepatocellular-jaundice-cause"
OVERDOSE = since("T39.1X2A", "2026-11-30")


def _overdose(
    client: FlaskClient, inr: float, *conditions: dict[str, Any], medications: Any = ()
) -> dict[str, Any]:
    labs = [LABS.ggt(80), LABS.alt(3000), LABS.bilirubin(1.0), LABS.inr(inr)]
    labs.append(LABS.creatinine(80))
    found = post(
        client, "female", "1990-01-01", [LABS.alp(130)], labs, [OVERDOSE, *conditions],
        list(medications),
    )  # fmt: skip
    within_limits(found)
    return card_for(found, CAUSE)


def test_r41_43_overdose_on_apixaban_names_the_inr(client: FlaskClient) -> None:
    apixaban = drug("Apixaban 5 mg twice daily", "2019-01-01")
    card = _overdose(client, 1.8, since("I48.91", "2019-01-01"), medications=[apixaban])
    assert card["summary"].endswith(
        "after paracetamol overdose, INR 1.8: acetylcysteine; liver unit now"
    )
    assert "INR or creatinine raised" not in card["summary"]


def test_r41_53_pregnant_overdose_names_the_inr(client: FlaskClient) -> None:
    pregnancy = [since("Z33.1", "2026-06-01"), since("Z3A.28", "2026-12-01")]
    card = _overdose(client, 1.2, *pregnancy)
    assert card["summary"] == (
        "Pregnant, ALT 75.0x after paracetamol overdose, INR 1.2: acetylcysteine; liver unit "
        "and obstetric team today"
    )
    assert "INR today" not in card["summary"]


# --- 4. Noisy: azathioprine in autoimmune hepatitis (R41-30, R41-29) ------------------------------

AIH = since("K75.4", "2024-03-01")
UC = since("K51.90", "2019-01-01")
AZATHIOPRINE = [drug("Azathioprine 100 mg daily", "2024-03-01")]
AZATHIOPRINE += [drug("Prednisolone 10 mg daily", "2024-03-01")]


def _aih(
    client: FlaskClient, labs: list[dict[str, Any]], alp: float, *conditions: dict[str, Any]
) -> list[dict[str, Any]]:
    found = post(client, "female", "1980-01-01", [LABS.alp(alp)], labs, [AIH, *conditions],
                 AZATHIOPRINE)  # fmt: skip
    within_limits(found)
    return found


def test_r41_30_aih_on_azathioprine_without_a_flare(client: FlaskClient) -> None:
    # ALP 250 (2.4x), GGT 150, ALT 60 (1.5x), bilirubin normal
    labs = [LABS.ggt(150), LABS.alt(60), LABS.bilirubin(0.8)]
    card = only(_aih(client, labs, 250), "alp-high-liver-source")
    assert card["summary"] == (
        "ALP 250 U/L (2.4x), GGT raised, known AIH on Azathioprine: the drug or an AIH-PSC "
        "variant? Ultrasound, MRCP"
    )
    detail = card["detail"]
    assert (
        "Azathioprine in known AIH (hepatology's own treatment): thiopurine cholestasis or "
        "nodular regenerative hyperplasia possible; metabolite levels (6-TGN, 6-MMP) with "
        "hepatology."
    ) in detail
    assert "IBD" not in detail
    assert "after a transplant" not in detail
    # with ulcerative colitis the IBD team prescribes it: the fuller line and summary stay
    card = only(_aih(client, labs, 250, UC), "alp-high-liver-source")
    assert "likely cause Azathioprine" in card["summary"]
    assert "the prescribing team (IBD, transplant)" in card["detail"]


def test_r41_29_aih_and_uc_in_an_acute_severe_flare(client: FlaskClient) -> None:
    # ALT 20x, bilirubin 4, INR 1.6: the liver unit decides on the drug
    labs = [LABS.ggt(150), LABS.alt(800), LABS.bilirubin(4.0), LABS.inr(1.6)]
    card = only(_aih(client, labs, 220, UC), CAUSE)
    assert (
        "the liver unit decides (acute severe AIH or drug injury); tell the IBD team"
        in (card["detail"])
    )
    assert "6-TGN" not in card["detail"]
    assert "no abrupt stop after a transplant" not in card["detail"]
