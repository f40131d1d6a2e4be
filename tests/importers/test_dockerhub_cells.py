"""Docker Hub CSV cells held to the rules of the other ingest paths: a descriptive cell is cut
to the user agent's 1024 characters, a country is a two-letter code or unknown, and a time
more than 14 hours off UTC is no time (notifications and access logs refuse it too), and a
count is a whole number in digits, under a trillion."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from pullstats.importers.dockerhub_csv import FileReport, SkippedRow, import_files
from pullstats.periods import Period
from pullstats.pipeline import process
from pullstats.runtime import Runtime
from tests.importers.core_reports import register
from tests.importers.test_dockerhub_csv import of, rollups

HEADER = (
    "Timestamp,Namespace,Repository,Reference,Digest,Tag,Action day,HTTP method,Action,Type,"
    "Host,Country,Domain,User agent tool,User agent version,User agent\n"
)
LONG = "C" * 100_000


def raw_row(
    timestamp: str = "2026-10-05T10:00:00Z",
    country: str = "US",
    described: str = "x",
) -> str:
    cells = [timestamp, "hub", "app", "1.0", "sha256:" + "c" * 64, "1.0", "2026-10-05", "GET"]
    cells += ["pull_by_tag", described, described, country, described, described, described]
    return ",".join([*cells, described]) + "\n"


def imported(runtime: Runtime, path: Path) -> FileReport:
    (report,) = import_files(runtime, [path])
    assert report.status == "imported", report.error
    return report


def lake_rows(data_dir: Path, tree: str) -> list[dict[str, object]]:
    parts = sorted((data_dir / "lake" / tree).rglob("*.parquet"))
    return [row for part in parts for row in pq.read_table(part).to_pylist()]


def test_long_cells_are_cut_and_a_country_is_a_code_or_unknown(
    runtime: Runtime, data_dir: Path, tmp_path: Path
) -> None:
    path = tmp_path / "cells.csv"
    rows = [raw_row(described=LONG, country=LONG), raw_row(country="us"), raw_row(country="U1")]
    path.write_text(HEADER + "".join(rows))
    report = imported(runtime, path)
    assert (report.rows, dict(report.skipped)) == (3, {})
    long_row, lower, digit = lake_rows(data_dir, "imported")
    described = ("type", "host", "domain", "user_agent_tool", "user_agent_version", "user_agent")
    # before: each cell kept whole, 100,000 characters, and the country too
    assert {column: len(str(long_row[column])) for column in described} == dict.fromkeys(
        described, 1024
    )
    assert [long_row["country"], lower["country"], digit["country"]] == ["", "US", ""]


def test_a_time_more_than_14_hours_off_utc_is_a_bad_timestamp(
    runtime: Runtime, data_dir: Path, tmp_path: Path
) -> None:
    path = tmp_path / "offsets.csv"
    times = [
        "2026-10-05T10:00:00+25:00",  # line 2: before, imported as 2026-10-04 09:00 UTC
        "2026-10-05T10:00:00-15:00",
        # past ±14:00, as notifications and access logs refuse them (tests/ingest/
        # test_utc_offsets.py)
        "2026-10-05T10:00:00+14:59",
        "2026-10-05T10:00:00-14:01",
        # minutes past 59, seconds, a zone's name before the offset: DuckDB read them as
        # +06:00, +06:00, +00:00 and +14:00
        "2026-10-05T10:00:00+05:60",
        "2026-10-05T10:00:00+0560",
        "2026-10-05T10:00:00+00:00:30",
        "2026-10-05T10:00:00 UTC+14:30",
        "2026-10-05T10:00:00-14:00",
        "2026-10-05T10:00:00+14:00",
        "2026-10-05 10:00:00 UTC",
        "2026-10-05T10:00:00+0530",
        "2026-10-05T10:00:00.250-03",
        "2026-10-05T10:00:00-03:30",
        "2026-10-05T10:00:00",
    ]
    path.write_text(HEADER + "".join(raw_row(timestamp=time) for time in times))
    report = imported(runtime, path)
    assert (report.rows, dict(report.skipped)) == (7, {"bad_timestamp": 8})
    assert report.listed == [
        SkippedRow(line, "bad_timestamp", times[line - 2]) for line in range(2, 10)
    ]


def test_a_trends_report_country_is_a_code_or_unknown(
    runtime: Runtime, data_dir: Path, tmp_path: Path
) -> None:
    header = (
        "DATE_GRANULARITY,DATE_REFERENCE,PUBLISHER_NAME,IMAGE_REPOSITORY,NAMESPACE,IP_COUNTRY,"
        "CLOUD_SERVICE_PROVIDER,USER_AGENT,TAG,DATA_DOWNLOADS,VERSION_CHECKS,PULLS,"
        "UNIQUE_AUTHENTICATED_USERS,UNIQUE_UNAUTHENTICATED_USERS\n"
    )
    path = tmp_path / "trends.csv"
    path.write_text(
        header
        + f"MONTHLY,2026-01-01,acme,acme/api,acme,{LONG},{LONG},{LONG},1.0,40,10,50,3,7\n"
        + "MONTHLY,2026-01-01,acme,acme/api,acme,de,aws,docker,2.0,9,1,10,1,1\n"
    )
    report = imported(runtime, path)
    assert (report.rows, dict(report.skipped)) == (2, {})
    rows = sorted(lake_rows(data_dir, "imported-trends"), key=lambda row: str(row["tag"]))
    # before: the 100,000 Cs were the country the counts by country showed
    assert [row["country"] for row in rows] == ["", "DE"]
    assert [len(str(row["user_agent"])) for row in rows] == [1024, 6]
    assert [len(str(row["cloud_provider"])) for row in rows] == [1024, 3]


def test_a_tag_or_digest_outside_the_notifications_patterns_is_skipped(
    runtime: Runtime, data_dir: Path, tmp_path: Path
) -> None:
    good = raw_row()
    rows = [
        good,
        good.replace(",1.0,sha256:", ",bad tag!,sha256:").replace(",1.0,2026", ",bad tag!,2026"),
        good.replace("sha256:" + "c" * 64, "nope"),
        good.replace(",1.0,sha256:", ",,sha256:").replace(",1.0,2026", ",x y,2026"),
    ]
    path = tmp_path / "references.csv"
    path.write_text(HEADER + "".join(rows))
    report = imported(runtime, path)
    # before: all four imported and counted
    assert (report.rows, dict(report.skipped)) == (1, {"invalid_reference": 2, "invalid_digest": 1})
    assert report.listed == [
        SkippedRow(3, "invalid_reference", "bad tag!"),
        SkippedRow(4, "invalid_digest", "nope"),
        SkippedRow(5, "invalid_reference", "x y"),
    ]


def test_a_count_is_digits_alone_and_under_a_trillion(runtime: Runtime, tmp_path: Path) -> None:
    register(runtime)  # acme
    path = tmp_path / "hub_repo-summary_2026-W02.csv"
    # each bad cell was read by a cast: 2.5 as 3, 1e3 and 1_000 as 1000, 0x10 as 16; and
    # BIGINT's largest number was taken, which made every later `process` overflow
    bad = ["2.5", "1e3", "0x10", "1_000", "-1", "+5", "١٢", "9223372036854775807", "1000000000000"]
    lines = [f"acme,bad{i},1,{cell},0,0\n" for i, cell in enumerate(bad)]
    lines.append("acme,big,1,999999999999,999999999999,0\n")  # 12 digits: the largest taken
    lines.append("acme,padded,2,0007,0,3\n")
    header = "Namespace,Repository,Unique IPs,Pull by tag,Pull by digest,Version check\n"
    path.write_text(header + "".join(lines))
    report = imported(runtime, path)
    assert (report.rows, dict(report.skipped)) == (2, {"bad_count": len(bad)})
    assert [(row.line, row.reason) for row in report.listed] == [
        (line, "bad_count") for line in range(2, 2 + len(bad))
    ]
    process(runtime)  # before: "Overflow in addition of INT64", on this run and every later one
    week = Period.week(2026, 2)
    assert of(rollups(runtime), week) == {
        "repository:big:": (999_999_999_999, 999_999_999_999, 0, 1),
        "repository:padded:": (7, 0, 3, 2),
        "namespace::": (1_000_000_000_006, 999_999_999_999, 3, 0),
    }
