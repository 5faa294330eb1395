"""Review 15 (2026-12-01): the fourteenth round's edges, each with the record that showed it
(docs/rulebook.md, "Fifteenth round")."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.rules_helper import cards, fired
from tests.support.fhir import alp, ggt
from tests.test_fourteenth_round_f_liver import (
    PBC,
    TRANSPLANT,
    bilirubin,
    stable_labs,
    worded,
)
from tests.test_fourteenth_round_g import CALCIUM, MYELOMA, calcium, ionised, labs
from tests.test_fourteenth_round_h import (
    HPP_EARLIER,
    WOMAN_29,
    hpp_labs,
    named,
)
from tests.test_thirteenth_round_e import PERSISTENT, WILSON_YOUNG


def test_a_first_jaundice_beside_a_transplant_or_known_liver_disease_is_not_silent(
    client: FlaskClient,
) -> None:
    # Review 15, P28: a stable ALP and a first bilirubin of 5.0 after a transplant got no card
    # (no earlier bilirubin, so "not new"); P05: the earlier one was 14 months back. The liver
    # card now shows, with its "bilirubin raised: ultrasound today".
    for known in (TRANSPLANT, PBC):
        now, earlier = stable_labs(5.0, None)
        [card] = cards(client, now, labs=earlier, conditions=[known])
        assert fired([card]) == ["alp-high-liver-source"]
        assert "Bilirubin raised: ultrasound today" in card["detail"]
        now, earlier = stable_labs(3.9, None)
        earlier.append(bilirubin(0.7, when="2025-09-20T08:00:00Z"))
        assert fired(cards(client, now, labs=earlier, conditions=[known])) == [
            "alp-high-liver-source"
        ]
    # A first bilirubin raised below visible jaundice (2.5 mg/dL) stays as it was: quiet.
    now, earlier = stable_labs(1.8, None)
    assert cards(client, now, labs=earlier, conditions=[TRANSPLANT]) == []


def test_an_entry_opening_with_a_relative_is_the_relatives_whatever_follows(
    client: FlaskClient,
) -> None:
    # Review 15, P21: "Mother also has primary biliary cholangitis" was read as the patient's
    # PBC ("also" lifts the veto only where the patient's disease comes first).
    labs = [alp(210, low=35, high=129), ggt(140, low=5, high=40)]
    found = cards(client, labs, conditions=[worded("Mother also has primary biliary cholangitis")])
    assert fired(found) == ["alp-high-liver-source"]
    assert "anti-mitochondrial" in found[0]["detail"]
    mine = worded("Primary biliary cholangitis - mother also had PBC")
    assert fired(cards(client, labs, conditions=[mine])) == ["alp-high-liver-known"]


def test_a_raised_total_calcium_beside_a_normal_ionised_one_is_not_treated(
    client: FlaskClient,
) -> None:
    # Review 15, P10: myeloma, total calcium 2.90 with a normal ionised calcium in the same draw
    # (a paraprotein binds calcium) got "treat today": treating it risks hypocalcaemia.
    found = cards(client, labs(calcium(2.90), ionised(1.25)), conditions=[MYELOMA])
    assert CALCIUM not in fired(found)
    # Without the ionised one, or with it raised, the warning stands.
    assert CALCIUM in fired(cards(client, labs(calcium(2.90)), conditions=[MYELOMA]))
    raised = labs(calcium(2.90), ionised(1.45))
    assert CALCIUM in fired(cards(client, raised, conditions=[MYELOMA]))


def test_an_old_traumatic_fracture_does_not_hold_back_the_wilson_first_card(
    client: FlaskClient,
) -> None:
    # Review 15, P18: a wrist fracture two years ago turned 'exclude Wilson disease first' into a
    # bullet under a hypophosphatasia warning; a fracture in the last year still does.
    old = named("S62.101D", "Fracture of right wrist, subsequent encounter", onset="2024-10-01")
    found = cards(client, hpp_labs(alt_value=120), pt=WOMAN_29, labs=HPP_EARLIER, conditions=[old])
    assert fired(found) == [WILSON_YOUNG]
    recent = named("S62.101D", "Fracture of right wrist, subsequent encounter", onset="2026-06-01")
    found = cards(
        client, hpp_labs(alt_value=120), pt=WOMAN_29, labs=HPP_EARLIER, conditions=[recent]
    )
    assert fired(found) == [PERSISTENT]
