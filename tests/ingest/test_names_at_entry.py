"""Names too long for the exports, or outside the grammar, are refused where they enter ingest:
a notification event is rejected with its reason, an access-log line is counted under
``invalid_name``, a Docker Hub CSV row under ``invalid_namespace`` / ``invalid_repository``.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from pullstats.importers.dockerhub_csv import import_files
from pullstats.ingest.access_logs import LogParser
from pullstats.ingest.log_lines import open_log, read_line_chunks
from pullstats.ingest.notifications import parse_envelope
from pullstats.runtime import Runtime
from pullstats.timestamps import now_micros
from tests.envelopes import ENVELOPE_TYPE, pull_event

WHEN = datetime(2026, 10, 5, 12, 0, tzinfo=UTC)
NS64 = "n" * 64
NS65 = "n" * 65


def test_a_notification_with_a_namespace_over_64_characters_is_rejected_with_why() -> None:
    events = [
        pull_event(WHEN, f"{NS64}/app", tag="1.0"),
        pull_event(WHEN, f"{NS65}/app", tag="1.0"),
        pull_event(WHEN, "n" * 240 + "/app", tag="1.0"),
        pull_event(WHEN, "a/" + "b" * 254, tag="1.0"),
    ]
    body = json.dumps({"events": events}).encode()
    result = parse_envelope(body, ENVELOPE_TYPE, now_micros())
    assert [record.name for record in result.records] == [f"{NS64}/app"]
    reasons = dict(result.rejected)
    assert list(reasons) == [1, 2, 3]
    assert "its namespace is longer than 64 characters" in reasons[1]
    assert "its namespace is longer than 64 characters" in reasons[2]
    assert "(244 characters)" in reasons[2]  # a huge name is cut in the message
    assert "longer than 255 characters" in reasons[3]


def _log_line(name: str) -> str:
    return (
        f'192.0.2.1 - - [05/Oct/2026:12:00:00 +0000] "GET /v2/{name}/manifests/1.0 HTTP/1.1" '
        '200 1 "-" "docker/27.3.1"\n'
    )


def test_an_access_log_line_with_a_namespace_over_64_characters_is_invalid_name() -> None:
    data = "".join(_log_line(n) for n in [f"{NS64}/app", f"{NS65}/app", "n" * 240 + "/x"])
    with duckdb.connect() as connection:
        parser = LogParser(connection, "combined", received_us=now_micros())
        stream, position = open_log(io.BufferedReader(io.BytesIO(data.encode())))
        parsed = parser.parse(read_line_chunks(stream, position))
        names = [row[0] for row in connection.execute("SELECT name FROM log_lines").fetchall()]
    assert (parsed.lines, parsed.used) == (3, 1)
    assert parsed.skipped == {"invalid_name": 2}
    assert [(line, reason) for line, reason, _ in parsed.errors] == [
        (2, "invalid_name"),
        (3, "invalid_name"),
    ]
    assert names == [f"{NS64}/app"]


RAW_HEADER = (
    "Timestamp,Namespace,Repository,Reference,Digest,Tag,Action day,HTTP method,Action,Type,"
    "Host,Country,Domain,User agent tool,User agent version\n"
)


def _raw_row(namespace: str, repository: str) -> str:
    return (
        f"2026-01-05T00:00:09.000Z,{namespace},{repository},1.0,sha256:aaa,1.0,2026-01-05,GET,"
        "pull_by_tag,business,aws,US,example.com,docker,27.3.1\n"
    )


def test_docker_hub_raw_rows_with_bad_names_are_skipped_by_reason(
    runtime: Runtime, tmp_path: Path
) -> None:
    path = tmp_path / "hub_raw_2026-W02.csv"
    path.write_text(
        RAW_HEADER
        + _raw_row("acme", "api")  # line 2: imported
        + _raw_row(NS65, "api")  # line 3: namespace too long
        + _raw_row("Acme", "api")  # line 4: not the grammar
        + _raw_row("acme", "b" * 251)  # line 5: acme/ + 251 = 256 characters
        + _raw_row("acme", "API")  # line 6: not the grammar
        + _raw_row(NS64, "b" * 190)  # line 7: 64 + 1 + 190 = 255: imported
    )
    [report] = import_files(runtime, [path])
    assert report.status == "imported", report.error
    assert report.rows == 2
    assert dict(report.skipped) == {"invalid_namespace": 2, "invalid_repository": 2}
    assert [(row.line, row.reason, row.value) for row in report.listed] == [
        (3, "invalid_namespace", NS65),
        (4, "invalid_namespace", "Acme"),
        (5, "invalid_repository", "b" * 80),
        (6, "invalid_repository", "API"),
    ]


def test_docker_hub_summary_rows_with_bad_names_are_skipped_by_reason(
    runtime: Runtime, tmp_path: Path
) -> None:
    path = tmp_path / "hub_repo-summary_2026-W02.csv"
    row = "2026-01-05T00:00:00Z,2026-01-11T23:59:59Z,{},{},4,5,1,1\n"
    path.write_text(
        "Period Start,Period End,Namespace,Repository,Unique IPs,Pulls by tag,Pulls by digest,"
        "Version checks\n"
        + row.format("acme", "api")
        + row.format(NS65, "api")
        + row.format("acme", "tools//cli")
    )
    [report] = import_files(runtime, [path])
    assert report.status == "imported", report.error
    assert report.rows == 1
    assert dict(report.skipped) == {"invalid_namespace": 1, "invalid_repository": 1}
    assert [(row.line, row.reason) for row in report.listed] == [
        (3, "invalid_namespace"),
        (4, "invalid_repository"),
    ]
