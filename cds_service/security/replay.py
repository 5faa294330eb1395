"""Replay protection: each JWT `jti` may be used once until the token expires.

In memory for a single process; in Redis (SET NX with an expiry) when replicas must share it.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

import redis

KEY_PREFIX = "alp-cds:jti:"


class ReplayUnavailable(Exception):
    """The shared jti store cannot be reached; the caller must refuse the token."""


class ReplayCache(Protocol):
    def first_use(self, issuer: str, jti: str, expires_at: float) -> bool:
        """Record the token id; False if it was already recorded and has not expired."""
        ...

    def ping(self) -> bool:
        """Reachable (for readiness)."""
        ...


class MemoryReplayCache:
    def __init__(self, max_entries: int = 200_000) -> None:
        self._seen: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()
        self._max = max_entries

    def first_use(self, issuer: str, jti: str, expires_at: float) -> bool:
        now = time.time()
        key = (issuer, jti)
        with self._lock:
            if len(self._seen) >= self._max:
                self._seen = {k: exp for k, exp in self._seen.items() if exp > now}
            known = self._seen.get(key)
            if known is not None and known > now:
                return False
            self._seen[key] = expires_at
            return True

    def ping(self) -> bool:
        return True


class RedisReplayCache:
    def __init__(self, url: str) -> None:
        self._client = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)

    def first_use(self, issuer: str, jti: str, expires_at: float) -> bool:
        ttl = max(1, int(expires_at - time.time()) + 1)
        try:
            stored = self._client.set(f"{KEY_PREFIX}{issuer}\x00{jti}", b"1", nx=True, ex=ttl)
        except redis.RedisError as exc:
            raise ReplayUnavailable(type(exc).__name__) from exc
        return bool(stored)

    def ping(self) -> bool:
        try:
            return bool(self._client.ping())
        except redis.RedisError:
            return False
