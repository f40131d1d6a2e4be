"""Docker's current ("DVP Core") reports and the legacy files, imported and read back through
the DVP API of a running server and the exports. Expected numbers are worked by hand from the
rows written in :mod:`tests.importers.core_reports` and here.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from tests.conftest import run_cli, start_server
from tests.importers.core_reports import (
    DIGEST,
    EARLIER,
    MONTH,
    TODAY,
    WEEK,
    summary_report,
    trends_report,
    write,
)
from tests.test_end_to_end import API, exported_rows, login


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
