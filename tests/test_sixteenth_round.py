"""Sixteenth round (2026-12-01), the integrator's items (docs/rulebook.md, "Sixteenth round")."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.rules_helper import cards, fired
from tests.support.fhir import alp
from tests.test_fourteenth_round_h import BONE, GIRL_10, child_alp, child_ggt, words
from tests.test_rules_low import EXPLAINED, MILD_EARLIER_LOW


@pytest.mark.parametrize(
    "text",
    ["Coeliac disease - gluten free diet", "Celiac disease", "Gluten-sensitive enteropathy"],
)
def test_coeliac_disease_in_words_is_read_as_coded_coeliac_disease_is(
    client: FlaskClient, text: str
) -> None:
    # A persistent mildly low ALP is explained by it, and a child's raised ALP within the growth
    # margin keeps the bone-source card (rickets from malabsorption), as K90.0 does.
    found = cards(client, [alp(33)], conditions=[words(text)], labs=[MILD_EARLIER_LOW])
    assert fired(found) == [EXPLAINED]
    assert text.split(" - ")[0].lower() in found[0]["detail"].lower()  # named in its words
    labs = [child_alp(480), child_ggt(12)]
    assert fired(cards(client, labs, pt=GIRL_10, conditions=[words(text)])) == [BONE]


@pytest.mark.parametrize(
    "text",
    [
        "?Coeliac disease - tTG awaited",
        "Coeliac screen negative",
        "Coeliac plexus block for pancreatic pain",
        "Mother has coeliac disease",
    ],
)
def test_a_query_a_negative_screen_or_a_relatives_coeliac_disease_is_not_the_patients(
    client: FlaskClient, text: str
) -> None:
    labs = [child_alp(480), child_ggt(12)]
    assert cards(client, labs, pt=GIRL_10, conditions=[words(text)]) == [], text
