"""``pullstats db copy``: an installation's catalog into another database, whole, so that the
embedded installation scales out to PostgreSQL by a change of PULLSTATS_DATABASE_URL instead of
starting over empty (its lake and exports store would be refused to a new catalog)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select

from pullstats.db.models import Base
from tests.conftest import catalog_url, fresh_postgres_url, run_cli

LOG = Path(__file__).parent / "fixtures" / "logs" / "nginx-combined.log"
PASSWORD = "a-long-password-for-alice"


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The empty database to copy into: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'copy.sqlite3'}"
    return fresh_postgres_url()


def _installation(data_dir: Path) -> None:
    """An installation with accounts, tokens, counted pulls and an export."""
    data_dir.mkdir()
    for command, stdin in [
        (("users", "add", "alice", "--password-stdin", "--email", "a@example.org"), PASSWORD),
        (("namespaces", "add", "library"), None),
        (("members", "add", "library", "alice", "--role", "owner"), None),
        (("tokens", "create", "alice", "--label", "ci"), None),
        (("ingest-tokens", "create", "registry-1"), None),
        (("ingest", "logs", str(LOG)), None),
        (("process",), None),
        (("export", "--through", "2026-11-30"), None),
    ]:
        result = run_cli(data_dir, *command, stdin=stdin)
        assert result.returncode == 0, (command, result.stderr)


def _rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, moments as UTC (SQLite keeps them without their zone)."""

    def plain(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value

    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return {
                table.name: sorted(
                    (tuple(plain(v) for v in row) for row in connection.execute(select(table))),
                    key=repr,
                )
                for table in Base.metadata.sorted_tables
            }
    finally:
        engine.dispose()


def test_a_copied_catalog_is_the_installations_with_every_row(tmp_path: Path, target: str) -> None:
    data_dir = tmp_path / "data"
    _installation(data_dir)
    source = catalog_url(data_dir) or f"sqlite:///{data_dir / 'catalog.sqlite3'}"
    users_before = run_cli(data_dir, "users", "list").stdout

    copied = run_cli(data_dir, "db", "copy", "--to", target)
    assert copied.returncode == 0, copied.stderr
    assert copied.stdout.startswith("copied the catalog to ")
    assert "1 users, 1 namespaces" in copied.stdout
    before = _rows(source)
    assert before["users"] and before["pull_rollups"] and before["export_files"]
    assert _rows(target) == before  # every row, the stores' ids and the epochs included

    moved = {"PULLSTATS_DATABASE_URL": target}
    # the copy opens the installation's lake, exports store and keys: no refusal
    assert run_cli(data_dir, "status", env=moved).returncode == 0
    assert run_cli(data_dir, "users", "list", env=moved).stdout == users_before
    # ids go on after the copied ones (PostgreSQL's sequences were set)
    added = run_cli(data_dir, "users", "add", "bob", "--email", "b@example.org", env=moved)
    assert added.returncode == 0, added.stderr
    processed = run_cli(data_dir, "process", env=moved)
    assert processed.returncode == 0, processed.stderr
    assert "0 new requests" in processed.stdout  # the spool's progress came along
    assert run_cli(data_dir, "users", "list").stdout == users_before  # the source as it was

    # and where a copy would lose or mix anything: refused in one line, nothing copied
    def refused(to: str) -> str:
        result = run_cli(data_dir, "db", "copy", "--to", to)
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
        [line] = result.stderr.strip().splitlines()[-1:]
        return line

    assert refused(target).endswith(  # holds rows now: the copy's, and bob
        "already holds a pullstats catalog with rows (in breakdown_rollups): copy into a new, "
        "empty database"
    )
    assert refused(source).endswith("is the catalog itself: copy to another database")
    assert refused("postgres://u@h/db") == (
        "error: --to: use postgresql:// for PostgreSQL, not postgres://"
    )
    assert refused("postgresql+psycopg://postgres@127.0.0.1:1/none").startswith(
        "error: --to: cannot connect: "
    )
