"""The audit trail: one record per CDS Hooks invocation, feedback linked to the cards it names,
and reports for informatics review. SQLite by default, PostgreSQL by URL, same code."""
