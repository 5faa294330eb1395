"""CORS for browser-based CDS clients (the CDS Hooks sandbox, SMART-embedded EHR views).

Preflights are answered before anything else runs, so they never need a JWT (browsers send no
Authorization header on a preflight). Credentials are never allowed: CDS Hooks authenticates with
a bearer JWT, not cookies, and `*` with credentials is rejected by browsers anyway.
"""

from __future__ import annotations

from collections.abc import Collection

from flask import Flask, Response, request

ALLOWED_METHODS = "GET, POST, OPTIONS"
ALLOWED_HEADERS = "Authorization, Content-Type, Accept"
MAX_AGE = "600"


def allowed_origin(origin: str | None, origins: Collection[str]) -> str | None:
    """The Access-Control-Allow-Origin value for a request from `origin` (None: it sent no
    Origin header), or None for no header. Also used for the errors gunicorn answers itself
    (gunicorn_worker.py)."""
    if origin is None:
        return None
    if "*" in origins:
        return "*"
    return origin if origin.rstrip("/") in origins else None


def install_cors(app: Flask, origins: tuple[str, ...]) -> None:
    allow_any = "*" in origins
    allowed = frozenset(origins)

    def request_origin() -> str | None:
        return allowed_origin(request.headers.get("Origin"), allowed)

    @app.before_request
    def preflight() -> Response | None:
        if request.method != "OPTIONS" or "Access-Control-Request-Method" not in request.headers:
            return None
        response = app.make_response(("", 204))
        origin = request_origin()
        if origin:
            response.headers["Access-Control-Allow-Methods"] = ALLOWED_METHODS
            response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
            response.headers["Access-Control-Max-Age"] = MAX_AGE
        return response

    @app.after_request
    def cors_headers(response: Response) -> Response:
        origin = request_origin()
        if origin:
            response.headers["Access-Control-Allow-Origin"] = origin
        if not allow_any:
            response.vary.add("Origin")
        return response
