"""An issuer's JWKS URL (security/jwks.py): a rotated key is fetched at once, random kids cannot
make the service hammer the URL, the set expires, and a failing URL is not asked once per token.

The JWKS is served on loopback; time is a fake clock, except where threads race for real.
"""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm
from jwt.exceptions import PyJWKClientError
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from cds_service.security.jwks import LIFESPAN, REFETCH_INTERVAL, JwksKeys

KEYS = {kid: ec.generate_private_key(ec.SECP384R1()) for kid in ("k1", "k2")}


def jwk(kid: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(ECAlgorithm.to_jwk(KEYS[kid].public_key()))
    data.update(kid=kid, alg="ES384", use="sig")
    return data


class Jwks:
    """The issuer's side: which kids it publishes, whether it answers, and how often it was
    asked."""

    def __init__(self, server: HTTPServer) -> None:
        self.kids = ["k1"]
        self.failing = False
        self.fetches = 0
        self.url = server.url_for("/jwks")
        server.expect_request("/jwks").respond_with_handler(self.answer)

    def answer(self, _: Request) -> Response:
        self.fetches += 1
        if self.failing:
            return Response("unavailable", status=503)
        body = json.dumps({"keys": [jwk(kid) for kid in self.kids]})
        return Response(body, content_type="application/json")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def issuer(httpserver: HTTPServer) -> Jwks:
    return Jwks(httpserver)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def keys(issuer: Jwks, clock: Clock) -> JwksKeys:
    return JwksKeys(issuer.url, timeout=2, clock=clock)


def test_a_rotated_key_is_fetched_at_once(issuer: Jwks, clock: Clock, keys: JwksKeys) -> None:
    assert keys.signing_key("k1").key_id == "k1"
    issuer.kids = ["k1", "k2"]  # the issuer rotates...
    clock.now += 1  # ...a second after our fetch (PyJWKClient waited 30 s from any fetch)
    assert keys.signing_key("k2").key_id == "k2"
    assert issuer.fetches == 2


def test_known_kids_are_served_from_the_held_set_until_it_expires(
    issuer: Jwks, clock: Clock, keys: JwksKeys
) -> None:
    keys.signing_key("k1")
    clock.now += LIFESPAN - 1
    keys.signing_key("k1")
    assert issuer.fetches == 1
    clock.now += 1
    keys.signing_key("k1")
    assert issuer.fetches == 2


def test_an_unknown_kid_on_the_first_lookup_fetches_once(issuer: Jwks, keys: JwksKeys) -> None:
    with pytest.raises(PyJWKClientError, match='Unable to find a signing key that matches: "k9"'):
        keys.signing_key("k9")
    assert issuer.fetches == 1


def test_random_kids_cost_at_most_one_fetch_per_interval(
    issuer: Jwks, clock: Clock, keys: JwksKeys
) -> None:
    keys.signing_key("k1")
    clock.now += 1
    for _ in range(50):
        with pytest.raises(PyJWKClientError):
            keys.signing_key(str(uuid.uuid4()))
    assert issuer.fetches == 2  # the first unknown kid refetched; the other 49 did not
    clock.now += REFETCH_INTERVAL - 0.1
    with pytest.raises(PyJWKClientError):
        keys.signing_key(str(uuid.uuid4()))
    assert issuer.fetches == 2
    clock.now += 0.1
    with pytest.raises(PyJWKClientError):
        keys.signing_key(str(uuid.uuid4()))
    assert issuer.fetches == 3
    assert keys.signing_key("k1").key_id == "k1"  # the known key never stopped working
    assert issuer.fetches == 3


def test_a_rotation_right_after_a_random_kid_waits_at_most_the_interval(
    issuer: Jwks, clock: Clock, keys: JwksKeys
) -> None:
    keys.signing_key("k1")
    clock.now += 1
    with pytest.raises(PyJWKClientError):
        keys.signing_key("random")
    issuer.kids = ["k1", "k2"]
    with pytest.raises(PyJWKClientError):
        keys.signing_key("k2")  # within the interval of the random kid's refetch
    clock.now += REFETCH_INTERVAL
    assert keys.signing_key("k2").key_id == "k2"


def test_a_failing_url_is_not_asked_again_within_the_interval(
    issuer: Jwks, clock: Clock, keys: JwksKeys
) -> None:
    issuer.failing = True
    for _ in range(10):
        with pytest.raises(PyJWKClientError):
            keys.signing_key("k1")
    assert issuer.fetches == 1
    clock.now += REFETCH_INTERVAL
    issuer.failing = False
    assert keys.signing_key("k1").key_id == "k1"
    assert issuer.fetches == 2


def test_a_failed_refetch_keeps_the_held_set_until_it_expires(
    issuer: Jwks, clock: Clock, keys: JwksKeys
) -> None:
    keys.signing_key("k1")
    issuer.failing = True
    clock.now += 10
    with pytest.raises(PyJWKClientError, match="Fail to fetch"):
        keys.signing_key("k2")
    assert keys.signing_key("k1").key_id == "k1"  # still valid, still used
    clock.now += LIFESPAN
    with pytest.raises(PyJWKClientError):
        keys.signing_key("k1")  # expired and not refreshed: refused, never trusted stale


def test_threads_racing_on_unknown_kids_fetch_once(issuer: Jwks) -> None:
    keys = JwksKeys(issuer.url, timeout=2)  # the real clock
    keys.signing_key("k1")
    issuer.kids = ["k1", "k2"]
    results: list[str] = []

    def lookup(kid: str) -> None:
        try:
            results.append(keys.signing_key(kid).key_id or "")
        except PyJWKClientError:
            results.append("refused")

    threads = [threading.Thread(target=lookup, args=(kid,)) for kid in ["k2"] * 8 + ["x"] * 8]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert issuer.fetches == 2
    assert sorted(results) == ["k2"] * 8 + ["refused"] * 8
