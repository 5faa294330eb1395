"""Eighteenth round (2026-12-02), the integrator's part: review 19's findings that no part took
(docs/rulebook.md, "Eighteenth round (2026-12-02), the integrator's part")."""

from __future__ import annotations

from flask.testing import FlaskClient

from cds_service.knowledge.model import KnowledgeBase
from tests.rules_helper import cards, fired
from tests.support.fhir import alp, condition, ggt

LIVER_SOURCE = "alp-high-liver-source"
LIVER_KNOWN = "alp-high-liver-known"
BONE_SOURCE = "alp-high-bone-source"
BONE_EXPLAINED = "alp-high-bone-explained"

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


def test_every_explaining_finding_counts_confirmed_conditions_only(kb: KnowledgeBase) -> None:
    # The guard for the next finding added to an explaining group.
    for group in EXPLAINING_GROUPS:
        for name in kb.groups[group]:
            for source in kb.findings[name].sources:
                if source.kind == "conditions":
                    assert source.confirmed, (group, name, source.valueset)
