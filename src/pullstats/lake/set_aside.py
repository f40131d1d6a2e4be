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
import os
import shutil
import time
from collections import Counter
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pullstats.atomic_files import atomic_path, fsync_dir
from pullstats.data_dir import DataDir
from pullstats.drop_reasons import SET_ASIDE, DropReason
from pullstats.ingest.time_window import OUT_OF_WINDOW, TimeWindow
from pullstats.lake.spool_lines import DamagedLine

DAMAGED_LINE = DropReason.DAMAGED_LINE
#: Why a record is set aside; each is a folder under ``lake/set-aside`` and a metric label.
SET_ASIDE_REASONS = SET_ASIDE


def set_aside_root(paths: DataDir) -> Path:
    return paths.root / "lake" / "set-aside"


def set_aside_requests(paths: DataDir, requests: pa.Table, reason: str) -> Path:
    """Write spool ``requests`` (their address already hashed) under ``reason``."""
    columns = zip(*(requests[name].to_pylist() for name in ("id", "ts", "recv")), strict=True)
    keys = sorted("\t".join(map(str, values)) for values in columns)
    return _write(paths, reason, keys, requests)


def set_aside_lines(paths: DataDir, lines: list[DamagedLine]) -> Path:
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
    return _write(paths, DAMAGED_LINE, keys, table)


def _write(paths: DataDir, reason: str, keys: list[str], table: pa.Table) -> Path:
    # named after what it holds: a run retried after a crash writes the same file again
    name = hashlib.sha256("\n".join(keys).encode()).hexdigest()[:32]
    target = set_aside_root(paths) / reason / "spool" / f"part-{name}.parquet"
    stamped = table.append_column(
        "set_aside_at", pa.array([int(time.time() * 1_000_000)] * table.num_rows, pa.int64())
    )
    with atomic_path(target) as tmp:
        pq.write_table(stamped, tmp, compression="zstd")
    return target


def set_aside_days(paths: DataDir, window: TimeWindow) -> list[date]:
    """Move the lake's request and imported-action folders of days outside ``window`` here.

    Only a lake written before ingest checked times holds any; the days are returned.
    """
    moved: set[date] = set()
    for kind, folder in (("requests", paths.requests), ("imported", paths.imported)):
        if not folder.is_dir():
            continue
        for day_folder in folder.glob("day=*"):
            day = _day_of(day_folder)
            if day is None or window.holds_day(day):
                continue
            target = set_aside_root(paths) / OUT_OF_WINDOW / kind / day_folder.name
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():  # set aside before: what came since joins it
                for part in day_folder.iterdir():
                    os.replace(part, target / part.name)
                shutil.rmtree(day_folder)
            else:
                os.replace(day_folder, target)
            fsync_dir(target.parent)
            moved.add(day)
    return sorted(moved)


def set_aside_counts(paths: DataDir) -> Counter[str]:
    """Records set aside so far, by reason (rows of the Parquet files, from their footers)."""
    counts: Counter[str] = Counter()
    root = set_aside_root(paths)
    if not root.is_dir():
        return counts
    for reason_folder in root.iterdir():
        for part in reason_folder.rglob("part-*.parquet"):
            try:
                counts[reason_folder.name] += pq.read_metadata(part).num_rows
            except (OSError, pa.ArrowException):  # being replaced, or damaged: not counted
                continue
    return counts


def _day_of(folder: Path) -> date | None:
    try:
        return date.fromisoformat(folder.name.removeprefix("day="))
    except ValueError:
        return None
