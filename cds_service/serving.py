"""Production serving with gunicorn, configured from the settings object.

gthread workers with `worker_connections` equal to `threads`: with the default of 1000 a worker
accepts keep-alive connections it has no thread for while another worker idles, which halved
throughput at random in measurements (research/python-stack.md section 4; gunicorn #3433).
The app and knowledge base load before fork, so workers share them and a broken knowledge base
stops the master before any worker starts.
"""

from __future__ import annotations

import gc
import os
import shutil
from pathlib import Path
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from cds_service.security.jwt_auth import MAX_TOKEN_BYTES
from cds_service.settings import Settings

# gthread, answering gunicorn's own refusals (431, 414, 400) as JSON with CORS like the app's
# errors; a gunicorn option like any other, so a benchmark can still name plain "gthread".
WORKER_CLASS = "cds_service.gunicorn_worker.JsonErrorWorker"
# gunicorn's default (8190 bytes a header line) refused a JWT of about 8 KB with an HTML 431,
# where the documented limit is 16 KB (docs/security.md). Twice that: a token up to the limit
# is verified, one over it reaches the app and gets its 401; a header line over this still gets
# 431, as JSON. Bounded: at most limit_request_fields (100) lines of this size are buffered.
LIMIT_REQUEST_FIELD_SIZE = 2 * MAX_TOKEN_BYTES


def gunicorn_options(settings: Settings) -> dict[str, Any]:
    return {
        "bind": f"{settings.host}:{settings.port}",
        "worker_class": WORKER_CLASS,
        "limit_request_field_size": LIMIT_REQUEST_FIELD_SIZE,
        "workers": settings.workers,
        "threads": settings.threads,
        "worker_connections": settings.threads,
        "timeout": settings.request_timeout,
        "graceful_timeout": 20,
        "keepalive": 5,
        "preload_app": True,
        "accesslog": None,
        "loglevel": settings.log_level.lower(),
        "child_exit": _child_exit,
        "pre_fork": _pre_fork,
        # gunicorn 25.1+ opens a control socket for `gunicornc` at one path per user
        # ($XDG_RUNTIME_DIR or ~/.gunicorn/gunicorn.ctl), so a second instance on the host took
        # over the first one's, and a command could reach the wrong service. The service is
        # run and stopped by signals (systemd, Kubernetes, compose) and never uses it: off.
        "control_socket_disable": True,
    }


def _pre_fork(_server: Any, _worker: Any) -> None:
    settle_heap()


def _child_exit(_server: Any, worker: Any) -> None:
    from cds_service.observability.metrics import mark_worker_dead

    mark_worker_dead(worker.pid)


def prepare_metrics_dir(data_dir: Path) -> None:
    """Multiprocess metrics need a shared folder, emptied at start (stale files would add up)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    folder = data_dir / "prometheus"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)


class GunicornServer(BaseApplication):  # type: ignore[misc]
    """Runs an already-built app under gunicorn without a config file."""

    def __init__(self, app: Flask, options: dict[str, Any]) -> None:
        self._app = app
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self._app


def settle_heap() -> None:
    """Move every object alive now (the app, the knowledge base, warmed caches) out of the
    cyclic garbage collector's reach: they live as long as the process, yet each full collection
    walked them all, about a sixth of a request's CPU time in a profile. Called in the master
    before fork (which also keeps those pages shared with the workers, untouched by the
    collector) and in each worker after its warm-up."""
    gc.collect()
    gc.freeze()


def post_fork_warm_up(app: Flask) -> Any:
    """A gunicorn post_fork hook that warms each worker before it accepts connections and
    starts its audit writer (a thread: threads do not survive the fork, so each worker starts
    its own; its first batch loads what an earlier run left in the spool)."""

    def hook(_server: Any, _worker: Any) -> None:
        from cds_service.warmup import warm_up

        warm_up(app)
        settle_heap()
        state = app.extensions["alp_cds"]
        state.audit.start_writer(state.settings.audit_batch_ms)

    return hook


def worker_exit_drain(app: Flask) -> Any:
    """A gunicorn worker_exit hook: on a graceful stop (SIGTERM) the worker's audit writer loads
    what is spooled before the process exits."""

    def hook(_server: Any, _worker: Any) -> None:
        app.extensions["alp_cds"].audit.stop_writer()

    return hook
