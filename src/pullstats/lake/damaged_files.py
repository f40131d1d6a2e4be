"""Damaged Parquet files of the lake: found when a read fails on one, moved out of the lake (never
deleted) and reported, so that the stage carries on with every other file and day.

A lake file can be cut short (a disk filled, a copy interrupted, a restore gone wrong), replaced
by something that is not Parquet, or lose its footer. DuckDB then refuses every query that lists
it, and since a run's reads list many days at once, one such file used to stop every ``process``
and every log import, for every day.

Nothing checks files ahead of time (a footer read per file and run would cost a request each on
S3, for a lake of thousands of files). Instead a read that may meet a damaged file runs through
:func:`carry_on`: when DuckDB's error names a file of the lake, that file alone is read with
pyarrow (its footer, then its pages); if pyarrow cannot read it either it is damaged, and it is
moved, with its bytes as they are, to ``set-aside/damaged-files/<its key>`` (a ``.N`` before
``.parquet`` when that name is taken), a warning line goes to stderr, and the read runs again,
listing the lake afresh. An error naming no lake file, or a file pyarrow reads whole, is raised
as before: it is no damage of a file. Nor is a failure of the store (a read it did not answer,
a file it does not hand over): its own error is raised, naming the settings to check.

What the move means for the counts:

- a ``requests`` (or ``imported``) part: its rows are no longer in the lake. The day's actions
  classified before still count them, until the day is classified again (new requests for it,
  ``process --rebuild``): from then on it is counted without them. Restore the file (move it
  back once repaired, or from a backup), or import the day's logs again (``ingest logs``: the
  requests are no longer in the lake, so they are written anew), then rebuild the day;
- an ``actions`` file is derived from the requests: its day is recorded as waiting for
  ``process`` (``pending_days``), which classifies it again from its requests.

:func:`damaged_files` lists what was moved, for ``pullstats status``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from datetime import date
from typing import TypeVar

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from pullstats import lake_files
from pullstats.config import Settings
from pullstats.db.state import add_pending_days
from pullstats.lake.set_aside import DAMAGED_FILES, SET_ASIDE_FOLDER
from pullstats.runtime import Runtime
from pullstats.storage import StorageError

log = logging.getLogger(__name__)

T = TypeVar("T")

#: where damaged files go, under their own key (keys relative to the lake's root)
DAMAGED_FOLDER = f"{SET_ASIDE_FOLDER}/{DAMAGED_FILES}"
#: the lake's tables whose files a read may find damaged
_TABLES = (*lake_files.DAY_TABLES, lake_files.IMPORTED_SUMMARIES, lake_files.IMPORTED_TRENDS)
#: the tables of Docker Hub CSVs' imports
_IMPORTED_TABLES = (
    lake_files.IMPORTED,
    lake_files.IMPORTED_SUMMARIES,
    lake_files.IMPORTED_TRENDS,
)
#: the most files one read may set aside before the error is raised after all (each retry
#: moves one more file out of the lake, so the loop ends anyway; this bounds a pathological one)
_MOST_FILES = 1000
#: a file name in a reader's message: DuckDB's ``… end of file '/x/part-1.parquet'``, Spark's
#: ``file:/x/part-1.parquet is not a Parquet file`` (or ``s3a://…``)
_NAMED = re.compile(r"""(?:'([^']+\.parquet)'|([^\s'"\[\],]+\.parquet)\b)""")


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


def carry_on(
    runtime: Runtime,
    read: Callable[[], T],
    on_damaged: Callable[[DamagedFile], None] | None = None,
    candidates: Callable[[], Iterable[str]] | None = None,
) -> T:
    """``read()``; when it fails on a damaged lake file, that file set aside (and handed to
    ``on_damaged``) and ``read()`` again, until it succeeds or fails otherwise. ``read`` must
    list the lake itself, and be safe to run again (nothing it did before the error counts).
    ``candidates``: the locations ``read`` reads, checked one by one when DuckDB's error about
    the data names no file (a damaged page: ``TProtocolException: Invalid data``)."""
    moved = 0
    while True:
        try:
            return read()
        except Exception as error:  # DuckDB's errors; Spark's (Py4J) name the file too
            damaged = set_aside_damaged(runtime, error, candidates)
            if damaged is None or moved >= _MOST_FILES:
                raise
            moved += 1
            if on_damaged is not None:
                on_damaged(damaged)


def read_files(
    runtime: Runtime, locations: Callable[[], list[str]], read: Callable[[list[str]], T]
) -> T:
    """``read(locations())`` through :func:`carry_on`: the lake listed afresh on each try, and
    the files listed the candidates when DuckDB's error names none."""
    files: list[str] = []

    def listed_and_read() -> T:
        files[:] = locations()
        return read(files)

    return carry_on(runtime, listed_and_read, candidates=lambda: files)


def set_aside_damaged(
    runtime: Runtime, error: Exception, candidates: Callable[[], Iterable[str]] | None = None
) -> DamagedFile | None:
    """The lake file ``error`` names (or, when it names none and may be about damaged data,
    the first of ``candidates``' locations) moved out of the lake, when pyarrow cannot read it
    either (None: no damaged file). The day of an actions file is recorded as waiting for
    ``process``, which classifies it again.

    A read the store failed is no damage either (``error`` reports botocore's timeout or
    failure to connect: DuckDB read through s3fs): the store's
    :class:`~pullstats.storage.StorageError`, the line naming the settings, is raised at once,
    as every candidate would fail alike; so it is when the store fails to hand over a file to
    check (:func:`_damage`)."""
    settings = runtime.settings
    failure = settings.lake.failure_in(str(error))
    if failure is not None:
        raise failure from error
    keys = _lake_keys(settings, str(error))
    if not keys and candidates is not None and _about_data(error):
        keys = _lake_keys(settings, " ".join(f"'{location}'" for location in candidates()))
    for key in keys:
        reason = _damage(settings, key)
        if reason is None:
            continue
        moved_to = _free_key(settings, f"{DAMAGED_FOLDER}/{key}")
        settings.lake.move(key, moved_to)
        damaged = DamagedFile(key, moved_to, reason)
        _forget_import(settings, damaged)
        if damaged.table == lake_files.ACTIONS and damaged.day is not None:
            with runtime.sessions.begin() as session:
                add_pending_days(session, [damaged.day])
        log.warning("%s", _warning(settings, damaged))
        return damaged
    return None


def damaged_files(settings: Settings) -> list[str]:
    """The keys of the files set aside as damaged so far (relative to :data:`DAMAGED_FOLDER`)."""
    prefix = DAMAGED_FOLDER + "/"
    return [key.removeprefix(prefix) for key in settings.lake.files(DAMAGED_FOLDER)]


def _lake_keys(settings: Settings, message: str) -> list[str]:
    """The keys of the lake's table files ``message`` names."""
    lake = settings.lake
    root = lake.location("").rstrip("/") + "/"
    keys = []
    for quoted, bare in _NAMED.findall(message):
        location = _as_stored(quoted or bare)
        if not location.startswith(root):
            continue
        key = location.removeprefix(root)
        if key.split("/", 1)[0] in _TABLES and key not in keys:
            keys.append(key)
    return keys


def _forget_import(settings: Settings, damaged: DamagedFile) -> None:
    """For a part of a Docker Hub CSV's import, its record (``imported-files/<sha256>.json``,
    which makes an import of the same file a no-op) set aside beside it: importing the file
    again writes every part of it again, the lost one too."""
    if damaged.table not in _IMPORTED_TABLES:
        return
    sha256 = damaged.key.rsplit("/", 1)[-1].removeprefix("part-").removesuffix(".parquet")
    record = f"{lake_files.IMPORTED_FILES}/{sha256}.json"
    if settings.lake.exists(record):
        settings.lake.move(record, _free_key(settings, f"{DAMAGED_FOLDER}/{record}", ".json"))


def _about_data(error: Exception) -> bool:
    """Whether DuckDB's ``error`` may come of damaged data (not of memory, an interrupt, or a
    query that cannot be planned): its plain ``Error`` (``TProtocolException: Invalid data``,
    ``Out of buffer``), an invalid input or an I/O error."""
    return type(error) is duckdb.Error or isinstance(
        error, (duckdb.InvalidInputException, duckdb.IOException)
    )


def _as_stored(location: str) -> str:
    """A location as :meth:`~pullstats.storage.Store.location` gives it, from Spark's form
    (``file:/x``, ``file:///x``, ``s3a://b/k``)."""
    if location.startswith("s3a://"):
        return "s3://" + location.removeprefix("s3a://")
    if location.startswith("file:"):
        return "/" + location.removeprefix("file:").lstrip("/")
    return location


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
