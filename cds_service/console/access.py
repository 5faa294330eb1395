"""The console's own audit trail: every view, refused sign-in and sign-out, in the audit store's
`console_access` table (who, what, when, from where, and the answer)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, insert

from cds_service.audit import schema

INSERT = insert(schema.console_access)


def record_access(
    engine: Engine,
    *,
    user: str | None,
    auth: str,
    method: str,
    path: str,
    status: int,
    remote_addr: str | None,
) -> None:
    """Raises when the store refuses: the caller then withholds the page (no unaudited views)."""
    with engine.begin() as conn:
        conn.execute(
            INSERT,
            {
                "at": datetime.now(UTC),
                "user_name": user[:256] if user else None,
                "auth": auth[:16],
                "method": method[:8],
                "path": path[:1000],
                "status": status,
                "remote_addr": (remote_addr or "")[:64] or None,
            },
        )
