"""The SQLite catalog holds TOTP secrets, token and password hashes: only its owner reads it.

With a umask of 0022 (the usual one) a new file is readable by every local user; the catalog,
its ``-wal`` and ``-shm`` (which SQLite makes with the catalog file's own mode) and a new data
dir are made private whatever the umask, and an existing catalog made readable by others is
tightened when it is opened, as ``keys/`` is.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from pullstats.config import Settings
from pullstats.db.engine import make_engine
from pullstats.runtime import Runtime
from tests.conftest import cli_env, only_on_sqlite


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """The umask most systems give a login: new files readable by every local user."""
    only_on_sqlite("its file modes")
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def catalog_files(data_dir: Path) -> dict[str, int]:
    """The mode of the catalog and of its -wal and -shm, by name."""
    return {
        path.name: mode(path)
        for path in data_dir.iterdir()
        if path.name.startswith("catalog.sqlite3") and not path.name.endswith("migrate-lock")
    }


def test_a_new_catalog_and_its_wal_and_shm_are_the_owners_only(
    tmp_path: Path, usual_umask: None
) -> None:
    data_dir = tmp_path / "data"
    runtime = Runtime.open(Settings(data_dir=data_dir))
    try:
        with runtime.engine.connect() as connection:  # held open: the -wal and -shm stay
            connection.execute(text("CREATE TABLE probe (x INTEGER)"))
            connection.commit()
            assert catalog_files(data_dir) == {
                "catalog.sqlite3": 0o600,
                "catalog.sqlite3-wal": 0o600,
                "catalog.sqlite3-shm": 0o600,
            }
    finally:
        runtime.close()
    assert mode(data_dir) == 0o700


def test_the_command_line_makes_a_private_catalog_before_it_holds_a_totp_secret(
    tmp_path: Path, usual_umask: None
) -> None:
    data_dir = tmp_path / "data"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        """The command in a child of this process, which has its umask (``run_cli``'s may be
        forked from a process started before the umask was set)."""
        return subprocess.run(
            [sys.executable, "-m", "pullstats", *args],
            env=cli_env(data_dir),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    assert run("users", "add", "al").returncode == 0
    enabled = run("users", "totp", "enable", "al")
    assert enabled.returncode == 0, enabled.stderr
    assert catalog_files(data_dir) == {"catalog.sqlite3": 0o600}
    assert mode(data_dir) == 0o700
    assert mode(data_dir / "keys") == 0o700


def test_an_existing_catalog_others_could_read_is_tightened(
    tmp_path: Path, usual_umask: None
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()  # the operator's folder: its mode is theirs
    # a catalog of an earlier release: made 0644, with a -wal and -shm left 0644 by a process
    # that is still running (or was killed)
    earlier = sqlite3.connect(data_dir / "catalog.sqlite3")
    try:
        earlier.execute("PRAGMA journal_mode=WAL")
        earlier.execute("CREATE TABLE earlier (x INTEGER)")
        earlier.commit()
        assert catalog_files(data_dir) == dict.fromkeys(
            ("catalog.sqlite3", "catalog.sqlite3-wal", "catalog.sqlite3-shm"), 0o644
        )
        Runtime.open(Settings(data_dir=data_dir)).close()
        assert catalog_files(data_dir) == dict.fromkeys(
            ("catalog.sqlite3", "catalog.sqlite3-wal", "catalog.sqlite3-shm"), 0o600
        )
    finally:
        earlier.close()
    assert mode(data_dir) == 0o755  # an existing data dir is left as it is


def test_a_catalog_named_by_its_url_is_private_too(tmp_path: Path, usual_umask: None) -> None:
    path = tmp_path / "elsewhere" / "catalog.db"
    path.parent.mkdir()
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            connection.execute(text("CREATE TABLE probe (x INTEGER)"))
            connection.commit()
            assert mode(path) == 0o600
            assert mode(path.with_name("catalog.db-wal")) == 0o600
    finally:
        engine.dispose()


def test_a_catalog_in_a_missing_folder_is_still_sqlites_to_refuse(tmp_path: Path) -> None:
    """Nothing is made where SQLite would make nothing: its own error still names the
    failure."""
    only_on_sqlite("its file")
    engine = make_engine(f"sqlite:///{tmp_path / 'missing' / 'catalog.db'}")
    try:
        with pytest.raises(Exception, match="unable to open database file"):
            engine.connect().close()
    finally:
        engine.dispose()
    assert not (tmp_path / "missing").exists()
