"""Verify the JWT a CDS client sends (CDS Hooks 2.0.1 "Trusting CDS Clients", and the best
practices for checking it).

Order of checks: size and shape; header `typ`, `alg` (asymmetric, allowed for the issuer), `kid`;
`iss` on the allow-list; `jku`, when sent, on the issuer's list; signature with the issuer's key
for that `kid` (pinned, or fetched from an allow-listed JWKS URL: security/jwks.py caches it and
refetches it on an unknown `kid`, at most once per few seconds); `aud` equal to this endpoint's
public URL; `exp`, `nbf`, `iat` JSON numbers, with leeway and a lifetime cap; `tenant` if the
issuer lists tenants; `jti` not seen before. Every failure is an `AuthError` whose reason is for
the log only: the caller gets a bare 401.
"""

from __future__ import annotations

import json
import threading
import time
from base64 import urlsafe_b64decode
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from jwt import PyJWK
from jwt.exceptions import PyJWKClientError, PyJWKSetError

from cds_service.security.jwks import JwksKeys
from cds_service.security.replay import ReplayCache, ReplayUnavailable
from cds_service.security.trust import Issuer, TrustStore
from cds_service.strict_json import finite

MAX_TOKEN_BYTES = 16 * 1024
REQUIRED_CLAIMS = ("iss", "aud", "exp", "iat", "jti")


# Reason text -> a short code for metrics (few values, so a label can carry it). First match wins.
REASON_CODES = (
    ("bearer", "no-token"),
    ("replayed", "replay"),
    ("replay cache", "replay-cache"),
    ("jti", "claims"),
    ("Audience", "audience"),
    ('"aud"', "audience"),
    ("Expired", "expired"),
    ("not yet valid", "not-yet-valid"),
    ("iat is in the future", "not-yet-valid"),
    ("lifetime", "lifetime"),
    ("Signature verification", "signature"),
    ("jku", "jku"),
    ("kid", "key"),
    ("tenant", "tenant"),
    ("alg", "algorithm"),
    ("typ", "type"),
    ("iss", "issuer"),
    ("missing", "claims"),
)


class AuthError(Exception):
    """The token is not acceptable. `str()` is the reason, for the server log only."""

    def __init__(self, reason: str, issuer: str | None = None) -> None:
        super().__init__(reason)
        self.issuer = issuer

    @property
    def code(self) -> str:
        text = str(self)
        return next((code for needle, code in REASON_CODES if needle in text), "malformed")


@dataclass(frozen=True)
class VerifiedToken:
    issuer: Issuer
    jti: str
    tenant: str | None
    subject: str | None
    expires_at: float


# The curve each ECDSA algorithm is defined on (RFC 7518 section 3.4).
_EC_CURVES: dict[str, type[ec.EllipticCurve]] = {
    "ES256": ec.SECP256R1,
    "ES384": ec.SECP384R1,
    "ES512": ec.SECP521R1,
    "ES256K": ec.SECP256K1,
}
_PRIVATE = (
    rsa.RSAPrivateKey,
    ec.EllipticCurvePrivateKey,
    ed25519.Ed25519PrivateKey,
    ed448.Ed448PrivateKey,
)


def verification_key(algorithm: str, key: Any, issuer: str | None = None) -> Any:
    """The public key to check an `algorithm` signature with, or an AuthError naming why this
    key cannot be used with it.

    The header's `alg` and the key its `kid` names are chosen by the caller independently. Handed
    a key of another type (an RSA key under ES384, a P-384 key under ES256, an HMAC secret under
    RS384), PyJWT raises TypeError or ValueError rather than a PyJWTError, which would surface as
    a 500; so the pairing is checked here, before any cryptography runs."""
    if isinstance(key, _PRIVATE):
        # A JWK Set that carries private parameters still verifies with the public half
        # (PyJWT's RSA verifier has no use for a private key object).
        key = key.public_key()
    if algorithm.startswith(("RS", "PS")):
        fits = isinstance(key, rsa.RSAPublicKey)
    elif algorithm in _EC_CURVES:
        fits = isinstance(key, ec.EllipticCurvePublicKey) and isinstance(
            key.curve, _EC_CURVES[algorithm]
        )
    elif algorithm == "EdDSA":
        fits = isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey)
    else:
        fits = False
    if not fits:
        raise AuthError(
            f"alg {algorithm[:20]!r} does not fit the key for this kid ({_kind(key)})", issuer
        )
    return key


def _kind(key: Any) -> str:
    """What a key is, for the log (never its material)."""
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC {key.curve.name}"
    if isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        return "EdDSA"
    if isinstance(key, bytes | str):
        return "symmetric secret"
    return type(key).__name__


def _segment(part: str) -> Any:
    padded = part + "=" * (-len(part) % 4)
    return json.loads(urlsafe_b64decode(padded.encode("ascii")))


class JwtVerifier:
    def __init__(
        self,
        trust: TrustStore,
        replay: ReplayCache,
        leeway: float = 60.0,
        max_lifetime: float = 3600.0,
        jwks_timeout: float = 3.0,
    ) -> None:
        self.trust = trust
        self.replay = replay
        self.leeway = leeway
        self.max_lifetime = max_lifetime
        self._jwks_timeout = jwks_timeout
        self._jwks_sources: dict[str, JwksKeys] = {}
        self._lock = threading.Lock()

    def _jwks(self, url: str) -> JwksKeys:
        with self._lock:
            source = self._jwks_sources.get(url)
            if source is None:
                source = JwksKeys(url, timeout=self._jwks_timeout)
                self._jwks_sources[url] = source
            return source

    def _key(self, issuer: Issuer, kid: str, jku: str | None) -> PyJWK:
        if jku is not None and jku not in issuer.jwks_urls:
            raise AuthError(f"jku {jku[:200]!r} is not allow-listed for this issuer", issuer.iss)
        if issuer.jwks is not None:
            # A pinned set is authoritative: its jwks_urls only allow-list the jku clients send
            # (the CDS Hooks sandbox always sends one), and nothing is fetched.
            for key in issuer.jwks.keys:
                if key.key_id == kid:
                    return key
            raise AuthError(f"no pinned key with kid {kid[:80]!r}", issuer.iss)
        urls = [jku] if jku else list(issuer.jwks_urls)
        last = "no JWKS URL"
        for url in urls:
            try:
                return self._jwks(url).signing_key(kid)
            except (PyJWKClientError, PyJWKSetError) as exc:
                # PyJWKSetError: the URL answered with a set holding no usable key.
                last = str(exc)
        raise AuthError(
            f"no key with kid {kid[:80]!r} at the issuer's JWKS URLs: {last}", issuer.iss
        )

    def verify(self, token: str, audience: str) -> VerifiedToken:
        """`audience`: the public URL of the endpoint called, as the caller spelled its path."""
        endpoint = audience.removesuffix("/")
        if len(token) > MAX_TOKEN_BYTES:
            raise AuthError("token too large")
        parts = token.split(".")
        if len(parts) != 3 or not all(parts):
            raise AuthError("not a compact JWS")
        try:
            header = _segment(parts[0])
            payload = _segment(parts[1])
        except (ValueError, UnicodeError, RecursionError):
            # RecursionError: JSON nested thousands deep fits in the size limit.
            raise AuthError("malformed base64 or JSON") from None
        if not isinstance(header, dict) or not isinstance(payload, dict):
            raise AuthError("header or payload is not a JSON object")
        issuer_name = payload.get("iss")
        if not isinstance(issuer_name, str):
            raise AuthError("missing iss")
        issuer = self.trust.get(issuer_name)
        if issuer is None:
            raise AuthError(f"iss {issuer_name[:200]!r} is not trusted")
        if str(header.get("typ", "")).upper() != "JWT":
            raise AuthError("header typ is not JWT", issuer.iss)
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in issuer.algorithms:
            raise AuthError(
                f"alg {str(algorithm)[:20]!r} is not allowed for this issuer", issuer.iss
            )
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise AuthError("missing kid", issuer.iss)
        jku = header.get("jku")
        if jku is not None and not isinstance(jku, str):
            raise AuthError("jku is not a string", issuer.iss)
        key = verification_key(algorithm, self._key(issuer, kid, jku).key, issuer.iss)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                # The route answers with and without a trailing slash (app.py), so either
                # spelling of the URL called matches either spelling of the token's aud.
                audience=[endpoint, endpoint + "/"],
                issuer=issuer.iss,
                leeway=self.leeway,
                options={"require": list(REQUIRED_CLAIMS), "verify_iat": True},
            )
        except jwt.PyJWTError as exc:
            raise AuthError(f"{type(exc).__name__}: {exc}", issuer.iss) from None
        except Exception as exc:
            # Backstop for what the key check above does not foresee: PyJWT and cryptography
            # raise plain TypeError/ValueError on some crafted inputs. A token that cannot be
            # verified is refused (401), never a 500; the reason names the exception for the log.
            raise AuthError(
                f"unverifiable token ({type(exc).__name__}: {str(exc)[:200]})", issuer.iss
            ) from None
        now = time.time()
        # RFC 7519 NumericDate: a JSON number. PyJWT's own checks call int() on these, which
        # also takes a numeric string ("1796072000") or true; neither is one.
        issued, expires = finite(claims.get("iat")), finite(claims.get("exp"))
        if issued is None or expires is None:
            raise AuthError("missing or malformed iat or exp", issuer.iss)
        if "nbf" in claims and finite(claims["nbf"]) is None:
            raise AuthError("malformed nbf", issuer.iss)
        if issued > now + self.leeway:
            raise AuthError("iat is in the future", issuer.iss)
        if expires - issued > self.max_lifetime:
            raise AuthError("token lifetime exceeds the maximum", issuer.iss)
        tenant = claims.get("tenant")
        if issuer.tenants and (not isinstance(tenant, str) or tenant not in issuer.tenants):
            raise AuthError("tenant is not allow-listed", issuer.iss)
        jti = claims["jti"]
        if not isinstance(jti, str) or not jti:
            raise AuthError("jti is empty", issuer.iss)
        try:
            first = self.replay.first_use(issuer.iss, jti, expires + self.leeway)
        except ReplayUnavailable as exc:
            # Without the shared store a replay cannot be ruled out: fail closed.
            raise AuthError(f"replay cache unavailable ({exc})", issuer.iss) from exc
        if not first:
            raise AuthError("jti replayed", issuer.iss)
        subject = claims.get("sub")
        return VerifiedToken(
            issuer=issuer,
            jti=jti,
            tenant=tenant if isinstance(tenant, str) else None,
            subject=subject if isinstance(subject, str) else None,
            expires_at=expires,
        )
