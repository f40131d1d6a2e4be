"""One damaged lake file moved out of the lake, as :mod:`pullstats.lake.damaged_files` tells:
checked with pyarrow, moved (bytes intact) to ``set-aside/damaged-files/<its key>``, a warning
line on stderr, its consequences recorded.

This half of the mechanism needs no reader and no :class:`~pullstats.runtime.Runtime`, only the
settings and the catalog's sessions, so that it sits below ``runtime``: the lake's schema
migration, which runs while a runtime is being opened (``lake_meta.migrate_lake``, called by
``runtime.py``), sets a damaged file aside through it as every stage does. The readers' half
(:func:`~pullstats.lake.damaged_files.carry_on`, which finds the file a failed read names) is
in ``lake/damaged_files.py``.
"""

from __future__ import annotations

import logging
from datetime import date

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy.orm import Session, sessionmaker

from pullstats import lake_files
from pullstats.config import Settings
from pullstats.db.state import add_pending_days
from pullstats.storage import StorageError

#: the mechanism's logger, whichever half of it logs
log = logging.getLogger("pullstats.lake.damaged_files")

#: where damaged files go, under their own key (keys relative to the lake's root)
DAMAGED_FOLDER = f"{lake_files.SET_ASIDE_FOLDER}/{lake_files.DAMAGED_FILES}"
#: the tables of Docker Hub CSVs' imports
_IMPORTED_TABLES = (
    lake_files.IMPORTED,
    lake_files.IMPORTED_SUMMARIES,
    lake_files.IMPORTED_TRENDS,
)


class DamagedFile:
    """A lake file moved to :data:`DAMAGED_FOLDER`: its key before, its key now, and why."""

    def __init__(self, key: str, moved_to: str, reason: str) -> None:
        self.key = key
        self.moved_to = moved_to
        self.reason = reason

    @property
    def table(self) -> str:
        return self.key.split("/", 1)[0]

    @property
    def day(self) -> date | None:
        """The day of a day-partitioned table's file."""
        parts = self.key.split("/")
        if len(parts) > 2 and parts[1].startswith("day="):
            try:
                return date.fromisoformat(parts[1].removeprefix("day="))
            except ValueError:
                return None
        return None


def set_aside_file(
    settings: Settings, sessions: sessionmaker[Session], key: str
) -> DamagedFile | None:
    """The lake file ``key`` moved out of the lake when pyarrow cannot read it (None: it can,
    or it cannot be fetched: no damage). The day of an actions file is recorded as waiting for
    ``process``, which classifies it again; a Docker Hub import's part takes its record along."""
    reason = _damage(settings, key)
    if reason is None:
        return None
    moved_to = _free_key(settings, f"{DAMAGED_FOLDER}/{key}")
    settings.lake.move(key, moved_to)
    damaged = DamagedFile(key, moved_to, reason)
    _forget_import(settings, damaged)
    if damaged.table == lake_files.ACTIONS and damaged.day is not None:
        classify_again(sessions, damaged.day)
    log.warning("%s", _warning(settings, damaged))
    return damaged


def classify_again(sessions: sessionmaker[Session], day: date) -> None:
    """Hand ``day`` back to ``process``, which classifies it again from its requests: recorded
    as waiting (``pending_days``). What the day of an actions file set aside as damaged needs,
    and the day of one missing from the lake (``exports/missing_actions.py``)."""
    with sessions.begin() as session:
        add_pending_days(session, [day])


def damaged_files(settings: Settings) -> list[str]:
    """The keys of the files set aside as damaged so far (relative to :data:`DAMAGED_FOLDER`)."""
    prefix = DAMAGED_FOLDER + "/"
    return [key.removeprefix(prefix) for key in settings.lake.files(DAMAGED_FOLDER)]


def _forget_import(settings: Settings, damaged: DamagedFile) -> None:
    """For a part of a Docker Hub CSV's import (``part-<id>.parquet``), its record
    (``imported-files/<id>.json``, which makes an import of the same file a no-op) set aside
    beside it: importing the file again writes every part of it again, the lost one too. Its
    other parts stay until then: the next import of the same content, whatever it is given,
    deletes the parts no record names (:mod:`pullstats.importers.import_records`)."""
    if damaged.table not in _IMPORTED_TABLES:
        return
    import_id = damaged.key.rsplit("/", 1)[-1].removeprefix("part-").removesuffix(".parquet")
    record = f"{lake_files.IMPORTED_FILES}/{import_id}.json"
    if settings.lake.exists(record):
        settings.lake.move(record, _free_key(settings, f"{DAMAGED_FOLDER}/{record}", ".json"))


def _damage(settings: Settings, key: str) -> str | None:
    """Why pyarrow cannot read ``key``'s bytes as Parquet (None: it can, or the file is gone).

    The bytes are fetched first, and a failure to fetch them is no damage: only what is wrong
    with the bytes is. A store that fails to hand them over (it cannot be reached, never
    answers, refuses the credentials) fails the whole read with its
    :class:`~pullstats.storage.StorageError`, the line naming the setting to fix: it would fail
    every other candidate the same way. Going on to the next file cost two requests of
    ``PULLSTATS_S3_TIMEOUT`` each, for every file of the read: 30 for one ``process`` of the
    golden week (tests/storage/test_s3_hangs.py)."""
    lake = settings.lake
    try:
        data = lake.read_bytes(key)
    except StorageError:
        raise
    except Exception:  # gone meanwhile, or unreadable here: no damage to tell of
        return None
    try:
        pq.ParquetFile(pa.BufferReader(data)).read()
    except (OSError, pa.ArrowException) as problem:  # thrift's errors are OSErrors
        return " ".join(str(problem).split()) or type(problem).__name__
    return None


def _free_key(settings: Settings, key: str, suffix: str = ".parquet") -> str:
    """``key``, or ``key`` with ``.N`` before its ``suffix`` when a file has that key: a file
    set aside before under the same name is never replaced."""
    lake = settings.lake
    if not lake.exists(key):
        return key
    stem = key.removesuffix(suffix)
    number = 1
    while lake.exists(f"{stem}.{number}{suffix}"):
        number += 1
    return f"{stem}.{number}{suffix}"


def _warning(settings: Settings, damaged: DamagedFile) -> str:
    where = settings.lake.location(damaged.moved_to)
    day = damaged.day
    if damaged.table == lake_files.ACTIONS and day is not None:
        meaning = (
            f"the actions of {day} are classified again from its requests by the next "
            "`pullstats process`"
        )
    elif damaged.table == lake_files.REQUESTS and day is not None:
        following = date.fromordinal(day.toordinal() + 1)
        meaning = (
            f"its rows are no longer in the lake: {day} is counted without them from its next "
            f"classification; restore the file (or import that day's logs again), then run "
            f"`pullstats process --rebuild --from {day} --to {following}`"
        )
    elif damaged.table in _IMPORTED_TABLES:
        again = f"{day} is classified" if day is not None else "its period is rolled up"
        meaning = (
            f"its rows are no longer in the lake, nor counted once {again} again; import the "
            "Docker Hub CSV it came from again (`pullstats import dockerhub-csv`: its record "
            "was set aside too), then run `pullstats process`"
        )
    else:
        meaning = "its rows are no longer in the lake until the file is restored"
    return (
        f"warning: damaged lake file {settings.lake.location(damaged.key)} "
        f"({damaged.reason}) moved to {where}; {meaning}"
    )
