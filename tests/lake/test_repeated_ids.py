"""One event id, one request: copies of an event timed on other days, on real files.

A registry (or a relay) that stamps each delivery with its own time sends copies of one event
whose times fall on different days. The lake keeps the first copy to reach it, whichever day
the later ones name (docs/data-definitions.md, "Requests"): here through the whole of
``process``, DuckDB on local files, counted in the week and month rollups.

Hand-worked: one GET by tag from one address is one ``pull_by_tag`` on its day; Sunday
2026-11-15 is the last day of 2026-W46 (from Monday 11-09), Monday 11-16 the first of
2026-W47; both are in 2026-11.
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import select

from pullstats.db.models import PullRollup
from pullstats.duckdb_engine import connect
from pullstats.ingest.records import SPOOL_SCHEMA, PullRequestRecord
from pullstats.lake.request_writer import RequestWriter
from pullstats.pipeline import process
from pullstats.runtime import Runtime
from pullstats.timestamps import micros, now_micros
from tests.conftest import write_spool

SUNDAY = date(2026, 11, 15)
MONDAY = date(2026, 11, 16)
W46 = ("week", date(2026, 11, 9))
W47 = ("week", MONDAY)
NOVEMBER = ("month", date(2026, 11, 1))


def copy(day: date, *, arrived: int | None = None) -> PullRequestRecord:
    """A copy of event ``d1``: a GET of acme/f3:1.0 at 10:00 on ``day``."""
    at = datetime(day.year, day.month, day.day, 10, tzinfo=UTC)
    return PullRequestRecord(
        "d1", micros(at), "GET", "acme/f3", "1.0", "sha256:f3", "203.0.113.4", "docker/27",
        "notification", now_micros() if arrived is None else arrived,
    )  # fmt: skip


def pulls(runtime: Runtime, period: tuple[str, date]) -> int:
    """acme/f3's pulls by tag in ``period``'s rollup (0: no row)."""
    kind, start = period
    with runtime.sessions() as session:
        row = session.scalars(
            select(PullRollup).where(
                PullRollup.period_kind == kind,
                PullRollup.period_start == start,
                PullRollup.level == "repository",
                PullRollup.namespace == "acme",
                PullRollup.repository == "f3",
            )
        ).one_or_none()
    return 0 if row is None else row.pull_by_tag


def actions_on(runtime: Runtime, day: date) -> list[str]:
    path = runtime.paths.actions_day(day) / "actions.parquet"
    return pq.read_table(path).column("action").to_pylist() if path.exists() else []


def counts(runtime: Runtime) -> tuple[int, int, int]:
    return pulls(runtime, W46), pulls(runtime, W47), pulls(runtime, NOVEMBER)


def test_a_copy_timed_on_the_next_day_in_a_later_run_is_a_duplicate(runtime: Runtime) -> None:
    write_spool(runtime, copy(SUNDAY))
    first = process(runtime)
    assert (first.compaction.written, first.compaction.duplicates) == (1, 0)
    assert counts(runtime) == (1, 0, 1)
    write_spool(runtime, copy(MONDAY))
    second = process(runtime)
    # dropped before it reaches the lake: nothing written, no day to classify again
    assert (second.compaction.written, second.compaction.duplicates) == (0, 1)
    assert second.days == []
    assert actions_on(runtime, SUNDAY) == ["pull_by_tag"]
    assert actions_on(runtime, MONDAY) == []
    assert counts(runtime) == (1, 0, 1)  # the bug: (1, 1, 2)


def test_a_later_copy_timed_on_the_day_before_leaves_the_first_where_it_is(
    runtime: Runtime,
) -> None:
    write_spool(runtime, copy(MONDAY))
    process(runtime)
    assert counts(runtime) == (0, 1, 1)
    write_spool(runtime, copy(SUNDAY))
    second = process(runtime)
    # the first copy wins though the later one is timed earlier: the pull stays in W47, and
    # W46 (which may be exported by now) is not touched
    assert (second.compaction.written, second.compaction.duplicates) == (0, 1)
    assert second.days == []
    assert actions_on(runtime, SUNDAY) == []
    assert actions_on(runtime, MONDAY) == ["pull_by_tag"]
    assert counts(runtime) == (0, 1, 1)  # the bug: (1, 1, 2)


@pytest.mark.parametrize(("first", "second"), [(MONDAY, SUNDAY), (SUNDAY, MONDAY)])
def test_copies_on_two_days_in_one_batch_keep_the_first_to_arrive(
    runtime: Runtime, first: date, second: date
) -> None:
    now = now_micros()
    # the later arrival is written first into the spool: arrival time decides, not line order
    write_spool(runtime, copy(second, arrived=now), copy(first, arrived=now - 1_000_000))
    result = process(runtime)
    assert (result.compaction.written, result.compaction.duplicates) == (1, 1)
    assert actions_on(runtime, first) == ["pull_by_tag"]
    assert actions_on(runtime, second) == []
    assert pulls(runtime, NOVEMBER) == 1


def test_a_copy_in_a_later_batch_of_one_run_is_a_duplicate(runtime: Runtime) -> None:
    # one writer, as compaction and `ingest logs` use for every batch of a run: the file its
    # first batch wrote is read for the second, though the second is on another day
    def batch(*records: PullRequestRecord) -> pa.Table:
        return pa.Table.from_pylist([asdict(r) for r in records], schema=SPOOL_SCHEMA)

    with contextlib.closing(connect(runtime.settings)) as connection:
        writer = RequestWriter(runtime, connection)
        assert writer.write_table(batch(copy(MONDAY))).days == {MONDAY}
        assert writer.write_table(batch(copy(SUNDAY))) == (0, set(), set())
        assert writer.write_table(batch(copy(MONDAY + timedelta(days=1)))).requests == 0


def test_copies_further_apart_than_the_next_day_are_two_requests(runtime: Runtime) -> None:
    """The documented bound: a copy is looked for on its own day and the days either side."""
    write_spool(runtime, copy(SUNDAY))
    process(runtime)
    write_spool(runtime, copy(SUNDAY + timedelta(days=2)))
    later = process(runtime)
    assert (later.compaction.written, later.compaction.duplicates) == (1, 0)
    assert pulls(runtime, NOVEMBER) == 2
