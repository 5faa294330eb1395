"""Wiring the trust model into the protocol layer: who may call, which fhirServer may be called.

A `fhirServer` is contacted only when the verified issuer lists it and it is https; in
development mode without trust, plain http is allowed on loopback only. Anything else is treated
as unreachable: never contacted, logged as a security event, and reported in the card as
unavailable data. The bearer token then goes nowhere.
"""

from __future__ import annotations

import logging
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


def authenticator(verifier: JwtVerifier, base_url: str) -> Any:
    base = base_url.rstrip("/")

    def authenticate(request: Request) -> VerifiedToken:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        try:
            if scheme.lower() != "bearer" or not token.strip():
                raise AuthError("no bearer token")
            return verifier.verify(token.strip(), base + request.path)
        except AuthError as exc:
            # The reason goes to our log, never to the caller, and never the token itself.
            security_log.warning(
                "security: rejected JWT on %s (iss=%r): %s", request.path, exc.issuer, exc
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
