"""Real processes for operations tests: `alp-cds serve` under gunicorn, and a TCP proxy that can
cut a backing server off (a database or Redis "going away" without touching the real one)."""

from __future__ import annotations

import atexit
import contextlib
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

import requests


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


_DATA_DIRS: list[str] = []


@atexit.register
def _remove_data_dirs() -> None:
    # Each served process had a private data folder; they were left in /tmp, one per run.
    for folder in _DATA_DIRS:
        shutil.rmtree(folder, ignore_errors=True)


def alp_cds(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Run the CLI with a clean ALP_CDS_* environment and a private data folder (removed when
    the test run ends) unless `env` names one."""
    command = [sys.executable, "-m", "cds_service.cli", *args]
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ALP_CDS_", "PROMETHEUS_"))}
    if "ALP_CDS_DATA_DIR" not in (env or {}):
        clean["ALP_CDS_DATA_DIR"] = tempfile.mkdtemp(prefix="alp-cds-proc-")
        _DATA_DIRS.append(clean["ALP_CDS_DATA_DIR"])
    return subprocess.Popen(
        command,
        env={**clean, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_until_up(url: str, process: subprocess.Popen[Any], timeout: float = 90) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if process.poll() is not None:
            errors = process.communicate()[1] or ""
            if isinstance(errors, bytes):
                errors = errors.decode(errors="replace")
            raise AssertionError(f"server exited with {process.returncode}: {errors[-3000:]}")
        try:
            requests.get(url, timeout=5)
            return
        except (requests.ConnectionError, requests.Timeout):
            # Timeout: gunicorn's socket is listening (the kernel accepts) but no worker has
            # finished booting yet, which on a busy machine can take seconds. Not a failure;
            # only the overall deadline is.
            time.sleep(0.1)
    raise AssertionError("server did not start")


def stop(process: subprocess.Popen[str], timeout: float = 30) -> str:
    """SIGTERM, wait, and return what it wrote to stderr."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        _, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate()
    return err


@contextmanager
def served(env: dict[str, str]) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    process = alp_cds("serve", env={"ALP_CDS_PORT": str(port), **env})
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base + "/healthz", process)
        yield base, process
    finally:
        stop(process)


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a target; `cut()` closes every connection and refuses new
    ones until `restore()`."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        self._running = False

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        self._running = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        assert self._listener is not None
        listener = self._listener
        while self._running:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()

    def _pipe(self, a: socket.socket, b: socket.socket) -> None:
        pair = {a: b, b: a}
        try:
            while self._running:
                ready, _, _ = select.select(list(pair), [], [], 0.2)
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    pair[sock].sendall(data)
        except OSError:
            return
        finally:
            a.close()
            b.close()

    def cut(self) -> None:
        self._running = False
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self._lock:
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._open.clear()

    def restore(self) -> None:
        self.start()


def read_stream(stream: IO[str] | None) -> str:
    return stream.read() if stream else ""
