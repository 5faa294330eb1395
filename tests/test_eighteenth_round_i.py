"""Eighteenth round (2026-12-02), the integrator's part: review 19's findings that no part took
(docs/rulebook.md, "Eighteenth round (2026-12-02), the integrator's part")."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from cds_service.clinical.facts import FACTS
from cds_service.knowledge import loader
from cds_service.knowledge.loader import KnowledgeBaseError
from cds_service.knowledge.model import KnowledgeBase
from tests.rules_helper import cards, fired, suggested
from tests.support.fhir import alp, condition, ggt, medication, observation, patient

LIVER_SOURCE = "alp-high-liver-source"
LIVER_KNOWN = "alp-high-liver-known"
BONE_SOURCE = "alp-high-bone-source"
BONE_EXPLAINED = "alp-high-bone-explained"
PERSISTENT = "alp-low-persistent"
KNOWN_HPP_DRUG = "alp-known-hpp-antiresorptive"
INFANT_HPP = "alp-low-infant-hpp"
LOW_FIRST = "alp-low-first"
EARLIER_LOW = alp(27, when="2025-11-20T08:00:00Z")


def prolia(authored: str) -> dict[str, object]:
    drug = medication(text="Prolia (denosumab) 60 mg every 6 months")
    drug["authoredOn"] = authored
    return drug


# Groups whose findings explain an ALP: a tentative diagnosis must never count in them.
EXPLAINING_GROUPS = ("high-explained", "liver-causes", "bone-causes", "low-alp-causes")


def test_a_provisional_pbc_is_a_question_the_card_helps_answer(client: FlaskClient) -> None:
    # R19-48: PBC coded provisional (AMA pending), first ALP 2.5x, GGT raised: "already
    # diagnosed; a new work-up is not needed", no ultrasound and no AMA.
    for verification in ("provisional", "differential", "unconfirmed"):
        pbc = condition("K74.3", verification=verification)
        found = cards(client, [alp(260), ggt(200)], conditions=[pbc])
        assert fired(found) == [LIVER_SOURCE], verification
        assert "anti-mitochondrial antibodies" in found[0]["detail"]
        assert "new work-up is not needed" not in found[0]["detail"]


def test_a_confirmed_pbc_still_explains_the_alp(client: FlaskClient) -> None:
    found = cards(client, [alp(260), ggt(200)], conditions=[condition("K74.3")])
    assert fired(found) == [LIVER_KNOWN]


def test_liver_metastases_on_a_differential_leave_the_imaging_in(client: FlaskClient) -> None:
    # R19-49 (unsafe): colon cancer, liver metastases coded "differential", first ALP 4x with a
    # raised GGT: "already diagnosed", no CT. Now the liver card asks for the CT.
    colon = condition("C18.7")
    metastases = condition("C78.7", verification="differential")
    found = cards(client, [alp(420), ggt(380)], conditions=[colon, metastases])
    assert fired(found) == [LIVER_SOURCE]
    detail = found[0]["detail"]
    assert "liver metastases; cross-sectional imaging (CT)" in detail
    # Nor is the tentative entry "recorded liver disease" whose complication is looked for.
    assert "rather than a new diagnosis" not in detail


def test_provisional_bone_metastases_do_not_explain_a_bone_alp(client: FlaskClient) -> None:
    # R19-47: breast cancer, bone metastases coded provisional, ALP 3.2x, GGT normal: "a cause of
    # high bone turnover is already known; no test is needed".
    breast = condition("C50.911")
    metastases = condition("C79.51", verification="provisional")
    found = cards(client, [alp(330), ggt(25)], conditions=[breast, metastases])
    assert fired(found) == [BONE_SOURCE]
    assert "bone metastases" in found[0]["summary"]
    confirmed = cards(client, [alp(330), ggt(25)], conditions=[breast, condition("C79.51")])
    assert fired(confirmed) == [BONE_EXPLAINED]


def test_a_provisional_hypophosphatasia_does_not_silence_the_work_up(client: FlaskClient) -> None:
    # Known hypophosphatasia holds back the low-ALP work-up; a provisional one must not.
    hpp = condition("E83.39", verification="provisional")
    hpp["code"]["text"] = "Hypophosphatasia"
    found = cards(client, [alp(24)], labs=[EARLIER_LOW], conditions=[hpp])
    assert fired(found) == [PERSISTENT]


def test_every_explaining_finding_counts_confirmed_conditions_only(kb: KnowledgeBase) -> None:
    # The guard for the next finding added to an explaining group.
    for group in EXPLAINING_GROUPS:
        for name in kb.groups[group]:
            for source in kb.findings[name].sources:
                if source.kind == "conditions":
                    assert source.confirmed, (group, name, source.valueset)


def test_denosumab_prescribed_with_the_result_is_held_not_protected(client: FlaskClient) -> None:
    # R19-30 (unsafe): persistently low ALP, denosumab first prescribed the day of the result,
    # no dose recorded: "do not stop it without a plan (rebound)" read as "give it".
    found = cards(client, [alp(24)], labs=[EARLIER_LOW], medications=[prolia("2026-11-20")])
    assert fired(found) == [PERSISTENT]
    [card] = found
    assert "Prolia prescribed, not yet given: hold it; PLP" in card["summary"]
    assert "hold the first Prolia dose until hypophosphatasia is excluded" in card["detail"]
    assert "rebound" not in card["detail"]
    assert "review it now" not in card["detail"]


def test_denosumab_given_before_the_result_keeps_the_rebound_caution(client: FlaskClient) -> None:
    found = cards(client, [alp(24)], labs=[EARLIER_LOW], medications=[prolia("2026-05-02")])
    assert fired(found) == [PERSISTENT]
    [card] = found
    assert "not yet given" not in card["summary"]
    assert "do not stop it without a plan (rebound vertebral fractures)" in card["detail"]
    assert "hold the first" not in card["detail"]


def test_known_hypophosphatasia_with_denosumab_just_prescribed_says_do_not_give_it(
    client: FlaskClient,
) -> None:
    hpp = condition("E83.39")
    hpp["code"]["text"] = "Hypophosphatasia"
    [card] = cards(client, [alp(24)], conditions=[hpp], medications=[prolia("2026-11-20")])
    assert card["source"]["topic"]["display"] == KNOWN_HPP_DRUG
    assert "not yet given" in card["summary"]
    assert "do not give it" in card["summary"]
    assert "do not give Prolia" in card["detail"]
    assert "rebound" not in card["detail"]
    [given] = cards(client, [alp(24)], conditions=[hpp], medications=[prolia("2026-05-02")])
    assert "rebound" in given["detail"]
    assert "review it" in given["summary"]


def infant_alp(value: float) -> dict[str, object]:
    return alp(value, low=122, high=469)


def calcium_mmol(value: float) -> dict[str, object]:
    return observation("2000-8", value, unit="mmol/L", ucum="mmol/L", low=2.2, high=2.7)


def test_an_infant_with_a_low_alp_and_a_raised_calcium_is_hypophosphatasia_until_excluded(
    client: FlaskClient,
) -> None:
    # R19-55 (unsafe): 3 months old, ALP 45 (limit 122), calcium 2.95 mmol/L, seizures and
    # failure to thrive: "repeat ALP in a serum tube", nothing of the calcium or the seizures.
    baby = patient("male", "2026-08-20")
    signs = [condition("R56.9"), condition("R62.51")]
    found = cards(client, [infant_alp(45), calcium_mmol(2.95)], pt=baby, conditions=signs)
    assert fired(found) == [INFANT_HPP]
    [card] = found
    assert card["indicator"] == "warning"
    assert "calcium 2.95 mmol/L: infantile hypophosphatasia until excluded" in card["summary"]
    assert "vitamin B6-dependent" in card["detail"]
    assert suggested(card) == ["62236-5"]
    # Seizures alone, no calcium measured: the same warning.
    [fits] = cards(client, [infant_alp(45)], pt=baby, conditions=[condition("R56.9")])
    assert fits["source"]["topic"]["display"] == INFANT_HPP
    assert "with seizures" in fits["summary"]


def test_a_well_infant_with_a_low_alp_keeps_the_repeat(client: FlaskClient) -> None:
    baby = patient("male", "2026-08-20")
    # Twentieth round, part H (review 30, R30-40): ALP 45 against 122 (0.37x) was this test's
    # well infant and kept the plain repeat. Under half the lower limit for age a child's low is
    # now hypophosphatasia until excluded (alp-low-child-hpp: PLP with the repeat, referral),
    # though not the same-day infant card; the well infant's plain repeat is kept at 0.8x.
    found = cards(client, [infant_alp(45), calcium_mmol(2.4)], pt=baby)
    assert fired(found) == ["alp-low-child-hpp"]
    found = cards(client, [infant_alp(100), calcium_mmol(2.4)], pt=baby)
    assert fired(found) == [LOW_FIRST]
    # Past the first year, seizures beside a low ALP are not this card's.
    toddler = patient("male", "2024-08-20")
    found = cards(client, [alp(45, low=156, high=369)], pt=toddler, conditions=[condition("R56.9")])
    assert INFANT_HPP not in fired(found)


def pth_pmol(value: float) -> dict[str, object]:
    return observation("14866-8", value, unit="pmol/L", ucum="pmol/L", low=1.6, high=6.9)


def test_adynamic_bone_on_dialysis_speaks_alone_without_a_sign_that_must_not_wait(
    client: FlaskClient,
) -> None:
    # R19-14: haemodialysis, ALP 28 after 31, PTH 0.7x: a hypophosphatasia warning ordering five
    # tests beside the adynamic card saying those tests do not explain it.
    dialysis = [condition("N18.6"), condition("Z99.2")]
    earlier = [alp(31, when="2026-09-02T08:00:00Z")]
    found = cards(client, [alp(28), pth_pmol(5)], labs=earlier, conditions=dialysis)
    assert fired(found) == ["alp-low-dialysis-adynamic"]
    assert "Still low once PTH is back in target: PLP" in found[0]["detail"]
    # On alendronate the hypophosphatasia warning still shows beside it.
    drug = medication(text="Alendronic acid 70 mg weekly")
    found = cards(
        client, [alp(28), pth_pmol(5)], labs=earlier, conditions=dialysis, medications=[drug]
    )
    assert PERSISTENT in fired(found)
    # PTH within target: no adynamic card, and the warning as before.
    found = cards(client, [alp(28), pth_pmol(30)], labs=earlier, conditions=dialysis)
    assert fired(found) == [PERSISTENT]


def umol(loinc: str, value: float, high: float) -> dict[str, object]:
    return observation(loinc, value, unit="umol/L", ucum="umol/L", low=0, high=high)


def test_an_infant_whose_conjugated_bilirubin_is_on_record_is_not_asked_for_it(
    client: FlaskClient,
) -> None:
    # R19-05: 6 weeks old, ALP 780, GGT 310, total bilirubin 140 and direct 95 umol/L (68%):
    # the card asked for the conjugated bilirubin it already had.
    baby = patient("female", "2026-10-09")
    results = [infant_alp(780), ggt(310), umol("1975-2", 140, 21), umol("1968-7", 95, 5)]
    [card] = cards(client, results, pt=baby)
    assert card["source"]["topic"]["display"] == "alp-infant-cholestasis"
    assert "conjugated bilirubin 95 umol/L" in card["summary"]
    assert "biliary atresia until excluded" in card["summary"]
    assert "conjugated bilirubin today" not in card["detail"]
    # Without the direct bilirubin the card still asks for it.
    [asking] = cards(client, results[:3], pt=baby)
    assert "Total and conjugated bilirubin today" in asking["detail"]


def test_a_young_adult_with_a_raised_alt_and_a_first_low_alp_gets_ceruloplasmin_now(
    client: FlaskClient,
) -> None:
    # R19-36: 19 years old, ALT 140 (3.5x), first ALP 25: ceruloplasmin "if the repeat is low
    # too", weeks later.
    man = patient("male", "2007-06-01")
    alt = observation("1742-6", 140, low=7, high=40)
    [card] = cards(client, [alp(25, low=40, high=129), alt], pt=man)
    assert card["source"]["topic"]["display"] == LOW_FIRST
    assert "ceruloplasmin now (Wilson disease)" in card["summary"]
    assert suggested(card) == ["6768-6", "2064-4"]
    # At 60, or with alcohol-related liver disease recorded, the plain repeat.
    older = patient("male", "1966-06-01")
    [plain] = cards(client, [alp(25, low=40, high=129), alt], pt=older)
    assert suggested(plain) == ["6768-6"]
    drinker = [condition("F10.20")]
    [card] = cards(client, [alp(25, low=40, high=129), alt], pt=man, conditions=drinker)
    assert "ceruloplasmin" not in card["summary"]


def test_a_preliminary_alp_says_so_on_its_card(client: FlaskClient) -> None:
    # R19-42: a preliminary ALP got the same card as a final one, nothing said.
    early = alp(245)
    early["status"] = "preliminary"
    [card] = cards(client, [early, ggt(300)])
    assert "Preliminary result: confirm on the final report." in card["detail"]
    [final] = cards(client, [alp(245), ggt(300)])
    assert "Preliminary" not in final["detail"]


def test_a_febrile_seizure_and_an_alp_just_under_its_limit_keep_the_repeat(
    client: FlaskClient,
) -> None:
    # Review 20, R20-62: 10 months, a febrile seizure, first ALP 100 (0.82x): "infantile
    # hypophosphatasia until excluded; pyridoxine".
    baby = patient("male", "2026-01-05")
    febrile = condition("R56.00")
    found = cards(client, [infant_alp(100)], pt=baby, conditions=[febrile])
    assert fired(found) == [LOW_FIRST]
    # An unexplained seizure with an ALP just under the limit: the repeat too.
    found = cards(client, [infant_alp(100)], pt=baby, conditions=[condition("R56.9")])
    assert fired(found) == [LOW_FIRST]


def test_neonatal_seizures_filed_resolved_still_count(client: FlaskClient) -> None:
    # Review 20, R20-59: 9 months, convulsions of the newborn filed "resolved", ALP 0.57x.
    baby = patient("female", "2026-02-20")
    resolved = condition("P90", status="resolved")
    found = cards(client, [infant_alp(70)], pt=baby, conditions=[resolved])
    assert fired(found) == [INFANT_HPP]


def test_heart_failure_does_not_outrank_a_cancer_that_spreads_to_the_liver(
    client: FlaskClient,
) -> None:
    # Review 20, R20-63: heart failure and colon cancer, ALP 3.1x, bilirubin normal: "congestion
    # likely" in the summary, the CT second.
    record = [condition("I50.9"), condition("C18.7")]
    [card] = cards(client, [alp(320), ggt(280)], conditions=record)
    assert card["source"]["topic"]["display"] == LIVER_SOURCE
    assert "congestion" not in card["summary"]
    assert "congestive hepatopathy" not in card["detail"]
    steps = card["detail"].split("\n- ")[1:]
    assert steps[0].startswith("Known malignant neoplasm of colon")
    # Heart failure alone with a modest ALP: congestion leads, as review 19 asked (R19-26).
    [congested] = cards(client, [alp(180), ggt(190)], conditions=[condition("I50.9")])
    assert "congestion likely" in congested["summary"]
    # An isolated 3x ALP beside heart failure alone is infiltration's pattern, not congestion's.
    [high] = cards(client, [alp(320), ggt(280)], conditions=[condition("I50.9")])
    assert "congestion likely" not in high["summary"]


def test_years_of_carbamazepine_with_a_steady_alp_is_not_a_drug_injury(
    client: FlaskClient,
) -> None:
    # Review 20, R20-38: carbamazepine since 2019, ALP 2.0x a year ago and 2.1x now, GGT raised,
    # ALT and bilirubin normal: "possible drug liver injury; switch today".
    drug = medication(text="Carbamazepine 400 mg twice daily")
    drug["authoredOn"] = "2019-03-01"
    year_ago = [alp(205, when="2025-11-20T08:00:00Z"), ggt(140, when="2025-11-20T08:00:00Z")]
    found = cards(client, [alp(220), ggt(150)], labs=year_ago, medications=[drug])
    assert "alp-high-antiepileptic-injury" not in fired(found)
    # The same course with the ALP rising from normal: injury until shown otherwise.
    normal_before = [alp(90, when="2026-08-20T08:00:00Z"), ggt(60, when="2026-08-20T08:00:00Z")]
    found = cards(client, [alp(220), ggt(150)], labs=normal_before, medications=[drug])
    assert fired(found)[0] == "alp-high-antiepileptic-injury"


def test_a_raised_calcium_with_pth_suppressed_asks_for_the_myeloma_screen_not_pth(
    client: FlaskClient,
) -> None:
    # Review 20, R20-43: Graves disease, calcium 2.95, PTH 0.8 pmol/L (suppressed) in the same
    # draw: "PTH first" for a PTH already measured.
    labs = [alp(190), ggt(20), calcium_mmol(2.95), pth_pmol(0.8)]
    [card] = cards(client, labs, conditions=[condition("E05.00")])
    assert card["source"]["topic"]["display"] == BONE_SOURCE
    assert "PTH suppressed: myeloma screen and PTHrP" in card["summary"]
    assert "PTH first" not in card["detail"]
    assert "free light chains" in card["detail"]
    # No PTH measured: PTH first, as before.
    [asking] = cards(client, labs[:3], conditions=[condition("E05.00")])
    assert "PTH first" in asking["summary"]


def test_a_key_given_twice_in_a_knowledge_base_file_is_refused(tmp_path: Path) -> None:
    # Two helpers each added an easl-pbc-2017 citation this round; YAML kept the last one and
    # the loader said nothing.
    copy = tmp_path / "cards"
    shutil.copytree(Path(__file__).parent.parent / "cards", copy)
    citations = copy / "citations" / "guidelines.yaml"
    text = citations.read_text("utf-8")
    twice = text.replace(
        "  easl-dili-2019:\n", "  easl-pbc-2017:\n    text: again\n  easl-dili-2019:\n", 1
    )
    citations.write_text(twice, "utf-8")
    with pytest.raises(KnowledgeBaseError, match="duplicate key 'easl-pbc-2017'"):
        loader.load(copy, FACTS)


def test_a_provisional_paget_disease_is_a_suspicion_to_image(client: FlaskClient) -> None:
    # Review 20, R20-28: Paget disease coded provisional, ALP 3.1x, GGT normal: not named, and
    # bone-specific ALP ordered.
    paget = condition("M88.9", verification="provisional")
    [card] = cards(client, [alp(320), ggt(22)], conditions=[paget])
    assert card["source"]["topic"]["display"] == BONE_SOURCE
    assert "Paget disease suspected, not confirmed: X-ray, bone scan" in card["summary"]
    assert "17838-4" not in suggested(card)
    # Confirmed, it explains the ALP as before.
    confirmed = cards(client, [alp(320), ggt(22)], conditions=[condition("M88.9")])
    assert fired(confirmed) == [BONE_EXPLAINED]


def test_a_liver_alp_on_dialysis_names_a_pth_above_target(client: FlaskClient) -> None:
    # Review 20, R20-53: dialysis, PTH 14x, GGT raised: the liver card never named the PTH.
    dialysis = [condition("N18.6"), condition("Z99.2")]
    [card] = cards(client, [alp(260), ggt(200), pth_pmol(95)], conditions=dialysis)
    assert card["source"]["topic"]["display"] == LIVER_SOURCE
    assert "high-turnover CKD-MBD" in card["detail"]
    [within] = cards(client, [alp(260), ggt(200), pth_pmol(30)], conditions=dialysis)
    assert "CKD-MBD" not in within["detail"]


def test_a_first_low_names_its_measured_causes_by_label_in_the_summary(
    client: FlaskClient,
) -> None:
    # Review 19 R19-38, review 20 R20-21: malnutrition with a low zinc and magnesium drawn days
    # before: the summary listed values and dates, ran to 139 characters and was cut mid-date.
    zinc = observation(
        "5763-8", 40, unit="ug/dL", ucum="ug/dL", low=60, high=120, when="2026-11-17T08:00:00Z"
    )
    magnesium = observation(
        "19123-9", 0.6, unit="mmol/L", ucum="mmol/L", low=0.7, high=1.0, when="2026-11-17T08:00:00Z"
    )
    # Twentieth round, part B: the magnesium was 0.5 mmol/L, now severe (magnesium_severe_mmol_l):
    # the urgent card takes this card's place there (tests/test_twentieth_round_b.py). 0.6 keeps
    # the labels this test is about.
    found = cards(
        client, [alp(22, low=40, high=129)], labs=[zinc, magnesium], conditions=[condition("E46")]
    )
    assert fired(found) == [LOW_FIRST]
    summary = found[0]["summary"]
    assert "malnutrition, low zinc and low magnesium may explain it" in summary  # review 28
    assert "Nov 2026" not in summary
    assert len(summary) < 140
    assert "low zinc (40 ug/dL" in found[0]["detail"]


def test_fatty_liver_is_not_a_disease_whose_complication_is_looked_for(
    client: FlaskClient,
) -> None:
    # Review 19 R19-24, review 20 R20-20: MASLD, ALP 1.4x, GGT 3x: "look for a complication
    # rather than a new diagnosis" beside "AMA for PBC".
    [card] = cards(client, [alp(150), ggt(110)], conditions=[condition("K76.0")])
    assert "rather than a new diagnosis" not in card["detail"]
    # Gallstones beside it get their own line, a duct stone first, not the "complication"
    # line (review 21, R21-13: it sat under "AMA for PBC"; nineteenth round, part B).
    both = [condition("K76.0"), condition("K80.20")]
    [card] = cards(client, [alp(150), ggt(110)], conditions=both)
    assert "rather than a new diagnosis" not in card["detail"]
    assert "Gallstones recorded: a duct stone first" in card["detail"]


def test_a_febrile_seizure_beside_a_very_low_alp_still_warns(client: FlaskClient) -> None:
    # Review 21 (R21-02): 10 months, a febrile seizure, ALP 0.35x its lower limit: set aside as
    # febrile, the hypophosphatasia warning was lost.
    baby = patient("male", "2026-01-05")
    found = cards(client, [infant_alp(43)], pt=baby, conditions=[condition("R56.00")])
    assert fired(found) == [INFANT_HPP]


def test_heart_failure_with_a_higher_alp_keeps_the_ultrasound_and_breast_cancer_leads(
    client: FlaskClient,
) -> None:
    # Review 21 (R21-06): heart failure, ALP 2.5x, bilirubin normal: a card with no next step.
    [card] = cards(client, [alp(260), ggt(200)], conditions=[condition("I50.9")])
    assert "Right upper quadrant ultrasound first" in card["detail"]
    # R21-07: heart failure with breast cancer at 1.8x led with congestion.
    record = [condition("I50.9"), condition("C50.911")]
    [card] = cards(client, [alp(187), ggt(120)], conditions=record)
    assert "congestion" not in card["summary"]
    assert "liver metastases" in card["detail"]
