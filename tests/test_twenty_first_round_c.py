"""Twenty-first round (2026-12-02), part C: review 32's IgG4-related disease with a fever, and
hepatitis and HELLP in pregnancy (docs/rulebook.md, "Twenty-first round (2026-12-02), part C").
Each patient is rebuilt from the reviewer's facts (review 32, R32-01 to R32-07, R32-30, R32-31),
signed on 2 Dec 2026, with the neighbour that must not change beside it."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.rules_helper import fired
from tests.support.labs import Labs, day, drug, post, since, worded, words

NOW = "2026-12-02T07:30:00Z"
LABS = Labs(NOW)
CHOLANGITIS = "alp-high-suspected-cholangitis"
IGG4_JAUNDICE = "alp-high-igg4-jaundice"
IGG4_TEAM = "Known IgG4 sclerosing cholangitis: hepatology or ERCP team today"

PREDNISOLONE = [drug("Prednisolone 5 mg daily", "2025-02-01")]
AIP_WORDS = "IgG4-related disease with autoimmune pancreatitis"


def _febrile(
    client: FlaskClient,
    conditions: list[dict[str, Any]],
    infected: bool = True,
    earlier_bilirubin: float | None = None,
    alp_before: float = 200,
) -> list[dict[str, Any]]:
    # review 32's R32-01 frame: 63M on prednisolone 5 mg; T 38.6, WBC 15; ALP 200 (1 Sep) -> 340,
    # GGT 300, ALT 90, bilirubin 3.8 mg/dL
    results = [LABS.alp(340), LABS.ggt(300), LABS.alt(90), LABS.bilirubin(3.8)]
    labs = [LABS.alp(alp_before, when=day("2026-09-01"))]
    if earlier_bilirubin is not None:
        labs.append(LABS.bilirubin(earlier_bilirubin, when=day("2026-11-20")))
    if infected:
        labs += [LABS.temperature(38.6), LABS.wbc(15)]
    return post(client, "male", "1963-01-01", results, labs, conditions, PREDNISOLONE)


# --- R32-04 (wrong): IgG4-related disease with a fever and jaundice is cholangitis ---------------


@pytest.mark.parametrize(
    "conditions",
    [
        [worded(AIP_WORDS, "2025-01-01")],
        [since("D89.84", "2025-01-01")],
        [since("D89.84", "2025-01-01"), since("K86.89", "2025-01-01")],
        [since("D89.84", "2025-01-01"), since("K85.80", "2025-01-01")],
    ],
    ids=["words", "D89.84", "D89.84+K86.89", "D89.84+K85.80"],
)
def test_r32_04_igg4_related_disease_with_fever_and_jaundice_is_the_cholangitis_warning(
    client: FlaskClient, conditions: list[dict[str, Any]]
) -> None:
    found = _febrile(client, conditions)
    assert fired(found) == [CHOLANGITIS]
    [card] = found
    assert card["indicator"] == "warning"
    wanted = "Infection signs in IgG4-related disease: acute cholangitis until excluded"
    assert wanted in card["summary"]
    assert "cultures, antibiotics, ultrasound today" in card["summary"]
    assert len(card["summary"]) <= 126
    detail = card["detail"]
    assert "Blood cultures, then antibiotics without waiting for imaging" in detail
    assert "Drainage (ERCP)" in detail
    assert "IgG4-related disease: hepatology or ERCP team today" in detail
    assert "Bilirubin 3.8 mg/dL raised: supports obstruction." in detail
    assert "Fever or rigors" not in detail  # the recorded fever is not put as a condition
    assert "AMA" not in detail
    assert words(card) <= 130, detail


def test_r32_02_coded_igg4_sclerosing_cholangitis_keeps_the_igg4_team_line(
    client: FlaskClient,
) -> None:
    # K83.09 (other cholangitis) with D89.84 (IgG4-related disease): IgG4-SC coded
    found = _febrile(client, [since("K83.09", "2025-01-01"), since("D89.84", "2025-01-01")])
    assert fired(found) == [CHOLANGITIS]
    [card] = found
    assert IGG4_TEAM in card["detail"]
    assert "IgG4-related disease: hepatology" not in card["detail"]  # one IgG4 line
    assert words(card) <= 130


def test_r32_01_igg4_sclerosing_cholangitis_in_words_is_unchanged(client: FlaskClient) -> None:
    # neighbour (R32-01, correct): the words form keeps its summary and line
    found = _febrile(client, [worded("IgG4-related sclerosing cholangitis", "2025-01-01")])
    assert fired(found) == [CHOLANGITIS]
    [card] = found
    assert "Infection signs in IgG4 sclerosing cholangitis: " in card["summary"]
    assert IGG4_TEAM in card["detail"]
    assert "IgG4-related disease: hepatology" not in card["detail"]
    assert words(card) <= 128


def test_a_gallstone_cholangitis_gets_no_igg4_line(client: FlaskClient) -> None:
    # neighbour: gallstones (K80.20) with the same bloods: the biliary summary, no IgG4 line
    found = _febrile(client, [since("K80.20", "2025-01-01")])
    assert fired(found) == [CHOLANGITIS]
    assert "IgG4" not in found[0]["detail"]


def test_igg4_related_disease_with_jaundice_and_no_fever_keeps_the_jaundice_warning(
    client: FlaskClient,
) -> None:
    # R32-04 without infection signs: the IgG4 jaundice warning, under 130 words (was 121-137)
    found = _febrile(client, [worded(AIP_WORDS, "2025-01-01")], infected=False)
    assert fired(found) == [IGG4_JAUNDICE]
    [card] = found
    assert "ultrasound today" in card["summary"]
    assert "Fever or rigors: treat as cholangitis today" in card["detail"]
    assert "On Prednisolone: relapse comes most often" in card["detail"]
    assert "likely a relapse, but imaging comes before more steroid" in card["detail"]
    assert words(card) <= 115, card["detail"]  # 121 before


def test_a_stable_jaundice_with_a_fever_in_igg4_disease_states_the_infection(
    client: FlaskClient,
) -> None:
    # no new rise (ALP stable, bilirubin 3.6 a week ago): not the cholangitis warning by part
    # D's rule; the jaundice warning states the recorded infection signs, not "Fever or rigors"
    found = _febrile(
        client, [worded(AIP_WORDS, "2025-01-01")], earlier_bilirubin=3.6, alp_before=320
    )
    assert fired(found) == [IGG4_JAUNDICE]
    [card] = found
    assert "Infection signs recorded: treat as cholangitis today" in card["detail"]
    assert "Fever or rigors" not in card["detail"]
    assert words(card) <= 130, card["detail"]


# --- R32-31 (noisy): a recorded acute hepatitis in pregnancy is named, not re-screened ----------

PREGNANCY_LIVER = "alp-high-pregnancy-liver"


def pregnant(weeks: int, since_day: str) -> list[dict[str, Any]]:
    return [since("Z33.1", since_day), since(f"Z3A.{weeks}", "2026-12-01")]


def _hepatitis_in_pregnancy(
    client: FlaskClient, hepatitis: list[dict[str, Any]], weeks: int = 20
) -> dict[str, Any]:
    # R32-31: 28F, 20 weeks; ALT 1200, ALP 250, GGT 90, bilirubin 3.0
    results = [LABS.alt(1200), LABS.alp(250), LABS.ggt(90), LABS.bilirubin(3.0)]
    conditions = [*pregnant(weeks, "2026-07-15"), *hepatitis]
    found = post(client, "female", "1998-01-01", results, [], conditions)
    assert fired(found) == [PREGNANCY_LIVER]
    [card] = found
    assert card["indicator"] == "warning"
    assert len(card["summary"]) <= 126
    assert words(card) <= 130, card["detail"]
    return card


def test_r32_31_acute_hepatitis_b_in_pregnancy_is_named_with_the_newborn_prophylaxis(
    client: FlaskClient,
) -> None:
    card = _hepatitis_in_pregnancy(client, [since("B16.9", "2026-11-25")])
    assert "acute hepatitis B recorded: the likely cause; INR today, HBV DNA" in card["summary"]
    assert "obstetric and hepatology today" in card["summary"]
    detail = card["detail"]
    assert "recorded: the likely cause; no repeat serology" in detail
    for test in ("HAV IgM", "HBsAg", "anti-HCV", "HEV IgM"):
        assert test not in detail  # the diagnosis is recorded
    assert "INR, glucose and platelets today" in detail
    assert "HBV DNA today" in detail
    assert "Newborn: HBV vaccine + HBIG at birth" in detail
    assert "obstetric and hepatology teams today" in detail


def test_a_recorded_acute_hepatitis_e_in_pregnancy_watches_for_liver_failure(
    client: FlaskClient,
) -> None:
    card = _hepatitis_in_pregnancy(client, [worded("Acute hepatitis E", "2026-11-25")])
    assert "acute hepatitis E recorded (severe in pregnancy): INR today" in card["summary"]
    assert "no repeat serology" in card["detail"]
    assert "HEV IgM" not in card["detail"]
    assert "liver failure in pregnancy" in card["detail"]
    assert "HBIG" not in card["detail"]


def test_a_recorded_acute_hepatitis_a_in_pregnancy_is_named_without_hepatitis_b_lines(
    client: FlaskClient,
) -> None:
    card = _hepatitis_in_pregnancy(client, [since("B15.9", "2026-11-25")])
    assert "acute viral hepatitis recorded: the likely cause; INR today" in card["summary"]
    assert "Acute hepatitis A recorded: the likely cause; no repeat serology" in card["detail"]
    assert "HBIG" not in card["detail"]
    assert "HAV IgM" not in card["detail"]


def test_acute_hepatitis_b_in_the_first_trimester_is_named_too(client: FlaskClient) -> None:
    card = _hepatitis_in_pregnancy(client, [since("B16.9", "2026-11-25")], weeks=10)
    assert "acute hepatitis B recorded" in card["summary"]
    assert "HAV IgM" not in card["detail"]
    assert "Newborn: HBV vaccine + HBIG at birth" in card["detail"]


def test_a_hepatitis_picture_in_pregnancy_with_nothing_recorded_keeps_the_serology(
    client: FlaskClient,
) -> None:
    # neighbour (R31-43's line): no hepatitis recorded, the serology as before
    card = _hepatitis_in_pregnancy(client, [])
    assert "hepatitis picture (viral, drug, fatty liver, HELLP?)" in card["summary"]
    assert "HAV IgM, HBsAg, anti-HCV, HEV IgM" in card["detail"]


def test_a_hepatitis_b_two_years_ago_is_not_the_recorded_cause(client: FlaskClient) -> None:
    # neighbour: outside acute_viral_hepatitis_recent_days the serology is asked for again
    card = _hepatitis_in_pregnancy(client, [since("B16.9", "2024-11-25")])
    assert "HAV IgM, HBsAg, anti-HCV, HEV IgM" in card["detail"]
    assert "HBIG" not in card["detail"]


# --- R32-30 (noisy): HELLP at 34 weeks with a fever leads, the fever addressed, the drug after ---


def _hellp_34_weeks(client: FlaskClient, temperature: float | None) -> dict[str, Any]:
    # R32-30: 32F, 34 weeks, labetalol, nitrofurantoin (28 Nov); platelets 70, LDH 800, AST 300,
    # ALT 280, ALP 420, GGT 50, bilirubin 2.0, T 38.5
    results = [LABS.alp(420), LABS.ggt(50), LABS.ast(300), LABS.alt(280), LABS.bilirubin(2.0)]
    labs = [LABS.platelets(70), LABS.ldh(800)]
    if temperature is not None:
        labs.append(LABS.temperature(temperature))
    medications = [
        drug("Labetalol 200 mg twice daily", "2026-10-01"),
        drug("Nitrofurantoin 50 mg four times daily", "2026-11-28"),
    ]
    found = post(
        client, "female", "1994-01-01", results, labs, pregnant(34, "2026-04-01"), medications
    )
    # Twenty-first round, part L (review 37, R37-58): a fever with jaundice in pregnancy adds the
    # HSV hepatitis warning beside the pregnancy card (HSV hepatitis mimics HELLP, and delivery,
    # HELLP's treatment, can worsen it): the pregnancy card still leads and is unchanged.
    febrile = temperature is not None and temperature >= 38.0
    extra = ["alp-high-fever-jaundice-pregnancy"] if febrile else []
    assert fired(found) == [PREGNANCY_LIVER, *extra]
    card = found[0]
    assert len(card["summary"]) <= 126
    return card


def _bullets(card: dict[str, Any]) -> list[str]:
    return [line for line in card["detail"].splitlines() if line.startswith("- ")]


def test_r32_30_hellp_with_a_fever_leads_and_the_fever_is_addressed(client: FlaskClient) -> None:
    card = _hellp_34_weeks(client, 38.5)
    assert "fever" in card["summary"]
    assert "HELLP syndrome; obstetric unit now" in card["summary"]
    assert "cultures" in card["summary"]
    bullets = _bullets(card)
    assert bullets[0].startswith("- HELLP syndrome by the Tennessee criteria")
    assert "magnesium sulfate" in bullets[0]
    assert "delivery planned" in bullets[0]
    assert bullets[1].startswith("- Fever is not HELLP's: blood and urine cultures")
    assert "chorioamnionitis" in bullets[1]
    assert "acute fatty liver" in bullets[1]
    assert "Nitrofurantoin" in bullets[2]  # the drug line after HELLP and the fever
    assert words(card) <= 120, card["detail"]  # 130 before


def test_the_same_hellp_without_a_fever_keeps_the_full_line_first(client: FlaskClient) -> None:
    # neighbour: no fever; the full HELLP line (15-20%, subcapsular haematoma) now before the drug
    card = _hellp_34_weeks(client, None)
    assert "fever" not in card["summary"]
    bullets = _bullets(card)
    assert "15-20% have no raised blood pressure" in bullets[0]
    assert "Nitrofurantoin" in bullets[1]
    assert "Fever is not HELLP's" not in card["detail"]
    assert words(card) <= 130, card["detail"]
