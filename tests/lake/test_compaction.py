"""Stages 1–3 on real files: compaction, de-duplication, IP hashing, retention, midnight."""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pullstats.duckdb_engine import connect
from pullstats.ingest.records import SPOOL_SCHEMA, PullRequestRecord
from pullstats.lake.request_writer import RequestWriter
from pullstats.lake.retention import prune_spool
from pullstats.pipeline import process
from pullstats.runtime import Runtime
from pullstats.timestamps import micros, now_micros
from tests.conftest import catalog_settings, write_spool
from tests.duckdb_cursor import duckdb_cursor

DAY = date(2026, 3, 1)  # a Sunday


def record(
    event_id: str,
    instant: datetime,
    method: str,
    name: str = "acme/app",
    *,
    tag: str = "",
    digest: str = "sha256:aa",
    ip: str = "192.0.2.10",
) -> PullRequestRecord:
    return PullRequestRecord(
        event_id,
        micros(instant),
        method,
        name,
        tag,
        digest,
        ip,
        "docker/27.3.1 go/go1.22.7",
        "notification",
        now_micros(),
    )


spool = write_spool


def query(sql: str) -> list[tuple[object, ...]]:
    with duckdb_cursor() as connection:
        return connection.execute(sql).fetchall()


def requests_glob(runtime: Runtime) -> str:
    return f"'{runtime.paths.requests}/day=*/*.parquet'"


def actions_of(runtime: Runtime, day: date) -> list[tuple[object, ...]]:
    path = runtime.paths.actions_day(day) / "actions.parquet"
    if not path.exists():
        return []
    return query(f"SELECT action, reference, digest, http_method FROM '{path}' ORDER BY timestamp")


def test_duplicates_are_dropped_within_and_across_batches(runtime: Runtime) -> None:
    noon = datetime(2026, 3, 4, 12, tzinfo=UTC)
    first = [record(f"e{i}", noon + timedelta(minutes=i), "GET", tag="1.0") for i in range(5)]
    spool(runtime, *first, *first)  # a registry retry inside one batch
    result = process(runtime)
    assert (result.compaction.written, result.compaction.duplicates) == (5, 5)
    spool(runtime, *first[:3], record("e9", noon, "GET", tag="2.0"))  # retried later
    again = process(runtime)
    assert (again.compaction.written, again.compaction.duplicates) == (1, 3)
    assert query(f"SELECT count(*), count(DISTINCT id) FROM {requests_glob(runtime)}") == [(6, 6)]
    # nothing new: nothing written, nothing reclassified
    idle = process(runtime)
    assert idle.compaction.lines == 0 and idle.days == []


def test_raw_addresses_never_reach_the_lake(runtime: Runtime) -> None:
    noon = datetime(2026, 3, 4, 12, tzinfo=UTC)
    spool(
        runtime,
        record("a", noon, "GET", tag="1.0", ip="198.51.100.77"),
        record("b", noon, "GET", tag="1.0", ip="2001:db8::77"),
    )
    process(runtime)
    for file in runtime.paths.requests.glob("day=*/*.parquet"):
        schema = pq.read_schema(file)
        assert "ip" not in schema.names
        assert b"198.51.100.77" not in file.read_bytes()
    hashes = query(f"SELECT DISTINCT octet_length(ip_hash) FROM {requests_glob(runtime)}")
    assert hashes == [(16,)]
    assert query(f"SELECT count(DISTINCT ip_hash) FROM {requests_glob(runtime)}") == [(2,)]
    # the key lives in the data dir and is stable: a second run hashes the same way
    key = (runtime.paths.keys / "ip-hash.key").read_bytes()
    assert len(key) == 32 and runtime.paths.secret_key("ip-hash.key") == key


def test_an_action_straddling_midnight_belongs_to_its_first_day(runtime: Runtime) -> None:
    sunday_night = datetime.combine(DAY, datetime.min.time(), UTC) + timedelta(
        hours=23, minutes=59, seconds=59
    )
    spool(runtime, record("h", sunday_night, "HEAD", tag="1.0", digest="sha256:idx"))
    process(runtime)
    assert actions_of(runtime, DAY) == [("version_check", "1.0", "sha256:idx", "HEAD")]
    # the GET arrives in a later batch, two seconds later, on Monday
    spool(runtime, record("g", sunday_night + timedelta(seconds=2), "GET", digest="sha256:idx"))
    process(runtime)
    assert actions_of(runtime, DAY) == [("pull_by_tag", "1.0", "sha256:idx", "GET")]
    assert actions_of(runtime, DAY + timedelta(days=1)) == []


def test_a_request_late_on_a_day_can_take_in_the_next_days_first_request(
    runtime: Runtime,
) -> None:
    monday = datetime.combine(DAY + timedelta(days=1), datetime.min.time(), UTC)
    spool(runtime, record("g", monday + timedelta(seconds=2), "GET", digest="sha256:idx"))
    process(runtime)
    assert actions_of(runtime, DAY + timedelta(days=1)) == [
        ("pull_by_digest", "sha256:idx", "sha256:idx", "GET")
    ]
    # the HEAD it answered arrives later, on Sunday: Monday's action is gone, not counted twice
    spool(
        runtime, record("h", monday - timedelta(seconds=1), "HEAD", tag="1.0", digest="sha256:idx")
    )
    assert DAY + timedelta(days=1) in process(runtime).days
    assert actions_of(runtime, DAY) == [("pull_by_tag", "1.0", "sha256:idx", "GET")]
    assert actions_of(runtime, DAY + timedelta(days=1)) == []


def test_new_requests_past_an_actions_reach_leave_the_day_before_alone(runtime: Runtime) -> None:
    monday = datetime.combine(DAY + timedelta(days=1), datetime.min.time(), UTC)
    spool(runtime, record("h", monday - timedelta(seconds=1), "HEAD", tag="1.0"))
    process(runtime)
    sunday = runtime.paths.actions_day(DAY) / "actions.parquet"
    written = sunday.stat().st_mtime_ns
    # 10.001 s after midnight: no action that opened on Sunday can reach it
    spool(runtime, record("g", monday + timedelta(seconds=10, milliseconds=1), "GET", tag="1.0"))
    result = process(runtime)
    assert result.days == [DAY + timedelta(days=1), DAY + timedelta(days=2)]
    assert sunday.stat().st_mtime_ns == written
    assert actions_of(runtime, DAY) == [("version_check", "1.0", "sha256:aa", "HEAD")]
    assert actions_of(runtime, DAY + timedelta(days=1)) == [
        ("pull_by_tag", "1.0", "sha256:aa", "GET")
    ]


@pytest.mark.slow
def test_a_day_classified_alone_reads_a_chain_of_requests_back_as_far_as_it_goes(
    runtime: Runtime,
) -> None:
    # a client alternating two digests every 4 s from Sunday 23:49:58 to Monday 00:00:34: the
    # rules pair them from the first, so where the chain starts decides every pair after it.
    # Classifying Monday alone reads only Sunday's last 10 minutes for most clients, and this
    # one's whole Sunday: its chain runs into the start of those 10 minutes
    monday = DAY + timedelta(days=1)
    midnight = datetime.combine(monday, datetime.min.time(), UTC)
    chain = [
        record(f"c{k}", midnight + timedelta(seconds=4 * k - 602), "GET",
               digest="sha256:aa" if k % 2 == 0 else "sha256:bb")
        for k in range(160)
    ]  # fmt: skip
    # and another client's pull across midnight: Sunday alone must read Monday's first seconds
    head = record("h", midnight - timedelta(seconds=1), "HEAD", tag="1.0", ip="192.0.2.99")
    get = record("g", midnight + timedelta(seconds=3), "GET", tag="1.0", ip="192.0.2.99")
    spool(runtime, *chain, head, get)
    process(runtime)  # Sunday to Tuesday in one range: every request read
    pair = ("pull_by_digest", "sha256:aa", "sha256:aa", "GET")
    assert actions_of(runtime, monday) == [pair] * 4  # (152, 153) … (158, 159)
    sunday = actions_of(runtime, DAY)
    assert len(sunday) == 77  # … (150 at 23:59:58, 151 at 00:00:02), and the pull by tag
    assert sunday[-2:] == [pair, ("pull_by_tag", "1.0", "sha256:aa", "GET")]
    for day in (monday, DAY):  # each alone: Sunday reads Monday's first 10 s, Monday Sunday
        assert process(runtime, rebuild_from=day, rebuild_to=day).days == [day]
    assert actions_of(runtime, monday) == [pair] * 4
    assert actions_of(runtime, DAY) == sunday


def test_rebuild_reclassifies_a_range_and_changes_nothing(runtime: Runtime) -> None:
    noon = datetime(2026, 3, 4, 12, tzinfo=UTC)
    spool(
        runtime,
        record("x", noon, "HEAD", tag="1.0"),
        record("y", noon + timedelta(seconds=1), "GET", tag="1.0"),
    )
    process(runtime)
    file = runtime.paths.actions_day(noon.date()) / "actions.parquet"
    before = pq.read_table(file)
    rebuilt = process(runtime, rebuild_from=noon.date(), rebuild_to=noon.date())
    assert rebuilt.days == [noon.date()]
    assert pq.read_table(file).equals(before)


def test_compacted_segments_are_deleted_after_retention(data_dir: Path) -> None:
    settings = catalog_settings(data_dir, retention_spool=timedelta(0), close_grace=timedelta(0))
    runtime = Runtime.open(settings)
    try:
        spool(runtime, record("r", datetime(2026, 3, 4, tzinfo=UTC), "GET", tag="1.0"))
        segments = list(runtime.paths.spool.glob("*.seg"))
        assert len(segments) == 1
        past = time.time() - 10
        os.utime(segments[0], (past, past))
        result = process(runtime)
        assert result.compaction.written == 1 and result.compaction.pruned == 1
        assert list(runtime.paths.spool.iterdir()) == []
        assert query(f"SELECT count(*) FROM {requests_glob(runtime)}") == [(1,)]
    finally:
        runtime.close()


def test_segments_ending_in_a_torn_line_or_empty_are_deleted_after_retention(
    data_dir: Path,
) -> None:
    # a segment closed after a failed write (by an older version) ends in half a line, never
    # acknowledged: compaction reads to its last newline, and the segment was never deleted;
    # nor was an empty one (a failed write into a new segment)
    settings = catalog_settings(data_dir, retention_spool=timedelta(0), close_grace=timedelta(0))
    runtime = Runtime.open(settings)
    try:
        spool(runtime, record("r", datetime(2026, 3, 4, tzinfo=UTC), "GET", tag="1.0"))
        torn = next(runtime.paths.spool.glob("*.seg"))
        with open(torn, "ab") as handle:
            handle.write(b'{"id":"half","ip":"198.51.100.7","ua')
        empty = runtime.paths.spool / f"{torn.stem}-empty.seg"
        empty.touch()
        past = time.time() - 10
        for segment in (torn, empty):
            os.utime(segment, (past, past))
        result = process(runtime)
        assert (result.compaction.written, result.compaction.pruned) == (1, 2)
        assert list(runtime.paths.spool.iterdir()) == []
    finally:
        runtime.close()


def test_an_unread_segment_is_never_deleted(data_dir: Path) -> None:
    settings = catalog_settings(data_dir, retention_spool=timedelta(0), close_grace=timedelta(0))
    runtime = Runtime.open(settings)
    try:
        spool(runtime, record("r", datetime(2026, 3, 4, tzinfo=UTC), "GET", tag="1.0"))
        segment = next(runtime.paths.spool.glob("*.seg"))
        past = time.time() - 10
        os.utime(segment, (past, past))
        assert prune_spool(runtime, {}) == 0
        assert segment.exists()
    finally:
        runtime.close()


def test_days_compacted_by_a_failed_run_are_processed_by_the_next(runtime: Runtime) -> None:
    noon = datetime(2026, 3, 4, 12, tzinfo=UTC)
    spool(runtime, record("p", noon, "GET", tag="1.0"))
    blocker = runtime.paths.actions_day(noon.date())
    blocker.write_text("a file where the day's folder should be: classification fails")
    with pytest.raises(OSError):
        process(runtime)
    blocker.unlink()
    # the spool offsets advanced in the failed run; the pending days must not be forgotten
    retry = process(runtime)
    assert retry.compaction.lines == 0
    assert noon.date() in retry.days
    assert actions_of(runtime, noon.date()) == [("pull_by_tag", "1.0", "sha256:aa", "GET")]
    assert process(runtime).days == []


def test_writer_drops_what_the_lake_and_its_own_earlier_batches_hold(runtime: Runtime) -> None:
    noon = datetime(2026, 3, 4, 12, tzinfo=UTC)
    records = [
        record(f"w{i}", noon + timedelta(hours=7 * i), "GET", tag="1.0", ip=f"192.0.2.{i}")
        for i in range(8)
    ]
    spool(runtime, *records[:2])
    process(runtime)  # the lake already holds w0 and w1

    def table(rows: list[PullRequestRecord]) -> pa.Table:
        return pa.Table.from_pylist([asdict(row) for row in rows], schema=SPOOL_SCHEMA)

    with contextlib.closing(connect(runtime.settings)) as connection:
        writer = RequestWriter(runtime, connection)
        # w0 and w1 (March 4) are dropped: nothing is written for their day, not even an empty
        # file, and their day is not to be reclassified
        written = writer.write_table(table(records[:5]))
        assert (written.requests, written.days) == (3, {date(2026, 3, 5)})
        assert written.reclassify == {date(2026, 3, 5), date(2026, 3, 6)}
        # a later batch of the same run: its repeats are dropped too, and within itself
        written = writer.write_table(table([*records[3:], records[7]]))
        assert (written.requests, written.days) == (3, {date(2026, 3, 5), date(2026, 3, 6)})
        assert writer.write_table(table(records)) == (0, set(), set())
    rows = query(
        "SELECT id, country, host, user_agent_tool, octet_length(ip_hash)"
        f" FROM {requests_glob(runtime)} ORDER BY id"
    )
    assert [row[0] for row in rows] == [f"w{i}" for i in range(8)]
    assert {row[1:] for row in rows} == {("", "", "docker", 16)}  # 192.0.2.0/24: documentation
    # one file per day and write
    files = sorted(runtime.paths.requests.glob("day=*/part-*.parquet"))
    assert len(files) == 1 + 1 + 2
