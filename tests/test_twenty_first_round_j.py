"""Twenty-first round (2026-12-02), part J: review 35's drug findings (docs/clinical-reviews/
review-35.md, findings 2, 4 and 7): methotrexate with a fever and a low white count (R35-44), in
pregnancy (R35-45), at its edges (R35-46 AST-led, R35-50 jaundiced and ALT 17.5x); phenytoin
begun a month before a fever with hepatitis (R35-38), "expected (enzyme induction)" said too
widely (R35-36, R35-37); a fever replacing the jaundiced drug-injury warning with an info card
(R35-56), and a knowledge-base scan for info rules that hide warnings. Each patient is rebuilt
from the reviewer's facts (/work/review35-work/cases.py), signed on 2 Dec 2026."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from flask.testing import FlaskClient

from tests.rules_helper import fired
from tests.support.labs import Labs, day, drug, post, since, words

NOW = "2026-12-02T08:00:00Z"
LABS = Labs(NOW)
RA = since("M06.9", "2020-01-01")
EPILEPSY = since("G40.909", "2010-01-01")
CYTOPENIA = "alp-high-methotrexate-cytopenia"
MTX_PREGNANCY = "alp-high-methotrexate-pregnancy"
WITHHOLD = "alp-high-methotrexate-withhold"
DRESS = "alp-high-anticonvulsant-hypersensitivity"
FEVER_JAUNDICE = "alp-high-fever-jaundice"
UNCLEAR = "alp-high-origin-unclear"
LIVER = "alp-high-liver-source"


def mtx() -> dict[str, Any]:
    return drug("Methotrexate 20 mg once weekly", "2023-01-01")


def completed(text: str, ordered: str) -> dict[str, Any]:
    course = drug(text, ordered)
    course["status"] = "completed"
    return course


def short(found: list[dict[str, Any]]) -> None:
    for card in found:
        assert len(card["summary"]) < 140, card["summary"]
        assert words(card) <= 130, (card["summary"], words(card))


def _only(found: list[dict[str, Any]], rule: str) -> dict[str, Any]:
    assert fired(found) == [rule], fired(found)
    short(found)
    return found[0]


# --- R35-44 (unsafe): methotrexate with a fever and a white count of 2.1 ------------------------


def _r35_42(client: FlaskClient, *more: dict[str, Any]) -> list[dict[str, Any]]:
    # 62F RA, methotrexate 20 mg weekly since 2023; ALP 130, GGT 60, ALT 150, AST 120, bili 0.5.
    labs = [LABS.ggt(60), LABS.alt(150), LABS.ast(120), LABS.bilirubin(0.5), *more]
    return post(client, "female", "1964-01-01", [LABS.alp(130)], labs, [RA], [mtx()])


def test_r35_44_fever_and_low_white_count_on_methotrexate_is_a_warning(
    client: FlaskClient,
) -> None:
    card = _only(_r35_42(client, LABS.temperature(38.6), LABS.wbc(2.1)), CYTOPENIA)
    assert card["indicator"] == "warning"
    assert "on Methotrexate: toxicity or neutropenic sepsis" in card["summary"]
    assert "withhold it, sepsis pathway now" in card["summary"]
    detail = card["detail"]
    assert "Sepsis pathway now: blood cultures" in detail
    assert "Withhold Methotrexate; tell the specialist team" in detail
    assert "ALT 3.8x too" in detail


def test_low_white_count_without_fever_still_withholds_methotrexate(client: FlaskClient) -> None:
    card = _only(_r35_42(client, LABS.wbc(3.1)), CYTOPENIA)
    assert "White count under 3.5 on Methotrexate: withhold it" in card["summary"]
    assert "Sepsis pathway" not in card["detail"]
    assert "FBC with differential" in card["detail"]
    # neighbours: a white count of 3.5 keeps the withhold card (ALT 3.75x); a fever alone keeps
    # the liver card's cholangitis line as part F decided
    assert fired(_r35_42(client, LABS.wbc(3.5))) == [WITHHOLD]
    assert CYTOPENIA not in fired(_r35_42(client, LABS.temperature(38.6)))


# --- R35-45 (unsafe): methotrexate at 8 weeks -----------------------------------------------------


def test_r35_45_methotrexate_in_early_pregnancy_is_stopped(client: FlaskClient) -> None:
    pregnant = [RA, since("Z33.1", "2026-10-07"), since("Z3A.08", "2026-12-01")]
    labs = [LABS.ggt(60), LABS.alt(150), LABS.bilirubin(0.5)]
    found = post(client, "female", "1997-01-01", [LABS.alp(130)], labs, pregnant, [mtx()])
    card = _only(found, MTX_PREGNANCY)
    assert card["indicator"] == "warning"
    summary = card["summary"]
    assert summary.startswith("Methotrexate at 8")
    assert "stop it, folic acid 5 mg, rheumatology and obstetrics today" in summary
    # twenty-second round, part L (review 41, R41-64): ALT over 2x in pregnancy is worked up this
    # week (viral serology with HEV IgM, INR), no longer "liver tests in 1-2 weeks"
    assert "ALT 3.8x: liver work-up this week" in summary
    assert "HELLP" not in card["detail"]
    # neighbour: not on methotrexate keeps the pregnancy liver warning
    found = post(client, "female", "1997-01-01", [LABS.alp(130)], labs, pregnant, [])
    assert fired(found) == ["alp-high-pregnancy-liver"]


# --- R35-46, R35-50 (wrong): the withhold card at its edges --------------------------------------


def test_r35_46_ast_over_3x_with_normal_alt_withholds_and_asks_for_ck(
    client: FlaskClient,
) -> None:
    labs = [LABS.ggt(60), LABS.alt(38), LABS.ast(160), LABS.bilirubin(0.5)]
    found = post(client, "female", "1964-01-01", [LABS.alp(130)], labs, [RA], [mtx()])
    card = _only(found, WITHHOLD)
    assert "AST 4.0x on Methotrexate: withhold it, tell the prescriber; CK" in card["summary"]
    assert "CK too (muscle)" in card["detail"]
    assert "alcohol pattern" not in card["summary"]


def test_r35_50_jaundiced_alt_17x_drops_the_routine_lines(client: FlaskClient) -> None:
    labs = [LABS.ggt(150), LABS.alt(700), LABS.bilirubin(3.5)]
    found = post(client, "female", "1964-01-01", [LABS.alp(200)], labs, [RA], [mtx()])
    card = _only(found, WITHHOLD)
    assert "withhold it; INR, ultrasound, hepatology today" in card["summary"]
    detail = card["detail"]
    for routine in ("1-2 weeks", "restart at a lower dose", "Not falling off the drug"):
        assert routine not in detail
    assert (
        "no restart unless the specialist decides; liver tests and INR again in 24-48 h" in detail
    )
    # ALT 17.5x without jaundice: the summary leads with the same-day tests too
    labs = [LABS.ggt(150), LABS.alt(700), LABS.bilirubin(0.8)]
    found = post(client, "female", "1964-01-01", [LABS.alp(200)], labs, [RA], [mtx()])
    card = _only(found, WITHHOLD)
    assert "withhold it; INR, paracetamol level, viral serology today" in card["summary"]
    assert "1-2 weeks" not in card["detail"]


# --- R35-38 (unsafe), R35-36, R35-37 (wrong): phenytoin ---------------------------------------


def _phenytoin(
    client: FlaskClient, alp: float, labs: list[dict[str, Any]], started: str = "2015-01-01"
) -> list[dict[str, Any]]:
    meds = [drug("Phenytoin 300 mg daily", started)]
    return post(client, "male", "1981-01-01", [LABS.alp(alp)], labs, [EPILEPSY], meds)


def test_r35_38_fever_and_hepatitis_a_month_into_phenytoin_is_dress(client: FlaskClient) -> None:
    labs = [LABS.ggt(120), LABS.alt(160), LABS.bilirubin(0.8), LABS.temperature(38.7)]
    card = _only(_phenytoin(client, 180, labs, started="2026-11-01"), DRESS)
    assert card["indicator"] == "warning"
    assert "on Phenytoin begun recently: hypersensitivity (DRESS)" in card["summary"]
    assert "stop it now" in card["summary"]
    detail = card["detail"]
    assert "Stop Phenytoin now" in detail
    assert "not another aromatic anticonvulsant" in detail
    assert "eosinophils" in detail
    assert "rash" in detail
    assert "usually no change to the drug is needed" not in detail
    assert "never stop it abruptly" not in detail


def test_lamotrigine_by_name_and_neighbours_of_r35_38(client: FlaskClient) -> None:
    labs = [LABS.ggt(120), LABS.alt(160), LABS.bilirubin(0.8), LABS.temperature(38.7)]
    meds = [drug("Lamotrigine 100 mg twice daily", "2026-10-20")]
    found = post(client, "female", "1990-01-01", [LABS.alp(180)], labs, [EPILEPSY], meds)
    assert DRESS in fired(found)
    short(found)
    assert "Stop Lamotrigine now" in found[0]["detail"]
    # phenytoin for 11 years with the same fever: not this card
    assert DRESS not in fired(_phenytoin(client, 180, labs))
    # begun a month ago, no fever: not this card
    no_fever = [LABS.ggt(120), LABS.alt(160), LABS.bilirubin(0.8)]
    assert DRESS not in fired(_phenytoin(client, 180, no_fever, started="2026-11-01"))


def test_r35_37_alt_3x_on_long_term_phenytoin_is_not_induction(client: FlaskClient) -> None:
    labs = [LABS.ggt(110), LABS.alt(130), LABS.bilirubin(0.4)]
    found = _phenytoin(client, 140, labs)
    assert UNCLEAR not in fired(found)
    short(found)
    card = found[0]
    assert "isoenzymes" not in card["summary"]
    assert "usually no change to the drug is needed" not in card["detail"]
    assert "Phenytoin: induction does not raise ALT 3.2x" in card["detail"]
    assert "never stop it abruptly" in card["detail"]


def test_r35_36_alp_risen_beyond_variation_is_not_expected(client: FlaskClient) -> None:
    before = LABS.alp(110, when=day("2026-06-01"))
    labs = [before, LABS.ggt(110), LABS.alt(30), LABS.bilirubin(0.4)]
    found = _phenytoin(client, 190, labs)
    assert fired(found) == [UNCLEAR]
    short(found)
    assert "expected (enzyme induction)" not in found[0]["summary"]
    # neighbour: a first value on long-standing phenytoin keeps "expected" (R35-34)
    labs = [LABS.ggt(110), LABS.alt(30), LABS.bilirubin(0.4)]
    assert "expected (enzyme induction)" in _phenytoin(client, 140, labs)[0]["summary"]


def test_a_fresh_start_is_not_called_expected(client: FlaskClient) -> None:
    labs = [LABS.ggt(110), LABS.alt(30), LABS.bilirubin(0.4)]
    found = _phenytoin(client, 140, labs, started="2026-10-15")
    assert "expected (enzyme induction)" not in found[0]["summary"]


# --- R35-56 (unsafe): fever with a jaundiced cholestatic drug injury ------------------------------


def _r35_55(client: FlaskClient, *labs: dict[str, Any]) -> list[dict[str, Any]]:
    # 68M AF on warfarin, co-amoxiclav finished 15 Nov; ALP 380, GGT 420, ALT 150, bili 5.0.
    results = [LABS.alp(380)]
    more = [LABS.ggt(420), LABS.alt(150), LABS.bilirubin(5.0), *labs]
    meds = [
        drug("Warfarin 3 mg daily", "2018-01-01"),
        completed("Co-amoxiclav 625 mg", "2026-11-15"),
    ]
    return post(client, "male", "1958-01-01", results, more, [since("I48.91", "2018-01-01")], meds)


def test_r35_56_fever_with_jaundice_is_a_warning_with_the_drug_line(client: FlaskClient) -> None:
    card = _only(_r35_55(client, LABS.inr(2.5), LABS.temperature(38.5)), FEVER_JAUNDICE)
    assert card["indicator"] == "warning"
    assert "fever after Co-amoxiclav: cholangitis until excluded" in card["summary"]
    detail = card["detail"]
    assert "Blood cultures, then antibiotics; ultrasound today" in detail
    assert "a jaundiced drug injury unless cholangitis" in detail
    assert "On Warfarin" in detail
    # with the INR above range too, still within 130 words
    found = _r35_55(client, LABS.inr(3.4), LABS.temperature(38.5))
    card = _only(found, FEVER_JAUNDICE)
    assert "hold it, anticoagulation team today" in card["detail"]
    # no drug: still a warning
    results = [LABS.alp(380)]
    labs = [LABS.ggt(420), LABS.alt(150), LABS.bilirubin(5.0), LABS.temperature(38.5)]
    card = _only(post(client, "male", "1958-01-01", results, labs), FEVER_JAUNDICE)
    assert "fever: suspected cholangitis; cultures, ultrasound today" in card["summary"]
    # neighbour: a fever without jaundice keeps the info liver card's line (review 16, P16)
    labs = [LABS.ggt(420), LABS.alt(150), LABS.bilirubin(0.8), LABS.temperature(38.5)]
    assert fired(post(client, "male", "1958-01-01", results, labs)) == [LIVER]


# --- Knowledge base: an info (or silent) card never hides a warning unreviewed -----------------

RULES = Path(__file__).resolve().parents[1] / "cards" / "rules"
# Each pair read in part J (twenty-first round): the two rules cannot show for the same patient
# in a way that loses the warning's action, or the hiding card carries it. A new pair fails here
# until it is judged and listed.
REVIEWED_INFO_HIDES_WARNING = {
    # silent quiet rules: an ALP of 1.5x or less (growth) or stable and explained cannot reach
    # alp-extreme's height unexplained
    ("alp-high-growth-quiet", "alp-extreme"),
    ("alp-high-stable-explained", "alp-extreme"),
    # infant transient hyperphosphatasaemia: extreme values are its nature
    ("alp-thp", "alp-extreme"),
    # falling after a drainage / after ERCP in PSC: the drainage and cholangitis warnings lead
    # with infection signs; these cards only speak when the rise is the procedure's
    ("alp-high-falling-after-drainage", "alp-high-psc-cholestasis"),
    ("alp-high-psc-after-ercp", "alp-high-psc-cholestasis"),
    # known hypophosphatasia (silent) and an expected low on an antiresorptive: the
    # antiresorptive HPP card (alp-known-hpp-antiresorptive) and the AFF warning keep the action
    ("alp-known-hpp", "alp-low-persistent"),
    ("alp-known-hpp", "alp-low-antiresorptive"),
    ("alp-low-antiresorptive-expected", "alp-low-antiresorptive"),
    # pregnancy cards (wt-h's; left to them): cholestasis of pregnancy and hyperemesis name
    # their own same-day actions
    ("alp-high-pregnancy-icp", "alp-high-pregnancy-liver"),
    ("alp-high-pregnancy-hyperemesis", "alp-high-pregnancy-liver"),
    # part G (integrator's review): a silent rule that holds the pregnancy liver card back when
    # paracetamol toxicity is recorded, because alp-high-hepatocellular-jaundice-cause (a
    # warning: acetylcysteine, INR, obstetric team) shows in its place
    ("alp-high-paracetamol-pregnancy", "alp-high-pregnancy-liver"),
}


def test_no_unreviewed_info_rule_hides_a_warning_rule() -> None:
    rules = {}
    for path in RULES.glob("*.yaml"):
        rule = yaml.safe_load(path.read_text())
        rules[rule["id"]] = rule

    def indicator(rule: dict[str, Any]) -> str | None:
        return (rule.get("card") or {}).get("indicator")

    found = set()
    for rule_id, rule in rules.items():
        if indicator(rule) == "warning" or rule.get("kind") == "annotation":
            continue
        for target in [*(rule.get("replaces") or []), *(rule.get("suppresses") or [])]:
            if target in rules and indicator(rules[target]) == "warning":
                found.add((rule_id, target))
    assert found <= REVIEWED_INFO_HIDES_WARNING, sorted(found - REVIEWED_INFO_HIDES_WARNING)
