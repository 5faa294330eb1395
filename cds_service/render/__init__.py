"""Cards, suggested ServiceRequests and the rulebook page, from clinical results.

Layer rule: imports the clinical layer, the knowledge base and the FHIR readers, and of the
protocol only its output types (hooks.response, hooks.trace); no web framework, no audit.
"""

LAYER = {
    "imports": [
        "cds_service.clinical",
        "cds_service.knowledge",
        "cds_service.fhir.values",
        "cds_service.hooks.response",
        "cds_service.hooks.trace",
    ],
    "forbidden": {"flask": [], "werkzeug": [], "requests": [], "sqlalchemy": []},
}
