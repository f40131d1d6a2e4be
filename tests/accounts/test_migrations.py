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
from tests.conftest import cli_env, run_cli


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


def test_0015_keeps_the_trend_rows_and_stores_them_in_key_order_on_sqlite(
    make_settings: Callable[..., Settings],
) -> None:
    """0015 copies the trends rows into a table of the same key; on SQLite without row ids
    (one copy of each row, in the key's order), and back with them on the way down."""
    settings = make_settings()
    settings.paths.ensure()
    engine = make_engine(settings.database_url_value)
    sqlite = engine.dialect.name == "sqlite"
    row = {
        "kind": "month", "start": "2026-10-01", "grouped_by": "repo,country",
        "namespace": "acme", "repository": "api", "tag": "", "country": "DE", "cloud": "",
        "tool": "", "category": "", "use_case": "", "categories": 17,
        "downloads": 5, "checks": 1, "signed_in": 2, "anonymous": 3,
    }  # fmt: skip
    insert = text(
        "INSERT INTO trend_rollups VALUES (:kind, :start, :grouped_by, :namespace, "
        ":repository, :tag, :country, :cloud, :tool, :category, :use_case, :categories, "
        ":downloads, :checks, :signed_in, :anonymous)"
    )

    def stored() -> list[tuple[object, ...]]:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT * FROM trend_rollups")).all()
            return [tuple(str(value) for value in r) for r in rows]

    def without_rowid() -> bool:
        with engine.connect() as connection:
            sql = connection.execute(
                text("SELECT sql FROM sqlite_master WHERE name = 'trend_rollups'")
            ).scalar_one()
            return "WITHOUT ROWID" in sql.upper()

    expected = [tuple(str(value) for value in row.values())]
    try:
        config = alembic_config(engine)
        command.upgrade(config, "0014")
        with engine.begin() as connection:
            connection.execute(insert, row)
        command.upgrade(config, "0015")
        assert stored() == expected
        if sqlite:
            assert without_rowid()
        command.downgrade(config, "0014")
        assert stored() == expected
        if sqlite:
            assert not without_rowid()
    finally:
        engine.dispose()


def test_a_catalog_of_a_newer_release_says_so_and_is_left_as_it_is(
    data_dir: Path, database_url: str | None
) -> None:
    """Every command, `db upgrade` too, says the catalog was written by a newer pullstats and
    what to do; `db upgrade` used to be the advice, and then failed in Alembic's words."""
    from pullstats import __version__

    extra = {"PULLSTATS_DATABASE_URL": database_url} if database_url else {}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return run_cli(data_dir, *args, env=extra)

    assert run("db", "upgrade").returncode == 0
    settings = Settings(data_dir=data_dir, database_url=database_url)
    engine = make_engine(settings.database_url_value)
    try:
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = '0099'"))
        expected = (
            f"error: the catalog database is at schema 0099, written by a newer pullstats; "
            f"pullstats {__version__} knows schemas up to {head_revision()}: run the newer "
            "release, or restore a backup of the catalog made with this one\n"
        )
        for args in (("users", "list"), ("users", "add", "al"), ("db", "upgrade")):
            result = run(*args)
            assert (result.returncode, result.stderr) == (1, expected), args
        assert current_revision(engine) == "0099"
        with engine.begin() as connection:  # a revision no release of pullstats has made
            connection.execute(text("UPDATE alembic_version SET version_num = 'abc123'"))
        for args in (("users", "list"), ("db", "upgrade")):
            result = run(*args)
            assert (result.returncode, result.stderr) == (
                1,
                "error: the catalog database is at schema 'abc123', which no pullstats made: "
                f"pullstats {__version__} knows schemas 0001 to {head_revision()}; is "
                "PULLSTATS_DATABASE_URL (or PULLSTATS_DATA_DIR) the installation's? Else "
                "restore a backup of the catalog\n",
            ), args
        assert current_revision(engine) == "abc123"
    finally:
        engine.dispose()
