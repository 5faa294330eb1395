"""The fetch path: no prefetch at all, every key fetched from a FHIR server that adds 50 ms to
each query (Medplum's router in memory, tests/fhir_server). Reports the service's end-to-end
latency against the slowest single FHIR query measured the same way (ARCHITECTURE.md section 11:
target under 1.5x, since the seven queries run in parallel).

    .venv/bin/python -m bench.fetch_path [--delay-ms 50] [--requests 30]
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from bench.typical_patient import typical_request
from cds_service.alp_services import RESULT_SIGN_ID, prefetch_templates
from cds_service.app import create_app
from cds_service.settings import Settings
from tests.support.medplum import MedplumServer, medplum_unavailable_reason


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--delay-ms", type=int, default=50)
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()
    reason = medplum_unavailable_reason()
    if reason:
        raise SystemExit(reason)
    logging.disable(logging.WARNING)
    request = typical_request(1)
    resources: list[dict[str, Any]] = []
    for value in request["prefetch"].values():
        if value.get("resourceType") == "Bundle":
            resources += [e["resource"] for e in value.get("entry", [])]
        else:
            resources.append(value)
    settings = Settings.from_env({}, dev_mode=True, data_dir=Path(tempfile.mkdtemp()))
    app = create_app(settings)
    client = app.test_client()
    with MedplumServer(delay_ms=args.delay_ms) as fhir:
        fhir.load(resources)
        body = dict(request)
        del body["prefetch"]
        body["fhirServer"] = fhir.base_url
        session = requests.Session()
        slowest: list[float] = []
        for template in prefetch_templates(app.extensions["alp_cds"].kb, RESULT_SIGN_ID):
            query = template.render(request["context"])
            assert query is not None
            samples = []
            for _ in range(5):
                started = time.perf_counter()
                response = session.get(f"{fhir.base_url}/{query}", timeout=10)
                samples.append(time.perf_counter() - started)
                assert response.status_code == 200, (template.key, response.text[:200])
            slowest.append(statistics.median(samples))
        single = max(slowest)
        latencies = []
        for _ in range(args.requests + 2):
            started = time.perf_counter()
            answer = client.post("/cds-services/alp-result-sign", json=body)
            latencies.append(time.perf_counter() - started)
            cards = answer.get_json()["cards"]
            assert cards
            assert "Data not available" not in cards[0]["detail"], cards[0]["detail"]
        latencies = latencies[2:]
    median = statistics.median(latencies)
    print(
        f"FHIR server delay {args.delay_ms} ms per query; {len(slowest)} prefetch queries, "
        f"{len(resources)} resources"
    )
    print(f"slowest single query (median of 5): {single * 1000:.1f} ms")
    print(
        f"end-to-end, no prefetch ({args.requests} requests): median {median * 1000:.1f} ms, "
        f"p95 {_percentile(latencies, 0.95) * 1000:.1f} ms"
    )
    print(f"ratio (median end-to-end / slowest query): {median / single:.2f}")
    print(
        json.dumps(
            {
                "slowest_query_ms": round(single * 1000, 1),
                "median_ms": round(median * 1000, 1),
                "p95_ms": round(_percentile(latencies, 0.95) * 1000, 1),
                "ratio": round(median / single, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
