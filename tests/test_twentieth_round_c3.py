"""Twentieth round (2026-12-02), part K: review 31's IgG4 cholangitis, Hy's law's competing
causes and recorded infections (docs/rulebook.md, "Twentieth round (2026-12-02), part K").
Each patient is rebuilt from the reviewer's facts (review 31's gen.py and gen_probe.py), signed
on 2 Dec 2026, with the neighbour that must not change beside it."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.rules_helper import fired
from tests.support.labs import Labs, day, drug, post, since, worded

NOW = "2026-12-02T07:30:00Z"
LABS = Labs(NOW)
CHOLANGITIS = "alp-high-suspected-cholangitis"
IGG4 = "alp-high-igg4-cholangitis"
IGG4_JAUNDICE = "alp-high-igg4-jaundice"


def words(card: dict[str, Any]) -> int:
    return len(card["detail"].split())


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
    assert "acute cholangitis until excluded; cultures, antibiotics, ultrasound today" in (
        card["summary"]
    )
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
