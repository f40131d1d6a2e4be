"""Records ``process`` cannot classify, kept out of the lake's days but never dropped silently.

A request timed outside the accepted window (:mod:`pullstats.ingest.time_window`) has no
place among the days: its day may have no day before or after it, and no period to roll up
into. Every ingest path rejects such times now, but a spool or lake written before it did may
still hold some. ``process`` sets them aside here instead of failing on them, and counts them
(``pullstats status``, the ``pullstats_set_aside_records`` metric):

- spool records, with their address hashed as in the lake (``spool/part-<hash>.parquet``, the
  name a hash of their ids, so a run retried after a crash writes the same file again);
- whole lake folders of such days (``requests/day=D``, ``imported/day=D``), moved as they are.

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

from pullstats.ingest.time_window import OUT_OF_WINDOW, TimeWindow
from pullstats.lake.atomic import atomic_path, fsync_dir
from pullstats.lake.layout import DataDir

#: Why a record is set aside; each is a folder under ``lake/set-aside`` and a metric label.
SET_ASIDE_REASONS = (OUT_OF_WINDOW,)


def set_aside_root(paths: DataDir) -> Path:
    return paths.root / "lake" / "set-aside"


def set_aside_requests(paths: DataDir, requests: pa.Table, reason: str) -> Path:
    """Write spool ``requests`` (their address already hashed) under ``reason``."""
    ids = sorted(str(value) for value in requests["id"].to_pylist())
    name = hashlib.sha256("\n".join(ids).encode()).hexdigest()[:32]
    target = set_aside_root(paths) / reason / "spool" / f"part-{name}.parquet"
    stamped = requests.append_column(
        "set_aside_at", pa.array([int(time.time() * 1_000_000)] * requests.num_rows, pa.int64())
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
