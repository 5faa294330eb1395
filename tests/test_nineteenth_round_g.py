"""Nineteenth round (2026-12-02), part G: review 25's pregnancy and drug findings
(docs/rulebook.md, "Nineteenth round (2026-12-02), part G (review 25: pregnancy and drugs)").
Each patient is rebuilt from the reviewer's facts (review 25's gen.py), signed on 2 Dec 2026."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.rules_helper import fired, suggested
from tests.support.fhir import (
    PATIENT_ID,
    alp,
    procedure,
)
from tests.support.labs import Labs, day, drug, post, since, worded, words

NOW = "2026-12-02T07:30:00Z"
ISOENZYMES_LOINC = "24332-9"


LABS = Labs(NOW)


def statement(text: str, start: str) -> dict[str, Any]:
    return {
        "resourceType": "MedicationStatement",
        "id": "ms-1",
        "status": "active",
        "medicationCodeableConcept": {"text": text},
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "effectivePeriod": {"start": start},
    }


def text_of(card: dict[str, Any]) -> str:
    return f"{card['summary']}\n{card['detail']}"


# --- R25-35 (wrong): ALP 14x at 30 weeks was called "from bone - image the bone" ------------


def pregnant_at_30_weeks(ggt_value: float | None = 18) -> list[dict[str, Any]]:
    results = [LABS.alp(1450), LABS.alt(15), LABS.bilirubin(0.5)]
    if ggt_value is not None:
        results.append(LABS.ggt(ggt_value))
    return results


PREGNANCY_30 = [
    since("Z33.1", "2026-05-01"),
    since("Z3A.30", "2026-12-01"),
    worded("Placental lakes / suspected placenta accreta on scan", "2026-11-20"),
]


def test_an_extreme_alp_at_30_weeks_is_placental_on_one_card(client: FlaskClient) -> None:
    found = post(
        client,
        "female",
        "1988-08-08",
        pregnant_at_30_weeks(),
        [alp(420, when=day("2026-10-15"))],
        PREGNANCY_30,
    )
    assert fired(found) == ["alp-extreme"]
    [card] = found
    assert card["indicator"] == "warning"
    assert "likely placental" in card["summary"]
    assert len(card["summary"]) <= 126
    assert "heat-stable (placental) fraction" in card["detail"]
    assert "obstetric team today" in card["detail"]
    assert "from bone" not in card["summary"]
    assert "image the painful bone" not in card["detail"]
    assert ISOENZYMES_LOINC in suggested(card)
    assert words(card) <= 90


def test_an_extreme_alp_in_the_first_trimester_is_not_called_placental(
    client: FlaskClient,
) -> None:
    # At 10 weeks the placenta makes little ALP: not "likely placental". Review 27 (R27-11) found
    # the bone line ("image the painful bone") noisy in pregnancy; part J gives the first
    # trimester its own line (isoenzymes, no ionising radiation, obstetric team).
    conditions = [since("Z33.1", "2026-09-20"), since("Z3A.10", "2026-12-01")]
    found = post(client, "female", "1988-08-08", pregnant_at_30_weeks(), [], conditions)
    card = next(c for c in found if fired([c]) == ["alp-extreme"])
    assert "likely placental" not in card["summary"]
    assert "likely placental" not in card["detail"]
    assert "placental ALP this high is not expected" in card["detail"]


def test_an_extreme_alp_outside_pregnancy_keeps_the_bone_line(client: FlaskClient) -> None:
    found = post(client, "female", "1950-08-08", pregnant_at_30_weeks())
    card = next(c for c in found if fired([c]) == ["alp-extreme"])
    # Changed in the twentieth round, part G (review 30, R30-39): the adult bone line now carries
    # the bone work-up ("X-ray any painful bone, or an isotope bone scan").
    assert "X-ray any painful bone" in card["detail"]
    assert "placental" not in card["detail"]


# --- R25-40 (wrong): pembrolizumab and ipilimumab were not read; AMA came first ---------------

CHECKPOINT = [
    drug("Pembrolizumab 200 mg IV every 3 weeks", "2026-08-05"),
    drug("Ipilimumab 1 mg/kg IV every 6 weeks", "2026-08-05"),
]


def test_checkpoint_inhibitors_with_a_liver_alp_go_to_oncology_today(client: FlaskClient) -> None:
    found = post(
        client,
        "male",
        "1963-03-03",
        [LABS.alp(520), LABS.ggt(610), LABS.alt(110), LABS.bilirubin(1.0)],
        [alp(90, when=day("2026-08-01"))],
        [since("C43.9", "2026-06-01")],
        CHECKPOINT,
    )
    assert fired(found) == ["alp-high-checkpoint-inhibitor"]
    [card] = found
    assert card["indicator"] == "warning"
    assert "immune-mediated hepatitis/cholangitis likely; oncology today" in card["summary"]
    assert len(card["summary"]) <= 126
    assert "Taking Pembrolizumab; Ipilimumab." in card["detail"]  # not "Ipilimumab / kg"
    assert "hold the drug" in card["detail"]
    assert "anti-mitochondrial" not in card["detail"]
    assert words(card) <= 90


def test_a_checkpoint_inhibitor_by_rxnorm_code_is_read(client: FlaskClient) -> None:
    found = post(
        client,
        "male",
        "1963-03-03",
        [LABS.alp(300), LABS.ggt(200), LABS.alt(150)],
        [alp(80, when=day("2026-08-01"))],
        [],
        [drug("", "2026-08-05", code="1597876")],  # nivolumab
    )
    assert fired(found) == ["alp-high-checkpoint-inhibitor"]


def test_a_checkpoint_inhibitor_beside_a_bone_alp_is_not_called_hepatitis(
    client: FlaskClient,
) -> None:
    found = post(
        client,
        "male",
        "1963-03-03",
        [LABS.alp(200), LABS.ggt(20), LABS.alt(20)],
        [],
        [],
        CHECKPOINT,
    )
    assert "alp-high-checkpoint-inhibitor" not in fired(found)


# --- R25-37 and R25-54 (wrong, minor): the anti-TB stop rule was met but left conditional -----

TB_CARD = "alp-high-antituberculosis-drugs"


def test_anti_tb_alt_with_jaundice_meets_the_stop_rule(client: FlaskClient) -> None:
    # R25-37: RHZE since 20 Oct, ALP 80 to 330, GGT 250, ALT 190 (4.8x), bilirubin 2.4 mg/dL.
    ripe = [
        drug(f"{name} daily", "2026-10-20")
        for name in (
            "Rifampicin 600 mg",
            "Isoniazid 300 mg",
            "Pyrazinamide 1.5 g",
            "Ethambutol 1.2 g",
        )
    ]
    found = post(
        client,
        "male",
        "1986-06-06",
        [LABS.alp(330), LABS.ggt(250), LABS.alt(190), LABS.bilirubin(2.4)],
        [alp(80, when=day("2026-10-18"))],
        [since("A15.0", "2026-10-15")],
        ripe,
    )
    assert fired(found) == [TB_CARD]
    detail = found[0]["detail"]
    assert "ALT 4.8 times its upper limit" in detail
    assert "The stop rule is met: stop the anti-TB treatment now" in detail
    assert "at ALT 3x or more with symptoms" not in detail


def test_isoniazid_alone_at_alt_6x_is_stopped_and_no_other_drug_is_named(
    client: FlaskClient,
) -> None:
    # R25-54: latent TB, isoniazid alone since 15 Oct, ALT 260 (6.5x), bilirubin normal.
    found = post(
        client,
        "female",
        "1981-01-01",
        [LABS.alp(230), LABS.ggt(210), LABS.alt(260), LABS.bilirubin(1.0)],
        [alp(70, when=day("2026-10-10"))],
        [since("R76.11", "2026-10-01")],
        [
            drug("Isoniazid 300 mg daily", "2026-10-15"),
            drug("Pyridoxine 10 mg daily", "2026-10-15"),
        ],
    )
    assert fired(found) == [TB_CARD]
    detail = found[0]["detail"]
    assert "ALT 6.5 times its upper limit" in detail
    assert "stop the anti-TB treatment now" in detail
    lowered = detail.lower()
    assert "pyrazinamide" not in lowered
    assert "rifampicin" not in lowered


def test_anti_tb_alt_4x_without_jaundice_stops_only_with_symptoms(client: FlaskClient) -> None:
    found = post(
        client,
        "female",
        "1981-01-01",
        [LABS.alp(230), LABS.ggt(210), LABS.alt(160), LABS.bilirubin(1.0)],
        [alp(70, when=day("2026-10-10"))],
        [],
        [drug("Isoniazid 300 mg daily", "2026-10-15")],
    )
    detail = found[0]["detail"]
    assert "The stop rule is met" not in detail
    assert "Stop the anti-TB treatment now if there is nausea" in detail


# --- R25-43 (wrong, minor): a combined pill beside a cholestatic ALP was not named ------------

PILL_UK = "Ethinylestradiol 30 mcg / levonorgestrel 150 mcg (Microgynon)"
PILL_RXNORM = "ethinyl estradiol 0.03 MG / levonorgestrel 0.15 MG Oral Tablet"


def pill_patient(client: FlaskClient, text: str) -> list[dict[str, Any]]:
    labs = [LABS.alp(240), LABS.ggt(200), LABS.alt(45), LABS.bilirubin(1.0)]
    return post(client, "female", "2002-02-02", labs, [], [], [drug(text)])


def test_a_combined_pill_is_named_as_the_likely_cause_in_either_spelling(
    client: FlaskClient,
) -> None:
    for text, named in ((PILL_UK, "Ethinylestradiol"), (PILL_RXNORM, "ethinyl estradiol")):
        [card] = pill_patient(client, text)
        assert fired([card]) == ["alp-high-liver-source"]
        assert f"likely cause {named} / levonorgestrel" in card["summary"]
        assert "If the pill is stopped, use a method without oestrogen." in card["detail"]


def test_hormone_replacement_estradiol_is_not_called_a_cholestatic_drug(
    client: FlaskClient,
) -> None:
    [card] = pill_patient(client, "Estradiol 2 mg oral daily")
    assert "likely cause" not in card["summary"]
    assert "the pill" not in card["detail"]


def test_the_uk_spelling_explains_a_low_alp_too(client: FlaskClient) -> None:
    [card] = post(client, "female", "2002-02-02", [LABS.alp(31)], [], [], [drug(PILL_UK)])
    assert "estrogen or an oral contraceptive may explain it" in card["summary"]


# --- R25-39 (noisy): anabolic steroids with a bilirubin of 6 got isoenzymes, 158 words ---------


def test_anabolic_steroid_jaundice_gets_no_isoenzymes_and_stays_short(client: FlaskClient) -> None:
    found = post(
        client,
        "male",
        "1998-11-11",
        [LABS.alp(180), LABS.ggt(30), LABS.alt(95), LABS.bilirubin(6.0)],
        statements=[
            statement("Testosterone enanthate and oxandrolone (self-sourced)", "2026-08-01")
        ],
    )
    assert fired(found) == ["alp-high-liver-low-ggt"]
    [card] = found
    assert "bilirubin 6.0 mg/dL: cholestasis from the liver; ultrasound today" in card["summary"]
    assert "isoenzymes" not in text_of(card)
    assert ISOENZYMES_LOINC not in suggested(card)
    assert "Testosterone enanthate and oxandrolone" in card["detail"]
    assert "BRIC" not in card["detail"]
    assert words(card) <= 120


def test_without_jaundice_the_low_ggt_card_still_asks_for_isoenzymes(client: FlaskClient) -> None:
    found = post(client, "male", "1998-11-11", [LABS.alp(180), LABS.ggt(30), LABS.alt(95)])
    [card] = found
    assert fired(found) == ["alp-high-liver-low-ggt"]
    assert ISOENZYMES_LOINC in suggested(card)
    assert "BRIC" in card["detail"]


# --- R25-44 (wrong, minor): osteomalacia labs on phenytoin were not read ----------------------


def phenytoin_patient(client: FlaskClient, vitamin_d: float) -> list[dict[str, Any]]:
    labs = [
        alp(180, when=day("2026-05-01")),
        LABS.lab("1989-3", vitamin_d, "nmol/L", 50, 250),
        LABS.lab("2000-8", 2.12, "mmol/L", 2.15, 2.55),
        LABS.lab("2777-1", 0.75, "mmol/L", 0.8, 1.5),
    ]
    return post(
        client,
        "male",
        "1991-01-01",
        [LABS.alp(190), LABS.ggt(160), LABS.alt(30)],
        labs,
        [since("G40.909", "2015-01-01")],
        [drug("Phenytoin 300 mg daily", "2016-01-01"), drug("Levetiracetam 500 mg bd")],
    )


def test_phenytoin_with_osteomalacia_labs_is_treated_not_sent_to_isoenzymes(
    client: FlaskClient,
) -> None:
    [card] = phenytoin_patient(client, 18)
    assert fired([card]) == ["alp-high-origin-unclear"]
    assert "osteomalacia likely" in card["summary"]
    assert len(card["summary"]) <= 126
    assert "Treat the vitamin D deficiency with calcium; PTH now" in card["detail"]
    assert ISOENZYMES_LOINC not in suggested(card)


def test_phenytoin_with_a_normal_vitamin_d_still_gets_isoenzymes(client: FlaskClient) -> None:
    [card] = phenytoin_patient(client, 80)
    assert "order ALP isoenzymes" in card["summary"]
    assert ISOENZYMES_LOINC in suggested(card)


# --- Value-set gaps: the generic transfusion code (R25-14) and fenofibrate (R25-51) ------------


def test_the_generic_transfusion_code_names_the_transfusion(client: FlaskClient) -> None:
    found = post(
        client,
        "male",
        "1992-02-02",
        [LABS.alp(20)],
        [alp(70, when=day("2026-11-30")), LABS.lab("718-7", 9.0, "g/dL", 12, 15.5)],
        [since("S36.116A", "2026-11-30"), since("R57.1", "2026-11-30")],
        procedures=[procedure("116859006", "2026-12-01T10:00:00Z")],
    )
    assert "a blood transfusion in the last 30 days may explain it" in found[0]["summary"]


def test_fenofibrate_is_named_beside_a_first_low_alp(client: FlaskClient) -> None:
    found = post(
        client,
        "male",
        "1966-06-06",
        [LABS.alp(30)],
        [],
        [since("E78.1", "2020-01-01")],
        [drug("Fenofibrate 145 mg daily")],
    )
    assert "a fibrate may explain it" in found[0]["summary"]
