"""Migrations upgrade, downgrade and match the models, and a new catalog is created once, on
SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from pullstats.config import Settings
from pullstats.db.engine import make_engine
from pullstats.db.migrate import alembic_config, current_revision, head_revision
from pullstats.db.models import Base
from pullstats.db.state import catalog_versions
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


def test_0009_a_revoked_session_bumps_the_accounts_epoch_and_downgrades_cleanly(
    make_settings: Callable[..., Settings],
) -> None:
    """An insert into ``revoked_sessions`` bumps the epoch (whoever makes it: here plain SQL),
    so servers re-check cached sessions; pruning expired rows does not. 0009 goes and comes."""
    settings = make_settings()
    settings.paths.ensure()
    engine = make_engine(settings.database_url_value)

    def epoch() -> int:
        with engine.connect() as connection:
            return catalog_versions(connection.connection.dbapi_connection).accounts_epoch

    insert = text("INSERT INTO revoked_sessions (jti, expires_at) VALUES (:jti, :at)")
    try:
        config = alembic_config(engine)
        command.upgrade(config, "head")
        before = epoch()
        with engine.begin() as connection:
            connection.execute(insert, {"jti": "a" * 32, "at": datetime(2000, 1, 1, tzinfo=UTC)})
            connection.execute(insert, {"jti": "b" * 32, "at": datetime(2000, 1, 1, tzinfo=UTC)})
        after_insert = epoch()
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM revoked_sessions"))
        assert after_insert > before and epoch() == after_insert
        command.downgrade(config, "0008")
        with engine.connect() as connection:
            assert not inspect(connection).has_table("revoked_sessions")
        command.upgrade(config, "head")
        with engine.begin() as connection:
            connection.execute(insert, {"jti": "c" * 32, "at": datetime(2000, 1, 1, tzinfo=UTC)})
        assert epoch() > after_insert
    finally:
        engine.dispose()
