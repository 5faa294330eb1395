"""The local append-only audit spool: every record lands here before its response goes out.

One JSON object per line. Each process appends to a file of its own,
`audit-spool.jsonl.<pid>-<tag>-<n>.open`, held open for appending and `flock`ed for the file's
whole life: an append is one `write` of the line under a thread lock, so a killed process
(kill -9) loses nothing (the line is in the operating system), and fsync follows within the
configured window (0: before the append returns), which bounds what a host crash can take. (The
spool was one file shared by the workers, locked, opened and closed on every append: seven system
calls a record, each a point where the request's threads handed the interpreter lock around.)

The process's writer takes its file in one step: under the thread lock it renames it to a batch
file (`.batch`); the next append starts a new file. It then loads the batch into the store and
deletes it. A batch file is held with its own `flock` while it is loaded, so a batch whose writer
died is found unlocked and loaded by the next writer, on start or later; a `.open` file found
unlocked belongs to a process that died, and is taken as a batch the same way. The store's inserts
are idempotent by record id, so a record loaded twice is stored once. A shared spool written by
an earlier version (the file named `audit-spool.jsonl` itself) is taken under its old lock.
"""

from __future__ import annotations

import fcntl
import itertools
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

import orjson

log = logging.getLogger(__name__)

OPEN, NEW, BATCH = ".open", ".new", ".batch"
NEW_GRACE_SECONDS = 60.0
"""A `.new` file is one a process is creating (it is renamed `.open` once locked); only one left
this long is a crash's leftover."""


class Spool:
    def __init__(self, path: Path, fsync_ms: int = 0) -> None:
        self.path = path
        self.fsync_ms = fsync_ms
        self._lock_path = path.with_suffix(path.suffix + ".lock")
        self._names = itertools.count()
        self._tag = secrets.token_hex(4)  # two spools of one process, or a reused pid, differ
        self._unsynced = threading.Event()
        self._append_lock = threading.Lock()
        self._sync_lock = threading.Lock()  # taken before _append_lock, never after
        self._fd: int | None = None
        self._fd_pid = 0
        self._open_path: Path | None = None
        self._size = 0
        path.parent.mkdir(parents=True, exist_ok=True)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """The lock of the shared spool an earlier version wrote (taken only to move it)."""
        with open(self._lock_path, "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    # --- appending -----------------------------------------------------------------------

    def append(self, record: dict[str, Any]) -> None:
        line = _line(record)
        with self._append_lock:
            if self._fd_pid != os.getpid():
                self._forget_inherited()
            fd = self._fd
            if fd is None:
                fd = self._open()
            try:
                written = 0
                while written < len(line):
                    written += os.write(fd, line[written:])
            except OSError:
                # A torn line would swallow the next one: cut the file back to whole lines.
                try:
                    os.ftruncate(fd, self._size)
                except OSError:
                    log.exception("audit spool: a torn line could not be cut off")
                raise
            self._size += written
            if self.fsync_ms <= 0:
                os.fsync(fd)
            else:
                self._unsynced.set()

    def _open(self) -> int:
        """A new file for this process's appends, locked before it gets its `.open` name, so
        no other writer ever finds it unlocked while this process lives."""
        name = f"{self.path.name}.{os.getpid()}-{self._tag}-{next(self._names)}"
        fresh = self.path.with_name(name + NEW)
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
        fd = os.open(fresh, flags, 0o666)  # as open() would: the umask decides
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            opened = self.path.with_name(name + OPEN)
            os.replace(fresh, opened)
        except OSError:
            os.close(fd)
            raise
        self._fd, self._fd_pid, self._open_path, self._size = fd, os.getpid(), opened, 0
        return fd

    def _forget_inherited(self) -> None:
        """After a fork the file is the parent's: close this process's copy (the parent keeps
        its lock) and start a file of its own."""
        if self._fd is not None:
            with suppress(OSError):
                os.close(self._fd)
        self._fd, self._open_path, self._size = None, None, 0

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
        # take() closes a file only under _sync_lock, so the descriptor stays valid here.
        with self._sync_lock:
            fd = self._fd
            if fd is not None and self._fd_pid == os.getpid():
                os.fsync(fd)

    # --- taking and loading --------------------------------------------------------------

    def take(self) -> Path | None:
        """Make this process's appends so far a batch file (the next append starts a new file),
        and take as batches the files of processes that died and a shared spool an earlier
        version left; returns this process's batch, else another taken now, else None."""
        taken = [self._take_legacy(), *self._take_orphans()]
        with self._sync_lock:
            with self._append_lock:
                fd, opened = self._fd, self._open_path
                if fd is None or opened is None or self._fd_pid != os.getpid() or not self._size:
                    return next((batch for batch in taken if batch is not None), None)
                batch = opened.with_suffix(BATCH)
                os.replace(opened, batch)
                self._fd, self._open_path, self._size = None, None, 0
            try:
                os.fsync(fd)
            finally:
                os.close(fd)  # releases its lock: from here any writer may load it
        return batch

    def _take_legacy(self) -> Path | None:
        if not self.path.exists():
            return None
        with self._locked():
            try:
                if self.path.stat().st_size == 0:
                    return None
            except FileNotFoundError:
                return None
            batch = self.path.with_name(f"{self.path.name}.{os.getpid()}-{self._tag}-old{BATCH}")
            os.replace(self.path, batch)
        _fsync_path(batch)
        return batch

    def _take_orphans(self) -> list[Path]:
        """`.open` files no living process holds (their owner died): batches now."""
        taken = []
        now = time.time()
        for path in self.live_files(include_new=True):
            if path == self._open_path:
                continue
            if path.suffix == NEW and now - _mtime(path) < NEW_GRACE_SECONDS:
                continue  # being created by a living process
            try:
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                continue
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # its process lives and appends to it
                try:
                    if os.fstat(fd).st_ino != os.stat(path).st_ino:
                        continue  # taken by another writer between our open and our lock
                except FileNotFoundError:
                    continue
                if os.fstat(fd).st_size == 0:
                    path.unlink(missing_ok=True)
                    continue
                batch = path.with_suffix(BATCH)
                os.replace(path, batch)
                os.fsync(fd)
                taken.append(batch)
            finally:
                os.close(fd)
        return taken

    def live_files(self, include_new: bool = False) -> list[Path]:
        """The files processes append to now (or did until they died)."""
        found = list(self.path.parent.glob(f"{self.path.name}.*{OPEN}"))
        if include_new:
            found += self.path.parent.glob(f"{self.path.name}.*{NEW}")
        return sorted(found, key=_mtime)

    def batches(self) -> list[Path]:
        """Batch files present now: this process's and any left by a writer that died."""
        return sorted(self.path.parent.glob(f"{self.path.name}.*{BATCH}"), key=_mtime)

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
    def read_appended(path: Path) -> list[dict[str, Any]]:
        """The whole lines of a file another process may be appending to (its last line may be
        half written), without taking it: for a reader that cannot wait for that writer."""
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return []
        records = []
        for line in data.split(b"\n")[:-1]:  # what follows the last newline is not whole yet
            if line.strip():
                try:
                    records.append(_record(line.decode("utf-8")))
                except ValueError:
                    log.error("audit spool: skipped an unreadable line of %s", path.name)
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
        """Records not yet in the store: the spool files and the batches being loaded. A file
        that vanishes while it is counted was taken or loaded meanwhile (its lines are in a
        batch or the store now): count again rather than miss them."""
        total = 0
        for _ in range(5):
            total, vanished = 0, False
            for path in (self.path, *self.live_files(), *self.batches()):
                try:
                    with open(path, "rb") as spool:
                        total += sum(1 for line in spool if line.strip())
                except FileNotFoundError:
                    vanished = True
            if not vanished:
                break
        return total

    def pending(self) -> bool:
        for path in (self.path, *self.live_files()):
            try:
                if path.stat().st_size > 0:
                    return True
            except FileNotFoundError:
                continue
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


def _fsync_path(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:  # already loaded by another writer
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0
