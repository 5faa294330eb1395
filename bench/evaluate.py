"""Time the request pipeline (hooks/pipeline.py, no HTTP) for the typical patient of
ARCHITECTURE.md section 11, stage by stage, and its evaluation for records 10x, 71x (about 5,000
resources) and 100x its size.

    .venv/bin/python -m bench.evaluate [--runs 300]

"Evaluation" is everything after the data is resolved (require, handle, digest: facts, rules,
cards, the decision trace and the response body), the part that grows with the record. Prints
median and p99 and the growth ratio against the typical size. A measurement, not a test: nothing
here asserts a time.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from bench.typical_patient import resource_count, typical_request
from cds_service import strict_json
from cds_service.alp_services import RESULT_SIGN_ID, AlpServices
from cds_service.app import load_knowledge_base
from cds_service.hooks.declaration import ServiceDeclaration
from cds_service.hooks.pipeline import Pipeline
from cds_service.settings import Settings


def timed(work: Callable[[], Any], runs: int) -> tuple[float, float]:
    """Median and p99 of `runs` calls, in seconds."""
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        samples.append(time.perf_counter() - started)
    samples.sort()
    return statistics.median(samples), samples[max(0, int(len(samples) * 0.99) - 1)]


def stages(pipeline: Pipeline, service: ServiceDeclaration, runs: int) -> None:
    raw = strict_json.dumps(typical_request())
    body = pipeline.parse(raw)
    request = pipeline.check(service, body)
    data = pipeline.resolve(service, request)
    response = pipeline.handle(service, request, data)
    sources = data.sources()
    steps: list[tuple[str, Callable[[], Any]]] = [
        ("parse (depth bound, orjson)", lambda: pipeline.parse(raw)),
        ("check (one schema pass)", lambda: pipeline.check(service, body)),
        ("resolve (all prefetched)", lambda: pipeline.resolve(service, request)),
        ("handle (facts, rules, cards)", lambda: pipeline.handle(service, request, data)),
        ("digest (body, trace)", lambda: pipeline.digest(request, response, sources)),
        ("the whole call", lambda: pipeline.run(service, raw)),
        ("response JSON (orjson)", lambda: strict_json.dumps(response.to_json())),
    ]
    print(f"typical request, {len(raw):,} bytes, {resource_count(typical_request())} resources")
    print(f"{'stage':30} {'median ms':>10} {'p99 ms':>8}")
    for name, work in steps:
        work()
        median, p99 = timed(work, runs)
        print(f"{name:30} {median * 1000:>10.3f} {p99 * 1000:>8.3f}")
    print()


def evaluation(
    pipeline: Pipeline, service: ServiceDeclaration, scale: int, runs: int
) -> tuple[int, float, float]:
    body = typical_request(scale)
    request = pipeline.check(service, body)
    data = pipeline.resolve(service, request)
    answer = pipeline.run_resolved(service, request, data)  # warm, and check it made the card
    assert [c.rule for c in answer.trace.cards] == ["alp-high-confirm-origin"]
    median, p99 = timed(lambda: pipeline.run_resolved(service, request, data), runs)
    return resource_count(body), median, p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()
    settings = Settings.from_env({})
    services = AlpServices(
        load_knowledge_base(settings), settings.base_url, settings.result_sign_hook
    )
    declarations = services.declarations()
    pipeline = Pipeline.offline(declarations, "the benchmark fetches nothing")
    service = next(s for s in declarations if s.id == RESULT_SIGN_ID)
    stages(pipeline, service, args.runs)
    base = None
    print("evaluation (require, handle, digest)")
    print(f"{'scale':>5} {'resources':>9} {'median ms':>10} {'p99 ms':>8} {'x typical':>9}")
    for scale in (1, 10, 71, 100):  # 71x is the 5,000-resource record of section 11
        count, median, p99 = evaluation(pipeline, service, scale, max(10, args.runs // scale))
        base = base or median
        print(
            f"{scale:>5} {count:>9} {median * 1000:>10.2f} {p99 * 1000:>8.2f} {median / base:>9.1f}"
        )


if __name__ == "__main__":
    main()
