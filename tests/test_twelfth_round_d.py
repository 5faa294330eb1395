"""Twelfth round, part D (2026-12-01): the twelfth review's liver, pregnancy and coding defects,
each with the record that showed it (docs/rulebook.md, "Twelfth round, part D")."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.rules_helper import cards, fired, suggested
from tests.support.fhir import (
    alp,
    condition,
    full_prefetch,
    ggt,
    observation,
    patient,
    sign_request,
)

DISPROPORTIONATE = "alp-high-acute-injury-disproportionate"
HEPATOCELLULAR = "alp-high-liver-hepatocellular"


# --- 1: shock recorded days before a massive aminotransferase rise is shock liver ----------


def shock(
    code: str = "R57.0", onset: str = "2026-11-18", text: str | None = None
) -> dict[str, Any]:
    entry = condition(code, onset=onset)
    if text is not None:
        entry["code"] = {"text": text}
    return entry


def heart_failure() -> dict[str, Any]:
    entry = condition("I50.22", onset="2024-05-01")
    entry["code"]["text"] = "Chronic systolic heart failure"
    return entry


def injury_labs(alt_value: float = 1600, ldh_value: float | None = 1500) -> list[dict[str, Any]]:
    labs = [
        alp(325, low=30, high=130),  # 2.5x
        ggt(366, low=8, high=61),  # 6x
        observation("1742-6", alt_value, low=7, high=40),
        observation("1920-8", 2100, low=10, high=40),
    ]
    if ldh_value is not None:
        labs.append(observation("2532-0", ldh_value, low=135, high=214))
    return labs


def test_cardiogenic_shock_then_alt_40x_is_shock_liver_not_a_hepatitis_work_up(
    client: FlaskClient,
) -> None:
    # Review 12, 06: HFrEF, cardiogenic shock (R57.0) 2 days before, ALT 1600 (40x), AST
    # 2100, LDH 1500, GGT 6x, ALP 2.5x: "hepatitis work-up" with HBsAg, ANA, SMA.
    found = cards(client, injury_labs(), conditions=[heart_failure(), shock()])
    assert fired(found) == [DISPROPORTIONATE]
    card = found[0]
    assert "shock liver" in card["summary"]
    assert "No hepatitis serology" in card["detail"]
    assert "HBsAg" not in card["detail"]
    assert "cardiogenic shock, then aminotransferases" in card["detail"]
    # Septic shock (R65.21), a cardiac arrest in words, and no LDH measured: the same.
    for entry, ldh_value in (
        (shock("R65.21"), 1500),
        (shock(text="Out of hospital cardiac arrest"), 1500),
        (shock(), None),
    ):
        found = cards(client, injury_labs(ldh_value=ldh_value), conditions=[heart_failure(), entry])
        assert fired(found) == [DISPROPORTIONATE], entry


def test_shock_liver_is_not_inferred_when_the_pattern_does_not_fit(client: FlaskClient) -> None:
    # ALT/LDH 1.5 or more reads as viral or drug injury (Cassidy 1994): the work-up stays.
    found = cards(client, injury_labs(ldh_value=900), conditions=[heart_failure(), shock()])
    assert fired(found) == [HEPATOCELLULAR]
    # Aminotransferases under 20x (ALT 600 = 15x, AST 2100 is 52x: use a lower AST).
    labs = injury_labs(alt_value=600)
    labs[3] = observation("1920-8", 700, low=10, high=40)  # 17.5x
    assert fired(cards(client, labs, conditions=[heart_failure(), shock()])) == [HEPATOCELLULAR]
    # Shock 10 days before the ALP: too long ago to be this injury's cause.
    old = shock(onset="2026-11-10")
    assert fired(cards(client, injury_labs(), conditions=[heart_failure(), old])) == [
        HEPATOCELLULAR
    ]
    # Shock only on the differential, or "no shock" in words: not counted.
    doubtful = condition("R57.0", onset="2026-11-18", verification="differential")
    found = cards(client, injury_labs(), conditions=[heart_failure(), doubtful])
    assert fired(found) == [HEPATOCELLULAR]
    found = cards(
        client, injury_labs(), conditions=[heart_failure(), shock(text="Hypotension, no shock")]
    )
    assert fired(found) == [HEPATOCELLULAR]


def test_recent_shock_alone_is_never_a_finding_on_the_card(client: FlaskClient) -> None:
    # A normal aminotransferase picture with shock recorded: the shock is not named as context
    # nor counted as shock liver.
    labs = [
        alp(325, low=30, high=130),
        ggt(366, low=8, high=61),
        observation("1742-6", 30, low=7, high=40),
    ]
    for card in cards(client, labs, conditions=[shock()]):
        assert "shock liver" not in card["summary"]
        assert "cardiogenic shock" not in card["detail"]


# --- 2: an active pregnancy problem is not ended by arithmetic on a Z3A code's date --------

PLACENTAL = "alp-high-pregnancy"
MOTHER = patient(birth_date="1990-03-01", gender="female")


def pregnancy_code(code: str, onset: str = "2026-04-10", text: str | None = None) -> dict[str, Any]:
    entry = condition(code, onset=onset)
    if text is not None:
        entry["code"]["text"] = text
    return entry


def pregnancy_labs() -> list[dict[str, Any]]:
    return [alp(320, low=30, high=130), ggt(12, low=5, high=36)]


def test_an_active_third_trimester_problem_outweighs_a_z3a_dated_at_the_pregnancy_start(
    client: FlaskClient,
) -> None:
    # Review 12, N04: Z34.03 and Z3A.34 both carry the pregnancy's onset (April); the Z3A
    # date read as the day she was 34 weeks "ended" the pregnancy and bone ALP was ordered.
    conditions = [pregnancy_code("Z34.03"), pregnancy_code("Z3A.34", text="34 weeks gestation")]
    found = cards(client, pregnancy_labs(), conditions=conditions, pt=MOTHER)
    assert fired(found) == [PLACENTAL]
    assert "third trimester" in found[0]["summary"]
    assert "bone" not in found[0]["summary"].lower()
    # Any active pregnancy problem (supervision, unspecified trimester) keeps her pregnant.
    conditions = [pregnancy_code("Z34.90"), pregnancy_code("Z3A.34")]
    rules = fired(cards(client, pregnancy_labs(), conditions=conditions, pt=MOTHER))
    assert "alp-high-bone-source" not in rules
    assert any(rule.startswith("alp-high-pregnancy") for rule in rules), rules


def test_a_recorded_delivery_or_a_lone_old_z3a_still_ends_the_pregnancy(
    client: FlaskClient,
) -> None:
    # A delivery recorded after the codes ends the pregnancy, as before.
    conditions = [
        pregnancy_code("Z34.03"),
        pregnancy_code("Z3A.34"),
        condition("Z37.0", onset="2026-05-20"),
    ]
    found = fired(cards(client, pregnancy_labs(), conditions=conditions, pt=MOTHER))
    assert PLACENTAL not in found
    # A Z3A code alone, dated in April: past any term now, as before.
    found = fired(cards(client, pregnancy_labs(), conditions=[pregnancy_code("Z3A.34")], pt=MOTHER))
    assert PLACENTAL not in found


def test_a_third_trimester_supervision_code_alone_means_placental_alp(
    client: FlaskClient,
) -> None:
    # Review 12, N04c: only Z34.03: "weeks not known" and ALP isoenzymes. Z34.x3 and O09.x3
    # name the third trimester (28 weeks or more).
    for code in ("Z34.03", "Z34.83", "O09.513"):
        found = cards(client, pregnancy_labs(), conditions=[pregnancy_code(code)], pt=MOTHER)
        assert fired(found) == [PLACENTAL], code
        assert "third trimester" in found[0]["summary"]
    # The words too, on a local code.
    local = condition("PREG3", system="urn:oid:1.2.3", onset="2026-10-01")
    local["code"]["text"] = "Pregnancy, third trimester"
    assert fired(cards(client, pregnancy_labs(), conditions=[local], pt=MOTHER)) == [PLACENTAL]
    # A first-trimester supervision code is not the third.
    found = cards(client, pregnancy_labs(), conditions=[pregnancy_code("Z34.01")], pt=MOTHER)
    assert PLACENTAL not in fired(found)


# --- 4: PBC written in words --------------------------------------------------------------

KNOWN = "alp-high-liver-known"


def test_pbc_in_words_on_urso_is_known_pbc_not_a_new_work_up(client: FlaskClient) -> None:
    # Review 12, N17: "h/o PBC - on urso since 2024", UDCA active, ALP 1.5x, GGT 2x: the new
    # cholestasis card with "AMA for PBC".
    labs = [alp(195, low=30, high=130), ggt(80, low=5, high=40)]
    for text in (
        "h/o PBC - on urso since 2024",
        "Primary biliary cholangitis",
        "primary biliary cirrhosis, stage 2",
        "PBC/AIH overlap",
    ):
        entry = condition("LOCAL1", system="urn:oid:1.2.3", onset="2024-03-01")
        entry["code"]["text"] = text
        found = cards(client, labs, conditions=[entry])
        assert fired(found) == [KNOWN], text
        assert "anti-mitochondrial" not in found[0]["detail"].lower()
    # A query, an exclusion or a negative AMA is not PBC; nor is "PBC" inside another word.
    for text in (
        "?PBC - awaiting AMA",
        "PBC excluded",
        "Cholestasis, AMA negative",
        "no PBC on biopsy",
        "Family history of PBC",
        "PBCX trial participant",
    ):
        entry = condition("LOCAL1", system="urn:oid:1.2.3", onset="2024-03-01")
        entry["code"]["text"] = text
        assert KNOWN not in fired(cards(client, labs, conditions=[entry])), text


# --- 3: ALP and GGT under local codes, read by their words ---------------------------------

LIVER_SOURCE = "alp-high-liver-source"


def local(code: str, text: str, value: float, **kwargs: Any) -> dict[str, Any]:
    result = observation(code, value, unit="IU/L", ucum="[IU]/L", **kwargs)
    result["code"] = {"coding": [{"system": "urn:oid:1.2.3.4.local", "code": code}], "text": text}
    return result


def trace_of(app: Flask, results: list[dict[str, Any]]) -> Any:
    from cds_service.explain import evaluate_document

    body = sign_request(results, full_prefetch())
    return evaluate_document(app.extensions["alp_cds"].services, body).trace


def test_an_alp_under_a_local_code_is_read_by_its_words_and_said_so(
    client: FlaskClient, app: Flask
) -> None:
    # Review 12, N11: ALP sent as urn:oid:...|ALKP, text "ALK PHOS", 390 (3x), local GGT 260:
    # no card and an empty trace.
    labs = [
        local("ALKP", "ALK PHOS", 390, low=30, high=130),
        local("GGT1", "Gamma GT", 260, low=5, high=61),
    ]
    found = cards(client, labs)
    assert fired(found) == [LIVER_SOURCE]
    trace = trace_of(app, labs)
    by_words = trace.evaluations[0].facts["results.by_words"].value
    assert any("'alk phos' in \"ALK PHOS\"" in line for line in by_words)
    assert any("'gamma gt' in \"Gamma GT\"" in line for line in by_words)
    # Other common lab names too.
    for text in ("Alkaline Phosphatase", "ALP (total)", "Alk. Phos.", "ALKP"):
        assert fired(cards(client, [local("X1", text, 390, low=30, high=130), labs[1]])) == [
            LIVER_SOURCE
        ], text


def test_fractions_isoenzymes_ratios_and_coded_results_are_not_read_as_total_alp(
    client: FlaskClient, app: Flask
) -> None:
    for text in (
        "Bone-specific ALP",
        "ALP isoenzymes",
        "Alkaline phosphatase, placental",
        "Leukocyte alkaline phosphatase score",
        "ALP/GGT ratio",
        "Alkaline phosphatase heat stable fraction",
    ):
        assert cards(client, [local("X1", text, 390, low=30, high=130)]) == [], text
    # A LOINC code says what the test is: bone ALP (1777-2) with the text "ALP" is not a
    # total ALP.
    bone = observation("1777-2", 90, low=5, high=20)
    bone["code"]["text"] = "ALP"
    assert cards(client, [bone]) == []
    # A result that cannot be recognised: no card, and the audit record says what was sent.
    trace = trace_of(app, [local("ZZ9", "Enzyme panel 3", 390, low=30, high=130)])
    assert trace.evaluations == ()
    assert trace.reason is not None
    assert "no total ALP recognised" in trace.reason
    assert "urn:oid:1.2.3.4.local|ZZ9 (Enzyme panel 3)" in trace.reason


def test_a_ggt_under_a_local_code_is_not_ordered_again(client: FlaskClient) -> None:
    # Review 12, N11b: ALP under LOINC 6768-6, GGT 260 under a local code with no range: the
    # card said "no GGT in the last 30 days ... order GGT".
    labs = [alp(390, low=30, high=130), local("GGT1", "Gamma GT", 260)]
    found = cards(client, labs)
    assert "alp-high-confirm-origin" not in fired(found)
    assert all("2324-2" not in suggested(card) for card in found)
    # A GGT/ALP ratio under a local code is no GGT.
    found = cards(client, [alp(390, low=30, high=130), local("R1", "GGT/ALP ratio", 0.7)])
    assert "alp-high-confirm-origin" in fired(found)
