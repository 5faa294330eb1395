"""Twenty-second round (2026-12-02), part I: review 41's PSC findings (docs/clinical-reviews/
review-41.md): finding 1 (unsafe, R41-39: known PSC at 28 weeks with fever, a raised white count
and a normal GGT told "compatible with placental ALP; no test needed"), finding 5 (wrong, R41-60:
known PSC with bilirubin 8 mg/dL and INR 1.6 told "hepatology review this week", without part A's
vitamin K line) and the noisy R41-38 (known PSC, afebrile, a normal GGT, given the bone card)
(docs/rulebook.md, "Twenty-second round (2026-12-02), part I"). Each patient is rebuilt from the
reviewer's facts, signed on 2 Dec 2026."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.rules_helper import card_for, fired, only, within_limits
from tests.support.fhir import procedure
from tests.support.labs import Labs, day, drug, post, since

NOW = "2026-12-02T08:00:00Z"
LABS = Labs(NOW)
FB = "1996-01-01"
MAN = ("male", "1980-01-01")
CHOLANGITIS = "alp-high-suspected-cholangitis"
PLACENTAL = "alp-high-pregnancy"
PSC_CARD = "alp-high-psc-cholestasis"
LIVER_KNOWN = "alp-high-liver-known"
BONE = "alp-high-bone-source"
PSC = [since("K83.01", "2018-01-01"), since("K51.90", "2015-01-01")]
CPT = "http://www.ama-assn.org/go/cpt"


def _text(card: dict[str, Any]) -> str:
    return f"{card['summary']}\n{card['detail']}"


def pregnant(weeks: int) -> list[dict[str, Any]]:
    return [since("Z33.1", "2026-04-15"), since(f"Z3A.{weeks}", "2026-12-01")]


# --- R41-39 (finding 1, unsafe): fever in known PSC at 28 weeks with a normal GGT -------------


def _febrile(
    client: FlaskClient,
    conditions: list[dict[str, Any]],
    ggt: float = 30,
    procedures: list[dict[str, Any]] = [],  # noqa: B006
) -> list[dict[str, Any]]:
    labs = [LABS.ggt(ggt), LABS.alt(35), LABS.bilirubin(1.0), LABS.temperature(38.8)]
    labs += [LABS.wbc(14)]
    return post(
        client, "female", FB, [LABS.alp(300)], labs, [*conditions, *pregnant(28)],
        procedures=procedures,
    )  # fmt: skip


def test_r41_39_fever_in_known_psc_at_28_weeks_is_suspected_cholangitis(
    client: FlaskClient,
) -> None:
    card = only(_febrile(client, PSC), CHOLANGITIS)
    assert card["indicator"] == "warning"
    assert card["summary"].startswith("Infection signs in known PSC: acute cholangitis")
    # Twenty-second round, part O: the PSC line merged into the cultures line.
    assert (
        "Blood cultures, then antibiotics without waiting for imaging; hepatology or ERCP team "
        "today" in card["detail"]
    )
    assert "Pregnant: obstetric team today" in card["detail"]
    assert "placental" not in _text(card)
    # neighbour (R41-40, correct): GGT 120 got the same warning and pregnancy line already
    twin = only(_febrile(client, PSC, ggt=120), CHOLANGITIS)
    assert twin["summary"] == card["summary"]


def test_a_duct_stone_with_fever_at_28_weeks_gets_no_placental_reassurance(
    client: FlaskClient,
) -> None:
    # the cholangitis warning already fired; the placental "no test needed" showed beside it
    card = only(_febrile(client, [since("K80.50", "2026-10-01")]), CHOLANGITIS)
    assert "Pregnant: obstetric team today" in card["detail"]


def test_gallstones_with_fever_at_28_weeks_get_no_placental_reassurance(
    client: FlaskClient,
) -> None:
    only(_febrile(client, [since("K80.20", "2026-10-01")]), CHOLANGITIS)


def test_a_biliary_stent_with_fever_at_28_weeks_gets_no_placental_reassurance(
    client: FlaskClient,
) -> None:
    found = _febrile(client, [], procedures=[procedure("43274", "2026-09-01", system=CPT)])
    within_limits(found)
    assert PLACENTAL not in fired(found)
    assert "alp-drainage-cholangitis" in fired(found)
    assert not any("no test needed" in c["summary"] for c in found)
    # neighbour: no biliary disease recorded, nothing to read as cholangitis: placental ALP
    card = only(_febrile(client, []), PLACENTAL)
    assert "no test needed" in card["summary"]


def test_psc_with_a_pneumonia_at_28_weeks_is_not_told_no_test_needed(
    client: FlaskClient,
) -> None:
    # parts D and K: a recorded pneumonia stands the PSC cholangitis branch down; the placental
    # card then answers, but without "no test needed" and with a line on cholangitis
    card = only(_febrile(client, [*PSC, since("J18.9", "2026-11-30")]), PLACENTAL)
    assert "no test needed" not in card["summary"]
    assert "not assumed placental" in card["summary"]
    assert (
        "Pneumonia recorded beside the biliary disease: it does not exclude cholangitis"
        in (card["detail"])
    )


def test_a_mild_rise_with_fever_beside_gallstones_at_28_weeks_is_not_told_no_test_needed(
    client: FlaskClient,
) -> None:
    # ALP 1.3x is under Tokyo B's 1.5x: the cholangitis warning stands down; the placental card
    # answers (never silence) without reassuring
    labs = [LABS.ggt(30), LABS.alt(35), LABS.bilirubin(1.0), LABS.temperature(38.8)]
    labs += [LABS.wbc(14)]
    conditions = [since("K80.20", "2026-10-01"), *pregnant(28)]
    found = post(client, "female", FB, [LABS.alp(140)], labs, conditions)
    card = only(found, PLACENTAL)
    assert "no test needed" not in card["summary"]
    assert "not assumed placental; same-day review" in card["summary"]
    assert (
        "Infection signs beside a known biliary disease: ultrasound and same-day review"
        in (card["detail"])
    )


# --- R41-60 (finding 5, wrong): known PSC with jaundice and a failing INR ---------------------


def _jaundiced(
    client: FlaskClient,
    inr: float | None = 1.6,
    medications: list[dict[str, Any]] = [],  # noqa: B006
    earlier: float | None = None,
) -> list[dict[str, Any]]:
    labs = [LABS.ggt(900), LABS.alt(80), LABS.bilirubin(8.0)]
    if inr is not None:
        labs.append(LABS.inr(inr))
    if earlier is not None:
        labs.append(LABS.bilirubin(earlier, when=day("2026-11-01")))
    return post(client, *MAN, [LABS.alp(800)], labs, PSC, medications)


def test_r41_60_psc_with_jaundice_and_inr_1_6_gets_vitamin_k_and_a_same_day_team(
    client: FlaskClient,
) -> None:
    card = only(_jaundiced(client), PSC_CARD)
    assert card["indicator"] == "warning"
    assert "INR 1.6" in card["summary"]
    assert "vitamin K; hepatology or ERCP team today" in card["summary"]
    assert (
        "INR 1.6 beside jaundice: IV vitamin K, INR again before any ERCP or biopsy; "
        "same-day team review." in card["detail"]
    )
    assert "this week" not in _text(card)
    assert "48 h" not in _text(card)


def test_r41_60_new_jaundice_in_psc_without_a_failing_inr_is_seen_within_48_hours(
    client: FlaskClient,
) -> None:
    # a first bilirubin of 8 (no earlier one) is a new jaundice: not "this week"
    card = only(_jaundiced(client, inr=1.1), PSC_CARD)
    assert "new jaundice in known PSC: MRCP for a dominant stricture" in card["summary"]
    assert "hepatology in 48 h" in card["summary"]
    assert "Bilirubin 8.0 mg/dL, new: MR cholangiography" in card["detail"]
    assert "hepatology within 48 hours" in card["detail"]
    assert "this week" not in _text(card)
    assert "vitamin K" not in _text(card)
    # neighbours: a stable jaundice (8.0 against 7.8 a month ago), or a bilirubin under 2x
    # with INR 1.6, keep "this week" and no vitamin K line
    stable = only(_jaundiced(client, inr=1.1, earlier=7.8), PSC_CARD)
    assert "hepatology review this week" in stable["detail"]
    assert "48 h" not in _text(stable)
    labs = [LABS.ggt(300), LABS.alt(80), LABS.bilirubin(1.5), LABS.inr(1.6)]
    mild = only(post(client, *MAN, [LABS.alp(300)], labs, PSC), PSC_CARD)
    assert "hepatology review this week" in mild["detail"]
    assert "vitamin K" not in _text(mild)


def test_psc_jaundice_on_warfarin_does_not_read_its_inr_as_failing(client: FlaskClient) -> None:
    # a vitamin K antagonist's INR is the drug's: no vitamin K line, the new-jaundice timing
    found = _jaundiced(client, inr=2.6, medications=[drug("Warfarin 5 mg daily", "2015-01-01")])
    card = card_for(found, PSC_CARD)
    within_limits(found)
    assert "IV vitamin K" not in card["detail"]
    assert "hepatology within 48 hours" in card["detail"]


# --- R41-38 (noisy): known PSC, afebrile, a normal GGT ----------------------------------------


def _afebrile(client: FlaskClient, extra: list[Any] = [], labs: list[Any] = []) -> list[Any]:  # noqa: B006
    base = [LABS.ggt(30), LABS.alt(35), LABS.bilirubin(1.0), *labs]
    return post(client, *MAN, [LABS.alp(300)], base, [*PSC, *extra])


def test_r41_38_psc_with_a_normal_ggt_is_the_psc_not_bone(client: FlaskClient) -> None:
    card = only(_afebrile(client), LIVER_KNOWN)
    assert "GGT normal: likely from known PSC" in card["summary"]
    assert "GGT 30 U/L is normal" in card["detail"]
    assert "bone-specific" not in _text(card)
    # neighbours: a bone cause recorded too gets the isoenzymes (origin unclear); a raised
    # calcium keeps the bone card's PTH first
    found = _afebrile(client, [since("M88.9", "2020-01-01")])
    within_limits(found)
    assert LIVER_KNOWN not in fired(found)
    assert "alp-high-origin-unclear" in fired(found)
    bone = only(_afebrile(client, labs=[LABS.calcium(2.9)]), BONE)
    assert "PTH first" in bone["summary"]
