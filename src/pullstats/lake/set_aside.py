"""Records ``process`` cannot classify, kept out of the lake's days but never dropped silently.

Every ingest path checks what it writes, but a spool or lake written by an older version, by
hand, or damaged on disk may still hold records no later stage can handle. ``process`` sets
them aside here instead of failing on them, and counts them by reason (``pullstats status``,
the ``pullstats_set_aside_records`` metric):

- ``timestamp_out_of_range``: a request timed outside the accepted window
  (:mod:`pullstats.ingest.time_window`) has no place among the days: its day may have no day
  before or after it, and no period to roll up into;
- ``invalid_record``: a spool record that breaks a rule every ingest path enforces (a missing
  or invalid name, method, tag or digest, address, …: :mod:`pullstats.ingest.record_rules`);
- ``damaged_line``: a spool line that is not a record at all (:mod:`pullstats.lake.spool_lines`).

What is kept:

- spool records, with their address hashed as in the lake (``spool/part-<hash>.parquet``, the
  name a hash of their ids, so a run retried after a crash writes the same file again);
- for a damaged line, where it is (segment, offset, length) and its SHA-256, not its text,
  which may hold a raw address;
- whole lake folders of days outside the window (``requests/day=D``, ``imported/day=D``),
  moved as they are.

Layout: ``lake/set-aside/<reason>/...``. Nothing reads them back; an operator may inspect or
delete them.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from datetime import date

import pyarrow as pa
import pyarrow.parquet as pq

from pullstats.config import Settings
from pullstats.drop_reasons import REGISTRY_LOG_SET_ASIDE, SET_ASIDE, DropReason
from pullstats.ingest.time_window import OUT_OF_WINDOW, TimeWindow
from pullstats.lake.spool_lines import DamagedLine
from pullstats.lake_files import (
    DAMAGED_FILES,
    IMPORTED,
    REQUESTS,
    SET_ASIDE_FOLDER,
    day_folder,
    lake_days,
    publish_table,
)

DAMAGED_LINE = DropReason.DAMAGED_LINE
#: Why a record is set aside (by ``process``, or by ``ingest registry-log``:
#: :mod:`pullstats.lake.refused`); each is a folder under ``lake/set-aside`` and a metric label.
SET_ASIDE_REASONS = SET_ASIDE + REGISTRY_LOG_SET_ASIDE


def set_aside_root(settings: Settings) -> str:
    """Where the set-aside records are: a path, or an ``s3://`` location."""
    return settings.lake.location(SET_ASIDE_FOLDER)


def set_aside_requests(settings: Settings, requests: pa.Table, reason: str) -> str:
    """Write spool ``requests`` (their address already hashed) under ``reason``."""
    columns = zip(*(requests[name].to_pylist() for name in ("id", "ts", "recv")), strict=True)
    keys = sorted("\t".join(map(str, values)) for values in columns)
    return set_aside_table(settings, reason, "spool", keys, requests)


def set_aside_lines(settings: Settings, lines: list[DamagedLine]) -> str:
    """Record where the damaged spool ``lines`` are, under :data:`DAMAGED_LINE`."""
    table = pa.table(
        {
            "segment": [line.segment for line in lines],
            "offset": pa.array([line.offset for line in lines], pa.int64()),
            "length": pa.array([line.length for line in lines], pa.int64()),
            "sha256": [line.sha256 for line in lines],
        }
    )
    keys = sorted(f"{line.segment}:{line.offset}" for line in lines)
    return set_aside_table(settings, DAMAGED_LINE, "spool", keys, table)


def set_aside_table(
    settings: Settings, reason: str, kind: str, keys: list[str], table: pa.Table
) -> str:
    """Write ``table`` under ``set-aside/<reason>/<kind>/`` (``kind``: what its rows were, spool
    records or lake requests), in a file named after ``keys``, the sorted ids of its rows: a
    run retried after a crash writes the same file again. Returns its location."""
    name = hashlib.sha256("\n".join(keys).encode()).hexdigest()[:32]
    key = f"{SET_ASIDE_FOLDER}/{reason}/{kind}/part-{name}.parquet"
    stamped = table.append_column(
        "set_aside_at", pa.array([int(time.time() * 1_000_000)] * table.num_rows, pa.int64())
    )
    publish_table(settings, stamped, key, "set-aside")
    return settings.lake.location(key)


def set_aside_days(settings: Settings, window: TimeWindow) -> list[date]:
    """Move the lake's request and imported-action days outside ``window`` here, file by file
    (a move interrupted and rerun moves what is left; a file moved twice is the same file).

    Only a lake written before ingest checked times holds any; the days are returned.
    """
    lake = settings.lake
    moved: set[date] = set()
    for table in (REQUESTS, IMPORTED):
        for day in lake_days(settings, table):
            if window.holds_day(day):
                continue
            folder = day_folder(table, day)
            for key in lake.files(folder):
                name = key.rsplit("/", 1)[-1]
                lake.move(key, f"{SET_ASIDE_FOLDER}/{OUT_OF_WINDOW}/{table}/day={day}/{name}")
            moved.add(day)
    return sorted(moved)


def set_aside_counts(settings: Settings) -> Counter[str]:
    """Records set aside so far, by reason (rows of the Parquet files, from their footers)."""
    counts: Counter[str] = Counter()
    lake = settings.lake
    for key in lake.files(SET_ASIDE_FOLDER, ".parquet"):
        reason, name = key.split("/")[1], key.rsplit("/", 1)[-1]
        if not name.startswith("part-") or reason == DAMAGED_FILES:
            continue
        try:
            with lake.open(key) as handle:
                counts[reason] += pq.read_metadata(handle).num_rows
        except (OSError, pa.ArrowException):  # being replaced, or damaged: not counted
            continue
    return counts
