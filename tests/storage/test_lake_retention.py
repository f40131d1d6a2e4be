"""``PULLSTATS_RETENTION_LAKE``: the lake's days before the cutoff are deleted, counted by
hand in calendar months, on a local lake (the S3 one shares the code: tests/storage/test_s3.py
covers the store's listing and deletion)."""

from __future__ import annotations

import gzip
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from pullstats.accounts import service
from pullstats.config import Settings
from pullstats.db.models import PullRollup
from pullstats.exports.closing import export_closed
from pullstats.ingest.records import PullRequestRecord
from pullstats.lake.retention import lake_cutoff, prune_lake, whole_periods_before
from pullstats.lake_files import lake_days
from pullstats.pipeline import process
from pullstats.runtime import Runtime
from pullstats.timestamps import micros, now_micros
from tests.conftest import catalog_settings, run_cli, write_spool


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


def test_a_late_request_of_a_pruned_period_leaves_that_periods_rollups_as_they_were(
    tmp_path: Path,
) -> None:
    """Two pulls of 2026-01-05 are rolled up while the lake keeps everything; then the lake
    is kept for one month and pruned (January's days go), and a third request of that day
    arrives: it is not classified, and the week and month still count two pulls — not one,
    which reclassifying the day from the late request alone would give."""
    data = tmp_path / "data"
    keep_all = Runtime.open(catalog_settings(data, retention_lake="0"))
    try:
        write_spool(keep_all, _pull("e1", "192.0.2.1"), _pull("e2", "192.0.2.2"))
        first = process(keep_all)
        assert date(2026, 1, 5) in first.days and first.days_past_retention == []
        assert _namespace_pulls(keep_all) == {
            ("week", date(2026, 1, 5)): 2,
            ("month", date(2026, 1, 1)): 2,
        }
    finally:
        keep_all.close()
    one_month = Runtime.open(catalog_settings(data, retention_lake="P1M"))
    try:
        assert date(2026, 1, 5) in prune_lake(one_month, date.today())  # what export does
        write_spool(one_month, _pull("e3", "192.0.2.3"))
        late = process(one_month)
        assert late.compaction.written == 1  # kept in the lake until the next prune
        assert late.days == [] and date(2026, 1, 5) in late.days_past_retention
        assert _namespace_pulls(one_month) == {
            ("week", date(2026, 1, 5)): 2,
            ("month", date(2026, 1, 1)): 2,
        }
    finally:
        one_month.close()


def test_an_export_as_of_a_day_to_come_prunes_what_an_export_today_would(tmp_path: Path) -> None:
    """``export --through`` a day ahead (a year mistyped: 2030 for 2026) closes no more than an
    export today, as the watermark holds later periods open; it must not prune more either.
    It used to prune from that day: the default P25M counted from 2030 deleted every day."""
    runtime = Runtime.open(catalog_settings(tmp_path / "data"))  # the default retention, P25M
    try:
        pulled = datetime.now(UTC) - timedelta(days=10)
        write_spool(runtime, _pull("e1", "192.0.2.1", pulled))
        assert pulled.date() in process(runtime).days
        held = {table: lake_days(runtime.settings, table) for table in ("requests", "actions")}
        assert held["requests"] == [pulled.date()] and pulled.date() in held["actions"]
        result = export_closed(runtime, now=datetime(2030, 1, 1, tzinfo=UTC))
        assert result.failed == [] and result.lake_days_pruned == []
        assert {table: lake_days(runtime.settings, table) for table in held} == held
    finally:
        runtime.close()


def test_an_exported_period_whose_lake_days_are_pruned_is_never_written_again(
    tmp_path: Path,
) -> None:
    """Its raw view is read from the lake: written again (``--rebuild``, changed rollups, a
    kind of file added since), it would be the header alone, over the only copy of its rows."""
    data = tmp_path / "data"
    keep_all = Runtime.open(catalog_settings(data, retention_lake="0"))
    try:
        with keep_all.sessions.begin() as session:
            service.create_namespace(session, "acme")
        write_spool(keep_all, _pull("e1", "192.0.2.1"), _pull("e2", "192.0.2.2"))
        process(keep_all)
        first = export_closed(keep_all)
        assert sorted(t.period.label for t in first.exported) == ["2026-01", "2026-W02"]
    finally:
        keep_all.close()
    raw = {path: path.read_bytes() for path in (data / "exports").rglob("acme_raw_*.csv.gz")}
    assert len(raw) == 2
    for body in raw.values():  # the header and the two pulls
        assert len(gzip.decompress(body).decode().splitlines()) == 3
    one_month = Runtime.open(catalog_settings(data, retention_lake="P1M"))
    try:
        assert date(2026, 1, 5) in prune_lake(one_month, date.today())  # what export does
        # up to date: counted so, as before, in every scheduled round
        quiet = export_closed(one_month)
        again = export_closed(one_month, rebuild=True)
    finally:
        one_month.close()
    assert (quiet.up_to_date, quiet.past_retention, quiet.exported) == (2, 0, [])
    assert again.exported == [] and again.failed == [] and again.past_retention == 2
    assert {path: path.read_bytes() for path in raw} == raw
    # the line of the retention, told by `pullstats status` (the week of 2026-01-05 is frozen)
    status = run_cli(data, "status", env={"PULLSTATS_RETENTION_LAKE": "P1M"})
    assert status.returncode == 0, status.stderr
    [line] = [text for text in status.stdout.splitlines() if text.startswith("lake days")]
    deleted_before = date.fromisoformat(line.split()[4])
    assert date(2026, 1, 12) <= deleted_before <= date.today()
    assert line.endswith(
        "(by PULLSTATS_RETENTION_LAKE): the periods that start before it are frozen, their exports "
        "kept as they are"
    )


def test_the_month_holding_the_line_is_frozen_whole(tmp_path: Path) -> None:
    """The line is a Monday (2026-01-26, for P1M on 2026-03-31): January loses its days before
    it and keeps the rest. A late request of 28 January, or a rebuild of its last days, must
    not recompute January from the days left, nor write its files again: 3 pulls, not 1 or 2.
    The week of the line (26 January to 1 February) lost nothing."""
    data = tmp_path / "data"
    early, late = datetime(2026, 1, 5, 9, tzinfo=UTC), datetime(2026, 1, 27, 9, tzinfo=UTC)
    keep_all = Runtime.open(catalog_settings(data, retention_lake="0"))
    try:
        with keep_all.sessions.begin() as session:
            service.create_namespace(session, "acme")
        write_spool(
            keep_all, _pull("e1", "192.0.2.1", early), _pull("e2", "192.0.2.2", early),
            _pull("e3", "192.0.2.3", late),
        )  # fmt: skip
        process(keep_all)
        exported = export_closed(keep_all)
        assert {"2026-01", "2026-W05"} <= {t.period.label for t in exported.exported}
    finally:
        keep_all.close()
    january = {p: p.read_bytes() for p in (data / "exports").rglob("acme_*_2026-01*.csv.gz")}
    assert january
    counted = {("month", date(2026, 1, 1)): 3, ("week", date(2026, 1, 26)): 1}
    assert counted.items() <= _namespace_pulls_of(data).items()
    one_month = Runtime.open(catalog_settings(data, retention_lake="P1M"))
    try:
        assert prune_lake(one_month, date(2026, 3, 31))[-1] == date(2026, 1, 5)
        assert lake_days(one_month.settings, "actions")[0] == date(2026, 1, 27)
        write_spool(one_month, _pull("e4", "192.0.2.4", datetime(2026, 1, 28, 9, tzinfo=UTC)))
        rebuilt = process(one_month, rebuild_from=date(2026, 1, 26), rebuild_to=date(2026, 1, 31))
        assert rebuilt.days == []
        assert rebuilt.days_past_retention == [date(2026, 1, day) for day in range(26, 32)]
        again = export_closed(one_month, rebuild=True)
    finally:
        one_month.close()
    assert counted.items() <= _namespace_pulls_of(data).items()
    assert "2026-01" not in {t.period.label for t in again.exported} and again.failed == []
    assert {p: p.read_bytes() for p in january} == january


def _namespace_pulls_of(data: Path) -> dict[tuple[str, date], int]:
    runtime = Runtime.open(catalog_settings(data))
    try:
        return _namespace_pulls(runtime)
    finally:
        runtime.close()


def _pull(
    event: str, ip: str, at: datetime = datetime(2026, 1, 5, 9, tzinfo=UTC)
) -> PullRequestRecord:
    return PullRequestRecord(
        event, micros(at), "GET", "acme/api", "1.0",
        "sha256:" + "ab" * 32, ip, "docker/27.3.1", "notification", now_micros(),
    )  # fmt: skip


def _namespace_pulls(runtime: Runtime) -> dict[tuple[str, date], int]:
    with runtime.sessions() as session:
        rows = session.scalars(select(PullRollup).where(PullRollup.level == "namespace"))
        return {(row.period_kind, row.period_start): row.pull_by_tag for row in rows}


def test_export_says_how_many_lake_days_it_deleted_and_before_which_day(tmp_path: Path) -> None:
    """The retention deletes lake days as part of ``export``: its output says so, after the
    first line scripts parse. ``--through 2026-03-30`` exports as of its end, 2026-03-31: P1M
    keeps 2026-02-28 on, whole weeks and months from Monday 2026-01-26, so the two January
    days go."""
    data = tmp_path / "data"
    runtime = Runtime.open(catalog_settings(data, retention_lake="0"))
    try:
        at = datetime(2026, 1, 6, 9, tzinfo=UTC)
        write_spool(runtime, _pull("e1", "192.0.2.1"), _pull("e2", "192.0.2.2", at))
        process(runtime)
    finally:
        runtime.close()
    env = {"PULLSTATS_RETENTION_LAKE": "P1M"}
    exported = run_cli(data, "export", "--through", "2026-03-30", env=env)
    assert exported.returncode == 0, exported.stderr
    first, *rest = exported.stdout.splitlines()
    assert first.startswith("exported ") and "already up to date" in first
    assert rest == ["deleted 2 lake days before 2026-01-26 (PULLSTATS_RETENTION_LAKE=P1M)"]
    again = run_cli(data, "export", "--through", "2026-03-30", env=env)
    assert again.returncode == 0, again.stderr
    assert len(again.stdout.splitlines()) == 1  # nothing left to delete: nothing said
