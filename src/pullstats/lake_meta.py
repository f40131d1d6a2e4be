"""``lake/_meta.json``: which version of the lake's layout and schemas a data dir holds.

The lake (requests, actions, imported history, set-aside records) is Parquet that outlives
any one release. A release that changes a table's columns, types or partitioning raises
:data:`LAKE_SCHEMA_VERSION` and brings a migration from the version before; a data dir written
by a *newer* release is refused with a message, never read half-understood. A lake written
before this file existed has the layout of version 1: the file is added to it when it is next
opened for writing.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pullstats import __version__
from pullstats.lake_schema import LAKE_SCHEMA_VERSION
from pullstats.storage import Store

META_FILE = "_meta.json"


class LakeVersionError(RuntimeError):
    """The data dir's lake is of a version this release cannot read."""


def lake_version(lake: Store, staging: Path, *, create: bool) -> int:
    """The lake's schema version, checked; with ``create``, the file is written when missing.

    :class:`LakeVersionError` names the file and says what to do when the lake is newer than
    this release, or the file is unreadable; ``staging``: the local folder a new file is
    written in before it is published.
    """
    path = lake.location(META_FILE)
    try:
        text = lake.read_bytes(META_FILE).decode("utf-8")
    except FileNotFoundError:
        if create:
            _write(lake, staging)
        return LAKE_SCHEMA_VERSION
    except (OSError, UnicodeDecodeError) as error:
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
    if version < LAKE_SCHEMA_VERSION:  # no release has raised the version yet
        raise LakeVersionError(
            f"{path}: lake schema version {version} has no migration to "
            f"{LAKE_SCHEMA_VERSION} in pullstats {__version__}"
        )
    return version


def _version_in(text: str) -> int | None:
    try:
        meta: Any = json.loads(text)
    except ValueError:
        return None
    version = meta.get("schema_version") if isinstance(meta, dict) else None
    return version if isinstance(version, int) and not isinstance(version, bool) else None


def _write(lake: Store, staging: Path) -> None:
    meta = {
        "schema_version": LAKE_SCHEMA_VERSION,
        "written_by": f"pullstats {__version__}",
        "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    # two processes opening a new data dir at once write the same version: either file is right
    data = (json.dumps(meta, indent=2) + "\n").encode("utf-8")
    lake.write_bytes(META_FILE, data, staging)
