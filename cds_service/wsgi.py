"""WSGI entry point for gunicorn run from its own config file (the container): the app built
from the environment, with JSON logs. `alp-cds serve` builds the same app itself."""

from __future__ import annotations

import sys

from cds_service.app import create_app
from cds_service.audit.migrate import NotMigrated
from cds_service.observability.logs import configure_logging
from cds_service.settings import Settings

_settings = Settings.from_env()
configure_logging(_settings.log_level, _settings.dev_mode)
try:
    app = create_app(_settings)
except NotMigrated as exc:
    # One clear line and exit status 2 (as `alp-cds serve`), not a traceback per worker.
    print(f"alp-cds: {exc}", file=sys.stderr)
    raise SystemExit(2) from None
