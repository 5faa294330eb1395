"""Prefetch templates and resolution: every state a key can arrive in, and the fetch fallback."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from cds_service.fhir.client import FhirClient, Limits
from cds_service.hooks import prefetch
from cds_service.hooks.declaration import DeclarationError, PrefetchTemplate, ServiceDeclaration
from cds_service.hooks.definitions import PATIENT_VIEW
from cds_service.hooks.errors import CdsError
from cds_service.hooks.request import HookRequest
from cds_service.hooks.response import CdsResponse

LIMITS = Limits(connect_timeout=1.0, read_timeout=1.0, max_response_bytes=1 << 20, max_pages=5)


def _handler(_: HookRequest, __: prefetch.ResolvedData) -> CdsResponse:
    return CdsResponse()


def declare(*templates: PrefetchTemplate) -> ServiceDeclaration:
    return ServiceDeclaration("svc", PATIENT_VIEW, "t", "d", _handler, prefetch=templates)


PATIENT = PrefetchTemplate("patient", "Patient/{{context.patientId}}", required=True)
CONDITIONS = PrefetchTemplate("conditions", "Condition?patient={{context.patientId}}")
SERVICE = declare(PATIENT, CONDITIONS)


def hook_request(
    prefetch_body: dict[str, Any] | None, fhir_server: str | None = None
) -> HookRequest:
    body: dict[str, Any] = {
        "hook": "patient-view",
        "hookInstance": "h1",
        "context": {"userId": "Practitioner/u1", "patientId": "p1"},
    }
    if prefetch_body is not None:
        body["prefetch"] = prefetch_body
    if fhir_server:
        body["fhirServer"] = fhir_server
        body["fhirAuthorization"] = {
            "access_token": "secret-token",
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "user/*.read",
            "subject": "alp-cds",
        }
    return HookRequest.parse("svc", body)


@pytest.fixture(scope="module")
def executor() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(4) as pool:
        yield pool


def resolve(
    request: HookRequest,
    executor: ThreadPoolExecutor,
    session: Any,
    deadline: float = 3.0,
    service: ServiceDeclaration = SERVICE,
) -> prefetch.ResolvedData:
    def factory(req: HookRequest) -> FhirClient | str:
        if not req.fhir_server:
            return "no fhirServer"
        token = req.fhir_authorization.access_token if req.fhir_authorization else None
        return FhirClient(req.fhir_server, token, session, LIMITS)

    return prefetch.resolve(service, request, factory, executor, deadline)


PATIENT_RESOURCE = {"resourceType": "Patient", "id": "p1", "gender": "female"}
CONDITION_BUNDLE = {
    "resourceType": "Bundle",
    "type": "searchset",
    "entry": [{"resource": {"resourceType": "Condition", "id": "c1"}}],
}


# --- templates ---------------------------------------------------------------------------


def test_context_tokens_are_rendered_and_encoded() -> None:
    template = PrefetchTemplate(
        "x", "Condition?patient={{context.patientId}}&encounter={{ context.encounterId }}"
    )
    assert (
        template.render({"patientId": "p1", "encounterId": "e-9"})
        == "Condition?patient=p1&encounter=e-9"
    )
    assert template.render({"patientId": "a&b=c"}) is None  # encounterId missing
    assert (
        PrefetchTemplate("x", "Patient/{{context.patientId}}").render({"patientId": "a&b"})
        == "Patient/a%26b"
    )


@pytest.mark.parametrize(
    ("user", "token", "expected"),
    [
        ("Practitioner/u1", "userPractitionerId", "u1"),
        ("PractitionerRole/r1", "userPractitionerRoleId", "r1"),
        ("Patient/p9", "userPatientId", "p9"),
        ("RelatedPerson/rp", "userRelatedPersonId", "rp"),
        ("PractitionerRole/r1", "userPractitionerId", None),
    ],
)
def test_user_tokens_follow_the_user_type(user: str, token: str, expected: str | None) -> None:
    rendered = PrefetchTemplate("x", f"Practitioner/{{{{{token}}}}}").render({"userId": user})
    assert rendered == (f"Practitioner/{expected}" if expected else None)


@pytest.mark.parametrize(
    "query",
    [
        "Patient/{{context.patient.id}}",  # nested context is not a 2.0.1 token
        "Observation?date=ge{{today() - 90 days}}",  # FHIRPath is 3.0 ballot only
        "Condition?patient={{context.draftOrders}}",  # not a token field of patient-view
        "Patient/{{patientId}}",
    ],
)
def test_declarations_refuse_tokens_outside_2_0_1(query: str) -> None:
    with pytest.raises(DeclarationError):
        declare(PrefetchTemplate("x", query))


def test_duplicate_keys_and_bad_ids_are_refused() -> None:
    with pytest.raises(DeclarationError):
        declare(CONDITIONS, CONDITIONS)
    with pytest.raises(DeclarationError):
        ServiceDeclaration("bad id/x", PATIENT_VIEW, "t", "d", _handler)


# --- prefetch states ---------------------------------------------------------------------


def test_resources_and_bundles_are_used_as_sent(executor: ThreadPoolExecutor, session: Any) -> None:
    data = resolve(
        hook_request({"patient": PATIENT_RESOURCE, "conditions": CONDITION_BUNDLE}),
        executor,
        session,
    )
    assert data.resource("patient") == PATIENT_RESOURCE
    assert [c["id"] for c in data.resources("conditions")] == ["c1"]
    assert data.keys["conditions"].source == prefetch.FROM_PREFETCH
    assert data.unavailable() == []


def test_null_means_no_data_and_is_not_fetched(
    httpserver: HTTPServer, executor: ThreadPoolExecutor, session: Any
) -> None:
    data = resolve(
        hook_request(
            {"patient": PATIENT_RESOURCE, "conditions": None}, httpserver.url_for("/fhir")
        ),
        executor,
        session,
    )
    assert data.keys["conditions"].ok
    assert data.resources("conditions") == []
    assert httpserver.log == []


def test_absent_keys_are_fetched_with_the_token(
    httpserver: HTTPServer, executor: ThreadPoolExecutor, session: Any
) -> None:
    httpserver.expect_request(
        "/fhir/Condition",
        query_string="patient=p1",
        headers={"Authorization": "Bearer secret-token"},
    ).respond_with_json(CONDITION_BUNDLE)
    data = resolve(
        hook_request({"patient": PATIENT_RESOURCE}, httpserver.url_for("/fhir")), executor, session
    )
    assert data.keys["conditions"].source == prefetch.FROM_FETCH
    assert [c["id"] for c in data.resources("conditions")] == ["c1"]
    assert data.keys["conditions"].problems == ["not prefetched"]
    httpserver.check_assertions()


def test_operation_outcome_is_replaced_by_a_fetch(
    httpserver: HTTPServer, executor: ThreadPoolExecutor, session: Any
) -> None:
    httpserver.expect_request("/fhir/Condition").respond_with_json(CONDITION_BUNDLE)
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "timeout", "diagnostics": "EHR timed out"}],
    }
    data = resolve(
        hook_request(
            {"patient": PATIENT_RESOURCE, "conditions": outcome}, httpserver.url_for("/fhir")
        ),
        executor,
        session,
    )
    result = data.keys["conditions"]
    assert result.ok
    assert result.source == prefetch.FROM_FETCH
    assert "EHR timed out" in result.problems[0]


def test_wrong_resource_type_is_refetched(
    httpserver: HTTPServer, executor: ThreadPoolExecutor, session: Any
) -> None:
    httpserver.expect_request("/fhir/Patient/p1").respond_with_json(PATIENT_RESOURCE)
    data = resolve(
        hook_request(
            {"patient": {"resourceType": "Observation", "id": "o"}, "conditions": None},
            httpserver.url_for("/fhir"),
        ),
        executor,
        session,
    )
    assert data.resource("patient") == PATIENT_RESOURCE
    assert "expected a Patient" in data.keys["patient"].problems[0]


def test_outcome_entries_inside_a_searchset_are_reported_not_used(
    executor: ThreadPoolExecutor, session: Any
) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [
            {"resource": {"resourceType": "Condition", "id": "c1"}},
            {
                "resource": {
                    "resourceType": "OperationOutcome",
                    "issue": [
                        {"severity": "warning", "code": "incomplete", "diagnostics": "truncated"}
                    ],
                },
                "search": {"mode": "outcome"},
            },
        ],
    }
    data = resolve(
        hook_request({"patient": PATIENT_RESOURCE, "conditions": bundle}), executor, session
    )
    assert [c["id"] for c in data.resources("conditions")] == ["c1"]
    assert data.keys["conditions"].problems == ["server said: truncated"]


def test_a_paged_prefetch_bundle_is_completed_from_fhir_server(
    httpserver: HTTPServer, executor: ThreadPoolExecutor, session: Any
) -> None:
    httpserver.expect_request("/fhir/Condition", query_string="page=2").respond_with_json(
        {
            "resourceType": "Bundle",
            "type": "searchset",
            "entry": [{"resource": {"resourceType": "Condition", "id": "c2"}}],
        }
    )
    first = dict(
        CONDITION_BUNDLE,
        link=[{"relation": "next", "url": httpserver.url_for("/fhir/Condition?page=2")}],
    )
    data = resolve(
        hook_request(
            {"patient": PATIENT_RESOURCE, "conditions": first}, httpserver.url_for("/fhir")
        ),
        executor,
        session,
    )
    assert [c["id"] for c in data.resources("conditions")] == ["c1", "c2"]
    assert data.keys["conditions"].pages == 2
    assert data.keys["conditions"].ok


def test_a_paged_prefetch_without_fhir_server_keeps_the_first_page_and_says_so(
    executor: ThreadPoolExecutor, session: Any
) -> None:
    first = dict(
        CONDITION_BUNDLE,
        link=[{"relation": "next", "url": "https://ehr.example/fhir/Condition?page=2"}],
    )
    data = resolve(
        hook_request({"patient": PATIENT_RESOURCE, "conditions": first}), executor, session
    )
    result = data.keys["conditions"]
    assert [c["id"] for c in result.resources] == ["c1"]
    assert not result.ok
    assert "next page not fetched" in result.problems[0]
    assert data.unavailable() == ["conditions"]


def test_fetches_run_in_parallel_under_one_deadline(httpserver: HTTPServer, session: Any) -> None:
    # pytest-httpserver serves one request at a time, so parallelism is checked with a
    # threaded server whose handlers answer only once all three fetches are in flight together
    # (a barrier, not a stopwatch: sequential fetches break it and are reported unavailable).
    together = threading.Barrier(3, timeout=10)

    def app(environ: Any, start_response: Any) -> Any:
        request = Request(environ)
        try:
            together.wait()
        except threading.BrokenBarrierError:
            return Response("not parallel", status=503)(environ, start_response)
        is_read = request.path.startswith("/fhir/Patient/")
        body = PATIENT_RESOURCE if is_read else {"resourceType": "Bundle", "type": "searchset"}
        return Response(json.dumps(body), content_type="application/fhir+json")(
            environ, start_response
        )

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        service = declare(
            PATIENT,
            CONDITIONS,
            PrefetchTemplate("meds", "MedicationRequest?patient={{context.patientId}}"),
        )
        with ThreadPoolExecutor(4) as pool:
            data = resolve(
                hook_request(None, f"http://127.0.0.1:{server.server_port}/fhir"),
                pool,
                session,
                service=service,
                deadline=30,
            )
        assert data.unavailable() == [], "the three fetches did not run at the same time"
    finally:
        server.shutdown()


def test_the_deadline_marks_slow_keys_unavailable(
    httpserver: HTTPServer, executor: ThreadPoolExecutor, session: Any
) -> None:
    release = threading.Event()
    answered = threading.Event()

    def hang(_: Request) -> Response:
        release.wait(30)
        answered.set()
        return Response("{}", content_type="application/json")

    httpserver.expect_request("/fhir/Condition").respond_with_handler(hang)
    try:
        data = resolve(
            hook_request({"patient": PATIENT_RESOURCE}, httpserver.url_for("/fhir")),
            executor,
            session,
            deadline=0.3,
        )
        # The call came back while the server still held the query (it answers only when
        # released), so the deadline, not the server, ended it.
        assert not answered.is_set()
        assert data.unavailable() == ["conditions"]
        # Whichever ends it first, the overall deadline ("timed out") or the connection cut at
        # the deadline ("deadline passed"), the key says it ran out of time (a race under load).
        problems = " ".join(data.keys["conditions"].problems)
        assert "timed out" in problems or "deadline passed" in problems
    finally:
        release.set()


def test_required_key_that_cannot_be_had_gives_412(
    executor: ThreadPoolExecutor, session: Any
) -> None:
    data = resolve(hook_request({"conditions": None}), executor, session)
    with pytest.raises(CdsError) as caught:
        prefetch.require(SERVICE, data)
    assert caught.value.status == 412
    assert caught.value.issues[0].expression == "prefetch.patient"


def test_required_read_sent_as_null_gives_412(executor: ThreadPoolExecutor, session: Any) -> None:
    data = resolve(hook_request({"patient": None, "conditions": None}), executor, session)
    with pytest.raises(CdsError) as caught:
        prefetch.require(SERVICE, data)
    assert caught.value.status == 412


def test_optional_key_failure_does_not_block(
    httpserver: HTTPServer, executor: ThreadPoolExecutor, session: Any
) -> None:
    httpserver.expect_request("/fhir/Condition").respond_with_data("oops", status=500)
    data = resolve(
        hook_request({"patient": PATIENT_RESOURCE}, httpserver.url_for("/fhir")), executor, session
    )
    prefetch.require(SERVICE, data)  # no exception
    assert data.unavailable() == ["conditions"]
    assert data.keys["conditions"].problems[-1].startswith("HTTP 500")


REQUIRED_CONDITIONS = declare(
    PATIENT,
    PrefetchTemplate("conditions", "Condition?patient={{context.patientId}}", required=True),
)


def test_a_required_search_whose_first_page_came_is_usable(
    executor: ThreadPoolExecutor, session: Any
) -> None:
    # Templates sort newest first: what a lost next page holds is older. The call is answered
    # (the key still counts as unavailable, so cards say so) rather than refused with a 412.
    first = dict(
        CONDITION_BUNDLE,
        link=[{"relation": "next", "url": "https://ehr.example/fhir/Condition?page=2"}],
    )
    request = hook_request({"patient": PATIENT_RESOURCE, "conditions": first})
    data = resolve(request, executor, session, service=REQUIRED_CONDITIONS)
    prefetch.require(REQUIRED_CONDITIONS, data)  # no exception
    assert data.unavailable() == ["conditions"]
    assert [c["id"] for c in data.resources("conditions")] == ["c1"]
    # No page at all is still a 412.
    nothing = resolve(
        hook_request({"patient": PATIENT_RESOURCE}), executor, session, service=REQUIRED_CONDITIONS
    )
    with pytest.raises(CdsError) as caught:
        prefetch.require(REQUIRED_CONDITIONS, nothing)
    assert caught.value.issues[0].expression == "prefetch.conditions"


def test_a_412_names_the_kind_of_problem_not_its_detail(
    httpserver: HTTPServer, executor: ThreadPoolExecutor, session: Any
) -> None:
    # The body goes back to the EHR (and its logs): not the server's diagnostics (they can name
    # the patient), not the URL read (it holds the patient id), not a searchset note.
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "forbidden", "diagnostics": "Patient Jane Doe"}],
    }
    httpserver.expect_request("/fhir/Patient/p1").respond_with_json(outcome)
    note = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "information", "code": "informational", "diagnostics": "partial"}],
    }
    conditions = {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": note}]}
    request = hook_request({"conditions": conditions}, httpserver.url_for("/fhir"))
    data = resolve(request, executor, session)
    with pytest.raises(CdsError) as caught:
        prefetch.require(SERVICE, data)
    [issue] = caught.value.issues
    assert issue.diagnostics == (
        "patient: not prefetched; server answered with an OperationOutcome"
    )
    assert "Jane Doe" in "; ".join(data.keys["patient"].problems)  # kept for the audit record
    assert prefetch.problem_kinds(
        ["server said: partial", "ConnectionError: GET http://h/x/p1"]
    ) == ["ConnectionError"]


def test_resources_without_an_id_never_share_a_key() -> None:
    from cds_service.fhir.values import resource_key

    first, second = {"resourceType": "Observation"}, {"resourceType": "Observation"}
    assert resource_key(first) != resource_key(second)
    assert resource_key(first) == resource_key(first)
    assert resource_key({"resourceType": "Observation", "id": "a1"}) == "Observation/a1"
