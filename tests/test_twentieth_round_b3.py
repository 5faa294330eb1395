"""Twentieth round, part J (2026-12-02): review 30 in bone, calcium and low ALP
(docs/rulebook.md, "Twentieth round (2026-12-02), part J"): a stress fracture on a
bisphosphonate with a persistently low ALP (R30-30), myeloma with hypercalcaemia and a low ALP
(R30-27) and magnesium (R30-03, R30-04). Each patient is the reviewer's, with the neighbour that
must not change."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.rules_helper import fired
from tests.support.fhir import administration, alp
from tests.support.labs import Labs, day, drug, post, since, worded

NOW = "2026-12-02T07:30:00Z"
LABS = Labs(NOW)
PERSISTENT = "alp-low-persistent"


def detail(card: dict[str, Any]) -> str:
    text: str = card["detail"]
    return text


def orders(card: dict[str, Any]) -> list[str]:
    return [s["label"] for s in card.get("suggestions", [])]


# --- Item 1 (R30-30, noisy): a stress fracture on alendronate with a persistently low ALP -----

ALENDRONATE = [drug("Alendronic acid 70 mg weekly", "2020-02-01")]


def alendronate_patient(
    client: FlaskClient, *extra: dict[str, Any], on_drug: bool = True
) -> list[dict[str, Any]]:
    return post(
        client,
        "female",
        "1960-01-01",
        [LABS.alp(31)],
        labs=[alp(30, when=day("2026-05-01"))],
        conditions=[since("M81.0", "2020-01-01"), *extra],
        medications=ALENDRONATE if on_drug else [],
    )


def test_stress_fracture_on_alendronate_is_named_and_the_drug_stopped(client: FlaskClient) -> None:
    for fracture in (
        worded("Stress fracture of left tibia", "2026-10-15"),
        since("M84.361A", "2026-10-15"),
    ):
        [card] = alendronate_patient(client, fracture)
        assert fired([card]) == [PERSISTENT]
        assert card["indicator"] == "warning"
        assert card["summary"] == (
            "Persistently low ALP 31 U/L on Alendronic acid with a stress fracture:"
            " hypophosphatasia likely; stop it, PLP"
        )
        text = detail(card)
        assert "tress fracture" in text
        assert "on record: a sign of hypophosphatasia" in text
        assert "stop it" in text
        assert "X-ray both whole femurs" not in text  # a tibial fracture, no thigh pain
        assert len(card["summary"]) <= 126
        assert len(text.split()) < 130
        labels = " ".join(orders(card)).lower()
        assert "zinc" not in labels
        assert "b12" not in labels
        assert "tsh" not in labels


def test_femoral_stress_fracture_on_alendronate_brings_both_femurs_imaged(
    client: FlaskClient,
) -> None:
    for fracture in (
        worded("Stress fracture of right femoral shaft", "2026-10-15"),
        since("M84.351A", "2026-10-15"),
    ):
        [card] = alendronate_patient(client, fracture)
        assert fired([card]) == [PERSISTENT]
        text = detail(card)
        assert "X-ray both whole femurs now" in text
        assert len(text.split()) < 130


def test_no_fracture_on_alendronate_keeps_the_drug_review_card(client: FlaskClient) -> None:
    # R30-31, the neighbour: correct as it was.
    [card] = alendronate_patient(client)
    assert fired([card]) == ["alp-low-antiresorptive"]
    assert "review it until hypophosphatasia is excluded" in card["summary"]


def test_stress_fracture_without_a_bisphosphonate_keeps_the_mild_card(client: FlaskClient) -> None:
    # R30-49 (P04), the neighbour: without the drug the persistent-mild card names the fracture
    # and asks for PLP (part H); a mild low with no drug to stop stays info.
    [card] = alendronate_patient(
        client, worded("Stress fracture of left tibia", "2026-10-15"), on_drug=False
    )
    assert fired([card]) == ["alp-low-persistent-mild"]


# --- Item 2 (R30-27, noisy): myeloma, adjusted calcium 3.31, low ALP, creatinine 160 ----------


def myeloma_patient(
    client: FlaskClient, *extra_labs: dict[str, Any], **kw: Any
) -> list[dict[str, Any]]:
    return post(
        client,
        "male",
        "1952-01-01",
        [LABS.alp(30), LABS.calcium(3.15)],
        labs=[
            alp(33, when=day("2026-08-01")),
            LABS.lab("1751-7", 32, "g/L", 35, 50),
            *extra_labs,
        ],
        conditions=[since("C90.00", "2026-07-01"), *kw.pop("conditions", [])],
        **kw,
    )


def creatinine(value: float) -> dict[str, Any]:
    return LABS.lab("2160-0", value, "umol/L", 60, 110)


def test_myeloma_hypercalcaemia_with_a_low_alp_is_one_calcium_card(client: FlaskClient) -> None:
    cards = myeloma_patient(client, creatinine(160))
    assert fired(cards) == ["alp-calcium-urgent"]
    [card] = cards
    text = detail(card)
    # The hypophosphatasia caution: one line on the calcium card.
    assert "Low ALP: usual in myeloma" in text
    assert "PLP" in text
    # The kidney-dose note at creatinine 160.
    assert "creatinine 160 umol/L" in text
    assert "Creatinine raised: rehydrate first; zoledronic acid 4 mg" in text
    assert "preferred in renal impairment" in text
    assert len(card["summary"]) <= 126
    assert len(text.split()) < 130


def test_myeloma_with_a_normal_creatinine_has_no_kidney_line(client: FlaskClient) -> None:
    [card] = myeloma_patient(client, creatinine(90))
    assert "zoledronic acid 4 mg" not in detail(card)


def test_myeloma_on_alendronate_keeps_the_hypophosphatasia_warning(client: FlaskClient) -> None:
    # Neighbour: on a bisphosphonate the low-ALP warning is not about today's dose.
    cards = myeloma_patient(
        client, creatinine(90), medications=[drug("Alendronic acid 70 mg weekly", "2020-02-01")]
    )
    assert "alp-calcium-urgent" in fired(cards)
    assert PERSISTENT in fired(cards)


# --- Item 3 (R30-04, noisy): magnesium in mEq/L, no calcium, two magnesium-losing drugs -------


def mg_meq_patient(client: FlaskClient, *extra: dict[str, Any]) -> list[dict[str, Any]]:
    return post(
        client,
        "female",
        "1954-04-04",
        [LABS.alp(29)],
        labs=[
            LABS.lab("2601-3", 0.8, "meq/L", 1.4, 2.0),
            LABS.lab("2823-3", 3.3, "mmol/L", 3.5, 5.1),
            *extra,
        ],
        medications=[
            drug("Bendroflumethiazide 2.5 mg daily", "2015-01-01"),
            drug("Omeprazole 20 mg daily", "2018-01-01"),
        ],
    )


def test_magnesium_in_meq_is_shown_in_mmol_and_a_calcium_is_asked_for(client: FlaskClient) -> None:
    [card] = mg_meq_patient(client)
    assert fired([card]) == ["alp-low-electrolyte-urgent"]
    assert "magnesium 0.8 meq/L (0.4 mmol/L)" in card["summary"]
    assert len(card["summary"]) <= 126
    text = detail(card)
    assert "adjusted calcium (it follows magnesium down)" in text
    assert "it lowers" not in text
    assert "On Bendroflumethiazide; Omeprazole: magnesium-lowering; review." in text
    assert len(text.split()) < 130


def test_magnesium_in_mmol_with_a_calcium_is_shown_as_before(client: FlaskClient) -> None:
    # Neighbour: a value in mmol/L has no conversion; a calcium measured is not asked for again.
    [card] = post(
        client,
        "male",
        "1968-03-03",
        [LABS.alp(30)],
        labs=[
            LABS.magnesium(0.38),
            LABS.lab("2823-3", 3.1, "mmol/L", 3.5, 5.1),
            LABS.calcium(2.30),
        ],
    )
    assert fired([card]) == ["alp-low-electrolyte-urgent"]
    assert "magnesium 0.38 mmol/L, 2 Dec 2026" in card["summary"]
    assert "(0.38 mmol/L)" not in card["summary"]
    assert "adjusted calcium (it follows" not in detail(card)


# --- Item 3 (R30-03, noisy): a severe magnesium on omeprazole replaced three days ago ---------


def mg_replaced_patient(
    client: FlaskClient, medications: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    return post(
        client,
        "male",
        "1965-01-01",
        [LABS.alp(31)],
        labs=[
            alp(32, when=day("2026-09-10")),
            LABS.lab("2601-3", 0.44, "mmol/L", 0.7, 1.0, when=day("2026-11-29")),
            LABS.magnesium(0.82),
            LABS.lab("2823-3", 3.9, "mmol/L", 3.5, 5.1),
        ],
        medications=medications,
        administrations=[administration("Magnesium sulfate 20 mmol IV", "2026-11-30T10:00:00Z")],
    )


def test_a_replaced_severe_magnesium_on_a_ppi_is_named_as_the_likely_cause(
    client: FlaskClient,
) -> None:
    [card] = mg_replaced_patient(client, [drug("Omeprazole 40 mg daily", "2019-01-01")])
    assert fired([card]) == ["alp-low-persistent-mild"]
    assert card["summary"].startswith(
        "Low ALP 31 U/L after magnesium 0.44 mmol/L, 29 Nov 2026: likely cause"
    )
    assert len(card["summary"]) <= 126
    text = detail(card)
    assert "Omeprazole: magnesium-lowering; review." in text
    labels = " ".join(orders(card)).lower()
    assert "zinc" not in labels
    assert "tsh" not in labels
    assert "b12" not in labels


def test_a_replaced_magnesium_with_no_recorded_cause_keeps_the_screen(
    client: FlaskClient,
) -> None:
    # Neighbour: nothing to explain the magnesium (EDTA not excluded): the screen as before.
    [card] = mg_replaced_patient(client, [])
    assert fired([card]) == ["alp-low-persistent-mild"]
    assert "screen for secondary causes" in card["summary"]
