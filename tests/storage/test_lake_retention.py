"""``PULLSTATS_RETENTION_LAKE``: the lake's days before the cutoff are deleted, counted by
hand in calendar months, on a local lake (the S3 one shares the code: tests/storage/test_s3.py
covers the store's listing and deletion)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from pullstats.config import Settings
from pullstats.lake.retention import lake_cutoff, prune_lake, whole_periods_before
from pullstats.runtime import Runtime
from tests.conftest import catalog_settings


def test_the_cutoff_counts_calendar_months_years_and_days(tmp_path: Path) -> None:
    def cutoff(value: str, today: date) -> date | None:
        return lake_cutoff(Settings(data_dir=tmp_path, retention_lake=value), today)

    assert cutoff("P25M", date(2026, 12, 3)) == date(2024, 11, 3)  # the default
    assert Settings(data_dir=tmp_path).retention_lake == "P25M"
    assert cutoff("P1M", date(2026, 3, 31)) == date(2026, 2, 28)  # no 31 February
    assert cutoff("P2Y", date(2024, 2, 29)) == date(2022, 2, 28)
    assert cutoff("P12M", date(2026, 1, 15)) == date(2025, 1, 15)  # across a year
    assert cutoff("P10D", date(2026, 3, 5)) == date(2026, 2, 23)
    assert cutoff("0", date(2026, 3, 5)) is None


def test_only_whole_weeks_and_months_before_the_cutoff_are_deleted_from_every_table(
    tmp_path: Path,
) -> None:
    # P1M on 2026-03-31 keeps 2026-02-28 on; February's first week starts Monday 2026-01-26,
    # so the days before 2026-01-26 go (their weeks and months are over before the cutoff)
    assert whole_periods_before(date(2026, 2, 28)) == date(2026, 1, 26)
    assert whole_periods_before(date(2026, 6, 15)) == date(2026, 6, 1)  # 1 June is a Monday
    settings = catalog_settings(tmp_path / "data", retention_lake="P1M")
    runtime = Runtime.open(settings)
    lake = tmp_path / "data" / "lake"
    kept_files = []
    try:
        for table, day in (
            ("requests", "2026-01-25"), ("requests", "2026-01-26"), ("actions", "2026-01-25"),
            ("imported", "2025-12-31"), ("actions", "2026-02-27"), ("actions", "2026-03-30"),
        ):  # fmt: skip
            name = "actions.parquet" if table == "actions" else "part-x.parquet"
            file = lake / table / f"day={day}" / name
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_bytes(b"x")
            if day >= "2026-01-26":
                kept_files.append(file)
        pruned = prune_lake(runtime, date(2026, 3, 31))
    finally:
        runtime.close()
    assert pruned == [date(2025, 12, 31), date(2026, 1, 25)]
    assert sorted(p for p in lake.rglob("*.parquet")) == sorted(kept_files)
    assert not (lake / "requests" / "day=2026-01-25").exists()
    assert (lake / "_meta.json").is_file()
