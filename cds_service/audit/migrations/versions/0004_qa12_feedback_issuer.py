"""Feedback records who sent it: the issuer (JWT `iss`) of the feedback call (QA 12 #11).

Feedback is taken only from the issuer of the call that produced the card; the column says who
sent each row (NULL in development mode, and for rows stored before this revision).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("feedback", sa.Column("issuer", sa.String(512)))


def downgrade() -> None:
    with op.batch_alter_table("feedback") as batch:
        batch.drop_column("issuer")
