"""Prometheus metrics that add up across gunicorn workers.

Under gunicorn, `alp-cds serve` sets PROMETHEUS_MULTIPROC_DIR before anything imports
prometheus_client, so every worker writes its samples to shared files and /metrics, served by any
worker, sums them (prometheus_client's multiprocess mode). Gauges that describe the host rather
than a worker (the audit spool depth) are computed when scraped.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from cds_service.hooks.invocation import Invocation

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

REQUESTS = Counter(
    "alp_cds_requests_total", "HTTP requests answered", ["route", "service", "status"]
)
LATENCY = Histogram(
    "alp_cds_request_seconds",
    "Time to answer an HTTP request",
    ["route", "service"],
    buckets=LATENCY_BUCKETS,
)
CARDS = Counter("alp_cds_cards_total", "Cards returned", ["rule", "indicator"])
FETCHES = Counter(
    "alp_cds_fhir_fetches_total",
    "Prefetch keys resolved, by where the data came from and whether it was had",
    ["key", "source", "outcome"],
)
AUTH_FAILURES = Counter(
    "alp_cds_auth_failures_total", "Calls refused for their JWT, by reason", ["reason"]
)


class MetricsSink:
    """An InvocationSink that counts cards and prefetch outcomes per invocation."""

    def record_invocation(self, invocation: Invocation) -> None:
        if invocation.trace is None:
            return
        for card in invocation.trace.cards:
            CARDS.labels(str(card.rule), card.indicator).inc()
        for source in invocation.trace.data:
            if source.applicable:
                outcome = "ok" if source.ok else "unavailable"
                FETCHES.labels(source.key, source.source, outcome).inc()


def observe_request(route: str, service: str, status: int, seconds: float) -> None:
    REQUESTS.labels(route, service, str(status)).inc()
    LATENCY.labels(route, service).observe(seconds)


def auth_failure(reason: str) -> None:
    AUTH_FAILURES.labels(reason).inc()


class _HostGauges(Collector):
    def __init__(self, spool_depth: Callable[[], int]) -> None:
        self._spool_depth = spool_depth

    def collect(self) -> Iterable[Any]:
        gauge = GaugeMetricFamily(
            "alp_cds_audit_spool_records", "Audit records waiting in the local spool"
        )
        gauge.add_metric([], self._spool_depth())
        yield gauge


def exposition(spool_depth: Callable[[], int]) -> tuple[bytes, str]:
    """The /metrics body and content type."""
    if MULTIPROCESS:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry = CollectorRegistry()
        for collector in (REQUESTS, LATENCY, CARDS, FETCHES, AUTH_FAILURES):
            registry.register(collector)
    registry.register(_HostGauges(spool_depth))
    return generate_latest(registry), CONTENT_TYPE_LATEST


def mark_worker_dead(pid: int) -> None:
    """gunicorn child_exit hook: drop a dead worker's live gauges (counters are kept)."""
    if MULTIPROCESS:
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
