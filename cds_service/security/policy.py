"""Wiring the trust model into the protocol layer: who may call, which fhirServer may be called.

A `fhirServer` is contacted only when the verified issuer lists it and it is https; in
development mode without trust, plain http is allowed on loopback only. Anything else is treated
as unreachable: never contacted, logged as a security event, and reported in the card as
unavailable data. The bearer token then goes nowhere.
"""

from __future__ import annotations

import json
import logging
from base64 import urlsafe_b64decode
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import Request, g

from cds_service.hooks.errors import CdsError, Issue
from cds_service.security.jwt_auth import AuthError, JwtVerifier, VerifiedToken

security_log = logging.getLogger("cds_service.security")
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
UNAUTHORIZED = CdsError(
    401,
    [Issue("login", "authentication failed")],
    {"WWW-Authenticate": 'Bearer realm="cds-services"'},
)


def received_audience(token: str) -> Any:
    """The `aud` a token claims, unverified, for the log line of a refusal: what the client was
    told this endpoint is called. Nothing else of the token is read or logged."""
    parts = token.split(".")
    if len(parts) != 3 or len(parts[1]) > 16 * 1024:
        return None
    try:
        payload = json.loads(urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, UnicodeError):
        return None
    aud = payload.get("aud") if isinstance(payload, dict) else None
    if isinstance(aud, list):
        return [str(a)[:200] for a in aud[:5]]
    return str(aud)[:200] if aud is not None else None


def authenticator(verifier: JwtVerifier, base_url: str | Callable[[Request], str]) -> Any:
    """`base_url`: the public base URL, or a function giving it for a request (development
    mode without a configured one: security/public_url.py)."""

    def authenticate(request: Request) -> VerifiedToken:
        base = (base_url(request) if callable(base_url) else base_url).rstrip("/")
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        try:
            if scheme.lower() != "bearer" or not token.strip():
                raise AuthError("no bearer token")
            return verifier.verify(token.strip(), base + request.path)
        except AuthError as exc:
            # The reason goes to our log, never to the caller, and never the token itself;
            # the expected and received `aud` because a mismatch is the commonest set-up error.
            security_log.warning(
                "security: rejected JWT on %s (iss=%r, aud expected %r, received %r): %s",
                request.path,
                exc.issuer,
                base + request.path,
                received_audience(token.strip()),
                exc,
            )
            # For the audit record of this refusal: the issuer if known and the reason.
            g.auth_failure = (exc.issuer, f"authentication failed: {exc}")
            g.auth_failure_code = exc.code
            raise UNAUTHORIZED from None

    return authenticate


def fhir_server_refusal(url: str, auth: VerifiedToken | None, dev_mode: bool) -> str | None:
    """Why this fhirServer must not be contacted, or None if it may."""
    try:
        parts = urlsplit(url)
        loopback = (parts.hostname or "") in LOOPBACK_HOSTS
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return "fhirServer is not a valid URL"
    if parts.scheme.lower() != "https" and not (dev_mode and loopback):
        return "fhirServer is not https"
    if auth is not None and not auth.issuer.allows_fhir_server(url):
        return "fhirServer is not on the issuer's allow-list"
    if auth is None and not dev_mode:
        return "no verified issuer to vouch for fhirServer"
    return None
