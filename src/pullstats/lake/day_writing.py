"""A batch's rows of the lake's requests into one Parquet file per day, two days at a time.

DuckDB writes a Parquet file of one day's requests (under one row group) on one core, so
``COPY … TO`` a day at a time left the other core idle for most of ``ingest logs``' writing.
A group of days' rows is made once into a table of the process's in-memory database, which
every cursor of it can read (the batch and the run's address and agent tables are temporary
tables of the writer's connection, which no other cursor sees), and two threads copy its days
out, each on a cursor of its own. October's 31 days of 2 M requests: 2.7–3.0 s a day at a
time, 1.9–2.0 s this way, with 0.7 s more CPU (docs/benchmarks.md). Groups of
:data:`GROUP_DAYS` bound what is held at once to a part of the batch; a group of one day (a
spool batch of one day, the usual case of ``process``) is copied straight from the batch.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import date, timedelta
from pathlib import Path

import duckdb

from pullstats.sql_literals import sql_text
from pullstats.timestamps import day_micros

#: Days whose rows are held at once.
GROUP_DAYS = 8
#: Threads copying days out of a group.
WRITERS = 2


def write_days(
    db: duckdb.DuckDBPyConnection,
    rows: Callable[[date, date], str],
    days: list[date],
    staging: Path,
) -> dict[date, Path]:
    """Write each of ``days`` (sorted, every day with rows) to ``staging/<day>.parquet``,
    fsynced; ``rows(first, last)`` is the SQL of the rows timed from ``first`` to the end of
    ``last``. Returns the files by day."""
    written: dict[date, Path] = {}
    table = f'"lake_days_{uuid.uuid4().hex}"'
    with ThreadPoolExecutor(max_workers=WRITERS, thread_name_prefix="day-file") as pool:
        for start in range(0, len(days), GROUP_DAYS):
            group = days[start : start + GROUP_DAYS]
            if len(group) == 1:  # nothing to share: straight from the batch
                day = group[0]
                written[day] = _copy(db, rows(day, day), _file(staging, day))
                continue
            db.execute(f"CREATE TABLE {table} AS {rows(group[0], group[-1])}")
            futures = [pool.submit(_write_day, db, table, day, staging) for day in group]
            try:
                for day, future in zip(group, futures, strict=True):
                    written[day] = future.result()
            finally:
                wait(futures)  # when one fails, the other copy may still be reading the table
                db.execute(f"DROP TABLE IF EXISTS {table}")
    return written


def _write_day(db: duckdb.DuckDBPyConnection, table: str, day: date, staging: Path) -> Path:
    """Copy ``day``'s rows of the shared ``table``, on a connection of its own to the same
    database."""
    span = day_span(day, day)
    cursor = db.cursor()
    try:
        return _copy(
            cursor,
            f"SELECT * FROM {table} WHERE ts >= make_timestamp({span['day_start']})"
            f" AND ts < make_timestamp({span['day_end']})",
            _file(staging, day),
        )
    finally:
        cursor.close()


def _file(staging: Path, day: date) -> Path:
    return staging / f"{day.isoformat()}.parquet"


def _copy(cursor: duckdb.DuckDBPyConnection, query: str, file: Path) -> Path:
    """``query``'s rows into the Parquet ``file``, fsynced. zstd level 1: files as small as at
    the default level (random ids and hashes dominate), a quarter less CPU."""
    cursor.execute(
        f"COPY ({query}) TO {sql_text(file)}"
        " (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1)"
    )
    with open(file, "rb") as handle:
        os.fsync(handle.fileno())
    return file


def day_span(first: date, last: date) -> dict[str, int]:
    """The bounds (microseconds since the epoch) of the days ``first`` … ``last``, as the
    step ``lake.requests`` takes them."""
    return {"day_start": day_micros(first), "day_end": day_micros(last + timedelta(days=1))}
