"""Fault injection: the service's `fhirServer` misbehaves, the hook call still answers on time.

Each test posts a lab-result-sign request whose prefetch lacks some keys, with `fhirServer`
pointing at a loopback server that misbehaves in one way (tests/support/faulty_fhir.py). When only
optional keys are missing (conditions, labs) the answer is HTTP 200 with cards whose detail names
the data that was not available; when the Patient is missing too it is HTTP 412 with an
OperationOutcome. Either way the call ends within `fhir_deadline` plus a generous margin (a
functional bound, not a performance threshold), the bearer token goes to the fhirServer's own
host only, threads are not leaked and memory stays bounded. The `resolved` fixture keeps what
prefetch resolution decided, so each test also checks *why* a key was unavailable.

The tests at the end pinned bugs this suite found (a dripping server holding fetch workers past
the deadline, NaN accepted from fhirServer, non-list arrays giving 500, another patient accepted
for the Patient read); they are fixed and stay as regression tests.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse
from werkzeug.wrappers import Request, Response

from cds_service.alp_services import DATA_LABELS
from cds_service.hooks import prefetch
from cds_service.hooks.blueprint import EXTENSION_KEY, HookRuntime
from tests.support.faulty_fhir import (
    RawConnection,
    RawFhirServer,
    WsgiFhirServer,
    drip,
    http_head,
    respond,
    second_loopback_host,
)
from tests.support.fhir import (
    LOINC,
    PATIENT_ID,
    alp,
    condition,
    full_prefetch,
    ggt,
    patient,
    searchset,
    sign_request,
)

# Real servers that hang, drip and reset, and real deadlines: `pytest -m "not slow"` skips them.
pytestmark = pytest.mark.slow

SERVICE = "/cds-services/alp-result-sign"
TOKEN = "fault-injection-token-9c41e7"
MARGIN = 2.0
"""Seconds allowed beyond fhir_deadline for the whole call: generous, a functional bound."""

DEADLINE = 1.0
FAST = {
    "fhir_deadline": DEADLINE,
    "fhir_connect_timeout": 0.5,
    # Longer than the deadline, so the deadline (not the read timeout) is what ends a hang.
    "fhir_read_timeout": 5.0,
}
OPTIONAL = ("conditions", "labs")
WITH_PATIENT = ("patient", "conditions", "labs")
MEMORY_BOUND = 32 * 1024 * 1024
"""A loose sanity bound on traced peak memory during one hook call."""
CONFIRM = "alp-high-confirm-origin"
"""The card ALP 312 U/L (3x ULN) gets when nothing in the record explains it."""

FHIR_JSON = "application/fhir+json"
Handler = Callable[[Request, WsgiFhirServer], Response]


# --- servers, requests and checks ------------------------------------------------------------


class Servers:
    """Starts loopback servers for one test; the fixture stops every one of them at its end."""

    def __init__(self) -> None:
        self._started: list[WsgiFhirServer | RawFhirServer] = []

    def wsgi(self, handler: Handler, host: str = "127.0.0.1") -> WsgiFhirServer:
        server = WsgiFhirServer(handler, host)
        self._started.append(server)
        return server

    def raw(self, behaviour: Callable[[RawConnection], None]) -> RawFhirServer:
        server = RawFhirServer(behaviour)
        self._started.append(server)
        return server

    def stop_all(self) -> None:
        with ExitStack() as stack:  # stops every server, last started first, even if one fails
            for server in self._started:
                stack.callback(server.stop)
            self._started.clear()


@pytest.fixture
def servers() -> Iterator[Servers]:
    started = Servers()
    yield started
    started.stop_all()


@pytest.fixture
def resolved(monkeypatch: pytest.MonkeyPatch) -> list[prefetch.ResolvedData]:
    """Every ResolvedData the service computes, in order, to read why a key was unavailable."""
    seen: list[prefetch.ResolvedData] = []
    real = prefetch.resolve

    def spy(*args: Any, **kwargs: Any) -> prefetch.ResolvedData:
        data = real(*args, **kwargs)
        seen.append(data)
        return data

    monkeypatch.setattr(prefetch, "resolve", spy)
    return seen


@pytest.fixture
def other_host(servers: Servers) -> WsgiFhirServer:
    """A healthy FHIR server on another loopback host: anything reaching it is a leak."""
    return servers.wsgi(healthy, host=second_loopback_host())


def fhir_json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, content_type=FHIR_JSON, headers=headers)


def empty_searchset(next_url: str | None = None) -> dict[str, Any]:
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset"}
    if next_url:
        bundle["link"] = [{"relation": "next", "url": next_url}]
    return bundle


def healthy(request: Request, _: WsgiFhirServer) -> Response:
    """A well-behaved fhirServer: the Patient for reads, empty searchsets for searches."""
    if request.path == f"/fhir/Patient/{PATIENT_ID}":
        return fhir_json(patient())
    return fhir_json(empty_searchset())


def searches_get(answer: Callable[[Request], Response], path: str | None = None) -> Handler:
    """A server that reads the Patient properly and answers searches (or one path) with
    `answer(request)`; other searches get an empty Bundle."""

    def handler(request: Request, server: WsgiFhirServer) -> Response:
        if request.path.startswith("/fhir/Patient/") or (path and request.path != path):
            return healthy(request, server)
        return answer(request)

    return handler


def authorization() -> dict[str, Any]:
    return {
        "access_token": TOKEN,
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "user/*.read",
        "subject": "alp-cds",
    }


def body_for(
    fhir_server: str, missing: Iterable[str] = OPTIONAL, **prefetch_values: Any
) -> dict[str, Any]:
    sent = full_prefetch()
    sent.update(prefetch_values)
    for key in missing:
        del sent[key]
    return sign_request([alp(312)], sent, fhirServer=fhir_server, fhirAuthorization=authorization())


def post(client: FlaskClient, body: dict[str, Any]) -> tuple[TestResponse, float]:
    started = time.monotonic()
    response = client.post(SERVICE, json=body)
    elapsed = time.monotonic() - started
    assert TOKEN not in response.get_data(as_text=True)
    return response, elapsed


def call(
    app: Flask, fhir_server: str, missing: Iterable[str] = OPTIONAL, **prefetch_values: Any
) -> tuple[TestResponse, float]:
    return post(app.test_client(), body_for(fhir_server, missing, **prefetch_values))


def runtime_of(app: Flask) -> HookRuntime:
    found: HookRuntime = app.extensions[EXTENSION_KEY]
    return found


def assert_on_time(app: Flask, elapsed: float) -> None:
    limit = runtime_of(app).fhir_deadline + MARGIN
    assert elapsed < limit, f"the hook call took {elapsed:.2f} s (deadline + margin {limit} s)"


def unavailable_labels(card: dict[str, Any]) -> set[str]:
    detail = str(card["detail"])
    assert "Not available:" in detail, detail
    line = detail.split("Not available:", 1)[1].split("\n", 1)[0]
    return {part.strip(" .") for part in line.split(",")}


def assert_cards_name(response: TestResponse, keys: Iterable[str] = OPTIONAL) -> None:
    """HTTP 200, the ALP card, and every card names exactly the data it was decided without."""
    assert response.status_code == 200, response.get_json()
    cards = response.get_json()["cards"]
    assert cards, "expected the ALP card, decided without the unavailable data"
    wanted = {DATA_LABELS[key] for key in keys}
    for card in cards:
        assert unavailable_labels(card) == wanted


def assert_no_data_missing(response: TestResponse) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.get_json()
    cards: list[dict[str, Any]] = response.get_json()["cards"]
    assert cards
    for card in cards:
        assert "Not available:" not in card["detail"], card["detail"]
    return cards


Reason = str | tuple[str, ...]
"""What a problem text must contain: one string, or any one of several."""
TIMED_OUT: Reason = ("timed out", "deadline passed")


def says(text: str, because: Reason) -> bool:
    return any(part in text for part in ((because,) if isinstance(because, str) else because))


def assert_patient_412(response: TestResponse, because: Reason) -> None:
    assert response.status_code == 412, response.get_data(as_text=True)
    outcome = response.get_json()
    assert outcome["resourceType"] == "OperationOutcome"
    issues = [i for i in outcome["issue"] if i.get("expression") == ["prefetch.patient"]]
    assert issues, outcome
    # The body goes back to the EHR: it names the kind of problem ("ConnectionError"), and the
    # detail (the URL read, with the patient id; the server's own words) stays in the audit.
    kinds = tuple(p.split(": ")[0] for p in ((because,) if isinstance(because, str) else because))
    assert says(issues[0]["diagnostics"], kinds), issues[0]
    assert "/fhir/" not in issues[0]["diagnostics"]  # a URL is cut to its host
    assert PATIENT_ID not in issues[0]["diagnostics"]


def assert_unavailable(
    resolved: list[prefetch.ResolvedData], keys: Iterable[str], because: Reason
) -> None:
    """In the last call, each key was fetched, failed, and its last problem says `because`."""
    assert resolved, "prefetch resolution did not run"
    for key in keys:
        result = resolved[-1].keys[key]
        assert not result.ok, (key, result)
        assert result.problems, key
        assert says(result.problems[-1], because), (key, result.problems)


def check(
    app: Flask,
    response: TestResponse,
    elapsed: float,
    missing: tuple[str, ...],
    resolved: list[prefetch.ResolvedData],
    because: Reason,
) -> None:
    """On time; 412 if the Patient was missing, else cards naming the missing data; and every
    missing key unavailable for the expected reason."""
    assert_on_time(app, elapsed)
    if "patient" in missing:
        assert_patient_412(response, because)
    else:
        assert_cards_name(response, missing)
    assert_unavailable(resolved, missing, because)


def fired(cards: list[dict[str, Any]]) -> list[str]:
    return [c["source"]["topic"]["display"] for c in cards]


@contextmanager
def traced_peak() -> Iterator[list[int]]:
    """Peak traced memory (bytes) over the block, appended to the yielded list at its end.

    tracemalloc sees every thread, the servers' too: tests that measure use raw servers, since
    werkzeug's dev server allocates a 10 MB buffer to drain each request's socket.
    """
    already = tracemalloc.is_tracing()
    if not already:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    peak: list[int] = []
    try:
        yield peak
    finally:
        peak.append(tracemalloc.get_traced_memory()[1] - base)
        if not already:
            tracemalloc.stop()


MISSING = pytest.mark.parametrize(
    "missing", [OPTIONAL, WITH_PATIENT], ids=["optional-keys", "patient-too"]
)


# --- a server that accepts and never answers -------------------------------------------------


def hang(conn: RawConnection) -> None:
    conn.wait(30)  # until the server is stopped


@MISSING
def test_a_server_that_never_answers_costs_only_the_deadline(
    make_app: Callable[..., Flask],
    servers: Servers,
    resolved: list[prefetch.ResolvedData],
    missing: tuple[str, ...],
) -> None:
    server = servers.raw(hang)
    app = make_app(**FAST)
    response, elapsed = call(app, server.url(), missing)
    check(app, response, elapsed, missing, resolved, TIMED_OUT)
    assert elapsed >= DEADLINE * 0.9  # it did wait for the server, up to the deadline
    assert len(server.log.all()) == len(missing)


def test_a_hanging_server_leaks_no_threads(
    make_app: Callable[..., Flask], servers: Servers
) -> None:
    hanging = servers.raw(hang)
    good = servers.wsgi(healthy)
    app = make_app(**{**FAST, "fhir_deadline": 0.5, "fhir_max_parallel": 2})
    before = set(threading.enumerate())
    # Warm up first, so whatever the app starts once (its two fetch workers, say) is counted.
    response, _ = call(app, good.url())
    assert_no_data_missing(response)
    baseline = threading.active_count()
    for _ in range(5):
        response, elapsed = call(app, hanging.url())
        assert_on_time(app, elapsed)
        assert_cards_name(response)
    assert len(hanging.log.all()) >= 2  # (later calls may time out queued behind hung workers)

    hanging.stop()  # release every hung connection
    limit = time.monotonic() + 5.0
    while threading.active_count() > baseline and time.monotonic() < limit:
        time.sleep(0.05)
    assert threading.active_count() <= baseline, [t.name for t in threading.enumerate()]

    # With the app's fetch pool shut down too, every thread started since `before` has ended.
    closer = threading.Thread(target=runtime_of(app).executor.shutdown, kwargs={"wait": True})
    closer.start()
    closer.join(5.0)
    assert not closer.is_alive(), "a fetch worker is still busy after the server went away"
    limit = time.monotonic() + 5.0
    while set(threading.enumerate()) - before and time.monotonic() < limit:
        time.sleep(0.05)
    assert not set(threading.enumerate()) - before


# --- well-formed HTTP that cannot be used ----------------------------------------------------


@MISSING
def test_http_500_is_unavailable_data(
    make_app: Callable[..., Flask],
    servers: Servers,
    resolved: list[prefetch.ResolvedData],
    missing: tuple[str, ...],
) -> None:
    server = servers.wsgi(
        lambda _r, _s: Response("<h1>Internal Server Error</h1>", 500, content_type="text/html")
    )
    app = make_app(**FAST)
    response, elapsed = call(app, server.url(), missing)
    check(app, response, elapsed, missing, resolved, "HTTP 500")


@MISSING
def test_429_with_retry_after_is_not_waited_for(
    make_app: Callable[..., Flask],
    servers: Servers,
    resolved: list[prefetch.ResolvedData],
    missing: tuple[str, ...],
) -> None:
    throttled = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "throttled", "diagnostics": "slow down"}],
    }
    server = servers.wsgi(lambda _r, _s: fhir_json(throttled, 429, {"Retry-After": "3600"}))
    app = make_app(**FAST)
    response, elapsed = call(app, server.url(), missing)
    check(app, response, elapsed, missing, resolved, "HTTP 429")
    paths = server.log.paths()
    assert len(paths) == len(set(paths)) == len(missing), "one request per key, no retries"


def test_an_html_page_with_200_is_not_fhir(
    make_app: Callable[..., Flask], servers: Servers, resolved: list[prefetch.ResolvedData]
) -> None:
    page = "<!doctype html><html><body><form action='/login'>Sign in</form></body></html>"
    server = servers.wsgi(lambda _r, _s: Response(page, 200, content_type="text/html"))
    app = make_app(**FAST)
    for missing in (OPTIONAL, WITH_PATIENT):
        response, elapsed = call(app, server.url(), missing)
        check(app, response, elapsed, missing, resolved, "not JSON")


TRUNCATED = b'{"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": {"resourceT'


def truncated_json(_: Request, __: WsgiFhirServer) -> Response:
    """Complete HTTP framing around a JSON document cut in the middle."""
    return Response(TRUNCATED, 200, content_type=FHIR_JSON)


def short_body(conn: RawConnection) -> None:
    """Content-Length promises more than is sent, then the connection is closed (FIN)."""
    head = {"Content-Type": FHIR_JSON, "Content-Length": str(len(TRUNCATED) + 5000)}
    conn.send(http_head("200 OK", head) + TRUNCATED)


@pytest.mark.parametrize(
    ("framing", "because"), [("well-framed", "not JSON"), ("short-body", "reading")]
)
def test_truncated_json_is_unavailable_data(
    make_app: Callable[..., Flask],
    servers: Servers,
    resolved: list[prefetch.ResolvedData],
    framing: str,
    because: str,
) -> None:
    server = servers.wsgi(truncated_json) if framing == "well-framed" else servers.raw(short_body)
    app = make_app(**FAST)
    for missing in (OPTIONAL, WITH_PATIENT):
        response, elapsed = call(app, server.url(), missing)
        check(app, response, elapsed, missing, resolved, because)


# --- big Bundles -----------------------------------------------------------------------------

ENTRIES = 10_000


def filler(n: int) -> dict[str, Any]:
    """An old body-temperature Observation: in the Bundle, irrelevant to the rules."""
    return {
        "resourceType": "Observation",
        "id": f"f{n}",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "8310-5"}]},
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "effectiveDateTime": "2019-01-01T08:00:00Z",
        "valueQuantity": {"value": 37.0, "unit": "Cel"},
    }


_big_bundle: list[bytes] = []


def big_bundle() -> bytes:
    """10,000 entries: 9,999 fillers, then (last) a raised GGT from two days ago (~2.7 MB)."""
    if not _big_bundle:
        resources = [filler(n) for n in range(ENTRIES - 1)]
        resources.append(ggt(120, when="2026-11-19T08:00:00Z", ident="ggt-last"))
        bundle = {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": ENTRIES,
            "entry": [{"fullUrl": f"Observation/{r['id']}", "resource": r} for r in resources],
        }
        _big_bundle.append(json.dumps(bundle).encode())
    return _big_bundle[0]


def raw_searches_get(answer: Callable[[RawConnection], None]) -> Callable[[RawConnection], None]:
    """A raw server: the Patient and empty Bundles, except labs (Observation searches), which
    get `answer(conn)`. Raw, so that tracemalloc measures the service and not werkzeug."""

    def behaviour(conn: RawConnection) -> None:
        if conn.seen.path == "/fhir/Observation":
            answer(conn)
        elif conn.seen.path.startswith("/fhir/Patient/"):
            respond(conn, json.dumps(patient()).encode())
        else:
            respond(conn, json.dumps(empty_searchset()).encode())

    return behaviour


def sized(conn: RawConnection) -> None:
    respond(conn, big_bundle())


def chunked(conn: RawConnection) -> None:
    respond(conn, big_bundle(), chunk_size=65536)


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_bundle_over_the_byte_limit_is_refused_in_bounded_memory(
    make_app: Callable[..., Flask],
    servers: Servers,
    resolved: list[prefetch.ResolvedData],
    framing: str,
) -> None:
    assert len(big_bundle()) > 2 * 1024 * 1024
    server = servers.raw(raw_searches_get(sized if framing == "content-length" else chunked))
    app = make_app(**FAST, fhir_max_response_bytes=256 * 1024)
    with traced_peak() as peak:
        response, elapsed = call(app, server.url())
    assert_on_time(app, elapsed)
    assert_cards_name(response, ["labs"])  # the conditions arrived and were used
    assert_unavailable(resolved, ["labs"], "response too large")
    assert resolved[-1].keys["conditions"].ok
    # Bounded by the byte limit, not by the response: it was never held whole.
    assert peak[0] < len(big_bundle()), f"peak {peak[0] / 1e6:.1f} MB"


def test_a_bundle_under_the_byte_limit_is_used_whole(
    make_app: Callable[..., Flask], servers: Servers, resolved: list[prefetch.ResolvedData]
) -> None:
    server = servers.raw(raw_searches_get(chunked))
    # A generous deadline: tracemalloc slows parsing 10,000 entries several times over.
    app = make_app(**{**FAST, "fhir_deadline": 15.0})
    with traced_peak() as peak:
        response, elapsed = call(app, server.url())
    assert_on_time(app, elapsed)
    cards = assert_no_data_missing(response)
    labs = resolved[-1].keys["labs"]
    assert labs.ok
    assert labs.source == prefetch.FROM_FETCH
    assert len(labs.resources) == ENTRIES
    # The raised GGT is the last of the 10,000 entries: only the whole Bundle gives this card.
    assert fired(cards) == ["alp-high-liver-source"]
    # The parsed record is held legitimately; still a bounded multiple of the 2.7 MB of JSON.
    assert peak[0] < 3 * MEMORY_BOUND, f"peak {peak[0] / 1e6:.1f} MB"


def test_a_gzip_bomb_is_cut_at_the_byte_limit(
    make_app: Callable[..., Flask], servers: Servers, resolved: list[prefetch.ResolvedData]
) -> None:
    bomb = gzip.compress(b" " * (64 * 1024 * 1024), compresslevel=9)  # 64 MB -> about 64 KB
    assert len(bomb) < 512 * 1024
    server = servers.raw(
        raw_searches_get(lambda conn: respond(conn, bomb, headers={"Content-Encoding": "gzip"}))
    )
    app = make_app(**FAST, fhir_max_response_bytes=1024 * 1024)
    with traced_peak() as peak:
        response, elapsed = call(app, server.url())
    assert_on_time(app, elapsed)
    assert_cards_name(response, ["labs"])
    assert_unavailable(resolved, ["labs"], "response too large")
    # Decompressed in bounded pieces: nowhere near the 64 MB the bomb expands to.
    assert peak[0] < 8 * 1024 * 1024, f"peak {peak[0] / 1e6:.1f} MB"


# --- endless paging --------------------------------------------------------------------------


def endless_pages(request: Request, server: WsgiFhirServer) -> Response:
    """Every searchset page links to a further, distinct page of the same search."""
    if request.path.startswith("/fhir/Patient/"):
        return healthy(request, server)
    page = int(request.args.get("page", "1"))
    resource = request.path.rsplit("/", 1)[1]
    return fhir_json(empty_searchset(server.url(f"/fhir/{resource}?page={page + 1}")))


def test_endless_next_links_stop_at_the_page_limit(
    make_app: Callable[..., Flask], servers: Servers, resolved: list[prefetch.ResolvedData]
) -> None:
    server = servers.wsgi(endless_pages)
    app = make_app(**FAST, fhir_max_pages=3)
    response, elapsed = call(app, server.url())
    check(app, response, elapsed, OPTIONAL, resolved, "more than 3 pages")
    paths = server.log.paths()
    assert paths.count("/fhir/Condition") == 3
    assert paths.count("/fhir/Observation") == 3


# --- the wrong resource type ----------------------------------------------------------------


def test_an_observation_for_the_patient_read_is_412(
    make_app: Callable[..., Flask], servers: Servers, resolved: list[prefetch.ResolvedData]
) -> None:
    server = servers.wsgi(lambda _r, _s: fhir_json(alp(100, ident="not-a-patient")))
    app = make_app(**FAST)
    response, elapsed = call(app, server.url(), WITH_PATIENT)
    assert_on_time(app, elapsed)
    assert_patient_412(response, "expected a Patient, got a Observation")
    assert_unavailable(resolved, OPTIONAL, "expected a Bundle, got a Observation")


def test_a_patient_for_a_search_is_unavailable_data(
    make_app: Callable[..., Flask], servers: Servers, resolved: list[prefetch.ResolvedData]
) -> None:
    server = servers.wsgi(lambda _r, _s: fhir_json(patient()))
    app = make_app(**FAST)
    response, elapsed = call(app, server.url())
    check(app, response, elapsed, OPTIONAL, resolved, "expected a Bundle, got a Patient")
    assert sorted(server.log.paths()) == ["/fhir/Condition", "/fhir/Observation"]


# --- bytes dripped slowly --------------------------------------------------------------------

DRIP_INTERVAL = 0.1
DRIP_BYTES = 30  # 3 s at one byte per 100 ms: three times the deadline
DRIP_BODY = b'{"resourceType":"Bundle"}'.ljust(DRIP_BYTES)


def drip_head(conn: RawConnection) -> None:
    """The status line, then a header dripped one byte per 100 ms."""
    if conn.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/fhir+json\r\nX-Drip: "):
        drip(conn, b"a" * DRIP_BYTES, DRIP_INTERVAL)
        conn.send(b"\r\nContent-Length: 2\r\n\r\n{}")


def drip_body(conn: RawConnection) -> None:
    """Complete headers at once, then the body one byte per 100 ms."""
    head = {"Content-Type": FHIR_JSON, "Content-Length": str(DRIP_BYTES)}
    if conn.send(http_head("200 OK", head)):
        drip(conn, DRIP_BODY, DRIP_INTERVAL)


DRIPS = pytest.mark.parametrize(
    "behaviour", [drip_head, drip_body], ids=["dripped-headers", "dripped-body"]
)


@DRIPS
def test_a_dripping_server_costs_only_the_deadline_in_bounded_memory(
    make_app: Callable[..., Flask],
    servers: Servers,
    resolved: list[prefetch.ResolvedData],
    behaviour: Callable[[RawConnection], None],
) -> None:
    server = servers.raw(behaviour)
    app = make_app(**FAST)
    for missing in (OPTIONAL, WITH_PATIENT):
        with traced_peak() as peak:
            response, elapsed = call(app, server.url(), missing)
        check(app, response, elapsed, missing, resolved, TIMED_OUT)
        assert peak[0] < MEMORY_BOUND, f"peak {peak[0] / 1e6:.1f} MB"


# --- resets ----------------------------------------------------------------------------------


def reset_at_once(conn: RawConnection) -> None:
    conn.reset()


def reset_mid_body(conn: RawConnection) -> None:
    head = {"Content-Type": FHIR_JSON, "Content-Length": "5000"}
    if conn.send(http_head("200 OK", head) + TRUNCATED):
        conn.wait(0.05)
        conn.reset()


@MISSING
@pytest.mark.parametrize(
    ("behaviour", "because"),
    [(reset_at_once, "ConnectionError: GET"), (reset_mid_body, "Error reading")],
    ids=["at-once", "mid-body"],
)
def test_a_reset_connection_is_unavailable_data(
    make_app: Callable[..., Flask],
    servers: Servers,
    resolved: list[prefetch.ResolvedData],
    behaviour: Callable[[RawConnection], None],
    because: str,
    missing: tuple[str, ...],
) -> None:
    server = servers.raw(behaviour)
    app = make_app(**FAST)
    response, elapsed = call(app, server.url(), missing)
    check(app, response, elapsed, missing, resolved, because)


# --- redirects and where the token goes ------------------------------------------------------


@MISSING
def test_a_redirect_to_another_host_is_not_followed(
    make_app: Callable[..., Flask],
    servers: Servers,
    other_host: WsgiFhirServer,
    resolved: list[prefetch.ResolvedData],
    missing: tuple[str, ...],
) -> None:
    def redirect(request: Request, _: WsgiFhirServer) -> Response:
        return Response("", 302, headers={"Location": other_host.url(request.full_path)})

    server = servers.wsgi(redirect)
    app = make_app(**FAST)
    response, elapsed = call(app, server.url(), missing)
    check(app, response, elapsed, missing, resolved, "HTTP 302")
    assert len(server.log.all()) == len(missing)
    assert other_host.log.all() == []


def test_the_token_reaches_only_the_fhir_servers_own_host(
    make_app: Callable[..., Flask],
    servers: Servers,
    other_host: WsgiFhirServer,
    resolved: list[prefetch.ResolvedData],
    caplog: pytest.LogCaptureFixture,
) -> None:
    cookie = {"Set-Cookie": "session=keep-me; Path=/"}

    def faulty(request: Request, server: WsgiFhirServer) -> Response:
        if request.path.startswith("/fhir/Patient/"):
            return fhir_json(patient(), headers=cookie)
        if request.path == "/fhir/Condition":
            if request.args.get("page") != "2":  # page 1 -> page 2 here -> another host
                return fhir_json(empty_searchset(server.url("/fhir/Condition?page=2")), 200, cookie)
            return fhir_json(empty_searchset(other_host.url("/fhir/Condition?page=3")))
        # Labs: a redirect to the other host.
        return Response("", 302, headers={"Location": other_host.url(request.full_path)})

    server = servers.wsgi(faulty)
    # A paged prefetch Bundle from the EHR whose next link points at the other host.
    orders = empty_searchset(other_host.url("/fhir/ServiceRequest?page=2"))
    app = make_app(**FAST)
    caplog.set_level("DEBUG")
    response, elapsed = call(app, server.url(), WITH_PATIENT, orders=orders)
    assert_on_time(app, elapsed)
    assert_cards_name(response, ["conditions", "labs", "orders"])
    assert_unavailable(resolved, ["conditions", "orders"], "refused to call")
    assert_unavailable(resolved, ["labs"], "HTTP 302")

    seen = server.log.all()
    assert sorted(s.path for s in seen) == [
        "/fhir/Condition",
        "/fhir/Condition",
        "/fhir/Observation",
        f"/fhir/Patient/{PATIENT_ID}",
    ]
    assert {s.header("Authorization") for s in seen} == {f"Bearer {TOKEN}"}
    assert {s.header("Cookie") for s in seen} == {None}  # cookies are never kept
    assert other_host.log.all() == []  # neither the next links nor the redirect went there
    assert TOKEN not in caplog.text


# --- regressions of bugs this suite found ---------------------------------------------------
# A dripping server used to hold a fetch worker past the deadline (fixed by fhir/watchdog.py).


@DRIPS
def test_a_dripping_connection_is_dropped_at_the_deadline(
    make_app: Callable[..., Flask], servers: Servers, behaviour: Callable[[RawConnection], None]
) -> None:
    server = servers.raw(behaviour)
    app = make_app(**FAST)
    response, elapsed = call(app, server.url())
    assert_on_time(app, elapsed)  # the hook call itself is on time...
    assert_cards_name(response)
    ended = server.wait_until_finished(2, timeout=DRIP_BYTES * DRIP_INTERVAL + 2.0)
    assert len(ended) == 2
    held = sorted(round(c.held or 0.0, 2) for c in ended)
    # ...but the fetch workers should also let go of the connections at the deadline.
    assert held[-1] < DEADLINE + 1.0, f"connections held {held} s with a {DEADLINE} s deadline"


def test_a_dripping_server_does_not_starve_the_next_call(
    make_app: Callable[..., Flask], servers: Servers, resolved: list[prefetch.ResolvedData]
) -> None:
    dripping = servers.raw(drip_body)
    good = servers.wsgi(healthy)
    app = make_app(**FAST, fhir_max_parallel=2)
    response, elapsed = call(app, dripping.url())
    assert_on_time(app, elapsed)
    assert_cards_name(response)
    # The next call, to a healthy fhirServer, needs the same two fetch workers.
    response, elapsed = call(app, good.url())
    assert_on_time(app, elapsed)
    assert resolved[-1].unavailable() == [], resolved[-1].sources()
    assert_no_data_missing(response)


def _labs_with_ggt(value: float) -> dict[str, Any]:
    return searchset([ggt(value, when="2026-11-19T08:00:00Z", ident="ggt-nan")])


def test_a_nan_value_from_fhir_server_is_not_a_normal_ggt(
    make_app: Callable[..., Flask], servers: Servers
) -> None:
    nan_labs = json.dumps(_labs_with_ggt(float("nan")))  # json.dumps writes the bare NaN token
    assert "NaN" in nan_labs
    server = servers.wsgi(
        searches_get(lambda _: Response(nan_labs, content_type=FHIR_JSON), "/fhir/Observation")
    )
    app = make_app(**FAST)
    response, elapsed = call(app, server.url())
    assert_on_time(app, elapsed)
    assert response.status_code == 200
    # With no usable GGT (or labs refused as not JSON), ALP 312 gets the confirm-origin card.
    assert fired(response.get_json()["cards"]) == [CONFIRM]


MALFORMED = {
    # Bundle.entry not a list: prefetch._bundle_resources iterates it (TypeError).
    "entry-not-a-list": ("/fhir/Observation", {"resourceType": "Bundle", "entry": 5}),
    # Bundle.link not a list: client.next_link iterates it (TypeError).
    "link-not-a-list": ("/fhir/Observation", {"resourceType": "Bundle", "link": 5}),
    # OperationOutcome.issue not a list: prefetch._describe_outcome iterates it (TypeError).
    "issue-not-a-list": ("/fhir/Observation", {"resourceType": "OperationOutcome", "issue": 5}),
    # CodeableConcept.coding not a list: fhir/values.codings iterates it (TypeError).
    "coding-not-a-list": (
        "/fhir/Condition",
        searchset([{**condition("K74.3"), "code": {"coding": 5}}]),
    ),
}


@pytest.mark.parametrize("shape", list(MALFORMED))
def test_a_structurally_malformed_answer_is_not_a_500(
    make_app: Callable[..., Flask], servers: Servers, shape: str
) -> None:
    path, document = MALFORMED[shape]
    server = servers.wsgi(searches_get(lambda _: fhir_json(document), path))
    app = make_app(**FAST)
    response, elapsed = call(app, server.url())
    assert_on_time(app, elapsed)
    assert response.status_code == 200, response.get_json()
    assert fired(response.get_json()["cards"]) == [CONFIRM]


def test_another_patient_for_the_patient_read_is_not_used(
    make_app: Callable[..., Flask], servers: Servers
) -> None:
    boy = {"resourceType": "Patient", "id": "someone-else", "gender": "male"}
    boy["birthDate"] = "2016-01-01"  # a 10-year-old: ALP 312 U/L is normal for him

    def handler(request: Request, server: WsgiFhirServer) -> Response:
        if request.path.startswith("/fhir/Patient/"):
            return fhir_json(boy)
        return healthy(request, server)

    server = servers.wsgi(handler)
    app = make_app(**FAST)
    response, elapsed = call(app, server.url(), WITH_PATIENT)
    assert_on_time(app, elapsed)
    assert_patient_412(response, "patient")
