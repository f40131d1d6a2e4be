"""A server killed mid-delivery loses nothing and stores nothing twice.

A registry retries every envelope until it gets a 2xx. The server is SIGKILLed while such a
sender is posting; the sender keeps retrying, a new server starts on the same data dir, and
after ``pullstats process`` the lake holds each distinct event exactly once.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import httpx
import pytest

from tests.conftest import Server, run_cli, start_server
from tests.envelopes import ENVELOPE_TYPE, envelope, pull_event

ENVELOPES = 40
EVENTS_PER_ENVELOPE = 25
KILL_AFTER = 10  # envelopes acknowledged before the kill


class RetryingSender(threading.Thread):
    """Posts envelopes of distinct events in order, each until a 200, to whatever ``url`` is."""

    def __init__(self, url: str, token: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.token = token
        self.sent_ids: list[str] = []
        self.delivered = 0
        self.failed_attempts = 0
        self.stop = threading.Event()

    def run(self) -> None:
        start = datetime(2026, 10, 5, 12, tzinfo=UTC)
        with httpx.Client(timeout=2) as client:
            for n in range(ENVELOPES):
                events = [
                    pull_event(
                        start + timedelta(seconds=n * EVENTS_PER_ENVELOPE + k),
                        "acme/api",
                        tag="1.0",
                        addr=f"198.51.100.{k + 1}:40000",
                        event_id=str(uuid.uuid4()),
                    )
                    for k in range(EVENTS_PER_ENVELOPE)
                ]
                self.sent_ids += [event["id"] for event in events]
                body = envelope(*events)
                while not self._deliver(client, body):
                    if self.stop.is_set():
                        return
                    self.failed_attempts += 1
                    time.sleep(0.05)
                self.delivered += 1

    def _deliver(self, client: httpx.Client, body: dict[str, object]) -> bool:
        try:
            response = client.post(
                f"{self.url}/ingest/v1/registry/events",
                json=body,
                headers={"Authorization": f"Bearer {self.token}", "Content-Type": ENVELOPE_TYPE},
            )
        except httpx.HTTPError:
            return False
        return response.status_code == 200


def _wait_for(condition: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.01)
    raise AssertionError("timed out")


@pytest.mark.e2e
def test_sigkill_during_delivery_loses_nothing_and_stores_nothing_twice(
    data_dir: Path, tmp_path: Path
) -> None:
    made = run_cli(data_dir, "ingest-tokens", "create", "crash-test")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip().splitlines()[-1]
    servers: list[Server] = [start_server(data_dir, tmp_path / "server-1.log")]
    sender = RetryingSender(servers[0].url, token)
    try:
        sender.start()
        _wait_for(lambda: sender.delivered >= KILL_AFTER, 20)
        servers[0].process.kill()  # SIGKILL: no shutdown, no segment closing
        servers[0].process.wait()
        killed_at = sender.delivered
        _wait_for(lambda: sender.failed_attempts > 0, 10)  # the sender sees the server gone
        servers.append(start_server(data_dir, tmp_path / "server-2.log"))
        sender.url = servers[1].url
        sender.join(timeout=30)
        assert not sender.is_alive(), "the sender did not finish"
    finally:
        sender.stop.set()
        for server in servers:
            server.stop()

    assert killed_at < ENVELOPES, "the kill must happen while envelopes are still being sent"
    assert sender.delivered == ENVELOPES
    processed = run_cli(data_dir, "process")
    assert processed.returncode == 0, processed.stderr
    requests = f"read_parquet('{data_dir}/lake/requests/day=*/*.parquet')"
    with duckdb.connect() as connection:
        counted = connection.execute(f"SELECT count(*), count(DISTINCT id) FROM {requests}")
        rows, distinct = counted.fetchone() or (0, 0)
        stored = {row[0] for row in connection.execute(f"SELECT id FROM {requests}").fetchall()}
    sent = set(sender.sent_ids)
    assert len(sent) == ENVELOPES * EVENTS_PER_ENVELOPE
    assert (rows, distinct) == (len(sent), len(sent))  # none lost, none twice
    assert stored == sent


def test_an_import_killed_as_its_files_reach_the_lake_leaves_their_days_to_classify(
    tmp_path: Path,
) -> None:
    """The days of a batch are recorded as pending before its files are in the lake. They
    were recorded after: an import killed between the two left days that the rerun dropped as
    already there, and no ``process`` ever classified them (nor said so)."""
    import os
    import signal
    import subprocess
    import sys

    from tests.conftest import cli_env

    data = tmp_path / "data"
    made = run_cli(
        data, "generate", "--out", str(tmp_path / "gen"), "--format", "nginx",
        "--events", "20000", "--days", "30", "--start", "2026-09-01", "--seed", "4",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    logs = sorted(str(path) for path in (tmp_path / "gen").rglob("*.log"))
    requests = data / "lake" / "requests"
    child = subprocess.Popen(
        [sys.executable, "-m", "pullstats", "ingest", "logs", *logs],
        env=cli_env(data),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while not any(requests.glob("day=*/*.parquet")) and child.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.002)
        os.kill(child.pid, signal.SIGKILL)  # as the first day's file is published
    finally:
        child.wait()
    again = run_cli(data, "ingest", "logs", *logs)
    assert again.returncode == 0, again.stderr
    processed = run_cli(data, "process")
    assert processed.returncode == 0, processed.stderr
    lake = data / "lake"
    with_requests, with_actions = (
        {path.parent.name for path in (lake / table).glob("day=*/*.parquet")}
        for table in ("requests", "actions")
    )
    assert len(with_requests) == 30
    assert with_actions == with_requests
    # what the killed import staged (its compaction's folder) went with the next job
    tmp = data / "tmp"
    left = [path.relative_to(tmp) for path in tmp.rglob("*") if "duckdb" not in path.parts]
    assert left in ([], [Path("job")]), left  # the jobs' staging folder, empty
