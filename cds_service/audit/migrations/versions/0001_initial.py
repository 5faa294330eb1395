"""The audit store: invocations, cards, rule outcomes, feedback.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "invocations",
        sa.Column("record_id", sa.String(32), primary_key=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("endpoint", sa.String(16), nullable=False),
        sa.Column("service_id", sa.String(64)),
        sa.Column("hook", sa.String(200)),
        sa.Column("hook_instance", sa.String(128)),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("issuer", sa.String(512)),
        sa.Column("tenant", sa.String(256)),
        sa.Column("patient", sa.String(128)),
        sa.Column("user_ref", sa.String(256)),
        sa.Column("kb_version", sa.String(32), nullable=False),
        sa.Column("kb_hash", sa.String(64), nullable=False),
        sa.Column("latency_ms", sa.Float, nullable=False),
        sa.Column("cards_count", sa.Integer, nullable=False),
        sa.Column("trace", sa.JSON),
    )
    op.create_index("ix_invocations_received_at", "invocations", ["received_at"])
    op.create_index("ix_invocations_hook_instance", "invocations", ["hook_instance"])
    op.create_table(
        "cards",
        sa.Column("card_uuid", sa.String(64), primary_key=True),
        sa.Column(
            "record_id", sa.String(32), sa.ForeignKey("invocations.record_id"), nullable=False
        ),
        sa.Column("service_id", sa.String(64)),
        sa.Column("rule_id", sa.String(100)),
        sa.Column("rule_version", sa.String(20)),
        sa.Column("indicator", sa.String(16)),
        sa.Column("summary", sa.String(200)),
        sa.Column("suggestions", sa.JSON),
    )
    op.create_index("ix_cards_record_id", "cards", ["record_id"])
    op.create_index("ix_cards_rule_id", "cards", ["rule_id"])
    op.create_table(
        "rule_outcomes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "record_id", sa.String(32), sa.ForeignKey("invocations.record_id"), nullable=False
        ),
        sa.Column("observation", sa.String(128)),
        sa.Column("rule_id", sa.String(100), nullable=False),
        sa.Column("rule_version", sa.String(20)),
        sa.Column("fired", sa.Boolean, nullable=False),
    )
    op.create_index("ix_rule_outcomes_record_id", "rule_outcomes", ["record_id"])
    op.create_index("ix_rule_outcomes_rule_id", "rule_outcomes", ["rule_id"])
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("card_uuid", sa.String(64), sa.ForeignKey("cards.card_uuid"), nullable=False),
        sa.Column("service_id", sa.String(64)),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("outcome_timestamp", sa.String(40), nullable=False),
        sa.Column("accepted_suggestions", sa.JSON),
        sa.Column("override_system", sa.String(256)),
        sa.Column("override_code", sa.String(128)),
        sa.Column("override_display", sa.String(256)),
        sa.Column("override_comment", sa.Text),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("card_uuid", "outcome", "outcome_timestamp", name="uq_feedback_once"),
    )
    op.create_index("ix_feedback_card_uuid", "feedback", ["card_uuid"])


def downgrade() -> None:
    op.drop_table("feedback")
    op.drop_table("rule_outcomes")
    op.drop_table("cards")
    op.drop_table("invocations")
