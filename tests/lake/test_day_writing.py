"""lake.day_writing: a batch's days copied out of a shared table, two at a time."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from pullstats.lake.day_writing import GROUP_DAYS, day_span, write_days

FIRST = date(2026, 10, 1)


def _batch(db: duckdb.DuckDBPyConnection, days: list[date]) -> dict[date, set[str]]:
    """A temporary table (as the writer's batch is): on the n-th day its first and last
    microsecond and n hours; the ids of each day's rows."""
    db.execute("CREATE TEMP TABLE batch (id VARCHAR, ts BIGINT)")
    ids = {}
    for number, day in enumerate(days):
        span = day_span(day, day)
        stamps = [span["day_start"], span["day_end"] - 1]
        stamps += [span["day_start"] + 3_600_000_000 * hour for hour in range(1, number + 1)]
        rows = [(f"{day}-{index}", stamp) for index, stamp in enumerate(stamps)]
        db.executemany("INSERT INTO batch VALUES (?, ?)", rows)
        ids[day] = {id_ for id_, _ in rows}
    return ids


def _rows(first: date, last: date) -> str:
    span = day_span(first, last)
    return (
        "SELECT id, make_timestamp(ts) AS ts FROM batch"
        f" WHERE ts >= {span['day_start']} AND ts < {span['day_end']}"
    )


@pytest.mark.parametrize("count", [1, GROUP_DAYS + 1, GROUP_DAYS * 2 + 3])
def test_every_day_gets_exactly_its_rows(tmp_path: Path, count: int) -> None:
    """One day (copied straight from the batch), a group and a day, and groups over a gap
    (each covers its first to its last day)."""
    db = duckdb.connect(":memory:")
    days = [FIRST + timedelta(days=n) for n in range(count) if n != 5]
    ids = _batch(db, days)
    written = write_days(db, _rows, days, tmp_path)
    assert sorted(written) == days
    for day in days:
        table = pq.read_table(written[day])
        assert written[day] == tmp_path / f"{day.isoformat()}.parquet"
        assert sorted(table["id"].to_pylist()) == sorted(ids[day])
        assert len(ids[day]) == 2 + days.index(day)
        assert {stamp.date() for stamp in table["ts"].to_pylist()} == {day}
    # the shared table is gone
    assert db.execute("SELECT count(*) FROM duckdb_tables() WHERE NOT temporary").fetchone() == (0,)


def test_a_failed_write_leaves_no_table(tmp_path: Path) -> None:
    db = duckdb.connect(":memory:")
    days = [FIRST, FIRST + timedelta(days=1)]
    _batch(db, days)
    with pytest.raises(duckdb.Error):
        write_days(db, _rows, days, tmp_path / "missing")  # no such folder to write into
    assert db.execute("SELECT count(*) FROM duckdb_tables() WHERE NOT temporary").fetchone() == (0,)
