"""Prefetch resolution: use what the client sent, fetch the rest, remember where each came from.

CDS Hooks 2.0.1 lets every key arrive absent, `null`, as an OperationOutcome, as a resource, or as a
searchset Bundle that may be paged. Absent and failed keys are fetched from `fhirServer` in
parallel under one deadline. Each key ends with a `KeyResult` that says where its data came from
and what went wrong, which the cards and the audit trail report.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Executor, wait
from dataclasses import dataclass, field
from typing import Any

from cds_service.fhir.client import FhirClient, FhirError, FhirInvalidResponse, next_link
from cds_service.fhir.values import as_list
from cds_service.hooks.declaration import PrefetchTemplate, ServiceDeclaration
from cds_service.hooks.errors import Issue, precondition_failed
from cds_service.hooks.patient_scope import left_out
from cds_service.hooks.request import HookRequest
from cds_service.hooks.trace import DataSource

FROM_PREFETCH = "prefetch"
FROM_FETCH = "fetch"
NOWHERE = "none"

Resource = dict[str, Any]


@dataclass
class KeyResult:
    key: str
    source: str = NOWHERE
    ok: bool = False
    resources: list[Resource] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    pages: int = 0
    applicable: bool = True
    """False when the template needs a token this call does not have (e.g. no encounterId)."""

    def traced(self) -> DataSource:
        return DataSource(
            key=self.key,
            source=self.source,
            ok=self.ok,
            resources=len(self.resources),
            pages=self.pages,
            problems=tuple(self.problems),
            applicable=self.applicable,
        )


@dataclass
class ResolvedData:
    keys: dict[str, KeyResult]

    def resources(self, key: str) -> list[Resource]:
        result = self.keys.get(key)
        return result.resources if result else []

    def keep_patient(self, patient_id: str) -> None:
        """Leave out resources about another patient, each key saying how many it lost
        (hooks/patient_scope.py)."""
        for result in self.keys.values():
            result.resources, problem = left_out(result.resources, patient_id)
            if problem:
                result.problems.append(problem)

    def resource(self, key: str) -> Resource | None:
        found = self.resources(key)
        return found[0] if found else None

    def unavailable(self) -> list[str]:
        """Keys whose data could not be had, in declaration order."""
        return [k for k, r in self.keys.items() if r.applicable and not r.ok]

    def sources(self) -> tuple[DataSource, ...]:
        """Where each key's data came from, for the decision trace."""
        return tuple(r.traced() for r in self.keys.values())


SERVER_SAID = "server said: "
"""A note a server put in a searchset (Epic: "This response includes information available to
the authorized user..."): kept in the trace, never a reason the data could not be had."""
_URL = re.compile(r"(https?://)(?:[^/\s?#@]*@)?([^/\s?#]+)\S*")


def problem_kinds(problems: Iterable[str]) -> list[str]:
    """The kind of each problem, not its detail, for text that leaves the audit record (a log
    line, a 412 body): URLs cut to their host, text after a colon (server diagnostics, a path
    with a patient id) dropped, a server's searchset notes left out."""
    kinds = (
        _URL.sub(r"\1\2", p).split(": ")[0][:120] for p in problems if not p.startswith(SERVER_SAID)
    )
    return list(dict.fromkeys(kinds))


class _Unusable(Exception):
    """A prefetch value that cannot be used as it is; the key is fetched instead."""


def _describe_outcome(outcome: Mapping[str, Any]) -> str:
    for issue in as_list(outcome.get("issue")):
        if isinstance(issue, Mapping):
            # Epic words its searchset outcomes in details.text, often without diagnostics.
            details = issue.get("details")
            said = details.get("text") if isinstance(details, Mapping) else None
            text = issue.get("diagnostics") or said or issue.get("code")
            if isinstance(text, str) and text:
                return text[:200]
    return "OperationOutcome"


def _bundle_resources(bundle: Mapping[str, Any], problems: list[str]) -> list[Resource]:
    found: list[Resource] = []
    for entry in as_list(bundle.get("entry")):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            continue
        if resource["resourceType"] == "OperationOutcome":
            # Servers put warnings in searchsets as entries with search.mode "outcome".
            problems.append(SERVER_SAID + _describe_outcome(resource))
            continue
        found.append(resource)
    return found


def _read_id(template: PrefetchTemplate, query: str) -> str | None:
    """The id a read asks for (`Patient/123` -> `123`); None for a search."""
    return None if template.is_search else query.split("?")[0].split("/")[1]


def _take_value(
    template: PrefetchTemplate, query: str, value: Any, result: KeyResult
) -> str | None:
    """Fill `result` from a prefetch value; return a `next` link still to follow, if any."""
    if value is None:
        # null: the client looked and found nothing (2.0.1, "Prefetch tokens" / null values).
        result.ok = True
        return None
    if not isinstance(value, Mapping) or not isinstance(value.get("resourceType"), str):
        raise _Unusable("prefetch value is not a FHIR resource")
    kind = value["resourceType"]
    if kind == "OperationOutcome":
        raise _Unusable("client could not prefetch: " + _describe_outcome(value))
    if template.is_search:
        if kind == "Bundle":
            result.resources = _bundle_resources(value, result.problems)
            result.pages = 1
            result.ok = True
            return next_link(value)
        if kind == template.resource_type:
            result.resources = [dict(value)]
            result.ok = True
            return None
        raise _Unusable(f"prefetch holds a {kind}, expected a Bundle")
    if kind != template.resource_type:
        raise _Unusable(f"prefetch holds a {kind}, expected a {template.resource_type}")
    if value.get("id") != _read_id(template, query):
        raise _Unusable(f"prefetch holds another {kind} than the one asked for")
    result.resources = [dict(value)]
    result.ok = True
    return None


@dataclass(frozen=True)
class Job:
    """What to fetch for a key."""

    template: PrefetchTemplate
    url: str
    """The query relative to fhirServer, or an absolute `next` link."""
    expected_id: str | None = None
    """For a read: the id asked for; another resource in the answer is refused."""
    partial: KeyResult | None = None
    """The result of a paged prefetch Bundle this continues."""


def _fetch(client: FhirClient, job: Job, deadline: float, max_entries: int) -> KeyResult:
    """In a worker thread: fetch a read, a search and its pages, or the rest of a paged prefetch."""
    template = job.template
    result = KeyResult(template.key, source=FROM_FETCH)
    try:
        document = client.get(client.url_for(job.url), deadline)
        kind = document.get("resourceType")
        if kind == "OperationOutcome":
            raise FhirInvalidResponse(
                "server answered with an OperationOutcome: " + _describe_outcome(document)
            )
        if not template.is_search:
            if kind != template.resource_type:
                raise FhirInvalidResponse(f"expected a {template.resource_type}, got a {kind}")
            if document.get("id") != job.expected_id:
                raise FhirInvalidResponse(f"asked for one {kind}, was sent another")
            result.resources = [document]
        else:
            if kind != "Bundle":
                raise FhirInvalidResponse(f"expected a Bundle, got a {kind}")
            already = job.partial.pages if job.partial else 0
            for page in client.pages(document, deadline, pages_before=already):
                result.pages += 1
                result.resources.extend(_bundle_resources(page, result.problems))
                if len(result.resources) > max_entries:
                    raise FhirInvalidResponse(f"more than {max_entries} entries")
        result.ok = True
    except FhirError as exc:
        result.ok = False
        result.problems.append(str(exc))
    except (TypeError, ValueError, KeyError) as exc:
        # A malformed answer the readers above did not foresee: unusable data, not a 500.
        result.ok = False
        result.problems.append(f"malformed answer ({type(exc).__name__})")
    return result


ClientFactory = Callable[[HookRequest], "FhirClient | str"]
"""Builds the client for a call's fhirServer, or says (as a string) why it cannot be used."""


def resolve(
    service: ServiceDeclaration,
    request: HookRequest,
    client_factory: ClientFactory,
    executor: Executor,
    deadline_seconds: float,
    max_entries: int = 20_000,
) -> ResolvedData:
    deadline = time.monotonic() + deadline_seconds
    results: dict[str, KeyResult] = {}
    jobs: list[Job] = []
    sent = request.prefetch or {}

    for template in service.prefetch:
        query = template.render(request.context)
        if query is None:
            results[template.key] = KeyResult(template.key, ok=True, applicable=False)
            continue
        fresh = Job(template, query, _read_id(template, query))
        if template.key in sent:
            result = KeyResult(template.key, source=FROM_PREFETCH)
            try:
                pending = _take_value(template, query, sent[template.key], result)
            except _Unusable as exc:
                jobs.append(fresh)
                results[template.key] = KeyResult(template.key, problems=[str(exc)])
                continue
            results[template.key] = result
            if pending:
                jobs.append(Job(template, pending, partial=result))
        else:
            results[template.key] = KeyResult(template.key, problems=["not prefetched"])
            jobs.append(fresh)

    if jobs:
        client = client_factory(request)
        if isinstance(client, str):
            for job in jobs:
                _mark_unfetchable(results[job.template.key], job.partial, client)
        else:
            _run_jobs(client, jobs, results, executor, deadline, max_entries)
    data = ResolvedData(results)
    patient = request.context.get("patientId")
    if isinstance(patient, str):
        data.keep_patient(patient)
    return data


def _mark_unfetchable(result: KeyResult, partial: KeyResult | None, reason: str) -> None:
    if partial is not None:
        # The first pages came with the prefetch; the rest could not be had.
        partial.problems.append(f"next page not fetched: {reason}")
        partial.ok = False
    else:
        result.problems.append(reason)


def _run_jobs(
    client: FhirClient,
    jobs: list[Job],
    results: dict[str, KeyResult],
    executor: Executor,
    deadline: float,
    max_entries: int,
) -> None:
    futures = {executor.submit(_fetch, client, job, deadline, max_entries): job for job in jobs}
    done, not_done = wait(futures, timeout=max(0.0, deadline - time.monotonic()))
    for future in not_done:
        future.cancel()
        job = futures[future]
        reason = "timed out: overall FHIR deadline passed"
        _mark_unfetchable(results[job.template.key], job.partial, reason)
    for future in done:
        job = futures[future]
        fetched = future.result()
        if job.partial is not None:
            # Continuation of a paged prefetch Bundle.
            job.partial.pages += fetched.pages
            job.partial.resources.extend(fetched.resources)
            job.partial.problems.extend(fetched.problems)
            job.partial.ok = fetched.ok
        else:
            fetched.problems[:0] = results[job.template.key].problems
            results[job.template.key] = fetched


def require(service: ServiceDeclaration, data: ResolvedData) -> None:
    """412 when a required key has no usable data (CDS Hooks 2.0.1, 'Prefetch' and HTTP 412). A
    search whose first page was had is usable: the templates sort newest first, so what is
    missing is older (the key still counts as unavailable, and the card says so)."""
    issues = []
    for template in service.prefetch:
        result = data.keys.get(template.key)
        if result is None or not template.required or not result.applicable:
            continue
        first_page = template.is_search and result.pages > 0
        if (not result.ok and not first_page) or (not template.is_search and not result.resources):
            # The kind of each problem only: the body goes back to the EHR, and the detail
            # (server diagnostics, URLs with a patient id) stays in the audit record.
            why = "; ".join(problem_kinds(result.problems)) or "no data"
            issues.append(
                Issue(
                    "not-found" if result.ok else "exception",
                    f"{template.key}: {why}",
                    expression=f"prefetch.{template.key}",
                )
            )
    if issues:
        raise precondition_failed(issues)
