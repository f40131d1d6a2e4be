"""Two nodes (two data dirs) on one catalog, on SQLite and on a real PostgreSQL server.

The SQLite catalog is a file both data dirs name in ``PULLSTATS_DATABASE_URL``; PostgreSQL comes
from ``PULLSTATS_TEST_POSTGRES_URL`` (a database of its own per test, dropped afterwards), and
its half is skipped, saying why, when the variable is unset.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from pullstats.config import Settings
from pullstats.runtime import Runtime

POSTGRES_ENV = "PULLSTATS_TEST_POSTGRES_URL"


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """One catalog for every node of the test."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'shared-catalog.sqlite3'}"
        return
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"no PostgreSQL: set {POSTGRES_ENV} (CONTRIBUTING.md) to run this")
    name = f"pullstats_nodes_{uuid.uuid4().hex[:16]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture
def node_settings(tmp_path: Path, catalog_url: str) -> Callable[..., Settings]:
    """Settings of the node ``name``: its own data dir (and spool), the shared catalog, a
    shared keys dir (``keys_dir=None``: the data dir's own), the shared lake and the shared
    exports store (the data dir's ``lake`` and ``exports`` link to them, as shared mounts
    would be, unless the test made them first)."""
    shared_keys = tmp_path / "shared-keys"
    shared_keys.mkdir(mode=0o700, exist_ok=True)

    def make(name: str, **overrides: Any) -> Settings:
        for folder in ("lake", "exports"):
            shared = tmp_path / f"shared-{folder}"
            shared.mkdir(exist_ok=True)
            link = tmp_path / name / folder
            if not link.exists() and not link.is_symlink():
                link.parent.mkdir(parents=True, exist_ok=True)
                link.symlink_to(shared)
        values: dict[str, Any] = {
            "data_dir": tmp_path / name,
            "database_url": catalog_url,
            "node_name": name,
            "keys_dir": shared_keys,
        }
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture
def open_node(node_settings: Callable[..., Settings]) -> Iterator[Callable[..., Runtime]]:
    """Opens node ``name`` (closed after the test)."""
    opened: list[Runtime] = []

    def open_(name: str, **overrides: Any) -> Runtime:
        runtime = Runtime.open(node_settings(name, **overrides))
        opened.append(runtime)
        return runtime

    yield open_
    for runtime in opened:
        runtime.close()
