"""Random identifiers for records, cards and suggestions, from a pooled read of the operating
system's random source.

`uuid.uuid4()` reads 16 bytes with a system call per identifier; a request needs three or four
(its record, each card, each suggestion), and every system call is a point where a busy worker's
threads hand the interpreter lock around. Reading 4 KB at a time gives the same randomness
(`os.urandom`) with one call per 256 identifiers. A forked child starts with an empty pool, so
no two workers ever hand out the same bytes.
"""

from __future__ import annotations

import os
import threading
import uuid

_POOL_BYTES = 4096
_pool = bytearray()
_lock = threading.Lock()


def random_uuid() -> uuid.UUID:
    """A version-4 UUID, as `uuid.uuid4()` makes."""
    with _lock:
        if len(_pool) < 16:
            _pool[:] = os.urandom(_POOL_BYTES)
        chunk = bytes(_pool[-16:])
        del _pool[-16:]
    return uuid.UUID(bytes=chunk, version=4)


def _empty_pool() -> None:
    _pool.clear()


os.register_at_fork(after_in_child=_empty_pool)
