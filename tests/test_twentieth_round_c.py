"""Twentieth round, part C (2026-12-02): review 29's HELLP, PSC and fatty liver in words,
post-partum and antibiotic findings, each patient built from the facts of the reviewer's request
(docs/clinical-reviews/review-29.md; docs/rulebook.md, "Twentieth round (2026-12-02), part C"),
with the neighbour that must not change beside each fix."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.rules_helper import fired
from tests.support.labs import Labs, day, drug, post, since, worded, words

NOW = "2026-12-02T07:30:00Z"
L = Labs(NOW)
PREGNANCY_LIVER = "alp-high-pregnancy-liver"


def old_alp(value: float, date: str) -> dict[str, Any]:
    return L.alp(value, low=35, high=104, when=day(date))


# --- R29-35 (wrong, near unsafe): HELLP by Tennessee criteria at 31 weeks ---------------------

WEEK_31 = [since("Z33.1", "2026-05-01"), since("Z3A.31", "2026-12-01")]
HELLP_RESULTS = [L.alp(350), L.ggt(40), L.alt(300), L.ast(280), L.bilirubin(1.8)]


def test_hellp_by_tennessee_criteria_leads_and_is_stated_as_present(client: FlaskClient) -> None:
    [card] = post(
        client, "female", "1988-03-03", HELLP_RESULTS, [L.platelets(70), L.ldh(700)], WEEK_31
    )
    assert fired([card]) == [PREGNANCY_LIVER]
    assert card["indicator"] == "warning"
    summary = card["summary"]
    assert "HELLP syndrome" in summary
    assert "duct stone" not in summary
    assert "obstetric" in summary
    assert len(summary) <= 126
    detail = card["detail"]
    assert "HELLP if" not in detail
    assert "gallstones" not in detail
    assert detail.index("HELLP syndrome by the Tennessee criteria") < detail.index("ultrasound")
    assert "AST 280 U/L" in detail
    assert "magnesium sulfate" in detail
    assert "delivery planned" in detail
    assert words(card) <= 130


def test_hellp_in_the_first_week_after_delivery_is_stated_too(client: FlaskClient) -> None:
    delivered = [since("O80", "2026-11-29"), since("Z39.2", "2026-11-29")]
    [card] = post(
        client, "female", "1988-03-03", HELLP_RESULTS, [L.platelets(70), L.ldh(700)], delivered
    )
    assert fired([card]) == [PREGNANCY_LIVER]
    assert card["summary"].startswith("3 days after delivery, low platelets, raised AST and LDH")
    assert "HELLP syndrome;" in card["summary"]
    assert "duct stones" not in card["summary"]
    assert "gallstones" not in card["detail"]


def test_low_platelets_with_a_normal_ldh_keep_the_conditional_line(client: FlaskClient) -> None:
    # Neighbour: platelets 130 and LDH 300 are not HELLP's criteria; the line stays conditional.
    [card] = post(
        client, "female", "1988-03-03", HELLP_RESULTS, [L.platelets(130), L.ldh(300)], WEEK_31
    )
    assert fired([card]) == [PREGNANCY_LIVER]
    assert "HELLP syndrome" not in card["summary"]
    assert "HELLP if LDH" in card["detail"]


# --- R29-38 (wrong) and R29-49 (noisy): known PSC in words; a marked rise in known PSC ---------

PSC_MAN = ("male", "1980-10-10")
PSC_RESULTS = [L.alp(420), L.ggt(350), L.alt(60), L.bilirubin(1.0)]
COLITIS = since("K51.90", "2012-01-01")
PSC_CARD = "alp-high-psc-cholestasis"


def psc_cards(client: FlaskClient, psc: dict[str, Any], earlier: dict[str, Any]) -> Any:
    return post(client, *PSC_MAN, PSC_RESULTS, [earlier], [psc, COLITIS])


def test_psc_in_words_with_a_marked_rise_is_the_psc_warning(client: FlaskClient) -> None:
    psc = worded("Primary sclerosing cholangitis", "2018-01-01")
    [card] = psc_cards(client, psc, old_alp(250, "2026-06-01"))
    assert fired([card]) == [PSC_CARD]
    assert card["summary"] == (
        "ALP 420 U/L in known PSC, up from 250 U/L on 1 Jun 2026: MRCP and CA 19-9 for a "
        "dominant stricture or cholangiocarcinoma"
    )
    assert "AMA" not in card["detail"]
    assert "MRCP for primary sclerosing cholangitis" not in card["detail"]
    assert "primary sclerosing cholangitis" in card["detail"]  # In the record


def test_coded_psc_rise_is_one_answer_whatever_the_age_of_the_earlier_value(
    client: FlaskClient,
) -> None:
    psc = since("K83.01", "2018-01-01")
    for earlier in ("2026-06-01", "2026-07-15"):  # 184 days (outside the trend window) and 140
        [card] = psc_cards(client, psc, old_alp(250, earlier))
        assert fired([card]) == [PSC_CARD]
        assert "MRCP and CA 19-9 for a dominant stricture or cholangiocarcinoma" in card["summary"]
        assert "bilirubin not raised" in card["detail"]


def test_stable_alp_in_known_psc_stays_quiet(client: FlaskClient) -> None:
    # Neighbour: 400 to 420 is within the reference change; the known disease explains it
    # (quiet, as before).
    found = psc_cards(client, since("K83.01", "2018-01-01"), old_alp(400, "2026-06-01"))
    assert found == []


def test_queried_psc_or_a_cataract_is_not_known_psc(client: FlaskClient) -> None:
    for text in ("?PSC - awaiting MRCP", "Posterior subcapsular cataract (PSC)"):
        found = psc_cards(client, worded(text, "2026-10-01"), old_alp(250, "2026-06-01"))
        assert PSC_CARD not in fired(found), text
        assert "alp-high-liver-known" not in fired(found), text


# --- R29-11 (noisy): fatty liver in words ------------------------------------------------------

FATTY_RESULTS = [L.alp(170), L.ggt(95), L.alt(55), L.bilirubin(0.6)]
DIABETES = since("E11.9", "2015-01-01")


def test_fatty_liver_in_words_gets_the_masld_line(client: FlaskClient) -> None:
    fatty = worded("Fatty liver on ultrasound 2025", "2025-03-01")
    [card] = post(client, "female", "1965-05-05", FATTY_RESULTS, [], [fatty, DIABETES])
    assert fired([card]) == ["alp-high-liver-source"]
    assert "with fatty liver on record: can be MASLD; FIB-4" in card["summary"]
    assert "ultrasound first" not in card["summary"]


def test_no_fatty_liver_in_words_is_not_fatty_liver(client: FlaskClient) -> None:
    # Neighbour: a scan that found no fatty liver is not read as one.
    scan = worded("Ultrasound 2025: no fatty liver, normal liver", "2025-03-01")
    [card] = post(client, "female", "1965-05-05", FATTY_RESULTS, [], [scan, DIABETES])
    assert fired([card]) == ["alp-high-liver-source"]
    assert "MASLD" not in card["summary"]


# --- R29-34 (noisy): 10 days after delivery, no ALP from before it -----------------------------

DELIVERED = [since("O80", "2026-11-22"), since("Z39.2", "2026-11-22")]
POSTPARTUM_RESULTS = [L.alp(250), L.ggt(25), L.alt(22), L.bilirubin(0.5)]


def test_first_alp_ten_days_after_delivery_is_placental_alp_clearing(client: FlaskClient) -> None:
    [card] = post(client, "female", "1992-01-01", POSTPARTUM_RESULTS, [], DELIVERED)
    assert fired([card]) == ["alp-high-pregnancy"]
    assert card["summary"] == (
        "ALP 250 U/L (2.4x upper limit) 10 days after delivery: placental ALP still clearing; "
        "no test now"
    )
    assert "does not explain" not in card["detail"]
    assert "if still raised 6 weeks after it, GGT" in card["detail"]


def test_the_same_with_a_38_week_alp_on_record_is_unchanged(client: FlaskClient) -> None:
    [card] = post(
        client, "female", "1992-01-01", POSTPARTUM_RESULTS, [old_alp(380, "2026-11-10")], DELIVERED
    )
    assert fired([card]) == ["alp-high-pregnancy"]
    assert "placental ALP still clearing; no test now" in card["summary"]


def test_a_first_alp_above_a_term_level_keeps_the_work_up(client: FlaskClient) -> None:
    # Neighbour: 3.5x ten days after delivery is more than placental ALP leaves.
    found = post(
        client, "female", "1992-01-01", [L.alp(364), *POSTPARTUM_RESULTS[1:]], [], DELIVERED
    )
    assert "alp-high-pregnancy" not in fired(found)


def test_a_first_2_4x_alp_three_weeks_after_delivery_keeps_the_work_up(
    client: FlaskClient,
) -> None:
    # Neighbour: at 24 days a quarter or less of a term placental ALP is left.
    delivered = [since("O80", "2026-11-08"), since("Z39.2", "2026-11-08")]
    found = post(client, "female", "1992-01-01", POSTPARTUM_RESULTS, [], delivered)
    assert "alp-high-pregnancy" not in fired(found)


# --- R29-36 (noisy): pneumonia on day 5 of co-amoxiclav -------------------------------------

OLD_MAN = ("male", "1956-06-06")
PNEUMONIA = since("J18.9", "2026-11-27")
CO_AMOXICLAV = drug("Co-amoxiclav 625 mg three times daily", "2026-11-27")
ANTIBIOTIC_RESULTS = [L.alp(280), L.ggt(300), L.alt(80), L.bilirubin(0.9)]
SWITCH = "Switch to another antibiotic for the infection"


def on_co_amoxiclav(
    client: FlaskClient, october: float, conditions: list[dict[str, Any]]
) -> dict[str, Any]:
    [card] = post(
        client,
        *OLD_MAN,
        ANTIBIOTIC_RESULTS,
        [old_alp(october, "2026-10-01")],
        conditions,
        [CO_AMOXICLAV],
    )
    return card


def test_an_earlier_alp_of_1_06x_does_not_hide_the_antibiotic(client: FlaskClient) -> None:
    card = on_co_amoxiclav(client, 110, [PNEUMONIA])
    assert fired([card]) == ["alp-high-liver-source"]
    assert "Co-amoxiclav" in card["summary"]
    detail = card["detail"]
    assert SWITCH in detail
    assert "stop it now" not in detail
    assert "anti-mitochondrial" not in detail
    assert "AMA only if it persists" in detail
    assert words(card) <= 100


def test_a_normal_earlier_alp_gets_the_same_switch(client: FlaskClient) -> None:
    card = on_co_amoxiclav(client, 90, [PNEUMONIA])
    assert SWITCH in card["detail"]
    assert "stop it now" not in card["detail"]


def test_an_earlier_alp_of_1_25x_keeps_the_rise_before_the_drug(client: FlaskClient) -> None:
    # Neighbour: 130 U/L (1.25x) in October was raised; the drug began after the rise.
    card = on_co_amoxiclav(client, 130, [PNEUMONIA])
    assert "Co-amoxiclav" not in card["summary"]
    assert SWITCH not in card["detail"]


def test_without_a_recorded_infection_the_drug_is_stopped(client: FlaskClient) -> None:
    # Neighbour: no infection on the record; the still-taken line is unchanged.
    card = on_co_amoxiclav(client, 90, [])
    assert "stop it now" in card["detail"]
    assert SWITCH not in card["detail"]
