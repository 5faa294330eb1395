"""Alembic environment: runs migrations on the connection the caller hands over
(cds_service.audit.migrate), so the same code migrates SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import context

from cds_service.audit.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
