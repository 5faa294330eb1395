"""Time one evaluation (facts, rules, cards; no HTTP, no JSON parsing) for the typical patient of
ARCHITECTURE.md section 11, and for records 10x, 71x (about 5,000 resources) and 100x its size.

    .venv/bin/python -m bench.evaluate [--runs 300]

Prints median and p99 per evaluation and the growth ratio against the typical size. A
measurement, not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

from bench.typical_patient import resource_count, typical_request
from cds_service.alp_services import AlpServices
from cds_service.app import load_knowledge_base
from cds_service.hooks import prefetch
from cds_service.hooks.blueprint import parse_hook_request
from cds_service.settings import Settings


def measure(services: AlpServices, scale: int, runs: int) -> tuple[int, float, float]:
    body = typical_request(scale)
    service = next(s for s in services.declarations() if s.id == "alp-result-sign")
    request = parse_hook_request(service, body)
    with ThreadPoolExecutor(1) as pool:
        data = prefetch.resolve(service, request, lambda _: "offline", pool, 1.0)
    response = service.handler(request, data)  # warm-up, and a check that it produced the card
    assert [c.source.topic.code for c in response.cards if c.source.topic] == [
        "alp-high-confirm-origin"
    ]
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        service.handler(request, data)
        samples.append(time.perf_counter() - started)
    samples.sort()
    return resource_count(body), statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()
    settings = Settings.from_env({})
    services = AlpServices(
        load_knowledge_base(settings), settings.base_url, settings.result_sign_hook
    )
    base = None
    print(f"{'scale':>5} {'resources':>9} {'median ms':>10} {'p99 ms':>8} {'x typical':>9}")
    for scale in (1, 10, 71, 100):  # 71x is the 5,000-resource record of section 11
        count, median, p99 = measure(services, scale, max(10, args.runs // scale))
        base = base or median
        print(
            f"{scale:>5} {count:>9} {median * 1000:>10.2f} {p99 * 1000:>8.2f} {median / base:>9.1f}"
        )


if __name__ == "__main__":
    main()
