"""Twentieth round, part B (2026-12-02): bone, calcium, low ALP and children. The nineteenth
round's left-open items in this area (docs/rulebook.md, "Twentieth round (2026-12-02), part B"),
each patient built from the facts of the review or part that raised it, with the neighbour that
must not change beside each fix."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from cds_service.knowledge.model import KnowledgeBase
from tests.rules_helper import cards, fired
from tests.support.fhir import alp, condition, patient
from tests.support.labs import Labs, drug, post, worded, words

NOW = "2026-12-02T07:00:00Z"
LABS = Labs(NOW)
URGENT_LOW = "alp-low-electrolyte-urgent"
LOW_EXPLAINED = "alp-low-explained"
LOW_FIRST = "alp-low-first"


# --- Item 1 (part I's left-open, review 26 R26-18): magnesium 0.45 and calcium 1.95 ----------

COELIAC = [condition("K90.0", onset="2015-01-01")]
EARLIER_LOW = [alp(30, when="2026-09-01T08:00:00Z")]


def test_a_severe_magnesium_with_a_low_calcium_is_a_warning_naming_both(
    client: FlaskClient,
) -> None:
    [card] = cards(
        client,
        [LABS.alp(28), LABS.magnesium(0.45), LABS.calcium(1.95)],
        pt=patient("female", "1981-01-01"),
        conditions=COELIAC,
        labs=EARLIER_LOW,
    )
    assert fired([card]) == [URGENT_LOW]
    assert card["indicator"] == "warning"
    summary = card["summary"]
    assert summary.startswith("Severe hypomagnesaemia (magnesium 0.45 mmol/L")
    assert "calcium 1.95 mmol/L" in summary
    assert "magnesium and ECG today" in summary
    assert len(summary) <= 126
    assert "blocks PTH" in card["detail"]
    assert "Repeat ALP once magnesium is replete; still low: PLP" in card["detail"]
    assert "Not counted" not in card["detail"]
    assert words(card) <= 90


def test_a_mildly_low_magnesium_keeps_the_quiet_explained_card(client: FlaskClient) -> None:
    # Neighbour: not every explained low ALP is loud.
    [card] = cards(
        client,
        [LABS.alp(28), LABS.magnesium(0.62), LABS.calcium(2.20)],
        pt=patient("female", "1981-01-01"),
        conditions=COELIAC,
        labs=EARLIER_LOW,
    )
    assert fired([card]) == [LOW_EXPLAINED]
    assert card["indicator"] == "info"


def test_a_severe_magnesium_set_aside_as_edta_stays_the_repeat_card(client: FlaskClient) -> None:
    # R26-17: nothing recorded, no potassium, a low calcium: possible EDTA, as before.
    [card] = cards(
        client,
        [LABS.alp(28), LABS.magnesium(0.45), LABS.calcium(1.95)],
        pt=patient("female", "1966-01-01"),
    )
    assert fired([card]) == [LOW_FIRST]
    assert "Not counted: magnesium 0.45 mmol/L" in card["detail"]


def test_a_severe_magnesium_since_corrected_is_not_urgent(client: FlaskClient) -> None:
    # The latest magnesium counts: 0.45 three days ago, 0.65 today (low, not severe).
    earlier_mg = LABS.lab("2601-3", 0.45, "mmol/L", 0.7, 1.0, when="2026-11-29T08:00:00Z")
    [card] = cards(
        client,
        [LABS.alp(28), LABS.magnesium(0.65)],
        pt=patient("female", "1981-01-01"),
        conditions=COELIAC,
        labs=[*EARLIER_LOW, earlier_mg],
    )
    assert fired([card]) == [LOW_EXPLAINED]


def test_a_severe_magnesium_in_mg_dl_is_read(client: FlaskClient) -> None:
    mg = LABS.lab("2601-3", 1.0, "mg/dL", 1.7, 2.4)
    [card] = cards(
        client,
        [LABS.alp(28), mg, LABS.potassium(3.4)],
        pt=patient("female", "1981-01-01"),
        conditions=COELIAC,
        labs=EARLIER_LOW,
    )
    assert fired([card]) == [URGENT_LOW]
    assert card["summary"].startswith("Severe hypomagnesaemia (magnesium 1.0 mg/dL")
    assert "calcium" not in card["summary"]


# --- Item 2 (part I's left-open): PPIs and diuretics lose magnesium -------------------------------

OMEPRAZOLE = [drug("omeprazole 40 mg daily", "2024-01-01")]


def test_a_ppi_counts_the_magnesium_and_is_named(client: FlaskClient) -> None:
    # No potassium and a low calcium would read as EDTA with nothing recorded (R26-17); the
    # PPI is a recorded cause of magnesium loss, so the magnesium is the patient's.
    [card] = post(
        client,
        "female",
        "1950-01-01",
        [LABS.alp(30), LABS.magnesium(0.40), LABS.calcium(2.05)],
        medications=OMEPRAZOLE,
    )
    assert fired([card]) == [URGENT_LOW]
    # Twentieth round, part J (R30-04): "it lowers" read wrongly for two drugs; the line now
    # reads for one or several.
    assert "On omeprazole: magnesium-lowering; review." in card["detail"]


def test_a_diuretic_is_named_beside_a_mildly_low_magnesium(client: FlaskClient) -> None:
    [card] = post(
        client,
        "male",
        "1948-01-01",
        [LABS.alp(30), LABS.magnesium(0.62), LABS.potassium(3.6)],
        labs=[alp(31, when="2026-09-01T08:00:00Z")],
        medications=[drug("Furosemide 40 mg tablets, one each morning", "2023-05-01")],
    )
    assert fired([card]) == [LOW_EXPLAINED]
    assert card["indicator"] == "info"
    # Part J (R30-04): worded for one drug or several.
    assert "On Furosemide: magnesium-lowering; review." in card["detail"]


def test_a_ppi_without_a_low_magnesium_is_not_named(client: FlaskClient) -> None:
    # Neighbour: the drug is named only beside a low magnesium.
    found = post(
        client,
        "female",
        "1950-01-01",
        [LABS.alp(30), LABS.magnesium(0.85), LABS.potassium(4.0)],
        labs=[alp(31, when="2026-09-01T08:00:00Z")],
        medications=OMEPRAZOLE,
    )
    assert all("lowers magnesium" not in c["detail"] for c in found)


# --- Item 3 (part F's left-open): the leukaemia card names the LDH; a raised ALP keeps the counts -

LEUKAEMIA = "alp-child-leukaemia-signs"
GIRL_5 = patient("female", "2021-05-05")
BONE_PAIN = [
    worded("Bone pain legs, night waking", "2026-11-10"),
    condition("R26.89", onset="2026-11-20"),
]


def steps(card: dict[str, Any]) -> list[str]:
    return [line[2:] for line in card["detail"].split("\n") if line.startswith("- ")]


def child_counts(hb: float, plt: float, ldh: float | None = None) -> list[dict[str, Any]]:
    labs = [LABS.lab("718-7", hb, "g/dL", 11.5, 14.5), LABS.lab("777-3", plt, "10*9/L", 150, 400)]
    if ldh is not None:
        labs.append(LABS.lab("2532-0", ldh, "U/L", 120, 250))
    return labs


def test_a_high_ldh_is_named_beside_the_low_counts(client: FlaskClient) -> None:
    # R25-26: Hb 8.2, platelets 60, LDH 900: the LDH was not on the card.
    [card] = cards(
        client,
        [LABS.alp(130, 156, 369)],
        labs=child_counts(8.2, 60, 900),
        conditions=BONE_PAIN,
        pt=GIRL_5,
    )
    assert fired([card]) == [LEUKAEMIA]
    finding = card["detail"].split("\n")[0]
    assert "low haemoglobin (8.2 g/dL" in finding
    assert "LDH 900 U/L" in finding
    assert steps(card)[0].startswith("Full blood count and film today")


def test_with_no_ldh_the_film_goes_with_an_ldh_and_urate(client: FlaskClient) -> None:
    [card] = cards(
        client,
        [LABS.alp(130, 156, 369)],
        labs=child_counts(8.2, 60),
        conditions=BONE_PAIN,
        pt=GIRL_5,
    )
    assert fired([card]) == [LEUKAEMIA]
    assert steps(card)[0].startswith("Blood film today, with LDH and urate")
    assert "LDH" not in card["detail"].split("\n")[0]


def test_a_raised_alp_with_bone_pain_and_cytopenias_names_the_counts(client: FlaskClient) -> None:
    # Part F's left-open (the integrator's R27-03 since): one warning naming the counts, the
    # bone card's X-ray kept as its line, no bone-source card beside it.
    results = [LABS.alp(520, 156, 369), LABS.ggt(12, high=23)]
    found = cards(client, results, labs=child_counts(8.0, 60, 800), conditions=BONE_PAIN, pt=GIRL_5)
    assert fired(found) == [LEUKAEMIA]
    [card] = found
    assert "low platelet count (60" in card["detail"].split("\n")[0]
    assert any(line.startswith("ALP raised: an X-ray of the painful site") for line in steps(card))
    assert len(card["summary"]) <= 126


def test_normal_counts_and_ldh_keep_the_bone_card(client: FlaskClient) -> None:
    # Neighbour: no cytopenia, LDH 300 (under 500): the bone-source card, as before.
    results = [LABS.alp(520, 156, 369), LABS.ggt(12, high=23)]
    found = cards(
        client, results, labs=child_counts(13.0, 250, 300), conditions=BONE_PAIN, pt=GIRL_5
    )
    assert fired(found) == ["alp-high-bone-source"]


# --- Item 6 (part F's left-open): a low ALP beside hypercalcaemia with a cancer recorded ---------

CALCIUM_CARD = "alp-calcium-urgent"
BREAST = [condition("C50.911", onset="2024-01-01")]
NO_DELAY = "Low ALP: not a reason to delay this dose"


def test_the_calcium_card_keeps_the_antiresorptive_and_the_low_alp_card_agrees(
    client: FlaskClient,
) -> None:
    found = post(
        client,
        "female",
        "1955-01-01",
        [LABS.alp(28), LABS.calcium(3.20), LABS.potassium(4.0)],
        conditions=BREAST,
        labs=[alp(30, when="2026-09-01T08:00:00Z")],
    )
    assert fired(found) == [CALCIUM_CARD, "alp-low-persistent"]
    calcium, low = found
    assert "denosumab or an IV bisphosphonate" in calcium["detail"]
    assert NO_DELAY in calcium["detail"]
    assert "Avoid long-term bisphosphonates and denosumab" in low["detail"]
    assert "not a reason to delay treating the raised calcium" in low["detail"]


def test_known_hypophosphatasia_with_a_cancer_drops_the_bisphosphonate(client: FlaskClient) -> None:
    found = post(
        client,
        "female",
        "1955-01-01",
        [LABS.alp(20), LABS.calcium(3.20)],
        conditions=[*BREAST, worded("Hypophosphatasia (adult), ALPL variant", "2020-01-01")],
        labs=[alp(22, when="2026-09-01T08:00:00Z")],
    )
    calcium = next(c for c in found if fired([c]) == [CALCIUM_CARD])
    assert "denosumab or an IV bisphosphonate" not in calcium["detail"]
    assert "Known hypophosphatasia: IV fluids and calcitonin today" in calcium["detail"]


def test_a_normal_alp_with_a_cancer_gets_no_low_alp_line(client: FlaskClient) -> None:
    # Neighbour: the treatment line as before, no low-ALP line.
    found = post(
        client, "female", "1955-01-01", [LABS.alp(80), LABS.calcium(3.20)], conditions=BREAST
    )
    calcium = next(c for c in found if fired([c]) == [CALCIUM_CARD])
    assert "denosumab or an IV bisphosphonate" in calcium["detail"]
    assert NO_DELAY not in calcium["detail"]


def test_a_persistently_low_alp_without_a_raised_calcium_keeps_the_plain_caution(
    client: FlaskClient,
) -> None:
    found = post(
        client,
        "female",
        "1955-01-01",
        [LABS.alp(28), LABS.calcium(2.40)],
        conditions=BREAST,
        labs=[alp(30, when="2026-09-01T08:00:00Z")],
    )
    [low] = [c for c in found if fired([c]) == ["alp-low-persistent"]]
    assert (
        "Avoid bisphosphonates and denosumab until hypophosphatasia is excluded." in low["detail"]
    )


# --- Item 4 (review 28 R28-24, part L): the explained bone card's reasoning and its tests --------

BONE_EXPLAINED = "alp-high-bone-explained"


def test_primary_hyperparathyroidism_from_the_results_is_not_said_to_need_no_test(
    client: FlaskClient,
) -> None:
    results = [LABS.alp(150), LABS.ggt(20)]
    labs = [*results, LABS.calcium(2.95), LABS.pth(12), LABS.phosphate(0.7)]
    [card] = cards(client, results, pt=patient("female", "1964-11-11"), labs=labs)
    assert fired([card]) == [BONE_EXPLAINED]
    assert "is on record;" not in card["detail"]
    assert (
        "on record or in these results: no test is needed to find the ALP's source"
        in card["detail"]
    )
    assert "urine calcium/creatinine clearance ratio (FHH), eGFR, DXA" in card["detail"]


def test_known_paget_keeps_no_test_for_the_source(client: FlaskClient) -> None:
    # Neighbour: a recorded cause, nothing to do: the same reasoning, no step.
    results = [LABS.alp(180), LABS.ggt(20)]
    [card] = cards(
        client,
        results,
        pt=patient("male", "1950-01-01"),
        labs=results,
        conditions=[condition("M88.9", onset="2019-01-01")],
    )
    assert fired([card]) == [BONE_EXPLAINED]
    assert "no test is needed to find the ALP's source" in card["detail"]


# --- Item 5 (part F's left-open): stress fracture and craniosynostosis in an adult -------------

STRESS_FRACTURE = [worded("Stress fracture, 2nd and 3rd metatarsals", "2025-06-01")]
ALENDRONATE = [drug("alendronic acid 70 mg weekly", "2022-01-01")]
PERSISTENT = "alp-low-persistent"


def test_a_stress_fracture_lifts_an_adults_near_limit_first_low(client: FlaskClient) -> None:
    [card] = post(client, "female", "1970-01-01", [LABS.alp(33)], conditions=STRESS_FRACTURE)
    assert fired([card]) == [LOW_FIRST]
    assert "with a stress fracture on record: consider hypophosphatasia" in card["summary"]
    assert len(card["summary"]) <= 126
    assert any("vitamin B6" in s["label"] for s in card["suggestions"])


def test_craniosynostosis_lifts_an_adults_near_limit_first_low(client: FlaskClient) -> None:
    found = post(
        client,
        "male",
        "1990-01-01",
        [LABS.alp(33)],
        conditions=[condition("Q75.0", onset="1991-01-01")],
    )
    assert fired(found) == [LOW_FIRST]


def test_a_near_limit_first_low_with_nothing_recorded_stays_quiet(client: FlaskClient) -> None:
    # Neighbour: the margin as before.
    assert post(client, "female", "1970-01-01", [LABS.alp(33)]) == []


def test_a_stress_fracture_on_a_bisphosphonate_says_stop_it(client: FlaskClient) -> None:
    [card] = post(
        client,
        "female",
        "1955-01-01",
        [LABS.alp(22)],
        conditions=STRESS_FRACTURE,
        labs=[alp(24, when="2026-09-01T08:00:00Z")],
        medications=ALENDRONATE,
    )
    assert fired([card]) == [PERSISTENT]
    assert card["summary"].endswith("hypophosphatasia likely; stop it, PLP")
    assert [s["label"] for s in card["suggestions"]] == [
        "Order vitamin B6 (pyridoxal 5'-phosphate)"
    ]


def test_a_bisphosphonate_without_a_sign_is_held_not_called_likely(client: FlaskClient) -> None:
    # Review 40 (R40-01): "review the drug" became "hold the drug" (the persistent low had a
    # softer verb than a first marked low); without a sign it is still not "likely; stop it".
    [card] = post(
        client,
        "female",
        "1955-01-01",
        [LABS.alp(22)],
        labs=[alp(24, when="2026-09-01T08:00:00Z")],
        medications=ALENDRONATE,
    )
    assert card["summary"].endswith("consider hypophosphatasia; hold the drug; PLP")


def test_a_first_low_names_the_ppi_beside_a_counted_low_magnesium(client: FlaskClient) -> None:
    # Item 2 on the first-low card: magnesium 0.62 with a normal potassium, on omeprazole.
    [card] = post(
        client,
        "female",
        "1950-01-01",
        [LABS.alp(30), LABS.magnesium(0.62), LABS.potassium(4.1)],
        medications=OMEPRAZOLE,
    )
    assert fired([card]) == [LOW_FIRST]
    # Twentieth round, part J (R30-04): "it lowers" read wrongly for two drugs; the line now
    # reads for one or several.
    assert "On omeprazole: magnesium-lowering; review." in card["detail"]


# --- Item 7 (review 26's minor points): the infant vitamin K line; aromatase-inhibitor bone loss -


def test_infant_cholestasis_asks_for_an_inr_and_vitamin_k(client: FlaskClient) -> None:
    # R26-21: 3 weeks, conjugated bilirubin 1.8 mg/dL: no vitamin K line.
    results = [
        LABS.alp(600, 150, 420),
        LABS.bilirubin(6.0),
        LABS.lab("1968-7", 1.8, "mg/dL", 0, 0.3),
    ]
    [card] = post(client, "male", "2026-11-11", results)
    assert fired([card]) == ["alp-infant-cholestasis"]
    assert "INR today; parenteral vitamin K if prolonged" in card["detail"]


LETROZOLE = [drug("Letrozole 2.5 mg daily", "2023-03-01")]


def test_letrozole_is_named_for_bone_loss_beside_the_metastasis_line(client: FlaskClient) -> None:
    # R26-20: breast cancer on letrozole, ALP 2.2x, GGT normal.
    [card] = post(
        client,
        "female",
        "1958-01-01",
        [LABS.alp(230), LABS.ggt(25)],
        conditions=BREAST,
        medications=LETROZOLE,
    )
    assert fired([card]) == ["alp-high-bone-source"]
    assert "a bone-source rise suggests bone metastases" in card["detail"]  # kept
    assert "Letrozole also raises bone turnover and causes bone loss: DXA" in card["detail"]
    assert words(card) <= 90


def test_breast_cancer_without_an_aromatase_inhibitor_has_no_bone_loss_line(
    client: FlaskClient,
) -> None:
    [card] = post(client, "female", "1958-01-01", [LABS.alp(230), LABS.ggt(25)], conditions=BREAST)
    assert "bone loss" not in card["detail"]


def test_the_severe_magnesium_threshold_is_data(kb: KnowledgeBase) -> None:
    [source] = kb.findings["magnesium-severe-low"].sources
    assert (source.valueset, source.at_most) == ("magnesium", "magnesium_severe_mmol_l")
    assert kb.param("magnesium_severe_mmol_l") == 0.5
    assert kb.analyte_units["magnesium"].convert(1.0, "mg/dL", None) == 0.4114
