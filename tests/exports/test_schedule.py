"""The job schedule: a real server closes and exports on its own; rounds never overlap."""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from pullstats.accounts import service
from pullstats.config import Settings
from pullstats.db.models import ExportFile
from pullstats.ingest.records import PullRequestRecord
from pullstats.runtime import Runtime
from pullstats.scheduler import NICENESS, Scheduler
from pullstats.timestamps import micros, now_micros
from tests.conftest import catalog_settings, start_server, write_spool

# a child that records when it ran and at which niceness, then sleeps a little
_RECORDER = """
import os, sys, time
start = time.monotonic()
time.sleep(0.3)
with open(sys.argv[1], "a") as out:
    out.write(f"{start} {time.monotonic()} {os.nice(0)}\\n")
"""


def _rows(runtime: Runtime) -> list[ExportFile]:
    with runtime.sessions() as session:
        return list(session.scalars(select(ExportFile).where(ExportFile.namespace == "acme")))


@pytest.mark.e2e
def test_the_server_processes_and_exports_without_an_operator(
    data_dir: Path, tmp_path: Path
) -> None:
    runtime = Runtime.open(catalog_settings(data_dir))
    with runtime.sessions.begin() as session:
        service.create_namespace(session, "acme")
    monday = datetime(2026, 1, 5, 9, tzinfo=UTC)  # ISO week 2026-W02, long closed
    write_spool(
        runtime,
        PullRequestRecord(
            "e1", micros(monday), "GET", "acme/api", "1.0", "sha256:ab", "192.0.2.1",
            "docker/27.3.1", "notification", now_micros(),
        ),
    )  # fmt: skip
    assert _rows(runtime) == []
    log = tmp_path / "server.log"
    # the first round starts an interval after the server: a short one, and a short poll
    server = start_server(data_dir, log, {"PULLSTATS_SCHEDULE_INTERVAL": "0.2"})
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and "pullstats export: exported" not in log.read_text():
            time.sleep(0.05)
    finally:
        server.stop()
        runtime.close()
    runtime = Runtime.open(catalog_settings(data_dir))
    try:
        names = sorted(row.file_name for row in _rows(runtime))
    finally:
        runtime.close()
    assert "acme_raw_2026-W02_part001.csv.gz" in names
    assert "acme_namespace-summary_2026-01_part001.csv.gz" in names
    text = log.read_text()
    assert "scheduled pullstats process: processed 1 spool lines" in text
    assert "scheduled pullstats export: exported 2 namespace periods (14 files" in text


def test_rounds_never_overlap_and_jobs_run_niced(tmp_path: Path) -> None:
    record = tmp_path / "runs.txt"
    command = (sys.executable, "-c", _RECORDER, str(record))
    scheduler = Scheduler(
        Settings(data_dir=tmp_path / "data"), commands=[command, command], interval=0.01
    )

    async def run_until_four_runs() -> None:
        # until four commands have run (two rounds), not for a fixed time: on a loaded machine
        # starting each Python child can take a second
        scheduler.start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and (
            not record.exists() or len(record.read_text().splitlines()) < 4
        ):
            await asyncio.sleep(0.05)
        await scheduler.stop()

    asyncio.run(run_until_four_runs())
    runs = [tuple(float(v) for v in line.split()) for line in record.read_text().splitlines()]
    assert len(runs) >= 4
    for (_, end, _), (start, _, _) in itertools.pairwise(runs):
        assert start >= end  # each command starts only after the one before it ended
    assert {int(nice) for _, _, nice in runs} == {min(os.nice(0) + NICENESS, 19)}


def test_a_failed_job_ends_its_round_and_zero_turns_the_schedule_off(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    fail = (sys.executable, "-c", "raise SystemExit(3)")
    touch = (sys.executable, "-c", f"open({str(marker)!r}, 'w').close()")
    scheduler = Scheduler(catalog_settings(tmp_path / "data"), commands=[fail, touch])
    result = asyncio.run(scheduler.run_round())
    assert not result.ok
    assert not marker.exists()

    off = Scheduler(catalog_settings(tmp_path / "data", schedule_interval="0"))  # type: ignore[arg-type]
    assert not off.enabled
    assert Scheduler(catalog_settings(tmp_path / "data")).interval == 15 * 60


def test_a_jobs_warning_lines_reach_the_servers_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # a damaged lake file set aside by a scheduled process says so on a warning: line
    # (lake/damaged_files.py); the server's log showed only a job's last line
    warn = (
        sys.executable,
        "-c",
        "import sys; print('warning: damaged lake file x moved to y', file=sys.stderr); "
        "print('processed 0 spool lines')",
    )
    scheduler = Scheduler(catalog_settings(tmp_path / "data"), commands=[warn])
    with caplog.at_level("INFO", logger="pullstats.scheduler"):
        assert asyncio.run(scheduler.run_round()).ok
    name = f"scheduled {sys.executable} -c {warn[2]}"
    assert [m for m in caplog.messages if m.startswith(name)] == [
        f"{name}: warning: damaged lake file x moved to y",
        f"{name}: processed 0 spool lines",
    ]


def test_a_job_stopped_by_a_signal_is_logged_as_stopped_not_failed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """``timeout`` or systemd (KillMode=control-group) send SIGTERM to the server's whole
    process group: the running job ends by it as the server stops. That is no failure of the
    job, and its round is not a failed one; the rest of the round does not run."""
    marker = tmp_path / "ran"
    stopped = (sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGTERM)")
    touch = (sys.executable, "-c", f"open({str(marker)!r}, 'w').close()")
    scheduler = Scheduler(catalog_settings(tmp_path / "data"), commands=[stopped, touch])
    with caplog.at_level(logging.INFO, logger="pullstats.scheduler"):
        result = asyncio.run(scheduler.run_round())
    assert not result.ok and result.stopped
    assert not marker.exists()
    said = [(record.levelname, record.getMessage()) for record in caplog.records]
    assert said[0] == (
        "INFO",
        f"scheduled {sys.executable} -c {stopped[2]} stopped by SIGTERM "
        "(the server stopping, or a stop sent to the job): what it published stays, the next "
        "run does the rest",
    )
    assert said[1][0] == "INFO" and said[1][1].startswith("scheduled round 1 stopped in ")


def test_a_job_killed_by_another_signal_is_a_failure_that_names_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """SIGKILL is what the kernel's out-of-memory killer sends: a failure, which the log line
    names rather than ending on an empty reason (the job had printed nothing)."""
    killed = (sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)")
    scheduler = Scheduler(catalog_settings(tmp_path / "data"), commands=[killed])
    with caplog.at_level(logging.INFO, logger="pullstats.scheduler"):
        result = asyncio.run(scheduler.run_round())
    assert not result.ok and not result.stopped
    said = [(record.levelname, record.getMessage()) for record in caplog.records]
    assert said[0] == (
        "WARNING",
        f"scheduled {sys.executable} -c {killed[2]} failed (killed by SIGKILL): no output",
    )
    assert said[1][1].startswith("scheduled round 1 failed in ")


def test_every_error_line_of_a_failed_job_is_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An export that cannot write two (namespace, period)s says so in one line each, and its
    summary: the log kept only the last line, so an operator who runs only `serve` saw one."""
    job = (
        sys.executable,
        "-c",
        "import sys; print('exported 1 period; 2 failed', flush=True); "
        "print('error: export of namespace ns0 failed', file=sys.stderr, flush=True); "
        "print('error: export of namespace ns1 failed', file=sys.stderr, flush=True); "
        "sys.exit(1)",
    )
    scheduler = Scheduler(catalog_settings(tmp_path / "data"), commands=[job])
    with caplog.at_level(logging.INFO, logger="pullstats.scheduler"):
        assert not asyncio.run(scheduler.run_round()).ok
    name = f"scheduled {sys.executable} -c {job[2]}"
    assert [(r.levelname, r.getMessage()) for r in caplog.records][:3] == [
        ("WARNING", f"{name}: error: export of namespace ns0 failed"),
        ("WARNING", f"{name}: error: export of namespace ns1 failed"),
        ("WARNING", f"{name} failed (exit 1): exported 1 period; 2 failed"),
    ]
