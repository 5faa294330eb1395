"""Twenty-second round (2026-12-02), part M: the low-ALP cards stay within 130 words in every
combination of a marked or mild low ALP (first, or low before too), a bisphosphonate, denosumab or
neither, thigh pain on it (M79.652), a raised ALT, a vitamin B6 supplement, a low calcium and a
deficient vitamin D, at 46 or 76 years, and for a child of 12 with a low ALP for age
(docs/rulebook.md, "Twenty-second round (2026-12-02), part M"). A sweep of 704 such cards had
found 67 over 130 words on alp-low-persistent (the worst 174), and more on alp-low-antiresorptive
and alp-low-first; the shortened wording must keep every action."""

from __future__ import annotations

import itertools
from typing import Any

from flask.testing import FlaskClient

from tests.rules_helper import fired, within_limits
from tests.support.labs import Labs, drug, post, since, words

NOW = "2026-12-02T08:00:00Z"
LABS = Labs(NOW)
EARLIER = "2026-08-15T08:00:00Z"
ALENDRONATE = "Alendronic acid 70 mg once weekly"
DENOSUMAB = "Denosumab 60 mg injection every 6 months"
B6 = "Pyridoxine 50 mg tablet"
ADULT_RANGE = (35, 104)
CHILD_RANGE = (129, 417)


def _post(
    client: FlaskClient,
    *,
    born: str,
    value: float,
    earlier: float | None,
    medicine: str | None,
    thigh: bool,
    alt: bool,
    b6: bool,
    calcium: bool,
    vitamin_d: bool,
    limits: tuple[float, float] = ADULT_RANGE,
) -> list[dict[str, Any]]:
    low, high = limits
    labs = []
    if earlier is not None:
        labs.append(LABS.alp(earlier, low=low, high=high, when=EARLIER, ident="alp-earlier-low"))
    if alt:
        labs.append(LABS.alt(90))
    if calcium:
        labs.append(LABS.calcium(2.0))
    if vitamin_d:
        labs.append(LABS.vitamin_d(20))
    conditions = [since("M81.0", "2020-01-01")]
    if thigh:
        conditions.append(since("M79.652", "2026-11-20"))
    medications = []
    if medicine:
        medications.append(drug(medicine, "2022-06-01"))
    if b6:
        medications.append(drug(B6, "2026-01-01"))
    result = LABS.alp(value, low=low, high=high)
    return post(client, "female", born, [result], labs, conditions, medications)


def test_every_low_alp_card_within_the_limits(client: FlaskClient) -> None:
    seen: dict[str, int] = {}
    for (value, earlier), medicine, thigh, alt, b6, (calcium, vitamin_d), born in itertools.product(
        [(20, 22.0), (20, None), (33, 22.0)],
        [ALENDRONATE, DENOSUMAB, None],
        [True, False],
        [True, False],
        [True, False],
        [(True, True), (True, False), (False, False)],
        ["1980-01-01", "1950-01-01"],
    ):
        found = _post(
            client,
            born=born,
            value=value,
            earlier=earlier,
            medicine=medicine,
            thigh=thigh,
            alt=alt,
            b6=b6,
            calcium=calcium,
            vitamin_d=vitamin_d,
        )
        within_limits(found)
        for card in found:
            rule = fired([card])[0]
            seen[rule] = max(seen.get(rule, 0), words(card))
    # The sweep reaches the cards it is about, each at its longest.
    for rule in ("alp-low-persistent", "alp-low-antiresorptive", "alp-low-first"):
        assert rule in seen, seen
        assert seen[rule] > 110, seen


def test_a_child_with_a_low_alp_for_age_within_the_limits(client: FlaskClient) -> None:
    rules: set[str] = set()
    for earlier, medicine, alt, b6 in itertools.product(
        [60.0, None], [ALENDRONATE, None], [True, False], [True, False]
    ):
        found = _post(
            client,
            born="2014-06-01",
            value=60,
            earlier=earlier,
            medicine=medicine,
            thigh=False,
            alt=alt,
            b6=b6,
            calcium=True,
            vitamin_d=True,
            limits=CHILD_RANGE,
        )
        within_limits(found)
        rules.update(fired(found))
    assert "alp-low-child-hpp" in rules, rules


def _worst(client: FlaskClient, medicine: str) -> dict[str, Any]:
    found = _post(
        client,
        born="1980-01-01",
        value=20,
        earlier=22.0,
        medicine=medicine,
        thigh=True,
        alt=True,
        b6=True,
        calcium=True,
        vitamin_d=True,
    )
    assert fired(found) == ["alp-low-persistent"], fired(found)
    within_limits(found)
    return found[0]


def test_the_worst_case_on_denosumab_keeps_every_action(client: FlaskClient) -> None:
    """ALP 20 (22 in August) on denosumab, thigh pain, ALT 90, pyridoxine, calcium 2.0 and vitamin
    D 20 at 46: 174 words before this round."""
    text = _worst(client, DENOSUMAB)["detail"]
    for phrase in (
        "also low on 15 Aug 2026",
        "hypophosphatasia's hallmark",
        "correct both before the next Denosumab dose",
        "X-ray both whole femurs now, MRI if normal; cortical change: orthopaedics",
        "Ask about fractures, poor healing, early tooth loss, chondrocalcinosis, muscle pain",
        "Stop Pyridoxine at least 24 hours before PLP (B6 raises it; Mayo)",
        "if raised: urine phosphoethanolamine, ALPL genetics, metabolic bone referral",
        "Raised ALT/AST at 46 years: ceruloplasmin (Wilson disease also lowers ALP)",
        "bone-team review before the next dose (atypical fractures)",
        "do not stop it without a plan (rebound vertebral fractures)",
    ):
        assert phrase in text, (phrase, text)
    # One PLP line: the B6 line and the PLP-raised line are merged.
    assert "PLP raised" not in text
    assert "cannot be read on B6" not in text


def test_the_worst_case_on_alendronate_holds_it(client: FlaskClient) -> None:
    card = _worst(client, ALENDRONATE)
    assert "X-ray both femurs now; hold it; PLP" in card["summary"]
    for phrase in (
        "correct both before the next Alendronic acid dose",
        "X-ray both whole femurs now",
        "Stop Pyridoxine at least 24 hours before PLP",
        "ceruloplasmin",
        "hold it; do not restart until hypophosphatasia is excluded (atypical femoral fractures)",
    ):
        assert phrase in card["detail"], (phrase, card["detail"])


def test_without_b6_the_plp_raised_line_stands_alone(client: FlaskClient) -> None:
    found = _post(
        client,
        born="1980-01-01",
        value=20,
        earlier=22.0,
        medicine=None,
        thigh=False,
        alt=False,
        b6=False,
        calcium=False,
        vitamin_d=False,
    )
    card = next(c for c in found if fired([c])[0] == "alp-low-persistent")
    assert (
        "PLP raised: urine phosphoethanolamine, ALPL genetics, metabolic bone referral."
        in (card["detail"])
    )
    assert "Pyridoxine" not in card["detail"]


def test_the_persistent_mild_low_on_denosumab_merges_its_b6_line(client: FlaskClient) -> None:
    found = _post(
        client,
        born="1980-01-01",
        value=33,
        earlier=22.0,
        medicine=DENOSUMAB,
        thigh=True,
        alt=True,
        b6=True,
        calcium=True,
        vitamin_d=True,
    )
    assert fired(found) == ["alp-low-antiresorptive"], fired(found)
    within_limits(found)
    text = found[0]["detail"]
    for phrase in (
        "X-ray both whole femurs now, MRI if normal",
        "Stop Pyridoxine at least 24 hours before PLP, the most sensitive marker",
        "raised PLP: specialist review",
        "Raised ALT/AST at 46 years: ceruloplasmin",
        "do not stop it without a plan (rebound vertebral fractures)",
    ):
        assert phrase in text, (phrase, text)


def test_a_neurological_sign_alone_is_named_as_the_wilson_reason(client: FlaskClient) -> None:
    """The Wilson line names its one reason: a tremor with a normal ALT (was "Age 46 years with
    raised ALT/AST or a neurological sign")."""
    tremor = since("R25.1", "2026-10-01")
    result = LABS.alp(20)
    earlier = LABS.alp(22, when=EARLIER, ident="alp-earlier-low")
    found = post(client, "female", "1980-01-01", [result], [earlier], [tremor])
    card = next(c for c in found if fired([c])[0] == "alp-low-persistent")
    assert (
        "A neurological sign at 46 years: ceruloplasmin (Wilson disease also lowers ALP)."
        in (card["detail"])
    )
    assert "Raised ALT/AST" not in card["detail"]
    # With a raised ALT too, one line: the ALT.
    found = post(client, "female", "1980-01-01", [result], [earlier, LABS.alt(90)], [tremor])
    card = next(c for c in found if fired([c])[0] == "alp-low-persistent")
    assert "Raised ALT/AST at 46 years: ceruloplasmin" in card["detail"]
    assert "A neurological sign" not in card["detail"]
    # At 76 neither (outside 3-55 years).
    found = post(client, "female", "1950-01-01", [result], [earlier, LABS.alt(90)], [tremor])
    card = next(c for c in found if fired([c])[0] == "alp-low-persistent")
    assert "ceruloplasmin" not in card["detail"]


def test_a_child_on_b6_is_told_to_stop_it_once(client: FlaskClient) -> None:
    """Not explained: the repeat line says to stop B6 and there is no separate B6 line; explained
    (malnutrition recorded): the B6 line stands alone, as before."""
    found = _post(
        client,
        born="2014-06-01",
        value=60,
        earlier=None,
        medicine=None,
        thigh=False,
        alt=False,
        b6=True,
        calcium=False,
        vitamin_d=False,
        limits=CHILD_RANGE,
    )
    assert fired(found) == ["alp-low-child-hpp"], fired(found)
    within_limits(found)
    text = found[0]["detail"]
    assert "PLP, Pyridoxine stopped first (B6 raises it), and urine phosphoethanolamine" in text
    assert "PLP cannot be read on B6" not in text
    assert "Taking Pyridoxine" not in text
    # Malnutrition recorded, no sign of hypophosphatasia: the low is explained, the repeat line
    # does not show, and the B6 line stands alone.
    malnourished = since("E43", "2026-09-01")
    result = LABS.alp(60, low=CHILD_RANGE[0], high=CHILD_RANGE[1])
    medicine = drug(B6, "2026-01-01")
    found = post(client, "male", "2014-06-01", [result], [], [malnourished], [medicine])
    assert fired(found) == ["alp-low-child-hpp"], fired(found)
    within_limits(found)
    text = found[0]["detail"]
    assert "Taking Pyridoxine: PLP cannot be read on B6; stop it before the test" in text, text
    assert "stopped first" not in text
