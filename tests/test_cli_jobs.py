"""The operator's batch jobs on the command line: what ``status`` says is waiting, what a job
waiting for the job lock says, and a data dir that does not exist."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

from pullstats.config import Settings
from pullstats.db.models import Node
from pullstats.lake.jobs import job_lock
from pullstats.lake.spool import SpoolWriter
from pullstats.runtime import Runtime
from tests.conftest import (
    catalog_settings,
    cli_env,
    fresh_postgres_url,
    run_cli,
    write_spool_lines,
)


def _spool_line(status: str) -> str:
    [line] = [text for text in status.splitlines() if text.startswith("events waiting in")]
    return line


def test_status_counts_the_spool_segments_process_has_not_compacted(tmp_path: Path) -> None:
    """Events accepted over HTTP wait in the spool until ``process`` compacts them: ``days
    waiting for process`` counts only the days compacted since, so status says both. Counted
    from the files' sizes and the offsets compaction recorded: no line is read (these are not
    even records; ``process`` sets them aside)."""
    data = tmp_path / "data"
    runtime = Runtime.open(catalog_settings(data))
    writer = SpoolWriter(runtime.paths.spool, segment_bytes=1 << 20)
    try:
        write_spool_lines(runtime, b"not json\n" * 3)  # a closed segment: 27 bytes
        writer.append(b"still open\n")  # the open segment of a live server: 11 bytes
        status = run_cli(data, "status")
        assert status.returncode == 0, status.stderr
        assert "days waiting for process: 0" in status.stdout.splitlines()
        assert _spool_line(status.stdout) == "events waiting in the spool: 2 segments, 38 bytes"
        processed = run_cli(data, "process")
        assert processed.returncode == 0, processed.stderr
        assert processed.stdout.startswith("processed 4 spool lines")
        status = run_cli(data, "status")
        assert status.returncode == 0, status.stderr
        assert _spool_line(status.stdout) == "events waiting in the spool: 0 segments, 0 bytes"
        writer.append(b"x" * 1_200_000 + b"\n")  # a new segment past the first's 1 MiB
        status = run_cli(data, "status")
        assert _spool_line(status.stdout) == (
            "events waiting in the spool: 1 segment, 1200001 bytes (1.2 MB)"
        )
    finally:
        writer.close()
        runtime.close()


def _wait_for_notice(job: subprocess.Popen[str]) -> str:
    """The job's stderr lines up to its notice that it waits for the job lock (the job is
    killed if it never comes, so that a failing test ends)."""
    assert job.stderr is not None
    guard = threading.Timer(120, job.kill)  # no assertion on time: only an end to a hang
    guard.start()
    try:
        seen = []
        for line in job.stderr:
            seen.append(line)
            if line.startswith("waiting for the job lock"):
                return line.rstrip("\n")
        raise AssertionError(f"no notice on stderr: {''.join(seen)!r}")
    finally:
        guard.cancel()


def _start(command: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pullstats", *command],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_job_waiting_for_the_file_lock_says_so_and_what_holds_it(tmp_path: Path) -> None:
    """SQLite: the job lock is an flock on jobs.lock, here held by ``flock(1)`` as an operator
    would: the job says it waits, naming that process, and runs once it is released."""
    data = tmp_path / "data"
    Runtime.open(Settings(data_dir=data)).close()
    env = cli_env(data)
    env.pop("PULLSTATS_DATABASE_URL", None)  # the file lock is SQLite's
    lock = data / "jobs.lock"
    holder = subprocess.Popen(
        ["flock", str(lock), "sh", "-c", "echo held; exec cat"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        job = _start(["process"], env)
        notice = _wait_for_notice(job)
        assert notice == (
            f"waiting for the job lock ({lock}, held by pid {holder.pid}: flock {lock} sh -c "
            "echo held; exec cat; up to 10 min)"
        )
    finally:
        assert holder.stdin is not None and holder.stdout is not None
        holder.stdin.close()  # cat ends, and flock releases the lock
        holder.wait(60)
        holder.stdout.close()
    output, _ = job.communicate(timeout=300)
    assert job.returncode == 0
    assert output.startswith("processed 0 spool lines")


def test_a_job_waiting_for_the_advisory_lock_says_so_and_which_session_holds_it(
    tmp_path: Path,
) -> None:
    """PostgreSQL: the job lock is an advisory lock in the catalog database, here held by
    this test through the project's own lock: the job names the session that holds it."""
    data = tmp_path / "data"
    url = fresh_postgres_url()
    runtime = Runtime.open(Settings(data_dir=data, database_url=url))
    env = cli_env(data, {"PULLSTATS_DATABASE_URL": url})
    try:
        with job_lock(runtime):
            with runtime.engine.connect() as connection:
                [holder] = connection.execute(
                    text(
                        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
                        "AND database = "
                        "(SELECT oid FROM pg_database WHERE datname = current_database())"
                    )
                ).scalars()
            job = _start(["export"], env)
            notice = _wait_for_notice(job)
        assert notice.startswith(
            f"waiting for the job lock (in the catalog database, held by PostgreSQL session "
            f"{holder} (from 127.0.0.1"
        )
        assert notice.endswith("; up to 10 min)")
        output, _ = job.communicate(timeout=300)
        assert job.returncode == 0
        assert output.startswith("exported 0 namespace periods")
    finally:
        runtime.close()


def test_status_names_the_watermark_from_before_nodes_while_it_holds_periods_open(
    tmp_path: Path,
) -> None:
    """A catalog upgraded from before nodes (migration 0007) keeps its one watermark as the
    node ``""``, live until PULLSTATS_NODE_TIMEOUT after it was set: while it is, it decides
    ``processed up to``, and status listed only the node that did not."""
    data = tmp_path / "data"
    runtime = Runtime.open(catalog_settings(data))
    try:
        old, now = datetime(2026, 12, 1, 9, tzinfo=UTC), datetime.now(UTC)
        with runtime.sessions.begin() as session:
            session.add(Node(name="", host="", data_dir="", watermark=old, last_seen=now))
            session.add(Node(name="b", host="h", data_dir="/d", watermark=now, last_seen=now))
    finally:
        runtime.close()
    status = run_cli(data, "status")
    assert status.returncode == 0, status.stderr
    lines = status.stdout.splitlines()
    assert lines[0] == "processed up to: 2026-12-01T09:00:00Z"
    assert lines[1].startswith(
        "node (unnamed): processed up to 2026-12-01T09:00:00Z, last seen "
    ), lines
    assert lines[1].endswith(", live (the catalog's watermark from before nodes had names)")
    assert lines[2].startswith("node b: processed up to ")
