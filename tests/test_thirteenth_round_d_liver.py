"""Thirteenth round, part D (2026-12-01): the thirteenth review's liver and biliary defects and
relatives' words on the problem list, each with the record that showed it (docs/rulebook.md,
"Thirteenth round (2026-12-01), part D")."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.rules_helper import cards, fired
from tests.support.fhir import alp, condition, ggt, observation

KNOWN = "alp-high-liver-known"
LIVER_SOURCE = "alp-high-liver-source"


def worded(text: str, onset: str = "2020-03-01") -> dict[str, Any]:
    entry = condition("LOCAL1", system="urn:oid:1.2.3", onset=onset)
    entry["code"]["text"] = text
    return entry


# --- 3 (review 13, patient 41): a relative's disease is not the patient's ------------------


def test_a_relatives_pbc_on_the_problem_list_is_not_known_pbc(client: FlaskClient) -> None:
    # Review 13, 41: "Mother - PBC", new ALP 3.1x, GGT 6x: "likely from known mother - PBC; a
    # new work-up is not needed". Now the new-cholestasis card, with AMA.
    labs = [alp(320, low=35, high=104), ggt(260, low=5, high=40)]
    for text in (
        "Mother - PBC",
        "PBC (maternal aunt)",
        "Sister has primary biliary cholangitis",
        "Mum: PBC",
        "FHx PBC",
    ):
        found = cards(client, labs, conditions=[worded(text)])
        assert fired(found) == [LIVER_SOURCE], text
        assert "anti-mitochondrial" in found[0]["detail"], text
    # The patient's own PBC in words still counts; "son" is a whole word only ("Wilson").
    for text in ("PBC - on urso since 2024", "PBC, dx 2019 by Dr Wilson"):
        assert fired(cards(client, labs, conditions=[worded(text)])) == [KNOWN], text
    # A code stands whatever the text says (the relative's word vetoes matches by words only).
    coded = condition("K74.3", onset="2020-03-01")
    coded["code"]["text"] = "PBC - mother also affected"
    assert fired(cards(client, labs, conditions=[coded])) == [KNOWN]
