"""Feedback in every shape clients send, stored whole: 2.0.1 `overrideReason`, Epic's
`overrideReasons`, batches, unknown fields (kept, never dropped), the spool, and reports that
count each card's final outcome once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from flask.testing import FlaskClient
from sqlalchemy import select

from cds_service.audit import reports, schema
from cds_service.audit.store import AuditStore
from cds_service.hooks.feedback import FeedbackItem, outcome_moment
from tests.support.ehr import audited_app, bearer, epic_override, public_jwk, trust_file
from tests.support.fhir import alp, full_prefetch, sign_request

SIGN = "/cds-services/alp-result-sign"
SYSTEM = "urn:alp-cds:override-reason"


@pytest.fixture
def audited(tmp_path: Path) -> tuple[FlaskClient, AuditStore]:
    app, store = audited_app(tmp_path)
    return app.test_client(), store


def new_card(client: FlaskClient) -> dict[str, Any]:
    response = client.post(SIGN, json=sign_request([alp(312)], full_prefetch()))
    card: dict[str, Any] = response.get_json()["cards"][0]
    return card


def post(client: FlaskClient, body: dict[str, Any]) -> Any:
    return client.post(SIGN + "/feedback", json=body)


def stored(store: AuditStore) -> list[Any]:
    with store.engine.connect() as conn:
        return list(conn.execute(select(schema.feedback).order_by(schema.feedback.c.id)))


def test_the_2_0_1_shape_keeps_code_system_display_and_comment(
    audited: tuple[FlaskClient, AuditStore],
) -> None:
    client, store = audited
    card = new_card(client)
    reason = {"system": SYSTEM, "code": "already-ordered", "display": "Already ordered"}
    item = {
        "card": card["uuid"],
        "outcome": "overridden",
        "outcomeTimestamp": "2026-11-21T10:00:00Z",
        "overrideReason": {"reason": reason, "userComment": "ordered at the clinic"},
    }
    assert post(client, {"feedback": [item]}).status_code == 200
    [row] = stored(store)
    assert (row.override_system, row.override_code, row.override_display) == (
        SYSTEM,
        "already-ordered",
        "Already ordered",
    )
    assert row.override_comment == "ordered at the clinic"
    assert row.override_reasons == [{**reason, "comment": "ordered at the clinic"}]
    assert row.extra is None


def test_epic_override_reasons_keep_every_reason_and_comment(
    audited: tuple[FlaskClient, AuditStore],
) -> None:
    client, store = audited
    card = new_card(client)
    first = {"system": SYSTEM, "code": "not-relevant", "display": "Not clinically relevant"}
    second = {"system": "urn:oid:1.2.840.114350", "code": "3", "display": "Patient declined"}
    body = epic_override(card, "2026-11-21T10:00:00Z", [(first, "known Paget"), (second, None)])
    assert post(client, body).status_code == 200
    [row] = stored(store)
    assert (row.override_code, row.override_display) == ("not-relevant", "Not clinically relevant")
    assert row.override_comment == "known Paget"
    assert row.override_reasons == [
        {**first, "comment": "known Paget"},
        {**second, "comment": None},
    ]
    report = reports.rule_report(store.engine)
    [rule] = [r for r in report["rules"] if r["shown"]]
    assert {r["reason"] for r in rule["top_override_reasons"]} == {
        "Not clinically relevant",
        "Patient declined",
    }


def test_unknown_fields_are_kept_in_the_audit_record(
    audited: tuple[FlaskClient, AuditStore], tmp_path: Path
) -> None:
    client, store = audited
    card = new_card(client)
    body = {
        "extension": {"com.example.client-version": "7.1"},
        "feedback": [
            {
                "card": card["uuid"],
                "outcome": "overridden",
                "outcomeTimestamp": "2026-11-21T10:00:00Z",
                "overrideReasons": [
                    {
                        "reason": {"code": "x", "system": SYSTEM, "priority": 2},
                        "userComment": "c",
                        "enteredBy": "Practitioner/1",
                    }
                ],
                "extension": {"com.epic.cdshooks.feedback.lockout-days": 30},
                "ignoredAt": "2026-11-21T09:59:00Z",
            }
        ],
    }
    assert post(client, body).status_code == 200
    [row] = stored(store)
    assert row.extra == {
        "$.extension": {"com.example.client-version": "7.1"},
        "extension": {"com.epic.cdshooks.feedback.lockout-days": 30},
        "ignoredAt": "2026-11-21T09:59:00Z",
        "overrideReasons[0].enteredBy": "Practitioner/1",
        "overrideReasons[0].reason.priority": 2,
    }
    [exported] = reports.feedback_export(store.engine)
    assert exported["feedback"]["extra"] == row.extra


def test_a_huge_unknown_field_is_named_not_stored_whole(
    audited: tuple[FlaskClient, AuditStore],
) -> None:
    client, store = audited
    card = new_card(client)
    item = {
        "card": card["uuid"],
        "outcome": "overridden",
        "outcomeTimestamp": "2026-11-21T10:00:00Z",
        "blob": "x" * 100_000,
    }
    assert post(client, {"feedback": [item]}).status_code == 200
    [row] = stored(store)
    assert row.extra["_truncated"] is True
    assert row.extra["fields"]["blob"] > 100_000


def test_a_batch_of_mixed_shapes_is_stored_once_each(
    audited: tuple[FlaskClient, AuditStore],
) -> None:
    client, store = audited
    cards = [new_card(client) for _ in range(3)]
    batch = {
        "feedback": [
            {
                "card": cards[0]["uuid"],
                "outcome": "accepted",
                "acceptedSuggestions": [{"id": cards[0]["suggestions"][0]["uuid"]}],
                "outcomeTimestamp": "2026-11-21T10:00:00Z",
            },
            {
                "card": cards[1]["uuid"],
                "outcome": "overridden",
                "outcomeTimestamp": "2026-11-21T10:00:01Z",
                "overrideReason": {"reason": {"code": "already-ordered", "system": SYSTEM}},
            },
            epic_override(cards[2], "2026-11-21T10:00:02Z", [({"code": "x"}, "why")])["feedback"][
                0
            ],
        ]
    }
    assert post(client, batch).status_code == 200
    assert post(client, batch).status_code == 200  # Epic retries a batch: stored once
    assert [r.card_uuid for r in stored(store)] == [c["uuid"] for c in cards]


@pytest.mark.parametrize(
    "override",
    [
        {"overrideReasons": [{}]},  # neither reason nor comment
        {"overrideReasons": [{"reason": {"system": SYSTEM}}]},  # a reason without a code
        {"overrideReasons": {"reason": {"code": "x"}}},  # not a list
        {"overrideReasons": [{"userComment": "x" * 4001}]},
    ],
)
def test_malformed_epic_reasons_are_400(
    audited: tuple[FlaskClient, AuditStore], override: dict[str, Any]
) -> None:
    client, store = audited
    item = {"card": "c", "outcome": "overridden", "outcomeTimestamp": "2026-11-21T10:00:00Z"}
    assert post(client, {"feedback": [{**item, **override}]}).status_code == 400
    assert stored(store) == []


def test_the_final_outcome_is_the_latest_whatever_the_arrival_order(
    audited: tuple[FlaskClient, AuditStore],
) -> None:
    client, store = audited
    first, second = new_card(client), new_card(client)

    def accept(card: dict[str, Any], at: str) -> dict[str, Any]:
        suggestion = card["suggestions"][0]["uuid"]
        return {
            "card": card["uuid"],
            "outcome": "accepted",
            "acceptedSuggestions": [{"id": suggestion}],
            "outcomeTimestamp": at,
        }

    def dismiss(card: dict[str, Any], at: str) -> dict[str, Any]:
        return {
            "card": card["uuid"],
            "outcome": "overridden",
            "outcomeTimestamp": at,
            "overrideReason": {"reason": {"code": "not-relevant", "system": SYSTEM}},
        }

    # First card: accepted, then dismissed; sent in that order.
    post(client, {"feedback": [accept(first, "2026-11-21T10:00:00Z")]})
    post(client, {"feedback": [dismiss(first, "2026-11-21T10:05:00+00:00")]})
    # Second card: dismissed at 10:05 UTC, but a batch delivers its earlier acceptance later
    # (and with another offset: 11:00+02:00 is 09:00 UTC).
    post(client, {"feedback": [dismiss(second, "2026-11-21T10:05:00Z")]})
    post(client, {"feedback": [accept(second, "2026-11-21T11:00:00+02:00")]})
    report = reports.rule_report(store.engine)
    [rule] = [r for r in report["rules"] if r["shown"]]
    assert (rule["shown"], rule["accepted"], rule["overridden"], rule["no_feedback"]) == (
        2,
        0,
        2,
        0,
    )
    assert rule["top_override_reasons"] == [{"reason": "not-relevant", "count": 2}]
    exported = reports.feedback_export(store.engine)
    finals = {
        (e["intervention"]["card"], e["action_taken"]["outcome"]): e["final"] for e in exported
    }
    assert finals == {
        (first["uuid"], "accepted"): False,
        (first["uuid"], "overridden"): True,
        (second["uuid"], "overridden"): True,
        (second["uuid"], "accepted"): False,
    }


def test_spooled_feedback_keeps_its_reasons_and_old_spool_lines_still_load(
    audited: tuple[FlaskClient, AuditStore],
) -> None:
    client, store = audited
    cards = [new_card(client), new_card(client)]
    item = FeedbackItem.parse(
        "alp-result-sign",
        {
            "card": cards[0]["uuid"],
            "outcome": "overridden",
            "outcomeTimestamp": "2026-11-21T10:00:00Z",
            "overrideReasons": [{"reason": {"code": "a", "system": SYSTEM}, "userComment": "c"}],
            "extension": {"k": 1},
        },
    )
    now = datetime.now(UTC).isoformat()
    store.spool.append({"kind": "feedback", "item": item.to_json(), "received_at": now})
    legacy = {  # as spooled before issue 11
        "service_id": "alp-result-sign",
        "card": cards[1]["uuid"],
        "outcome": "overridden",
        "outcome_timestamp": "2026-11-21T10:00:00Z",
        "accepted_suggestions": [],
        "override_reason": {"code": "b", "system": SYSTEM},
        "override_comment": "old",
    }
    store.spool.append({"kind": "feedback", "item": legacy, "received_at": now})
    assert store.replay_spool() == 2
    rows = {r.card_uuid: r for r in stored(store)}
    assert rows[cards[0]["uuid"]].override_reasons == [
        {"system": SYSTEM, "code": "a", "display": None, "comment": "c"}
    ]
    assert rows[cards[0]["uuid"]].extra == {"extension": {"k": 1}}
    assert (rows[cards[1]["uuid"]].override_code, rows[cards[1]["uuid"]].override_comment) == (
        "b",
        "old",
    )
    assert json.dumps(rows[cards[1]["uuid"]].override_reasons)  # readable JSON


# --- uuids in any case, batches whole or not at all, dates that exist (QA report D8) --------


def accept(card: dict[str, Any], at: str = "2026-11-21T10:00:00Z") -> dict[str, Any]:
    return {
        "card": card["uuid"],
        "outcome": "accepted",
        "acceptedSuggestions": [{"id": card["suggestions"][0]["uuid"]}],
        "outcomeTimestamp": at,
    }


def test_card_and_suggestion_uuids_match_in_upper_case(
    audited: tuple[FlaskClient, AuditStore],
) -> None:
    client, store = audited
    card = new_card(client)
    item = accept(card)
    shouted = {
        **item,
        "card": card["uuid"].upper(),
        "acceptedSuggestions": [{"id": card["suggestions"][0]["uuid"].upper()}],
    }
    assert post(client, {"feedback": [shouted]}).status_code == 200
    assert post(client, {"feedback": [item]}).status_code == 200  # the same answer again
    [row] = stored(store)
    assert row.card_uuid == card["uuid"]  # linked to the card as issued
    assert row.accepted_suggestions == [card["suggestions"][0]["uuid"]]


def test_a_card_id_that_is_no_uuid_is_compared_as_sent() -> None:
    item = {"card": "Card-A", "outcome": "overridden", "outcomeTimestamp": "2026-11-21T10:00:00Z"}
    assert FeedbackItem.parse("alp-result-sign", item).card == "Card-A"


@pytest.mark.parametrize(
    "bad",
    [
        {"card": "11111111-0000-4000-8000-000000000000"},  # never issued
        {"acceptedSuggestions": [{"id": "not-offered"}]},
    ],
)
def test_a_batch_with_one_refused_item_stores_nothing(
    audited: tuple[FlaskClient, AuditStore], bad: dict[str, Any]
) -> None:
    client, store = audited
    good, other = new_card(client), new_card(client)
    batch = {
        "feedback": [accept(good), {**accept(other), **bad}, accept(good, "2026-11-21T10:01:00Z")]
    }
    response = post(client, batch)
    assert response.status_code == 400
    issues = response.get_json()["issue"]
    assert [i.get("expression") for i in issues] == [["$.feedback[1]"], None]
    assert issues[1]["diagnostics"].startswith("no item of this batch was stored")
    assert stored(store) == []  # nothing half-written
    del batch["feedback"][1]
    assert post(client, batch).status_code == 200
    assert len(stored(store)) == 2


def test_a_batch_with_a_duplicate_inside_is_stored_once(
    audited: tuple[FlaskClient, AuditStore],
) -> None:
    client, store = audited
    card = new_card(client)
    assert post(client, {"feedback": [accept(card), accept(card)]}).status_code == 200
    assert len(stored(store)) == 1


@pytest.mark.parametrize(
    "timestamp",
    [
        "2026-02-31T25:61:00Z",  # the QA case: no such day, hour or minute
        "2026-02-29T10:00:00Z",  # 2026 is no leap year
        "2026-11-21T24:00:00Z",
        "2026-11-21T10:00:61Z",
        "2026-11-21T10:00:00+05:75",  # Python would read it as +06:15
        "2026-11-21T10:00:00+24:00",
        "2026-13-01T10:00:00Z",
    ],
)
def test_an_outcome_timestamp_naming_no_real_moment_is_400(
    audited: tuple[FlaskClient, AuditStore], timestamp: str
) -> None:
    client, store = audited
    card = new_card(client)
    batch = {"feedback": [accept(card), accept(card, timestamp)]}
    response = post(client, batch)
    assert response.status_code == 400
    issue, note = response.get_json()["issue"]
    assert issue["expression"] == ["$.feedback[1].outcomeTimestamp"]
    assert note["diagnostics"].startswith("no item of this batch was stored")
    assert timestamp not in json.dumps(response.get_json())  # the value is not echoed
    assert stored(store) == []


@pytest.mark.parametrize(
    ("timestamp", "moment"),
    [
        ("2026-11-21T10:00:00Z", datetime(2026, 11, 21, 10, tzinfo=UTC)),
        ("2026-11-21t11:00:00.1234567+01:00", datetime(2026, 11, 21, 10, 0, 0, 123456, UTC)),
        # Past days: a timestamp more than a day ahead of the clock is refused (QA 12 #10).
        ("2024-02-29T10:00:00z", datetime(2024, 2, 29, 10, tzinfo=UTC)),
        # RFC 3339 allows a leap second (2016 ended with one); it sorts as the end of its minute.
        ("2016-12-31T23:59:60Z", datetime(2016, 12, 31, 23, 59, 59, 999999, UTC)),
    ],
)
def test_real_rfc_3339_moments_are_read(
    audited: tuple[FlaskClient, AuditStore], timestamp: str, moment: datetime
) -> None:
    assert outcome_moment(timestamp) == moment
    client, _ = audited
    assert post(client, {"feedback": [accept(new_card(client), timestamp)]}).status_code == 200


def test_the_same_moment_written_three_ways_is_stored_once(
    audited: tuple[FlaskClient, AuditStore],
) -> None:
    """QA 12 #10: the unique key was the timestamp's text, so a client that reformats the time
    on a retry stored the same answer three times."""
    client, store = audited
    card = new_card(client)
    for text in ("2026-11-30T22:00:03Z", "2026-11-30T23:00:03+01:00", "2026-11-30T22:00:03.000Z"):
        assert post(client, {"feedback": [accept(card, text)]}).status_code == 200
    [row] = stored(store)
    assert row.outcome_timestamp == "2026-11-30T22:00:03Z"
    assert not row.extra  # the first, already in UTC and whole seconds, is stored as sent
    later = accept(card, "2026-12-01T00:00:03.25+01:00")
    assert post(client, {"feedback": [later]}).status_code == 200
    newest = stored(store)[-1]
    assert newest.outcome_timestamp == "2026-11-30T23:00:03.25Z"
    assert newest.extra == {"outcomeTimestamp": "2026-12-01T00:00:03.25+01:00"}


def test_an_outcome_timestamp_more_than_a_day_ahead_is_400(
    audited: tuple[FlaskClient, AuditStore],
) -> None:
    """QA 12 #10: `2099-01-01` was stored, and as the latest answer it fixed the card's final
    outcome for seventy years."""
    client, store = audited
    card = new_card(client)
    ahead = (datetime.now(UTC) + timedelta(days=1, minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    for timestamp in ("2099-01-01T00:00:00Z", ahead):
        response = post(client, {"feedback": [accept(card, timestamp)]})
        assert response.status_code == 400
        [issue] = response.get_json()["issue"]
        assert issue["expression"] == ["$.feedback[0].outcomeTimestamp"]
        assert issue["diagnostics"] == "is more than a day in the future"
    assert stored(store) == []
    soon = (datetime.now(UTC) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert post(client, {"feedback": [accept(card, soon)]}).status_code == 200  # clock drift


ISSUER_A = "https://fhir.hospital-a.example.org"
ISSUER_B = "https://fhir.hospital-b.example.org"
KEY_A = ec.generate_private_key(ec.SECP384R1())
KEY_B = ec.generate_private_key(ec.SECP384R1())


def test_feedback_is_taken_only_from_the_issuer_the_card_was_issued_to(tmp_path: Path) -> None:
    """QA 12 #11: a second trusted client could post `overridden` on the first one's card, and
    the feedback table did not say who sent it."""
    trust = trust_file(
        tmp_path,
        *(
            {"iss": iss, "algorithms": ["ES384"], "jwks": {"keys": [public_jwk(key, "k", "ES384")]}}
            for iss, key in ((ISSUER_A, KEY_A), (ISSUER_B, KEY_B))
        ),
    )
    app, store = audited_app(tmp_path, trust_files=(trust,))
    client = app.test_client()
    url = "http://localhost" + SIGN

    def signed(key: Any, iss: str, aud: str) -> dict[str, str]:
        return bearer(key, "ES384", iss, aud, "k")

    body = sign_request([alp(312)], full_prefetch())
    response = client.post(SIGN, json=body, headers=signed(KEY_A, ISSUER_A, url))
    assert response.status_code == 200, response.get_json()
    card = response.get_json()["cards"][0]
    item = accept(card)
    sent = {"feedback": [item]}
    other = client.post(
        SIGN + "/feedback", json=sent, headers=signed(KEY_B, ISSUER_B, url + "/feedback")
    )
    assert other.status_code == 400
    [issue] = other.get_json()["issue"]
    assert issue["diagnostics"].endswith("was not issued by this service")
    assert stored(store) == []
    own = client.post(
        SIGN + "/feedback", json=sent, headers=signed(KEY_A, ISSUER_A, url + "/feedback")
    )
    assert own.status_code == 200
    [row] = stored(store)
    assert row.issuer == ISSUER_A
    # Replayed from the spool: another issuer's item is dropped; one spooled by a version that
    # did not record the sender is stored (it was checked then, bar the issuer).
    second = client.post(SIGN, json=body, headers=signed(KEY_A, ISSUER_A, url)).get_json()
    now = datetime.now(UTC).isoformat()
    dismissal = {
        "outcome": "overridden",
        "outcomeTimestamp": "2026-11-21T10:05:00Z",
        "overrideReason": {"userComment": "x"},
    }
    for card_uuid, extra in (
        (second["cards"][0]["uuid"], {"issuer": ISSUER_B}),  # the card is A's
        (second["cards"][0]["uuid"], {}),  # as spooled before the sender was recorded
    ):
        line = FeedbackItem.parse("alp-result-sign", {**dismissal, "card": card_uuid}).to_json()
        line.pop("issuer")
        store.spool.append({"kind": "feedback", "item": {**line, **extra}, "received_at": now})
    store.replay_spool()
    assert [(r.card_uuid, r.outcome, r.issuer) for r in stored(store)] == [
        (card["uuid"], "accepted", ISSUER_A),
        (second["cards"][0]["uuid"], "overridden", None),
    ]


def test_development_mode_feedback_has_no_issuer(audited: tuple[FlaskClient, AuditStore]) -> None:
    client, store = audited
    assert post(client, {"feedback": [accept(new_card(client))]}).status_code == 200
    [row] = stored(store)
    assert row.issuer is None
