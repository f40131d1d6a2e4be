"""A job whose lock connection alone is dropped (``pg_terminate_backend``, an
``idle_session_timeout``, a firewall) while its other connections work: another job takes the
lock at once, and the first publishes nothing more, stopping with :class:`JobLockLost` at its
next publishing step (not only when it releases the lock)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from pullstats.accounts import service
from pullstats.config import Settings
from pullstats.db.models import ExportFile, PullRollup, RollupPeriod
from pullstats.db.state import generation, pending_days
from pullstats.exports.closing import export_closed
from pullstats.ingest.records import PullRequestRecord
from pullstats.lake.jobs import ADVISORY_KEY, JobLockLost, job_lock
from pullstats.lake_files import action_files
from pullstats.periods import Period
from pullstats.pipeline import ProcessProgress, end_of_day, process
from pullstats.runtime import Runtime
from pullstats.timestamps import micros, now_micros
from tests.conftest import fresh_postgres_url, write_spool

LOST = (
    "the connection to the catalog database (PULLSTATS_DATABASE_URL) that held the job lock "
    "broke while the job ran: run the job again"
)
#: the job lock's holders in this catalog database (not another test's)
HOLDERS = (
    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = "
    "(SELECT oid FROM pg_database WHERE datname = current_database()) "
    "AND ((classid::bigint << 32) | objid::bigint) = :key"
)
WEEK = Period.week(2026, 2)  # Monday 2026-01-05 .. Sunday 2026-01-11


@pytest.fixture
def two_jobs(tmp_path: Path) -> Iterator[tuple[Runtime, Runtime]]:
    """Two handles on one installation whose catalog is on PostgreSQL, as two jobs hold them."""
    first = Runtime.open(Settings(data_dir=tmp_path / "data", database_url=fresh_postgres_url()))
    second = Runtime.open(first.settings)
    yield first, second
    first.close()
    second.close()


def _holders(runtime: Runtime) -> list[int]:
    with runtime.engine.connect() as connection:
        return [row[0] for row in connection.execute(text(HOLDERS), {"key": ADVISORY_KEY})]


class OtherJob:
    """A second job that waits for the lock in a thread of its own and holds it until told."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.holding = threading.Event()
        self.release = threading.Event()
        self.thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        with job_lock(self.runtime, wait_seconds=120):
            self.holding.set()
            self.release.wait(120)

    def start(self) -> None:
        self.thread.start()
        assert self.holding.wait(120), "the second job never got the lock"

    def stop(self) -> None:
        self.release.set()
        self.thread.join(120)


@contextlib.contextmanager
def lock_dropped_then_taken() -> Iterator[list[OtherJob]]:
    """Yields the list to which :func:`drop_the_lock` adds the job that took the lock, stopped
    on exit."""
    started: list[OtherJob] = []
    yield started
    for job in started:
        job.stop()


def drop_the_lock(first: Runtime, second: Runtime, started: list[OtherJob]) -> None:
    """The server ends the session that holds ``first``'s job lock (``first``'s other
    connections work on); then a second job takes the lock and holds it."""
    [pid] = _holders(first)
    admin = create_engine(first.settings.database_url_value, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            ended = connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            assert ended.all() == [(True,)]
    finally:
        admin.dispose()
    other = OtherJob(second)
    started.append(other)
    other.start()
    assert len(_holders(second)) == 1 and _holders(second) != [pid]


def test_a_job_checks_its_lock_and_is_refused_once_another_job_took_it(
    two_jobs: tuple[Runtime, Runtime],
) -> None:
    from pullstats.job_lock import check_job_lock

    first, second = two_jobs
    check_job_lock()  # no lock held here: nothing to check
    with lock_dropped_then_taken() as started:
        with pytest.raises(JobLockLost) as lost, job_lock(first):
            check_job_lock()  # held: passes
            drop_the_lock(first, second, started)
            check_job_lock()  # the next publishing step is refused
            pytest.fail("a job that lost its lock went on")
        assert str(lost.value) == LOST
        assert len(_holders(second)) == 1  # the other job holds it still, untouched


def test_the_lock_connection_sends_tcp_keepalives(two_jobs: tuple[Runtime, Runtime]) -> None:
    from pullstats import job_lock as module

    first, _ = two_jobs
    with job_lock(first):
        connection = module._HELD.get()
        assert connection is not None
        parameters = connection.connection.dbapi_connection.info.get_parameters()  # type: ignore[union-attr]
        assert parameters["keepalives"] == "1"
        assert parameters["keepalives_idle"] == "60"


def _pull(event_id: str, instant: datetime) -> PullRequestRecord:
    return PullRequestRecord(
        event_id, micros(instant), "GET", "acme/api", "1.0", "sha256:ab", "192.0.2.1",
        "docker/27.3.1", "notification", now_micros(),
    )  # fmt: skip


MONDAY_9 = datetime(2026, 1, 5, 9, tzinfo=UTC)


def test_process_that_lost_its_lock_publishes_neither_actions_nor_rollups(
    two_jobs: tuple[Runtime, Runtime],
) -> None:
    """The lock's session is ended once compaction is done: the job stops before it
    classifies, rolls up or clears its pending days, while the other job holds the lock; the
    next run does it all."""
    first, second = two_jobs
    write_spool(first, _pull("e1", MONDAY_9), _pull("e2", MONDAY_9 + timedelta(minutes=1)))
    with lock_dropped_then_taken() as started:
        progress = ProcessProgress(compacted=lambda _: drop_the_lock(first, second, started))
        with pytest.raises(JobLockLost, match="run the job again"):
            process(first, progress=progress)
        with first.sessions() as session:
            assert session.scalars(select(PullRollup)).all() == []
            assert session.scalars(select(RollupPeriod)).all() == []
            assert generation(session) == 0
            # the days compaction touched wait for the next run
            assert date(2026, 1, 5) in pending_days(session)
        assert action_files(first.settings, WEEK.start, WEEK.end) == []  # nor classified
    done = process(first)  # the lock is free again: the next run publishes it all
    assert done.generation == 1
    assert len(action_files(first.settings, WEEK.start, WEEK.end)) == 1
    with first.sessions() as session:
        assert pending_days(session) == set()
        rows = session.scalars(select(PullRollup).where(PullRollup.level == "namespace")).all()
        # the week and the month of 2026-01-05, one address in each
        assert sorted((row.period_kind, row.unique_ip_count) for row in rows) == [
            ("month", 1),
            ("week", 1),
        ]


def test_export_that_lost_its_lock_swaps_no_catalog(two_jobs: tuple[Runtime, Runtime]) -> None:
    """The lock's session is ended once the export has planned: it writes the period's files
    but never names them in the catalog, and stops (not one failed period among others)."""
    first, second = two_jobs
    with first.sessions.begin() as session:
        service.create_namespace(session, "acme")
    write_spool(first, _pull("e1", MONDAY_9))
    process(first)
    now = end_of_day(WEEK.end) + timedelta(hours=2)
    with lock_dropped_then_taken() as started:
        with pytest.raises(JobLockLost, match="run the job again"):
            export_closed(first, now=now, on_plan=lambda _: drop_the_lock(first, second, started))
        with first.sessions() as session:
            assert session.scalars(select(ExportFile)).all() == []
    done = export_closed(first, now=now)
    assert [(task.namespace, task.period) for task in done.exported] == [("acme", WEEK)]
