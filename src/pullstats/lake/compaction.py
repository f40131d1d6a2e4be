"""Stage 1, SPOOL → REQUESTS: new spool lines become day-partitioned Parquet.

Each run reads the complete lines past every segment's recorded offset, drops events already in
the lake (by event id), replaces the client IP with ``HMAC-SHA256(key, ip)``, enriches, and
writes one new Parquet file per touched day (``lake/requests/day=D/part-<batch>.parquet``). The
files are renamed into place before the offsets advance, so a crash in between only means the
same lines are read again, and de-duplication drops them.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson
from sqlalchemy import delete, select

from pullstats.classify.enrich import enrich
from pullstats.db.models import SpoolProgress
from pullstats.db.state import add_pending_days
from pullstats.ingest.records import SPOOL_SCHEMA
from pullstats.lake.atomic import fsync_dir
from pullstats.lake.engine import connect, sql_list
from pullstats.lake.spool import CLOSED_SUFFIX, SegmentSlice, read_new_lines
from pullstats.runtime import Runtime

IP_HASH_KEY = "ip-hash.key"
IP_HASH_BYTES = 16  # 128 bits: exact distinct counts without a realistic chance of collision


@dataclass
class CompactionResult:
    lines: int = 0
    written: int = 0
    duplicates: int = 0
    corrupt: int = 0
    pruned: int = 0
    days: set[date] = field(default_factory=set)


def hash_ips(ips: pa.Array, key: bytes) -> pa.Array:
    """Keyed hashes of client addresses, computed once per distinct address in the batch."""
    distinct = pc.unique(ips)
    digests = [
        hmac.new(key, ip.encode(), hashlib.sha256).digest()[:IP_HASH_BYTES]
        for ip in distinct.to_pylist()
    ]
    return pa.array(digests, pa.binary(IP_HASH_BYTES)).take(pc.index_in(ips, value_set=distinct))


def parse_spool_lines(data: bytes) -> tuple[pa.Table, int]:
    """Spool lines → a table; a damaged line is skipped and counted, never fatal."""
    options = pajson.ParseOptions(explicit_schema=SPOOL_SCHEMA, unexpected_field_behavior="ignore")
    try:
        return pajson.read_json(io.BytesIO(data), parse_options=options), 0
    except pa.ArrowInvalid:
        pass
    rows, corrupt = [], 0
    for line in data.splitlines():
        try:
            record = json.loads(line)
            rows.append({name: record[name] for name in SPOOL_SCHEMA.names})
        except (ValueError, KeyError, TypeError):
            corrupt += 1
    return pa.Table.from_pylist(rows, schema=SPOOL_SCHEMA), corrupt


def compact(
    runtime: Runtime, on_batch: Callable[[CompactionResult], None] | None = None
) -> CompactionResult:
    """Compact everything in the spool that is not in the lake yet."""
    paths = runtime.paths
    key = paths.secret_key(IP_HASH_KEY)
    result = CompactionResult()
    with runtime.sessions() as session:
        progress = {row.segment: row.offset for row in session.scalars(select(SpoolProgress))}
    while True:
        slices = read_new_lines(paths.spool, progress, max_bytes=64 * 1024 * 1024)
        if not slices:
            break
        table, corrupt = parse_spool_lines(b"".join(s.data for s in slices))
        result.lines += table.num_rows + corrupt
        result.corrupt += corrupt
        written, days = write_requests(runtime, table, key)
        result.written += written
        result.duplicates += table.num_rows - written
        result.days |= days
        _advance(runtime, slices, progress, days)
        if on_batch:
            on_batch(result)
    result.pruned = prune_spool(runtime, progress)
    return result


def prune_spool(runtime: Runtime, progress: dict[str, int]) -> int:
    """Delete closed segments that are fully compacted and older than the spool retention.

    Segments are the only place raw client IPs are written, so this is what keeps them short-lived.
    """
    settings = runtime.settings
    keep_for = max(settings.retention_spool, settings.close_grace).total_seconds()
    cutoff = time.time() - keep_for
    pruned = []
    for segment in runtime.paths.spool.glob(f"*{CLOSED_SUFFIX}"):
        stat = segment.stat()
        if stat.st_mtime < cutoff and progress.get(segment.stem, -1) >= stat.st_size:
            segment.unlink()
            pruned.append(segment.stem)
    if pruned:
        with runtime.sessions.begin() as session:
            session.execute(delete(SpoolProgress).where(SpoolProgress.segment.in_(pruned)))
        for name in pruned:
            progress.pop(name, None)
    return len(pruned)


def ingest_requests(runtime: Runtime, batch: pa.Table) -> tuple[int, set[date]]:
    """Bulk sources (access logs, …) → the lake directly, skipping the spool's JSON round trip.

    ``batch`` has :data:`SPOOL_SCHEMA`. The caller holds the job lock. Events already in the
    lake are dropped; the touched days are recorded as pending for ``process``. Returns the
    number of requests written and the days they fall on.
    """
    written, days = write_requests(runtime, batch, runtime.paths.secret_key(IP_HASH_KEY))
    with runtime.sessions.begin() as session:
        add_pending_days(session, days)
    return written, days


def write_requests(runtime: Runtime, batch: pa.Table, key: bytes) -> tuple[int, set[date]]:
    """Hash, enrich, de-duplicate and write one batch of requests as day-partitioned Parquet."""
    if batch.num_rows == 0:
        return 0, set()
    paths = runtime.paths
    columns = {
        name: batch[name] for name in ("id", "ts", "recv", "method", "name", "tag", "digest")
    }
    columns["ip_hash"] = hash_ips(batch["ip"].combine_chunks(), key)
    columns["user_agent"] = batch["ua"]
    columns["source"] = batch["src"]
    columns.update(
        enrich(batch["ip"].combine_chunks(), batch["ua"].combine_chunks(), runtime.settings)
    )
    incoming = pa.table(columns)

    connection = connect(runtime.settings)
    try:
        connection.register("incoming", incoming)
        connection.execute(
            """
            CREATE TEMP TABLE batch AS
            SELECT * EXCLUDE (rn) FROM (
                SELECT
                    id,
                    make_timestamp(ts) AS ts,
                    make_timestamp(recv) AS received,
                    method,
                    CASE WHEN strpos(name, '/') = 0 THEN 'library'
                         ELSE split_part(name, '/', 1) END AS namespace,
                    CASE WHEN strpos(name, '/') = 0 THEN name
                         ELSE substr(name, strpos(name, '/') + 1) END AS repository,
                    tag, digest, ip_hash, user_agent, source,
                    country, host, type, domain, user_agent_tool, user_agent_version,
                    CAST(make_timestamp(ts) AS DATE) AS day,
                    row_number() OVER (PARTITION BY id ORDER BY recv) AS rn
                FROM incoming
            ) WHERE rn = 1
            """
        )
        days = [row[0] for row in connection.execute("SELECT DISTINCT day FROM batch").fetchall()]
        existing = [
            p for day in days for p in sorted(paths.requests_day(day).glob("part-*.parquet"))
        ]
        if existing:
            connection.execute(
                f"""
                DELETE FROM batch WHERE id IN (
                    SELECT id FROM read_parquet({sql_list(existing)}, hive_partitioning = false)
                )
                """
            )
        written = connection.execute("SELECT count(*) FROM batch").fetchone()
        count = int(written[0]) if written else 0
        if count == 0:
            return 0, set()
        batch_id = uuid.uuid4().hex
        staging = paths.tmp / f"compact-{batch_id}"
        connection.execute(
            f"""
            COPY (SELECT * FROM batch ORDER BY day, ts, id)
            TO '{staging}' (FORMAT parquet, PARTITION_BY (day), COMPRESSION zstd)
            """
        )
    finally:
        connection.close()
    touched: set[date] = set()
    for folder in sorted(staging.iterdir()):
        day = date.fromisoformat(folder.name.removeprefix("day="))
        target = paths.requests_day(day)
        target.mkdir(parents=True, exist_ok=True)
        for index, file in enumerate(sorted(folder.glob("*.parquet"))):
            with open(file, "rb") as handle:
                os.fsync(handle.fileno())
            os.replace(file, target / f"part-{batch_id}-{index}.parquet")
        fsync_dir(target)
        touched.add(day)
    shutil.rmtree(staging, ignore_errors=True)
    return count, touched


def _advance(
    runtime: Runtime, slices: list[SegmentSlice], progress: dict[str, int], days: set[date]
) -> None:
    with runtime.sessions.begin() as session:
        add_pending_days(session, days)
        for piece in slices:
            row = session.get(SpoolProgress, piece.name)
            if row is None:
                session.add(
                    SpoolProgress(segment=piece.name, offset=piece.end, closed=piece.closed)
                )
            else:
                row.offset = piece.end
                row.closed = piece.closed
            progress[piece.name] = piece.end
