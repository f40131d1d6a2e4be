"""``lake/_meta.json``: which version of the lake's layout and schemas a data dir holds.

The lake (requests, actions, imported history, set-aside records) is Parquet that outlives
any one release. A release that changes a table's columns, types or partitioning raises
:data:`LAKE_SCHEMA_VERSION` and brings a migration from the version before; a data dir written
by a *newer* release is refused with a message, never read half-understood. A lake written
before this file existed has the layout of version 1: the file is added to it when it is next
opened for writing.

A lake of an older version is migrated (:func:`migrate_lake`) when a command that writes opens
it, under the job lock; a command that only reads refuses it until then. Each migration is
idempotent file by file (a file already in the new shape is left as it is) and replaces each
file whole, so a run stopped half-way leaves every file readable and the next one finishes the
job; the version is recorded last.

A file that cannot be read as Parquet is handed to the caller's ``set_aside``
(``lake_damage.set_aside_file`` from ``runtime.py``, as every stage's reads do: the file moved
to ``set-aside/damaged-files/`` with its bytes, a warning line), and the migration goes on
without it: it is no longer in the lake, so a run again does not meet it, and the lake's
version is recorded once every other file is migrated. The file set aside keeps the older
version's columns.

- **1 → 2**: the requests and actions (and Docker Hub's imported actions) gain ``user_hash``,
  after ``ip_hash``: NULL in every row written before, as for an anonymous request, since no
  release before it kept the user.
"""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from pullstats import __version__
from pullstats.lake_schema import (
    ACTIONS,
    IMPORTED_ACTIONS,
    LAKE_SCHEMA_VERSION,
    REQUESTS,
    LakeTable,
)
from pullstats.storage import Store, StoreFile

log = logging.getLogger("pullstats.lake")
#: the migration's progress lines, which a command shows on its stderr (runtime.py)
progress = logging.getLogger("pullstats.lake.migration")

META_FILE = "_meta.json"
#: the description's member naming the lake, as its installation's catalog does
ID_KEY = "lake_id"
#: a migration says how far it is every this many files of a table
PROGRESS_FILES = 500


class LakeVersionError(RuntimeError):
    """The data dir's lake is of a version this release cannot read."""


class Description:
    """The lake's ``_meta.json`` as one command's start-up sees it: read once, however many
    checks ask (on S3 each read is a request), and kept up to date by what this start-up writes.
    """

    def __init__(self, lake: Store) -> None:
        self.lake = lake
        self._file = StoreFile(lake, META_FILE, LakeVersionError)
        self._tables: bool | None = None

    @property
    def path(self) -> str:
        return self._file.path

    def data(self) -> bytes | None:
        """The file's content; None when there is none (:class:`LakeVersionError` when it
        cannot be read)."""
        return self._file.data()

    def has_tables(self) -> bool:
        """Whether the lake holds any table of version 1's (a lake from before the file)."""
        if self._tables is None:
            self._tables = any(self.lake.folders(table.folder) for table in MIGRATIONS[1][0])
        return self._tables

    def is_new(self) -> bool:
        """Whether the place holds nothing of a lake yet: no description, no table."""
        return self.data() is None and not self.has_tables()

    def lake_id(self) -> str | None:
        """The id the description gives the lake (its installation records the same), or None:
        no description, or one written before lakes had ids."""
        meta = _parsed(self.data())
        found = meta.get(ID_KEY) if meta is not None else None
        return found if isinstance(found, str) else None

    def store_id(self) -> str | None:
        """:meth:`lake_id`, as :mod:`pullstats.store_identity` asks every store's."""
        return self.lake_id()

    def version(self, staging: Path, *, create: bool) -> int:
        """The lake's schema version, checked; with ``create``, the file is written when missing.

        :class:`LakeVersionError` names the file and says what to do when the lake is newer
        than this release, or older without ``create`` (with it, the caller runs
        :func:`migrate_lake`), or the file is unreadable; ``staging``: the local folder a new
        file is written in before it is published.
        """
        path = self.path
        data = self.data()
        if data is None:
            # a lake older than the file holds version 1's tables; a new one is of this release
            if not self.has_tables():
                if create:
                    self.write(_description(None), staging)  # no file: no id to keep
                return LAKE_SCHEMA_VERSION
            data = b'{"schema_version": 1}'
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise LakeVersionError(f"{path}: cannot be read ({error})") from None
        version = _version_in(text)
        if version is None:
            raise LakeVersionError(
                f'{path}: not a pullstats lake description (expected {{"schema_version": '
                f"{LAKE_SCHEMA_VERSION}, ...}}): restore it from a backup, or delete it if this "
                f"lake was written by pullstats {__version__} or earlier"
            )
        if version > LAKE_SCHEMA_VERSION:
            raise LakeVersionError(
                f"{path}: the lake has schema version {version}, written by a newer pullstats; "
                f"pullstats {__version__} reads version {LAKE_SCHEMA_VERSION}: run the newer "
                "release, or restore a backup of the data dir made with this one"
            )
        if version < min(MIGRATIONS):
            raise LakeVersionError(
                f"{path}: lake schema version {version} has no migration to "
                f"{LAKE_SCHEMA_VERSION} in pullstats {__version__}"
            )
        if version < LAKE_SCHEMA_VERSION and not create:
            raise LakeVersionError(
                f"{path}: the lake has schema version {version}; pullstats {__version__} reads "
                f"version {LAKE_SCHEMA_VERSION} and migrates it when a command that writes "
                "opens it: run `pullstats process` (or start the server) once"
            )
        return version

    def give_id(self, staging: Path, new_id: str) -> None:
        """Write ``new_id`` into the description (which exists: :meth:`version` made it),
        keeping the rest of it."""
        meta = _parsed(self.data()) or {}
        meta[ID_KEY] = new_id
        self.write(meta, staging)

    def write(self, meta: dict[str, Any], staging: Path) -> None:
        # two processes opening a new data dir at once write the same version: either is right
        self._file.write_json(meta, staging)


def _version_in(text: str) -> int | None:
    try:
        meta: Any = json.loads(text)
    except ValueError:
        return None
    version = meta.get("schema_version") if isinstance(meta, dict) else None
    return version if isinstance(version, int) and not isinstance(version, bool) else None


def _parsed(data: bytes | None) -> dict[str, Any] | None:
    """The description's members; None when there is none or it is not a JSON object."""
    if data is None:
        return None
    try:
        meta: Any = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None
    return meta if isinstance(meta, dict) else None


def _description(known_id: str | None) -> dict[str, Any]:
    """A new description of this release's lake, keeping the lake's id if it has one."""
    meta: dict[str, Any] = {
        "schema_version": LAKE_SCHEMA_VERSION,
        "written_by": f"pullstats {__version__}",
        "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if known_id is not None:
        meta[ID_KEY] = known_id
    return meta


def _add_user_hash(table: pa.Table) -> pa.Table | None:
    if "user_hash" in table.column_names:
        return None
    at = table.column_names.index("ip_hash") + 1
    nulls = pa.nulls(table.num_rows, pa.binary())
    return table.add_column(at, pa.field("user_hash", pa.binary()), nulls)


#: version → the tables whose files change on the way to the next version, and how (None: the
#: file is in the new shape already)
MIGRATIONS: dict[int, tuple[tuple[LakeTable, ...], Callable[[pa.Table], pa.Table | None]]] = {
    1: ((REQUESTS, ACTIONS, IMPORTED_ACTIONS), _add_user_hash),
}


def migrate_lake(lake: Store, staging: Path, set_aside: Callable[[str], bool] | None = None) -> int:
    """Bring an older lake's files to :data:`LAKE_SCHEMA_VERSION` and record it; the number
    of files rewritten. The caller holds the job lock (nothing else writes meanwhile).

    ``set_aside(key)``: given a file pyarrow cannot read, True when it was damaged and is now
    out of the lake (the migration goes on without it); without it, or when it says False, the
    error is raised and the version stays as it was."""
    # read afresh: another node may have migrated it while this one waited for the lock
    description = Description(lake)
    version = description.version(staging, create=True)
    rewritten = damaged = 0
    for step in range(version, LAKE_SCHEMA_VERSION):
        tables, change = MIGRATIONS[step]
        for table in tables:
            keys = lake.files(table.folder, ".parquet")
            progress.info(
                "lake: schema version %d → %d: %d files of %s",
                step,
                step + 1,
                len(keys),
                table.folder,
            )
            for done, key in enumerate(keys, 1):
                content = _read(lake, key, set_aside)
                if content is None:
                    damaged += 1
                else:
                    rewritten += _rewrite(lake, staging, key, change(content))
                if done % PROGRESS_FILES == 0:
                    progress.info("lake: %s: %d of %d files", table.folder, done, len(keys))
    if version < LAKE_SCHEMA_VERSION:
        description.write(_description(description.lake_id()), staging)
        progress.info(
            "lake: schema version %d recorded (%d files rewritten, %d damaged files set aside)",
            LAKE_SCHEMA_VERSION,
            rewritten,
            damaged,
        )
    return rewritten


def _read(lake: Store, key: str, set_aside: Callable[[str], bool] | None) -> pa.Table | None:
    """The file ``key``; None when it could not be read and ``set_aside`` took it out of the
    lake as damaged."""
    try:
        return pq.read_table(io.BytesIO(lake.read_bytes(key)))
    except (OSError, pa.ArrowException):  # thrift's errors are OSErrors
        if set_aside is None or not set_aside(key):
            raise
        return None


def _rewrite(lake: Store, staging: Path, key: str, changed: pa.Table | None) -> int:
    """``key`` replaced by ``changed``; 0 when it is None (the file in the new shape already)."""
    if changed is None:
        return 0
    staging.mkdir(parents=True, exist_ok=True)
    staged = staging / f".migrate-{uuid.uuid4().hex}.parquet"
    try:
        pq.write_table(changed, staged, compression="zstd", compression_level=1)
        lake.publish(staged, key)
    finally:
        staged.unlink(missing_ok=True)
    return 1
