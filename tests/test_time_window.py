"""Request times outside 2000-01-01 … clock + PULLSTATS_MAX_CLOCK_SKEW (issue 14 §2.1).

Such a time used to be accepted and then crash ``process`` (OverflowError on ``day ± 1``) or
``ingest logs`` itself. Every ingest path now rejects it with a counted reason, and ``process``
sets aside what reached the spool or the lake before: the rest is processed.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pullstats.config import Settings
from pullstats.db.state import add_pending_days
from pullstats.ingest.errors import TimestampOutOfRange
from pullstats.ingest.notifications import parse_event
from pullstats.ingest.records import PullRequestRecord
from pullstats.ingest.time_window import TimeWindow
from pullstats.pipeline import process
from pullstats.runtime import Runtime
from pullstats.timestamps import micros, now_micros
from tests.api.test_ingest import ingest_token, post
from tests.conftest import Server, catalog_settings, run_cli, write_spool
from tests.duckdb_cursor import duckdb_cursor
from tests.envelopes import envelope, pull_event

FIRST = "0001-01-01T00:00:00Z"
LAST = "9999-12-31T23:59:59Z"
YESTERDAY = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0) - timedelta(
    days=1
)


def event_at(timestamp: str, tag: str = "1.0") -> dict[str, object]:
    event = pull_event(YESTERDAY, "acme/api", tag=tag)
    event["timestamp"] = timestamp
    return event


def record_at(ts_us: int, event_id: str) -> PullRequestRecord:
    return PullRequestRecord(
        event_id, ts_us, "GET", "acme/api", "1.0", "", "203.0.113.7", "docker/27.3.1",
        "notification", now_micros(),
    )  # fmt: skip


def action_count(data_dir: Path) -> int:
    files = list((data_dir / "lake" / "actions").glob("day=*/actions.parquet"))
    if not files:
        return 0
    with duckdb_cursor() as connection:
        query = f"SELECT count(*) FROM read_parquet({[str(f) for f in files]})"
        return int(connection.execute(query).fetchall()[0][0])


# -- the window itself ---------------------------------------------------------------------------

RECEIVED = micros(datetime(2026, 10, 5, 12, tzinfo=UTC))


@pytest.mark.parametrize(
    ("timestamp", "accepted"),
    [
        (FIRST, False),
        (LAST, False),
        ("1999-12-31T23:59:59.999999Z", False),
        ("2000-01-01T00:00:00Z", True),
        ("2026-10-06T12:00:00Z", True),  # exactly a day ahead of the server
        ("2026-10-06T12:00:00.000001Z", False),
        ("2026-10-06T13:00:00+01:00", True),  # the same instant as two above
    ],
)
def test_the_window_runs_from_2000_to_a_day_past_the_clock(timestamp: str, accepted: bool) -> None:
    event = event_at(timestamp)
    if accepted:
        assert not isinstance(parse_event(event, RECEIVED), str)
    else:
        with pytest.raises(TimestampOutOfRange, match="outside 2000-01-01T00:00:00Z to"):
            parse_event(event, RECEIVED)


def test_the_skew_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULLSTATS_MAX_CLOCK_SKEW", "PT1H")
    window = TimeWindow.at(RECEIVED, Settings().max_clock_skew)
    assert window.latest_us == RECEIVED + 3_600_000_000
    assert not window.holds_day(date(2026, 10, 7)) and window.holds_day(date(2026, 10, 5))
    monkeypatch.setenv("PULLSTATS_MAX_CLOCK_SKEW", "P400D")
    with pytest.raises(ValueError, match="between 0 and 366 days"):
        Settings()


# -- notifications: rejected per event, then process runs ---------------------------------------


@pytest.mark.e2e
def test_notifications_out_of_the_window_are_rejected_and_process_runs(server: Server) -> None:
    token = ingest_token(server.data_dir)
    body = json.dumps(envelope(event_at(FIRST), event_at(LAST), event_at(_rfc3339(YESTERDAY))))
    answer = post(server, token, body.encode())
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["accepted"] == 1
    assert [r["index"] for r in report["rejected"]] == [0, 1]
    assert FIRST in report["rejected"][0]["error"] and "outside" in report["rejected"][0]["error"]
    assert LAST in report["rejected"][1]["error"]
    with server.client() as client:
        metrics = client.get("/metrics").text
    assert (
        'pullstats_ingest_events_total{outcome="rejected",reason="timestamp_out_of_range"} 2.0'
        in metrics
    )
    processed = run_cli(server.data_dir, "process")
    assert processed.returncode == 0, processed.stderr
    assert action_count(server.data_dir) == 1


# -- process: what reached the spool or the lake before the window was checked -------------------


def test_spool_records_outside_the_window_are_set_aside_and_the_rest_processed(
    runtime: Runtime, data_dir: Path, tmp_path: Path
) -> None:
    good = micros(YESTERDAY)
    write_spool(
        runtime,
        record_at(micros(datetime(1, 1, 1, tzinfo=UTC)), "first"),
        record_at(good, "good-1"),
        record_at(micros(datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)), "last"),
        record_at(good + 60_000_000, "good-2"),
    )
    processed = run_cli(data_dir, "process")
    assert processed.returncode == 0, processed.stderr
    assert "2 new requests" in processed.stdout
    assert "2 set aside (timestamp_out_of_range 2)" in processed.stdout
    assert action_count(data_dir) == 2
    status = run_cli(data_dir, "status")
    assert status.returncode == 0, status.stderr
    assert "set aside by process: 2 records (timestamp_out_of_range 2)" in status.stdout
    # kept for inspection, with the address hashed: no raw IP outlives the spool
    [part] = (data_dir / "lake" / "set-aside" / "timestamp_out_of_range" / "spool").glob("*")
    table = pq.read_table(part)
    assert sorted(table["id"].to_pylist()) == ["first", "last"]
    assert "ip" not in table.column_names and "ip_hash" in table.column_names
    # a second run finds nothing new and counts them once
    assert run_cli(data_dir, "process").returncode == 0
    assert "(timestamp_out_of_range 2)" in run_cli(data_dir, "status").stdout


def test_status_without_a_data_dir_says_so_and_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    status = run_cli(missing, "status")
    assert status.returncode == 1
    # the words of every command that creates nothing (docs/operations.md)
    assert f"no pullstats data dir at {missing}: set PULLSTATS_DATA_DIR" in " ".join(
        status.stderr.split()
    )
    assert not missing.exists()


def test_lake_days_outside_the_window_are_set_aside(runtime: Runtime, data_dir: Path) -> None:
    # what an import before the fix left: a day's requests in the lake and the day pending
    far = data_dir / "lake" / "requests" / "day=0001-01-01"
    far.mkdir(parents=True)
    pq.write_table(pa.table({"id": ["old"], "ts": [0]}), far / "part-old-0.parquet")
    with runtime.sessions.begin() as session:
        add_pending_days(session, [date(1, 1, 1), date(9999, 12, 31)])
    write_spool(runtime, record_at(micros(YESTERDAY), "good"))
    processed = run_cli(data_dir, "process")
    assert processed.returncode == 0, processed.stderr
    # the day that held requests; 9999-12-31 held none, and nothing of it was set aside
    assert (
        "set aside 1 day outside the accepted window, not classified: 0001-01-01"
        in processed.stdout
    )
    assert action_count(data_dir) == 1
    assert not far.exists()
    assert "(timestamp_out_of_range 1)" in run_cli(data_dir, "status").stdout
    # nothing is left pending: the next run is clean
    again = run_cli(data_dir, "process")
    assert again.returncode == 0 and "set aside" not in again.stdout


def test_a_request_at_the_windows_edge_sets_nothing_aside(runtime: Runtime) -> None:
    # its day's neighbour, 1999-12-31, is pending with it (classified together) but outside
    # the window: the run said "set aside 1 day … 1999-12-31" of a day that held nothing
    write_spool(runtime, record_at(micros(datetime(2000, 1, 1, 0, 0, 5, tzinfo=UTC)), "edge"))
    result = process(runtime)
    assert result.days_set_aside == []
    assert date(2000, 1, 1) in result.days and date(1999, 12, 31) not in result.days
    assert result.actions == 1


def test_a_rebuild_reaching_the_end_of_the_calendar_does_not_overflow(data_dir: Path) -> None:
    assert run_cli(data_dir, "db", "upgrade").returncode == 0  # the jobs make no installation
    rebuilt = run_cli(
        data_dir, "process", "--rebuild", "--from", "9999-12-30", "--to", "9999-12-31"
    )
    assert rebuilt.returncode == 0, rebuilt.stderr
    # the range holds no day a request can fall on: said, not passed over in silence
    assert re.fullmatch(
        r"note: no day of --from\.\.--to was rebuilt: requests can fall only from "
        r"2000-01-01T00:00:00Z to \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ "
        r"\(PULLSTATS_MAX_CLOCK_SKEW past the server clock\)",
        rebuilt.stderr.splitlines()[-1],  # after the progress bars
    ), rebuilt.stderr


def test_a_rebuild_from_before_2000_says_which_days_it_rebuilt(data_dir: Path) -> None:
    assert run_cli(data_dir, "db", "upgrade").returncode == 0
    rebuilt = run_cli(
        data_dir, "process", "--rebuild", "--from", "1999-12-30", "--to", "2000-01-02"
    )
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert rebuilt.stderr.splitlines()[-1].startswith(
        "note: rebuilt 2000-01-01 … 2000-01-02 only: requests can fall only from "
        "2000-01-01T00:00:00Z to "
    ), rebuilt.stderr
    assert "actions on 2 days" in rebuilt.stdout
    # a range inside the window is rebuilt as asked, without a note
    inside = run_cli(data_dir, "process", "--rebuild", "--from", "2000-01-01", "--to", "2000-01-02")
    assert inside.returncode == 0 and "note:" not in inside.stderr
    assert "actions on 2 days" in inside.stdout


@pytest.mark.e2e
def test_set_aside_records_are_a_metric(server: Server) -> None:
    runtime = Runtime.open(catalog_settings(server.data_dir))
    try:
        write_spool(runtime, record_at(micros(datetime(1, 1, 1, tzinfo=UTC)), "first"))
    finally:
        runtime.close()
    assert run_cli(server.data_dir, "process").returncode == 0
    with server.client() as client:
        metrics = client.get("/metrics").text
    assert 'pullstats_set_aside_records{reason="timestamp_out_of_range"} 1.0' in metrics


# -- access logs and Docker Hub CSVs --------------------------------------------------------------


def log_line(time_local: str, tag: str) -> str:
    return (
        f'203.0.113.7 - - [{time_local}] "GET /v2/acme/api/manifests/{tag} HTTP/1.1" 200 1609 '
        '"-" "docker/27.3.1 go/go1.22.7"\n'
    )


def test_access_log_lines_outside_the_window_are_skipped_with_their_reason(
    data_dir: Path,
) -> None:
    good = YESTERDAY.strftime("%d/%b/%Y:%H:%M:%S +0000")
    text = (
        log_line("01/Jan/0001:00:00:00 +0000", "1.0")
        + log_line("31/Dec/9999:23:59:59 +0000", "1.1")
        + log_line(good, "1.2")
    )
    imported = run_cli(data_dir, "ingest", "logs", "-", stdin=text)
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.splitlines()[0] == (
        "stdin: 3 lines read, 1 used, 2 skipped (timestamp_out_of_range 2)"
    )
    assert "stdin: timestamp_out_of_range at lines 1, 2" in imported.stdout
    assert "203.0.113.7" not in imported.stdout  # bad lines are named by number, never echoed
    processed = run_cli(data_dir, "process")
    assert processed.returncode == 0, processed.stderr
    assert action_count(data_dir) == 1


def test_csv_rows_outside_the_window_are_skipped_with_their_reason(
    data_dir: Path, tmp_path: Path
) -> None:
    header = "Timestamp,Namespace,Repository,Reference,Digest,Tag,HTTP method,Action\n"
    rows = [
        f"{FIRST},acme,api,1.0,sha256:aaa,1.0,GET,pull_by_tag",
        f"{LAST},acme,api,1.0,sha256:aaa,1.0,GET,pull_by_tag",
        f"{_rfc3339(YESTERDAY)},acme,api,1.0,sha256:aaa,1.0,GET,pull_by_tag",
    ]
    csv = tmp_path / "hub_raw.csv"
    csv.write_text(header + "\n".join(rows) + "\n")
    imported = run_cli(data_dir, "import", "dockerhub-csv", str(csv))
    assert "1 row imported, 2 rows skipped (timestamp_out_of_range 2)" in imported.stdout
    assert f"hub_raw.csv:2: skipped (timestamp_out_of_range): {FIRST}" in imported.stderr
    processed = run_cli(data_dir, "process")
    assert processed.returncode == 0, processed.stderr
    assert action_count(data_dir) == 1


def _rfc3339(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ")
