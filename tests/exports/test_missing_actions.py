"""A day whose actions file is missing from the lake, though its requests are there, holds back
its periods: ``export`` reports them as failed, the day is handed back to ``process``, and the
periods are exported whole once it has classified the day again (exports/missing_actions.py).
A day classified to nothing has no actions file either, and holds nothing back.

Before, the raw view of such a period was published without the lost day's rows while its
summaries, from the rollups, still counted them.
"""

from __future__ import annotations

import logging
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from pullstats.db.state import pending_days
from pullstats.exports.closing import ExportResult, export_closed
from pullstats.ingest.records import PullRequestRecord
from pullstats.lake_files import REQUESTS, action_key, day_parts
from pullstats.periods import Period
from pullstats.pipeline import process
from pullstats.runtime import Runtime
from pullstats.timestamps import micros, now_micros
from tests.conftest import run_cli, write_spool
from tests.exports.test_closing import files, read_csv, register
from tests.importers.test_dockerhub_lines import RAW_HEADER, imported
from tests.lake.test_damaged_files import only_part, pulls, write_log

WEEK = Period.week(2026, 2)  # Monday 2026-01-05 .. Sunday 2026-01-11
MONTH = Period.month(2026, 1)
TUESDAY, WEDNESDAY, THURSDAY = (date(2026, 1, day) for day in (6, 7, 8))
#: every period of January closed, the node's watermark (the real clock) past it too
NOW = datetime(2026, 3, 1, tzinfo=UTC)


def at(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=UTC)


def request(n: str, when: datetime, ip: str, method: str = "GET") -> PullRequestRecord:
    return PullRequestRecord(
        f"event-{n}",
        micros(when),
        method,
        "acme/api",
        "1.0",
        "sha256:" + "a" * 64,
        ip,
        "docker/27.3.1",
        "notification",
        now_micros(),
    )


def lake_week(runtime: Runtime) -> None:
    """Hand count, acme/api:1.0, every action a pull by tag (a GET by tag, or a HEAD joined by
    a GET within 5 s):

    - Tuesday: three clients at noon: 3 actions;
    - Wednesday: two clients at noon, and a HEAD at 23:59:58 that a GET at Thursday 00:00:02
      joins (4 s later): 3 actions;
    - Thursday: that GET alone, which belongs to Wednesday's action: requests, no actions, and
      so no actions file (classified to nothing).

    The week and January: 6 pulls by tag, from 6 addresses; the raw view 6 rows."""
    write_spool(
        runtime,
        request("t1", at(TUESDAY, 12), "192.0.2.1"),
        request("t2", at(TUESDAY, 12, 1), "192.0.2.2"),
        request("t3", at(TUESDAY, 12, 2), "192.0.2.3"),
        request("w1", at(WEDNESDAY, 12), "192.0.2.4"),
        request("w2", at(WEDNESDAY, 12, 1), "192.0.2.5"),
        request("w3", at(WEDNESDAY, 23, 59, 58), "192.0.2.6", "HEAD"),
        request("h1", at(THURSDAY, 0, 0, 2), "192.0.2.6"),
    )
    processed = process(runtime)
    assert processed.actions == 6
    lake = runtime.settings.lake  # a folder or a bucket
    assert lake.exists(action_key(TUESDAY))
    assert lake.exists(action_key(WEDNESDAY))
    assert not lake.exists(action_key(THURSDAY))
    assert day_parts(runtime.settings, REQUESTS, THURSDAY)


def actions_file(runtime: Runtime, day: date) -> Path:
    return runtime.paths.root / "lake" / "actions" / f"day={day}" / "actions.parquet"


def published(runtime: Runtime, period: Period) -> tuple[int, int]:
    """The raw view's rows of acme's ``period``, and the pulls by tag its namespace summary
    counts."""
    exported = files(runtime, "acme", period)
    raw = read_csv(runtime, exported["raw"])
    header, *rows = read_csv(runtime, exported["namespace-summary"])
    [summary] = rows
    return len(raw) - 1, int(summary[header.index("pull_by_tag")])


def failures(result: ExportResult) -> dict[str, str]:
    return {failure.task.period.label: failure.error for failure in result.failed}


def test_a_day_classified_to_nothing_holds_nothing_back(runtime: Runtime) -> None:
    register(runtime, "acme")
    lake_week(runtime)
    result = export_closed(runtime, now=NOW)
    assert result.failed == []
    assert {task.period for task in result.exported} == {WEEK, MONTH}
    assert published(runtime, WEEK) == (6, 6)
    with runtime.sessions() as session:
        assert pending_days(session) == set()


def test_a_lost_actions_file_holds_its_periods_back_until_process_classifies_it_again(
    runtime: Runtime, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    register(runtime, "acme")
    lake_week(runtime)
    assert export_closed(runtime, now=NOW).failed == []
    assert published(runtime, WEEK) == (6, 6)
    # a lost volume, a bad restore, a person: Tuesday's 3 actions are no longer in the lake
    shutil.move(actions_file(runtime, TUESDAY), tmp_path / "elsewhere.parquet")
    assert process(runtime).days == []  # nothing pending: process does not notice it

    with caplog.at_level(logging.WARNING, logger="pullstats.exports"):
        rebuilt = export_closed(runtime, now=NOW, rebuild=True, namespace="acme")
    text = (
        "the actions of 2026-01-06 are missing from the lake "
        "(actions/day=2026-01-06/actions.parquet), its requests are not; the period is "
        "exported after `pullstats process` has classified 2026-01-06 again"
    )
    # both periods holding Tuesday fail; before, they were published with 3 raw rows of 6
    assert failures(rebuilt) == {"2026-W02": text, "2026-01": text}
    assert rebuilt.exported == []
    assert published(runtime, WEEK) == (6, 6)  # the files of before are still served
    [warning] = [r.getMessage() for r in caplog.records if "missing" in r.getMessage()]
    assert "2026-01-06 has requests in the lake" in warning
    with runtime.sessions() as session:
        assert pending_days(session) == {TUESDAY}  # handed back, as a damaged file's day

    # exported again before process: still held back, the day named as waiting
    waiting = export_closed(runtime, now=NOW, rebuild=True)
    assert set(failures(waiting)) == {"2026-W02", "2026-01"}
    assert failures(waiting)["2026-W02"].startswith("2026-01-06 waits for `pullstats process`")

    again = process(runtime)
    assert again.days == [TUESDAY]
    assert again.actions == 3
    exported = export_closed(runtime, now=NOW)  # a plain export: the rollups are new
    assert exported.failed == []
    assert {task.period for task in exported.exported} == {WEEK, MONTH}
    assert published(runtime, WEEK) == (6, 6)
    assert published(runtime, MONTH) == (6, 6)


def test_a_damaged_actions_file_set_aside_holds_its_periods_back_in_the_next_export_too(
    runtime: Runtime,
) -> None:
    register(runtime, "acme")
    lake_week(runtime)
    actions_file(runtime, TUESDAY).write_bytes(b"not parquet at all\n")
    first = export_closed(runtime, now=NOW)
    assert set(failures(first)) == {"2026-W02", "2026-01"}
    assert failures(first)["2026-W02"].startswith(
        "damaged lake file actions/day=2026-01-06/actions.parquet set aside"
    )
    # the file is out of the lake now and the day waits for process: an export before it
    # published the week with Wednesday's 3 rows while its summary counted 6
    second = export_closed(runtime, now=NOW)
    assert set(failures(second)) == {"2026-W02", "2026-01"}
    assert failures(second)["2026-01"].startswith("2026-01-06 waits for `pullstats process`")
    assert files(runtime, "acme", WEEK) == {}
    assert process(runtime).days == [TUESDAY]
    assert export_closed(runtime, now=NOW).failed == []
    assert published(runtime, WEEK) == (6, 6)


def test_a_day_of_imported_actions_alone_is_never_taken_as_classified_to_nothing(
    runtime: Runtime, tmp_path: Path
) -> None:
    register(runtime, "acme")
    # two Docker Hub raw rows in Thursday's first seconds, when a day's requests may all have
    # joined actions of the day before: an imported action is the day's, whatever its time
    csv = tmp_path / "raw.csv"
    csv.write_text(
        RAW_HEADER
        + "".join(
            f"2026-01-08T00:00:0{second}.000Z,acme,api,1.0,sha256:{'c' * 64},1.0,2026-01-08,"
            "GET,pull_by_tag,,,,,docker,27.3.1\n"
            for second in (1, 2)
        )
    )
    assert imported(runtime, csv).rows == 2
    assert process(runtime).actions == 2
    assert export_closed(runtime, now=NOW).failed == []
    assert published(runtime, WEEK) == (2, 2)
    actions_file(runtime, THURSDAY).unlink()
    rebuilt = export_closed(runtime, now=NOW, rebuild=True)
    assert set(failures(rebuilt)) == {"2026-W02", "2026-01"}
    assert "the actions of 2026-01-08 are missing" in failures(rebuilt)["2026-W02"]
    assert process(runtime).actions == 2
    assert export_closed(runtime, now=NOW).failed == []
    assert published(runtime, MONTH) == (2, 2)


def test_the_command_names_the_day_and_what_to_run(data_dir: Path, tmp_path: Path) -> None:
    assert run_cli(data_dir, "namespaces", "add", "acme").returncode == 0
    # 5 October: 2 pulls by tag (2 addresses), 6 October: 1; the week of 5 October: 3
    log = write_log(tmp_path / "a.log", pulls("05/Oct/2026", 4, 5) + pulls("06/Oct/2026", 6))
    assert run_cli(data_dir, "ingest", "logs", str(log)).returncode == 0
    assert run_cli(data_dir, "process").returncode == 0
    assert run_cli(data_dir, "export", "--through", "2026-11-01").returncode == 0
    shutil.move(only_part(data_dir, "actions", "2026-10-05"), tmp_path / "elsewhere.parquet")
    assert "0 actions on 0 days" in run_cli(data_dir, "process").stdout
    rebuilt = run_cli(
        data_dir, "export", "--rebuild", "--namespace", "acme", "--through", "2026-11-01"
    )
    assert rebuilt.returncode == 1
    errors = [line for line in rebuilt.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: export of namespace acme for {label} failed: the actions of 2026-10-05 are "
        "missing from the lake (actions/day=2026-10-05/actions.parquet), its requests are "
        "not; the period is exported after `pullstats process` has classified 2026-10-05 again"
        for label in ("2026-10", "2026-W41")
    ]
    lake = data_dir / "lake"
    assert rebuilt.stderr.splitlines()[0] == (
        f"warning: lake file {lake}/actions/day=2026-10-05/actions.parquet is missing, though "
        "2026-10-05 has requests in the lake: the day is classified again by the next "
        "`pullstats process`"
    )
    status = run_cli(data_dir, "status").stdout
    assert "days waiting for process: 1 (2026-10-05 … 2026-10-05)" in status
    assert "; 2 actions on 1 day;" in run_cli(data_dir, "process").stdout
    again = run_cli(data_dir, "export", "--through", "2026-11-01")
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("exported 2 namespace periods")
