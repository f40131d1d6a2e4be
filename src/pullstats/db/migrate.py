"""Schema versions: create or upgrade the catalog (``pullstats db upgrade``) and check it."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).with_name("migrations")


class SchemaOutdated(RuntimeError):
    """The catalog was made by an older pullstats; ``pullstats db upgrade`` migrates it."""


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def head_revision() -> str:
    script = ScriptDirectory(str(MIGRATIONS))
    head = script.get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Migrate to the newest schema; returns (revision before, revision after)."""
    before = current_revision(engine)
    command.upgrade(alembic_config(engine), "head")
    return before, head_revision()


def ensure_schema(engine: Engine) -> None:
    """Create a new catalog on first use; refuse one made by an older version."""
    current = current_revision(engine)
    if current is None:
        upgrade(engine)
    elif current != head_revision():
        raise SchemaOutdated(
            f"the catalog database is at schema {current}, this pullstats needs "
            f"{head_revision()}: run 'pullstats db upgrade'"
        )
