"""FHIR access: plain-dict readers and the fetch client for `fhirServer`.

Layer rule: imports only itself and `strict_json` from the project; no web framework, database,
or anything that knows a service.
"""

LAYER = {
    "imports": ["cds_service.strict_json"],
    "forbidden": {"flask": [], "werkzeug": [], "sqlalchemy": [], "jsonschema": []},
}
