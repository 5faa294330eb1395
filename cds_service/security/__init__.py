"""JWT trust, the replay cache, the fhirServer policy and CORS.

Layer rule: of the project, imports only the protocol's errors; nothing clinical, no audit.
"""

LAYER = {
    "imports": ["cds_service.hooks.errors"],
    "forbidden": {"sqlalchemy": []},
}
