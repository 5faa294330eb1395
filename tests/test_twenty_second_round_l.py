"""Twenty-second round (2026-12-02), part L: methotrexate in review 41 (docs/clinical-reviews/
review-41.md; docs/rulebook.md, "Twenty-second round (2026-12-02), part L").

1. Finding 7 (R41-64, wrong): methotrexate at 13 weeks with ALT 2.5x and bilirubin 2.0 mg/dL was
   told "liver tests again in 2-4 weeks off the drug" (the causes line shows only from 20 weeks)
   while `alp-high-liver-low-ggt` beside it asked for a hepatitis work-up now. With a raised
   bilirubin or ALT over 2x, at any gestation, the methotrexate pregnancy card now asks for liver
   tests, INR, ultrasound and viral serology with HEV IgM this week, and stands alone.
2. Finding 8 (R41-44, R41-45, noisy): at 10 and 13 weeks with ALP 250, GGT 30 and ALT 1.2x the
   bone card ("order bone-specific ALP") sat beside the warning that says stopping the drug comes
   before any ALP work-up. The ALP work-up info cards now stand back; the warning asks for the
   ALP's source only if it stays raised off the drug.
3. Finding 8's note on R41-65: on methotrexate, platelets of 90 were read only as HELLP. Platelets
   under 150 (BSR/BHPR 2017: withhold and discuss) now bring the cytopenia warning, which names
   them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from flask.testing import FlaskClient

from tests.rules_helper import card_for, fired, only, within_limits
from tests.support.labs import Labs, drug, post, since

NOW = "2026-12-02T08:00:00Z"
LABS = Labs(NOW)
RA = since("M06.9", "2020-01-01")
MTX_PREGNANCY = "alp-high-methotrexate-pregnancy"
CYTOPENIA = "alp-high-methotrexate-cytopenia"
QUIET = "alp-high-methotrexate-cytopenia-quiet"
SEVERE_INJURY = "alp-high-acute-liver-injury-severe"
ROOT = Path(__file__).resolve().parents[1]
WORKUP = "liver tests, INR, ultrasound and viral serology (HAV IgM, HBsAg, anti-HCV, HEV IgM"
ALP_LATER = "ALP again with the liver tests; its source (bone-specific ALP or isoenzymes) only if"
CAUSES = "From 20 weeks the pregnancy causes too"


def mtx() -> dict[str, Any]:
    return drug("Methotrexate 20 mg once weekly", "2023-01-01")


def _pregnant(
    client: FlaskClient,
    weeks: str | None,
    alt: float,
    *more: dict[str, Any],
    bilirubin: float = 0.5,
    ggt: float = 30,
    drugs: Any = None,
) -> list[dict[str, Any]]:
    # RA on weekly methotrexate, pregnant (Z33.1, Z3A.nn), ALP 250 (2.4x), GGT 30 unless given
    conditions = [RA, since("Z33.1", "2026-07-01")]
    if weeks:
        conditions.append(since(f"Z3A.{weeks}", "2026-12-01"))
    labs = [LABS.ggt(ggt), LABS.alt(alt), LABS.bilirubin(bilirubin), *more]
    medications = [mtx()] if drugs is None else drugs
    found = post(client, "female", "1997-01-01", [LABS.alp(250)], labs, conditions, medications)
    within_limits(found)
    return found


# --- 1: finding 7 (R41-64) ------------------------------------------------------------------------


def test_r41_64_jaundice_at_13_weeks_is_worked_up_this_week_on_one_card(
    client: FlaskClient,
) -> None:
    # 13 weeks, ALT 100 (2.5x), bilirubin 2.0 mg/dL, GGT 30, ALP 250
    card = only(_pregnant(client, "13", 100, bilirubin=2.0), MTX_PREGNANCY)
    assert card["indicator"] == "warning"
    assert "folic acid 5 mg" in card["summary"]
    assert card["summary"].endswith("ALT 2.5x: liver work-up this week")
    assert f"Bilirubin 2.0 mg/dL, ALT 2.5x: {WORKUP}" in card["detail"]
    assert "hepatitis E is severe in pregnancy) this week" in card["detail"]
    assert "2-4 weeks" not in card["detail"]
    assert "1-2 weeks" not in card["summary"] + card["detail"]
    assert ALP_LATER in card["detail"]
    # the same at 24 weeks: the work-up and the pregnancy causes, no ALP-source line
    card = only(_pregnant(client, "24", 100, bilirubin=2.0), MTX_PREGNANCY)
    assert WORKUP in card["detail"]
    assert CAUSES in card["detail"]
    assert ALP_LATER not in card["detail"]


def test_a_raised_bilirubin_or_alt_over_2x_alone_brings_the_work_up(client: FlaskClient) -> None:
    # bilirubin 1.6 with ALT 1.2x at 10 weeks
    card = only(_pregnant(client, "10", 48, bilirubin=1.6), MTX_PREGNANCY)
    assert card["summary"].endswith("bilirubin raised: work-up this week")
    assert f"Bilirubin 1.6 mg/dL, ALT 1.2x: {WORKUP}" in card["detail"]
    # ALT 3.75x with a normal bilirubin at 8 weeks (R35-45's patient): this week, not 1-2 weeks
    card = only(_pregnant(client, "08", 150, ggt=60), MTX_PREGNANCY)
    assert card["summary"].endswith("ALT 3.8x: liver work-up this week")
    assert f"ALT 3.8x: {WORKUP}" in card["detail"]
    # gestation not known: the same work-up, and the pregnancy isoenzymes card stands back
    card = only(_pregnant(client, None, 100, bilirubin=2.0), MTX_PREGNANCY)
    assert "in pregnancy: stop it, folic acid 5 mg" in card["summary"]
    assert WORKUP in card["detail"]
    # neighbour: ALT exactly 2x with a normal bilirubin keeps the repeat in 2-4 weeks
    card = only(_pregnant(client, "13", 80), MTX_PREGNANCY)
    assert "ALT 2.0x: liver tests again in 2-4 weeks off the drug." in card["detail"]
    assert "this week" not in card["summary"] + card["detail"]


# --- 2: R41-44, R41-45 (and 14, 24 weeks) ---------------------------------------------------------


def test_r41_44_45_the_methotrexate_pregnancy_warning_stands_alone(client: FlaskClient) -> None:
    # ALP 250, GGT 30, ALT 48 (1.2x)
    for weeks in ("10", "13"):
        card = only(_pregnant(client, weeks, 48), MTX_PREGNANCY)
        assert "folic acid 5 mg" in card["summary"]
        assert "bone-specific ALP" not in card["summary"]
        assert ALP_LATER in card["detail"]
    card = only(_pregnant(client, "14", 48), MTX_PREGNANCY)
    assert ALP_LATER in card["detail"]
    card = only(_pregnant(client, "24", 48), MTX_PREGNANCY)
    assert ALP_LATER not in card["detail"]
    # a normal ALT on methotrexate: still the one card (the bone card is what shows without it)
    card = only(_pregnant(client, "10", 30), MTX_PREGNANCY)
    assert ALP_LATER in card["detail"]
    found = _pregnant(client, "10", 30, drugs=[])
    assert "alp-high-bone-source" in fired(found), fired(found)


# --- 3: R41-65 (note): platelets on methotrexate --------------------------------------------------


def test_r41_65_platelets_90_at_24_weeks_are_marrow_toxicity_too(client: FlaskClient) -> None:
    found = _pregnant(client, "24", 48, LABS.platelets(90))
    assert fired(found) == [CYTOPENIA, MTX_PREGNANCY], fired(found)
    cytopenia = card_for(found, CYTOPENIA)
    assert cytopenia["indicator"] == "warning"
    assert cytopenia["summary"].startswith("Platelets under 150 on Methotrexate: withhold it")
    assert "Platelets 90" in cytopenia["detail"]
    assert "under 150 withholds it too (BSR)" in cytopenia["detail"]
    # HELLP is still asked for on the pregnancy card
    assert CAUSES in card_for(found, MTX_PREGNANCY)["detail"]


def _ra(client: FlaskClient, *labs: dict[str, Any]) -> list[dict[str, Any]]:
    # RA on weekly methotrexate, not pregnant; ALP 2x (208), GGT 150
    found = post(
        client, "female", "1964-01-01", [LABS.alp(208)], [LABS.ggt(150), *labs], [RA], [mtx()]
    )
    within_limits(found)
    return found


def test_platelets_under_150_on_methotrexate_withhold_it(client: FlaskClient) -> None:
    card = only(_ra(client, LABS.alt(60), LABS.platelets(140)), CYTOPENIA)
    assert card["summary"].startswith("Platelets under 150 on Methotrexate: withhold it")
    assert "Platelets 140" in card["detail"]
    # with a low white count too: both named
    card = only(_ra(client, LABS.alt(60), LABS.platelets(140), LABS.wbc(2.0)), CYTOPENIA)
    assert card["summary"].startswith("White count under 3.5 and platelets under 150")
    # with a fever: toxicity or sepsis, the sepsis pathway
    card = only(_ra(client, LABS.alt(60), LABS.platelets(140), LABS.temperature(38.6)), CYTOPENIA)
    assert card["summary"].startswith("Fever and platelets under 150 on Methotrexate")
    assert "Sepsis pathway now" in card["detail"]
    # neighbour: platelets of 150 are not under the bound
    found = _ra(client, LABS.alt(60), LABS.platelets(150))
    assert CYTOPENIA not in fired(found), fired(found)


def test_a_failing_liver_still_shows_beside_the_platelet_cytopenia(client: FlaskClient) -> None:
    # platelets 120, ALT 15x, bilirubin 4 mg/dL, INR 1.7: the silent twin stands back as for WCC
    labs = [LABS.alt(600), LABS.bilirubin(4), LABS.inr(1.7), LABS.platelets(120)]
    found = _ra(client, *labs)
    assert fired(found) == [CYTOPENIA, SEVERE_INJURY], fired(found)
    # with a normal INR the info liver cards stay hidden by the silent twin
    labs = [LABS.alt(600), LABS.bilirubin(0.8), LABS.inr(1.0), LABS.platelets(120)]
    assert fired(_ra(client, *labs)) == [CYTOPENIA]


def test_the_platelet_bound_is_a_cited_parameter_read_by_both_cytopenia_rules() -> None:
    parameters = yaml.safe_load((ROOT / "cards" / "parameters.yaml").read_text())
    flat = parameters.get("parameters", parameters)
    bound = flat["methotrexate_withhold_platelets_max"]
    assert bound["value"] == 149
    assert bound["citation"] == "ledingham-2017-bsr-dmard"
    for rule_id in (CYTOPENIA, QUIET):
        rule = yaml.safe_load((ROOT / "cards" / "rules" / f"{rule_id}.yaml").read_text())
        reads = [c.get("has_any") for c in rule["conditions"] if "has_any" in c]
        assert ["methotrexate-low-wcc", "methotrexate-low-platelets"] in reads, rule_id
