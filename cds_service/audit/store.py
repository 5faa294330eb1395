"""The audit store: invocation records, the cards they returned, rule outcomes, and feedback.

Write-behind (ARCHITECTURE section 9): an invocation's record is appended to the local spool
(spool.py) before its response goes out, and a background writer thread in each process loads the
spool into the database in batches, every `ALP_CDS_AUDIT_BATCH_MS`. Without a running writer (a
test client, a one-off command) each append is loaded at once. Inserts are idempotent by record
id, so a batch loaded twice (a kill between insert and delete) stores nothing twice; when the
database is unreachable the batch waits and is retried; a record the store refuses is set aside.
Patient and user references can be replaced by a keyed hash (HMAC-SHA256) before storage.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Dialect,
    Engine,
    Table,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import (
    DisconnectionError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as SqlTimeoutError

from cds_service import strict_json
from cds_service.audit import schema
from cds_service.audit.spool import Spool
from cds_service.hooks.feedback import FeedbackItem, FeedbackResult
from cds_service.hooks.invocation import Invocation
from cds_service.hooks.trace import DecisionTrace

log = logging.getLogger(__name__)
# Errors that mean "the database cannot be reached now", as opposed to "this record is bad".
OUTAGE = (OperationalError, InterfaceError, SqlTimeoutError, DisconnectionError)
NOT_ISSUED = " was not issued by this service"
BATCH_SIZE = 500  # records per transaction when loading the spool


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'audit.sqlite3'}"


def _json_text(value: Any) -> str:
    return strict_json.dumps(value).decode()


# The trace column is written with orjson: the one serialisation of a record's decision trace.
JSON_CODEC: dict[str, Any] = {"json_serializer": _json_text, "json_deserializer": strict_json.loads}


def make_engine(url: str) -> Engine:
    """The audit store's engine. `hide_parameters`: SQLAlchemy's errors otherwise quote the
    values of the failed statement (`[parameters: ...]`), and those are patient references,
    resource ids and comments; every error the store logs would carry them into the log."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            hide_parameters=True,
            **JSON_CODEC,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(connection: Any, _: Any) -> None:
            # WAL lets readers and the one writer work at once; NORMAL sync is durable in WAL.
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=10,
        hide_parameters=True,
        **JSON_CODEC,
    )


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
        self._flushing = threading.Lock()
        self._writer: _Writer | None = None
        self.outage = False

    # --- writing -------------------------------------------------------------------------

    def pseudonym(self, reference: str | None) -> str | None:
        if reference is None or self._key is None:
            return reference
        digest = hmac.new(self._key, reference.encode(), hashlib.sha256).hexdigest()
        kind = reference.split("/")[0] if "/" in reference else "ref"
        return f"{kind}/pseudo-{digest[:32]}"

    def _prepare(self, invocation: Invocation) -> dict[str, Any]:
        """The record as stored and spooled: the invocation's fields, its cards and rule
        outcomes as rows, and the decision trace as JSON, each read once from the typed trace."""
        patient, user = self.pseudonym(invocation.patient), self.pseudonym(invocation.user)
        trace = invocation.trace
        if trace is not None and self._key is not None:
            hidden = [
                (original, pseudonym)
                for original, pseudonym in ((invocation.patient, patient), (invocation.user, user))
                if original and pseudonym
            ]
            trace = trace.rewritten(_replacer(hidden))
        trace = trace or DecisionTrace()
        return {
            "record_id": invocation.record_id,
            "endpoint": invocation.endpoint,
            "service_id": invocation.service_id,
            "received_at": invocation.received_at,
            "hook": invocation.hook,
            "hook_instance": invocation.hook_instance,
            "status": invocation.status,
            "reason": invocation.reason,
            "issuer": invocation.issuer,
            "tenant": invocation.tenant,
            "patient": patient,
            "user": user,
            "latency_ms": invocation.latency_ms,
            "kb_version": self.kb_version,
            "kb_hash": self.kb_hash,
            "cards": [
                {
                    "uuid": card.uuid,
                    "rule": card.rule,
                    "rule_version": card.rule_version,
                    "indicator": card.indicator,
                    "summary": card.summary,
                    "suggestions": [s.to_json() for s in card.suggestions],
                }
                for card in trace.cards
            ],
            "outcomes": _outcome_rows(trace),
            # As JSON text: the writer hands it to the database as it is (a structure here
            # would be written into the spool line, read back and written out again).
            "trace": _json_text(trace.to_json()) if invocation.trace is not None else None,
        }

    def record_invocation(self, invocation: Invocation) -> None:
        record = self._prepare(invocation)
        item = {"kind": "invocation", "record": record}
        try:
            self.spool.append(item)
        except OSError:  # no spool (disk full, permissions): write through, as before
            log.exception("audit spool unwritable; record %s written directly", record["record_id"])
            self._store_directly(item)
            return
        if not self.writer_running():
            self.flush()

    def _store_directly(self, item: dict[str, Any]) -> None:
        try:
            self.store_record(item["record"])
        except OUTAGE:
            # The record id only: the record holds patient references and the decision trace.
            log.error(
                "audit store and spool both unavailable; record %s lost",
                item["record"].get("record_id"),
            )
        except Exception:
            log.exception("audit store refused a record; kept aside")
            self.spool.reject(item)

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
                self._insert(conn, [record])
        except IntegrityError:
            if not self._stored_ids([record["record_id"]]):
                raise

    def _stored_ids(self, record_ids: Sequence[str]) -> set[str]:
        column = schema.invocations.c.record_id
        with self.engine.connect() as conn:
            return set(conn.execute(select(column).where(column.in_(record_ids))).scalars())

    def _insert(self, conn: Connection, records: Sequence[dict[str, Any]]) -> None:
        # One executemany per table for the whole batch (_insert_rows).
        records = [r if "outcomes" in r else _from_legacy(r) for r in records]
        _insert_rows(
            conn,
            schema.invocations,
            [
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
                    "trace": _trace_text(record["trace"]),
                }
                for record in records
            ],
            as_text=("trace",),
        )
        cards = [
            {
                "card_uuid": card["uuid"],
                "record_id": record["record_id"],
                "service_id": record["service_id"],
                "rule_id": card["rule"],
                "rule_version": card["rule_version"],
                "indicator": card["indicator"],
                "summary": card["summary"],
                "suggestions": card["suggestions"],
            }
            for record in records
            for card in record["cards"]
        ]
        if cards:
            _insert_rows(conn, schema.cards, cards)
        outcomes = [
            {"record_id": record["record_id"], **row}
            for record in records
            for row in record["outcomes"]
        ]
        if outcomes:
            _insert_rows(conn, schema.rule_outcomes, outcomes)

    def rehearse(self, invocation: Invocation) -> None:
        """Run a record's inserts in a transaction that is rolled back: a worker's first real
        write then finds its connection open and its statements compiled."""
        with self.engine.connect() as conn:
            transaction = conn.begin()
            try:
                self._insert(conn, [self._prepare(invocation)])
            finally:
                transaction.rollback()

    # --- the write-behind writer ------------------------------------------------------------

    def writer_running(self) -> bool:
        writer = self._writer
        return writer is not None and writer.pid == os.getpid() and writer.is_alive()

    def start_writer(self, batch_ms: int = 150) -> None:
        """Start this process's background writer (after fork: threads do not survive it).
        Its first batch loads whatever an earlier run left in the spool."""
        if self.writer_running():
            return
        self._writer = _Writer(self, batch_ms / 1000)
        self._writer.start()

    def stop_writer(self, timeout: float = 10.0) -> None:
        """Stop the writer after it has loaded what is spooled (graceful shutdown)."""
        writer, self._writer = self._writer, None
        if writer is not None and writer.pid == os.getpid():
            writer.stop(timeout)

    def flush(self, everything: bool = False) -> int:
        """Load the spool into the store now; returns how many records were handled. With
        `everything`, batches another writer is loading and the files sibling processes are
        appending to are read too (inserts are idempotent): feedback must find a card whose
        record a sibling worker has not stored yet, and `audit show` a record just answered."""
        with self._flushing:
            self.spool.take()
            handled = 0
            for batch in self.spool.batches():
                with self.spool.claim(batch) as handle:
                    if handle is None:
                        if everything:
                            handled += self._load_unclaimed(batch)
                        continue
                    records = self.spool.read(handle, batch)
                    rest = self._load(records)
                    handled += len(records) - len(rest)
                    if rest:  # the store is down: keep them for the next attempt
                        self.spool.rewrite(batch, rest)
                        self.outage = True
                        return handled
                    batch.unlink(missing_ok=True)
            if everything:  # and what sibling processes have appended but not yet taken
                for live in self.spool.live_files():
                    records = self.spool.read_appended(live)
                    handled += len(records) - len(self._load(records))
            self.outage = False
        if handled:
            log.debug("audit: loaded %d spooled records", handled)
        return handled

    def _load_unclaimed(self, batch: Path) -> int:
        try:
            with open(batch, encoding="utf-8") as handle:
                records = self.spool.read(handle, batch)
        except FileNotFoundError:
            return 0
        return len(records) - len(self._load(records))

    replay_spool = flush

    def _load(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Store spooled items in order, invocations in batches; returns those still to store
        (the database is unreachable)."""
        index = 0
        while index < len(items):
            chunk: list[dict[str, Any]] = []
            while index < len(items) and len(chunk) < BATCH_SIZE:
                if items[index].get("kind") == "feedback":
                    break
                chunk.append(items[index])
                index += 1
            if chunk:
                try:
                    self._store_batch([item["record"] for item in chunk])
                except OUTAGE:
                    return items[index - len(chunk) :]
                continue
            try:
                self._store_spooled(items[index])
            except OUTAGE:
                return items[index:]
            except Exception:  # a record the store refuses: set it aside
                log.exception("audit spool: item refused; kept in %s", self.spool.rejected)
                self.spool.reject(items[index])
            index += 1
        return []

    def _store_batch(self, records: list[dict[str, Any]]) -> None:
        """Insert records not yet stored in one transaction; one by one if that fails."""
        stored = self._stored_ids([r["record_id"] for r in records])
        fresh = [r for r in records if r["record_id"] not in stored]
        if not fresh:
            return
        try:
            with self.engine.begin() as conn:
                self._insert(conn, fresh)
            return
        except OUTAGE:
            raise
        except Exception:  # one bad record, or a sibling stored some meanwhile
            log.debug("audit: batch insert failed; storing one by one", exc_info=True)
        for record in fresh:
            try:
                self.store_record(record)
            except OUTAGE:
                raise
            except Exception:
                log.exception(
                    "audit: record %s refused by the store; kept in %s",
                    record.get("record_id"),
                    self.spool.rejected,
                )
                self.spool.reject({"kind": "invocation", "record": record})

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
        """All or nothing: every item is checked first, and one refused item stores none of
        the batch (a 400 then means nothing was kept, so a client can mend and resend it)."""
        # Cards whose records are still in the spool (written behind, or issued during an
        # outage): load them first, or their feedback would be refused as for cards never issued.
        self._load_spool_quietly()
        now = datetime.now(UTC)
        try:
            result = self._store_batch_of_feedback(items, now)
            if self.spool.pending() and any(why.endswith(NOT_ISSUED) for _, why in result.rejected):
                self._load_spool_quietly(everything=True)
                result = self._store_batch_of_feedback(items, now)
        except OUTAGE:
            # Nothing of the batch was committed (one transaction): spool all of it.
            log.warning("audit store unavailable; feedback for %d card(s) spooled", len(items))
            for item in items:
                self._spool(
                    {"kind": "feedback", "item": item.to_json(), "received_at": now.isoformat()}
                )
            return FeedbackResult(stored=len(items))
        return result

    def _store_batch_of_feedback(
        self, items: Sequence[FeedbackItem], received_at: datetime
    ) -> FeedbackResult:
        """In one transaction: store every item (a repeat of one already stored counts as a
        duplicate), or, if any is refused, none."""
        result = FeedbackResult()
        with self.engine.begin() as conn:
            for index, item in enumerate(items):
                why = self._feedback_refusal(conn, item)
                if why is not None:
                    result.rejected.append((index, why))
            if result.rejected:
                return result
            for item in items:
                if self._insert_feedback(conn, item, received_at):
                    result.stored += 1
                else:
                    result.duplicates += 1
        return result

    def _store_feedback(self, item: FeedbackItem, received_at: datetime) -> str:
        """One item (spool replay): "stored", "duplicate", or why it was refused."""
        result = self._store_batch_of_feedback([item], received_at)
        if result.rejected:
            return result.rejected[0][1]
        return "stored" if result.stored else "duplicate"

    def _feedback_refusal(self, conn: Connection, item: FeedbackItem) -> str | None:
        cards, invocations = schema.cards, schema.invocations
        card = conn.execute(
            select(cards.c.suggestions, cards.c.service_id, invocations.c.issuer)
            .join(invocations, invocations.c.record_id == cards.c.record_id)
            .where(cards.c.card_uuid == item.card)
        ).first()
        # A card issued to another issuer (another EHR or tenant) is answered as unknown: one
        # client may not set the outcome of another's cards, nor learn that they exist.
        if card is None or (item.issuer_known and card.issuer != item.issuer):
            return f"card {item.card!r}{NOT_ISSUED}"
        if card.service_id and card.service_id != item.service_id:
            return f"card {item.card!r} was issued by another service"
        offered = {s["uuid"] for s in card.suggestions or ()}
        unknown = [s for s in item.accepted_suggestions if s not in offered]
        if unknown:
            return f"suggestion {unknown[0]!r} is not one of card {item.card!r}'s suggestions"
        return None

    def _insert_feedback(self, conn: Connection, item: FeedbackItem, received_at: datetime) -> bool:
        """False when this (card, outcome, outcomeTimestamp) is already stored.

        The database skips a duplicate itself (ON CONFLICT DO NOTHING, which SQLite and
        PostgreSQL both have): a savepoint per item would do it too, but pysqlite opens no
        transaction before the first write, so a savepoint there starts one of its own and its
        RELEASE commits the item, and a batch would no longer be all or nothing."""
        first = next((r for r in item.override_reasons if r.reason), None)
        values = {
            "card_uuid": item.card,
            "service_id": item.service_id,
            "outcome": item.outcome,
            "outcome_timestamp": item.outcome_timestamp,
            "accepted_suggestions": list(item.accepted_suggestions),
            "override_system": first.system if first else None,
            "override_code": first.code if first else None,
            "override_display": first.display if first else None,
            "override_comment": item.override_comment,
            "received_at": received_at,
            "override_reasons": [r.to_json() for r in item.override_reasons] or None,
            "extra": dict(item.extra) if item.extra else None,
            "issuer": item.issuer,
        }
        dialect = conn.dialect.name
        if dialect == "postgresql":
            pg = postgresql.insert(schema.feedback).values(**values).on_conflict_do_nothing()
            return bool(conn.execute(pg).rowcount)
        if dialect == "sqlite":
            lite = sqlite.insert(schema.feedback).values(**values).on_conflict_do_nothing()
            return bool(conn.execute(lite).rowcount)
        # The audit store's two backends (ARCHITECTURE section 9); make_engine builds no other.
        raise NotImplementedError(f"feedback on {dialect}: SQLite and PostgreSQL only")

    def _load_spool_quietly(self, everything: bool = False) -> None:
        try:
            if self.spool.pending():
                self.flush(everything)
        except OUTAGE:
            pass
        except OSError:
            log.exception("audit spool unreadable")

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


def _trace_text(trace: Any) -> str | None:
    """A record's trace as JSON text (spooled records before this version held a structure)."""
    return trace if trace is None or isinstance(trace, str) else _json_text(trace)


def _datetime(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def _replacer(pairs: Sequence[tuple[str, str]]) -> Callable[[str], str]:
    def replace(text: str) -> str:
        for original, hidden in pairs:
            if original in text:
                text = text.replace(original, hidden)
        return text

    return replace


@lru_cache(maxsize=16)
def _compiled_insert(
    dialect: Dialect, table: Table, columns: tuple[str, ...]
) -> tuple[str, tuple[str, ...] | None, tuple[tuple[str, Callable[[Any], Any]], ...]]:
    """The INSERT for these columns in the dialect's SQL, its parameter order when positional,
    and each column's conversion to what the driver takes (JSON text, SQLite's datetime text)."""
    # inline(): no RETURNING of the generated key (PostgreSQL would add one for rule_outcomes).
    compiled = insert(table).inline().compile(dialect=dialect, column_keys=list(columns))
    convert = tuple(
        (key, process)
        for key in columns
        if (process := table.c[key].type.dialect_impl(dialect).bind_processor(dialect)) is not None
    )
    positions = compiled.positiontup
    return str(compiled), tuple(positions) if positions is not None else None, convert


def _insert_rows(
    conn: Connection, table: Table, rows: list[dict[str, Any]], as_text: tuple[str, ...] = ()
) -> None:
    """Rows straight to the driver's executemany, the statement and the columns' conversions
    taken from SQLAlchemy once per dialect: a record has a rule-outcome row per rule, and
    building each row's parameters through SQLAlchemy's statement execution cost more than the
    database's own insert. Every row has the first row's keys; the JSON columns in `as_text`
    come already serialised (what the JSON type's conversion would have made of them)."""
    sql, positions, convert = _compiled_insert(conn.dialect, table, tuple(rows[0]))
    if as_text:
        convert = tuple((key, process) for key, process in convert if key not in as_text)
    if convert:
        rows = [{**row, **{key: process(row[key]) for key, process in convert}} for row in rows]
    if positions is None:  # named parameters (psycopg)
        conn.exec_driver_sql(sql, rows)
    else:  # positional (sqlite3)
        conn.exec_driver_sql(sql, [tuple(row[key] for key in positions) for row in rows])


def _outcome_rows(trace: DecisionTrace) -> list[dict[str, Any]]:
    """Rows for the rules whose conditions held: those that fired and those another rule
    superseded (the console lists those). Why every other rule did not fire is in the record's
    trace; a row for each (31 per record) cost the writer more than the rest of the record."""
    return [
        {
            # Prefetched ids are not length-checked; the column holds 128 characters.
            "observation": evaluation.item[:128] or None,
            "rule_id": rule.rule,
            "rule_version": rule.version,
            "fired": rule.fired,
        }
        for evaluation in trace.evaluations
        for rule in evaluation.rules
        if rule.fired or rule.suppressed_by
    ]


def _from_legacy(record: dict[str, Any]) -> dict[str, Any]:
    """A spooled record written before records carried their rows: derive them from its trace
    (the stored JSON shape is the same), so an upgrade during an outage loses nothing."""
    trace = DecisionTrace.from_json(record.get("trace"))  # always a structure in such records
    versions = {r.rule: r.version for e in trace.evaluations for r in e.rules}
    cards = [
        {"summary": None, **card, "rule_version": versions.get(card.get("rule"))}
        for card in record.get("cards") or ()
    ]
    return {**record, "cards": cards, "outcomes": _outcome_rows(trace)}


class _Writer:
    """The background thread that loads the spool into the store: every `interval`, fsync
    within the spool's window, and back off (up to 5 s) while the store is unreachable."""

    def __init__(self, store: AuditStore, interval: float) -> None:
        self.store = store
        self.interval = interval
        self.pid = os.getpid()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float) -> None:
        self._stop.set()
        self.store.spool.wake()
        self._thread.join(timeout)
        try:
            self.store.flush()  # whatever came in since the last batch
        except Exception:
            log.exception("audit writer: final load failed; records stay in the spool")

    def _run(self) -> None:
        # Asleep until an append needs syncing or a batch is due: an idle worker does not wake
        # every fsync window, and a busy one syncs once per window however many records came.
        spool = self.store.spool
        window = spool.fsync_ms / 1000
        due = 0.0  # the first batch at once: what an earlier run left behind
        backoff = self.interval
        while not self._stop.is_set():
            try:
                if window > 0 and spool.wait_unsynced(max(0.0, due - time.monotonic())):
                    # The window's other appends share this fsync; a batch due sooner is not
                    # kept waiting (syncing early still keeps the window).
                    self._stop.wait(min(window, max(0.0, due - time.monotonic())))
                    spool.sync()
                now = time.monotonic()
                if now >= due:
                    self.store.flush()
                    backoff = min(backoff * 2, 5.0) if self.store.outage else self.interval
                    due = now + backoff
                elif window <= 0:
                    self._stop.wait(due - now)
            except Exception:
                # Retried in a second; appends go on being synced within the window meanwhile.
                log.exception("audit writer: batch failed; retrying")
                due = time.monotonic() + 1.0
