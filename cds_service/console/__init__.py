"""The informatics console (ARCHITECTURE.md section 12): server-rendered pages for the team that
approves and watches the rules. It reads the audit store, the loaded knowledge base and the
rulebook, and runs the impact replay (cds_service/impact.py); nothing below it imports it, and
only app.py registers it, when sign-in is configured."""

from cds_service.console.blueprint import create_console_blueprint

__all__ = ["create_console_blueprint"]
