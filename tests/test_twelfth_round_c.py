"""Twelfth round, part C (2026-12-01): the twelfth clinical review's bone and low-ALP defects
(N28, N08, N07b, 04c/N03c, N13), each with the record that showed it (docs/rulebook.md,
"Twelfth round, part C")."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from cds_service.knowledge.model import KnowledgeBase
from tests.rules_helper import cards, fired, suggested
from tests.support.fhir import alp, condition, ggt, medication, observation, procedure

LOCAL = "urn:oid:1.2.3"
BONE_ALP = "17838-4"
PTH = "2731-8"
BONE = "alp-high-bone-source"
EXPLAINED = "alp-low-explained"
PERSISTENT = "alp-low-persistent"
BONE_EXPLAINED = "alp-high-bone-explained"


def given(text: str, performed: str, status: str = "completed") -> dict[str, Any]:
    """A drug administration recorded only as a procedure with a local code and its text."""
    entry = procedure("LOCAL-INJ", performed, system=LOCAL, status=status)
    entry["code"]["text"] = text
    return entry


def stopped_order(text: str) -> dict[str, Any]:
    order = medication(text=text, status="stopped")
    order["authoredOn"] = "2021-01-15"
    return order


def worded(text: str, code: str = "99999") -> dict[str, Any]:
    entry = condition(code, system=LOCAL)
    entry["code"]["text"] = text
    return entry


RISE = [alp(210), ggt(22, low=5, high=40), alp(70, when="2025-12-01T08:00:00Z")]


# --- 1 (unsafe, N28): the last denosumab injection recorded as a procedure ----------------


def test_a_denosumab_injection_recorded_as_a_procedure_gives_the_rebound_line(
    client: FlaskClient,
) -> None:
    # Review 12 N28: the 2021 order is "stopped" with no end date (dated from 2021, outside
    # the 18 months); the last injection, 10 months ago, is only a Procedure.
    found = cards(
        client,
        RISE,
        medications=[stopped_order("Denosumab 60 mg subcutaneous every 6 months")],
        procedures=[given("Denosumab injection 60 mg", "2026-01-20")],
    )
    assert fired(found) == [BONE]
    card = found[0]
    assert "denosumab stopped: rebound bone turnover" in card["summary"]
    assert "given 20 Jan 2026" in card["detail"]
    assert "multiple vertebral fractures" in card["detail"]
    assert "another antiresorptive now" in card["detail"]
    # The rebound explains the bone source: the next dose is the action, not bone ALP.
    assert BONE_ALP not in suggested(card)


def test_a_planned_or_old_denosumab_injection_is_not_a_recent_dose(client: FlaskClient) -> None:
    for entry in (
        given("Denosumab injection 60 mg", "2026-01-20", status="not-done"),
        given("Denosumab injection 60 mg", "2024-12-01"),  # 2 years ago: past 18 months
    ):
        [card] = cards(client, RISE, procedures=[entry])
        assert "denosumab" not in card["summary"].lower()
        assert BONE_ALP in suggested(card)


def test_a_zoledronate_infusion_recorded_as_a_procedure_counts_for_the_hpp_caution(
    client: FlaskClient,
) -> None:
    # An infusion given 2 years ago is still current treatment (zoledronate_effect_days) for
    # the hypophosphatasia caution beside a persistently, markedly low ALP.
    zoledronate = given("Zoledronic acid 5 mg IV infusion", "2024-11-01")
    earlier = [alp(22, when="2026-08-01T08:00:00Z")]
    [card] = cards(client, [alp(20)], labs=earlier, procedures=[zoledronate])
    assert fired([card]) == [PERSISTENT]
    assert "hold the drug" in card["summary"]
    assert "given 1 Nov 2024" in card["detail"]


# --- 2 and 3 (N08, N08b, N07b): a measured, current cause of a low ALP ---------------------

LOWS = [alp(26)]
EARLIER_LOW = [alp(27, when="2026-10-20T08:00:00Z")]


def tsh(value: float) -> dict[str, Any]:
    return observation("3016-3", value, unit="mIU/L", ucum="m[IU]/L", low=0.4, high=4.0)


def zinc(value: float) -> dict[str, Any]:
    return observation("5763-8", value, unit="umol/L", ucum="umol/L", low=10, high=18,
                       when="2026-11-15T08:00:00Z")  # fmt: skip


def test_untreated_hypothyroidism_holds_back_the_hpp_warning(client: FlaskClient) -> None:
    # Review 12 N08 (free text) and N08b (E03.9): TSH 48 with ALP 26 and 27.
    for conditions in (
        [worded("Hashimoto's thyroiditis - hypothyroid, started levothyroxine 4 weeks ago")],
        [condition("E03.9")],
        [],  # a TSH that high counts without a condition
    ):
        [card] = cards(client, [*LOWS, tsh(48)], labs=EARLIER_LOW, conditions=conditions)
        assert fired([card]) == [EXPLAINED], conditions
        assert card["indicator"] == "info"
        assert "repeat ALP" in card["summary"]
        assert "TSH 48" in card["summary"]
        assert suggested(card) == []
        assert "markedly" not in card["detail"]


def test_a_mildly_raised_tsh_does_not_hold_back_the_hpp_warning(client: FlaskClient) -> None:
    [card] = cards(client, [*LOWS, tsh(6)], labs=EARLIER_LOW)
    assert fired([card]) == [PERSISTENT]


def test_measured_low_zinc_holds_back_the_hpp_warning(client: FlaskClient) -> None:
    # Review 12 N07b: zinc 5.5 umol/L in short bowel.
    [card] = cards(client, LOWS, labs=[*EARLIER_LOW, zinc(5.5)], conditions=[condition("K50.00")])
    assert fired([card]) == [EXPLAINED]
    assert "low zinc" in card["summary"]
    assert suggested(card) == []


def test_must_not_miss_signs_keep_the_hpp_warning_beside_a_measured_cause(
    client: FlaskClient,
) -> None:
    # On a bisphosphonate, with early tooth loss or an atypical femoral fracture: the warning.
    for extra in (
        {"medications": [medication(text="Alendronic acid 70 mg weekly")]},
        {"conditions": [worded("Early loss of teeth, adult, no periodontal disease")]},
        {"conditions": [worded("Atypical femoral fracture, right")]},
    ):
        found = cards(client, [*LOWS, tsh(48)], labs=[*EARLIER_LOW, zinc(5.5)], **extra)
        assert PERSISTENT in fired(found), extra
        assert found[0]["indicator"] == "warning"


# --- 4 (04c, N03c): 25-OH vitamin D sent as 14635-7 or 1989-3 -------------------------------

BONE_LABS = [
    alp(260),
    ggt(22, low=5, high=40),
    observation("2731-8", 14.5, unit="pmol/L", ucum="pmol/L", low=1.6, high=6.9),
    observation("2777-1", 0.62, unit="mmol/L", ucum="mmol/L", low=0.8, high=1.5),
    observation("2000-8", 2.25, unit="mmol/L", ucum="mmol/L", low=2.2, high=2.6),
]


def test_25_oh_vitamin_d3_codes_are_read_with_their_units(client: FlaskClient) -> None:
    for vitd in (
        observation("14635-7", 32, unit="nmol/L", ucum="nmol/L", low=75, high=250),
        observation("1989-3", 12.8, unit="ng/mL", ucum="ng/mL", low=30, high=100),
    ):
        [card] = cards(client, [*BONE_LABS, vitd])
        assert fired([card]) == [BONE_EXPLAINED]
        assert "secondary hyperparathyroidism" in card["summary"], vitd["code"]


def test_no_1_25_dihydroxyvitamin_d_code_is_read_as_25_oh_vitamin_d(kb: KnowledgeBase) -> None:
    for code in kb.valuesets["vitamin-d"].codes:
        assert "1,25" not in code.display, code.code
        assert "dihydroxy" not in code.display.lower(), code.code


# --- 5 (N13): prostate cancer with a bone-source rise and a calcium just raised ------------


def test_prostate_cancer_leads_with_bone_metastases_not_pth(client: FlaskClient) -> None:
    calcium = observation("2000-8", 2.60, unit="mmol/L", ucum="mmol/L", low=2.2, high=2.55)
    rise = [alp(330), ggt(30, low=5, high=40), calcium, alp(95, when="2026-03-01T08:00:00Z")]
    [card] = cards(client, rise, conditions=[condition("C61")])
    assert fired([card]) == [BONE]
    assert "look for bone metastases" in card["summary"]
    assert PTH not in suggested(card)
    assert "repeat it adjusted for albumin; PTH only if it stays high" in card["detail"]
    # Without a cancer that spreads to bone, a raised calcium still asks for PTH first.
    [plain] = cards(client, rise)
    assert "PTH first" in plain["summary"]
    assert PTH in suggested(plain)


# --- 6 (N05): hypophosphatasia the leading diagnosis on a bisphosphonate --------------------


def test_low_before_the_bisphosphonate_gets_one_test_and_stop_it(client: FlaskClient) -> None:
    # Review 12 N05: ALP low since 2018, alendronate since 2019: PLP alone, stop the drug.
    alendronate = medication(text="Alendronic acid 70 mg weekly")
    alendronate["authoredOn"] = "2019-03-01"
    earlier = [alp(21, when="2018-03-01T08:00:00Z"), alp(19, when="2025-11-01T08:00:00Z")]
    [card] = cards(client, [alp(18)], labs=earlier, medications=[alendronate])
    assert fired([card]) == [PERSISTENT]
    assert "stop it, PLP" in card["summary"]
    assert suggested(card) == ["62236-5"]
    assert "stop it (bone team" in card["detail"]
    # Not low before it and no sign: the screen for secondary causes stays, and "hold the drug"
    # (was "review the drug": review 40, R40-01, the softer verb on the more certain case).
    earlier = [alp(80, when="2018-03-01T08:00:00Z"), alp(19, when="2025-11-01T08:00:00Z")]
    [card] = cards(client, [alp(18)], labs=earlier, medications=[alendronate])
    assert "hold the drug" in card["summary"]
    assert "5763-8" in suggested(card)
