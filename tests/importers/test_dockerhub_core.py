"""Docker's current ("DVP Core") Summary and Trends reports (issue 21, item 4), imported plain and
gzipped and read back from the rollups; through a running server's API and the exports in
``test_dockerhub_core_served.py``. The reports are written in :mod:`tests.importers.core_reports`.

Expected numbers are worked by hand from the rows written there.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from sqlalchemy import select

from pullstats.accounts import service
from pullstats.db.models import BreakdownRollup, CountryRollup, TrendRollup
from pullstats.ingest.dockerhub_columns import FileKind, UnrecognisedFile, parse_header
from pullstats.pipeline import process
from pullstats.runtime import Runtime
from tests.conftest import run_cli, write_one_pull
from tests.importers.core_reports import (
    DIGEST,
    EARLIER,
    MONTH,
    SUMMARY_MONTH,
    SUMMARY_WEEK,
    TRENDS_MONTH,
    WEEK,
    imported,
    register,
    summary_report,
    trends_report,
    write,
)
from tests.importers.test_dockerhub_csv import of, rollups


@pytest.mark.parametrize("gzipped", [False, True], ids=["plain", "gzip"])
def test_a_summary_report_becomes_rollups_at_its_levels(
    runtime: Runtime, tmp_path: Path, gzipped: bool
) -> None:
    register(runtime)
    path = write(tmp_path / "summary.csv", summary_report(), gzipped)
    [report] = imported(runtime, path)
    assert report.kind is FileKind.CORE_SUMMARY
    assert report.rows == 6
    assert dict(report.skipped) == {
        "missing_repository": 1,
        "bad_period": 1,
        "unknown_level": 1,
        "bad_count": 1,
    }
    assert [(row.line, row.reason, row.value) for row in report.listed] == [
        (8, "missing_repository", "latest"),
        (9, "bad_period", f"WEEKLY {(WEEK.start + timedelta(days=1)).isoformat()}"),
        (10, "unknown_level", "branch"),
        (11, "bad_count", "DATA_DOWNLOADS 1, VERSION_CHECKS 1, EVENT_COUNT 5"),
    ]
    assert sorted(report.periods) == sorted([WEEK, MONTH])
    process(runtime)
    found = rollups(runtime)
    assert of(found, WEEK) == SUMMARY_WEEK
    assert of(found, MONTH) == SUMMARY_MONTH


@pytest.mark.parametrize("gzipped", [False, True], ids=["plain", "gzip"])
def test_a_trends_report_adds_up_per_repository_and_tag_and_is_kept_as_it_is(
    runtime: Runtime, data_dir: Path, tmp_path: Path, gzipped: bool
) -> None:
    register(runtime)
    path = write(tmp_path / "trends.csv", trends_report(), gzipped)
    [report] = imported(runtime, path)
    assert (report.kind, report.rows, dict(report.skipped)) == (FileKind.CORE_TRENDS, 4, {})
    process(runtime)
    assert of(rollups(runtime), EARLIER) == TRENDS_MONTH
    # the report's clouds and clients feed the breakdowns: docker from aws and gcp and
    # containerd outside a cloud are CI/CD; docker-scout (a scanner) Unknown
    with runtime.sessions() as session:
        use_cases = {
            (r.dimension, r.value): (r.pull_by_tag, r.pull_by_digest, r.version_check)
            for r in session.scalars(
                select(BreakdownRollup).where(
                    BreakdownRollup.level == "namespace",
                    BreakdownRollup.period_start == EARLIER.start,
                    BreakdownRollup.dimension.in_(("use_case", "category")),
                )
            )
        }
    assert use_cases == {
        ("use_case", "CI/CD"): (46, 9, 11),
        ("use_case", "Unknown"): (0, 0, 12),
        ("category", "engine"): (46, 9, 11),
        ("category", "scanner"): (0, 0, 12),
    }
    # the rows as they were, for the trends datasets: users kept, Docker's marks of nothing
    # (\N, "no csp") made pullstats' unknown, ''
    [part] = (data_dir / "lake" / "imported-trends" / "month" / EARLIER.start.isoformat()).iterdir()
    rows = pq.read_table(part).to_pylist()
    assert [
        (
            r["repository"],
            r["tag"],
            r["country"],
            r["cloud_provider"],
            r["user_agent"],
            r["data_downloads"],
            r["version_checks"],
            r["unique_authenticated_users"],
            r["unique_unauthenticated_users"],
        )
        for r in rows
    ] == [
        ("api", "1.0", "US", "aws", "docker", 40, 10, 3, 7),
        ("api", "1.0", "DE", "", "containerd", 6, 0, 0, 2),
        ("api", "", "US", "gcp", "docker", 9, 1, 1, 1),
        ("web", "latest", "", "", "docker-scout", 0, 12, 0, 4),
    ]


def test_the_same_period_from_both_reports_counts_once(runtime: Runtime, tmp_path: Path) -> None:
    # a Summary and a Trends report of the same month describe one population, never the sum:
    # the pulls of the file that counts more of them, the larger count of version checks
    register(runtime)
    summary = tmp_path / "summary.csv"
    summary.write_text(summary_report(month=EARLIER))
    trends = tmp_path / "trends.csv"
    trends.write_text(trends_report(EARLIER))
    imported(runtime, summary, trends)
    process(runtime)
    month = of(rollups(runtime), EARLIER)
    # Summary: api 500 downloads (all by tag), 100 checks; Trends: api 46 by tag + 9 by digest,
    # 11 checks. Not 500 + 9 pulls: the Summary's 500 hold the digest pulls already
    assert month["repository:api:"] == (500, 0, 100, 0)
    assert month["repository:web:"] == (0, 0, 12, 0)  # only in the Trends report


def test_both_reports_of_the_same_pulls_keep_the_trends_split(
    runtime: Runtime, tmp_path: Path
) -> None:
    """The two reports of one month as Docker writes them: the Summary counts a repository's
    55 downloads as pulls by tag, the Trends report splits them 46 by tag and 9 by digest (its
    ``\\N`` row). Taking the larger of each column made 55 + 9 = 64 pulls."""
    register(runtime)
    m = EARLIER.start.isoformat()
    summary = tmp_path / "summary.csv"
    summary.write_text(
        "DATE_GRANULARITY,DATE_REFERENCE,PUBLISHER_NAME,LEVEL,REFERENCE,DATA_DOWNLOADS,"
        "VERSION_CHECKS,EVENT_COUNT\n"
        f"MONTHLY,{m},acme,repository,acme/api,55,11,66\n"
        f"MONTHLY,{m},acme,tag,acme/api:1.0,46,10,56\n"
    )
    trends = tmp_path / "trends.csv"
    trends.write_text(trends_report(EARLIER))
    for files in ((summary, trends), (trends, summary)):  # in either order
        imported(runtime, *files)
        process(runtime)
        month = of(rollups(runtime), EARLIER)
        assert month["repository:api:"] == (46, 9, 11, 0)  # 55 pulls, as both files say
        assert month["reference:api:1.0"] == (46, 0, 10, 0)
        # the namespace adds its repositories up: api (46, 9, 11) and web (0, 0, 12)
        assert month["namespace::"] == (46, 9, 23, 0)


def test_two_downloads_of_one_trends_report_count_once(
    runtime: Runtime, data_dir: Path, tmp_path: Path
) -> None:
    # Docker recomputed the month between two downloads: two files (two hashes) of one period;
    # per key the larger value of each count, in the rollups and by country
    register(runtime)
    first = tmp_path / "trends-1.csv"
    first.write_text(trends_report())
    second = tmp_path / "trends-2.csv"
    second.write_text(
        trends_report().replace(",US,aws,docker,1.0,40,10,50,", ",US,aws,docker,1.0,38,11,49,")
    )
    imported(runtime, first, second)
    process(runtime)
    # api 1.0: max(40 + 6, 38 + 6) by tag, max(10, 11) checks; api: max(11, 12) checks; the
    # namespace is the sum of its repositories as merged: 12 + 12 checks
    assert of(rollups(runtime), EARLIER) == TRENDS_MONTH | {
        "reference:api:1.0": (46, 0, 11, 0),
        "repository:api:": (46, 9, 12, 0),
        "namespace::": (46, 9, 24, 0),
    }
    with runtime.sessions() as session:
        us = session.scalars(
            select(CountryRollup).where(
                CountryRollup.level == "repository",
                CountryRollup.repository == "api",
                CountryRollup.country == "US",
                CountryRollup.period_start == EARLIER.start,
            )
        ).one()
    # US: 40 (first file; 38 in the second) by tag and 9 by digest; checks max(10, 11) + 1
    assert (us.pull_by_tag, us.pull_by_digest, us.version_check) == (40, 9, 12)


def test_counts_given_as_a_total_and_one_part(runtime: Runtime, tmp_path: Path) -> None:
    register(runtime)
    path = tmp_path / "summary.csv"
    path.write_text(
        "DATE_GRANULARITY,DATE_REFERENCE,PUBLISHER_NAME,LEVEL,REFERENCE,VERSION_CHECKS,EVENT_COUNT\n"
        f"week,{WEEK.start.isoformat()},acme,repository,api,4,10\n"
        f"week,{WEEK.start.isoformat()},acme,repository,web,11,10\n"  # more checks than events
    )
    [report] = imported(runtime, path)
    assert (report.rows, dict(report.skipped)) == (1, {"bad_count": 1})
    process(runtime)
    assert of(rollups(runtime), WEEK)["repository:api:"] == (6, 0, 4, 0)  # 10 - 4 downloads


def test_the_namespace_comes_from_the_option_then_the_publisher(
    runtime: Runtime, data_dir: Path, tmp_path: Path
) -> None:
    register(runtime)
    with runtime.sessions.begin() as session:
        service.create_namespace(session, "acme-labs")
    # the Docker organisation "acme" publishes here as "acme-labs"
    path = tmp_path / "summary.csv"
    path.write_text(summary_report())
    bad = run_cli(data_dir, "import", "dockerhub-csv", "--namespace", "Acme!", str(path))
    assert bad.returncode != 0
    assert "--namespace: invalid namespace 'Acme!'" in bad.stderr
    done = run_cli(data_dir, "import", "dockerhub-csv", "--namespace", "acme-labs", str(path))
    assert done.returncode == 0, done.stderr
    assert f"{path}: core-summary, 6 rows imported, 4 rows skipped" in done.stdout
    assert f"{path}:10: skipped (unknown_level): branch" in done.stderr
    assert "--namespace not used" not in done.stderr
    process(runtime)
    found = rollups(runtime)
    assert {key[3] for key in found} == {"acme-labs"}
    # "acme/api" in REFERENCE is still the repository api of the publisher acme
    assert found[("week", WEEK.start, "repository", "acme-labs", "api", "")] == (120, 0, 30, 0)
    # a Trends report names its namespace in NAMESPACE: the option is not used, and says so
    trends = tmp_path / "trends.csv"
    trends.write_text(trends_report())
    kept = run_cli(data_dir, "import", "dockerhub-csv", "--namespace", "acme-labs", str(trends))
    assert kept.returncode == 0, kept.stderr
    assert (
        f"{trends}: --namespace not used: the file's Namespace column names its namespaces"
        in kept.stderr
    )


def test_core_headers_tell_their_kind_or_say_what_is_missing() -> None:
    summary = ["DATE_GRANULARITY", "DATE_REFERENCE", "PUBLISHER_NAME", "LEVEL", "REFERENCE"]
    counts = ["DATA_DOWNLOADS", "VERSION_CHECKS", "EVENT_COUNT"]
    assert parse_header([*summary, *counts]).kind is FileKind.CORE_SUMMARY
    trends = ["DATE_GRANULARITY", "DATE_REFERENCE", "PUBLISHER_NAME", "IMAGE_REPOSITORY", "TAG"]
    header = parse_header([*trends, "PULLS", "UNIQUE_AUTHENTICATED_USERS", "EXTRA"])
    assert header.kind is FileKind.CORE_TRENDS
    assert header.ignored == ("EXTRA",)
    with pytest.raises(UnrecognisedFile, match="without DATE_REFERENCE"):
        parse_header(["DATE_GRANULARITY", "PUBLISHER_NAME", "LEVEL", "REFERENCE", *counts])
    with pytest.raises(UnrecognisedFile, match="no NAMESPACE or PUBLISHER_NAME"):
        parse_header(["DATE_GRANULARITY", "DATE_REFERENCE", "LEVEL", "REFERENCE", *counts])
    assert (
        parse_header(
            ["DATE_GRANULARITY", "DATE_REFERENCE", "LEVEL", "REFERENCE", *counts], True
        ).kind
        is FileKind.CORE_SUMMARY
    )
    with pytest.raises(UnrecognisedFile, match="without DATA_DOWNLOADS"):
        parse_header(summary)


def test_legacy_tag_level_summary_alone_gives_its_repository_and_namespace(
    runtime: Runtime, tmp_path: Path
) -> None:
    # a legacy tag/digest-level summary imported without the repository-level file: a
    # repository's pulls are its references', the namespace's its repositories'
    register(runtime)
    path = tmp_path / f"acme_summary_{WEEK.label}.csv"
    path.write_text(
        "Namespace,Repository,Reference,Unique IP address count,Pull by tag,Pull by digest,"
        "Version check\n"
        "acme,api,1.0,4,7,0,2\n"
        f"acme,api,{DIGEST},1,0,3,0\n"
        "acme,web,latest,2,5,0,1\n"
    )
    imported(runtime, path)
    process(runtime)
    assert of(rollups(runtime), WEEK) == {
        "reference:api:1.0": (7, 0, 2, 4),
        f"reference:api:{DIGEST}": (0, 3, 0, 1),
        "reference:web:latest": (5, 0, 1, 2),
        "repository:api:": (7, 3, 2, 0),  # unique IPs of two references do not add up
        "repository:web:": (5, 0, 1, 0),
        "namespace::": (12, 3, 3, 0),
    }


@pytest.mark.parametrize("separator", [";", "\t", "|"])
def test_a_header_of_one_column_holding_another_separator_says_so(separator: str) -> None:
    """A file saved with semicolons (a spreadsheet in a comma-decimal locale): before, "no
    Namespace column in the header (Namespace;Unique IP count;…)", with no word of why."""
    names = separator.join(["Namespace", "Unique IP count", "Pull by tag"])
    with pytest.raises(UnrecognisedFile) as refused:
        parse_header([names])
    assert str(refused.value).endswith(
        f"the header is one column: the file is separated by {separator!r}, not by commas "
        "(Docker Hub's CSV files use commas)"
    ), str(refused.value)


def test_a_reported_client_is_the_tool_the_registrys_own_pulls_name(
    runtime: Runtime, tmp_path: Path
) -> None:
    # Go's net/http agent is "Go-http-client" to the user-agent parser; a Trends report (ours
    # read back, or Docker's) names it in any capitals, and was lower-cased: two tools
    register(runtime)
    m = EARLIER.start.isoformat()
    report = (
        trends_report().splitlines()[0] + "\n"
        f"monthly,{m},acme,acme/web,acme,US,no csp,go-http-client,1.0,4,1,5,0,2\n"
        f"monthly,{m},acme,acme/web,acme,US,no csp,DOCKER,1.0,3,0,3,0,1\n"
    )
    imported(runtime, write(tmp_path / "trends.csv", report, gzipped=False))
    when = datetime.combine(EARLIER.start + timedelta(days=3), time(12), UTC)
    write_one_pull(runtime, when, user_agent="Go-http-client/1.1")
    process(runtime)
    with runtime.sessions() as session:
        tools = {
            (r.repository, r.tool)
            for r in session.scalars(
                select(TrendRollup).where(TrendRollup.period_start == EARLIER.start)
            )
        }
        breakdown = {
            (r.repository, r.value)
            for r in session.scalars(
                select(BreakdownRollup).where(
                    BreakdownRollup.period_start == EARLIER.start,
                    BreakdownRollup.level == "repository",
                    BreakdownRollup.dimension == "tool_version",
                )
            )
        }
    expected = {("api", "Go-http-client"), ("web", "Go-http-client"), ("web", "docker")}
    # (the groupings without a tool have '')
    assert {(repo, tool) for repo, tool in tools if repo and tool} == expected
    assert breakdown == expected
