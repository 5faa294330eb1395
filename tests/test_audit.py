"""The audit trail on SQLite always, and on PostgreSQL when ALP_TEST_DATABASE_URL is set (CI sets
it): one record per invocation, feedback linked to cards, reports, concurrency and outage."""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, inspect, select, text, update
from sqlalchemy.exc import OperationalError

from cds_service.alp_services import AlpServices
from cds_service.app import create_app
from cds_service.audit import migrate, reports, schema
from cds_service.audit.spool import Spool
from cds_service.audit.store import AuditStore, make_engine
from cds_service.knowledge.model import KnowledgeBase
from cds_service.settings import Settings
from tests.conftest import NOW, CheckedClient, load_scenario
from tests.support.databases import BACKENDS, migrated_engine
from tests.support.fhir import alp, full_prefetch, ggt, sign_request

SERVICE = "/cds-services/alp-result-sign"


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    yield from migrated_engine(request.param, tmp_path, "alp_test")


def new_store(
    engine: Engine, tmp_path: Path, kb: KnowledgeBase, key: str | None = None
) -> AuditStore:
    return AuditStore(engine, Spool(tmp_path / "spool.jsonl"), kb.version, kb.content_hash, key)


@pytest.fixture
def store(engine: Engine, tmp_path: Path, kb: KnowledgeBase) -> AuditStore:
    return new_store(engine, tmp_path, kb)


def app_with(store: AuditStore, kb: KnowledgeBase) -> Flask:
    settings = Settings.from_env({}, dev_mode=True)
    services = AlpServices(kb, settings.base_url, settings.result_sign_hook, clock=lambda: NOW)
    app = create_app(settings, services=services, audit=store)
    app.test_client_class = CheckedClient
    return app


@pytest.fixture
def client(store: AuditStore, kb: KnowledgeBase) -> FlaskClient:
    return app_with(store, kb).test_client()


def rows(engine: Engine, table: Any) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(table)).mappings()]


def post(client: FlaskClient, *results: dict[str, Any], hook_instance: str | None = None) -> Any:
    body = sign_request(list(results), full_prefetch())
    if hook_instance:
        body["hookInstance"] = hook_instance
    return client.post(SERVICE, json=body)


# --- one record per invocation -------------------------------------------------------------


def test_an_invocation_is_recorded_with_its_decision_trace(
    client: FlaskClient, engine: Engine, kb: KnowledgeBase
) -> None:
    response = post(client, alp(312, ident="alp-x"), hook_instance="hi-audit-1")
    card = response.get_json()["cards"][0]
    [record] = rows(engine, schema.invocations)
    assert record["hook_instance"] == "hi-audit-1"
    assert record["status"] == 200
    assert record["service_id"] == "alp-result-sign"
    assert record["patient"] == "Patient/pt-1"
    assert record["user_ref"] == "Practitioner/dr-1"
    assert (record["kb_version"], record["kb_hash"]) == (kb.version, kb.content_hash)
    assert record["latency_ms"] > 0
    trace = record["trace"]
    facts = trace["evaluations"][0]["facts"]
    assert facts["alp.status"] == {"value": "high", "from": ["Observation/alp-x"]}
    assert trace["data"]["patient"]["source"] == "prefetch"
    [stored_card] = rows(engine, schema.cards)
    assert stored_card["card_uuid"] == card["uuid"]
    assert stored_card["rule_id"] == "alp-high-confirm-origin"
    assert stored_card["rule_version"] == kb.rules["alp-high-confirm-origin"].version
    assert stored_card["suggestions"][0]["uuid"] == card["suggestions"][0]["uuid"]
    # Rows index the rules whose conditions held; why the others did not fire is in the trace.
    outcomes = {r["rule_id"]: r["fired"] for r in rows(engine, schema.rule_outcomes)}
    assert outcomes["alp-high-confirm-origin"] is True
    assert "alp-high-liver-source" not in outcomes
    decisions = {r["rule"]: r for r in trace["evaluations"][0]["rules"]}
    assert decisions["alp-high-liver-source"]["fired"] is False
    assert decisions["alp-high-liver-source"]["why_not"].startswith("not true: ")
    assert len(decisions) == len(kb.active_rules())


def test_a_superseded_rule_is_indexed_and_listed_with_its_record(
    client: FlaskClient, engine: Engine
) -> None:
    # A stable, explained Paget's ALP: the bone-explained rule holds but the stable-explained
    # rule supersedes it. The console's "superseded" list reads exactly these rows.
    request, _ = load_scenario("v2-stable-paget-quiet")
    assert client.post(SERVICE, json=request).status_code == 200
    outcomes = {r["rule_id"]: r["fired"] for r in rows(engine, schema.rule_outcomes)}
    assert outcomes == {"alp-high-stable-explained": True, "alp-high-bone-explained": False}
    [found] = reports.rule_invocations(engine, ["alp-high-bone-explained"], fired=False, limit=5)
    assert found["hook_instance"] == request["hookInstance"]
    assert not reports.rule_invocations(engine, ["alp-high-confirm-origin"], fired=False, limit=5)


def test_an_overlong_result_id_is_still_recorded(client: FlaskClient, engine: Engine) -> None:
    # Prefetched ids are not validated; PostgreSQL would refuse a key over the column width.
    long_id = "a" * 200
    assert post(client, alp(312, ident=long_id)).status_code == 200
    observations = {r["observation"] for r in rows(engine, schema.rule_outcomes)}
    assert observations == {f"Observation/{long_id}"[:128]}


def test_refused_calls_are_recorded_with_their_reason(client: FlaskClient, engine: Engine) -> None:
    body = sign_request([alp(312)], full_prefetch(), hook="patient-view")
    assert client.post(SERVICE, json=body).status_code == 400
    prefetch = full_prefetch()
    del prefetch["patient"]
    assert client.post(SERVICE, json=sign_request([alp(312)], prefetch)).status_code == 412
    assert client.post("/cds-services/nope", json=body).status_code == 404
    recorded = sorted((r["status"], r["reason"]) for r in rows(engine, schema.invocations))
    assert recorded[0][0] == 400
    assert "answers hook" in recorded[0][1]
    assert recorded[1][0] == 404
    assert recorded[2][0] == 412
    assert "patient" in recorded[2][1]


def test_references_can_be_pseudonymised(engine: Engine, tmp_path: Path, kb: KnowledgeBase) -> None:
    store = new_store(engine, tmp_path, kb, key="a-secret-key-of-some-length")
    client = app_with(store, kb).test_client()
    post(client, alp(312))
    [record] = rows(engine, schema.invocations)
    assert record["patient"].startswith("Patient/pseudo-")
    assert record["user_ref"].startswith("Practitioner/pseudo-")
    assert "Patient/pt-1" not in json.dumps(record["trace"])
    assert record["patient"] == store.pseudonym("Patient/pt-1")  # stable, so records link up


# --- feedback ------------------------------------------------------------------------------


def feedback(client: FlaskClient, *items: dict[str, Any]) -> Any:
    return client.post(SERVICE + "/feedback", json={"feedback": list(items)})


def test_feedback_is_linked_validated_and_stored_once(client: FlaskClient, engine: Engine) -> None:
    card = post(client, alp(312)).get_json()["cards"][0]
    suggestion = card["suggestions"][0]["uuid"]
    accepted = {
        "card": card["uuid"],
        "outcome": "accepted",
        "acceptedSuggestions": [{"id": suggestion}],
        "outcomeTimestamp": "2026-11-21T10:05:31Z",
    }
    assert feedback(client, accepted).status_code == 200
    assert feedback(client, accepted).status_code == 200  # a retry
    assert len(rows(engine, schema.feedback)) == 1
    unknown = dict(accepted, card=str(uuid.uuid4()))
    wrong_suggestion = dict(
        accepted,
        acceptedSuggestions=[{"id": "not-offered"}],
        outcomeTimestamp="2026-11-21T10:06:00Z",
    )
    overridden = {
        "card": card["uuid"],
        "outcome": "overridden",
        "outcomeTimestamp": "2026-11-21T10:07:00Z",
        "overrideReason": {
            "reason": {
                "system": "urn:alp-cds:override-reason",
                "code": "already-ordered",
                "display": "Already ordered or done elsewhere",
            }
        },
    }
    response = feedback(client, unknown, overridden, wrong_suggestion)
    assert response.status_code == 400
    *refused, note = response.get_json()["issue"]
    assert [i["expression"] for i in refused] == [["$.feedback[0]"], ["$.feedback[2]"]]
    assert "not issued by this service" in refused[0]["diagnostics"]
    assert note["severity"] == "information"
    assert "no item of this batch was stored" in note["diagnostics"]
    # All or nothing: item 1 is good, but its batch was refused, so it is not kept...
    assert [r["outcome"] for r in rows(engine, schema.feedback)] == ["accepted"]
    assert feedback(client, overridden).status_code == 200  # ...until it is sent again
    stored = rows(engine, schema.feedback)
    assert sorted(r["outcome"] for r in stored) == ["accepted", "overridden"]


def _post_text(client: FlaskClient, path: str, body: Any) -> Any:
    # json.dumps writes a lone surrogate and a control character as \\u escapes, as a client
    # would; the test client's json= could not encode a lone surrogate at all.
    return client.post(path, data=json.dumps(body), content_type="application/json")


@pytest.mark.parametrize(
    ("text", "what"),
    [("pvo-alp-\ud800", "unpaired UTF-16 surrogate"), ("pvo\u0000alp", "U+0000")],
)
def test_a_lone_surrogate_or_nul_in_a_call_is_a_400_and_nothing_is_half_stored(
    client: FlaskClient, store: AuditStore, engine: Engine, text: str, what: str
) -> None:
    """Either string was once answered (200 or 500) and then refused by the audit store: the
    body is refused where it is read, with where, and the refusal is recorded."""
    response = _post_text(client, SERVICE, sign_request([alp(312, ident=text)], full_prefetch()))
    assert response.status_code == 400
    [issue] = response.get_json()["issue"]
    assert what in issue["diagnostics"]
    assert issue["expression"] == ["$.context.results.entry[0].resource.id"]
    [record] = rows(engine, schema.invocations)
    assert record["status"] == 400
    assert rows(engine, schema.cards) == []
    assert not store.spool.rejected.exists()


def test_another_control_character_is_answered_and_stored(
    client: FlaskClient, store: AuditStore, engine: Engine
) -> None:
    # FHIR strings SHOULD NOT hold C0 controls, but one in a record must not cost the patient
    # the answer: both stores keep it (only NUL is refused, above).
    body = sign_request([alp(312, ident="pvo\u001falp")], full_prefetch())
    response = _post_text(client, SERVICE, body)
    assert response.status_code == 200
    assert response.get_json()["cards"]
    store.flush()
    [record] = rows(engine, schema.invocations)
    assert record["status"] == 200
    assert rows(engine, schema.cards)


@pytest.mark.parametrize("field", ["userComment", "extension"])
@pytest.mark.parametrize("text", ["x\udc00y", "nul\u0000here"])
def test_a_lone_surrogate_or_nul_in_feedback_is_a_400_and_nothing_is_stored(
    client: FlaskClient, engine: Engine, field: str, text: str
) -> None:
    card = post(client, alp(312)).get_json()["cards"][0]
    item: dict[str, Any] = {
        "card": card["uuid"],
        "outcome": "overridden",
        "outcomeTimestamp": "2026-11-21T10:07:00Z",
        "overrideReason": {"userComment": "fine"},
    }
    if field == "userComment":
        item["overrideReason"] = {"userComment": text}
    else:
        item["extension"] = {"https://ehr.example/note": text}
    response = _post_text(client, SERVICE + "/feedback", {"feedback": [item]})
    assert response.status_code == 400
    [issue] = response.get_json()["issue"]
    assert issue["expression"][0].startswith("$.feedback[0].")
    assert rows(engine, schema.feedback) == []
    # A text that is fine after all (an escaped backslash, then "u0000") is stored.
    item["overrideReason"] = {"userComment": "C:\\u0000 is a path"}
    item.pop("extension", None)
    assert _post_text(client, SERVICE + "/feedback", {"feedback": [item]}).status_code == 200
    [stored] = rows(engine, schema.feedback)
    assert stored["override_comment"] == "C:\\u0000 is a path"


# --- reports -------------------------------------------------------------------------------


def test_the_report_answers_fired_accepted_overridden_and_why(
    client: FlaskClient, engine: Engine
) -> None:
    cards = [post(client, alp(312)).get_json()["cards"][0] for _ in range(4)]
    post(client, alp(80))  # normal: the silent rule fires, no card
    post(client, alp(312), ggt(20))  # bone source
    feedback(
        client,
        {
            "card": cards[0]["uuid"],
            "outcome": "accepted",
            "acceptedSuggestions": [{"id": cards[0]["suggestions"][0]["uuid"]}],
            "outcomeTimestamp": "2026-11-21T10:00:00Z",
        },
    )
    for card in cards[1:3]:
        feedback(
            client,
            {
                "card": card["uuid"],
                "outcome": "overridden",
                "outcomeTimestamp": "2026-11-21T10:01:00Z",
                "overrideReason": {
                    "reason": {
                        "system": "urn:alp-cds:override-reason",
                        "code": "already-ordered",
                        "display": "Already ordered",
                    }
                },
            },
        )
    report = reports.rule_report(engine)
    by_rule = {r["rule"]: r for r in report["rules"]}
    confirm = by_rule["alp-high-confirm-origin"]
    assert (
        confirm["fired"],
        confirm["shown"],
        confirm["accepted"],
        confirm["overridden"],
        confirm["no_feedback"],
    ) == (4, 4, 1, 2, 1)
    assert confirm["accept_rate"] == 0.25
    assert confirm["top_override_reasons"] == [{"reason": "Already ordered", "count": 2}]
    assert by_rule["alp-normal"]["fired"] == 1
    assert by_rule["alp-normal"]["shown"] == 0
    assert by_rule["alp-high-bone-source"]["shown"] == 1
    assert report["invocations"] == 6
    assert report["latency_ms"]["p50"] is not None
    table = reports.report_table(report)
    assert "alp-high-confirm-origin" in table
    assert "Already ordered (2)" in table
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    assert reports.rule_report(engine, since=tomorrow)["rules"] == []

    exported = reports.feedback_export(engine)
    assert len(exported) == 3
    first = exported[0]
    assert first["intervention"]["rule"] == "alp-high-confirm-origin"
    assert first["action_taken"]["outcome"] == "accepted"
    assert first["action_taken"]["accepted_suggestions"][0]["codes"][0] == "http://loinc.org|2324-2"
    assert first["user"] == "Practitioner/dr-1"
    assert first["date"] == "2026-11-21T10:00:00Z"
    assert "issuer" in first["location"]


def test_audit_show_gives_one_invocations_trace(client: FlaskClient, engine: Engine) -> None:
    post(client, alp(312), hook_instance="hi-show")
    [record] = reports.invocation_detail(engine, "hi-show")
    assert record["cards"][0]["rule_id"] == "alp-high-confirm-origin"
    assert record["trace"].evaluations[0].rules
    assert reports.invocation_detail(engine, "nope") == []


# --- concurrency and outage ------------------------------------------------------------------


@pytest.mark.slow
def test_8_threads_of_500_requests_leave_4000_records(
    store: AuditStore, engine: Engine, kb: KnowledgeBase
) -> None:
    app = app_with(store, kb)
    returned: list[str] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker() -> None:
        client = app.test_client()
        try:
            for _ in range(500):
                card = post(client, alp(312)).get_json()["cards"][0]
                with lock:
                    returned.append(card["uuid"])
        except BaseException as exc:  # surface failures from the thread
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    with engine.connect() as conn:
        assert (
            conn.execute(select(func.count()).select_from(schema.invocations)).scalar_one() == 4000
        )
        stored = set(conn.execute(select(schema.cards.c.card_uuid)).scalars())
    assert len(returned) == 4000
    assert set(returned) <= stored


def test_with_the_store_down_requests_succeed_and_every_record_arrives_once(
    store: AuditStore, engine: Engine, kb: KnowledgeBase, tmp_path: Path
) -> None:
    client = app_with(store, kb).test_client()
    post(client, alp(312))
    dead = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1")
    store.engine = dead  # the database goes away
    outage = [post(client, alp(312), hook_instance=f"outage-{i}") for i in range(20)]
    assert all(r.status_code == 200 for r in outage)
    assert store.spool.depth() == 20
    store.engine = engine  # and comes back
    post(client, alp(312))
    assert store.spool.depth() == 0
    with engine.connect() as conn:
        instances = list(conn.execute(select(schema.invocations.c.hook_instance)).scalars())
    assert len(instances) == 22
    assert sorted(i for i in instances if i.startswith("outage-")) == sorted(
        f"outage-{i}" for i in range(20)
    )
    # A replay of records already stored (a crash between insert and spool rewrite) adds nothing.
    assert not store.spool.pending()
    assert store.spool.batches() == []
    record = {
        "kind": "invocation",
        "record": {**_any_record(engine), "record_id": _first_id(engine)},
    }
    store.spool.append(record)
    store.replay_spool()
    assert store.count() == 22
    dead.dispose()


def _first_id(engine: Engine) -> str:
    with engine.connect() as conn:
        value: str = conn.execute(select(schema.invocations.c.record_id)).scalars().first()  # type: ignore[assignment]
        return value


def _any_record(engine: Engine) -> dict[str, Any]:
    return {
        "endpoint": "service",
        "service_id": "alp-result-sign",
        "received_at": NOW.isoformat(),
        "hook": "h",
        "hook_instance": "dup",
        "status": 200,
        "reason": None,
        "issuer": None,
        "tenant": None,
        "patient": None,
        "user": None,
        "latency_ms": 1.0,
        "cards": [],
        "trace": None,
        "kb_version": "1",
        "kb_hash": "x",
    }


def test_feedback_during_an_outage_is_spooled_and_stored_after(
    store: AuditStore, engine: Engine, kb: KnowledgeBase
) -> None:
    client = app_with(store, kb).test_client()
    card = post(client, alp(312)).get_json()["cards"][0]
    dead = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1")
    store.engine = dead
    item = {
        "card": card["uuid"],
        "outcome": "overridden",
        "outcomeTimestamp": "2026-11-21T10:00:00Z",
        "overrideReason": {"userComment": "done elsewhere"},
    }
    assert feedback(client, item).status_code == 200
    store.engine = engine
    post(client, alp(312))
    assert [r["override_comment"] for r in rows(engine, schema.feedback)] == ["done elsewhere"]
    dead.dispose()


def test_an_outage_in_the_middle_of_a_batch_leaves_nothing_half_written(
    store: AuditStore, engine: Engine, kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = app_with(store, kb).test_client()
    cards = [post(client, alp(312)).get_json()["cards"][0] for _ in range(2)]
    items = [
        {
            "card": card["uuid"],
            "outcome": "overridden",
            "outcomeTimestamp": "2026-11-21T10:00:00Z",
            "overrideReason": {"userComment": f"comment {n}"},
        }
        for n, card in enumerate(cards)
    ]
    insert = store._insert_feedback
    calls = []

    def dies_on_the_second(*args: Any) -> bool:
        calls.append(args)
        if len(calls) == 2:
            raise OperationalError("INSERT", {}, Exception("connection lost"))
        return insert(*args)

    monkeypatch.setattr(store, "_insert_feedback", dies_on_the_second)
    assert feedback(client, *items).status_code == 200  # spooled, as in any outage
    assert rows(engine, schema.feedback) == []  # the first item's insert was rolled back
    monkeypatch.undo()
    store.replay_spool()
    stored = sorted(r["override_comment"] for r in rows(engine, schema.feedback))
    assert stored == ["comment 0", "comment 1"]  # each once


def test_feedback_for_a_card_issued_during_an_outage_is_accepted_after_it(
    store: AuditStore, engine: Engine, kb: KnowledgeBase
) -> None:
    client = app_with(store, kb).test_client()
    dead = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1")
    store.engine = dead
    card = post(client, alp(312)).get_json()["cards"][0]  # its record is spooled
    store.engine = engine
    item = {"card": card["uuid"], "outcome": "accepted", "outcomeTimestamp": "2026-11-21T10:00:00Z"}
    item["acceptedSuggestions"] = [{"id": card["suggestions"][0]["uuid"]}]
    assert feedback(client, item).status_code == 200
    assert [r["outcome"] for r in rows(engine, schema.feedback)] == ["accepted"]
    dead.dispose()


# --- upkeep --------------------------------------------------------------------------------


def test_prune_removes_records_past_retention(
    client: FlaskClient, store: AuditStore, engine: Engine
) -> None:
    card = post(client, alp(312)).get_json()["cards"][0]
    feedback(
        client,
        {
            "card": card["uuid"],
            "outcome": "overridden",
            "outcomeTimestamp": "2026-11-21T10:00:00Z",
            "overrideReason": {"userComment": "x"},
        },
    )
    post(client, alp(312))
    with engine.begin() as conn:
        conn.execute(
            update(schema.invocations)
            .where(
                schema.invocations.c.record_id
                == select(schema.cards.c.record_id)
                .where(schema.cards.c.card_uuid == card["uuid"])
                .scalar_subquery()
            )
            .values(received_at=datetime.now(UTC) - timedelta(days=500))
        )
    assert store.prune(400) == 1
    assert store.count() == 1
    assert rows(engine, schema.feedback) == []


def test_migrations_build_the_schema_the_code_queries(engine: Engine) -> None:
    assert migrate.is_current(engine)
    inspector = inspect(engine)
    for table in schema.metadata.sorted_tables:
        columns = {c["name"] for c in inspector.get_columns(table.name)}
        assert columns == {c.name for c in table.columns}, table.name


def test_migration_0004_adds_the_feedback_issuer_and_keeps_earlier_feedback(
    tmp_path: Path, kb: KnowledgeBase
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'audit.sqlite3'}")
    migrate.upgrade(engine, "0003")
    assert "issuer" not in {c["name"] for c in inspect(engine).get_columns("feedback")}
    client = app_with(new_store(engine, tmp_path, kb), kb).test_client()
    card = post(client, alp(312)).get_json()["cards"][0]
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO feedback (card_uuid, outcome, outcome_timestamp, received_at) "
                "VALUES (:card, 'accepted', '2026-11-21T10:00:00Z', '2026-11-21 10:00:01')"
            ),
            {"card": card["uuid"]},
        )
    migrate.upgrade(engine)
    assert migrate.is_current(engine)
    [row] = rows(engine, schema.feedback)
    assert row["card_uuid"] == card["uuid"]
    assert row["issuer"] is None
    engine.dispose()


def test_cli_reports_from_the_store(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    kb: KnowledgeBase,
    make_app: Callable[..., Flask],
) -> None:
    from cds_service.cli import main

    monkeypatch.setenv("ALP_CDS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ALP_CDS_DEV_MODE", "true")
    assert main(["db", "upgrade"]) == 0
    assert f"revision {migrate.head_revision()}" in capsys.readouterr().out
    store = new_store(make_engine(f"sqlite:///{tmp_path / 'audit.sqlite3'}"), tmp_path, kb)
    client = app_with(store, kb).test_client()
    post(client, alp(312), hook_instance="hi-cli")
    assert main(["audit", "report", "--format", "csv"]) == 0
    assert "alp-high-confirm-origin,1,1,0,0,1" in capsys.readouterr().out
    assert main(["audit", "show", "hi-cli"]) == 0
    shown = capsys.readouterr().out
    assert "FIRED alp-high-confirm-origin" in shown
    assert "alp.status = high" in shown
    assert main(["audit", "export-feedback"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["audit", "show", "nope"]) == 1


def test_a_record_the_store_refuses_is_set_aside_not_blocking_the_spool(
    client: FlaskClient, store: AuditStore, engine: Engine
) -> None:
    card = post(client, alp(312)).get_json()["cards"][0]
    bad = {
        **_any_record(engine),
        "record_id": uuid.uuid4().hex,
        "hook_instance": "bad",
        "cards": [
            {
                "uuid": card["uuid"],
                "rule": "r",
                "indicator": "info",
                "summary": "s",
                "suggestions": [],
            }
        ],
    }  # a card uuid already stored: refused for good
    good = {**_any_record(engine), "record_id": uuid.uuid4().hex, "hook_instance": "good"}
    store.spool.append({"kind": "invocation", "record": bad})
    store.spool.append({"kind": "invocation", "record": good})
    assert store.replay_spool() == 2
    assert store.spool.depth() == 0
    with engine.connect() as conn:
        instances = set(conn.execute(select(schema.invocations.c.hook_instance)).scalars())
    assert "good" in instances
    assert "bad" not in instances
    assert (
        json.loads(store.spool.rejected.read_text().splitlines()[0])["record"]["hook_instance"]
        == "bad"
    )


def test_a_refused_insert_logs_no_value_of_the_record(
    client: FlaskClient, store: AuditStore, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """SQLAlchemy's errors quote the failed statement's parameters unless the engine hides
    them: patient references, resource ids and comments would reach the error log."""
    card = post(client, alp(312)).get_json()["cards"][0]
    marker = "Patient/secret-patient-4711"
    bad = {
        **_any_record(engine),
        "record_id": uuid.uuid4().hex,
        "hook_instance": "secret-hook-instance-4711",
        "patient": marker,
        "cards": [
            {
                "uuid": card["uuid"],  # already stored: the insert fails
                "rule": "r",
                "indicator": "info",
                "summary": "secret summary 4711",
                "suggestions": [],
            }
        ],
    }
    store.spool.append({"kind": "invocation", "record": bad})
    with caplog.at_level("DEBUG"):
        assert store.replay_spool() == 1
    assert "refused by the store" in caplog.text  # the failure itself is logged
    assert "4711" not in caplog.text


# --- write-behind ------------------------------------------------------------------------------


def _instances(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(select(schema.invocations.c.hook_instance)).scalars())


def _eventually(check: Callable[[], bool], seconds: float = 2.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return check()


def test_with_the_writer_running_the_record_is_spooled_then_stored_within_a_second(
    store: AuditStore, engine: Engine, kb: KnowledgeBase
) -> None:
    store.spool.fsync_ms = 5
    store.start_writer(batch_ms=100)
    try:
        client = app_with(store, kb).test_client()
        started = time.monotonic()
        assert post(client, alp(312), hook_instance="behind-1").status_code == 200
        # Durable before the response: the line is in the spool or already stored.
        assert store.spool.depth() == 1 or _instances(engine) == ["behind-1"]
        assert _eventually(lambda: _instances(engine) == ["behind-1"], 1.0)
        assert time.monotonic() - started < 1.0
        assert store.spool.depth() == 0
        ready = client.get("/readyz").get_json()
        assert ready["audit_spool_records"] == 0
    finally:
        store.stop_writer()


def test_the_writer_loads_what_an_earlier_run_left_and_drains_on_stop(
    store: AuditStore, engine: Engine, kb: KnowledgeBase, tmp_path: Path
) -> None:
    records = [
        {
            "kind": "invocation",
            "record": {
                **_any_record(engine),
                "record_id": uuid.uuid4().hex,
                "hook_instance": f"left-{i}",
            },
        }
        for i in range(3)
    ]
    # An earlier run: one record still in the spool, two in a batch its dead writer had taken.
    store.spool.append(records[0])
    orphan = store.spool.path.with_name(f"{store.spool.path.name}.999999-0.batch")
    orphan.write_text("".join(json.dumps(r) + "\n" for r in records[1:]) + '{"torn', "utf-8")
    assert store.spool.depth() == 4  # the torn line counts until it is dropped
    store.start_writer(batch_ms=10_000)  # the first batch runs at once, the next much later
    assert _eventually(lambda: sorted(_instances(engine)) == ["left-0", "left-1", "left-2"])
    assert not orphan.exists()
    store.spool.append(
        {
            "kind": "invocation",
            "record": {
                **_any_record(engine),
                "record_id": uuid.uuid4().hex,
                "hook_instance": "at-stop",
            },
        }
    )
    store.stop_writer()  # a graceful stop loads it before returning
    assert "at-stop" in _instances(engine)
    assert store.spool.depth() == 0


def test_feedback_finds_a_card_whose_record_a_sibling_worker_is_still_loading(
    store: AuditStore, engine: Engine, kb: KnowledgeBase
) -> None:
    store.start_writer(batch_ms=10_000)  # running, but its next batch is far away
    try:
        time.sleep(0.1)  # let its first (empty) batch pass
        client = app_with(store, kb).test_client()
        card = post(client, alp(312)).get_json()["cards"][0]
        batch = store.spool.take()  # a sibling worker takes the spool ...
        assert batch is not None
        with store.spool.claim(batch) as held:  # ... and is loading it when feedback arrives
            assert held is not None
            item = {
                "card": card["uuid"],
                "outcome": "accepted",
                "outcomeTimestamp": "2026-11-21T10:00:00Z",
                "acceptedSuggestions": [{"id": card["suggestions"][0]["uuid"]}],
            }
            assert feedback(client, item).status_code == 200
        assert [r["outcome"] for r in rows(engine, schema.feedback)] == ["accepted"]
        store.flush()  # the sibling's load: nothing twice
        assert len(rows(engine, schema.invocations)) == 1
    finally:
        store.stop_writer()


def test_fsync_every_record_when_the_window_is_zero(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    real = os.fsync

    def counted(fd: int) -> None:
        synced.append(fd)
        real(fd)

    monkeypatch.setattr(os, "fsync", counted)
    Spool(tmp_path / "a.jsonl", fsync_ms=0).append({"n": 1})
    assert len(synced) == 1
    windowed = Spool(tmp_path / "b.jsonl", fsync_ms=5)
    windowed.append({"n": 1})
    windowed.append({"n": 2})
    assert len(synced) == 1  # written and flushed; the writer syncs within the window
    windowed.sync()
    windowed.sync()
    assert len(synced) == 2


def test_the_writer_sleeps_until_a_record_needs_syncing(
    engine: Engine, tmp_path: Path, kb: KnowledgeBase
) -> None:
    class Counted(Spool):
        syncs = 0

        def sync(self) -> None:
            type(self).syncs += 1
            super().sync()

    spool = Counted(tmp_path / "spool.jsonl", fsync_ms=5)
    store = AuditStore(engine, spool, kb.version, kb.content_hash)
    store.start_writer(batch_ms=60_000)
    try:
        time.sleep(0.3)  # idle: 60 windows of 5 ms pass with nothing to sync
        assert Counted.syncs == 0
        record = {**_any_record(engine), "record_id": uuid.uuid4().hex, "hook_instance": "s"}
        spool.append({"kind": "invocation", "record": record})
        assert _eventually(lambda: Counted.syncs == 1 and not spool._unsynced.is_set())
    finally:
        started = time.monotonic()
        store.stop_writer()  # woken, not left waiting for its next batch a minute away
    assert time.monotonic() - started < 5
    assert _instances(engine) == ["s"]  # and it drained the spool on the way out


def test_the_writer_keeps_syncing_while_its_batches_fail(
    engine: Engine, tmp_path: Path, kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(everything: bool = False) -> int:
        raise RuntimeError("the store refuses this batch")

    spool = Spool(tmp_path / "f.jsonl", fsync_ms=5)
    store = AuditStore(engine, spool, kb.version, kb.content_hash)
    monkeypatch.setattr(store, "flush", failing)
    store.start_writer(batch_ms=50)  # its first batch fails at once; the next in a second
    try:
        time.sleep(0.1)
        store.spool.append({"kind": "feedback", "n": 1})
        # Synced within its window (5 ms), not after the second of the retry.
        assert _eventually(lambda: not store.spool._unsynced.is_set(), seconds=0.5)
    finally:
        monkeypatch.undo()
        store.stop_writer()


def test_a_batch_due_before_the_fsync_window_ends_is_not_kept_waiting(
    engine: Engine, tmp_path: Path, kb: KnowledgeBase
) -> None:
    store = AuditStore(
        engine, Spool(tmp_path / "w.jsonl", fsync_ms=5_000), kb.version, kb.content_hash
    )
    store.start_writer(batch_ms=50)
    try:
        time.sleep(0.1)  # the first (empty) batch has run
        record = {**_any_record(engine), "record_id": uuid.uuid4().hex, "hook_instance": "w"}
        store.spool.append({"kind": "invocation", "record": record})
        assert _eventually(lambda: _instances(engine) == ["w"], seconds=1.5)
    finally:
        store.stop_writer()


def test_a_line_orjson_cannot_write_reads_back_exactly(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.jsonl")
    odd: list[dict[str, Any]] = [{"n": 10**25}, {"s": "\ud800"}]  # past 64 bits; lone surrogate
    for record in [*odd, {"n": 1}]:
        spool.append(record)
    batch = spool.take()
    assert batch is not None
    with spool.claim(batch) as handle:
        assert handle is not None
        assert spool.read(handle, batch) == [*odd, {"n": 1}]


def test_audit_show_loads_the_spool_first(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    kb: KnowledgeBase,
) -> None:
    from cds_service.cli import main

    monkeypatch.setenv("ALP_CDS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ALP_CDS_DEV_MODE", "true")
    assert main(["db", "upgrade"]) == 0
    engine = make_engine(f"sqlite:///{tmp_path / 'audit.sqlite3'}")
    store = AuditStore(engine, Spool(tmp_path / "audit-spool.jsonl"), kb.version, kb.content_hash)
    store.start_writer(batch_ms=60_000)  # a service whose writer has not run its batch yet
    time.sleep(0.1)
    client = app_with(store, kb).test_client()
    post(client, alp(312), hook_instance="hi-behind")
    assert store.spool.depth() == 1
    capsys.readouterr()
    assert main(["audit", "show", "hi-behind"]) == 0
    assert "FIRED alp-high-confirm-origin" in capsys.readouterr().out
    store.stop_writer()
    assert _instances(engine) == ["hi-behind"]


def test_a_trace_spooled_as_text_or_as_a_structure_is_stored_the_same(
    store: AuditStore, engine: Engine, kb: KnowledgeBase
) -> None:
    # Records are spooled with their trace as JSON text, handed to the database unchanged;
    # a line spooled before that held the trace as a structure and must store identically.
    client = app_with(store, kb).test_client()
    assert post(client, alp(312), hook_instance="as-text").status_code == 200
    column = schema.invocations.c

    def stored_trace(instance: str) -> Any:
        with engine.connect() as conn:
            query = select(column.trace).where(column.hook_instance == instance)
            return conn.execute(query).scalar_one()

    trace = stored_trace("as-text")
    assert trace["evaluations"][0]["rules"]
    record = {
        **_any_record(engine),
        "record_id": uuid.uuid4().hex,
        "hook_instance": "as-structure",
        "outcomes": [],
        "trace": trace,
    }
    store.spool.append({"kind": "invocation", "record": record})
    assert store.replay_spool() == 1
    assert stored_trace("as-structure") == trace
