"""Docker's current ("DVP Core") Summary and Trends reports (issue 21, item 4), written to the
columns of Docker's *Insights and analytics* page, imported plain and gzipped, and read back
through the rollups, the DVP API of a running server and the exports.

Expected numbers are worked by hand from the rows written here. The reports' periods are set
relative to today, so that the API's relative windows (last 12 months, last weeks) hold them.
"""

from __future__ import annotations

import gzip
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from sqlalchemy import select

from pullstats.accounts import service
from pullstats.db.models import BreakdownRollup, CountryRollup
from pullstats.importers.dockerhub_csv import FileReport, import_files
from pullstats.ingest.dockerhub_columns import FileKind, UnrecognisedFile, parse_header
from pullstats.periods import Period, PeriodKind, period_of
from pullstats.pipeline import process
from pullstats.runtime import Runtime
from tests.conftest import run_cli, start_server
from tests.importers.test_dockerhub_csv import of, rollups
from tests.test_end_to_end import API, exported_rows, login

TODAY = datetime.now(UTC).date()
#: a closed week and a closed month, well inside the API's default windows
WEEK = period_of(PeriodKind.WEEK, TODAY - timedelta(weeks=5))
MONTH = period_of(PeriodKind.MONTH, (TODAY.replace(day=1) - timedelta(days=1)).replace(day=1))
#: the month before, for the Trends report
EARLIER = period_of(PeriodKind.MONTH, MONTH.start - timedelta(days=1))
DIGEST = "sha256:" + "a" * 64


def summary_report(week: Period = WEEK, month: Period = MONTH) -> str:
    """Docker's Summary report: a weekly and a monthly file's rows in one, with four bad rows."""
    w, m = week.start.isoformat(), month.start.isoformat()
    return (
        "DATE_GRANULARITY,DATE_REFERENCE,PUBLISHER_NAME,LEVEL,REFERENCE,DATA_DOWNLOADS,"
        "VERSION_CHECKS,EVENT_COUNT\n"
        f"WEEKLY,{w},acme,repository,acme/api,120,30,150\n"
        f"WEEKLY,{w},acme,repository,web,8,2,10\n"
        f"WEEKLY,{w},acme,tag,acme/api:1.0,100,25,125\n"
        f"WEEKLY,{w},acme,tag,api:latest,15,5,20\n"
        f"WEEKLY,{w},acme,digest,acme/api@{DIGEST},5,0,5\n"
        f"MONTHLY,{m},acme,repository,acme/api,500,100,600\n"
        # line 8: a tag without its repository (the report has no repository column)
        f"WEEKLY,{w},acme,tag,latest,1,0,1\n"
        # line 9: a week that does not start on a Monday
        f"WEEKLY,{(week.start + timedelta(days=1)).isoformat()},acme,repository,api,1,0,1\n"
        # line 10: a level Docker does not write
        f"WEEKLY,{w},acme,branch,api,1,0,1\n"
        # line 11: counts that do not add up to EVENT_COUNT
        f"WEEKLY,{w},acme,repository,db,1,1,5\n"
    )


def trends_report(month: Period = EARLIER) -> str:
    """Docker's Trends report of one month: a repository's pulls split by country, cloud,
    client tool and tag (``\\N``: pulled by digest)."""
    m = month.start.isoformat()
    return (
        "DATE_GRANULARITY,DATE_REFERENCE,PUBLISHER_NAME,IMAGE_REPOSITORY,NAMESPACE,IP_COUNTRY,"
        "CLOUD_SERVICE_PROVIDER,USER_AGENT,TAG,DATA_DOWNLOADS,VERSION_CHECKS,PULLS,"
        "UNIQUE_AUTHENTICATED_USERS,UNIQUE_UNAUTHENTICATED_USERS\n"
        f"monthly,{m},acme,acme/api,acme,US,aws,docker,1.0,40,10,50,3,7\n"
        f"monthly,{m},acme,acme/api,acme,DE,no csp,containerd,1.0,6,0,6,0,2\n"
        f"monthly,{m},acme,acme/api,acme,US,gcp,docker,\\N,9,1,10,1,1\n"
        f"monthly,{m},acme,acme/web,acme,\\N,no csp,docker-scout,latest,0,12,12,0,4\n"
    )


def write(path: Path, text: str, gzipped: bool) -> Path:
    if gzipped:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def register(runtime: Runtime) -> None:
    with runtime.sessions.begin() as session:
        service.create_namespace(session, "acme")


def imported(runtime: Runtime, *paths: Path, namespace: str | None = None) -> list[FileReport]:
    reports = import_files(runtime, list(paths), namespace=namespace)
    assert [r.error for r in reports if r.status == "failed"] == []
    return reports


#: the Summary report's rollups, worked by hand (by tag, by digest, version checks, unique IPs)
SUMMARY_WEEK = {
    # a repository's DATA_DOWNLOADS are not split by Docker: recorded as pulls by tag
    "repository:api:": (120, 0, 30, 0),
    "repository:web:": (8, 0, 2, 0),
    # the report has no namespace level: the sum of its repositories (pulls add up)
    "namespace::": (128, 0, 32, 0),
    "reference:api:1.0": (100, 0, 25, 0),
    "reference:api:latest": (15, 0, 5, 0),
    f"reference:api:{DIGEST}": (0, 5, 0, 0),  # a digest's downloads are pulls by digest
}
SUMMARY_MONTH = {"repository:api:": (500, 0, 100, 0), "namespace::": (500, 0, 100, 0)}
#: the Trends report's rollups: api 1.0 is 40 + 6 by tag and 10 + 0 checks; api's untagged 9
#: downloads are by digest, its checks 10 + 0 + 1; web only checks, 12
TRENDS_MONTH = {
    "reference:api:1.0": (46, 0, 10, 0),
    "repository:api:": (46, 9, 11, 0),
    "reference:web:latest": (0, 0, 12, 0),
    "repository:web:": (0, 0, 12, 0),
    "namespace::": (46, 9, 23, 0),
}


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
    # a Summary and a Trends report of the same month describe one population: per key the
    # larger value of each count (as for two downloads of one legacy summary), never the sum
    register(runtime)
    summary = tmp_path / "summary.csv"
    summary.write_text(summary_report(month=EARLIER))
    trends = tmp_path / "trends.csv"
    trends.write_text(trends_report(EARLIER))
    imported(runtime, summary, trends)
    process(runtime)
    month = of(rollups(runtime), EARLIER)
    # Summary: api 500 downloads, 100 checks; Trends: api 46 by tag + 9 by digest, 11 checks
    assert month["repository:api:"] == (500, 9, 100, 0)
    assert month["repository:web:"] == (0, 0, 12, 0)  # only in the Trends report


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


def set_up_alice(data_dir: Path) -> None:
    """acme registered, alice a member who signs in with a password."""
    for args, stdin in [
        (("users", "add", "alice", "--password-stdin"), "alice-secret\n"),
        (("namespaces", "add", "acme"), None),
        (("members", "add", "acme", "alice", "--role", "member"), None),
    ]:
        result = run_cli(data_dir, *args, stdin=stdin)
        assert result.returncode == 0, result.stderr


def processed_exported_and_asked(
    data_dir: Path, tmp_path: Path, **queries: dict[str, str]
) -> dict[str, list[dict[str, object]]]:
    """``pullstats process`` and ``export``, then each query's ``…/namespaces/acme/pulls`` rows
    as alice, from a running server."""
    for command in (("process",), ("export", "--through", TODAY.isoformat())):
        result = run_cli(data_dir, *command)
        assert result.returncode == 0, result.stderr
    server = start_server(data_dir, tmp_path / "server.log")
    try:
        alice = login(server, "alice", "alice-secret")
        with server.client() as client:
            client.headers["Authorization"] = f"Bearer {alice}"
            answers = {
                name: client.get(f"{API}/namespaces/acme/pulls", params=params)
                for name, params in queries.items()
            }
    finally:
        server.stop()
    for answer in answers.values():
        assert answer.status_code == 200, answer.text
    return {name: answer.json()["pulls"] for name, answer in answers.items()}


def _as_date(text: str) -> date:
    return date.fromisoformat(text[:10])


def test_core_reports_through_the_api_and_the_exports(data_dir: Path, tmp_path: Path) -> None:
    set_up_alice(data_dir)
    summary = write(tmp_path / "summary.csv", summary_report(), gzipped=True)
    trends = write(tmp_path / "trends.csv", trends_report(), gzipped=False)
    done = run_cli(data_dir, "import", "dockerhub-csv", str(summary), str(trends))
    assert done.returncode == 0, done.stderr
    assert f"{trends}: core-trends, 4 rows imported; periods {EARLIER.label}" in done.stdout
    assert "note: Docker's DVP Core reports count users, not IP addresses" in done.stdout
    asked = processed_exported_and_asked(
        data_dir,
        tmp_path,
        months={},
        weeks={"timespan": "weeks"},
        by_repo={"group": "repo"},
        countries={"breakdown": "country"},
    )

    # the Trends report splits pulls by country: US 40 + 9, DE 6, web's unknown country only
    # version checks; the Summary report has no country, so its month has no country rows
    by_country: dict[date, dict[str, int]] = {}
    for row in asked["countries"]:
        by_country.setdefault(_as_date(row["start"]), {})[row["country"]] = row["pullCount"]
    assert by_country[EARLIER.start] == {"US": 49, "DE": 6, "ZZ": 0}
    assert set(by_country[MONTH.start].values()) == {0}

    by_month = {_as_date(r["start"]): (r["pullCount"], r["ipCount"]) for r in asked["months"]}
    # pullCount = pulls by tag + by digest; Docker's reports count users, not IPs: 0
    assert by_month[MONTH.start] == (500, 0)
    assert by_month[EARLIER.start] == (46 + 9, 0)
    by_week = {_as_date(r["start"]): r["pullCount"] for r in asked["weeks"]}
    assert by_week[WEEK.start] == 128
    repos = {
        (_as_date(r["start"]), r["repo"]): r["pullCount"]
        for r in asked["by_repo"]
        if r["pullCount"]
    }
    assert repos == {(MONTH.start, "api"): 500, (EARLIER.start, "api"): 55}

    # the exports are written from the same rollups: the week's repo-summary and summary
    header, *rows = exported_rows(data_dir, "acme", "repo-summary", WEEK.label)
    assert header[3:] == [
        "repository",
        "unique_ip_count",
        "pull_by_tag",
        "pull_by_digest",
        "version_check",
    ]
    assert [row[3:] for row in rows] == [
        ["api", "0", "120", "0", "30"],
        ["web", "0", "8", "0", "2"],
    ]
    _, *namespace_rows = exported_rows(data_dir, "acme", "namespace-summary", EARLIER.label)
    assert [row[2:] for row in namespace_rows] == [["acme", "0", "46", "9", "23"]]
    _, *raw = exported_rows(data_dir, "acme", "raw", EARLIER.label)
    assert raw == []  # a period known only from reports has no actions

    # the Trends report comes back out as its month's trends dataset, users included, with
    # the client's category and use case (docker and containerd in a cloud: CI/CD); an unknown
    # country is ZZ
    m = EARLIER.start.isoformat()
    _, *reported = exported_rows(data_dir, "acme", "trends-report", EARLIER.label)
    assert sorted(reported) == sorted(
        ["monthly", m, "acme", *row]
        for row in (
            ["acme/api", "acme", "US", "aws", "docker", "1.0", "40", "10", "50", "3", "7",
             "engine", "CI/CD"],
            ["acme/api", "acme", "DE", "no csp", "containerd", "1.0", "6", "0", "6", "0", "2",
             "engine", "CI/CD"],
            ["acme/api", "acme", "US", "gcp", "docker", "\\N", "9", "1", "10", "1", "1",
             "engine", "CI/CD"],
            ["acme/web", "acme", "ZZ", "no csp", "docker-scout", "latest", "0", "12", "12", "0",
             "4", "scanner", "Unknown"],
        )
    )  # fmt: skip


def test_legacy_files_through_the_api_and_the_exports(data_dir: Path, tmp_path: Path) -> None:
    # Docker's legacy DVP files of one week: raw (plain), the tag/digest-level summary (gzip)
    # and the repository-level summary (plain); no namespace-level summary
    set_up_alice(data_dir)
    monday, label = WEEK.start, WEEK.label
    raw = tmp_path / f"acme_raw_{label}.csv"
    raw.write_text(
        "Timestamp,Namespace,Repository,Reference,Digest,Tag,Action day,HTTP method,Action,"
        "Type,Host,Country,Domain,User agent tool,User agent version\n"
        f"{monday}T10:00:00.000Z,acme,api,1.0,{DIGEST},1.0,{monday},GET,pull_by_tag,"
        "business,aws,US,example.com,docker,27.3.1\n"
        f"{monday + timedelta(days=1)}T11:00:00.000Z,acme,api,{DIGEST},{DIGEST},,"
        f"{monday + timedelta(days=1)},GET,pull_by_digest,null,null,DE,null,containerd,1.7.2\n"
        f"{monday + timedelta(days=2)}T12:00:00.000Z,acme,web,latest,{DIGEST},latest,"
        f"{monday + timedelta(days=2)},HEAD,version_check,null,null,null,null,docker,27.3.1\n"
    )
    tags = write(
        tmp_path / f"acme_summary_{label}.csv",
        "Namespace,Repository,Reference,Unique IP address count,Pull by tag,Pull by digest,"
        f"Version check\nacme,api,1.0,2,1,0,0\nacme,api,{DIGEST},1,0,1,0\n"
        "acme,web,latest,1,0,0,1\n",
        gzipped=True,
    )
    repos = tmp_path / f"acme_repo-summary_{label}.csv"
    repos.write_text(
        "Namespace,Repository,Unique IP address,Pull by tag,Pull by digest,Version check\n"
        "acme,api,3,1,1,0\nacme,web,1,0,0,1\n"
    )
    done = run_cli(data_dir, "import", "dockerhub-csv", str(raw), str(tags), str(repos))
    assert done.returncode == 0, done.stderr
    asked = processed_exported_and_asked(
        data_dir,
        tmp_path,
        weeks={"timespan": "weeks"},
        by_repo={"timespan": "weeks", "group": "repo"},
    )

    # the raw rows' pulls (1 by tag + 1 by digest); the repositories' unique IPs (3 and 1) are
    # the summaries', the namespace's is not known (no namespace-level summary): 0
    [week] = [r for r in asked["weeks"] if _as_date(r["start"]) == WEEK.start]
    assert (week["pullCount"], week["ipCount"]) == (2, 0)
    repos_seen = {
        r["repo"]: (r["pullCount"], r["ipCount"])
        for r in asked["by_repo"]
        if _as_date(r["start"]) == WEEK.start
    }
    assert repos_seen == {"api": (2, 3), "web": (0, 1)}

    _, *repo_rows = exported_rows(data_dir, "acme", "repo-summary", label)
    assert [row[3:] for row in repo_rows] == [
        ["api", "3", "1", "1", "0"],
        ["web", "1", "0", "0", "1"],
    ]
    header, *reference_rows = exported_rows(data_dir, "acme", "summary", label)
    assert header[3:5] == ["repository", "reference"]
    assert [row[3:] for row in reference_rows] == [
        ["api", "1.0", "2", "1", "0", "0"],
        ["api", DIGEST, "1", "0", "1", "0"],
        ["web", "latest", "1", "0", "0", "1"],
    ]
    _, *namespace_rows = exported_rows(data_dir, "acme", "namespace-summary", label)
    assert [row[2:] for row in namespace_rows] == [["acme", "0", "1", "1", "1"]]
    _, *raw_rows = exported_rows(data_dir, "acme", "raw", label)
    assert len(raw_rows) == 3
