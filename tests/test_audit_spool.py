"""The audit spool's files (cds_service/audit/spool.py): one append is one write to a file the
process holds; files of processes that died are taken as batches; nothing is torn or lost."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Any

import orjson
import pytest

from cds_service.audit.spool import Spool


def _lines(path: Path) -> list[Any]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_an_append_after_the_first_is_one_write_no_open_no_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = Spool(tmp_path / "audit-spool.jsonl", fsync_ms=5)
    spool.append({"n": 0})
    calls: list[str] = []
    for module, name in ((os, "open"), (os, "write"), (fcntl, "flock"), (os, "close")):
        real = getattr(module, name)

        def counted(*args: Any, _name: str = name, _real: Any = real) -> Any:
            calls.append(_name)
            return _real(*args)

        monkeypatch.setattr(module, name, counted)
    spool.append({"n": 1})
    spool.append({"n": 2})
    monkeypatch.undo()
    assert calls == ["write", "write"]
    (live,) = spool.live_files()
    assert _lines(live) == [{"n": 0}, {"n": 1}, {"n": 2}]


def test_take_makes_the_process_file_a_batch_and_the_next_append_starts_anew(
    tmp_path: Path,
) -> None:
    spool = Spool(tmp_path / "audit-spool.jsonl")
    spool.append({"n": 1})
    batch = spool.take()
    assert batch is not None
    assert batch.name.endswith(".batch")
    assert _lines(batch) == [{"n": 1}]
    assert spool.live_files() == []
    spool.append({"n": 2})
    (live,) = spool.live_files()
    assert _lines(live) == [{"n": 2}]
    assert spool.depth() == 2
    assert spool.take() not in (None, batch)


def test_a_file_whose_process_died_is_taken_one_a_process_holds_is_not(tmp_path: Path) -> None:
    path = tmp_path / "audit-spool.jsonl"
    living = Spool(path)  # another process, alive: its file stays locked
    living.append({"n": "living"})
    dead = path.with_name(f"{path.name}.4242-deadbeef-0.open")  # no one holds its lock
    dead.write_bytes(b'{"n":"dead"}\n')
    writer = Spool(path)
    assert writer.take() is not None
    batches = writer.batches()
    assert [_lines(b) for b in batches] == [[{"n": "dead"}]]
    assert [_lines(f) for f in living.live_files()] == [[{"n": "living"}]]
    assert writer.depth() == 2


def test_a_forked_child_appends_to_a_file_of_its_own(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "audit-spool.jsonl")
    spool.append({"from": "parent"})
    pid = os.fork()
    if pid == 0:  # the child: append, then die without cleaning up (as kill -9 would)
        try:
            spool.append({"from": "child"})
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    spool.append({"from": "parent again"})
    contents = sorted((_lines(f) for f in spool.live_files()), key=len)
    assert contents == [[{"from": "child"}], [{"from": "parent"}, {"from": "parent again"}]]
    # The child's file is unlocked (its process is gone): the parent's writer takes it.
    spool.take()
    assert sorted(_lines(b)[0]["from"] for b in spool.batches()) == ["child", "parent"]


def test_a_write_that_fails_midway_leaves_no_torn_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = Spool(tmp_path / "audit-spool.jsonl")
    spool.append({"n": 1})
    real = os.write

    def half_then_full(fd: int, data: bytes) -> int:
        if len(data) > 4:
            return real(fd, data[:4])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", half_then_full)
    with pytest.raises(OSError, match="No space left"):
        spool.append({"n": "a long record"})
    monkeypatch.undo()
    spool.append({"n": 3})
    (live,) = spool.live_files()
    assert _lines(live) == [{"n": 1}, {"n": 3}]


def test_a_reader_of_a_live_file_skips_its_half_written_last_line(tmp_path: Path) -> None:
    live = tmp_path / "audit-spool.jsonl.1-ab-0.open"
    live.write_bytes(b'{"n":1}\n{"n":2}\n{"n":')
    assert Spool.read_appended(live) == [{"n": 1}, {"n": 2}]


def test_a_shared_spool_left_by_an_earlier_version_is_taken(tmp_path: Path) -> None:
    path = tmp_path / "audit-spool.jsonl"
    path.write_bytes(b'{"n":"old"}\n')
    spool = Spool(path)
    assert spool.pending()
    assert spool.depth() == 1
    batch = spool.take()
    assert batch is not None
    assert _lines(batch) == [{"n": "old"}]
    assert not path.exists()


def test_depth_counts_a_file_taken_while_it_is_being_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A fresh-clone CI run caught it: depth() listed the process's file as `.open`, the writer
    # renamed it to a batch before the batches were listed, and the record was counted nowhere
    # (the backlog read 0 with the record in neither the spool nor the store).
    spool = Spool(tmp_path / "audit-spool.jsonl")
    spool.append({"n": 1})
    real = Spool.batches
    raced: list[bool] = []

    def batches_after_a_take(self: Spool) -> list[Path]:
        if not raced:
            raced.append(True)
            found = real(self)  # listed before the writer takes the file ...
            self.take()  # ... which it renames now
            return found
        return real(self)

    monkeypatch.setattr(Spool, "batches", batches_after_a_take)
    assert spool.depth() == 1
