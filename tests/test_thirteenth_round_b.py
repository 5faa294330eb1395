"""Thirteenth round, part B (review 13): antiresorptive doses recorded under HCPCS codes alone,
and a drug given as several doses named once (docs/rulebook.md, "Thirteenth round, part B")."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from cds_service.clinical.classify import short_name
from cds_service.knowledge.model import KnowledgeBase
from tests.rules_helper import cards, fired, suggested
from tests.support.fhir import administration, alp, ggt, observation, procedure

HCPCS_URI = "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
HCPCS_OID = "urn:oid:2.16.840.1.113883.6.285"
# The http form, as HL7's terminology pages give it (review 14, N39 and N37).
HCPCS_HTTP = "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
BONE_ALP = "17838-4"
RISE = [alp(205, low=35, high=129), ggt(20, low=5, high=40), alp(80, when="2025-11-01T08:00:00Z")]


def charged(code: str, performed: str, system: str = HCPCS_URI) -> dict[str, Any]:
    """A dose as a charge-derived Procedure: the HCPCS code alone, no text, no display."""
    return procedure(code, performed, system=system)


@pytest.mark.parametrize("system", [HCPCS_URI, HCPCS_HTTP, HCPCS_OID])
def test_denosumab_recorded_only_as_j0897_gives_the_rebound_line(
    client: FlaskClient, system: str
) -> None:
    # Review 13, patient 51: doses on 10 Jun and 12 Dec 2025 coded J0897 only; the card ordered
    # bone-specific ALP and missed the rebound after a missed dose.
    doses = [charged("J0897", "2025-06-10", system), charged("J0897", "2025-12-12", system)]
    [card] = cards(client, RISE, procedures=doses)
    assert fired([card]) == ["alp-high-bone-source"]
    assert "denosumab stopped: rebound bone turnover" in card["summary"]
    assert "denosumab, last given 12 dec 2025: due every 6 months" in card["detail"].lower()
    assert BONE_ALP not in suggested(card)


def test_bisphosphonate_infusions_under_hcpcs_codes_count_for_the_hpp_caution(
    client: FlaskClient,
) -> None:
    earlier = [alp(22, when="2026-08-01T08:00:00Z")]
    for code in ("J3489", "J1740", "J2430"):
        for system in (HCPCS_URI, HCPCS_HTTP, HCPCS_OID):
            dose = charged(code, "2026-03-02", system)
            [card] = cards(client, [alp(20)], labs=earlier, procedures=[dose])
            assert "hold the drug" in card["summary"], (code, system)


def test_a_drug_given_as_several_doses_is_named_once_by_its_latest(client: FlaskClient) -> None:
    # Review 13, patient 01: two zoledronate infusions named four times in the card, the
    # summary cut with an ellipsis.
    earlier = [alp(22, when="2026-08-01T08:00:00Z")]
    doses = [
        administration("Zoledronic acid 5 mg/100 mL IV", "2025-06-12"),
        administration("Zoledronic acid 5 mg/100 mL IV", "2026-06-15"),
        # The same infusion charted twice (an administration and a procedure): one dose.
        {**charged("J3489", "2026-06-15"), "code": {"text": "Zoledronic acid 5 mg/100 mL IV"}},
    ]
    [card] = cards(client, [alp(20)], labs=earlier, administrations=doses[:2], procedures=doses[2:])
    text = card["summary"] + card["detail"]
    assert "Zoledronic acid, last given 15 Jun 2026" in card["summary"]
    assert "12 Jun 2025" not in text
    assert "…" not in card["summary"]
    # One dose alone keeps "given <date>".
    [card] = cards(client, [alp(20)], labs=earlier, administrations=doses[1:2])
    assert "Zoledronic acid, given 15 Jun 2026" in card["summary"]


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Injection, denosumab, 1 mg", "denosumab"),
        ("Injection, zoledronic acid, 1 mg", "zoledronic acid"),
        ("Prolia 60 mg SC injection", "Prolia"),
        ("Calcium carbonate, 500 mg", "Calcium carbonate"),
        ("Injection", "Injection"),
    ],
)
def test_a_drug_is_named_by_the_first_part_that_names_one(text: str, name: str) -> None:
    assert short_name({"text": text}) == name


# --- patient 12: a bone-specific ALP under a local code, resulted with the total ------------

LOCAL = "urn:oid:1.2.3.4.local"


def local(code: str, text: str, value: float, **kwargs: Any) -> dict[str, Any]:
    result = observation(code, value, unit="IU/L", ucum="[IU]/L", **kwargs)
    result["code"] = {"coding": [{"system": LOCAL, "code": code}], "text": text}
    return result


def test_a_local_bone_specific_alp_is_not_ordered_again(client: FlaskClient) -> None:
    labs = [
        local("ALKP", "ALK PHOS, TOTAL", 260, low=40, high=129),
        local("GGT1", "GAMMA GT", 22, low=5, high=61),
    ]
    [plain] = cards(client, labs)
    assert BONE_ALP in suggested(plain)
    texts = ("ALK PHOS, BONE SPECIFIC", "Bone-specific ALP", "BSAP", "Alkaline phosphatase, bone")
    for text in texts:
        bone = {**local("BALP", text, 48), "valueQuantity": {"value": 48, "unit": "ug/L"}}
        [card] = cards(client, [*labs, bone])
        assert BONE_ALP not in suggested(card), text
        assert "bone-specific ALP (" in card["detail"], text


def test_results_are_tests_by_their_words_only_without_a_known_code(kb: KnowledgeBase) -> None:
    def resulted(text: str, system: str = LOCAL) -> list[str]:
        concept = {"coding": [{"system": system, "code": "X"}], "text": text}
        return kb.orderables_resulted_by(concept)

    assert resulted("ALK PHOS ISOENZYMES") == ["alp-isoenzymes"]
    assert resulted("Gamma GT") == ["ggt"]  # the ggt value set's words count for the test
    assert resulted("ALP/GGT ratio") == []
    assert resulted("Bone ALP, urine") == []
    # A LOINC code says what the test is, whatever its words.
    assert resulted("Bone-specific ALP", system="http://loinc.org") == []
    # A total ALP is no bone ALP, nor is the total of a UK "bone profile" panel (code review).
    assert resulted("ALK PHOS, TOTAL") == []
    assert resulted("ALP (bone profile)") == []
    assert resulted("Alk Phos (Bone Profile)") == []
    # A bone ALP with its unit in the text still is.
    assert resulted("Bone ALP (ug/L)") == ["bone-alp"]
