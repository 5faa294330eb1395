"""A migrated audit-store engine on SQLite or, when ALP_TEST_DATABASE_URL is set, on PostgreSQL
in a schema of its own (dropped afterwards), so tests on both databases share one set-up."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from cds_service.audit import migrate
from cds_service.audit.store import make_engine

PG_URL = os.environ.get("ALP_TEST_DATABASE_URL")
BACKENDS = [
    "sqlite",
    pytest.param(
        "postgresql",
        marks=pytest.mark.skipif(
            not PG_URL, reason="set ALP_TEST_DATABASE_URL to run against PostgreSQL"
        ),
    ),
]


def migrated_engine(backend: str, tmp_path: Path, prefix: str) -> Iterator[Engine]:
    """Yield a migrated engine for `backend`; the PostgreSQL schema is dropped afterwards."""
    if backend == "sqlite":
        built = make_engine(f"sqlite:///{tmp_path / 'audit.sqlite3'}")
        migrate.upgrade(built)
        yield built
        built.dispose()
        return
    assert PG_URL
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    separator = "&" if "?" in PG_URL else "?"
    built = make_engine(f"{PG_URL}{separator}options=-csearch_path%3D{name}")
    migrate.upgrade(built)
    yield built
    built.dispose()
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
    admin.dispose()
