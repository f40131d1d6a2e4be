"""The job lock: one job at a time per installation, on SQLite (a file lock) and on PostgreSQL
(an advisory lock in the catalog database, so servers on other machines wait for it too)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from pullstats.config import Settings
from pullstats.db.models import PullRollup, SpoolProgress
from pullstats.ingest.records import PullRequestRecord
from pullstats.lake.jobs import ADVISORY_KEY, JobLockBusy, JobLockLost, job_lock
from pullstats.runtime import Runtime
from pullstats.timestamps import micros, now_micros
from tests.cli_fork import start_pullstats_command
from tests.conftest import cli_env, free_port, fresh_postgres_url, run_cli, write_spool


def _open(data_dir: Path, catalog: str) -> Runtime:
    url = fresh_postgres_url() if catalog == "postgresql" else None
    return Runtime.open(Settings(data_dir=data_dir, database_url=url))


@pytest.fixture(params=["sqlite", "postgresql"])
def two_runtimes(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Runtime, ...]]:
    """Two handles on one installation, as two jobs (two processes, two machines) hold them."""
    first = _open(tmp_path / "data", request.param)
    second = Runtime.open(first.settings)
    yield first, second
    first.close()
    second.close()


#: the sessions that hold an advisory lock in this catalog database (not another test's)
HOLDERS = (
    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = "
    "(SELECT oid FROM pg_database WHERE datname = current_database())"
)


def _holders(runtime: Runtime) -> int:
    """How many PostgreSQL sessions hold the job's advisory lock in this catalog database."""
    with runtime.engine.connect() as connection:
        return int(
            connection.execute(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                    " AND database = (SELECT oid FROM pg_database"
                    " WHERE datname = current_database())"
                    " AND ((classid::bigint << 32) | objid::bigint) = :key"
                ),
                {"key": ADVISORY_KEY},
            ).scalar_one()
        )


def test_a_second_job_waits_and_gives_up_while_the_first_holds_the_lock(
    two_runtimes: tuple[Runtime, Runtime],
) -> None:
    first, second = two_runtimes
    held = threading.Event()
    release = threading.Event()
    outcome: list[str] = []

    def hold() -> None:
        with job_lock(first):
            held.set()
            release.wait(60)
        outcome.append("first released")

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(60)
        with pytest.raises(JobLockBusy), job_lock(second, wait_seconds=0.3):
            outcome.append("second ran while the first held the lock")
    finally:
        release.set()
        holder.join(60)
    assert outcome == ["first released"]
    with job_lock(second, wait_seconds=30):  # free again: the second job runs now
        outcome.append("second ran")
    assert outcome == ["first released", "second ran"]


def test_a_job_deletes_what_a_killed_job_staged_and_nothing_of_a_running_one(
    two_runtimes: tuple[Runtime, Runtime],
) -> None:
    first, second = two_runtimes
    job_tmp = first.paths.tmp / "job"
    spill = first.paths.tmp / "envelope-1-body.json"  # a server's, not a job's
    spill.parent.mkdir(parents=True, exist_ok=True)
    spill.write_text("{}")
    release = threading.Event()
    held = threading.Event()

    def hold() -> None:
        with job_lock(first):
            (job_tmp / "compact-running").mkdir(parents=True)
            (job_tmp / "compact-running" / "2026-10-01.parquet").write_bytes(b"day")
            held.set()
            release.wait(60)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(60)
        with pytest.raises(JobLockBusy), job_lock(second, wait_seconds=0.3):
            pass
        # the running job's files are left while it holds the lock
        assert (job_tmp / "compact-running" / "2026-10-01.parquet").read_bytes() == b"day"
    finally:
        release.set()
        holder.join(60)
    # the first job was killed as far as its files know: the next job takes them
    with job_lock(second, wait_seconds=30):
        assert not job_tmp.exists()
    assert spill.read_text() == "{}"


def test_jobs_take_turns_never_overlapping(two_runtimes: tuple[Runtime, Runtime]) -> None:
    """Eight jobs from two handles, each waiting its turn: no two are ever inside at once."""
    inside = 0
    most_inside = 0
    count = threading.Lock()
    entered: list[int] = []

    def job(runtime: Runtime, number: int) -> None:
        nonlocal inside, most_inside
        with job_lock(runtime, wait_seconds=120):
            with count:
                inside += 1
                most_inside = max(most_inside, inside)
            entered.append(number)
            threading.Event().wait(0.05)  # give a wrongly admitted job the chance to overlap
            with count:
                inside -= 1

    threads = [threading.Thread(target=job, args=(two_runtimes[n % 2], n)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)
    assert sorted(entered) == list(range(8))
    assert most_inside == 1


def test_the_postgresql_lock_is_one_advisory_lock_released_after_the_job(
    tmp_path: Path,
) -> None:
    runtime = _open(tmp_path / "data", "postgresql")
    try:
        assert _holders(runtime) == 0
        with job_lock(runtime):
            assert _holders(runtime) == 1
        assert _holders(runtime) == 0
        with pytest.raises(ValueError), job_lock(runtime):
            raise ValueError("the job failed")
        assert _holders(runtime) == 0  # a failed job releases it too
    finally:
        runtime.close()


def test_catalogs_on_one_postgresql_server_do_not_block_each_other(tmp_path: Path) -> None:
    one = _open(tmp_path / "one", "postgresql")
    other = _open(tmp_path / "other", "postgresql")
    try:
        with job_lock(one), job_lock(other, wait_seconds=0.3):
            pass  # another database's job lock is another lock
    finally:
        one.close()
        other.close()


def test_a_job_whose_lock_connection_breaks_fails_saying_so(tmp_path: Path) -> None:
    runtime = _open(tmp_path / "data", "postgresql")
    admin = create_engine(runtime.settings.database_url_value, isolation_level="AUTOCOMMIT")
    try:
        with pytest.raises(JobLockLost, match="PULLSTATS_DATABASE_URL"), job_lock(runtime):
            with admin.connect() as connection:  # the server drops the lock's session
                ended = connection.execute(
                    text(f"SELECT pg_terminate_backend(pid) FROM ({HOLDERS}) AS holders")
                ).all()
            assert ended == [(True,)]
        assert _holders(runtime) == 0
    finally:
        admin.dispose()
        runtime.close()


def test_a_job_against_an_unreachable_catalog_is_one_line_naming_the_setting(
    data_dir: Path,
) -> None:
    nowhere = f"postgresql+psycopg://pullstats:s3cret@127.0.0.1:{free_port()}/catalog"
    data_dir.mkdir()  # the jobs refuse a data dir that is not there
    done = run_cli(data_dir, "process", env={"PULLSTATS_DATABASE_URL": nowhere})
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: the catalog database (PULLSTATS_DATABASE_URL) failed: ")
    assert "s3cret" not in done.stderr + done.stdout


@pytest.mark.e2e
def test_a_job_whose_catalog_goes_away_fails_in_one_line_and_publishes_nothing(
    data_dir: Path, tmp_path: Path
) -> None:
    """``pullstats process`` has started and waits for the lock; then the PostgreSQL server
    drops every session of the job: one line naming the setting, and the spool is untouched."""
    runtime = _open(data_dir, "postgresql")
    url = runtime.settings.database_url_value
    write_spool(runtime, _record())
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    output = tmp_path / "process.log"
    try:
        with job_lock(runtime):  # the job waits for it, connected, polling
            job = start_pullstats_command(
                ["process"], cli_env(data_dir, {"PULLSTATS_DATABASE_URL": url}), output
            )
            ours = HOLDERS
            others = text(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                f"AND pid <> pg_backend_pid() AND pid NOT IN ({ours})"
            )
            with admin.connect() as connection:
                deadline = time.monotonic() + 120
                while not connection.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                        f" AND query LIKE 'SELECT pg_try_advisory_lock%' AND pid NOT IN ({ours})"
                    )
                ).scalar_one():
                    assert job.poll() is None, output.read_text()
                    assert time.monotonic() < deadline, "the job never asked for the lock"
                    time.sleep(0.05)
                pids = [row[0] for row in connection.execute(others)]
                for pid in pids:
                    connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            assert job.wait(timeout=120) == 1
        said = output.read_text()  # standard output (a progress line) and error together
        errors = [line for line in said.splitlines() if line.startswith("error: ")]
        assert errors == [said.strip().splitlines()[-1]], said
        assert errors[0].startswith("error: the catalog database (PULLSTATS_DATABASE_URL) failed: ")
        assert "Traceback" not in said
        with runtime.sessions() as session:  # nothing compacted, nothing rolled up
            assert session.scalars(select(SpoolProgress)).all() == []
            assert session.scalars(select(PullRollup)).all() == []
    finally:
        admin.dispose()
        runtime.close()


def _record() -> PullRequestRecord:
    return PullRequestRecord(
        "e1", micros(datetime(2026, 1, 5, 9, tzinfo=UTC)), "GET", "acme/api", "1.0",
        "sha256:ab", "192.0.2.1", "docker/27.3.1", "notification", now_micros(),
    )  # fmt: skip
