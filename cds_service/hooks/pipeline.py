"""One CDS Hooks service call, without HTTP: parse -> check -> resolve -> require -> handle ->
digest.

- parse: the body's bytes to JSON (nesting bounded before the parser runs).
- check: one schema pass over the body (the 2.0.1 envelope, the hook's context, Bundle entry
  limits), then what a schema cannot say (fhirServer's host, the hook this service answers).
- resolve: prefetch as sent, the rest fetched from fhirServer in parallel under one deadline.
- require: 412 when data the service cannot do without is missing.
- handle: the service's handler; it returns cards and its part of the decision trace.
- digest: the response body, and the trace completed with where each key's data came from.

The Flask route (hooks/blueprint.py) adds only HTTP: media type, body size, the caller's JWT, the
status code. `alp-cds evaluate`, worker warm-up and the benchmarks call the same stages, so what
they explain, warm or measure is what the service does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, Future
from dataclasses import dataclass, replace
from typing import Any

from cds_service.hooks import prefetch
from cds_service.hooks.declaration import ServiceDeclaration
from cds_service.hooks.errors import CdsError, bad_request
from cds_service.hooks.invocation import Invocation
from cds_service.hooks.patient_scope import foreign_in_context
from cds_service.hooks.prefetch import ClientFactory, ResolvedData
from cds_service.hooks.request import HookRequest, decode_json, fhir_server_problem
from cds_service.hooks.request import request_validator as build_request_validator
from cds_service.hooks.response import CdsResponse
from cds_service.hooks.trace import CardIssued, DataSource, DecisionTrace

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BodyLimits:
    max_json_depth: int = 64
    max_bundle_entries: int = 20_000


@dataclass(frozen=True)
class Answer:
    """What one call produced: the body to send and the decision trace to keep."""

    request: HookRequest
    response: CdsResponse
    body: dict[str, Any]
    trace: DecisionTrace


def json_depth(raw: bytes, limit: int = 1024) -> int:
    """Deepest nesting of a JSON text, from its bytes, counted up to `limit` + 1 (a hostile body
    must cost neither a tree walk nor the parser's recursion). Escaped backslashes and quotes are
    dropped, so every quote left delimits a string; then everything but quotes and brackets; then
    pairs of adjacent quotes (strings holding no bracket, nearly all of them), and what is left
    inside strings is cut out. Each pass over the brackets that remain then removes the innermost
    pairs, so the number of passes to empty them is the depth (typically ten passes over a few
    kilobytes; unbalanced brackets stop the count and the parser refuses the body)."""
    if b"\\" in raw:
        raw = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    marks = raw.translate(None, _NOT_MARK).replace(b'""', b"")
    if b'"' in marks:
        marks = b"".join(marks.split(b'"')[::2])
    nest = marks.translate(_PARENS)
    depth = 0
    while nest and depth <= limit:
        inner_removed = nest.replace(b"()", b"")
        if len(inner_removed) == len(nest):
            break
        nest, depth = inner_removed, depth + 1
    return depth


_NOT_MARK = bytes(b for b in range(256) if b not in b'[]{}"')
_PARENS = bytes.maketrans(b"[{]}", b"(())")


class _Offline(Executor):
    """For pipelines that fetch nothing (their client factory always declines)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        raise RuntimeError("this pipeline does not fetch")


class Pipeline:
    """The stages of a service call, configured once (validators are built here, at start-up)."""

    def __init__(
        self,
        services: Iterable[ServiceDeclaration],
        client_factory: ClientFactory,
        executor: Executor,
        fhir_deadline: float,
        limits: BodyLimits | None = None,
    ) -> None:
        self.client_factory = client_factory
        self.executor = executor
        self.fhir_deadline = fhir_deadline
        self.limits = limits or BodyLimits()
        self._validators = {
            service.id: build_request_validator(service.hook, self.limits.max_bundle_entries)
            for service in services
        }

    @classmethod
    def offline(
        cls, services: Iterable[ServiceDeclaration], why: str = "nothing is fetched offline"
    ) -> Pipeline:
        """A pipeline whose missing prefetch stays missing (reported as unavailable, `why`)."""
        return cls(services, lambda _: why, _Offline(), fhir_deadline=0.0)

    # --- the whole call ------------------------------------------------------------------------

    def run(
        self,
        service: ServiceDeclaration,
        raw: bytes,
        invocation: Invocation | None = None,
        auth: Any = None,
    ) -> Answer:
        return self.run_body(service, self.parse(raw), invocation, auth)

    def run_body(
        self,
        service: ServiceDeclaration,
        body: Any,
        invocation: Invocation | None = None,
        auth: Any = None,
    ) -> Answer:
        request = self.check(service, body, auth)
        if invocation is not None:
            invocation.note_request(request)
        return self.run_resolved(service, request, self.resolve(service, request), invocation)

    def run_resolved(
        self,
        service: ServiceDeclaration,
        request: HookRequest,
        data: ResolvedData,
        invocation: Invocation | None = None,
    ) -> Answer:
        """From resolved data on: require, handle, digest."""
        sources = data.sources()
        if invocation is not None:
            invocation.trace = DecisionTrace(data=sources)  # what a 412 record keeps
        try:
            self.require(service, data)
        except CdsError as error:
            if invocation is not None:
                keys = [str(i.expression).removeprefix("prefetch.") for i in error.issues]
                log.warning(
                    "412 on %s (hookInstance %s): required data unobtainable: %s",
                    service.id,
                    request.hook_instance,
                    data_problems(data, keys),
                )
            raise
        supplementary = {t.key for t in service.prefetch if t.supplementary}
        gaps = [key for key in data.unavailable() if key not in supplementary]
        if invocation is not None and gaps:
            log.warning(
                "partial data on %s (hookInstance %s): answered without %s",
                service.id,
                request.hook_instance,
                data_problems(data, gaps),
            )
        answer = self.digest(request, self.handle(service, request, data), sources)
        if invocation is not None:
            invocation.trace = answer.trace
        return answer

    # --- the stages ----------------------------------------------------------------------------

    def parse(self, raw: bytes) -> Any:
        if not raw:
            raise bad_request("the request body is empty")
        limit = self.limits.max_json_depth
        if json_depth(raw, limit) > limit:
            raise bad_request(f"JSON nested deeper than {limit} levels")
        return decode_json(raw)

    def check(self, service: ServiceDeclaration, body: Any, auth: Any = None) -> HookRequest:
        validator = self._validators.get(service.id)
        if validator is None:
            raise CdsError.simple(404, "not-found", f"no CDS service with id {service.id!r}")
        validator.check(body)
        problem = fhir_server_problem(body["fhirServer"]) if "fhirServer" in body else None
        if problem:
            raise bad_request(f"fhirServer {problem}", "$.fhirServer")
        if body["hook"] != service.hook.id:
            raise bad_request(
                f"service {service.id} answers hook {service.hook.id!r}, not {body['hook']!r}",
                "$.hook",
            )
        patient = body["context"].get("patientId")
        foreign = foreign_in_context(body["context"], patient) if isinstance(patient, str) else []
        if foreign:
            raise bad_request(
                "the context holds a resource about another patient than context.patientId",
                foreign[0],
            )
        # The token is scoped to one patient (CDS Hooks 2.0: fhirAuthorization.patient): one for
        # another patient than the context's is a wrong-patient risk, never a detail to pass
        # over. A `Patient/` prefix is read as the same id.
        scoped = (body.get("fhirAuthorization") or {}).get("patient")
        if (
            isinstance(scoped, str)
            and isinstance(patient, str)
            and scoped.removeprefix("Patient/") != patient
        ):
            raise bad_request(
                "fhirAuthorization.patient is not context.patientId", "$.fhirAuthorization.patient"
            )
        return HookRequest.parse(service.id, body, auth)

    def resolve(self, service: ServiceDeclaration, request: HookRequest) -> ResolvedData:
        return prefetch.resolve(
            service,
            request,
            self.client_factory,
            self.executor,
            self.fhir_deadline,
            self.limits.max_bundle_entries,
        )

    @staticmethod
    def require(service: ServiceDeclaration, data: ResolvedData) -> None:
        prefetch.require(service, data)

    @staticmethod
    def handle(
        service: ServiceDeclaration, request: HookRequest, data: ResolvedData
    ) -> CdsResponse:
        return service.handler(request, data)

    @staticmethod
    def digest(
        request: HookRequest, response: CdsResponse, sources: tuple[DataSource, ...]
    ) -> Answer:
        trace = response.trace or DecisionTrace()
        issued = trace.cards
        if [c.uuid for c in issued] != [card.uuid for card in response.cards]:
            # A handler that keeps no card trace still has its cards audited, without rules.
            known = {c.uuid: c for c in issued}
            issued = tuple(known.get(card.uuid) or CardIssued.of(card) for card in response.cards)
        return Answer(
            request=request,
            response=response,
            body=response.to_json(),
            trace=replace(trace, data=sources, cards=issued),
        )


def data_problems(data: prefetch.ResolvedData, keys: Iterable[str]) -> str:
    """`key (why; why)` for a log line: the kind of each problem (`prefetch.problem_kinds`); the
    detail is left to the audit record (`alp-cds audit show HOOKINSTANCE`)."""
    parts = []
    for key in keys:
        result = data.keys.get(key)
        kinds = prefetch.problem_kinds(result.problems if result else [])
        # A key cut short (a page refused or lost) was used for what came: say how much.
        received = [f"{len(result.resources)} received"] if result and result.resources else []
        parts.append(f"{key} ({'; '.join([*received, *kinds]) or 'no data'})")
    return ", ".join(parts)
