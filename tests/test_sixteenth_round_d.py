"""Review 16 (2026-12-01), part D: bone, endocrine and reading results, each with the record
that showed it (docs/rulebook.md, "Sixteenth round ... part D")."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.rules_helper import cards, fired
from tests.support.fhir import alp, ggt, patient


def test_an_alp_without_a_unit_says_it_was_not_read(client: FlaskClient) -> None:
    # Review 16, P26: ALP 396 with no unit and no range got no card; the clinician read the
    # silence as "nothing needed". Now a short card says it was not interpreted.
    bare = alp(396, unit=None, ucum=None, low=None, high=None)
    found = cards(
        client, [bare, ggt(41, unit=None, ucum=None, low=None, high=None)], pt=patient(gender=None)
    )
    assert fired(found) == ["alp-unit-unknown"]
    assert found[0]["summary"].startswith("ALP 396 sent without a unit: not interpreted")
    assert found[0]["indicator"] == "info"
    # A unit that is not one for ALP is said so too, in the lab's words.
    [card] = cards(client, [alp(312, unit="mg/dL", ucum="mg/dL")])
    assert card["summary"].startswith("ALP 312 mg/dL: not a unit for ALP")
    # It never fires for a result the service reads: with its unit (P26b), or a range that
    # lends it one, the usual card shows.
    with_unit = alp(396, low=None, high=None)
    assert fired(cards(client, [with_unit], pt=patient(gender=None))) == ["alp-high-confirm-origin"]
    lent = alp(312)
    lent["valueQuantity"] = {"value": 312}
    assert fired(cards(client, [lent])) == ["alp-high-confirm-origin"]
    # No number at all (text, cancelled, haemolysed): the lab's report says so; still silent.
    text = alp(None, valueString="see comment")
    assert cards(client, [text]) == []
