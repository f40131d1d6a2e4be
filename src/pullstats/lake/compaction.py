"""Stage 1, SPOOL → REQUESTS: new spool lines become day-partitioned Parquet.

Each run reads the complete lines past every segment's recorded offset, in batches of
:data:`BATCH_BYTES`, and hands each batch to :class:`~pullstats.lake.request_writer.RequestWriter`,
which drops events already in the lake (by event id), replaces the client IP with
``HMAC-SHA256(key, ip)`` and an authenticated user's name with its own keyed hash
(lake/user_hash.py), enriches, and writes one new Parquet file per touched day
(``lake/requests/day=D/part-<batch>.parquet``). The files are renamed into place before the
offsets advance, so a crash in between only means the same lines are read again, and
de-duplication drops them. The registry's request id a line may carry goes beside them
(``lake/registry-ids/``, :mod:`pullstats.lake.refused`).
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select, update

from pullstats.db.models import SpoolProgress
from pullstats.duckdb_engine import connect
from pullstats.ingest.time_window import TimeWindow
from pullstats.job_lock import check_job_lock
from pullstats.lake.refused import write_registry_ids
from pullstats.lake.request_writer import RequestWriter
from pullstats.lake.retention import prune_spool
from pullstats.lake.set_aside import DAMAGED_LINE, set_aside_lines
from pullstats.lake.spool import SegmentSlice, read_new_lines
from pullstats.lake.spool_lines import parse_spool_slices
from pullstats.runtime import Runtime

#: Spool bytes compacted per batch. Each batch writes one Parquet file per day it touches and
#: pays the writer's fixed queries, so bigger batches mean fewer, larger files (which every later
#: read of the day prefers) and less overhead. On a day of 2 M requests, 256 MiB (about 750,000
#: requests) against 64 MiB: `process` 10.8 s instead of 12.3 s, peak memory 2.26 GB instead of
#: 2.09 GB (docs/benchmarks.md).
BATCH_BYTES = 256 * 1024 * 1024


@dataclass
class CompactionResult:
    lines: int = 0
    written: int = 0
    duplicates: int = 0
    #: records (and damaged lines) set aside, by reason (lake/set_aside.py)
    set_aside: Counter[str] = field(default_factory=Counter)
    pruned: int = 0
    days: set[date] = field(default_factory=set)


def compact(
    runtime: Runtime, on_batch: Callable[[CompactionResult], None] | None = None
) -> CompactionResult:
    """Compact everything in the spool that is not in the lake yet."""
    paths = runtime.paths
    result = CompactionResult()
    node = runtime.settings.node
    progress = _progress(runtime, node)
    window = TimeWindow.now(runtime.settings.max_clock_skew)
    with contextlib.closing(connect(runtime.settings)) as connection:
        writer = RequestWriter(runtime, connection)
        while True:
            slices = read_new_lines(paths.spool, progress, max_bytes=BATCH_BYTES)
            if not slices:
                break
            table, damaged = parse_spool_slices(slices)
            if damaged:
                set_aside_lines(runtime.settings, damaged)
                result.set_aside[DAMAGED_LINE] += len(damaged)
            result.lines += table.num_rows + len(damaged)
            # which registry request each one was: kept beside the requests (lake/refused.py)
            write_registry_ids(runtime.settings, table.select(["id", "ts", "rid"]), window)
            table = table.drop_columns(["rid"])
            before = writer.set_aside.copy()
            written = writer.write_table(table)
            set_aside = writer.set_aside - before
            result.written += written.requests
            result.set_aside += set_aside
            result.duplicates += table.num_rows - written.requests - set_aside.total()
            result.days |= written.days
            _advance(runtime, slices, progress)  # the writer recorded the pending days
            if on_batch:
                on_batch(result)
    result.pruned = prune_spool(runtime, progress)
    return result


def _progress(runtime: Runtime, node: str) -> dict[str, int]:
    """How far this node has read each of its segments (bytes).

    Each node's spool is its own, so progress is keyed by (node, segment). A row from before
    nodes had names (node ``""``, migration 0007) is claimed by the node whose spool holds its
    segment.
    """
    segments = {path.stem for path in runtime.paths.spool.iterdir()}
    with runtime.sessions.begin() as session:
        legacy = session.scalars(select(SpoolProgress.segment).where(SpoolProgress.node == ""))
        mine = sorted(segments.intersection(legacy))
        for start in range(0, len(mine), 500):
            session.execute(
                update(SpoolProgress)
                .where(
                    SpoolProgress.node == "", SpoolProgress.segment.in_(mine[start : start + 500])
                )
                .values(node=node)
            )
        rows = session.scalars(select(SpoolProgress).where(SpoolProgress.node == node))
        return {row.segment: row.offset for row in rows}


def _advance(runtime: Runtime, slices: list[SegmentSlice], progress: dict[str, int]) -> None:
    node = runtime.settings.node
    check_job_lock()
    with runtime.sessions.begin() as session:
        for piece in slices:
            row = session.get(SpoolProgress, (node, piece.name))
            if row is None:
                session.add(
                    SpoolProgress(
                        node=node, segment=piece.name, offset=piece.end, closed=piece.closed
                    )
                )
            else:
                row.offset = piece.end
                row.closed = piece.closed
            progress[piece.name] = piece.end
