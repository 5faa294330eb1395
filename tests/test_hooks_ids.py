"""Pooled random identifiers (cds_service/hooks/ids.py): version-4 UUIDs, never repeated, and
never shared by a forked worker and its parent."""

from __future__ import annotations

import os
import uuid

from cds_service.hooks.ids import random_uuid


def test_ids_are_version_4_uuids_and_do_not_repeat_across_pool_refills() -> None:
    ids = [random_uuid() for _ in range(1000)]  # about four pools of 256
    assert all(i.version == 4 and i.variant == uuid.RFC_4122 for i in ids)
    assert len(set(ids)) == len(ids)


def test_a_forked_child_does_not_hand_out_its_parents_next_ids() -> None:
    random_uuid()  # the pool holds the parent's next ids now
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.write(write, b"".join(random_uuid().bytes for _ in range(8)))
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read, 16 * 8)
    os.close(read)
    os.close(write)
    parent = b"".join(random_uuid().bytes for _ in range(8))
    assert len(child) == 16 * 8
    assert {child[i : i + 16] for i in range(0, 128, 16)}.isdisjoint(
        {parent[i : i + 16] for i in range(0, 128, 16)}
    )
