"""Health, readiness, Prometheus metrics and JSON request logs.

Layer rule: reads the protocol's invocation records; nothing clinical, no database (readiness
checks arrive as callables from the app factory).
"""

LAYER = {
    "imports": ["cds_service.hooks.invocation", "cds_service.hooks.trace"],
    "forbidden": {"sqlalchemy": [], "requests": []},
}
