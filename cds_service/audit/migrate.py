"""Schema migrations (Alembic) for the audit store, run programmatically: `alp-cds db upgrade`,
and automatically at start-up in development mode."""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Engine


def _config() -> Config:
    config = Config()
    location = resources.files("cds_service.audit").joinpath("migrations")
    config.set_main_option("script_location", str(location))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    config = _config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_config()).get_current_head()


def is_known(revision: str | None) -> bool:
    """Whether this version has `revision` (None: an empty store) among its migrations."""
    if revision is None:
        return True
    try:
        return ScriptDirectory.from_config(_config()).get_revision(revision) is not None
    except CommandError:  # alembic's "no such revision"
        return False


def is_current(engine: Engine) -> bool:
    return current_revision(engine) == head_revision()


class NotMigrated(RuntimeError):
    """The store's schema is not the one this version writes; `str()` says what to do."""
