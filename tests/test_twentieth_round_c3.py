"""Twentieth round (2026-12-02), part K: review 31's IgG4 cholangitis, Hy's law's competing
causes and recorded infections (docs/rulebook.md, "Twentieth round (2026-12-02), part K").
Each patient is rebuilt from the reviewer's facts (review 31's gen.py and gen_probe.py), signed
on 2 Dec 2026, with the neighbour that must not change beside it."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.rules_helper import fired
from tests.support.labs import Labs, day, drug, post, since, worded, words

NOW = "2026-12-02T07:30:00Z"
LABS = Labs(NOW)
CHOLANGITIS = "alp-high-suspected-cholangitis"
IGG4 = "alp-high-igg4-cholangitis"
IGG4_JAUNDICE = "alp-high-igg4-jaundice"


# --- R31-46 (unsafe): infection signs in IgG4 sclerosing cholangitis are cholangitis -----------

PREDNISOLONE = [drug("Prednisolone 5 mg daily", "2025-02-01")]


def _febrile(client: FlaskClient, text: str, infected: bool = True) -> list[dict[str, Any]]:
    results = [LABS.alp(340), LABS.ggt(300), LABS.alt(90), LABS.bilirubin(3.8)]
    labs = [LABS.alp(200, when=day("2026-09-01"))]
    if infected:
        labs += [LABS.temperature(38.6), LABS.wbc(15)]
    return post(
        client, "male", "1963-01-01", results, labs, [worded(text, "2025-01-01")], PREDNISOLONE
    )


def test_infection_signs_in_igg4_sclerosing_cholangitis_bring_the_cholangitis_warning(
    client: FlaskClient,
) -> None:
    found = _febrile(client, "IgG4-related sclerosing cholangitis")
    assert fired(found) == [CHOLANGITIS]
    [card] = found
    assert card["indicator"] == "warning"
    assert "Infection signs in IgG4 sclerosing cholangitis: " in card["summary"]
    wanted = "acute cholangitis until excluded; cultures, antibiotics, ultrasound today"
    assert wanted in card["summary"]
    assert len(card["summary"]) <= 126
    assert "Blood cultures, then antibiotics" in card["detail"]
    assert "Known IgG4 sclerosing cholangitis: hepatology or ERCP team today" in card["detail"]
    assert "relapse" not in card["summary"]
    assert words(card) <= 128  # as the PSC neighbour (P02)


def test_the_same_patient_with_psc_keeps_the_psc_warning(client: FlaskClient) -> None:
    # neighbour (P02): unchanged
    found = _febrile(client, "Primary sclerosing cholangitis")
    assert fired(found) == [CHOLANGITIS]
    assert "new rise in known PSC" in found[0]["summary"]


# --- R31-24 (wrong): a new jaundice in IgG4 sclerosing cholangitis is a warning ------------------


def test_a_new_jaundice_in_igg4_cholangitis_is_a_warning_for_ultrasound_today(
    client: FlaskClient,
) -> None:
    results = [LABS.alp(310), LABS.ggt(260), LABS.alt(60), LABS.bilirubin(3.1)]
    labs = [LABS.alp(180, when=day("2026-06-01"))]
    conditions = [worded("IgG4-related cholangiopathy", "2024-01-01")]
    found = post(client, "male", "1955-01-01", results, labs, conditions)
    assert fired(found) == [IGG4_JAUNDICE]
    [card] = found
    assert card["indicator"] == "warning"
    assert "known IgG4 sclerosing cholangitis" in card["summary"]
    assert "ultrasound today" in card["summary"]
    assert len(card["summary"]) <= 126
    assert "CA 19-9" in card["detail"]
    assert "hepatology" in card["detail"]
    assert "AMA" not in card["detail"]
    assert "likely a relapse, but imaging comes before more steroid" in card["detail"]
    assert words(card) <= 100


def test_the_same_jaundice_on_prednisolone_without_fever_is_the_jaundice_warning(
    client: FlaskClient,
) -> None:
    found = _febrile(client, "IgG4-related sclerosing cholangitis", infected=False)
    assert fired(found) == [IGG4_JAUNDICE]
    assert "On Prednisolone: relapse comes most often" in found[0]["detail"]


def test_igg4_cholangitis_without_jaundice_keeps_its_relapse_card(client: FlaskClient) -> None:
    # neighbour: the bilirubin normal, no fever: the relapse card as in part G
    results = [LABS.alp(310), LABS.ggt(260), LABS.alt(60), LABS.bilirubin(0.8)]
    labs = [LABS.alp(180, when=day("2026-06-01"))]
    conditions = [worded("IgG4-related cholangiopathy", "2024-01-01")]
    found = post(client, "male", "1955-01-01", results, labs, conditions)
    assert fired(found) == [IGG4]
    assert found[0]["indicator"] == "info"
    assert "relapse? MRCP, IgG4; hepatology" in found[0]["summary"]


def test_igg4_cholangitis_with_gilbert_and_no_direct_bilirubin_is_not_the_jaundice_warning(
    client: FlaskClient,
) -> None:
    # neighbour: Gilbert syndrome with no direct bilirubin holds the jaundice warning back
    results = [LABS.alp(310), LABS.ggt(260), LABS.alt(60), LABS.bilirubin(2.2)]
    labs = [LABS.alp(180, when=day("2026-06-01"))]
    conditions = [worded("IgG4-related cholangiopathy", "2024-01-01"), since("E80.4", "2010-01-01")]
    found = post(client, "male", "1955-01-01", results, labs, conditions)
    assert IGG4_JAUNDICE not in fired(found)
    assert fired(found) == [IGG4]


# --- R31-04 (wrong) and P10 (noisy): Hy's law stands down for a competing cause, and for Gilbert --

HYS_LAW = "alp-high-drug-hys-law"
HEPATOCELLULAR = "alp-high-liver-hepatocellular"
CO_AMOXICLAV_COMPLETED = drug("Co-amoxiclav 625 mg three times daily", "2026-11-18")
CO_AMOXICLAV_COMPLETED["status"] = "completed"


def _hepatitis(client: FlaskClient, conditions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    results = [LABS.alp(190), LABS.ggt(160), LABS.alt(1900), LABS.bilirubin(5.1)]
    return post(client, "male", "1992-01-01", results, [], conditions, [CO_AMOXICLAV_COMPLETED])


def test_a_recorded_acute_hepatitis_a_is_not_hys_law(client: FlaskClient) -> None:
    found = _hepatitis(client, [since("B15.9", "2026-11-28")])
    assert HYS_LAW not in fired(found)
    assert HEPATOCELLULAR in fired(found)
    card = found[fired(found).index(HEPATOCELLULAR)]
    assert "INR and paracetamol level today" in card["summary"]
    assert "Co-amoxiclav" in card["detail"]  # named, as a possible contributor
    assert "Acute hepatitis A recorded: the likely cause; no repeat serology" in card["detail"]
    assert "HAV IgM" not in card["detail"]
    assert "Hy's law" not in card["detail"]
    assert words(card) < 130


def test_a_recorded_autoimmune_hepatitis_is_not_hys_law(client: FlaskClient) -> None:
    found = _hepatitis(client, [since("K75.4", "2020-01-01")])
    assert HYS_LAW not in fired(found)


def test_a_hepatitis_a_long_ago_does_not_hold_hys_law_back(client: FlaskClient) -> None:
    # neighbour: hepatitis A a year ago is no competing cause now; Hy's law as before
    found = _hepatitis(client, [since("B15.9", "2025-11-28")])
    assert HYS_LAW in fired(found)
    assert "Hy's law" in found[fired(found).index(HYS_LAW)]["summary"]


def _gilbert(client: FlaskClient, labs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    results = [LABS.alp(110), LABS.ggt(90), LABS.alt(130), LABS.bilirubin(2.6)]
    course = drug("Co-amoxiclav 625 mg three times daily", "2026-11-11")
    course["status"] = "completed"
    return post(
        client, "male", "1986-01-01", results, labs, [since("E80.4", "2010-01-01")], [course]
    )


def test_gilbert_without_a_direct_bilirubin_asks_for_it_on_the_hys_law_card(
    client: FlaskClient,
) -> None:
    # Changed by the integrator (review 32, R32-17, unsafe): part K held Hy's law back here,
    # which with ALT 37x and bilirubin 4.5 mg/dL left "recheck in 2-4 weeks". Gilbert raises only
    # the unconjugated share: the warning shows and asks for the direct bilirubin today.
    found = _gilbert(client, [])
    assert fired(found) == [HYS_LAW]
    # Changed in the twenty-first round, part F (review 33, R33-48: this very picture, ALT 3.25x
    # and bilirubin 2.6 mg/dL): with Gilbert, a bilirubin under 3x and ALT under 5x the card
    # still asks for the direct bilirubin today, now first and as a same-day add-on, with
    # hepatology conditional on a conjugated result (its old Gilbert line gives way to it).
    assert "Direct bilirubin today (a same-day add-on)" in found[0]["detail"]
    assert found[0]["indicator"] == "warning"
    assert words(found[0]) < 130


def test_r32_17_gilbert_never_silences_a_severe_hepatocellular_injury(
    client: FlaskClient,
) -> None:
    results = [LABS.alp(120), LABS.ggt(110), LABS.alt(1500), LABS.bilirubin(4.5)]
    course = drug("Co-amoxiclav 625 mg three times daily", "2026-11-11")
    course["status"] = "completed"
    found = post(
        client, "male", "1986-01-01", results, [], [since("E80.4", "2010-01-01")], [course]
    )
    assert fired(found) == [HYS_LAW]
    card = found[0]
    assert card["indicator"] == "warning"
    assert "hepatology today" in card["summary"]
    assert "recheck in 2-4 weeks" not in card["detail"]


def test_gilbert_with_a_conjugated_bilirubin_is_hys_law(client: FlaskClient) -> None:
    # neighbour: a direct bilirubin of 1.8 mg/dL of the same draw settles it: Hy's law
    direct = LABS.lab("1968-7", 1.8, "mg/dL", 0, 0.3)
    found = _gilbert(client, [direct])
    assert HYS_LAW in fired(found)


# --- R31-48 and P05 (wrong): an antibiotic for a recorded puerperal infection is switched ------

DELIVERED = [since("O80", "2026-11-29"), since("Z39.2", "2026-11-29")]


def _post_partum(client: FlaskClient, infection: list[dict[str, Any]]) -> list[dict[str, Any]]:
    results = [LABS.alp(300), LABS.ggt(60), LABS.alt(70), LABS.bilirubin(1.0)]
    labs = [
        LABS.lab("777-3", 230, "10*9/L", 150, 400),
        LABS.lab("2532-0", 210, "U/L", 120, 250),
        LABS.temperature(38.3),
    ]
    course = [drug("Co-amoxiclav 625 mg three times daily", "2026-11-30")]
    return post(client, "female", "1994-01-01", results, labs, DELIVERED + infection, course)


def test_co_amoxiclav_for_a_recorded_endometritis_is_switched_not_stopped(
    client: FlaskClient,
) -> None:
    found = _post_partum(client, [since("O86.12", "2026-11-30")])
    detail = " ".join(card["detail"] for card in found)
    assert "stop it now" not in detail
    assert "On Co-amoxiclav for endometritis following delivery" in detail
    assert "Switch to another antibiotic for the infection" in detail


def test_co_amoxiclav_with_no_infection_recorded_is_still_stopped(client: FlaskClient) -> None:
    # neighbour: nothing it treats is recorded: "stop it now" as before
    found = _post_partum(client, [])
    assert any("stop it now" in card["detail"] for card in found)


def test_a_recorded_cholecystitis_is_not_another_infection(client: FlaskClient) -> None:
    # neighbour: a biliary infection is the cholangitis cards', never "an infection elsewhere"
    found = _post_partum(client, [since("K81.0", "2026-11-30")])
    detail = " ".join(card["detail"] for card in found)
    assert "Switch to another antibiotic for the infection" not in detail


def test_other_common_infections_treated_with_these_drugs_are_read(client: FlaskClient) -> None:
    for code in ("O91.12", "M00.9", "K57.32", "J01.90", "N73.9", "T81.41XA"):
        found = _post_partum(client, [since(code, "2026-11-30")])
        detail = " ".join(card["detail"] for card in found)
        assert "stop it now" not in detail, code
        assert "Switch to another antibiotic for the infection" in detail, code


# --- R31-25 (noisy): IgG4-related autoimmune pancreatitis is read; no AMA ----------------------

IGG4_DISEASE = "alp-high-igg4-related-disease"


def _pancreatitis(client: FlaskClient, condition: dict[str, Any], bilirubin: float) -> Any:
    results = [LABS.alp(310), LABS.ggt(260), LABS.alt(60), LABS.bilirubin(bilirubin)]
    labs = [LABS.alp(180, when=day("2026-06-01"))]
    return post(client, "male", "1955-01-01", results, labs, [condition])


def test_igg4_autoimmune_pancreatitis_with_jaundice_is_igg4_cholangitis_or_a_stricture(
    client: FlaskClient,
) -> None:
    found = _pancreatitis(client, worded("IgG4-related autoimmune pancreatitis", "2024-01-01"), 3.1)
    assert fired(found) == [IGG4_JAUNDICE]
    [card] = found
    assert "in IgG4-related disease: IgG4 cholangitis or pancreatic stricture" in card["summary"]
    assert "ultrasound today" in card["summary"]
    assert len(card["summary"]) <= 126
    assert "AMA" not in card["detail"]
    assert "anti-mitochondrial" not in card["detail"]


def test_igg4_related_disease_coded_without_jaundice_asks_for_mrcp_not_ama(
    client: FlaskClient,
) -> None:
    found = _pancreatitis(client, since("D89.84", "2024-01-01"), 0.8)
    assert fired(found) == [IGG4_DISEASE]
    [card] = found
    assert card["indicator"] == "info"
    assert "IgG4 cholangitis or a pancreatic-head stricture? MRCP" in card["summary"]
    assert len(card["summary"]) <= 126
    assert "anti-mitochondrial" not in card["detail"]
    assert "Not PBC: no AMA" in card["detail"]


def test_type_2_or_queried_autoimmune_pancreatitis_keeps_the_liver_card(
    client: FlaskClient,
) -> None:
    # neighbour: type 2 autoimmune pancreatitis is not IgG4-related; a query is not the disease
    for text in ("Autoimmune pancreatitis type 2", "?Autoimmune pancreatitis"):
        found = _pancreatitis(client, worded(text, "2024-01-01"), 0.8)
        assert fired(found) == ["alp-high-liver-source"], text
