"""A new, empty PostgreSQL database named by PULLSTATS_DATABASE_URL beside a data dir whose
``catalog.sqlite3`` and lake are another catalog's: the commands that only read say to `db copy`
the catalog there (not `db upgrade`), and after a plain `db upgrade` they refuse the stores
rather than show an empty installation."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from pullstats.accounts import service
from pullstats.config import Settings
from pullstats.pipeline import process
from pullstats.runtime import Runtime
from tests.conftest import fresh_postgres_url, run_cli, write_one_pull


@pytest.mark.e2e  # runs the pullstats command
def test_a_new_database_beside_the_sqlite_catalog_is_told_to_db_copy(data_dir: Path) -> None:
    runtime = Runtime.open(Settings(data_dir=data_dir))  # the embedded installation (SQLite)
    with runtime.sessions.begin() as session:
        service.create_user(session, "alice", "alice-password-1")
    write_one_pull(runtime, datetime(2026, 11, 2, 10, tzinfo=UTC))
    process(runtime)
    runtime.close()
    new = {"PULLSTATS_DATABASE_URL": fresh_postgres_url()}
    for command in (("users", "list"), ("status",)):
        result = run_cli(data_dir, *command, env=new)
        assert result.returncode == 1, (command, result.stdout)
        assert "`pullstats db copy --to`" in result.stderr, command
        assert "run `pullstats db upgrade`" not in result.stderr
    upgraded = run_cli(data_dir, "db", "upgrade", env=new)
    assert upgraded.returncode == 0, upgraded.stderr
    assert "note: this new catalog is not the installation's" in upgraded.stderr
    assert "`pullstats db copy --to`" in upgraded.stderr
    for command in (("users", "list"), ("status",)):
        result = run_cli(data_dir, *command, env=new)
        assert result.returncode == 1, (command, result.stdout)
        assert "alice" not in result.stdout
        assert "`pullstats db copy --to` this database from it" in result.stderr, command
