"""JWT trust, the replay cache, the fhirServer policy and CORS.

Layer rule: of the project, imports only the protocol's errors and `strict_json` (a plain JSON
utility); nothing clinical, no audit.
"""

LAYER = {
    "imports": ["cds_service.hooks.errors", "cds_service.strict_json"],
    "forbidden": {"sqlalchemy": []},
}
