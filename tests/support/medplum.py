"""Run the in-memory Medplum FHIR R4 test server (tests/fhir_server) from pytest.

Example::

    reason = medplum_unavailable_reason()
    if reason:
        pytest.skip(reason)
    with MedplumServer(data_dir=FIXTURES) as fhir:
        fhir.put({"resourceType": "Patient", "id": "p1"})
        requests.get(f"{fhir.base_url}/Patient/p1", timeout=5)
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, NoReturn, Self

import requests

FHIR_SERVER_DIR = Path(__file__).resolve().parent.parent / "fhir_server"
SERVER_SCRIPT = FHIR_SERVER_DIR / "server.js"
_ROUTER_PACKAGE = FHIR_SERVER_DIR / "node_modules" / "@medplum" / "fhir-router"

# Start-up is ~1 s (loading the R4 definitions dominates); 20 s leaves room
# for a cold disk cache on a busy CI runner without hanging a broken run.
STARTUP_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 5.0
HTTP_TIMEOUT_S = 10.0
_READY_PREFIX = "listening "


def medplum_unavailable_reason() -> str | None:
    """Say why the Medplum test server cannot run here, or None if it can."""
    if shutil.which("node") is None:
        return "node not found on PATH (the Medplum FHIR test server needs Node.js >= 20.19)"
    if not _ROUTER_PACKAGE.is_dir():
        return "run `npm ci --prefix tests/fhir_server` to install the Medplum FHIR router"
    return None


class MedplumServer:
    """A `node tests/fhir_server/server.js` process, as a context manager."""

    def __init__(
        self,
        data_dir: Path | None = None,
        token: str | None = None,
        delay_ms: int = 0,
        *,
        startup_timeout: float = STARTUP_TIMEOUT_S,
    ) -> None:
        if delay_ms < 0:
            raise ValueError(f"delay_ms must be >= 0, got {delay_ms}")
        self.data_dir = data_dir
        self.token = token
        self.delay_ms = delay_ms
        self.startup_timeout = startup_timeout
        self._process: subprocess.Popen[str] | None = None
        self._stderr_path: Path | None = None
        self._stdout_lines: queue.Queue[str | None] = queue.Queue()
        self._stdout_reader: threading.Thread | None = None
        self._session = requests.Session()
        self._base_url: str | None = None

    # -- lifecycle ---------------------------------------------------------

    def __enter__(self) -> Self:
        if self._process is not None:
            raise RuntimeError("MedplumServer is already running")
        reason = medplum_unavailable_reason()
        if reason is not None:
            raise RuntimeError(f"cannot start the Medplum FHIR test server: {reason}")
        try:
            self._start()
        except BaseException:
            self._stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop()

    def _argv(self) -> list[str]:
        node = shutil.which("node")
        if node is None:  # checked in __enter__; repeated for the type checker
            raise RuntimeError("node not found on PATH")
        argv = [node, str(SERVER_SCRIPT), "--port", "0", "--host", "127.0.0.1", "--stdin-lifeline"]
        if self.data_dir is not None:
            argv += ["--data", str(self.data_dir)]
        if self.token is not None:
            argv += ["--token", self.token]
        if self.delay_ms:
            argv += ["--delay-ms", str(self.delay_ms)]
        return argv

    def _start(self) -> None:
        self._session = requests.Session()
        self._stdout_lines = queue.Queue()
        # stderr goes to a file, not a pipe: nobody reads it while tests run,
        # and a full pipe buffer would block the server mid-request.
        stderr_fd, stderr_name = tempfile.mkstemp(prefix="medplum-", suffix=".stderr")
        self._stderr_path = Path(stderr_name)
        try:
            # S603 is ignored for tests/** in pyproject.toml; the argv is a fixed
            # list built from our own paths and never goes through a shell.
            self._process = subprocess.Popen(
                self._argv(),
                cwd=FHIR_SERVER_DIR,
                stdin=subprocess.PIPE,  # kept open: the server exits when it closes
                stdout=subprocess.PIPE,
                stderr=stderr_fd,
                text=True,
                encoding="utf-8",
            )
        finally:
            os.close(stderr_fd)  # the child holds its own copy
        # A thread (rather than select) gives a bounded wait that also works on
        # Windows, and keeps draining stdout so the server can never block on it.
        self._stdout_reader = threading.Thread(
            target=self._pump_stdout, name="medplum-stdout", daemon=True
        )
        self._stdout_reader.start()

        deadline = time.monotonic() + self.startup_timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._fail(f"no {_READY_PREFIX!r} line within {self.startup_timeout:g} s")
            try:
                line = self._stdout_lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                code = self._process.wait(timeout=STOP_TIMEOUT_S)
                self._fail(f"exited with status {code} before it was ready")
            if line.startswith(_READY_PREFIX):
                self._base_url = line[len(_READY_PREFIX) :].strip()
                break

        if self.token is not None:
            self._session.headers["Authorization"] = f"Bearer {self.token}"

    def _pump_stdout(self) -> None:
        process = self._process
        if process is None or process.stdout is None:
            return
        with contextlib.suppress(ValueError, OSError):  # pipe closed by _stop()
            for line in process.stdout:
                self._stdout_lines.put(line)
        self._stdout_lines.put(None)

    def _fail(self, why: str) -> NoReturn:
        stderr = self.stderr_text()
        self._stop()
        raise RuntimeError(
            f"Medplum FHIR test server {why}.\n"
            f"command: {' '.join(self._argv())}\n"
            f"stderr:\n{stderr or '(empty)'}"
        )

    def _stop(self) -> None:
        process, self._process = self._process, None
        self._base_url = None
        self._session.close()
        if process is not None:
            if process.stdin is not None:
                # Closing stdin is the polite shutdown; terminate/kill follow
                # only if the server does not go by itself.
                with contextlib.suppress(OSError):
                    process.stdin.close()
            try:
                process.wait(timeout=STOP_TIMEOUT_S / 2)
            except subprocess.TimeoutExpired:
                process.terminate()
                try:
                    process.wait(timeout=STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()  # reap, so no zombie is left behind
            if process.stdout is not None:
                process.stdout.close()
        if self._stdout_reader is not None:
            self._stdout_reader.join(timeout=STOP_TIMEOUT_S)
            self._stdout_reader = None
        if self._stderr_path is not None:
            self._stderr_path.unlink(missing_ok=True)
            self._stderr_path = None

    # -- accessors ---------------------------------------------------------

    @property
    def base_url(self) -> str:
        """FHIR base URL without a trailing slash, e.g. ``http://127.0.0.1:41234/fhir``."""
        if self._base_url is None:
            raise RuntimeError("MedplumServer is not running; use it as a context manager")
        return self._base_url

    @property
    def root_url(self) -> str:
        return self.base_url.removesuffix("/fhir")

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def stderr_text(self) -> str:
        """What the server has written to stderr so far (for failure messages)."""
        if self._stderr_path is None:
            return ""
        return self._stderr_path.read_text(encoding="utf-8", errors="replace")

    # -- data --------------------------------------------------------------

    def put(self, resource: dict[str, Any]) -> None:
        """Create or replace ``resource`` under its own id (FHIR update)."""
        resource_type = resource.get("resourceType")
        resource_id = resource.get("id")
        if not isinstance(resource_type, str) or not isinstance(resource_id, str):
            raise ValueError("put() needs a resource with string 'resourceType' and 'id'")
        response = self._session.put(
            f"{self.base_url}/{resource_type}/{resource_id}",
            json=resource,
            headers={"Content-Type": "application/fhir+json"},
            timeout=HTTP_TIMEOUT_S,
        )
        _raise_for_status(response)

    def load(self, resources: Iterable[dict[str, Any]]) -> None:
        """PUT every resource; Bundles are unpacked, as with ``--data``."""
        for resource in _flatten(resources):
            self.put(resource)

    def reset(self) -> None:
        """Empty the repository (fixtures from ``data_dir`` are gone too)."""
        response = self._session.post(f"{self.root_url}/admin/reset", timeout=HTTP_TIMEOUT_S)
        _raise_for_status(response)


def _flatten(resources: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for resource in resources:
        if resource.get("resourceType") == "Bundle":
            entries = resource.get("entry") or []
            yield from _flatten(
                e["resource"] for e in entries if isinstance(e.get("resource"), dict)
            )
        else:
            yield resource


def _raise_for_status(response: requests.Response) -> None:
    # requests' own message drops the body, which holds the OperationOutcome
    # that explains what the server rejected.
    if response.status_code >= 400:
        raise RuntimeError(
            f"{response.request.method} {response.url} -> {response.status_code}: {response.text}"
        )
