"""/healthz (the process answers), /readyz (it can do its work), /metrics (Prometheus)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from flask import Blueprint, Response, jsonify

from cds_service.observability import metrics

Check = Callable[[], bool]


def create_ops_blueprint(checks: Mapping[str, Check], spool_depth: Callable[[], int]) -> Blueprint:
    bp = Blueprint("ops", __name__)

    @bp.get("/healthz")
    def healthz() -> Response:
        return jsonify(status="alive")

    @bp.get("/readyz")
    def readyz() -> Response:
        results = {}
        for name, check in checks.items():
            try:
                results[name] = "ok" if check() else "failing"
            except Exception:  # a check that breaks is a failing check, not a 500
                results[name] = "failing"
        ready = all(v == "ok" for v in results.values())
        try:
            backlog: int | None = spool_depth()
        except OSError:
            backlog = None
        # The audit backlog is shown, not judged: records wait in the spool while the store is
        # down (then audit_store fails) and for at most one writer batch otherwise.
        response = jsonify(
            status="ready" if ready else "not ready", checks=results, audit_spool_records=backlog
        )
        response.status_code = 200 if ready else 503
        return response

    @bp.get("/metrics")
    def metrics_endpoint() -> Response:
        body, content_type = metrics.exposition(spool_depth)
        return Response(body, content_type=content_type)

    return bp
