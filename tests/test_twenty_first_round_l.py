"""Twenty-first round (2026-12-02), part L: review 37's wrong findings (docs/clinical-reviews/
review-37.md): the creatinine severity that never held (R37-66), the fever-jaundice warning in
Gilbert syndrome and in pregnancy (R37-56, R37-58), fever on a new aromatic anticonvulsant with a
cholestatic rise (R37-54, R37-67), AST on methotrexate (R37-51), thigh pain on a bisphosphonate
(R37-45, R37-46) and a haemolysed potassium (R37-41) (docs/rulebook.md, "Twenty-first round
(2026-12-02), part L"). Each patient is rebuilt from the reviewer's facts
(/work/review37-work/cases.py), signed on 2 Dec 2026."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask.testing import FlaskClient

from cds_service.clinical.facts import Facts, derive
from cds_service.clinical.record import PatientRecord
from cds_service.knowledge.model import KnowledgeBase
from tests.rules_helper import fired
from tests.support.fhir import patient
from tests.support.labs import Labs, drug, post, since, words

NOW = "2026-12-02T08:00:00Z"
LABS = Labs(NOW)
M, F = "male", "female"
CAUSE = "alp-high-hepatocellular-jaundice-cause"
OVERDOSE = since("T39.1X2A", "2026-11-30")
AKI = since("N17.9", "2026-12-01")
CKD4 = since("N18.4", "2018-01-01")
SHOCK = since("R57.9", "2026-11-30")


def creat(value: float, loinc: str = "14682-9") -> dict[str, Any]:
    return LABS.lab(loinc, value, "umol/L", 60, 110)


def creat_mg(value: float) -> dict[str, Any]:
    return LABS.lab("2160-0", value, "mg/dL", 0.7, 1.2)


def short(found: list[dict[str, Any]]) -> None:
    for card in found:
        assert len(card["summary"]) < 140, card["summary"]
        assert words(card) <= 130, (card["summary"], words(card))


def _card(found: list[dict[str, Any]], rule: str) -> dict[str, Any]:
    assert rule in fired(found), fired(found)
    short(found)
    return found[fired(found).index(rule)]


# --- R37-66 (wrong): the creatinine status was never judged ---------------------------------


def _facts(kb: KnowledgeBase, labs: list[dict[str, Any]]) -> Facts:
    results = [LABS.alp(140)]
    record = PatientRecord(
        patient(M, "1985-01-01"),
        datetime(2026, 12, 2, 12, tzinfo=UTC),
        results=tuple(results),
        labs=tuple(labs),
    )
    found = derive(kb, record, results[0])
    assert isinstance(found, Facts)
    return found


def test_creatinine_status_is_read_against_its_range(kb: KnowledgeBase) -> None:
    # Every coding the reviewer traced as "unknown": 14682-9 and 2160-0 in umol/L, 2160-0 in mg/dL.
    assert _facts(kb, [creat(250)]).get("creatinine.status") == "high"
    assert _facts(kb, [creat(180, "2160-0")]).get("creatinine.status") == "high"
    assert _facts(kb, [creat_mg(2.0)]).get("creatinine.status") == "high"
    assert _facts(kb, [creat(80)]).get("creatinine.status") == "normal"
    assert _facts(kb, [creat_mg(0.9)]).get("creatinine.status") == "normal"


def _overdose(
    client: FlaskClient, labs: list[dict[str, Any]], conditions: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    return post(client, M, "1985-01-01", [LABS.alp(140)], labs, conditions)


def test_r37_66_overdose_with_aki_and_creatinine_250_is_liver_unit_now(
    client: FlaskClient,
) -> None:
    # Paracetamol overdose 30 Nov, AKI 1 Dec, creatinine 250, ALT 800 (20x), INR 1.3, bili 1.0.
    labs = [LABS.ggt(60), LABS.alt(800), LABS.bilirubin(1.0), LABS.inr(1.3), creat(250)]
    card = _card(_overdose(client, labs, [OVERDOSE, AKI]), CAUSE)
    assert card["indicator"] == "warning"
    # Twenty-second round, part C (review 38, R38-31): the summary names the creatinine.
    assert "creatinine 250: acetylcysteine; liver unit now" in card["summary"]
    assert "Creatinine 250 umol/L" in card["detail"]
    assert "raised: liver unit now, not waiting for King's criteria" in card["detail"]
    assert "Liver unit today by King's criteria" not in card["detail"]


def test_creatinine_explained_by_ckd_4_is_not_severity(client: FlaskClient) -> None:
    # R37-33/64: CKD 4 with creatinine 250 beside an overdose, ALT 1.5x, INR 1.1.
    labs = [LABS.ggt(60), LABS.alt(60), LABS.bilirubin(0.7), LABS.inr(1.1), creat(250)]
    card = _card(_overdose(client, labs, [CKD4, OVERDOSE]), CAUSE)
    assert "liver unit now" not in card["summary"]
    assert "Creatinine 250" not in card["detail"]


def test_creatinine_in_shock_or_aih_is_not_paracetamol_severity(client: FlaskClient) -> None:
    # R37-37/61/62: shock, ALT 50x, creatinine 180 (AKI): stays silent (nothing the ALP adds).
    labs = [LABS.ggt(80), LABS.alt(2000), LABS.ast(2600), LABS.bilirubin(1.4), LABS.inr(1.3)]
    for creatinine in (creat(180, "2160-0"), creat(180), creat_mg(2.0)):
        found = post(client, M, "1950-01-01", [LABS.alp(140)], [*labs, creatinine], [SHOCK])
        assert CAUSE not in fired(found), fired(found)
    # R37-32/63: CKD 4 with AIH and ALT 3.75x: no recorded-cause warning from the creatinine.
    aih = since("K75.4", "2019-01-01")
    labs = [LABS.ggt(90), LABS.alt(150), LABS.bilirubin(0.9), LABS.inr(1.0), creat(250)]
    found = post(client, M, "1960-01-01", [LABS.alp(160)], labs, [CKD4, aih])
    assert CAUSE not in fired(found), fired(found)


# --- R37-56 (wrong), R37-58 (wrong): the fever-jaundice warning, Gilbert and pregnancy ---------

FEVER_JAUNDICE = "alp-high-fever-jaundice"
FEVER_PREGNANCY = "alp-high-fever-jaundice-pregnancy"
PREGNANCY_LIVER = "alp-high-pregnancy-liver"
LIVER = "alp-high-liver-source"
GILBERT = since("E80.4", "2010-01-01")
FLU = since("J11.1", "2026-11-30")


def _gilbert(client: FlaskClient, *more: dict[str, Any]) -> list[dict[str, Any]]:
    # Gilbert E80.4, flu, 38.5; bilirubin 2.1, ALP 125, GGT 50, ALT 30.
    labs = [LABS.ggt(50), LABS.alt(30), LABS.bilirubin(2.1), LABS.temperature(38.5), *more]
    return post(client, M, "1990-01-01", [LABS.alp(125)], labs, [GILBERT, FLU])


def direct(value: float) -> dict[str, Any]:
    return LABS.lab("1968-7", value, "mg/dL", 0.0, 0.3)


def test_r37_56_gilbert_with_flu_is_not_told_cultures_then_antibiotics(
    client: FlaskClient,
) -> None:
    found = _gilbert(client)
    assert FEVER_JAUNDICE not in fired(found)
    card = _card(found, LIVER)
    assert card["indicator"] == "info"
    assert "then antibiotics" not in card["detail"]
    assert (
        "Gilbert syndrome recorded (fever raises its bilirubin): direct bilirubin today; "
        "if conjugated, treat as cholangitis." in card["detail"]
    )


def test_gilbert_with_a_conjugated_bilirubin_keeps_the_fever_warning(
    client: FlaskClient,
) -> None:
    # neighbour: a direct bilirubin of 1.5 of 2.1 is no Gilbert rise: cholangitis until excluded.
    card = _card(_gilbert(client, direct(1.5)), FEVER_JAUNDICE)
    assert card["indicator"] == "warning"
    assert "Blood cultures, then antibiotics" in card["detail"]
    # and without Gilbert the warning is unchanged (R37-59)
    labs = [LABS.ggt(500), LABS.alt(180), LABS.bilirubin(4.0), LABS.temperature(38.9)]
    found = post(client, M, "1955-01-01", [LABS.alp(420)], labs)
    assert fired(found) == [FEVER_JAUNDICE]


PREGNANT_33 = [since("Z33.1", "2026-04-20"), since("Z3A.33", "2026-12-01")]


def test_r37_58_fever_with_jaundice_at_33_weeks_names_hsv_beside_the_pregnancy_card(
    client: FlaskClient,
) -> None:
    labs = [LABS.ggt(90), LABS.alt(200), LABS.bilirubin(3.0), LABS.temperature(38.6)]
    found = post(client, F, "1995-01-01", [LABS.alp(320)], labs, PREGNANT_33)
    short(found)
    # The pregnancy card leads; the fever warning sits beside it, not hidden by it.
    assert fired(found) == [PREGNANCY_LIVER, FEVER_PREGNANCY]
    card = found[1]
    assert card["indicator"] == "warning"
    assert "HSV hepatitis or cholangitis?" in card["summary"]
    assert "HSV PCR (blood) and empirical aciclovir" in card["detail"]
    assert "Blood cultures now" in card["detail"]
    # no fever: no HSV card
    found = post(client, F, "1995-01-01", [LABS.alp(320)], labs[:3], PREGNANT_33)
    assert FEVER_PREGNANCY not in fired(found)


# --- R37-67, R37-54 (wrong): fever three weeks into phenytoin with a cholestatic rise ----------

DRESS = "alp-high-anticonvulsant-hypersensitivity"
EPILEPSY = since("G40.909", "2010-01-01")


def _phenytoin(client: FlaskClient, alp: float, ggt: float, alt: float) -> list[dict[str, Any]]:
    # Phenytoin started 10 Nov (3 weeks), fever 38.6, bilirubin 0.6.
    labs = [LABS.ggt(ggt), LABS.alt(alt), LABS.bilirubin(0.6), LABS.temperature(38.6)]
    meds = [drug("Phenytoin 300 mg daily", "2026-11-10")]
    return post(client, M, "1981-01-01", [LABS.alp(alp)], labs, [EPILEPSY], meds)


def test_r37_67_fever_on_phenytoin_with_a_cholestatic_rise_is_the_dress_warning(
    client: FlaskClient,
) -> None:
    found = _phenytoin(client, 260, 200, 35)
    short(found)
    assert fired(found) == [DRESS]
    card = found[0]
    assert card["indicator"] == "warning"
    assert "Fever, ALP 2.5x on Phenytoin begun recently" in card["summary"]
    assert "stop it now" in card["summary"]
    assert "Stop Phenytoin now" in card["detail"]
    assert "abruptly" not in card["detail"]


def test_r37_54_fever_on_phenytoin_with_alp_1_4x_asks_about_rash_today(
    client: FlaskClient,
) -> None:
    found = _phenytoin(client, 150, 100, 30)
    short(found)
    assert fired(found) == [DRESS]
    card = found[0]
    assert "hypersensitivity (DRESS)? Rash, eosinophils today" in card["summary"]
    assert "usually no change to the drug" not in card["detail"]
    assert "abruptly" not in card["detail"]
    assert "Rash, eosinophilia or swollen glands: stop Phenytoin now" in card["detail"]


def test_fever_two_years_into_carbamazepine_is_still_not_dress(client: FlaskClient) -> None:
    # R37-53: carbamazepine since 2024 with a urinary infection: no hypersensitivity card.
    labs = [LABS.ggt(120), LABS.alt(50), LABS.bilirubin(0.5), LABS.temperature(38.4)]
    meds = [drug("Carbamazepine 400 mg twice daily", "2024-11-01")]
    uti = since("N39.0", "2026-11-30")
    found = post(client, F, "1980-01-01", [LABS.alp(150)], labs, [EPILEPSY, uti], meds)
    assert DRESS not in fired(found)


# --- R37-51 (wrong): AST 2.5x on methotrexate read as an alcohol pattern -----------------------

MTX_MONITOR = "alp-high-methotrexate-monitor"
RA = since("M06.9", "2020-01-01")


def test_r37_51_ast_led_rise_on_methotrexate_names_the_drug(client: FlaskClient) -> None:
    # RA on methotrexate; ALT 38, AST 100 (2.5x), ALP 130, GGT 60, bilirubin 0.5.
    labs = [LABS.ggt(60), LABS.alt(38), LABS.ast(100), LABS.bilirubin(0.5)]
    meds = [drug("Methotrexate 20 mg once weekly", "2023-01-01")]
    found = post(client, F, "1964-01-01", [LABS.alp(130)], labs, [RA], meds)
    short(found)
    assert fired(found) == [MTX_MONITOR]
    card = found[0]
    assert "AST 2.5x on Methotrexate: alcohol? CK" in card["summary"]
    assert "alcohol pattern" not in card["detail"]
    assert "CK with the repeat" in card["detail"]
    # neighbour R37-68: ALT 1.75x leads as before
    labs = [LABS.ggt(60), LABS.alt(70), LABS.ast(110), LABS.bilirubin(0.5)]
    found = post(client, F, "1964-01-01", [LABS.alp(130)], labs, [RA], meds)
    assert fired(found) == [MTX_MONITOR]
    assert "ALT 1.8x on Methotrexate: repeat liver tests" in found[0]["summary"]


# --- R37-46, R37-45 (wrong): thigh pain on alendronate, under 3 years and behind severe K ------

FIRST_LOW = "alp-low-first"
K_SEVERE = "alp-low-potassium-severe"
THIGH_PAIN = since("M79.652", "2026-11-20")


def test_r37_46_thigh_pain_after_two_years_of_alendronate_gets_the_femur_line(
    client: FlaskClient,
) -> None:
    conditions = [since("M81.0", "2024-06-01"), THIGH_PAIN]
    meds = [drug("Alendronic acid 70 mg once weekly", "2024-06-01")]
    found = post(client, F, "1952-01-01", [LABS.alp(33)], [], conditions, meds)
    card = _card(found, FIRST_LOW)
    assert "thigh/groin pain, Alendronic acid for 2 years: X-ray both femurs" in card["summary"]
    assert "X-ray both whole femurs (MRI if normal) before the next dose" in card["detail"]


def test_thigh_pain_months_into_alendronate_still_gets_the_femur_line(
    client: FlaskClient,
) -> None:
    conditions = [since("M81.0", "2026-06-01"), THIGH_PAIN]
    meds = [drug("Alendronic acid 70 mg once weekly", "2026-06-01")]
    found = post(client, F, "1952-01-01", [LABS.alp(33)], [], conditions, meds)
    card = _card(found, FIRST_LOW)
    assert "thigh/groin pain on Alendronic acid: X-ray both femurs" in card["summary"]
    assert "0 years" not in card["summary"]


def test_r37_45_the_femur_line_survives_the_severe_potassium_card(client: FlaskClient) -> None:
    conditions = [since("M81.0", "2018-01-01"), THIGH_PAIN]
    meds = [drug("Alendronic acid 70 mg once weekly", "2018-01-01")]
    labs = [LABS.potassium(7.0), LABS.calcium(2.35), creat(85)]
    found = post(client, F, "1950-01-01", [LABS.alp(30)], labs, conditions, meds)
    card = _card(found, K_SEVERE)
    assert fired(found) == [K_SEVERE]
    assert "Thigh/groin pain on Alendronic acid: X-ray both whole femurs" in card["detail"]
    # no thigh pain: no femur line
    found = post(client, F, "1950-01-01", [LABS.alp(30)], labs, conditions[:1], meds)
    assert "femurs" not in _card(found, K_SEVERE)["detail"]


# --- R37-41 (wrong): a haemolysed potassium of 6.5 -------------------------------------------

HAEMOLYSED_NOTE = [{"text": "Sample haemolysed: potassium may be falsely raised"}]


def test_r37_41_a_haemolysed_potassium_is_repeated_before_treatment(client: FlaskClient) -> None:
    flagged = LABS.lab(
        "2823-3",
        6.5,
        "mmol/L",
        3.5,
        5.1,
        note=HAEMOLYSED_NOTE,
        interpretation=[{"text": "haemolysed"}],
    )
    labs = [flagged, LABS.calcium(2.30), LABS.magnesium(0.85), creat(80)]
    found = post(client, F, "1970-01-01", [LABS.alp(30)], labs)
    card = _card(found, K_SEVERE)
    assert card["indicator"] == "warning"
    assert "in a haemolysed sample: ECG now and urgent repeat K before treating" in card["summary"]
    assert "hyperkalaemia treatment now" not in card["summary"]
    assert "Haemolysis releases potassium from red cells" in card["detail"]
    # with kidney failure recorded the potassium is treated as real, haemolysed or not
    found = post(client, F, "1970-01-01", [LABS.alp(30)], labs, [AKI])
    assert "hyperkalaemia treatment now" in _card(found, K_SEVERE)["summary"]


def test_haemolysis_flag_is_read_only_when_not_negated(kb: KnowledgeBase) -> None:
    def k(**flag: Any) -> dict[str, Any]:
        return LABS.lab("2823-3", 6.6, "mmol/L", 3.5, 5.1, **flag)

    assert _facts(kb, [k(note=HAEMOLYSED_NOTE)]).get("potassium.haemolysed") is True
    assert _facts(kb, [k(interpretation=[{"text": "Hemolyzed"}])]).get("potassium.haemolysed")
    assert not _facts(kb, [k(note=[{"text": "Not haemolysed"}])]).get("potassium.haemolysed")
    assert not _facts(kb, [k(note=[{"text": "No hemolysis seen"}])]).get("potassium.haemolysed")
    assert not _facts(kb, [k()]).get("potassium.haemolysed")


# --- R37-08 (noisy): three anticoagulant lines on the mechanical-valve card ------------------

HYS_LAW = "alp-high-drug-hys-law"


def test_r37_08_mechanical_valve_inr_in_range_is_one_line(client: FlaskClient) -> None:
    # R34-25 frame: flucloxacillin finished, warfarin, INR 3.4, mechanical mitral valve.
    fluclox = drug("Flucloxacillin 500 mg four times daily", "2026-11-10")
    fluclox["status"] = "completed"
    meds = [drug("Warfarin 3 mg daily", "2018-01-01"), fluclox]
    labs = [LABS.ggt(160), LABS.alt(700), LABS.bilirubin(4.2), LABS.inr(3.4)]
    valve = [since("Z95.2", "2015-01-01")]
    found = post(client, F, "1954-01-01", [LABS.alp(190)], labs, valve, meds)
    card = _card(found, HYS_LAW)
    detail = card["detail"]
    assert (
        "INR 3.4 on Warfarin, mechanical valve: do not stop it without cardiology; "
        "anticoagulation team today; INR again in 24-48 h" in detail
    )
    assert "INR today, with the anticoagulation team" not in detail
    assert detail.count("anticoagulation team") == 1


# --- R37-12 (noisy): the calcium card's "In the record" named the overdose and the shock -------

CALCIUM = "alp-calcium-urgent"


def _record_line(card: dict[str, Any]) -> str:
    detail: str = card["detail"]
    return next(line for line in detail.splitlines() if line.startswith("In the record"))


def test_r37_12_calcium_card_does_not_list_the_liver_causes(client: FlaskClient) -> None:
    co_amox = drug("Co-amoxiclav 625 mg three times daily", "2026-11-12")
    co_amox["status"] = "completed"
    labs = [LABS.ggt(150), LABS.alt(1500), LABS.bilirubin(4.5), LABS.calcium(3.2)]
    found = post(client, M, "1980-01-01", [LABS.alp(180)], labs, [OVERDOSE, SHOCK], [co_amox])
    short(found)
    calcium = _record_line(_card(found, CALCIUM))
    assert "paracetamol" not in calcium
    assert "shock" not in calcium
    # the cause card names the overdose in its summary, not again in its record line
    cause = _card(found, CAUSE)
    assert "paracetamol overdose" in cause["summary"]
    assert "paracetamol overdose" not in _record_line(cause)


# --- R37-32, R37-36, R37-63 (noisy): a mild AIH flare got the cholestatic work-up ------------

AIH = since("K75.4", "2019-01-01")


def test_r37_36_alt_led_rise_in_known_aih_is_a_relapse_not_ultrasound_first(
    client: FlaskClient,
) -> None:
    labs = [LABS.ggt(90), LABS.alt(150), LABS.bilirubin(1.0), LABS.inr(1.0), creat(80)]
    found = post(client, F, "1975-01-01", [LABS.alp(160)], labs, [AIH])
    short(found)
    assert fired(found) == [LIVER]
    card = found[0]
    assert (
        "known AIH with ALT 3.8x: relapse? IgG, adherence; hepatology this week"
        in (card["summary"])
    )
    assert "ultrasound first" not in card["summary"]
    assert "anti-mitochondrial" not in card["detail"]
    assert "look for a complication" not in card["detail"]
    # R37-32: with CKD 4 and creatinine 250 the same card (no cause warning from the creatinine)
    found = post(client, M, "1960-01-01", [LABS.alp(160)], [*labs[:4], creat(250)], [CKD4, AIH])
    assert fired(found) == [LIVER]
    assert "relapse? IgG" in found[0]["summary"]
    # neighbour: ALT 1.5x in known AIH keeps the usual work-up
    labs = [LABS.ggt(90), LABS.alt(60), LABS.bilirubin(1.0)]
    found = post(client, F, "1975-01-01", [LABS.alp(160)], labs, [AIH])
    assert "relapse" not in found[0]["summary"]
