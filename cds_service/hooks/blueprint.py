"""The CDS Hooks HTTP surface: discovery, service calls, feedback, and JSON errors for everything.

A call reads top to bottom: check the media type and size, decode, validate against the 2.0.1
request schema, check the hook and its context, resolve prefetch (412 when required data cannot
be had), run the service's handler, answer `{"cards": [...]}`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from itertools import accumulate
from typing import Any

from flask import Blueprint, Flask, Request, Response, current_app, g, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.wsgi import get_input_stream

from cds_service.fhir.values import as_list
from cds_service.hooks import prefetch
from cds_service.hooks.declaration import ServiceDeclaration, ServiceRegistry
from cds_service.hooks.errors import CdsError, Issue, bad_request, operation_outcome
from cds_service.hooks.feedback import FeedbackSink, parse_feedback
from cds_service.hooks.invocation import (
    Invocation,
    InvocationSink,
    NullInvocationSink,
    card_summary,
)
from cds_service.hooks.request import (
    JSON_TYPES,
    HookRequest,
    check,
    decode_json,
    fhir_server_problem,
    schema,
)

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


def runtime() -> HookRuntime:
    found: HookRuntime = current_app.extensions[EXTENSION_KEY]
    return found


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response: Response = current_app.json.response(body)  # type: ignore[assignment]
    response.status_code = status
    if headers:
        response.headers.update(headers)
    return response


def _authenticated() -> Any:
    check_auth = runtime().authenticate
    return check_auth(request) if check_auth else None


def _require_json_body() -> Any:
    mimetype = request.mimetype or ""
    if mimetype not in JSON_TYPES and not mimetype.endswith("+json"):
        raise CdsError.simple(415, "not-supported", "Content-Type must be application/json")
    limit = request.max_content_length
    if request.content_length is None and limit is not None:
        # A chunked body has no Content-Length; werkzeug would silently truncate it at the
        # limit, so read one byte more and refuse what does not fit.
        body = get_input_stream(request.environ, max_content_length=None).read(limit + 1)
        if len(body) > limit:
            raise RequestEntityTooLarge()
    else:
        # Raises RequestEntityTooLarge (413) when Content-Length is over the limit.
        body = request.get_data(cache=False)
    if not body:
        raise bad_request("the request body is empty")
    if json_depth(body) > runtime().max_json_depth:
        raise bad_request(f"JSON nested deeper than {runtime().max_json_depth} levels")
    return decode_json(body)


def json_depth(raw: bytes) -> int:
    """Deepest nesting of a JSON text, from its bytes, before parsing (a hostile body must not
    cost a tree walk). Escapes are dropped so that every remaining quote delimits a string;
    strings are cut out; the brackets left become +1/-1 steps, summed in C."""
    unescaped = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    outside_strings = b"".join(unescaped.split(b'"')[::2])
    steps = outside_strings.translate(None, _NOT_BRACKET).translate(_STEP)
    return max(accumulate(memoryview(steps).cast("b")), default=0)


_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
# "[" and "{" become +1, "]" and "}" become -1 (0xFF as a signed byte).
_STEP = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")


def _check_bundle_sizes(hook_request: HookRequest) -> None:
    limit = runtime().max_bundle_entries
    bundles = [("$.context.results", hook_request.context.get("results"))]
    bundles += [(f"$.prefetch.{k}", v) for k, v in (hook_request.prefetch or {}).items()]
    for path, bundle in bundles:
        if isinstance(bundle, dict) and len(as_list(bundle.get("entry"))) > limit:
            raise CdsError(
                400, [Issue("too-costly", f"more than {limit} Bundle entries", expression=path)]
            )


def _service(service_id: str) -> ServiceDeclaration:
    service = runtime().registry.get(service_id)
    if service is None:
        raise CdsError.simple(404, "not-found", f"no CDS service with id {service_id!r}")
    # Only a registered id may become a metrics label: callers choose the URL, and an
    # unbounded label set would grow the metrics without limit.
    g.service_id = service_id
    return service


def parse_hook_request(service: ServiceDeclaration, body: Any) -> HookRequest:
    check(schema("cds-request"), body, "$")
    problem = fhir_server_problem(body["fhirServer"]) if "fhirServer" in body else None
    if problem:
        raise bad_request(f"fhirServer {problem}", "$.fhirServer")
    if body["hook"] != service.hook.id:
        raise bad_request(
            f"service {service.id} answers hook {service.hook.id!r}, not {body['hook']!r}", "$.hook"
        )
    check(service.hook.context_validator, body["context"], "$.context")
    return HookRequest.parse(service.id, body)


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


_URL = re.compile(r"(https?://)(?:[^/\s?#@]*@)?([^/\s?#]+)\S*")


def data_problems(data: prefetch.ResolvedData, keys: Iterable[str]) -> str:
    """`key (why; why)` for a log line: the kind of each problem, not its detail. URLs are cut
    to their host and text after a colon (server diagnostics, a path with a patient id) is left
    to the audit record (`alp-cds audit show HOOKINSTANCE`)."""
    parts = []
    for key in keys:
        result = data.keys.get(key)
        problems = result.problems if result else []
        kinds = dict.fromkeys(_URL.sub(r"\1\2", p).split(": ")[0][:120] for p in problems)
        parts.append(f"{key} ({'; '.join(kinds) or 'no data'})")
    return ", ".join(parts)


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
            hook_request = replace(parse_hook_request(service, _require_json_body()), auth=auth)
            invocation.hook = hook_request.hook
            invocation.hook_instance = hook_request.hook_instance
            patient = hook_request.context.get("patientId")
            invocation.patient = f"Patient/{patient}" if patient else None
            invocation.user = hook_request.context.get("userId")
            _check_bundle_sizes(hook_request)
            rt = runtime()
            data = prefetch.resolve(
                service,
                hook_request,
                rt.client_factory,
                rt.executor,
                rt.fhir_deadline,
                rt.max_bundle_entries,
            )
            try:
                prefetch.require(service, data)
            except CdsError as error:
                keys = [str(i.expression).removeprefix("prefetch.") for i in error.issues]
                log.warning(
                    "412 on %s (hookInstance %s): required data unobtainable: %s",
                    service.id,
                    hook_request.hook_instance,
                    data_problems(data, keys),
                )
                raise
            finally:
                invocation.trace = {"data": data.provenance()}
            if data.unavailable():
                log.warning(
                    "partial data on %s (hookInstance %s): answered without %s",
                    service.id,
                    hook_request.hook_instance,
                    data_problems(data, data.unavailable()),
                )
            result = service.handler(hook_request, data)
            body = result.to_json()
            invocation.cards = [card_summary(card) for card in body["cards"]]
            invocation.trace = result.trace or invocation.trace
            return json_response(body)

        return _audited("service", service_id, work)

    @bp.post("/cds-services/<service_id>/feedback")
    def feedback(service_id: str) -> Response:
        def work(_: Invocation) -> Response:
            _authenticated()
            _service(service_id)
            body = _require_json_body()
            check(schema("cds-feedback"), body, "$")
            items = parse_feedback(service_id, body)
            result = runtime().feedback_sink.record(items)
            if result.rejected:
                issues = [
                    Issue("not-found", why, expression=f"$.feedback[{index}]")
                    for index, why in result.rejected
                ]
                raise CdsError(400, issues)
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
