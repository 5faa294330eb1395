"""The local append-only audit spool: every record lands here before its response goes out.

One JSON object per line in `audit-spool.jsonl`. An append holds an exclusive `flock` on a side
lock file, writes the line and flushes it to the operating system, so a killed process (kill -9)
loses nothing; fsync follows within the configured window (0: before the append returns), which
bounds what a host crash can take. gunicorn workers on one host share the file.

A writer takes the spool in one step: under the lock it renames the file to a batch file of its
own (`audit-spool.jsonl.<pid>-<n>.batch`); the next append starts a new spool. It then loads the
batch into the store without holding the spool lock (appends never wait for the database) and
deletes it. A batch file is held with its own `flock` while it is loaded, so a batch whose writer
died (a kill, a crash) is found unlocked and loaded by the next writer, on start or later. The
store's inserts are idempotent by record id, so a batch loaded twice stores nothing twice.
"""

from __future__ import annotations

import fcntl
import itertools
import json
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import orjson

log = logging.getLogger(__name__)


class Spool:
    def __init__(self, path: Path, fsync_ms: int = 0) -> None:
        self.path = path
        self.fsync_ms = fsync_ms
        self._lock_path = path.with_suffix(path.suffix + ".lock")
        self._names = itertools.count()
        self._unsynced = threading.Event()
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

    # --- appending -----------------------------------------------------------------------

    def append(self, record: dict[str, Any]) -> None:
        line = _line(record)
        with self._locked(), open(self.path, "ab") as spool:
            spool.write(line)
            spool.flush()
            if self.fsync_ms <= 0:
                os.fsync(spool.fileno())
            else:
                self._unsynced.set()

    def wake(self) -> None:
        """Wake a writer waiting in wait_unsynced (it is stopping)."""
        self._unsynced.set()

    def wait_unsynced(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for an append not yet fsynced; True if there is one."""
        return self._unsynced.wait(timeout)

    def sync(self) -> None:
        """fsync what was appended since the last sync (the writer calls this every window)."""
        if not self._unsynced.is_set():
            return
        self._unsynced.clear()
        # No lock: fsync is per file, and a spool renamed meanwhile is synced when taken.
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    # --- taking and loading --------------------------------------------------------------

    def take(self) -> Path | None:
        """Move the spool's lines into a new batch file of this process; None if empty."""
        with self._locked():
            try:
                if self.path.stat().st_size == 0:
                    return None
            except FileNotFoundError:
                return None
            batch = self.path.with_name(f"{self.path.name}.{os.getpid()}-{next(self._names)}.batch")
            os.replace(self.path, batch)
        try:
            fd = os.open(batch, os.O_RDONLY)
        except FileNotFoundError:  # already loaded by another writer
            return batch
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        return batch

    def batches(self) -> list[Path]:
        """Batch files present now: this process's and any left by a writer that died."""
        return sorted(self.path.parent.glob(f"{self.path.name}.*.batch"), key=lambda p: _mtime(p))

    @contextmanager
    def claim(self, batch: Path) -> Iterator[IO[str] | None]:
        """Hold a batch file for loading; None if another writer is loading it or it is gone."""
        try:
            handle = open(batch, encoding="utf-8")  # noqa: SIM115 (closed by the with below)
        except FileNotFoundError:
            yield None
            return
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield None
                return
            try:
                # Loaded and deleted by its owner between our open and our lock: nothing to do.
                if os.fstat(handle.fileno()).st_ino != os.stat(batch).st_ino:
                    yield None
                    return
            except FileNotFoundError:
                yield None
                return
            yield handle

    @staticmethod
    def read(handle: IO[str], batch: Path) -> list[dict[str, Any]]:
        records = []
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                records.append(_record(line))
            except ValueError:
                # A torn line (a crash mid-write, after no response went out) cannot be stored.
                log.error("audit spool: dropped an unreadable line %d of %s", number, batch.name)
        return records

    @staticmethod
    def rewrite(batch: Path, records: list[dict[str, Any]]) -> None:
        """Keep only `records` (those not yet stored) in a batch file."""
        temporary = batch.with_suffix(".tmp")
        temporary.write_bytes(b"".join(_line(r) for r in records))
        os.replace(temporary, batch)

    # --- set aside and backlog -----------------------------------------------------------

    @property
    def rejected(self) -> Path:
        return self.path.with_suffix(".rejected.jsonl")

    def reject(self, record: dict[str, Any]) -> None:
        """Keep a record the store refused, for a person to look at; never silently dropped."""
        with open(self.rejected, "ab") as out:
            out.write(_line(record))

    def depth(self) -> int:
        """Records not yet in the store: the spool and the batches being loaded."""
        total = 0
        for path in (self.path, *self.batches()):
            try:
                with open(path, "rb") as spool:
                    total += sum(1 for line in spool if line.strip())
            except FileNotFoundError:
                continue
        return total

    def pending(self) -> bool:
        try:
            if self.path.stat().st_size > 0:
                return True
        except FileNotFoundError:
            pass
        return bool(self.batches())


def _line(record: dict[str, Any]) -> bytes:
    try:
        return orjson.dumps(record, default=str) + b"\n"
    except TypeError:  # what orjson refuses (a lone surrogate, an int past 64 bits): escaped
        # The leading space (JSON allows it) tells _record to read it back the same way: orjson
        # would read the big integer as a float.
        return b" " + json.dumps(record, default=str, separators=(",", ":")).encode() + b"\n"


def _record(line: str) -> Any:
    if line.startswith(" "):  # written by the standard library (_line)
        return json.loads(line)
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:  # a line escaped before the marker existed
        return json.loads(line)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0
