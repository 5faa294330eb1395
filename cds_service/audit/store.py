"""The audit store: invocation records, the cards they returned, rule outcomes, and feedback.

Every write is one transaction. When the database is unreachable the record goes to the local
spool (spool.py) and the response goes out anyway; the spool is replayed into the database as soon
as a write succeeds again. Inserts are idempotent by record id, so nothing is stored twice.
Patient and user references can be replaced by a keyed hash (HMAC-SHA256) before storage.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, delete, event, func, insert, select
from sqlalchemy.exc import (
    DisconnectionError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as SqlTimeoutError

from cds_service.audit import schema
from cds_service.audit.spool import Spool
from cds_service.hooks.feedback import FeedbackItem, FeedbackResult
from cds_service.hooks.invocation import Invocation

log = logging.getLogger(__name__)
INSERT_INVOCATION = insert(schema.invocations)
INSERT_CARD = insert(schema.cards)
INSERT_OUTCOME = insert(schema.rule_outcomes)
# Errors that mean "the database cannot be reached now", as opposed to "this record is bad".
OUTAGE = (OperationalError, InterfaceError, SqlTimeoutError, DisconnectionError)


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'audit.sqlite3'}"


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(connection: Any, _: Any) -> None:
            # WAL lets readers and the one writer work at once; NORMAL sync is durable in WAL.
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


class AuditStore:
    def __init__(
        self,
        engine: Engine,
        spool: Spool,
        kb_version: str,
        kb_hash: str,
        pseudonym_key: str | None = None,
    ) -> None:
        self.engine = engine
        self.spool = spool
        self.kb_version = kb_version
        self.kb_hash = kb_hash
        self._key = pseudonym_key.encode() if pseudonym_key else None
        self._replaying = threading.Lock()

    # --- writing -------------------------------------------------------------------------

    def pseudonym(self, reference: str | None) -> str | None:
        if reference is None or self._key is None:
            return reference
        digest = hmac.new(self._key, reference.encode(), hashlib.sha256).hexdigest()
        kind = reference.split("/")[0] if "/" in reference else "ref"
        return f"{kind}/pseudo-{digest[:32]}"

    def _prepare(self, invocation: Invocation) -> dict[str, Any]:
        record = invocation.to_json()
        patient, user = record["patient"], record["user"]
        record["patient"] = self.pseudonym(patient)
        record["user"] = self.pseudonym(user)
        if self._key is not None and record["trace"] is not None:
            text = json.dumps(record["trace"])
            for original, hidden in ((patient, record["patient"]), (user, record["user"])):
                if original and hidden:
                    text = text.replace(json.dumps(original)[1:-1], hidden)
            record["trace"] = json.loads(text)
        record["kb_version"] = self.kb_version
        record["kb_hash"] = self.kb_hash
        return record

    def record_invocation(self, invocation: Invocation) -> None:
        record = self._prepare(invocation)
        item = {"kind": "invocation", "record": record}
        try:
            self.store_record(record)
        except OUTAGE:  # the response must go out; the spool keeps the record until it is back
            log.warning("audit store unavailable; record %s spooled", record["record_id"])
            self._spool(item)
            return
        except Exception:  # a record the store refuses will not be taken later either
            log.exception("audit store refused record %s; kept aside", record["record_id"])
            self.spool.reject(item)
            return
        self.replay_spool()

    def _spool(self, item: dict[str, Any]) -> None:
        try:
            self.spool.append(item)
        except OSError:
            log.exception("audit spool unwritable; an audit record is lost")

    def store_record(self, record: dict[str, Any]) -> None:
        """Insert one prepared record and its cards and rule outcomes; a no-op if present
        (a spooled record replayed after it was stored)."""
        try:
            with self.engine.begin() as conn:
                self._insert(conn, record)
        except IntegrityError:
            with self.engine.connect() as conn:
                stored = conn.execute(
                    select(schema.invocations.c.record_id).where(
                        schema.invocations.c.record_id == record["record_id"]
                    )
                ).first()
            if stored is None:
                raise

    def _insert(self, conn: Connection, record: dict[str, Any]) -> None:
        # Plain INSERT statements built once, with parameters per call: building a statement
        # with .values() each time cost more than the database write itself.
        versions = _rule_versions(record["trace"])
        conn.execute(
            INSERT_INVOCATION,
            {
                "record_id": record["record_id"],
                "received_at": _datetime(record["received_at"]),
                "endpoint": record["endpoint"],
                "service_id": record["service_id"],
                "hook": record["hook"],
                "hook_instance": record["hook_instance"],
                "status": record["status"],
                "reason": record["reason"],
                "issuer": record["issuer"],
                "tenant": record["tenant"],
                "patient": record["patient"],
                "user_ref": record["user"],
                "kb_version": record["kb_version"],
                "kb_hash": record["kb_hash"],
                "latency_ms": record["latency_ms"],
                "cards_count": len(record["cards"]),
                "trace": record["trace"],
            },
        )
        if record["cards"]:
            conn.execute(
                INSERT_CARD,
                [
                    {
                        "card_uuid": card["uuid"],
                        "record_id": record["record_id"],
                        "service_id": record["service_id"],
                        "rule_id": card["rule"],
                        "rule_version": versions.get(card["rule"]),
                        "indicator": card["indicator"],
                        "summary": card["summary"],
                        "suggestions": card["suggestions"],
                    }
                    for card in record["cards"]
                ],
            )
        outcomes = _rule_outcomes(record["record_id"], record["trace"])
        if outcomes:
            conn.execute(INSERT_OUTCOME, outcomes)

    def rehearse(self, invocation: Invocation) -> None:
        """Run a record's inserts in a transaction that is rolled back: a worker's first real
        write then finds its connection open and its statements compiled."""
        with self.engine.connect() as conn:
            transaction = conn.begin()
            try:
                self._insert(conn, self._prepare(invocation))
            finally:
                transaction.rollback()

    def replay_spool(self) -> int:
        """Move spooled records into the store; returns how many were handled."""
        if not self.spool.pending() or not self._replaying.acquire(blocking=False):
            return 0
        try:
            replayed = self.spool.replay(self._store_spooled, OUTAGE)
        finally:
            self._replaying.release()
        if replayed:
            log.info("audit: replayed %d spooled records", replayed)
        return replayed

    def _store_spooled(self, item: dict[str, Any]) -> None:
        if item.get("kind") == "feedback":
            # from_json also reads feedback spooled before override_reasons existed.
            feedback = FeedbackItem.from_json(item["item"])
            outcome = self._store_feedback(feedback, _datetime(item["received_at"]))
            if outcome not in {"stored", "duplicate"}:
                log.warning("audit: spooled feedback dropped on replay: %s", outcome)
        else:
            self.store_record(item["record"])

    # --- feedback ------------------------------------------------------------------------

    def record(self, items: Sequence[FeedbackItem]) -> FeedbackResult:
        # Cards issued during an outage are still in the spool: load them first, or their
        # feedback would be refused as feedback for cards never issued.
        self.replay_spool()
        result = FeedbackResult()
        now = datetime.now(UTC)
        for index, item in enumerate(items):
            try:
                outcome = self._store_feedback(item, now)
            except OUTAGE:
                log.warning("audit store unavailable; feedback for a card spooled")
                self._spool(
                    {
                        "kind": "feedback",
                        "item": item.to_json(),
                        "received_at": now.isoformat(),
                    }
                )
                result.stored += 1
                continue
            if outcome == "stored":
                result.stored += 1
            elif outcome == "duplicate":
                result.duplicates += 1
            else:
                result.rejected.append((index, outcome))
        return result

    def _store_feedback(self, item: FeedbackItem, received_at: datetime) -> str:
        """ "stored", "duplicate", or why the item was refused."""
        with self.engine.begin() as conn:
            card = conn.execute(
                select(schema.cards.c.suggestions, schema.cards.c.service_id).where(
                    schema.cards.c.card_uuid == item.card
                )
            ).first()
            if card is None:
                return f"card {item.card!r} was not issued by this service"
            if card.service_id and card.service_id != item.service_id:
                return f"card {item.card!r} was issued by another service"
            offered = {s["uuid"] for s in card.suggestions or ()}
            unknown = [s for s in item.accepted_suggestions if s not in offered]
            if unknown:
                return f"suggestion {unknown[0]!r} is not one of card {item.card!r}'s suggestions"
            first = next((r for r in item.override_reasons if r.reason), None)
            try:
                with conn.begin_nested():
                    conn.execute(
                        insert(schema.feedback).values(
                            card_uuid=item.card,
                            service_id=item.service_id,
                            outcome=item.outcome,
                            outcome_timestamp=item.outcome_timestamp,
                            accepted_suggestions=list(item.accepted_suggestions),
                            override_system=first.system if first else None,
                            override_code=first.code if first else None,
                            override_display=first.display if first else None,
                            override_comment=item.override_comment,
                            received_at=received_at,
                            override_reasons=[r.to_json() for r in item.override_reasons] or None,
                            extra=dict(item.extra) if item.extra else None,
                        )
                    )
            except IntegrityError:
                return "duplicate"
            return "stored"

    # --- upkeep --------------------------------------------------------------------------

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(select(1))
            return True
        except SQLAlchemyError:
            return False

    def prune(self, older_than_days: int) -> int:
        """Delete invocations older than the retention period, with their cards and feedback."""
        cutoff = datetime.now(UTC) - timedelta(days=older_than_days)
        with self.engine.begin() as conn:
            old = select(schema.invocations.c.record_id).where(
                schema.invocations.c.received_at < cutoff
            )
            old_cards = select(schema.cards.c.card_uuid).where(schema.cards.c.record_id.in_(old))
            conn.execute(delete(schema.feedback).where(schema.feedback.c.card_uuid.in_(old_cards)))
            conn.execute(delete(schema.cards).where(schema.cards.c.record_id.in_(old)))
            conn.execute(
                delete(schema.rule_outcomes).where(schema.rule_outcomes.c.record_id.in_(old))
            )
            removed = conn.execute(
                delete(schema.invocations).where(schema.invocations.c.received_at < cutoff)
            )
            return int(removed.rowcount or 0)

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(select(func.count()).select_from(schema.invocations)).scalar_one()
            )


def _datetime(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def _rule_versions(trace: Any) -> dict[str, str]:
    versions: dict[str, str] = {}
    for evaluation in (trace or {}).get("evaluations", []) if isinstance(trace, dict) else []:
        for rule in evaluation.get("rules", []):
            versions[rule["rule"]] = rule["version"]
    return versions


def _rule_outcomes(record_id: str, trace: Any) -> list[dict[str, Any]]:
    if not isinstance(trace, dict):
        return []
    return [
        {
            "record_id": record_id,
            # Prefetched ids are not length-checked; the column holds 128 characters.
            "observation": str(evaluation.get("observation") or "")[:128] or None,
            "rule_id": rule["rule"],
            "rule_version": rule["version"],
            "fired": bool(rule["fired"]),
        }
        for evaluation in trace.get("evaluations", [])
        for rule in evaluation.get("rules", [])
    ]
