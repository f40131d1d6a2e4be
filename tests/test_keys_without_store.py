"""``pullstats keys rotate`` needs the catalog and the keys dir only: with the object store down
(a key leak during an outage) it rotates, as docs/operations.md says (`db upgrade` and `keys`
do not check the buckets); and only on the installation's catalog, never a new one."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect, make_url

from pullstats.db.engine import make_engine
from pullstats.runtime import Runtime
from tests.conftest import ON_POSTGRESQL, catalog_settings, free_port, fresh_postgres_url, run_cli
from tests.storage.conftest import aws_env


@pytest.mark.e2e  # runs the pullstats command
def test_keys_rotate_while_the_object_store_cannot_be_reached(data_dir: Path) -> None:
    Runtime.open(catalog_settings(data_dir)).close()
    down = {
        **aws_env(f"http://127.0.0.1:{free_port()}"),  # nothing listens there
        "PULLSTATS_LAKE_URL": "s3://pullstats/lake",
        "PULLSTATS_EXPORTS_URL": "s3://pullstats/exports",
    }
    assert run_cli(data_dir, "status", env=down).returncode == 1  # the store is down
    for _ in range(2):  # the ring's first key, then a rotation
        result = run_cli(data_dir, "keys", "rotate", "--only", "download", env=down)
        assert result.returncode == 0, result.stderr
        assert "download: key " in result.stdout
    assert "download" in run_cli(data_dir, "keys", "list", env=down).stdout


def files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder``, by its path in it."""
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def tables(url: str) -> list[str]:
    """The tables of the database at ``url`` (none where an SQLite file is not there)."""
    database = make_url(url).database
    if url.startswith("sqlite") and database and not Path(database).exists():
        return []
    engine = make_engine(url)
    try:
        return inspect(engine).get_table_names()
    finally:
        engine.dispose()


@pytest.mark.e2e  # runs the pullstats command
def test_keys_rotate_refuses_a_new_catalog_beside_the_installation(
    data_dir: Path, tmp_path: Path
) -> None:
    """A mistyped or new ``PULLSTATS_DATABASE_URL``: with the stores left alone, no check of
    theirs notices it. Made a catalog there, the rotation would be recorded in it, the shared
    keys dir rotated, and the installation's catalog left without the new key (every node
    refused at its next start, `lacks the installation's …` the other way round)."""
    Runtime.open(catalog_settings(data_dir)).close()
    first = run_cli(data_dir, "keys", "rotate")
    assert first.returncode == 0, first.stderr
    keys = files(data_dir / "keys")
    (tmp_path / "x").mkdir()
    other = (
        fresh_postgres_url() if ON_POSTGRESQL else f"sqlite:///{tmp_path / 'x' / 'other.sqlite3'}"
    )
    result = run_cli(
        data_dir, "keys", "rotate", "--only", "jwt", env={"PULLSTATS_DATABASE_URL": other}
    )
    assert result.returncode == 1, result.stdout
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: the catalog database holds no pullstats catalog yet: "), line
    assert "`pullstats db copy --to` this database from it" in line
    assert files(data_dir / "keys") == keys
    assert tables(other) == []
    # the installation's own catalog rotates as before
    again = run_cli(data_dir, "keys", "rotate", "--only", "jwt")
    assert again.returncode == 0, again.stderr
