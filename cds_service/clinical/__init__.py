"""Facts from the record, reference intervals, findings, pregnancy, rule evaluation.

Layer rule: knows nothing of HTTP or the protocol. Imports the knowledge base and the FHIR
readers; never hooks/, render/, audit/, security/, flask, werkzeug or an HTTP client.
"""

LAYER = {
    "imports": ["cds_service.knowledge", "cds_service.fhir.values"],
    "forbidden": {
        "flask": [],
        "werkzeug": [],
        "requests": [],
        "urllib3": [],
        "sqlalchemy": [],
        "jsonschema": [],
    },
}
