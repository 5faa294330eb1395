"""Epic: a result-triggered advisory arrives as patient-view with Epic's trigger extension and
outcome entries in its searchsets; feedback comes back with `overrideReasons` (docs/ehr/epic.md).
The test clock is 2026-11-21T12:00Z."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from cds_service.audit import reports
from tests.rules_helper import fired
from tests.support.ehr import (
    EPIC_USER,
    PREFERENCE_LIST,
    audited_app,
    epic_override,
    epic_patient_view,
    shipped_knowledge_base,
)
from tests.support.fhir import alp, full_prefetch, ggt, service_request, sign_request

VIEW = "/cds-services/alp-patient-view"
SIGN = "/cds-services/alp-result-sign"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def answer(client: FlaskClient, body: dict[str, Any]) -> list[dict[str, Any]]:
    response = client.post(VIEW, json=body)
    assert response.status_code == 200, response.get_json()
    found: list[dict[str, Any]] = response.get_json()["cards"]
    return found


def without_uuids(cards: list[dict[str, Any]]) -> list[str]:
    """Each card as text with its uuids masked, in a stable order (the two services may list
    the ALPs of one draw in another order)."""
    return sorted(UUID.sub("<uuid>", json.dumps(card, sort_keys=True)) for card in cards)


@pytest.mark.parametrize("action", ["5", None])
def test_the_alp_just_filed_gets_the_card_with_or_without_the_extension(
    client: FlaskClient, action: str | None
) -> None:
    labs = [
        alp(95, when="2026-08-01T08:00:00Z", ident="last-summer"),
        alp(312, when="2026-11-21T07:40:00Z", ident="just-filed", issued="2026-11-21T11:58:00Z"),
    ]
    found = answer(client, epic_patient_view(labs, action=action))
    assert fired(found) == ["alp-high-confirm-origin"]
    order = found[0]["suggestions"][0]["actions"][0]["resource"]
    assert order["reasonReference"] == [{"reference": "Observation/just-filed"}]
    assert order["requester"] == {"reference": EPIC_USER}
    assert "Data not available" not in found[0].get("detail", "")  # outcome entries are not gaps


def test_outcome_entries_are_recorded_in_the_audit_not_counted_as_data(
    client: FlaskClient, audit_store: Any
) -> None:
    body = epic_patient_view([alp(312, ident="filed")], hook_instance="epic-outcomes-1")
    answer(client, body)
    [record] = reports.invocation_detail(audit_store.engine, "epic-outcomes-1")
    stored = record["trace"].to_json()  # the audit record, as reviewers read it
    data = stored["data"]
    assert data["labs"]["ok"] is True
    assert data["labs"]["resources"] == 1  # the ALP; the OperationOutcome entry is not data
    assert any("may not contain the entire record" in p for p in data["labs"]["problems"])
    assert data["conditions"] == {
        "source": "prefetch",
        "ok": True,
        "resources": 0,
        "pages": 1,
        "problems": ["server said: Resource request returns no results."],
    }
    assert stored["selection"]["alp"] == "Observation/filed"
    assert stored["selection"]["trigger"] == "Epic advisory, triggering action 5"


@pytest.mark.parametrize(
    "labs",
    [
        [alp(312, ident="a"), ggt(20, ident="g")],  # bone source: GGT drawn with it
        [alp(312, ident="a"), ggt(90, ident="g", when="2026-11-20T14:00:00Z")],  # liver
        [alp(20, ident="a", low=40)],  # low ALP
        [alp(312, ident="a"), alp(318, ident="b", when="2026-11-20T08:02:00Z")],  # two ALPs
    ],
    ids=["bone", "liver", "low", "two-alps-one-draw"],
)
def test_patient_view_answers_as_result_sign_would(
    client: FlaskClient, labs: list[dict[str, Any]]
) -> None:
    request = epic_patient_view(labs)
    view = answer(client, request)
    signing = sign_request(labs, full_prefetch(labs=labs))
    signing["context"].update(request["context"])  # the same user and encounter
    signed = client.post(SIGN, json=signing)
    assert view, "the card for the filed ALP"
    assert without_uuids(view) == without_uuids(signed.get_json()["cards"])


@pytest.mark.parametrize(
    ("labs", "orders"),
    [
        ([alp(312, when="2026-05-01T08:00:00Z")], []),  # nothing in the look-back window
        ([alp(312, when="2026-11-01T08:00:00Z"), ggt(20, when="2026-11-10T08:00:00Z")], []),
        ([alp(312)], [service_request("2324-2")]),  # GGT already on order
        ([alp(312, status="entered-in-error")], []),  # the filed result was withdrawn
    ],
    ids=["too-old", "followed-up", "ordered", "withdrawn"],
)
def test_quiet_otherwise(
    client: FlaskClient, labs: list[dict[str, Any]], orders: list[dict[str, Any]]
) -> None:
    assert answer(client, epic_patient_view(labs, orders=orders)) == []


def test_an_open_chart_advisory_reminds_only_of_a_recent_alp(
    make_app: Callable[..., Flask],
) -> None:
    labs = [alp(312, when="2026-10-25T08:00:00Z")]  # 27 days old, follow-up still open
    client = make_app().test_client()
    assert answer(client, epic_patient_view(labs, action="60")) == []  # default 14 days
    assert fired(answer(client, epic_patient_view(labs, action="5"))) == ["alp-high-confirm-origin"]
    assert fired(answer(client, epic_patient_view(labs, action=None))) == [
        "alp-high-confirm-origin"
    ]
    wider = make_app(epic_chart_open_days=30).test_client()
    assert fired(answer(wider, epic_patient_view(labs, action=60))) == [  # type: ignore[arg-type]
        "alp-high-confirm-origin"
    ]


def test_epic_feedback_is_stored_with_reason_and_comment_and_shows_in_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from cds_service.cli import main

    app, _store = audited_app(tmp_path)
    client = app.test_client()
    card = answer(client, epic_patient_view([alp(312)], hook_instance="epic-fb-1"))[0]
    reason = card["overrideReasons"][0]
    body = epic_override(card, "2026-11-21T12:03:10Z", [(reason, "GGT done at the clinic")])
    assert client.post(VIEW + "/feedback", json=body).status_code == 200

    monkeypatch.setenv("ALP_CDS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ALP_CDS_DEV_MODE", "true")
    assert main(["audit", "export-feedback"]) == 0
    [exported] = json.loads(capsys.readouterr().out)
    assert exported["action_taken"]["outcome"] == "overridden"
    assert exported["feedback"]["override_reason"] == {
        "system": reason["system"],
        "code": reason["code"],
        "display": reason["display"],
    }
    assert exported["feedback"]["comment"] == "GGT done at the clinic"
    assert exported["final"] is True
    assert main(["audit", "show", "epic-fb-1"]) == 0
    shown = capsys.readouterr().out
    assert f"overridden at 2026-11-21T12:03:10Z ({reason['display']}" in shown
    assert "comment: GGT done at the clinic" in shown


def test_an_order_filed_under_a_local_code_is_open(tmp_path: Path) -> None:
    # Accepting the GGT suggestion files an order under the site's own code, without LOINC: the
    # next call must see it as open and not suggest GGT again (ARCHITECTURE section 5).
    app, _ = audited_app(
        tmp_path,
        local_order_codes=(
            ("ggt", PREFERENCE_LIST, "123456", "GGT (pref list)"),
            ("ggt", "urn:oid:1.2.840.114350.1.13.0.1.7.2.696580", "LAB2324", None),
        ),
    )
    client = app.test_client()
    labs = [alp(312)]
    assert fired(answer(client, epic_patient_view(labs))) == ["alp-high-confirm-origin"]
    for system, code in (
        (PREFERENCE_LIST, "123456"),
        ("urn:oid:1.2.840.114350.1.13.0.1.7.2.696580", "LAB2324"),
    ):
        order = service_request("2324-2")
        order["code"] = {"coding": [{"system": system, "code": code}], "text": "GGT"}
        assert answer(client, epic_patient_view(labs, orders=[order])) == []
        sign = sign_request(labs, full_prefetch(orders=[order]))
        assert client.post(SIGN, json=sign).get_json()["cards"] == []
    # Another site's code means nothing here.
    order = service_request("2324-2")
    order["code"] = {"coding": [{"system": PREFERENCE_LIST, "code": "999999"}]}
    assert fired(answer(client, epic_patient_view(labs, orders=[order]))) == [
        "alp-high-confirm-origin"
    ]


def test_preference_list_codes_ride_along_in_the_suggested_order(tmp_path: Path) -> None:
    app, _ = audited_app(
        tmp_path, local_order_codes=(("ggt", PREFERENCE_LIST, "123456", "GGT (pref list)"),)
    )
    card = answer(app.test_client(), epic_patient_view([alp(312)]))[0]
    [suggestion] = [s for s in card["suggestions"] if len(s["actions"]) == 1]
    codings = suggestion["actions"][0]["resource"]["code"]["coding"]
    assert {"system": PREFERENCE_LIST, "code": "123456", "display": "GGT (pref list)"} in codings
    assert any(c["system"] == "http://loinc.org" and c["code"] == "2324-2" for c in codings)
    assert all(len(s["actions"]) == 1 for s in card["suggestions"])  # Epic: one per suggestion


def test_the_guide_lists_the_override_reasons_and_says_each_card_offers_a_subset() -> None:
    """docs/ehr/epic.md section 4, which an Epic analyst builds acknowledge reasons from: its
    table is the knowledge base's reasons, and it does not promise all of them on every card
    (QA report D11: alp-high-confirm-origin offers four)."""
    guide = (Path(__file__).resolve().parent.parent / "docs" / "ehr" / "epic.md").read_text()
    section = guide[guide.index("## 4.") : guide.index("## 5.")]
    table = dict(re.findall(r"^\| `([a-z-]+)` \| (.+?) \|$", section, re.MULTILINE))
    kb = shipped_knowledge_base()
    assert table == dict(kb.override_reasons)
    prose = " ".join(section.split())
    assert "Every card offers these" not in prose
    assert "Each card offers a subset" in prose
    assert "cards/override-reasons.yaml" in prose  # where a rule naming none takes them from
    offered = [set(rule.card.override_reasons) for rule in kb.rules.values() if rule.card]
    assert any(reasons < set(table) for reasons in offered)  # a subset, as it says
