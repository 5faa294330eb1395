"""WSGI entry point for gunicorn run from its own config file (the container): the app built
from the environment, with JSON logs. `alp-cds serve` builds the same app itself."""

from __future__ import annotations

from cds_service.app import create_app
from cds_service.observability.logs import configure_logging
from cds_service.settings import Settings

_settings = Settings.from_env()
configure_logging(_settings.log_level, _settings.dev_mode)
app = create_app(_settings)
