"""Schema versions: create or upgrade the catalog (``pullstats db upgrade``) and check it.

Every command and server start checks the schema, so the check does not load Alembic (a
quarter of a second of imports and of reading every migration script): the newest revision is
read from the migration file names (``NNNN_what.py`` holds revision ``NNNN``, which a test
holds to) and the current one from ``alembic_version``. Alembic is loaded to migrate.

A migration holds a lock (on PostgreSQL an advisory lock in the catalog database, on SQLite an
flock on ``<catalog file>.migrate-lock``), so that servers and commands starting together on a
new catalog create it once instead of colliding.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
#: the advisory lock key migrations take on PostgreSQL ("pullstats migrations", not the job lock)
SCHEMA_LOCK_KEY = 0x70756C6C_6D696772
VERSIONS = MIGRATIONS / "versions"


class SchemaOutdated(RuntimeError):
    """The catalog's schema is not this pullstats's: made by an older one (``pullstats db
    upgrade`` migrates it) or, as :class:`SchemaUnknown`, by a newer one or none."""


class SchemaUnknown(SchemaOutdated):
    """The catalog is at a revision this pullstats has no migration file of: a newer release's
    (as a newer lake is refused, ``lake_meta.py``), or no release's. Nothing migrates it."""


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def head_revision() -> str:
    """The newest revision: the number of the highest-numbered migration file."""
    return max(known_revisions())


def known_revisions() -> set[str]:
    return {path.name[:4] for path in VERSIONS.glob("[0-9][0-9][0-9][0-9]_*.py")}


def check_known(current: str | None) -> None:
    """Refuse a revision this pullstats cannot migrate from, saying what to do instead."""
    if current is None or current in known_revisions():
        return
    from pullstats import __version__

    head = head_revision()
    if current.isdigit() and len(current) == len(head) and current > head:
        raise SchemaUnknown(
            f"the catalog database is at schema {current}, written by a newer pullstats; "
            f"pullstats {__version__} knows schemas up to {head}: run the newer release, or "
            "restore a backup of the catalog made with this one"
        )
    raise SchemaUnknown(
        f"the catalog database is at schema {current!r}, which no pullstats made: pullstats "
        f"{__version__} knows schemas {min(known_revisions())} to {head}; is "
        "PULLSTATS_DATABASE_URL (or PULLSTATS_DATA_DIR) the installation's? Else restore a "
        "backup of the catalog"
    )


def current_revision(engine: Engine) -> str | None:
    """The catalog's revision, or None for a catalog that has none yet."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        return None if revision is None else str(revision)


@contextlib.contextmanager
def _schema_lock(engine: Engine) -> Iterator[None]:
    """One migration at a time per catalog (the others wait their turn, then find it current)."""
    if engine.dialect.name == "sqlite":
        with _file_lock(engine.url.database):
            yield
        return
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT")
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": SCHEMA_LOCK_KEY})


@contextlib.contextmanager
def _file_lock(database: str | None) -> Iterator[None]:
    """An flock beside a SQLite catalog file (none for an in-memory database)."""
    if not database or database == ":memory:":
        yield
        return
    fd = os.open(f"{database}.migrate-lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Migrate to the newest schema; returns (revision before, revision after)."""
    from alembic import command

    with _schema_lock(engine):
        before = current_revision(engine)  # after the wait: another may have migrated meanwhile
        check_known(before)  # else Alembic's "Can't locate revision"
        command.upgrade(alembic_config(engine), "head")
    return before, head_revision()


def ensure_schema(engine: Engine) -> None:
    """Create a new catalog on first use; refuse one made by an older version (or by a newer
    one, or none: :class:`SchemaUnknown`)."""
    current = current_revision(engine)
    if current is None:
        upgrade(engine)
    elif current != head_revision():
        check_known(current)
        raise SchemaOutdated(
            f"the catalog database is at schema {current}, this pullstats needs "
            f"{head_revision()}: run 'pullstats db upgrade'"
        )
