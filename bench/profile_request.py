"""The typical request (ARCHITECTURE.md section 11) through Flask's test client, in process:
median and p99 per request, then a cProfile of the same loop.

    .venv/bin/python -m bench.profile_request [--runs 500] [--top 30] [--sort tottime]
    .venv/bin/python -m bench.profile_request --parts     # CPU time of each part instead

The app is built as `alp-cds serve` builds it (development mode, SQLite audit store in a
temporary folder), so the time includes routing, parsing, validation, evaluation, the audit
record and the response. Wall time and this thread's CPU time are both printed: on a shared
machine the CPU time is the steadier figure. A measurement, not a test: nothing here asserts a
time.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import logging
import pstats
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench.typical_patient import typical_request
from cds_service.app import create_app
from cds_service.audit.store import AuditStore
from cds_service.hooks.pipeline import Pipeline
from cds_service.settings import Settings

PATH = "/cds-services/alp-result-sign"


def _time_parts(parts: dict[str, list[float]]) -> None:
    """Wrap the pipeline's stages and the audit record so each call adds its thread CPU time."""

    def timed(owner: Any, name: str, label: str) -> None:
        original = getattr(owner, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.thread_time()
            try:
                return original(*args, **kwargs)
            finally:
                parts[label].append(time.thread_time() - started)

        static = isinstance(owner.__dict__.get(name), staticmethod)
        setattr(owner, name, staticmethod(wrapper) if static else wrapper)

    timed(Pipeline, "run", "pipeline (all stages)")
    for stage in ("parse", "check", "resolve", "handle", "digest"):
        timed(Pipeline, stage, f"  {stage}")
    timed(AuditStore, "record_invocation", "audit record and spool line")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--sort", default="tottime", choices=["tottime", "cumulative"])
    parser.add_argument("--top", type=int, default=30, help="profile rows; 0: time only")
    parser.add_argument(
        "--parts", action="store_true", help="median CPU time of each part of the request"
    )
    args = parser.parse_args()
    parts: dict[str, list[float]] = defaultdict(list)
    if args.parts:
        _time_parts(parts)
    logging.disable(logging.WARNING)  # development mode says so on every start
    body = json.dumps(typical_request()).encode()
    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings.from_env({}, dev_mode=True, data_dir=Path(data_dir))
        app = create_app(settings)
        client = app.test_client()
        headers = {"Content-Type": "application/json"}

        def call() -> None:
            response = client.post(PATH, data=body, headers=headers)
            assert response.status_code == 200, response.data[:300]

        if args.parts:  # the writer's work is timed apart (per record, in `flush`)
            app.extensions["alp_cds"].audit.writer_running = lambda: True
        for _ in range(50):  # warm caches, connections and statement compilation
            call()
        parts.clear()
        samples, cpu = [], []
        for _ in range(args.runs):
            started, started_cpu = time.perf_counter(), time.thread_time()
            call()
            samples.append(time.perf_counter() - started)
            cpu.append(time.thread_time() - started_cpu)
        samples.sort()
        # CPU time of this thread: what the request costs, even when other processes share
        # the cores (wall time then includes waiting for one).
        print(
            f"{len(body):,} bytes, {args.runs} requests: median "
            f"{statistics.median(samples) * 1000:.2f} ms, "
            f"p99 {samples[int(len(samples) * 0.99) - 1] * 1000:.2f} ms; "
            f"CPU median {statistics.median(cpu) * 1000:.2f} ms"
        )
        if args.parts:
            audit = app.extensions["alp_cds"].audit
            for _ in range(args.runs // 40):
                for _ in range(40):
                    call()
                started_cpu = time.thread_time()
                loaded = audit.flush()
                parts["audit writer, per record (batches of 40)"].append(
                    (time.thread_time() - started_cpu) / max(loaded, 1)
                )
            for name, values in parts.items():
                print(f"{name:45} {statistics.median(values) * 1000:8.3f} ms")
            return
        if not args.top:
            return
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(args.runs):
            call()
        profile.disable()
    stats = pstats.Stats(profile)
    stats.sort_stats(args.sort).print_stats(args.top)


if __name__ == "__main__":
    main()
