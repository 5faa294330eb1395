"""The console's own audit trail: every view, refused sign-in and sign-out, in the audit store's
`console_access` table (who, what, when, from where, and the answer)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import Engine, insert

from cds_service.audit import schema

INSERT = insert(schema.console_access)
# What no stored text may hold: C0 controls but tab, LF and CR (PostgreSQL refuses NUL) and lone
# surrogates (UTF-8 cannot encode them). The same set the hook routes refuse in bodies
# (strict_json.loads_text); the console reads its addresses, not JSON.
UNFIT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")


def printable(text: str) -> str:
    """`text` with each unfit character written as its percent-escape (as it came in the URL),
    so a refused address can still be recorded."""
    return UNFIT.sub(
        lambda m: "".join(f"%{b:02X}" for b in m.group().encode("utf-8", "replace")), text
    )


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
                "user_name": printable(user)[:256] if user else None,
                "auth": auth[:16],
                "method": method[:8],
                "path": printable(path)[:1000],
                "status": status,
                "remote_addr": (remote_addr or "")[:64] or None,
            },
        )
