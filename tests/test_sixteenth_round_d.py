"""Review 16 (2026-12-01), part D: bone, endocrine and reading results, each with the record
that showed it (docs/rulebook.md, "Sixteenth round ... part D")."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.rules_helper import cards, fired, suggested
from tests.support.fhir import alp, condition, ggt, observation, patient
from tests.test_fourteenth_round_f_liver import worded
from tests.test_fourteenth_round_g import calcium


def phosphate(value: float) -> dict[str, Any]:
    return observation("2777-1", value, unit="mmol/L", ucum="mmol/L", low=0.8, high=1.5)


def vitamin_d(nmol_l: float) -> dict[str, Any]:
    return observation("62292-8", nmol_l, unit="nmol/L", ucum="nmol/L", low=50, high=150)


def pth_pmol(value: float) -> dict[str, Any]:
    return observation("14866-8", value, unit="pmol/L", ucum="pmol/L", low=1.6, high=6.9)


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
    # A negative number is a data error in any unit (code review 17, F5): audited, no card.
    negative = alp(-5, unit=None, ucum=None, low=None, high=None)
    assert cards(client, [negative]) == []
    # A code outside UCUM is no unit, as the reading that refused it says (F5).
    local = alp(396, unit=None, ucum=None, low=None, high=None)
    local["valueQuantity"].update({"system": "http://lab.example/units", "code": "U/L"})
    [card] = cards(client, [local])
    assert card["summary"].startswith("ALP 396 sent without a unit: not interpreted")


def test_a_pth_in_pmol_per_litre_is_read_and_osteomalacia_named(client: FlaskClient) -> None:
    # Review 16, P05: PTH 19.8 pmol/L (LOINC 14866-8) was not read ("No PTH measured: check
    # it"); with a low calcium and phosphate and a deficient 25-OH vitamin D the card said
    # only "vitamin D deficiency".
    labs = [
        alp(212, low=30, high=130),
        ggt(24, low=5, high=40),
        calcium(2.09),
        phosphate(0.68),
        vitamin_d(11),
        pth_pmol(19.8),
    ]
    [card] = cards(client, labs)
    assert fired([card]) == ["alp-high-bone-explained"]
    assert "No PTH" not in card["detail"]
    assert card["summary"].endswith("25-OH vitamin D deficient: osteomalacia likely")
    assert "with enough calcium" in card["detail"]
    # The PTH is read by itself: raised in pmol/L against its own range.
    alone = [alp(212, low=30, high=130), ggt(24, low=5, high=40), pth_pmol(19.8)]
    assert "No PTH" not in cards(client, alone)[0]["detail"]
    # A normal phosphate is no osteomalacia picture: the deficiency card as before.
    labs[3] = phosphate(1.0)
    [card] = cards(client, labs)
    assert card["summary"].endswith("consistent with vitamin D deficiency")
    assert "colecalciferol loading, then maintenance" in card["detail"]


def test_a_childs_lab_range_for_children_is_kept(client: FlaskClient) -> None:
    # Review 16, P29: a girl of 15 with ALP 412 and the lab's "50-162 U/L (female 15-16 y)"
    # got the age table's 50-117 and 3.5x; the report she holds says 2.5x.
    girl = patient(birth_date="2011-06-01")
    dated = alp(412, low=50, high=162)
    dated["referenceRange"][0]["text"] = "50-162 U/L (female 15-16 y)"
    [card] = cards(client, [dated, ggt(14, low=5, high=40)], pt=girl)
    assert "(2.5x upper limit for age)" in card["summary"]
    assert "50-162 U/L (lab range)" in card["detail"]
    # An age band that does not hold her age is another age's range: the table.
    other = alp(412, low=50, high=162)
    other["referenceRange"][0]["text"] = "50-162 U/L (female 10-12 y)"
    [card] = cards(client, [other, ggt(14, low=5, high=40)], pt=girl)
    assert "(3.5x upper limit for age)" in card["summary"]
    # P15: a toddler's 156-369 with no age is above any adult range (more than 20% above the
    # table's 149 at 18): the lab's, not the table's 142-335.
    toddler = patient(birth_date="2025-04-15")
    found = cards(client, [alp(3870, low=156, high=369), ggt(12, low=5, high=40)], pt=toddler)
    assert fired(found) == ["alp-thp"]
    assert "10.5x" in found[0]["summary"]
    # An adult range sent for a child is still replaced (the growth-spurt scenario): a boy of
    # 14 with 40-129 is normal for age.
    boy = patient(gender="male", birth_date="2012-06-01")
    assert cards(client, [alp(452, low=40, high=129)], pt=boy) == []


def test_a_low_alp_on_dialysis_with_a_low_pth_is_adynamic_bone(client: FlaskClient) -> None:
    # Review 16, P07: haemodialysis (N18.6, Z99.2), ALP 31 after 33 and 34 (lower limit 35),
    # PTH 68 pg/mL (1.05x; KDIGO's target on dialysis is 2-9x) got the zinc, magnesium, TSH
    # and B12 screen.
    def pth(value: float) -> dict[str, Any]:
        return observation("2731-8", value, unit="pg/mL", ucum="pg/mL", low=15, high=65)

    now = alp(31, low=35, high=104)
    earlier = [
        alp(33, low=35, high=104, when="2026-08-30T08:00:00Z"),
        alp(34, low=35, high=104, when="2026-05-28T08:00:00Z"),
    ]
    dialysis = [condition("N18.6"), condition("Z99.2")]
    [card] = cards(client, [now, pth(68)], labs=earlier, conditions=dialysis)
    assert fired([card]) == ["alp-low-dialysis-adynamic"]
    assert "adynamic" in card["summary"]
    assert "calcitriol" in card["detail"]
    assert not card.get("suggestions")
    # A PTH within KDIGO's target (3x) is not adynamic: the screen as before.
    assert fired(cards(client, [now, pth(195)], labs=earlier, conditions=dialysis)) == [
        "alp-low-persistent-mild"
    ]
    # CKD stage 4 without dialysis: KDIGO's 2-9x is for G5D only.
    assert fired(cards(client, [now, pth(68)], labs=earlier, conditions=[condition("N18.4")])) != [
        "alp-low-dialysis-adynamic"
    ]


def test_graves_disease_in_words_explains_a_bone_alp_and_keeps_its_capital(
    client: FlaskClient,
) -> None:
    # Review 16, P08: "Graves' disease - new diagnosis, TRAb positive" with no code was not
    # read (bone-specific ALP suggested); P08b: the coded one said "graves disease".
    labs = [alp(188, low=35, high=104), ggt(29, low=5, high=40)]
    graves = worded("Graves' disease - new diagnosis, TRAb positive")
    [card] = cards(client, labs, conditions=[graves])
    assert fired([card]) == ["alp-high-bone-explained"]
    assert "consistent with Graves' disease" in card["summary"]
    coded = condition("E05.00")
    coded["code"]["text"] = "Graves disease"
    [card] = cards(client, labs, conditions=[coded])
    assert card["summary"].endswith("consistent with Graves disease")
    # A query, the eye disease alone, one treated away or a relative's is not thyrotoxicosis.
    for words in (
        "?Graves disease",
        "Graves ophthalmopathy",
        "Graves disease - radioiodine 2015, now hypothyroid",
        "Mother - Graves disease",
    ):
        assert fired(cards(client, labs, conditions=[worded(words)])) != [
            "alp-high-bone-explained"
        ], words


def test_gilbert_syndrome_is_not_listed_and_does_not_block_the_repeat(
    client: FlaskClient,
) -> None:
    # Review 16, R03: Gilbert syndrome (E80.4), bilirubin 3.1, a first ALP of 1.2x with a
    # normal GGT: bone-specific ALP, with "In the record: gilbert's syndrome".
    def bilirubin(mg_dl: float) -> dict[str, Any]:
        return observation("1975-2", mg_dl, unit="mg/dL", ucum="mg/dL", low=0.1, high=1.2)

    gilbert = condition("E80.4")
    gilbert["code"]["text"] = "Gilbert's syndrome"
    labs = [alp(151, low=40, high=129), ggt(29, low=5, high=40), bilirubin(3.1)]
    earlier = [alp(98, low=40, high=129, when="2026-03-10T08:00:00Z")]
    [card] = cards(client, labs, labs=earlier, conditions=[gilbert])
    assert fired([card]) == ["alp-high-mild-isolated"]
    assert "In the record" not in card["detail"]
    # Without Gilbert syndrome a raised bilirubin still rules the mild-rise card out.
    assert "alp-high-mild-isolated" not in fired(cards(client, labs, labs=earlier))


def test_a_paget_picture_in_words_gets_imaging_not_bone_specific_alp(
    client: FlaskClient,
) -> None:
    # Review 16, P09: a man of 76 whose hat no longer fits, deaf on the left, with a painful
    # bowed tibia (no diagnosis), ALP 465 (3.6x), GGT normal: bone-specific ALP was ordered.
    man = patient(gender="male", birth_date="1950-03-01")
    labs = [alp(465, low=30, high=130), ggt(33, low=5, high=40)]
    skull = worded("Enlarging skull - hat no longer fits; left-sided hearing loss")
    tibia = worded("Pain and bowing of right tibia")
    [card] = cards(client, labs, pt=man, conditions=[skull, tibia])
    assert fired([card]) == ["alp-high-bone-source"]
    assert "Paget disease likely; X-ray, bone scan" in card["summary"]
    assert "isotope bone scan" in card["detail"]
    assert "17838-4" not in suggested(card)
    # Either sign alone is enough; a relative's or an excluded Paget disease is not.
    assert "Paget disease likely" in cards(client, labs, pt=man, conditions=[tibia])[0]["summary"]
    for words in ("Paget disease excluded on bone scan", "Father - enlarging skull, Paget"):
        [card] = cards(client, labs, pt=man, conditions=[worded(words)])
        assert "Paget disease likely" not in card["summary"], words
        assert "17838-4" in suggested(card), words
