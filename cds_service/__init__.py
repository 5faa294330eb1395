"""alp-cds: a CDS Hooks 2.0 service for alkaline phosphatase follow-up.

Layers, lowest first; each package's `__init__.py` states what it may import as `LAYER`, and
tests/test_layers.py checks every import against it:

- fhir/: reading FHIR JSON and fetching it; knows no service.
- knowledge/: loading cards/ into immutable objects; data only.
- clinical/: facts and rule evaluation over plain FHIR dicts; knows nothing of HTTP.
- hooks/: the CDS Hooks protocol and the request pipeline; knows nothing of ALP.
- render/: cards and pages from clinical results, in the protocol's response types.
- security/, audit/, observability/: beside the protocol, reading its records.

The top-level modules (app, cli, alp_services, explain, warmup, serving, gunicorn_worker, web,
wsgi, openapi) compose the packages; no package imports them, except `strict_json` and
`settings`, which are plain utilities.
"""

__version__ = "0.1.0"
