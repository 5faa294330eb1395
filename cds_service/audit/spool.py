"""An append-only local spool for audit records the store could not take.

One JSON object per line. Appends and the replay that empties the spool hold an exclusive
`flock` on a side lock file, so gunicorn workers on one host never interleave a line or replay
the same line twice; the store's inserts are idempotent by record id, so a replay interrupted
half-way stores nothing twice either.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class Spool:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock_path = path.with_suffix(path.suffix + ".lock")
        path.parent.mkdir(parents=True, exist_ok=True)

    @contextmanager
    def _locked(self, blocking: bool = True) -> Iterator[bool]:
        with open(self._lock_path, "a+") as lock:
            flags = fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB)
            try:
                fcntl.flock(lock, flags)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def append(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, default=str, separators=(",", ":")) + "\n"
        with self._locked(), open(self.path, "a", encoding="utf-8") as spool:
            spool.write(line)
            spool.flush()
            os.fsync(spool.fileno())

    @property
    def rejected(self) -> Path:
        return self.path.with_suffix(".rejected.jsonl")

    def reject(self, record: dict[str, Any]) -> None:
        """Keep a record the store refused, for a person to look at; never silently dropped."""
        with open(self.rejected, "a", encoding="utf-8") as out:
            out.write(json.dumps(record, default=str, separators=(",", ":")) + "\n")

    def depth(self) -> int:
        try:
            with open(self.path, encoding="utf-8") as spool:
                return sum(1 for line in spool if line.strip())
        except FileNotFoundError:
            return 0

    def pending(self) -> bool:
        try:
            return self.path.stat().st_size > 0
        except FileNotFoundError:
            return False

    def replay(
        self,
        store: Callable[[dict[str, Any]], None],
        outage: tuple[type[BaseException], ...] = (Exception,),
    ) -> int:
        """Hand every spooled record to `store`, oldest first. An `outage` error stops the
        replay and keeps that record and the rest for next time; any other error means the
        record itself is bad: it moves to the rejected file (kept, logged) so it cannot block
        the records behind it."""
        with self._locked(blocking=False) as locked:
            if not locked:
                return 0  # another worker is replaying
            try:
                lines = self.path.read_text("utf-8").splitlines()
            except FileNotFoundError:
                return 0
            done = 0
            for index, line in enumerate(lines):
                if not line.strip():
                    done = index + 1
                    continue
                try:
                    record = json.loads(line)
                except ValueError:
                    # A torn line (a crash mid-write) cannot be stored; drop it, say so.
                    log.error("audit spool: dropped an unreadable line %d", index + 1)
                    done = index + 1
                    continue
                try:
                    store(record)
                except outage:  # the store is still down: keep this line and the rest
                    break
                except Exception:  # a record the store refuses: set it aside
                    log.exception(
                        "audit spool: record refused by the store; kept in %s", self.rejected
                    )
                    self.reject(record)
                done = index + 1
            rest = lines[done:]
            temporary = self.path.with_suffix(".tmp")
            temporary.write_text("".join(f"{line}\n" for line in rest), "utf-8")
            os.replace(temporary, self.path)
            return done
