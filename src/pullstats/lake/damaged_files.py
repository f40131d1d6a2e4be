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
a file it does not hand over): its own error is raised, naming the settings to check. A reader
of one file at a time with pyarrow, whose errors name no file, reads each through
:func:`read_file` instead: the file it failed on is checked and set aside the same way, and the
reader goes on without it.

The readers that carry on so:

- ``process``: compaction (the lake ids its duplicates check reads, ``lake/request_writer.py``),
  classification and the rollups (``pipeline.py``);
- ``ingest logs``: the overlap guard (``importers/log_overlap.py``) and the duplicates check
  (``lake/request_writer.py``);
- ``export``: a period's actions (``exports/closing.py``, which reports the period as failed
  rather than publish it half-counted);
- ``ingest registry-log``: the ``registry-ids`` and requests parts it reads and rewrites, with
  pyarrow through :func:`read_file` (``lake/refused.py``);
- the lake's schema migration (``lake_meta.py``, run by ``Runtime.open`` below this package):
  through :func:`pullstats.lake_damage.set_aside_file`, the half of this mechanism that needs no
  reader, where the check, the move, the warning and what they record live.

What the move means for the counts:

- a ``requests`` (or ``imported``) part: its rows are no longer in the lake. The day's actions
  classified before still count them, until the day is classified again (new requests for it,
  ``process --rebuild``): from then on it is counted without them. Restore the file (move it
  back once repaired, or from a backup), or import the day's logs again (``ingest logs``: the
  requests are no longer in the lake, so they are written anew), then rebuild the day;
- an ``actions`` file is derived from the requests: its day is recorded as waiting for
  ``process`` (``pending_days``), which classifies it again from its requests; until then
  ``export`` holds back the day's periods (``exports/missing_actions.py``, which hands a day
  whose actions file is missing back to ``process`` the same way).

``lake_damage.damaged_files`` lists what was moved, for ``pullstats status``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import TypeVar

import duckdb
import pyarrow as pa

from pullstats import lake_files
from pullstats.config import Settings
from pullstats.lake_damage import DamagedFile, set_aside_file
from pullstats.runtime import Runtime

T = TypeVar("T")

#: the lake's tables whose files a read may find damaged
_TABLES = (*lake_files.DAY_TABLES, lake_files.IMPORTED_SUMMARIES, lake_files.IMPORTED_TRENDS)
#: the most files one read may set aside before the error is raised after all (each retry
#: moves one more file out of the lake, so the loop ends anyway; this bounds a pathological one)
_MOST_FILES = 1000
#: a file name in a reader's message: DuckDB's ``… end of file '/x/part-1.parquet'``, Spark's
#: ``file:/x/part-1.parquet is not a Parquet file`` (or ``s3a://…``)
_NAMED = re.compile(r"""(?:'([^']+\.parquet)'|([^\s'"\[\],]+\.parquet)\b)""")


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
        damaged = set_aside_file(settings, runtime.sessions, key)
        if damaged is not None:
            return damaged
    return None


def read_file(runtime: Runtime, key: str, read: Callable[[], T]) -> T | None:
    """``read()`` of the one lake file ``key``, for the readers of one file at a time
    (pyarrow's errors name no file, so :func:`carry_on` cannot tell which one failed): None
    when it fails and ``key`` is damaged, which is then set aside as :func:`carry_on` would;
    any other failure is raised as before. The caller goes on without the file."""
    try:
        return read()
    except (OSError, pa.ArrowException):  # thrift's errors are OSErrors
        if set_aside_file(runtime.settings, runtime.sessions, key) is None:
            raise
        return None


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
