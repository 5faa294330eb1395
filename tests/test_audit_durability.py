"""Write-behind audit under a real crash (ARCHITECTURE section 9): SIGKILL of the whole process
group of `alp-cds serve` (gunicorn, two workers, SQLite) under load, then a restart on the same
data folder. Every invocation answered 200 must be in the store after the restart, none twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, func, select

from bench.typical_patient import typical_request
from cds_service.audit import schema
from tests.support.processes import free_port, wait_until_up

pytestmark = pytest.mark.slow
SERVICE = "/cds-services/alp-result-sign"


def start(data_dir: Path, port: int, **settings: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALP_CDS_", "PROMETHEUS_"))}
    env.update(
        ALP_CDS_PORT=str(port),
        ALP_CDS_DEV_MODE="true",
        ALP_CDS_DATA_DIR=str(data_dir),
        ALP_CDS_WORKERS="2",
        ALP_CDS_THREADS="4",
        ALP_CDS_LOG_LEVEL="WARNING",
        **settings,
    )
    with open(data_dir / f"serve-{port}.log", "ab") as log:  # the child keeps its own copy
        return subprocess.Popen(
            [sys.executable, "-m", "cds_service.cli", "serve"],
            env=env,
            stdout=log,
            stderr=log,
            start_new_session=True,  # its own process group: the master and both workers
        )


def stored_instances(data_dir: Path) -> dict[str, int]:
    engine = create_engine(f"sqlite:///{data_dir / 'audit.sqlite3'}")
    try:
        column = schema.invocations.c.hook_instance
        with engine.connect() as conn:
            counted = conn.execute(select(column, func.count()).group_by(column)).all()
        return {instance: int(times) for instance, times in counted}
    finally:
        engine.dispose()


def test_sigkill_under_load_loses_no_answered_invocation_and_stores_none_twice(
    tmp_path: Path,
) -> None:
    body = typical_request()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start(tmp_path, port)
    answered: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    try:
        wait_until_up(base + "/healthz", server)

        def client() -> None:
            session = requests.Session()
            while not stop.is_set():
                instance = str(uuid.uuid4())
                try:
                    response = session.post(
                        base + SERVICE, json={**body, "hookInstance": instance}, timeout=10
                    )
                except requests.RequestException:
                    continue  # the server is gone: not answered
                if response.status_code == 200:
                    assert response.json()["cards"]
                    with lock:
                        answered.append(instance)

        threads = [threading.Thread(target=client, daemon=True) for _ in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(2.0)
        os.killpg(server.pid, signal.SIGKILL)  # master and workers, mid-load
        server.wait(10)
        time.sleep(0.3)  # requests in flight fail
        stop.set()
        for thread in threads:
            thread.join(15)
    finally:
        stop.set()
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(10)

    with lock:
        done = list(answered)
    assert len(done) > 20, "the load did not get going"
    backlog = sum(
        1
        for path in tmp_path.glob("audit-spool.jsonl*")
        if not path.name.endswith((".lock", ".tmp"))
        for line in path.read_bytes().splitlines()
        if line.strip()
    )
    print(f"answered {len(done)}; in the spool at the kill: {backlog}")

    port = free_port()
    # Batches a minute apart: only the first (at start) and the drain on SIGTERM load anything.
    restarted = start(tmp_path, port, ALP_CDS_AUDIT_BATCH_MS="60000")
    try:
        wait_until_up(f"http://127.0.0.1:{port}/healthz", restarted)
        deadline = time.monotonic() + 20
        stored: dict[str, Any] = {}
        while time.monotonic() < deadline:
            stored = stored_instances(tmp_path)
            if set(done) <= set(stored):
                break
            time.sleep(0.2)
        missing = set(done) - set(stored)
        assert not missing, f"{len(missing)} of {len(done)} answered invocations lost"
        assert {i: n for i, n in stored.items() if n > 1} == {}

        # A graceful stop (SIGTERM) drains each worker's writer before it exits.
        time.sleep(1.0)  # both workers past their first batch
        later = [str(uuid.uuid4()) for _ in range(5)]
        for instance in later:
            response = requests.post(
                f"http://127.0.0.1:{port}{SERVICE}",
                json={**body, "hookInstance": instance},
                timeout=10,
            )
            assert response.status_code == 200
        ready = requests.get(f"http://127.0.0.1:{port}/readyz", timeout=10).json()
        # Five unless a worker that booted late ran its first batch after they came in.
        assert 0 <= ready["audit_spool_records"] <= 5
        print(f"in the spool at SIGTERM: {ready['audit_spool_records']}")
        restarted.send_signal(signal.SIGTERM)
        assert restarted.wait(30) == 0
        assert set(later) <= set(stored_instances(tmp_path))
        assert not list(tmp_path.glob("audit-spool.jsonl*.batch"))
    finally:
        if restarted.poll() is None:
            os.killpg(restarted.pid, signal.SIGKILL)
            restarted.wait(10)
