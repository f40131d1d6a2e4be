"""Migrations upgrade, downgrade and match the models, and a new catalog is created once, on
SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from pullstats.config import Settings
from pullstats.db.engine import make_engine
from pullstats.db.migrate import alembic_config, current_revision, head_revision
from pullstats.db.models import Base
from tests.conftest import cli_env


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


def test_commands_starting_together_on_a_new_catalog_create_it_once(
    data_dir: Path, database_url: str | None
) -> None:
    """Three ``pullstats db upgrade`` at once (as servers starting together would): one creates
    the schema, the others wait for it and find it current, none collides with another."""
    extra = {"PULLSTATS_DATABASE_URL": database_url} if database_url else {}
    starts = [
        subprocess.Popen(
            [sys.executable, "-m", "pullstats", "db", "upgrade"],
            env=cli_env(data_dir, extra),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [start.communicate(timeout=120) for start in starts]
    assert [start.returncode for start in starts] == [0, 0, 0], outputs
    said = sorted(out.strip().splitlines()[-1] for out, _ in outputs)
    head = head_revision()
    assert said == [
        f"catalog schema is current ({head})",
        f"catalog schema is current ({head})",
        f"catalog schema upgraded from nothing to {head}",
    ]
