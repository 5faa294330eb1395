"""Tenth round, part B (2026-11-30): the ninth clinical review's defects U2, U4, U5, W1, W3, W5,
N4 and T1, each with the record that showed it (docs/rulebook.md, "Tenth round, part B")."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from cds_service.knowledge.model import KnowledgeBase
from tests.rules_helper import cards, fired, suggested
from tests.support.fhir import alp, condition, ggt, medication, observation, patient

ALENDRONATE_2016 = "2016-01-10"


def on_drug(text: str, started: str, status: str = "active") -> dict[str, Any]:
    drug = medication(text=text, status=status)
    drug["authoredOn"] = started
    return drug


def aff(code: str = "M84.754A", text: str | None = None, **kwargs: Any) -> dict[str, Any]:
    entry = condition(code, **kwargs)
    if text:
        entry["code"]["text"] = text
    return entry


# --- U2: an atypical femoral fracture on a bisphosphonate is never "the expected effect" ------


def test_an_atypical_femoral_fracture_on_alendronate_warns_instead_of_expected_effect(
    client: FlaskClient,
) -> None:
    # Reviewer 26: ALP 70 before alendronate, 33 in June, 32 now; complete AFF in June 2026.
    drug = on_drug("Alendronate 70 mg weekly", ALENDRONATE_2016)
    before = alp(70, when="2015-12-01T08:00:00Z")
    june = alp(33, when="2026-06-03T08:00:00Z")
    # Without the fracture: the drug's expected effect (ninth round).
    found = cards(client, [alp(32)], labs=[before, june], medications=[drug])
    assert fired(found) == ["alp-low-antiresorptive-expected"]
    fracture = aff(onset="2026-06-02")
    found = cards(client, [alp(32)], labs=[before, june], medications=[drug],
                  conditions=[fracture])  # fmt: skip
    assert fired(found) == ["alp-low-antiresorptive-aff"]
    card = found[0]
    assert card["indicator"] == "warning"
    # Review 22 (summary length): the fracture before the drug, same words.
    assert "atypical femoral fracture, on " in card["summary"]
    assert "stop the bisphosphonate (bone team); PLP" in card["summary"]
    assert "expected effect" not in card["summary"]
    assert "Stop the bisphosphonate and give no further doses" in card["detail"]
    assert suggested(card) == ["62236-5"]


def test_an_atypical_femoral_fracture_in_free_text_or_resolved_counts(
    client: FlaskClient,
) -> None:
    drug = on_drug("Alendronate 70 mg weekly", ALENDRONATE_2016)
    before = alp(70, when="2015-12-01T08:00:00Z")
    text_only = condition("12345", system="http://example.org/local")
    text_only["code"]["text"] = "Atypical femoral fracture, left (2024)"
    found = cards(client, [alp(33)], labs=[before], medications=[drug], conditions=[text_only])
    assert fired(found) == ["alp-low-antiresorptive-aff"]
    healed = aff("M84.752A", status="resolved", onset="2022-03-01")
    found = cards(client, [alp(33)], labs=[before], medications=[drug], conditions=[healed])
    assert fired(found) == ["alp-low-antiresorptive-aff"]
    # A femoral neck fracture is not an atypical one: the expected effect stands.
    neck = condition("S72.001A", onset="2026-06-02")
    found = cards(client, [alp(33)], labs=[before], medications=[drug], conditions=[neck])
    assert fired(found) == ["alp-low-antiresorptive-expected"]


def test_an_atypical_femoral_fracture_on_denosumab_never_says_stop(client: FlaskClient) -> None:
    prolia = on_drug("Denosumab 60 mg every 6 months (Prolia)", "2020-01-10")
    found = cards(client, [alp(33)], medications=[prolia], conditions=[aff(onset="2026-06-02")])
    assert fired(found) == ["alp-low-antiresorptive-aff"]
    card = found[0]
    assert "bone team review; PLP for hypophosphatasia" in card["summary"]
    assert "Stop the bisphosphonate" not in card["detail"]
    assert "do not stop it without a follow-on plan" in card["detail"]


def test_an_atypical_femoral_fracture_with_known_hypophosphatasia_keeps_its_own_warning(
    client: FlaskClient,
) -> None:
    drug = on_drug("Alendronate 70 mg weekly", ALENDRONATE_2016)
    hpp = condition("E83.39")
    hpp["code"]["text"] = "Hypophosphatasia"
    found = cards(client, [alp(25)], medications=[drug],
                  conditions=[aff(onset="2026-06-02"), hpp])  # fmt: skip
    assert "alp-low-antiresorptive-aff" not in fired(found)
    # No antiresorptive: the fracture alone does not fire the drug card, but the first-low card
    # names it and asks for PLP now.
    found = cards(client, [alp(33)], conditions=[aff(onset="2026-06-02")])
    assert fired(found) == ["alp-low-first"]
    assert "atypical fractures occur in hypophosphatasia; PLP now" in found[0]["detail"]
    assert "62236-5" in suggested(found[0])


# --- U4: a replete 25-OH vitamin D sent without a range still outweighs a coded deficiency ----


def vitamin_d_no_range(
    value: float, unit: str, when: str = "2026-10-20T08:00:00Z"
) -> dict[str, Any]:
    return observation("62292-8", value, when=when, unit=unit, ucum=unit)


def test_a_replete_vitamin_d_without_a_range_outweighs_the_coded_deficiency(
    client: FlaskClient,
) -> None:
    # Reviewer 12: E55.9 coded in February, colecalciferol since, 25-OH D 34 ng/mL (85 nmol/L)
    # in October with no range; ALP 178 now, 170 in June: the coded deficiency kept it quiet.
    coded = condition("E55.9", onset="2026-02-10")
    drug = medication(text="Colecalciferol 800 units daily")
    june = alp(170, when="2026-06-15T08:00:00Z")
    found = cards(client, [alp(178), ggt(20)], conditions=[coded], medications=[drug],
                  labs=[june, vitamin_d_no_range(34, "ng/mL")])  # fmt: skip
    assert fired(found) == ["alp-high-bone-source"]
    assert "replete, so vitamin D is not the cause" in found[0]["detail"]
    # 50 nmol/L (IOM 2011) is the line for replete: 52 nmol/L outweighs as replete. Eleventh
    # round (review 10, W4): 45 nmol/L (low, not replete) now outweighs the code too, as not low
    # enough to cause bone disease (30 nmol/L), and says so; 11 ng/mL (27 nmol/L) does not.
    found = cards(client, [alp(178), ggt(20)], conditions=[coded], medications=[drug],
                  labs=[june, vitamin_d_no_range(52, "nmol/L")])  # fmt: skip
    assert fired(found) == ["alp-high-bone-source"]
    found = cards(client, [alp(178), ggt(20)], conditions=[coded], medications=[drug],
                  labs=[june, vitamin_d_no_range(18, "ng/mL")])  # fmt: skip
    assert fired(found) == ["alp-high-bone-source"]
    assert "replete" not in found[0]["detail"]
    assert "does not explain this rise" in found[0]["detail"]
    found = cards(client, [alp(178), ggt(20)], conditions=[coded], medications=[drug],
                  labs=[june, vitamin_d_no_range(11, "ng/mL")])  # fmt: skip
    assert fired(found) != ["alp-high-bone-source"]


def test_a_deficient_vitamin_d_in_ng_ml_without_a_range_is_still_deficient(
    client: FlaskClient,
) -> None:
    # 10 ng/mL is 25 nmol/L, under the deficiency limit of 30: converted once, not twice.
    found = cards(client, [alp(190), ggt(18)], labs=[vitamin_d_no_range(10, "ng/mL")])
    assert fired(found) == ["alp-high-bone-explained"]
    # Without a unit the fixed limits are not applied (ng/mL and nmol/L differ 2.5-fold).
    unitless = observation("62292-8", 20, when="2026-10-20T08:00:00Z", unit=None, ucum=None)
    found = cards(client, [alp(190), ggt(18)], labs=[unitless])
    assert fired(found) != ["alp-high-bone-explained"]


# --- W1: alcohol use disorder in remission is not named as the cause, and AMA is not deferred -


def test_alcohol_dependence_in_remission_is_not_the_likely_cause(client: FlaskClient) -> None:
    # Reviewer 19: F10.21 "Alcohol dependence, in sustained remission" left active, abstinent
    # since 2014; itch, ALP 2.2x, GGT 160, AST and ALT normal.
    labs = [alp(230), ggt(160), observation("1920-8", 40, low=8, high=43),
            observation("1742-6", 42, low=7, high=45)]  # fmt: skip
    remission = condition("F10.21", onset="2014-05-01")
    remission["code"]["text"] = "Alcohol dependence, in sustained remission"
    for entry in (remission, condition("F10.21"), condition("F10.11")):
        found = cards(client, labs, conditions=[entry])
        assert fired(found) == ["alp-high-liver-source"]
        card = found[0]
        assert "alcohol" not in card["summary"].lower()
        assert "anti-mitochondrial antibodies for PBC" in card["detail"]
        assert "without alcohol" not in card["detail"]
    # Dependence under the F10.2 prefix, whose words say it is in remission: left out too.
    worded = condition("F10.20")
    worded["code"]["text"] = "Alcohol dependence, uncomplicated - in remission"
    assert "alcohol" not in cards(client, labs, conditions=[worded])[0]["summary"].lower()
    # Coded as remission by its clinical status: not active, not counted.
    in_status = condition("F10.20", status="remission")
    assert "alcohol" not in cards(client, labs, conditions=[in_status])[0]["summary"].lower()
    # Current dependence is still named.
    current = condition("F10.20")
    current["code"]["text"] = "Alcohol dependence"
    assert "likely alcohol-related" in cards(client, labs, conditions=[current])[0]["summary"]


def test_an_excluded_code_leaves_only_its_own_value_set(kb: KnowledgeBase) -> None:
    coding = {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "F10.21"}]}
    assert "alcohol-related" not in kb.classify(coding)
    assert kb.valuesets["alcohol-related"].match(coding) is None
    assert "alcohol-related" in kb.classify(
        {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "F10.239"}]}
    )


# --- U5: a personal history of cancer stops the "repeat in 1-3 months" ------------------------


def test_a_history_of_cancer_is_investigated_now_not_repeated(client: FlaskClient) -> None:
    # Reviewer 17: prostatectomy in 2019 (Z85.46, history only), ALP 110 a year ago, 175 now
    # (1.36x), GGT 30: the mild-isolated card said repeat in 1-3 months.
    labs = [alp(175, low=40, high=129), ggt(30)]
    earlier = [alp(110, low=40, high=129, when="2025-11-15T08:00:00Z")]
    found = cards(client, labs, labs=earlier)
    assert fired(found) == ["alp-high-mild-isolated"]
    for code in ("Z85.46", "Z85.3", "Z85.118"):
        history = condition(code, status="resolved")
        found = cards(client, labs, labs=earlier, conditions=[history])
        assert fired(found) == ["alp-high-bone-source"], code
        card = found[0]
        assert "a history of cancer: investigate the bone source now" in card["summary"]
        assert "investigated now, not repeated" in card["detail"]
    # In free text, and not a family history.
    worded = condition("99999", system="http://example.org/local")
    worded["code"]["text"] = "History of prostate cancer (radical prostatectomy 2019)"
    assert fired(cards(client, labs, labs=earlier, conditions=[worded])) == ["alp-high-bone-source"]
    family = condition("99998", system="http://example.org/local")
    family["code"]["text"] = "Family history of breast cancer"
    assert fired(cards(client, labs, labs=earlier, conditions=[family])) == [
        "alp-high-mild-isolated"
    ]
    # A treated basal cell carcinoma of the skin (Z85.828) rarely spreads: the repeat stands.
    skin = condition("Z85.828")
    assert fired(cards(client, labs, labs=earlier, conditions=[skin])) == ["alp-high-mild-isolated"]


# --- W3: a mild first rise that doubled from a recent normal value is a real change -----------


def test_a_mild_rise_far_above_a_recent_value_is_not_repeated(client: FlaskClient) -> None:
    # Reviewer 18: on alendronate since 2022, ALP 58 in July, 121 now (1.16x, +109%), GGT 19.
    drug = on_drug("Alendronate 70 mg weekly", "2022-03-01")
    july = alp(58, when="2026-07-15T08:00:00Z")
    found = cards(client, [alp(121), ggt(19)], labs=[july], medications=[drug])
    assert fired(found) == ["alp-high-bone-source"]
    detail = found[0]["detail"]
    assert "Up from 58 U/L on 15 Jul 2026 on Alendronate" in detail
    assert "ask whether it is being taken" in detail
    # Without the drug: the same change is named as more than the variation between results.
    found = cards(client, [alp(121), ggt(19)], labs=[july])
    assert fired(found) == ["alp-high-bone-source"]
    assert "far more than the variation between results" in found[0]["detail"]
    # 80 to 125 (56% to just over the limit, the ninth round's case): still the repeat.
    found = cards(client, [alp(125), ggt(19)], labs=[alp(80, when="2026-07-15T08:00:00Z")])
    assert fired(found) == ["alp-high-mild-isolated"]
    # At the boundary: 0.75 exactly counts as a real change (at_least); just under, the repeat.
    found = cards(client, [alp(140), ggt(19)], labs=[alp(80, when="2026-07-15T08:00:00Z")])
    assert fired(found) == ["alp-high-bone-source"]
    found = cards(client, [alp(139), ggt(19)], labs=[alp(80, when="2026-07-15T08:00:00Z")])
    assert fired(found) == ["alp-high-mild-isolated"]
    # The earlier value more than three years back is not compared: the repeat (eleventh round:
    # the window was one year, and 13 months back is now compared; tests/test_eleventh_round_b).
    found = cards(client, [alp(121), ggt(19)], labs=[alp(58, when="2023-10-01T08:00:00Z")])
    assert fired(found) == ["alp-high-mild-isolated"]


# --- T1: summaries name a cause by its label and are never cut mid-word ------------------------


def test_the_acute_injury_summary_names_the_cause_by_its_label(client: FlaskClient) -> None:
    # Reviewer 16: "paracetamol poisoning, intentional self-harm" cut the summary mid-word.
    overdose = condition("T39.1X2A", recorded="2026-11-17")
    overdose["code"]["text"] = "Paracetamol poisoning, intentional self-harm, initial encounter"
    labs = [alp(220), ggt(30), observation("1742-6", 4200, low=7, high=45),
            observation("1920-8", 3900, low=8, high=43)]  # fmt: skip
    found = cards(client, labs, conditions=[overdose])
    # Twenty-first round, part G (R34-11): the paracetamol warning leads (ALT raised after the
    # overdose); its summary names the cause by its label too.
    assert fired(found) == ["alp-high-hepatocellular-jaundice-cause"]
    summary = found[0]["summary"]
    assert "after paracetamol overdose" in summary
    assert "intentional self-harm" not in summary
    assert len(summary) <= 140
    assert not summary.endswith("…")
    assert "not a liver source" not in found[0]["detail"]


def test_a_long_summary_is_cut_at_a_whole_word() -> None:
    from cds_service.render.cards import SUMMARY_LIMIT, shorten

    text = "ALP 220 U/L " + "word " * 40
    cut = shorten(text)
    assert len(cut) <= SUMMARY_LIMIT
    assert cut.endswith("…")
    assert cut[:-1].endswith("word")
    assert shorten("short") == "short"
    # One word longer than the limit can only be cut inside it.
    assert shorten("x" * 200) == "x" * (SUMMARY_LIMIT - 1) + "…"


# --- W5: a child with rickets clear in the labs: the rickets line leads, not the GGT -----------


def test_a_child_with_rickets_clear_in_the_labs_gets_the_x_ray_first(client: FlaskClient) -> None:
    # Reviewer 27: boy aged 9, ALP 1150 (no lab range), 25-OH D 15 nmol/L, PTH 18 pmol/L, phosphate
    # 2.8 mg/dL with an adult range: "order GGT to tell liver from bone".
    boy = patient("male", "2017-06-01")
    vit_d = observation("62292-8", 15, unit="nmol/L", ucum="nmol/L")
    pth = observation("2731-8", 18, unit="pmol/L", ucum="pmol/L", low=1.6, high=6.9)
    phosphate = observation("2777-1", 2.8, unit="mg/dL", ucum="mg/dL", low=2.5, high=4.5)
    found = cards(client, [alp(1150, low=None, high=None)], labs=[vit_d, pth, phosphate], pt=boy)
    assert fired(found) == ["alp-high-confirm-origin"]
    card = found[0]
    assert "nutritional rickets likely; wrist or knee X-ray, treat" in card["summary"]
    assert "order GGT" not in card["summary"]
    assert "treat with vitamin D and calcium" in card["detail"]
    # Review 29, R29-28 (twentieth round, part D): "the GGT can wait" with a GGT as the only
    # button contradicted itself; no GGT is suggested on the rickets branch.
    assert "2324-2" not in suggested(card)
    # A raised PTH alone (vitamin D not measured): the older line, the GGT recommended.
    found = cards(client, [alp(1150, low=None, high=None)], labs=[pth], pt=boy)
    card = found[0]
    assert "order GGT to tell liver from bone" in card["summary"]
    assert "rickets in the labs (a deficient 25-OH vitamin D" in card["detail"]


# --- N4: shock liver with a modest GGT rise and a hepatocellular pattern is the injury's ------


def shock_liver() -> dict[str, Any]:
    entry = condition("K76.2", onset="2026-11-17")
    entry["code"]["text"] = "Ischaemic hepatitis (shock liver)"
    return entry


def injury(alt_value: float, ast: float) -> list[dict[str, Any]]:
    return [observation("1742-6", alt_value, low=7, high=45),
            observation("1920-8", ast, low=8, high=43)]  # fmt: skip


def test_shock_liver_with_a_modest_ggt_and_hepatocellular_pattern_is_quiet(
    client: FlaskClient,
) -> None:
    # Reviewer 15: cardiogenic shock 3 days ago, ischaemic hepatitis confirmed; ALT 1900, AST
    # 2600, ALP 210 (1.6x), GGT 130 (2.1x), R 26: viral and autoimmune serology was offered.
    cause = shock_liver()
    high_ggt = {"low": 10, "high": 61}
    found = cards(client, [alp(210, low=40, high=129), ggt(130, **high_ggt), *injury(1900, 2600)],
                  conditions=[cause])  # fmt: skip
    assert found == []
    # Without the recorded cause: the hepatocellular card (the cause is what quiets it).
    found = cards(client, [alp(210, low=40, high=129), ggt(130, **high_ggt), *injury(1900, 2600)])
    assert fired(found) == ["alp-high-liver-hepatocellular"]
    # A GGT of 3x or more is cholestasis the injury does not explain: a card (twelfth round:
    # the second-cause card with ultrasound and Doppler, not the hepatitis serology).
    found = cards(client, [alp(210, low=40, high=129), ggt(200, **high_ggt), *injury(1900, 2600)],
                  conditions=[cause])  # fmt: skip
    assert fired(found) == ["alp-high-acute-injury-disproportionate"]
    # A GGT of 2x with a mixed pattern (ALT 3x, R under 5): not the injury's; a card.
    found = cards(client, [alp(210, low=40, high=129), ggt(130, **high_ggt), *injury(140, 120)],
                  conditions=[cause])  # fmt: skip
    assert found != []


# --- Text: "1 days", and an eponym kept capitalised -------------------------------------------


def test_one_is_singular_and_an_eponym_keeps_its_capital(client: FlaskClient) -> None:
    from cds_service.clinical.engine import _ONE_PLURAL

    assert _ONE_PLURAL.sub(r"\1", "1 days after delivery") == "1 day after delivery"
    assert _ONE_PLURAL.sub(r"\1", "11 days, 2.1 days, 21 weeks") == "11 days, 2.1 days, 21 weeks"
    # Reviewer 30: "review paget disease of bone, pelvis".
    paget = condition("M88.8")
    paget["code"]["text"] = "Paget disease of bone, pelvis"
    found = cards(client, [alp(180, low=40, high=129), ggt(30)], conditions=[paget],
                  labs=[alp(95, low=40, high=129, when="2025-06-10T08:00:00Z")])  # fmt: skip
    assert "Paget disease of bone, pelvis" in found[0]["summary"]
    # A common word keeps the lower case it reads with mid-sentence.
    coded = condition("E55.9")
    coded["code"]["text"] = "Vitamin D deficiency"
    found = cards(client, [alp(190), ggt(18)], conditions=[coded])
    assert "vitamin D deficiency" in found[0]["detail"]
