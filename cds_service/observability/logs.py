"""JSON logs: one line per request, and every other log record as JSON too.

The request line carries what an operator needs to follow a call (hookInstance, service, status,
latency, how many cards and which rules) and nothing clinical: no values, no patient or user
references, no tokens. In development mode every line says so.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, g, request

from cds_service.observability import metrics

request_log = logging.getLogger("cds_service.request")


class JsonFormatter(logging.Formatter):
    def __init__(self, dev_mode: bool = False) -> None:
        super().__init__()
        self.dev_mode = dev_mode

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if self.dev_mode:
            line["mode"] = "DEVELOPMENT"
        return json.dumps(line, default=str)


def configure_logging(level: str, dev_mode: bool) -> None:
    """JSON lines on stderr for the whole process (gunicorn's own logs included)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(dev_mode))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("gunicorn.error", "gunicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # Alembic narrates every plugin it loads at INFO; keep start-up logs readable.
    logging.getLogger("alembic").setLevel(logging.WARNING)


def install_request_logging(app: Flask) -> None:
    @app.before_request
    def start_clock() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def log_request(response: Response) -> Response:
        started = g.get("started")
        seconds = time.perf_counter() - started if started else 0.0
        service = str(g.get("service_id", ""))
        route = request.url_rule.rule if request.url_rule else "unmatched"
        metrics.observe_request(route, service, response.status_code, seconds)
        code = g.get("auth_failure_code")
        if code:
            metrics.auth_failure(code)
        fields: dict[str, Any] = {
            "event": "request",
            "method": request.method,
            "path": route,
            "status": response.status_code,
            "latency_ms": round(seconds * 1000, 2),
        }
        if service:
            fields["service"] = service
        invocation = g.get("invocation")
        if invocation is not None:
            fields["hookInstance"] = invocation.hook_instance
            fields["cards"] = len(invocation.cards)
            fields["rules"] = [card.rule for card in invocation.cards]
            if invocation.issuer:
                fields["issuer"] = invocation.issuer
        if code:
            fields["auth_failure"] = code
        request_log.info(
            "%s %s %s", request.method, route, response.status_code, extra={"fields": fields}
        )
        return response
