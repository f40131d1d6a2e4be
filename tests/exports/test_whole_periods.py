"""Readers never see half a period: while a period's rollups and its export files are
republished, a reader on another connection sees the whole old set or the whole new one, never
an empty or doubled period — on SQLite and on PostgreSQL (READ COMMITTED), whichever the suite
runs on."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from pullstats.accounts import service
from pullstats.config import Settings
from pullstats.exports.closing import export_closed
from pullstats.pipeline import end_of_day, process
from pullstats.rollups.compute import rollup_periods
from pullstats.runtime import Runtime
from tests.conftest import fresh_postgres_url, write_spool
from tests.exports.golden import NAMESPACE, PERIODS, THROUGH, records

WEEK = PERIODS[0]

ROLLUPS = text(
    "SELECT count(*), coalesce(sum(pull_by_tag), 0) FROM pull_rollups "
    "WHERE period_kind = :kind AND period_start = :start"
)
FILES = text(
    "SELECT count(*) FROM export_files "
    "WHERE namespace = :namespace AND period_kind = :kind AND period_start = :start"
)


@pytest.fixture(params=["sqlite", "postgresql"])
def processed(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Runtime]:
    """The golden input processed and exported, on each catalog."""
    url = fresh_postgres_url() if request.param == "postgresql" else None
    runtime = Runtime.open(Settings(data_dir=tmp_path / "data", database_url=url))
    with runtime.sessions.begin() as session:
        service.create_namespace(session, NAMESPACE)
    write_spool(runtime, *records())
    process(runtime)
    assert export_closed(runtime, now=end_of_day(THROUGH)).failed == []
    yield runtime
    runtime.close()


def test_republishing_a_period_is_all_or_nothing_for_readers(processed: Runtime) -> None:
    runtime = processed
    keys = {"kind": WEEK.kind.value, "start": WEEK.start, "namespace": NAMESPACE}
    with runtime.engine.connect() as connection:
        whole_rollups = tuple(connection.execute(ROLLUPS, keys).one())
        whole_files = connection.execute(FILES, keys).scalar_one()
    assert whole_rollups[0] > 0 and whole_rollups[1] > 0 and whole_files == 7

    seen_rollups: set[tuple[int, int]] = set()
    seen_files: set[int] = set()
    reads = 0
    stop = threading.Event()

    def reader() -> None:
        nonlocal reads
        with runtime.engine.connect() as connection:
            while not stop.is_set():
                # each read is its own statement and transaction, as an API request's is
                seen_rollups.add(tuple(connection.execute(ROLLUPS, keys).one()))  # type: ignore[arg-type]
                connection.commit()
                seen_files.add(connection.execute(FILES, keys).scalar_one())
                connection.commit()
                reads += 1

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for _ in range(4):  # delete-then-insert each time, in one transaction
            rollup_periods(runtime, [WEEK])
            rebuilt = export_closed(runtime, now=end_of_day(THROUGH), rebuild=True)
            assert rebuilt.failed == [] and rebuilt.exported
    finally:
        stop.set()
        thread.join(60)
    assert reads > 0
    assert seen_rollups == {whole_rollups}
    assert seen_files == {whole_files}
