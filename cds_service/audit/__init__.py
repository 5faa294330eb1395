"""The audit trail: one record per CDS Hooks invocation, feedback linked to the cards it names,
and reports for informatics review. SQLite by default, PostgreSQL by URL, same code.

Layer rule: reads the protocol's records (invocation, decision trace, feedback) by field and
knows nothing of ALP or HTTP: imports those hooks modules and `strict_json`, no web framework.
"""

LAYER = {
    "imports": [
        "cds_service.hooks.feedback",
        "cds_service.hooks.invocation",
        "cds_service.hooks.trace",
        "cds_service.strict_json",
    ],
    "forbidden": {"flask": [], "werkzeug": [], "requests": []},
}
