"""The CDS Hooks HTTP surface: discovery, service calls, feedback, and JSON errors for everything.

Only HTTP lives here: the media type, the body size, the caller's JWT, the status code and the
audit record of every call. What a service call does (parse, check, resolve, require, handle,
digest) is hooks/pipeline.py, shared with `alp-cds evaluate`, warm-up and the benchmarks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Flask, Request, Response, current_app, g, request
from werkzeug.exceptions import ClientDisconnected, HTTPException, RequestEntityTooLarge
from werkzeug.wsgi import get_input_stream

from cds_service import strict_json
from cds_service.hooks import prefetch
from cds_service.hooks.declaration import ServiceDeclaration, ServiceRegistry
from cds_service.hooks.errors import CdsError, Issue, operation_outcome
from cds_service.hooks.feedback import FeedbackSink, parse_feedback, refused
from cds_service.hooks.invocation import Invocation, InvocationSink, NullInvocationSink
from cds_service.hooks.pipeline import BodyLimits, Pipeline
from cds_service.hooks.request import JSON_TYPES, check, schema

log = logging.getLogger(__name__)

EXTENSION_KEY = "cds_hooks"


Authenticator = Callable[[Request], Any]
"""Checks the caller (the CDS Hooks JWT) and returns what it proved, or raises CdsError(401)."""


@dataclass
class HookRuntime:
    """What the protocol layer needs from the application; built once by the app factory."""

    registry: ServiceRegistry
    feedback_sink: FeedbackSink
    client_factory: prefetch.ClientFactory
    executor: Executor
    fhir_deadline: float
    authenticate: Authenticator | None = None
    invocation_sink: InvocationSink = field(default_factory=NullInvocationSink)
    max_json_depth: int = 64
    max_bundle_entries: int = 20_000
    unreadable_body: tuple[type[Exception], ...] = (OSError,)
    """What reading the body raises when the client sent it wrong or went away: the socket's
    errors, and the server's own (gunicorn's bad-chunk errors), named by the composition."""
    pipeline: Pipeline = field(init=False)

    def __post_init__(self) -> None:
        self.pipeline = Pipeline(
            self.registry,
            self.client_factory,
            self.executor,
            self.fhir_deadline,
            BodyLimits(self.max_json_depth, self.max_bundle_entries),
        )


def runtime() -> HookRuntime:
    found: HookRuntime = current_app.extensions[EXTENSION_KEY]
    return found


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = Response(strict_json.dumps(body), status, mimetype="application/json")
    if headers:
        response.headers.update(headers)
    return response


def _authenticated() -> Any:
    check_auth = runtime().authenticate
    return check_auth(request) if check_auth else None


def _json_body() -> bytes:
    """The body's bytes, once the media type says JSON and the size is within the limit."""
    mimetype = request.mimetype or ""
    if mimetype not in JSON_TYPES and not mimetype.endswith("+json"):
        raise CdsError.simple(415, "not-supported", "Content-Type must be application/json")
    unreadable: tuple[type[Exception], ...] = (ClientDisconnected, *runtime().unreadable_body)
    try:
        return _read_body()
    except unreadable as exc:
        # A chunk size that is not hexadecimal, a missing chunk terminator, a body cut short
        # or a read timeout: the client's fault, never a 500 (the class name only is logged;
        # gunicorn's message can quote the request).
        log.info("request body unreadable: %s", type(exc).__name__)
        raise CdsError.simple(400, "invalid", "malformed request body") from None


def _read_body() -> bytes:
    limit = request.max_content_length
    if request.content_length is None and limit is not None:
        # A chunked body has no Content-Length; werkzeug would silently truncate it at the
        # limit, so read one byte more and refuse what does not fit.
        body: bytes = get_input_stream(request.environ, max_content_length=None).read(limit + 1)
        if len(body) > limit:
            raise RequestEntityTooLarge()
        return body
    # Raises RequestEntityTooLarge (413) when Content-Length is over the limit.
    return request.get_data(cache=False)


def _service(service_id: str) -> ServiceDeclaration:
    service = runtime().registry.get(service_id)
    if service is None:
        raise CdsError.simple(404, "not-found", f"no CDS service with id {service_id!r}")
    # Only a registered id may become a metrics label: callers choose the URL, and an
    # unbounded label set would grow the metrics without limit.
    g.service_id = service_id
    return service


def _audited(
    endpoint: str, service_id: str | None, work: Callable[[Invocation], Response]
) -> Response:
    """Run a route and record the call, success or failure, before the response goes out."""
    invocation = Invocation(endpoint=endpoint, service_id=service_id)
    g.invocation = invocation  # for the request log line
    try:
        response = work(invocation)
        invocation.finish(response.status_code)
        return response
    except CdsError as error:
        invocation.finish(error.status, "; ".join(i.diagnostics for i in error.issues))
        raise
    except HTTPException as error:
        invocation.finish(error.code or 500, error.name)
        raise
    except Exception:
        invocation.finish(500, "internal error")
        raise
    finally:
        failure = g.get("auth_failure")
        if failure:
            invocation.issuer, invocation.reason = failure
        # Successful discovery and feedback calls are not invocations; refusals of any route are.
        if endpoint == "service" or invocation.status >= 400:
            runtime().invocation_sink.record_invocation(invocation)


def _note_auth(invocation: Invocation, auth: Any) -> None:
    if auth is not None:
        invocation.issuer = getattr(getattr(auth, "issuer", None), "iss", None)
        invocation.tenant = getattr(auth, "tenant", None)


def create_blueprint() -> Blueprint:
    bp = Blueprint("cds_hooks", __name__)

    @bp.get("/cds-services")
    def discovery() -> Response:
        def work(_: Invocation) -> Response:
            _authenticated()
            return json_response(runtime().registry.discovery())

        return _audited("discovery", None, work)

    @bp.post("/cds-services/<service_id>")
    def invoke(service_id: str) -> Response:
        def work(invocation: Invocation) -> Response:
            auth = _authenticated()
            _note_auth(invocation, auth)
            service = _service(service_id)
            answer = runtime().pipeline.run(service, _json_body(), invocation, auth)
            return json_response(answer.body)

        return _audited("service", service_id, work)

    @bp.post("/cds-services/<service_id>/feedback")
    def feedback(service_id: str) -> Response:
        def work(invocation: Invocation) -> Response:
            auth = _authenticated()
            _note_auth(invocation, auth)
            _service(service_id)
            body = runtime().pipeline.parse(_json_body())
            check(schema("cds-feedback"), body, "$")
            items = parse_feedback(service_id, body, issuer=invocation.issuer)
            result = runtime().feedback_sink.record(items)
            if result.rejected:
                issues = [
                    Issue("not-found", why, expression=f"$.feedback[{index}]")
                    for index, why in result.rejected
                ]
                raise refused(issues, len(items))
            return json_response({})

        return _audited("feedback", service_id, work)

    return bp


def register_error_handlers(app: Flask) -> None:
    """Every error, from routing to bugs, becomes a JSON OperationOutcome."""

    @app.errorhandler(CdsError)
    def cds_error(error: CdsError) -> Response:
        return json_response(error.body(), error.status, error.headers)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        status = error.code or 500
        codes = {
            401: "login",
            404: "not-found",
            405: "not-supported",
            413: "too-costly",
            415: "not-supported",
        }
        messages = {
            404: "no such endpoint",
            405: f"method {request.method} is not allowed here",
            413: "the request body is too large",
        }
        text = messages.get(status, error.name)
        headers = {k: v for k, v in error.get_headers() if k.lower() == "allow"}
        body = operation_outcome([Issue(codes.get(status, "processing"), text)])
        return json_response(body, status, headers)

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Response:
        # A bug: log it for us, tell the caller nothing about internals.
        log.exception("unhandled error on %s %s", request.method, request.path)
        body = operation_outcome([Issue("exception", "internal error; see the service log")])
        return json_response(body, 500)
