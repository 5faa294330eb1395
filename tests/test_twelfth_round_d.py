"""Twelfth round, part D (2026-12-01): the twelfth review's liver, pregnancy and coding defects,
each with the record that showed it (docs/rulebook.md, "Twelfth round, part D")."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.rules_helper import cards, fired
from tests.support.fhir import alp, condition, ggt, observation, patient

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
    found = fired(cards(client, pregnancy_labs(), conditions=conditions, pt=MOTHER))
    assert "alp-high-bone-source" not in found
    assert any(rule.startswith("alp-high-pregnancy") for rule in found), found


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
