"""Feedback keeps every override reason and the fields the service does not interpret.

Epic sends `overrideReasons` (a list of reason and comment); 2.0.1 sends one `overrideReason`.
The existing override_* columns keep the first reason; `override_reasons` keeps all of them and
`extra` what else the item carried (an extension, a future field), keyed by path.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("feedback", sa.Column("override_reasons", sa.JSON))
    op.add_column("feedback", sa.Column("extra", sa.JSON))


def downgrade() -> None:
    with op.batch_alter_table("feedback") as batch:
        batch.drop_column("extra")
        batch.drop_column("override_reasons")
