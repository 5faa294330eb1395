"""The CDS Hooks protocol: service declarations, discovery, request schemas, the request pipeline
(parse, check, resolve, require, handle, digest), prefetch, responses, the decision trace,
feedback, errors.

Layer rule: knows nothing of ALP. Imports FHIR access and `strict_json`, never clinical/,
knowledge/, render/, audit/ or the services; Flask and Werkzeug only in the HTTP surface,
hooks.blueprint, so the pipeline runs without HTTP.
"""

LAYER = {
    "imports": ["cds_service.fhir", "cds_service.strict_json"],
    "forbidden": {
        "flask": ["cds_service.hooks.blueprint"],
        "werkzeug": ["cds_service.hooks.blueprint"],
        "sqlalchemy": [],
        "prometheus_client": [],
    },
}
