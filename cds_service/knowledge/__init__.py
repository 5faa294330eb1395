"""Loads and checks cards/ at start-up into immutable, indexed objects.

Layer rule: data loading only. Imports the FHIR readers and nothing else of the project; no
HTTP, no database.
"""

LAYER = {
    "imports": ["cds_service.fhir.values"],
    "forbidden": {"flask": [], "werkzeug": [], "requests": [], "sqlalchemy": []},
}
