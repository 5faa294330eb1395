"""Review 16 (2026-12-01), part C: liver and drug injury, each with the record that showed it
(docs/rulebook.md, "Sixteenth round (2026-12-01), part C")."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.rules_helper import cards, fired
from tests.support.fhir import condition, medication
from tests.test_fourteenth_round_f_liver import (
    LIVER_SOURCE,
    NEW_JAUNDICE,
    PBC,
    stable_labs,
    worded,
)

PBC_RESPONSE = "alp-high-pbc-response"
METASTASES = "alp-high-metastases"
URSODIOL = medication(text="Ursodeoxycholic acid 500 mg tablet, 1 in the morning and 2 at night")


# --- 1 (unsafe, R02 and R02b): a first jaundice in PBC on ursodiol was hidden --------------


def test_a_first_jaundice_in_pbc_on_ursodiol_is_never_hidden_by_the_response_card(
    client: FlaskClient,
) -> None:
    # R02b: PBC coded, on ursodiol, ALP 1.9x stable, GGT raised, a first bilirubin of 4.3:
    # the response card hid the liver card and said "no new diagnostic work-up".
    now, earlier = stable_labs(4.3, None)
    found = cards(client, now, labs=earlier, conditions=[PBC], medications=[URSODIOL])
    assert fired(found) == [LIVER_SOURCE]
    assert "Bilirubin raised: ultrasound today" in found[0]["detail"]
    assert "no new diagnostic work-up" not in found[0]["detail"]
    # R02: PBC in words, no GGT: no liver card can carry it; the new-jaundice warning does.
    no_ggt = [lab for lab in now if lab["code"]["coding"][0]["code"] != "2324-2"]
    pbc_words = worded("PBC - AMA M2 positive, on urso since 2021")
    found = cards(client, no_ggt, labs=earlier, conditions=[pbc_words], medications=[URSODIOL])
    assert fired(found) == [NEW_JAUNDICE]
    assert found[0]["indicator"] == "warning"
    assert "ultrasound, INR and albumin" in found[0]["detail"]
    # A rising bilirubin warns (as before); a bilirubin that is not new still gets the
    # response card.
    now, earlier = stable_labs(3.6, 0.8)
    found = cards(client, now, labs=earlier, conditions=[PBC], medications=[URSODIOL])
    assert fired(found) == [NEW_JAUNDICE]
    now, earlier = stable_labs(1.1, 0.9, alp_now=300)
    found = cards(client, now, labs=earlier, conditions=[PBC], medications=[URSODIOL])
    assert fired(found) == [PBC_RESPONSE]


def test_known_metastases_do_not_hide_a_first_jaundice(client: FlaskClient) -> None:
    # The same hole in the metastases card ("consistent with known metastases").
    mets = [condition("C78.7", onset="2025-01-01"), condition("C79.51", onset="2025-01-01")]
    now, earlier = stable_labs(5.0, None)
    found = cards(client, now, labs=earlier, conditions=mets)
    assert METASTASES not in fired(found)
    assert any("ultrasound today" in card["detail"] for card in found)
    now, earlier = stable_labs(0.8, 0.7, alp_now=300)
    assert METASTASES in fired(cards(client, now, labs=earlier, conditions=mets))
