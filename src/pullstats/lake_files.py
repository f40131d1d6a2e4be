"""The lake's files by name: which keys each table's days have, listed from the lake's store
(``PULLSTATS_LAKE_URL``: the data dir's ``lake/`` folder, or ``s3://bucket/prefix``).

Every stage (and every engine: DuckDB here, Spark elsewhere) lists the lake through these
functions and gets *locations* back: local paths or ``s3://`` URLs, as
:meth:`pullstats.storage.Store.location` gives them, in a stable order. A listing is one
``ListObjectsV2`` of one day's prefix on S3, never a walk of the bucket.

Layout (keys relative to the lake's root)::

    _meta.json                                          lake_meta.py
    requests/day=D/part-<batch>-0.parquet               compaction, log import
    registry-ids/day=D/part-<batch>-0.parquet           compaction (lake/refused.py)
    actions/day=D/actions.parquet                       classification
    imported/day=D/part-<import id>.parquet             Docker Hub CSV import
    imported-summaries/<week|month>/<start>/part-<import id>.parquet
    imported-files/<import id>.json                     written last: the import is done
                                                        (importers/import_records.py)
    set-aside/<reason>/…                                set_aside.py
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pullstats.config import Settings
from pullstats.storage import join

REQUESTS = "requests"
ACTIONS = "actions"
IMPORTED = "imported"
IMPORTED_SUMMARIES = "imported-summaries"
IMPORTED_TRENDS = "imported-trends"
IMPORTED_FILES = "imported-files"
REGISTRY_IDS = "registry-ids"
#: the tables partitioned by day, which the lake retention prunes
DAY_TABLES = (REQUESTS, ACTIONS, IMPORTED, REGISTRY_IDS)
#: the lake's folder of what is set aside (lake/set_aside.py)
SET_ASIDE_FOLDER = "set-aside"
#: its folder of whole lake files found damaged (lake_damage.py): files, not records, never
#: counted with the set-aside records
DAMAGED_FILES = "damaged-files"


def day_folder(table: str, day: date) -> str:
    """``requests/day=2024-05-01``: the key prefix of one day of a table."""
    return join(table, f"day={day.isoformat()}")


def action_key(day: date) -> str:
    return join(day_folder(ACTIONS, day), "actions.parquet")


def days_between(first: date, last: date) -> Iterable[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def day_parts(settings: Settings, table: str, day: date) -> list[str]:
    """The keys of ``table``'s Parquet parts of ``day`` (``part-*.parquet``), sorted."""
    keys = settings.lake.files(day_folder(table, day), ".parquet")
    return [key for key in keys if key.rsplit("/", 1)[-1].startswith("part-")]


def day_files(settings: Settings, table: str, day: date) -> list[str]:
    """The locations of ``table``'s Parquet parts of ``day`` (``part-*.parquet``), sorted."""
    return [settings.lake.location(key) for key in day_parts(settings, table, day)]


def all_request_files(settings: Settings) -> list[str]:
    """Every request part of the lake (one listing of the ``requests/`` prefix)."""
    lake = settings.lake
    return [
        lake.location(key)
        for key in lake.files(REQUESTS, ".parquet")
        if key.rsplit("/", 1)[-1].startswith("part-")
    ]


def imported_files(settings: Settings, day: date) -> list[str]:
    """The actions imported from Docker Hub CSVs of ``day``."""
    return day_files(settings, IMPORTED, day)


def action_files(settings: Settings, first: date, last: date) -> list[str]:
    """The classified actions files (one per day that has actions) of ``first`` … ``last``:
    one listing of the ``actions/`` prefix (on S3 a request per 1000 days, with each file's
    size and time, which readers then need not ask for)."""
    lake = settings.lake
    listed = set(lake.files(ACTIONS, ".parquet"))
    return [
        lake.location(action_key(day))
        for day in days_between(first, last)
        if action_key(day) in listed
    ]


def imported_period_files(settings: Settings, table: str, kind: str, start: date) -> list[str]:
    """The parts of an imported table partitioned by period (``IMPORTED_SUMMARIES``,
    ``IMPORTED_TRENDS``) of the period of ``kind`` (week, month) starting ``start``."""
    lake = settings.lake
    folder = join(table, kind, start.isoformat())
    return [lake.location(key) for key in lake.files(folder, ".parquet")]


def lake_days(settings: Settings, table: str) -> list[date]:
    """The days ``table`` has a ``day=`` folder for (one delimited listing of the table)."""
    days = []
    for name in settings.lake.folders(table):
        if name.startswith("day="):
            try:
                days.append(date.fromisoformat(name.removeprefix("day=")))
            except ValueError:
                continue  # not ours
    return sorted(days)


def publish(settings: Settings, staged: Path, key: str) -> None:
    """Publish the closed local file ``staged`` as the lake's ``key`` (whole or not at all)."""
    settings.lake.publish(staged, key)


def publish_table(settings: Settings, table: pa.Table, key: str, name: str) -> None:
    """Publish ``table`` as the lake's Parquet file ``key``: written whole in ``tmp/job`` first
    (in a file whose name starts with ``name``), then moved into the lake, whole or not at all;
    the staged file is gone either way."""
    settings.paths.job_tmp.mkdir(parents=True, exist_ok=True)
    staged = settings.paths.job_tmp / f"{name}-{uuid.uuid4().hex}.parquet"
    try:
        pq.write_table(table, staged, compression="zstd")
        publish(settings, staged, key)
    finally:
        staged.unlink(missing_ok=True)
