"""Migration 0002 upgrades, downgrades and matches the models, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from pullstats.config import Settings
from pullstats.db.engine import make_engine
from pullstats.db.migrate import alembic_config, current_revision
from pullstats.db.models import Base


def test_upgrade_downgrade_and_no_drift(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    settings.paths.ensure()
    engine = make_engine(settings.database_url_value)
    try:
        config = alembic_config(engine)
        command.upgrade(config, "0001")
        command.upgrade(config, "0002")
        command.downgrade(config, "0001")
        assert current_revision(engine) == "0001"
        command.upgrade(config, "head")
        with engine.connect() as connection:
            assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    finally:
        engine.dispose()
