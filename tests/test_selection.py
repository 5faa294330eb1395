"""clinical/selection.py: which ALP result set a patient-view call answers for, from plain FHIR
dicts (the test clock is 2026-11-21T12:00Z; the knowledge base tolerates 24 h within a draw and
looks back 180 days)."""

from __future__ import annotations

from typing import Any

from cds_service.clinical.record import PatientRecord
from cds_service.clinical.selection import select_result_set
from cds_service.knowledge.model import KnowledgeBase
from tests.conftest import NOW
from tests.support.fhir import alp, ggt, observation, patient, service_request


def select(kb: KnowledgeBase, labs: list[dict[str, Any]], **kwargs: Any) -> Any:
    orders = tuple(kwargs.pop("orders", ()))
    record = PatientRecord(patient=patient(), now=NOW, labs=tuple(labs), orders=orders)
    return select_result_set(kb, record, **kwargs)


def ids(selection: Any) -> list[str]:
    return [r["id"] for r in selection.results]


def test_the_newest_alp_and_what_was_drawn_with_it(kb: KnowledgeBase) -> None:
    labs = [
        alp(90, when="2026-09-01T08:00:00Z", ident="old"),
        ggt(50, when="2026-09-01T08:00:00Z", ident="old-ggt"),
        alp(312, when="2026-11-20T08:00:00Z", ident="new"),
        observation("1742-6", 40, when="2026-11-20T09:30:00Z", ident="alt"),  # ALT, same draw
        observation("1920-8", 35, when="2026-11-18T08:00:00Z", ident="ast-before"),  # 48 h before
    ]
    chosen = select(kb, labs)
    assert ids(chosen) == ["new", "alt"]
    assert chosen.to_json()["alp"] == "Observation/new"


def test_several_alps_of_one_draw_stay_together(kb: KnowledgeBase) -> None:
    labs = [
        alp(312, when="2026-11-20T08:00:00Z", ident="total"),
        observation("1783-0", 300, when="2026-11-20T08:00:00Z", ident="legacy-code"),
        ggt(20, when="2026-11-20T08:05:00Z", ident="ggt"),
    ]
    assert sorted(ids(select(kb, labs))) == ["ggt", "legacy-code", "total"]


def test_the_same_specimen_is_one_draw_whatever_the_times_say(kb: KnowledgeBase) -> None:
    specimen = {"specimen": {"reference": "Specimen/tube-1"}}
    labs = [
        alp(312, when="2026-11-18T08:00:00Z", ident="alp", **specimen),
        # Resulted from the same tube 50 hours later (an add-on test): part of the set, not a
        # follow-up that closes it.
        ggt(20, when="2026-11-20T10:00:00Z", ident="add-on", **specimen),
    ]
    assert ids(select(kb, labs)) == ["alp", "add-on"]
    other_tube = [labs[0], ggt(20, when="2026-11-20T10:00:00Z", ident="later")]
    closed = select(kb, other_tube)
    assert closed.results == ()
    assert "Observation/later resulted after it" in closed.reason


def test_quiet_without_an_alp_in_the_window(kb: KnowledgeBase) -> None:
    chosen = select(kb, [alp(312, when="2026-05-20T08:00:00Z")])
    assert chosen.results == ()
    assert chosen.reason == "no usable total ALP in the last 180 days"


def test_a_narrower_window_never_widens_the_look_back(kb: KnowledgeBase) -> None:
    labs = [alp(312, when="2026-10-01T08:00:00Z", ident="seven-weeks")]
    assert ids(select(kb, labs, max_age_days=60)) == ["seven-weeks"]
    assert select(kb, labs, max_age_days=14).results == ()
    assert select(kb, labs, max_age_days=400).window_days == 180


def test_withdrawn_and_valueless_alps_are_skipped_and_said_so(kb: KnowledgeBase) -> None:
    labs = [
        alp(312, when="2026-11-01T08:00:00Z", ident="real"),
        alp(80, when="2026-11-19T08:00:00Z", ident="wrong", status="entered-in-error"),
        alp(None, when="2026-11-20T08:00:00Z", ident="haemolysed"),
    ]
    chosen = select(kb, labs)
    assert ids(chosen) == ["real"]
    assert any("Observation/haemolysed skipped" in n for n in chosen.notes)
    # A withdrawn result of the same draw is not part of the set either.
    same_draw = [alp(312, ident="a"), ggt(20, ident="g", status="cancelled")]
    assert ids(select(kb, same_draw)) == ["a"]


def test_between_two_of_the_same_time_the_later_issued_wins(kb: KnowledgeBase) -> None:
    labs = [
        alp(312, ident="first", issued="2026-11-20T09:00:00Z"),
        alp(140, ident="corrected", issued="2026-11-20T15:00:00Z"),
    ]
    assert select(kb, labs).to_json()["alp"] == "Observation/corrected"


def test_an_open_follow_up_order_closes_it_but_not_a_finished_or_forbidden_one(
    kb: KnowledgeBase,
) -> None:
    labs = [alp(312, ident="a")]
    assert select(kb, labs, orders=[service_request("2324-2")]).results == ()
    done = service_request("2324-2", status="completed")
    forbidden = {**service_request("2324-2"), "doNotPerform": True}
    assert ids(select(kb, labs, orders=[done, forbidden])) == ["a"]


def test_a_newest_alp_that_cannot_be_read_is_not_replaced_by_an_older_one(
    kb: KnowledgeBase,
) -> None:
    # Integration QA round 2, defect 1 (unsafe): the newest ALP sent as a coded value was
    # skipped and the card answered for a high ALP six weeks older, superseded by it.
    older = alp(240, when="2026-10-05T09:30:00Z", ident="older")
    coded = alp(None, when="2026-11-19T09:30:00Z", ident="coded")
    coded["valueCodeableConcept"] = {"text": "see comment"}
    chosen = select(kb, [older, coded])
    assert chosen.results == ()
    assert "Observation/coded, cannot be read" in chosen.reason
    # Passed over: nothing reported (a dataAbsentReason), or withdrawn.
    absent = alp(None, when="2026-11-19T09:30:00Z", ident="absent")
    absent["dataAbsentReason"] = {"text": "haemolysed"}
    assert ids(select(kb, [older, absent])) == ["older"]
    withdrawn = alp(None, when="2026-11-19T09:30:00Z", ident="wrong", status="entered-in-error")
    withdrawn["valueCodeableConcept"] = {"text": "see comment"}
    assert ids(select(kb, [older, withdrawn])) == ["older"]
    # An unreadable result older than a readable one changes nothing.
    coded["effectiveDateTime"] = "2026-09-01T09:30:00Z"
    assert ids(select(kb, [older, coded])) == ["older"]


def test_a_result_sent_as_text_is_the_newest_and_read(kb: KnowledgeBase) -> None:
    text = alp(None, when="2026-11-19T09:30:00Z", ident="text", valueString="95")
    chosen = select(kb, [alp(240, when="2026-10-05T09:30:00Z"), text])
    assert ids(chosen) == ["text"]


def test_a_result_dated_after_today_is_never_the_latest(kb: KnowledgeBase) -> None:
    # QA defect 8: a mistyped year made a high ALP "the latest", carded "on 5 Oct 2027".
    labs = [
        alp(95, when="2026-11-19T08:00:00Z", ident="real"),
        alp(240, when="2027-10-05T08:00:00Z", ident="typo"),
    ]
    chosen = select(kb, labs)
    assert ids(chosen) == ["real"]
    assert any("Observation/typo skipped: dated 2027-10-05" in n for n in chosen.notes)
    # Hours ahead (a clock a little fast) is within the tolerance of a draw.
    assert ids(select(kb, [alp(240, when="2026-11-21T20:00:00Z", ident="soon")])) == ["soon"]


def test_the_chart_open_window_counts_from_when_the_result_was_reported(
    kb: KnowledgeBase,
) -> None:
    # QA defect 9: drawn 20 days ago, reported yesterday: a result nobody has reviewed yet.
    late = alp(240, when="2026-11-01T08:00:00Z", ident="late", issued="2026-11-20T08:00:00Z")
    assert ids(select(kb, [late], max_age_days=14)) == ["late"]
    late.pop("issued")
    assert select(kb, [late], max_age_days=14).results == ()
