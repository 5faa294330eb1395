"""An issuer's keys fetched from one JWKS URL: cached, refetched on an unknown `kid` so that key
rotation works, and never fetched so often that random `kid`s could make us hammer the URL.

PyJWKClient's own refresh has a cooldown (30 s) that starts at every successful fetch, the
first one and each 5-minute expiry included: a key the issuer rotated to within 30 s of any
fetch was refused until the cooldown ran out (QA report D7). The rules here, per URL:

- the set is fetched when none is held or the one held is `lifespan` (5 minutes) old;
- a `kid` not in the held set refetches it at once, unless the set was fetched in this same
  lookup or an unknown `kid` already refetched it less than `refetch_interval` (5 s) ago: a
  flood of random `kid`s costs at most one fetch per interval;
- a fetch that fails is not retried for `refetch_interval` either (an unreachable URL is not
  asked once per token); a set that has not expired stays in use meanwhile, an expired one
  does not (fail closed: a key the issuer withdrew is not trusted for longer than `lifespan`).

PyJWKClient only does the fetching (its cache off, so it fetches each time it is asked): it
keeps its checks of what a URL may be and of what the answer must hold.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from jwt import PyJWK, PyJWKClient
from jwt.exceptions import PyJWKClientError, PyJWKSetError

LIFESPAN = 300.0
REFETCH_INTERVAL = 5.0


class JwksKeys:
    def __init__(
        self,
        url: str,
        timeout: float,
        lifespan: float = LIFESPAN,
        refetch_interval: float = REFETCH_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # cache_keys off too: PyJWKClient's per-kid cache never expires.
        self._fetcher = PyJWKClient(url, cache_keys=False, cache_jwk_set=False, timeout=timeout)
        self.url = url
        self.lifespan = lifespan
        self.refetch_interval = refetch_interval
        self._clock = clock
        self._keys: list[PyJWK] | None = None
        self._fetched_at = -math.inf
        self._refetched_at = -math.inf
        self._failed_at = -math.inf
        # One lookup at a time per URL: threads that arrive while a fetch runs wait for it and
        # use its result instead of fetching again.
        self._lock = threading.Lock()

    def signing_key(self, kid: str) -> PyJWK:
        """The key for `kid`, or PyJWKClientError (PyJWKSetError: the URL's set has no usable
        key) saying why there is none."""
        with self._lock:
            now = self._clock()
            fetched = False
            if self._keys is None or now - self._fetched_at >= self.lifespan:
                self._keys = None  # expired: never used again, whatever the fetch does
                self._fetch(now)
                fetched = True
            key = self._match(kid)
            if key is None and not fetched and now - self._refetched_at >= self.refetch_interval:
                self._refetched_at = now
                self._fetch(now)
                key = self._match(kid)
            if key is None:
                raise PyJWKClientError(f'Unable to find a signing key that matches: "{kid}"')
            return key

    def _fetch(self, now: float) -> None:
        """Replace the held set with the URL's, or raise; a failure leaves the held set as it
        was (an unknown kid's refetch failing does not cost the keys already known)."""
        if now - self._failed_at < self.refetch_interval:
            raise PyJWKClientError(
                f"the last JWKS fetch failed {now - self._failed_at:.1f} s ago; not retried yet"
            )
        try:
            keys = self._fetcher.get_signing_keys(refresh=True)
        except (PyJWKClientError, PyJWKSetError):
            self._failed_at = now
            raise
        self._keys, self._fetched_at = keys, now

    def _match(self, kid: str) -> PyJWK | None:
        return next((key for key in self._keys or () if key.key_id == kid), None)
