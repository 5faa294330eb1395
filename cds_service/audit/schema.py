"""Tables of the audit store (SQLAlchemy Core). Migrations in migrations/ create them; this module
is what the code queries. Keep the two in step (a test compares them)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

invocations = Table(
    "invocations",
    metadata,
    Column("record_id", String(32), primary_key=True),
    Column("received_at", DateTime(timezone=True), nullable=False, index=True),
    Column("endpoint", String(16), nullable=False),
    Column("service_id", String(64)),
    Column("hook", String(200)),
    Column("hook_instance", String(128), index=True),
    Column("status", Integer, nullable=False),
    Column("reason", Text),
    Column("issuer", String(512)),
    Column("tenant", String(256)),
    Column("patient", String(128)),
    Column("user_ref", String(256)),
    Column("kb_version", String(32), nullable=False),
    Column("kb_hash", String(64), nullable=False),
    Column("latency_ms", Float, nullable=False),
    Column("cards_count", Integer, nullable=False),
    Column("trace", JSON),
)

cards = Table(
    "cards",
    metadata,
    Column("card_uuid", String(64), primary_key=True),
    Column(
        "record_id", String(32), ForeignKey("invocations.record_id"), nullable=False, index=True
    ),
    Column("service_id", String(64)),
    Column("rule_id", String(100), index=True),
    Column("rule_version", String(20)),
    Column("indicator", String(16)),
    Column("summary", String(200)),
    Column("suggestions", JSON),
)

# The rules whose conditions held in an invocation: `fired`, or superseded by another rule
# (`fired` false). Rules whose conditions failed have no row; the trace keeps why each did not.
rule_outcomes = Table(
    "rule_outcomes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "record_id", String(32), ForeignKey("invocations.record_id"), nullable=False, index=True
    ),
    Column("observation", String(128)),
    Column("rule_id", String(100), nullable=False, index=True),
    Column("rule_version", String(20)),
    Column("fired", Boolean, nullable=False),
)

feedback = Table(
    "feedback",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("card_uuid", String(64), ForeignKey("cards.card_uuid"), nullable=False, index=True),
    Column("service_id", String(64)),
    Column("outcome", String(16), nullable=False),
    Column("outcome_timestamp", String(40), nullable=False),
    Column("accepted_suggestions", JSON),
    Column("override_system", String(256)),
    Column("override_code", String(128)),
    Column("override_display", String(256)),
    Column("override_comment", Text),
    Column("received_at", DateTime(timezone=True), nullable=False),
    # Issue 11 (0002): every reason given (Epic sends a list; the columns above hold the first)
    # and the fields the service does not interpret, so no feedback is silently dropped.
    Column("override_reasons", JSON),
    Column("extra", JSON),
    # 0004: who sent it (the JWT's iss; NULL in development mode and for rows stored before).
    Column("issuer", String(512)),
    UniqueConstraint("card_uuid", "outcome", "outcome_timestamp", name="uq_feedback_once"),
)

# Who looked at what in the informatics console, and when (issue 13). Views, sign-ins refused,
# and sign-outs; the user is the console account or the name the trusted proxy asserted.
console_access = Table(
    "console_access",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("user_name", String(256)),
    Column("auth", String(16), nullable=False),
    Column("method", String(8), nullable=False),
    Column("path", String(1000), nullable=False),
    Column("status", Integer, nullable=False),
    Column("remote_addr", String(64)),
)
