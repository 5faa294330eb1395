"""The informatics console (ARCHITECTURE.md section 12): server-rendered pages for the team that
approves and watches the rules. It reads the audit store, the loaded knowledge base and the
rulebook, and runs the impact replay (`console/impact.py`, also behind `alp-cds kb impact`);
nothing below it imports it, and only app.py registers it, when sign-in is configured."""

# Layer rule (tests/test_layers.py): the console sits on top of the audit store, the clinical
# engine (for the replay), the knowledge base and the rulebook view; it never reaches the CDS
# Hooks pipeline beyond its error and trace types, nor the composition modules.
LAYER = {
    "imports": [
        "cds_service.audit",
        "cds_service.clinical",
        "cds_service.knowledge",
        "cds_service.render.rulebook",
        "cds_service.hooks.errors",
        "cds_service.hooks.trace",
        "cds_service.settings",
        "cds_service.fhir.values",
    ],
}

from cds_service.console.blueprint import create_console_blueprint  # noqa: E402

__all__ = ["create_console_blueprint"]
