"""Throughput and latency of the service against a bare Flask endpoint, same gunicorn options,
same run, same machine (ARCHITECTURE.md section 11).

    .venv/bin/python -m bench.throughput [--duration 10] [--connections 1,8,32]

Starts the service (`alp-cds serve`, development mode: no JWT, since wrk cannot sign a fresh token
per request; SQLite audit store in a temporary folder) and the bare endpoint, drives each with wrk
(Debian package) using the typical patient's lab-result-sign request (20 conditions,
10 medications, 40 labs, full prefetch), and prints requests per second, p50 and p99 for each and
the ratios. A measurement, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import requests

from bench.typical_patient import typical_request
from tests.support.processes import free_port, wait_until_up

ROOT = Path(__file__).resolve().parent.parent
PATH = "/cds-services/alp-result-sign"
LUA = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("{body}", "rb"); wrk.body = f:read("*a"); f:close()
"""


def start_service(
    port: int,
    data_dir: str,
    workers: int,
    threads: int,
    database_url: str | None,
    settings: list[str],
) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALP_CDS_", "PROMETHEUS_"))}
    env.update(
        ALP_CDS_PORT=str(port),
        ALP_CDS_DEV_MODE="true",
        ALP_CDS_DATA_DIR=data_dir,
        ALP_CDS_WORKERS=str(workers),
        ALP_CDS_THREADS=str(threads),
        ALP_CDS_LOG_LEVEL="WARNING",
    )
    if database_url:
        env["ALP_CDS_DATABASE_URL"] = database_url
    for setting in settings:
        name, _, value = setting.partition("=")
        env[name] = value
    return subprocess.Popen(
        [sys.executable, "-m", "cds_service.cli", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def start_bare(port: int, workers: int, threads: int) -> subprocess.Popen[bytes]:
    # The same gunicorn options as cds_service.serving.gunicorn_options; plain gthread, since
    # the service's worker subclass differs only in how gunicorn's own refusals are written.
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--worker-class",
        "gthread",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--worker-connections",
        str(threads),
        "--keep-alive",
        "5",
        "--preload",
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        "bench.bare_app:app",
    ]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wrk(url: str, script: Path, connections: int, duration: int) -> dict[str, float]:
    threads = min(connections, 2)
    subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", "-d2s", "-s", str(script), url],
        check=True,
        capture_output=True,
    )  # warm-up
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{duration}s",
            "--latency",
            "-s",
            str(script),
            url,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50_ms": _ms(re.search(r"50%\s+([\d.]+\w+)", out).group(1)),  # type: ignore[union-attr]
        "p99_ms": _ms(re.search(r"99%\s+([\d.]+\w+)", out).group(1)),  # type: ignore[union-attr]
        "errors": float(len(re.findall(r"Non-2xx|Socket errors", out))),
    }


def _ms(value: str) -> float:
    number = float(re.match(r"[\d.]+", value).group(0))  # type: ignore[union-attr]
    unit = value[len(str(re.match(r"[\d.]+", value).group(0))) :]  # type: ignore[union-attr]
    return number * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", default="1,8,32")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--database-url", help="audit store (default: SQLite in a temp folder)")
    parser.add_argument(
        "--setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a service setting for this run, e.g. ALP_CDS_AUDIT_FSYNC_MS=50 (repeatable)",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install wrk")
    work = Path(tempfile.mkdtemp(prefix="alp-bench-"))
    body = work / "request.json"
    body.write_text(json.dumps(typical_request(1)), "utf-8")
    script = work / "post.lua"
    script.write_text(LUA.format(body=body), "utf-8")
    service_port, bare_port = free_port(), free_port()
    service = start_service(
        service_port,
        str(work / "data"),
        args.workers,
        args.threads,
        args.database_url,
        args.setting,
    )
    bare = start_bare(bare_port, args.workers, args.threads)
    results: dict[str, Any] = {"body_bytes": body.stat().st_size, "runs": []}
    try:
        wait_until_up(f"http://127.0.0.1:{service_port}/healthz", service)
        wait_until_up(f"http://127.0.0.1:{bare_port}/", bare)
        check = requests.post(
            f"http://127.0.0.1:{service_port}{PATH}",
            data=body.read_bytes(),
            headers={"Content-Type": "application/json"},
            timeout=10,
        )
        assert check.json()["cards"][0]["source"]["topic"]["display"] == "alp-high-confirm-origin"
        print(
            f"audit store {'PostgreSQL' if args.database_url else 'SQLite'}; "
            f"typical request: {results['body_bytes']} bytes; gunicorn gthread "
            f"{args.workers} workers x {args.threads} threads; wrk {args.duration}s per run"
            + "".join(f"; {setting}" for setting in args.setting)
        )
        print(
            f"{'conns':>5} | {'service rps':>11} {'p50 ms':>7} {'p99 ms':>7} | "
            f"{'bare rps':>9} {'p50 ms':>7} {'p99 ms':>7} | {'rps ratio':>9}"
        )
        for connections in (int(c) for c in args.connections.split(",")):
            ours = wrk(f"http://127.0.0.1:{service_port}{PATH}", script, connections, args.duration)
            base = wrk(f"http://127.0.0.1:{bare_port}{PATH}", script, connections, args.duration)
            ratio = ours["rps"] / base["rps"]
            results["runs"].append(
                {"connections": connections, "service": ours, "bare": base, "ratio": ratio}
            )
            print(
                f"{connections:>5} | {ours['rps']:>11.0f} {ours['p50_ms']:>7.2f} "
                f"{ours['p99_ms']:>7.2f} | "
                f"{base['rps']:>9.0f} {base['p50_ms']:>7.2f} {base['p99_ms']:>7.2f} | {ratio:>9.2f}"
            )
    finally:
        for process in (service, bare):
            process.send_signal(signal.SIGTERM)
        for process in (service, bare):
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2), "utf-8")


if __name__ == "__main__":
    main()
