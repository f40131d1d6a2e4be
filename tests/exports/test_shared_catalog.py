"""Several servers on one PostgreSQL catalog, each with its job schedule on: events sent through
every one of them are counted once, and each (namespace, period, view) is exported once.

Two ``pullstats serve`` processes on two ports, and one ``pullstats serve --workers 2`` (two
worker processes, a scheduler each), share one data dir and one catalog database. Their
scheduled ``process`` and ``export`` jobs take the job lock in the database (an advisory lock),
so they take turns; a period exported by one is up to date for the others.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from pullstats.config import Settings
from pullstats.db.models import ExportFile, ExportPeriod
from pullstats.periods import last_complete_months
from pullstats.runtime import Runtime
from tests.conftest import Server, fresh_postgres_url, run_cli, start_server
from tests.envelopes import ENVELOPE_TYPE, envelope, pull_event

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.scaleout]

#: how long the servers get to process and export everything before the test fails
PATIENCE = 240.0


def _monday_in_last_complete_month() -> datetime:
    """Noon on a Monday whose Tuesday is in the same month: one ISO week, one month."""
    first = last_complete_months(datetime.now(UTC).date(), 1)[0]
    day = first + timedelta(days=1)
    while day.weekday() != 0:
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC)


MONDAY = _monday_in_last_complete_month()
TUESDAY = MONDAY + timedelta(days=1)
WEEK = "{}-W{:02d}".format(*MONDAY.isocalendar()[:2])
MONTH = f"{MONDAY:%Y-%m}"


def _pull(instant: datetime, repository: str, tag: str, ip: str) -> dict[str, object]:
    return pull_event(instant, repository, tag=tag, addr=f"{ip}:40000")


#: what each server receives: one pull per event (distinct addresses or minutes apart)
THROUGH_FIRST = [
    _pull(MONDAY, "acme/api", "1.0", "10.0.0.1"),
    _pull(MONDAY + timedelta(minutes=1), "acme/api", "1.0", "10.0.0.2"),
    _pull(MONDAY + timedelta(minutes=2), "acme/api", "1.0", "10.0.0.3"),
    _pull(MONDAY, "beta/web", "2.0", "10.0.1.1"),
]
THROUGH_SECOND = [
    _pull(TUESDAY, "acme/api", "1.0", "10.0.0.4"),
    _pull(TUESDAY + timedelta(hours=1), "acme/api", "1.0", "10.0.0.1"),  # Monday's address again
    _pull(TUESDAY, "beta/web", "2.0", "10.0.1.2"),
]
#: each exported period's namespace-summary row, worked by hand: acme has 5 pulls by tag from 4
#: addresses (10.0.0.1 twice) in the week and in the month, beta 2 from 2 addresses; Monday and
#: Tuesday lie in one ISO week and one month
#: namespace-summary rows, worked by hand: acme has 5 pulls by tag from 4 addresses (10.0.0.1
#: twice) in the week and in the month, beta 2 from 2; both days lie in one week and one month
EXPECTED = {
    ("acme", WEEK): ("acme", "4", "5", "0"),
    ("acme", MONTH): ("acme", "4", "5", "0"),
    ("beta", WEEK): ("beta", "2", "2", "0"),
    ("beta", MONTH): ("beta", "2", "2", "0"),
}
VIEWS = ("raw", "summary", "repo-summary", "namespace-summary", "summary-report",
         "trends-report", "co-usage-report")  # fmt: skip


def _label(kind: str, start: date) -> str:
    return "{}-W{:02d}".format(*start.isocalendar()[:2]) if kind == "week" else f"{start:%Y-%m}"


def _send(server: Server, token: str, events: list[dict[str, object]]) -> None:
    with server.client() as client:
        for event in events:  # one delivery an event: the servers' spools interleave
            response = client.post(
                "/ingest/v1/registry/events",
                json=envelope(event),
                headers={"Authorization": f"Bearer {token}", "Content-Type": ENVELOPE_TYPE},
            )
            assert response.status_code == 200, response.text
            assert response.json()["accepted"] == 1, response.text


def _summary_rows(runtime: Runtime) -> dict[tuple[str, str], tuple[str, ...]]:
    """Each exported period's namespace-summary row: (namespace, unique ips, by tag, by digest)."""
    rows = {}
    with runtime.sessions() as session:
        entries = session.scalars(select(ExportFile).where(ExportFile.view == "namespace-summary"))
        for entry in entries:
            try:
                data = gzip.decompress((runtime.paths.exports / entry.path).read_bytes())
            except FileNotFoundError:  # swapped out by an export since the query: ask again
                return {}
            table = list(csv.DictReader(io.StringIO(data.decode())))
            assert len(table) == 1, table
            row = table[0]
            key = (entry.namespace, _label(entry.period_kind, entry.period_start))
            rows[key] = tuple(
                row[c] for c in ("namespace", "unique_ip_count", "pull_by_tag", "pull_by_digest")
            )
    return rows


def _export_times(runtime: Runtime) -> dict[tuple[str, str], datetime]:
    """When each (namespace, period) was last exported."""
    with runtime.sessions() as session:
        return {
            (p.namespace, _label(p.period_kind, p.period_start)): p.exported_at
            for p in session.scalars(select(ExportPeriod))
        }


def _rounds(log: Path) -> int:
    return len(re.findall(r"scheduled round \d+ ", log.read_text()))


def _text(logs: list[Path]) -> str:
    return "".join(log.read_text() for log in logs)


def _wait_for(what: str, done: object, logs: list[Path]) -> None:
    deadline = time.monotonic() + PATIENCE
    while not done():  # type: ignore[operator]
        if time.monotonic() > deadline:
            tails = "\n".join(log.read_text()[-3000:] for log in logs)
            pytest.fail(f"{what} did not happen in {PATIENCE:.0f} s:\n{tails}")
        time.sleep(0.5)


@pytest.mark.parametrize("layout", ["two-servers", "one-server-two-workers"])
def test_servers_sharing_a_catalog_export_every_period_once(
    layout: str, data_dir: Path, tmp_path: Path
) -> None:
    url = fresh_postgres_url()
    catalog = {"PULLSTATS_DATABASE_URL": url}

    def cli(*args: str) -> str:
        done = run_cli(data_dir, *args, env=catalog)
        assert done.returncode == 0, done.stderr
        return done.stdout

    token = cli("ingest-tokens", "create", "registry").strip().splitlines()[-1]
    cli("namespaces", "add", "acme")
    cli("namespaces", "add", "beta")

    scheduled = {**catalog, "PULLSTATS_SCHEDULE_INTERVAL": "1"}
    logs = [tmp_path / "first.log", tmp_path / "second.log"]
    per_log = 1  # schedulers writing to each log
    if layout == "two-servers":
        servers = [start_server(data_dir, log, scheduled) for log in logs]
    else:
        per_log = 2
        logs = logs[:1]
        servers = [start_server(data_dir, logs[0], scheduled, "--workers", "2")]
    runtime = Runtime.open(Settings(data_dir=data_dir, database_url=url), create=False)
    try:
        _send(servers[0], token, THROUGH_FIRST)
        _send(servers[-1], token, THROUGH_SECOND)
        _wait_for(
            "every period exported with every event",
            lambda: _summary_rows(runtime) == EXPECTED,
            logs,
        )
        exported_at = _export_times(runtime)
        # more rounds on every scheduler: nothing is left to export, and nobody exports again
        before = [_rounds(log) for log in logs]
        _wait_for(
            "two more scheduled rounds",
            lambda: all(
                _rounds(log) >= n + 2 * per_log for log, n in zip(logs, before, strict=True)
            ),
            logs,
        )
        assert _export_times(runtime) == exported_at
    finally:
        for server in servers:
            server.stop()
    try:
        assert _summary_rows(runtime) == EXPECTED
        with runtime.sessions() as session:
            files = list(session.scalars(select(ExportFile)))
            periods = list(session.scalars(select(ExportPeriod)))
        views = Counter((f.namespace, _label(f.period_kind, f.period_start), f.view) for f in files)
        assert views == Counter(
            {(ns, label, view): 1 for ns, label in EXPECTED for view in VIEWS}
        )  # one part each: a handful of rows
        assert sorted((p.namespace, _label(p.period_kind, p.period_start)) for p in periods) == (
            sorted(EXPECTED)
        )
        assert sum(int(n) for n in re.findall(r"export: exported (\d+) ", _text(logs))) >= 4
        # on disk, one export folder a (namespace, period): no second set written beside it
        for namespace, label in EXPECTED:
            folders = list((runtime.paths.exports / namespace / label).iterdir())
            assert len(folders) == 1, folders
        raw = {f.namespace: f.rows for f in files if f.view == "raw" and f.period_kind == "week"}
        assert raw == {"acme": 5, "beta": 2}
    finally:
        runtime.close()
