"""A server with one exported month, for the tests that need a signed download link."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pullstats.accounts import service
from pullstats.exports.closing import export_closed
from pullstats.ingest.records import PullRequestRecord
from pullstats.periods import last_complete_months
from pullstats.pipeline import end_of_day, process
from pullstats.runtime import Runtime
from pullstats.timestamps import micros, now_micros
from tests.conftest import Server, catalog_settings, start_server, write_spool

PASSWORD = "alice-has-a-long-password"


def _pull(n: int, when: datetime) -> PullRequestRecord:
    return PullRequestRecord(
        f"r{n}",
        micros(when),
        "GET",
        "acme/api",
        "1.0",
        "sha256:0d",
        "192.0.2.1",
        "docker/27.3.1",
        "notification",
        now_micros(),
    )


@pytest.fixture
def world(data_dir: Path, tmp_path: Path) -> Iterator[Server]:
    """alice reads acme, which has pulls last month, exported."""
    runtime = Runtime.open(catalog_settings(data_dir))
    with runtime.sessions.begin() as session:
        service.create_namespace(session, "acme")
        service.create_user(session, "alice", PASSWORD)
        service.add_member(session, "acme", "alice", "member")
    month = last_complete_months(datetime.now(UTC).date(), 1)[0]
    write_spool(runtime, _pull(1, datetime.combine(month, datetime.min.time(), UTC)))
    process(runtime)
    export_closed(runtime, now=end_of_day(datetime.now(UTC).date()))
    runtime.close()
    server = start_server(data_dir, tmp_path / "server.log")
    yield server
    server.stop()
