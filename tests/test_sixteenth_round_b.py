"""Sixteenth round, part B (2026-12-01): reviews 13 and 15's liver, pregnancy and children
leftovers, each with the record that showed it (docs/rulebook.md, "Sixteenth round ..., part B")."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.rules_helper import cards, fired
from tests.support.fhir import alp, condition, ggt, observation, patient, procedure
from tests.test_fourteenth_round_f_liver import bilirubin

CPT = "http://www.ama-assn.org/go/cpt"
LIVER_SOURCE = "alp-high-liver-source"
CHOLANGITIS = "alp-drainage-cholangitis"
ULTRASOUND_TODAY = "Bilirubin raised: ultrasound today"
BEFORE_EXCHANGE = "2026-11-14T08:00:00Z"


# --- 1 (review 15, N17): a stent exchanged 5 days ago, the bilirubin falling since -----------


def exchange_labs(
    bili_now: float = 3.1, bili_before: float = 6.2, alp_now: float = 380
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """ALP 450 and bilirubin 6.2 the day before the exchange; now (20 Nov) as given."""
    now = [alp(alp_now, low=40, high=129), ggt(400, low=8, high=61), bilirubin(bili_now)]
    earlier = [
        alp(450, low=40, high=129, when=BEFORE_EXCHANGE),
        bilirubin(bili_before, when=BEFORE_EXCHANGE),
    ]
    return now, earlier


EXCHANGE = procedure("43276", "2026-11-15", system=CPT)
STRICTURE = condition("K83.1", onset="2026-06-01")


def test_a_bilirubin_falling_after_a_stent_exchange_is_the_expected_course(
    client: FlaskClient,
) -> None:
    # Review 15, N17: stent exchanged 5 days ago (CPT 43276, no words), bilirubin 6.2 -> 3.1,
    # ALP 450 -> 380: the liver card with "Bilirubin raised: ultrasound today". Now quiet.
    now, earlier = exchange_labs()
    found = cards(client, now, labs=earlier, procedures=[EXCHANGE], conditions=[STRICTURE])
    assert found == []
    # The ALP not yet falling (ALP lags) with the bilirubin halved: quiet too.
    now, earlier = exchange_labs(alp_now=455)
    assert cards(client, now, labs=earlier, procedures=[EXCHANGE], conditions=[STRICTURE]) == []


def test_a_coded_stent_exchange_counts_as_a_drainage(client: FlaskClient) -> None:
    # The ALP falling with a normal bilirubin after an exchange coded only CPT 43276 was the
    # liver card (the code was not read); it is the quiet recovery now.
    now, earlier = exchange_labs(bili_now=0.9)
    assert cards(client, now, labs=earlier, procedures=[EXCHANGE], conditions=[STRICTURE]) == []
    assert fired(cards(client, now, labs=earlier, conditions=[STRICTURE])) == [LIVER_SOURCE]


def test_after_a_drainage_a_bilirubin_not_falling_or_an_infection_still_speaks(
    client: FlaskClient,
) -> None:
    procs = [EXCHANGE]
    # Rising again after the exchange: the ultrasound line stands.
    now, earlier = exchange_labs(bili_now=6.5, bili_before=3.0)
    found = cards(client, now, labs=earlier, procedures=procs, conditions=[STRICTURE])
    assert fired(found) == [LIVER_SOURCE]
    assert ULTRASOUND_TODAY in found[0]["detail"]
    # A fall under day-to-day variation (6.2 -> 5.0) is no proof the stent drains.
    now, earlier = exchange_labs(bili_now=5.0)
    found = cards(client, now, labs=earlier, procedures=procs, conditions=[STRICTURE])
    assert ULTRASOUND_TODAY in found[0]["detail"]
    # A fall against a bilirubin from before this episode (three months back) is not this one's.
    now, _ = exchange_labs()
    old = [alp(450, low=40, high=129, when="2026-08-14T08:00:00Z"),
           bilirubin(6.2, when="2026-08-14T08:00:00Z")]  # fmt: skip
    found = cards(client, now, labs=old, procedures=procs, conditions=[STRICTURE])
    assert fired(found) == [LIVER_SOURCE]
    # A rising ALP beside the falling bilirubin: the card, the fall named, no "ultrasound today".
    now, earlier = exchange_labs(alp_now=700)
    found = cards(client, now, labs=earlier, procedures=procs, conditions=[STRICTURE])
    assert fired(found) == [LIVER_SOURCE]
    assert "Bilirubin falling since the drainage" in found[0]["detail"]
    assert "team that drained it" in found[0]["detail"]
    assert ULTRASOUND_TODAY not in found[0]["detail"]
    # A fever since the exchange: the cholangitis warning, whatever the bilirubin does.
    now, earlier = exchange_labs()
    fever = observation("8310-5", 38.9, when="2026-11-19T20:00:00Z", unit="Cel", ucum="Cel")
    found = cards(client, [*now, fever], labs=earlier, procedures=procs, conditions=[STRICTURE])
    assert fired(found) == [CHOLANGITIS]


# --- 2 (review 15, P03): PSC the day after an ERCP with dilatation ----------------------------

PSC = condition("K83.01", onset="2019-01-01")
PSC_WARNING = "alp-high-psc-cholestasis"
PSC_AFTER_ERCP = "alp-high-psc-after-ercp"
BEFORE_ERCP = "2026-11-17T08:00:00Z"


def dilatation(performed: str = "2026-11-19") -> dict[str, Any]:
    return procedure("43277", performed, system=CPT)


def psc_labs(
    bili_now: float, bili_before: float
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """ALP 380 -> 460 (a post-ERCP rise), GGT 5.7x, ALT 2.3x; the bilirubin before and now."""
    now = [
        alp(460, low=40, high=129),
        ggt(350, low=8, high=61),
        bilirubin(bili_now),
        observation("1742-6", 90, low=7, high=40),
    ]
    earlier = [
        alp(380, low=40, high=129, when=BEFORE_ERCP),
        bilirubin(bili_before, when=BEFORE_ERCP),
    ]
    return now, earlier


def test_psc_the_day_after_an_ercp_is_read_against_it_without_mrcp(client: FlaskClient) -> None:
    # Review 15, P03: PSC, ERCP with balloon dilatation of the dominant stricture yesterday,
    # ALP 380 -> 460, bilirubin 2.6 -> 2.4: "MRCP for a dominant stricture".
    now, earlier = psc_labs(2.4, 2.6)
    found = cards(client, now, labs=earlier, procedures=[dilatation()], conditions=[PSC])
    assert fired(found) == [PSC_AFTER_ERCP]
    card = found[0]
    assert card["indicator"] == "info"
    assert "read against the ERCP" in card["summary"]
    assert "MR cholangiography" not in card["detail"]
    assert "Fever, rigors or a rising bilirubin" in card["detail"]
    # Without the ERCP, or with it past the window (14 days), the PSC warning and its MRCP.
    for procs in ([], [dilatation("2026-10-20")]):
        found = cards(client, now, labs=earlier, procedures=procs, conditions=[PSC])
        assert fired(found) == [PSC_WARNING]
        assert "MR cholangiography" in found[0]["detail"]


def test_after_an_ercp_in_psc_a_rising_bilirubin_or_a_fever_still_warns(
    client: FlaskClient,
) -> None:
    # The bilirubin rising since the ERCP (1.4 -> 3.4): the warning, worded for the ERCP.
    now, earlier = psc_labs(3.4, 1.4)
    found = cards(client, now, labs=earlier, procedures=[dilatation()], conditions=[PSC])
    assert fired(found) == [PSC_WARNING]
    assert "after an ERCP" in found[0]["summary"]
    assert "team that did the ERCP" in found[0]["detail"]
    assert "MR cholangiography" not in found[0]["detail"]
    # A fever since it: the cholangitis warning.
    now, earlier = psc_labs(2.4, 2.6)
    fever = observation("8310-5", 38.6, when="2026-11-20T06:00:00Z", unit="Cel", ucum="Cel")
    found = cards(client, [*now, fever], labs=earlier, procedures=[dilatation()], conditions=[PSC])
    assert fired(found) == [CHOLANGITIS]


# --- 3 (review 15, P02) and 4 (review 13, item 49): autoimmune haemolysis, the direct bilirubin --

NEW_JAUNDICE = "alp-high-bilirubin-new-known"
CIRRHOSIS = condition("K74.60", onset="2020-01-01")
WARM_AIHA = condition("D59.11", onset="2026-11-10")
AUGUST = "2026-08-15T08:00:00Z"


def direct(mg_dl: float) -> dict[str, Any]:
    return observation("1968-7", mg_dl, unit="mg/dL", ucum="mg/dL", low=0.0, high=0.3)


def cirrhosis_labs(*extra: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """ALP 185 -> 180 -> 190 (1.5x, stable), GGT 2x, bilirubin 1.1 in August, 3.4 now."""
    now = [alp(190, low=40, high=129), ggt(120, low=8, high=61), bilirubin(3.4), *extra]
    earlier = [
        alp(185, low=40, high=129, when="2026-06-01T08:00:00Z"),
        alp(180, low=40, high=129, when=AUGUST),
        bilirubin(1.1, when=AUGUST),
    ]
    return now, earlier


def test_autoimmune_haemolysis_holds_back_the_new_jaundice_warning(client: FlaskClient) -> None:
    # Review 15, P02: warm AIHA (D59.11) in cirrhosis, bilirubin 1.1 -> 3.4: "Bilirubin rising
    # in known liver disease: decompensation...". A haemolysis explains an unconjugated rise.
    now, earlier = cirrhosis_labs()
    found = cards(client, now, labs=earlier, conditions=[CIRRHOSIS, WARM_AIHA])
    assert NEW_JAUNDICE not in fired(found)
    assert fired(found) == [LIVER_SOURCE]
    assert ULTRASOUND_TODAY not in found[0]["detail"]
    assert "Haemolysis recorded: the bilirubin may be unconjugated" in found[0]["detail"]
    # In words too; a resolved one, or a query, does not hold it back.
    worded = condition("LOCAL9", system="urn:oid:1.2.3", onset="2025-02-01")
    worded["code"]["text"] = "Cold agglutinin disease"
    found = cards(client, now, labs=earlier, conditions=[CIRRHOSIS, worded])
    assert NEW_JAUNDICE not in fired(found)
    for text in ("?AIHA - DAT pending", "Autoimmune haemolytic anaemia, in remission"):
        query = condition("LOCAL9", system="urn:oid:1.2.3", onset="2025-02-01")
        query["code"]["text"] = text
        found = cards(client, now, labs=earlier, conditions=[CIRRHOSIS, query])
        assert fired(found) == [NEW_JAUNDICE], text
    # Without it, the warning stands (the fourteenth round's N44 in cirrhosis).
    assert fired(cards(client, now, labs=earlier, conditions=[CIRRHOSIS])) == [NEW_JAUNDICE]
    # (An autoimmune haemolysis never enters the Wilson pattern: tests/test_rules_low.py,
    # test_haemolysis_with_liver_injury_and_a_low_alp_for_the_bilirubin_warns_without_an_inr.)


def test_the_direct_bilirubin_settles_whether_a_rise_is_a_new_jaundice(
    client: FlaskClient,
) -> None:
    # Review 13, item 49: no direct bilirubin was read. An unconjugated rise (direct within its
    # range, or under a fifth of the total) is not a new jaundice, with no cause recorded...
    for unconjugated in (direct(0.3), direct(0.5)):  # 9%, 15% of 3.4
        now, earlier = cirrhosis_labs(unconjugated)
        found = cards(client, now, labs=earlier, conditions=[CIRRHOSIS])
        assert fired(found) == [LIVER_SOURCE]
        assert ULTRASOUND_TODAY not in found[0]["detail"]
        assert "Bilirubin raised but unconjugated (direct" in found[0]["detail"]
    # ...and a conjugated one is, beside an autoimmune haemolysis or Gilbert syndrome too.
    gilbert = condition("E80.4", onset="2001-01-01")
    for known in (WARM_AIHA, gilbert):
        now, earlier = cirrhosis_labs(direct(2.1))
        found = cards(client, now, labs=earlier, conditions=[CIRRHOSIS, known])
        assert fired(found) == [NEW_JAUNDICE]
    # In umol/L (LOINC 14629-0) the same: 8.6 umol/L is 0.5 mg/dL, 15% of the total.
    molar = observation("14629-0", 8.6, unit="umol/L", ucum="umol/L", low=0, high=5)
    now, earlier = cirrhosis_labs(molar)
    assert fired(cards(client, now, labs=earlier, conditions=[CIRRHOSIS])) == [LIVER_SOURCE]
    # A direct bilirubin from another day does not fractionate today's total.
    old = observation("1968-7", 0.3, when="2026-11-15T08:00:00Z", unit="mg/dL", ucum="mg/dL",
                      low=0.0, high=0.3)  # fmt: skip
    now, earlier = cirrhosis_labs()
    found = cards(client, now, labs=[*earlier, old], conditions=[CIRRHOSIS])
    assert fired(found) == [NEW_JAUNDICE]


def test_a_conjugated_rise_keeps_the_ultrasound_line_beside_gilbert_syndrome(
    client: FlaskClient,
) -> None:
    # Without known liver disease: Gilbert syndrome, ALP 1.1x, bilirubin 2.8. Unfractionated:
    # "fractionate it" (fourteenth round, N21); conjugated: "ultrasound today".
    gilbert = condition("E80.4", onset="2001-01-01")
    base = [alp(140, low=40, high=129), ggt(90, low=8, high=61), bilirubin(2.8)]
    found = cards(client, base, conditions=[gilbert])
    assert "Gilbert syndrome recorded" in found[0]["detail"]
    found = cards(client, [*base, direct(1.4)], conditions=[gilbert])
    assert ULTRASOUND_TODAY in found[0]["detail"]
    assert "Gilbert syndrome recorded" not in found[0]["detail"]


# --- 5 (review 15, P15): "growing pains" are not bone pain --------------------------------------

BONE_SOURCE = "alp-high-bone-source"
BOY_8 = patient("male", "2018-05-01")


def entry(
    code: str, text: str, system: str = "http://hl7.org/fhir/sid/icd-10-cm"
) -> dict[str, Any]:
    found = condition(code, system=system, onset="2026-06-01")
    found["code"]["text"] = text
    return found


def child_labs() -> list[dict[str, Any]]:
    """ALP 400 U/L at 8 (1.2x the table's 335), GGT normal; no lab ranges."""
    return [alp(400, low=None, high=None), ggt(12, low=None, high=None)]


def test_growing_pains_in_a_well_child_do_not_call_for_a_rickets_screen(
    client: FlaskClient,
) -> None:
    # Review 15, P15: "Growing pains" (coded M79.606, or in words) counted as limb pain and the
    # well boy got the bone-source card's rickets screen.
    for recorded in (
        entry("M79.606", "Growing pains"),
        entry("M25.561", "Growing pains, knees"),
        entry("R29.898", "Growing pains"),
        entry("LOCAL1", "Growing pains - bilateral leg pain at night", system="urn:oid:1.2.3"),
        entry("LOCAL1", "Benign nocturnal limb pains of childhood", system="urn:oid:1.2.3"),
    ):
        assert cards(client, child_labs(), pt=BOY_8, conditions=[recorded]) == [], recorded
    # Limb pain without that label, or a limp beside it, keeps the card (fourteenth round, H).
    for entries in (
        [entry("M79.606", "Pain in leg")],
        [entry("LOCAL1", "Leg pain waking him at night", system="urn:oid:1.2.3")],
        [entry("M79.606", "Growing pains"), entry("R26.89", "Limp, right leg")],
    ):
        found = cards(client, child_labs(), pt=BOY_8, conditions=entries)
        assert fired(found) == [BONE_SOURCE], entries


# --- 6 (review 13, item 46): a delivery dated only by a term weeks-of-gestation code ----------

PREGNANCY = "alp-high-pregnancy"
WOMAN_32 = patient("female", "1994-03-01")
POSTNATAL_CHECK = condition("Z39.2", onset="2026-11-18")


def postpartum_labs() -> list[dict[str, Any]]:
    """ALP 180 U/L (1.7x), GGT normal."""
    return [alp(180, low=35, high=104), ggt(20, low=5, high=36)]


def test_a_term_weeks_code_dates_the_delivery_it_preceded(client: FlaskClient) -> None:
    # Review 13, item 46: 39 weeks coded (Z3A.39) on 3 Nov, a postnatal check on 18 Nov, no
    # delivery date: "not pregnant", no postpartum window, bone-specific ALP ordered. Delivered
    # about 10 Nov (3 Nov + 1 week): 10 days after it, placental ALP still clearing.
    weeks_39 = condition("Z3A.39", onset="2026-11-03")
    found = cards(client, postpartum_labs(), pt=WOMAN_32, conditions=[weeks_39, POSTNATAL_CHECK])
    assert fired(found) == [PREGNANCY]
    assert "10 days after delivery" in found[0]["summary"]
    # Without the weeks code the delivery stays undated, but the postnatal check 2 days ago
    # places her in the puerperium (review 19, R19-10; nineteenth round, part B): placental ALP
    # and lactation, named by the check, not bone-specific ALP (it was the bone card here).
    found = cards(client, postpartum_labs(), pt=WOMAN_32, conditions=[POSTNATAL_CHECK])
    assert fired(found) == [PREGNANCY]
    assert "postnatal care 2 days ago" in found[0]["summary"]
    # Weeks short of term (Z3A.30) date nothing: the birth could be weeks away either way; the
    # postnatal check speaks as above.
    weeks_30 = condition("Z3A.30", onset="2026-11-03")
    found = cards(client, postpartum_labs(), pt=WOMAN_32, conditions=[weeks_30, POSTNATAL_CHECK])
    assert fired(found) == [PREGNANCY]
    assert "postnatal care 2 days ago" in found[0]["summary"]


def test_a_term_gestation_projected_past_term_is_an_estimated_delivery(
    client: FlaskClient,
) -> None:
    # 39 weeks on 10 Oct, nothing since: past 44 weeks at the ALP, so it ended; delivered about
    # 17 Oct, 34 days before the ALP: past the placental window but within the puerperium, a
    # first ALP of 1.7x is placental ALP clearing with lactation (sixteenth round, review 16 P13).
    weeks_39 = condition("Z3A.39", onset="2026-10-10")
    found = cards(client, postpartum_labs(), pt=WOMAN_32, conditions=[weeks_39])
    assert fired(found) == [PREGNANCY]
    assert "34 days after delivery: placental ALP and lactation" in found[0]["summary"]
    # 39 weeks on 25 Sep: delivered about 2 Oct, 49 days before: past the puerperium, the
    # ordinary work-up, and the card says when.
    weeks_39 = condition("Z3A.39", onset="2026-09-25")
    found = cards(client, postpartum_labs(), pt=WOMAN_32, conditions=[weeks_39])
    assert fired(found) == [BONE_SOURCE]
    assert "Delivered about 2 Oct 2026 (from 39 weeks on 25 Sep 2026)" in found[0]["detail"]


def test_an_estimated_delivery_never_falls_after_the_recorded_delivery(
    client: FlaskClient,
) -> None:
    # Code review 17, F1: Z3A.37 on 30 Oct, delivery recorded (no onset) on 1 Nov, a postnatal
    # check on 18 Nov: the estimate (20 Nov) was clamped to the check, "2 days after delivery".
    delivery = condition("Z37.0", recorded="2026-11-01")
    weeks_37 = condition("Z3A.37", onset="2026-10-30")
    record = [weeks_37, delivery, POSTNATAL_CHECK]
    found = cards(client, postpartum_labs(), pt=WOMAN_32, conditions=record)
    assert "2 days after delivery" not in found[0]["summary"]
    assert "19 days after delivery" in found[0]["summary"]
    # A pregnancy loss dates no delivery, whatever weeks were recorded before it.
    loss = condition("O03.9", onset="2026-11-10")
    found = cards(client, postpartum_labs(), pt=WOMAN_32, conditions=[weeks_37, loss])
    assert PREGNANCY not in fired(found)
