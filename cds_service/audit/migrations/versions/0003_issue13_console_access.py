"""Console access log: who viewed which console page, and when (issue 13).

Revision ID: 0003
Revises: 0002 (issue 11's feedback columns; this was 0002_issue13 on its branch)
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_access",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_name", sa.String(256)),
        sa.Column("auth", sa.String(16), nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("path", sa.String(1000), nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("remote_addr", sa.String(64)),
    )
    op.create_index("ix_console_access_at", "console_access", ["at"])


def downgrade() -> None:
    op.drop_table("console_access")
