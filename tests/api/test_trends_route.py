"""``GET …/namespaces/{ns}/trends`` on a real server, answers worked out by hand.

January 2026: ann pulls acme/api:1.0 signed in on Monday of week 2 and again, from another
address, on Monday of week 3; an anonymous client (192.0.2.3) checks 1.0 in week 2 and pulls it
with Trivy in week 3; partner/shared (an extra repo of acme) is pulled once, partner/private
once. Every address is a documentation one: country ZZ, no cloud.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from pullstats.accounts import service
from pullstats.db.models import ExtraRepo
from pullstats.exports.closing import export_closed
from pullstats.ingest.records import PullRequestRecord
from pullstats.pipeline import end_of_day, process
from pullstats.timestamps import micros
from tests.conftest import (
    Server,
    catalog_settings,
    fresh_runtime,
    login_tokens,
    start_server,
    write_spool,
)

pytestmark = pytest.mark.xdist_group("trends-route")

TRENDS = "/api/publisher/analytics/v1/namespaces/acme/trends"
W02, W03 = "2026-01-05T00:00:00Z", "2026-01-12T00:00:00Z"
JANUARY = "2026-01-01T00:00:00Z"


def record(n: int, day: int, method: str, name: str, tag: str, ip: str, ua: str, user: str = ""
           ) -> PullRequestRecord:  # fmt: skip
    ts = micros(datetime(2026, 1, day, 10, tzinfo=UTC))
    return PullRequestRecord(
        f"t{n}", ts, method, name, tag, "sha256:" + "e" * 64, ip, ua, "notification", ts + 1,
        user=user,
    )  # fmt: skip


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str, str]]:
    root = tmp_path_factory.mktemp("trends")
    runtime = fresh_runtime(catalog_settings(root / "data"))
    with runtime.sessions.begin() as session:
        for ns in ("acme", "partner"):
            service.create_namespace(session, ns)
        for user in ("alice", "bob"):
            service.create_user(session, user, f"{user}-password")
        service.add_member(session, "acme", "alice", "member")
        acme = service.get_namespace(session, "acme")
        session.add(ExtraRepo(namespace_id=acme.id, repository="partner/shared"))
    write_spool(
        runtime,
        record(1, 5, "GET", "acme/api", "1.0", "192.0.2.1", "docker/27.3.1", "ann"),
        record(2, 12, "GET", "acme/api", "1.0", "192.0.2.2", "docker/27.3.1", "ann"),
        record(3, 6, "HEAD", "acme/api", "1.0", "192.0.2.3", "docker/27.3.1"),
        record(4, 13, "GET", "acme/api", "1.0", "192.0.2.3", "trivy/0.56.2"),
        record(5, 7, "GET", "partner/shared", "2.0", "192.0.2.4", "docker/27.3.1"),
        record(6, 7, "GET", "partner/private", "1.0", "192.0.2.5", "docker/27.3.1"),
    )
    process(runtime)
    export_closed(runtime, now=end_of_day(datetime(2026, 2, 2, tzinfo=UTC).date()))
    runtime.close()
    started = start_server(root / "data", root / "server.log")
    alice, bob = login_tokens(started, "alice", "bob")
    yield started, alice, bob
    started.stop()


def get(server: tuple[Server, str, str], path: str, user: int = 1, **params: Any) -> httpx.Response:
    with server[0].client() as client:
        return client.get(path, params=params, headers={"Authorization": f"Bearer {server[user]}"})


def counts(downloads: int, checks: int, signed_in: int, anonymous: int) -> dict[str, int]:
    return {
        "dataDownloads": downloads,
        "versionChecks": checks,
        "pulls": downloads + checks,
        "uniqueAuthenticatedUsers": signed_in,
        "uniqueUnauthenticatedUsers": anonymous,
    }


def rows(answer: httpx.Response) -> list[dict[str, Any]]:
    assert answer.status_code == 200, answer.text
    return [{k: v for k, v in r.items() if k != "end"} for r in answer.json()["trends"]]


def test_users_are_never_summed_across_periods(server: tuple[Server, str, str]) -> None:
    weeks = get(server, TRENDS, timespan="weeks", **{"from": "2026-01-05", "to": "2026-01-12"})
    assert rows(weeks) == [
        {"start": W02, "namespace": "acme", **counts(1, 1, 1, 1)},  # ann; the check from .3
        {"start": W03, "namespace": "acme", **counts(2, 0, 1, 1)},  # ann again; Trivy from .3
    ]
    month = get(server, TRENDS, **{"from": "2026-01-01", "to": "2026-01-31"})
    # ann once and 192.0.2.3 once in January, not 1 + 1 each
    assert rows(month) == [{"start": JANUARY, "namespace": "acme", **counts(3, 1, 1, 1)}]
    assert month.json()["trends"][0]["end"] == "2026-01-31T23:59:59Z"


def test_by_client_and_use_case(server: tuple[Server, str, str]) -> None:
    january = {"from": "2026-01-01", "to": "2026-01-01"}
    assert rows(get(server, TRENDS, group="tool", **january)) == [
        {"start": JANUARY, "namespace": "acme", "tool": "docker", "category": "engine",
         **counts(2, 1, 1, 1)},
        {"start": JANUARY, "namespace": "acme", "tool": "trivy", "category": "scanner",
         **counts(1, 0, 0, 1)},
    ]  # fmt: skip
    assert rows(get(server, TRENDS, group="use_case", **january)) == [
        {"start": JANUARY, "namespace": "acme", "useCase": "Local Dev", **counts(2, 1, 1, 1)},
        {"start": JANUARY, "namespace": "acme", "useCase": "Unknown", **counts(1, 0, 0, 1)},
    ]
    # weeks are zero-filled per series: Trivy has no week 2
    weekly = rows(get(server, TRENDS, timespan="weeks", group="category",
                      **{"from": "2026-01-05", "to": "2026-01-12"}))  # fmt: skip
    assert [(r["category"], r["start"], r["pulls"]) for r in weekly] == [
        ("engine", W02, 2), ("engine", W03, 1), ("scanner", W02, 0), ("scanner", W03, 1),
    ]  # fmt: skip


def test_by_repository_the_extra_repo_and_never_another_namespaces(
    server: tuple[Server, str, str],
) -> None:
    january = {"from": "2026-01-01", "to": "2026-01-01"}
    assert rows(get(server, TRENDS, group=["repo", "tag"], **january)) == [
        {"start": JANUARY, "namespace": "acme", "repo": "api", "tag": "1.0", **counts(3, 1, 1, 1)},
        {"start": JANUARY, "namespace": "partner", "repo": "shared", "tag": "2.0",
         **counts(1, 0, 0, 1)},
    ]  # fmt: skip
    grain = rows(get(server, TRENDS, group="repo,tag,country,cloud,tool", **january))
    assert grain == [
        {"start": JANUARY, "namespace": "acme", "repo": "api", "tag": "1.0", "country": "ZZ",
         "cloud": "", "tool": "docker", "category": "engine", "useCase": "Local Dev",
         **counts(2, 1, 1, 1)},
        {"start": JANUARY, "namespace": "acme", "repo": "api", "tag": "1.0", "country": "ZZ",
         "cloud": "", "tool": "trivy", "category": "scanner", "useCase": "Unknown",
         **counts(1, 0, 0, 1)},
        {"start": JANUARY, "namespace": "partner", "repo": "shared", "tag": "2.0",
         "country": "ZZ", "cloud": "", "tool": "docker", "category": "engine",
         "useCase": "Local Dev", **counts(1, 0, 0, 1)},
    ]  # fmt: skip
    assert "private" not in get(server, TRENDS, group="repo", **january).text


def test_leaving_scanners_out_keeps_the_users_exact(server: tuple[Server, str, str]) -> None:
    """192.0.2.3 checked with docker in week 2 and pulled with Trivy in week 3: without
    scanners it is still January's user (it also used docker), but not week 3's."""
    january = {"from": "2026-01-01", "to": "2026-01-31"}
    weeks = {"timespan": "weeks", "from": "2026-01-05", "to": "2026-01-12"}
    assert rows(get(server, TRENDS, exclude="scanner,bot", **january)) == [
        {"start": JANUARY, "namespace": "acme", **counts(2, 1, 1, 1)},  # Trivy's pull gone
    ]
    assert rows(get(server, TRENDS, exclude=["scanner", "bot"], **weeks)) == [
        {"start": W02, "namespace": "acme", **counts(1, 1, 1, 1)},
        {"start": W03, "namespace": "acme", **counts(1, 0, 1, 0)},  # ann alone
    ]
    # a series of scanners alone is not shown; the tag's users are worked out the same way
    assert rows(get(server, TRENDS, exclude="scanner", group="tool", **january)) == [
        {"start": JANUARY, "namespace": "acme", "tool": "docker", "category": "engine",
         **counts(2, 1, 1, 1)},
    ]  # fmt: skip
    assert rows(get(server, TRENDS, exclude="scanner", group="tag", **weeks)) == [
        {"start": W02, "namespace": "acme", "repo": "api", "tag": "1.0", **counts(1, 1, 1, 1)},
        {"start": W03, "namespace": "acme", "repo": "api", "tag": "1.0", **counts(1, 0, 1, 0)},
        {"start": W02, "namespace": "partner", "repo": "shared", "tag": "2.0",
         **counts(1, 0, 0, 1)},
        {"start": W03, "namespace": "partner", "repo": "shared", "tag": "2.0",
         **counts(0, 0, 0, 0)},
    ]  # fmt: skip
    # leaving engines out too leaves nothing: the namespace's total is there, at zero
    assert rows(get(server, TRENDS, exclude="engine,scanner", **january)) == [
        {"start": JANUARY, "namespace": "acme", **counts(0, 0, 0, 0)},
    ]


def test_any_combination_of_the_client_dimensions(server: tuple[Server, str, str]) -> None:
    january = {"from": "2026-01-01", "to": "2026-01-31"}
    assert rows(get(server, TRENDS, group="country,cloud", **january)) == [
        {"start": JANUARY, "namespace": "acme", "country": "ZZ", "cloud": "",
         **counts(3, 1, 1, 1)},
    ]  # fmt: skip
    assert rows(get(server, TRENDS, group=["repo", "category", "use_case"], **january)) == [
        {"start": JANUARY, "namespace": "acme", "repo": "api", "category": "engine",
         "useCase": "Local Dev", **counts(2, 1, 1, 1)},
        {"start": JANUARY, "namespace": "acme", "repo": "api", "category": "scanner",
         "useCase": "Unknown", **counts(1, 0, 0, 1)},
        {"start": JANUARY, "namespace": "partner", "repo": "shared", "category": "engine",
         "useCase": "Local Dev", **counts(1, 0, 0, 1)},
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"group": "colour"}, "unknown group colour"),
        ({"group": "tag,country"}, "is not kept"),
        ({"exclude": "scanner,robot"}, "unknown client category 'robot': use engine, build"),
        ({"from": "2026-02-01", "to": "2026-01-01"}, "from 2026-02-01 is after to 2026-01-01"),
        ({"from": "9999-12-31"}, "(today: to was not given)"),
        ({"to": "2026-01-01"}, "to needs from"),
        ({"from": "2010-01-01", "to": "2026-01-01"}, "at most 1830 days apart"),
        ({"from": "January"}, "'January' is not a day: write it YYYY-MM-DD"),
        # what pydantic takes for a date besides: a Unix time, and a time at midnight
        ({"from": "1764979200"}, "'1764979200' is not a day: write it YYYY-MM-DD"),
        ({"from": "0"}, "'0' is not a day: write it YYYY-MM-DD"),
        ({"from": "2026-01-01", "to": "20260131"}, "'20260131' is not a day"),
        ({"from": "2026-02-30"}, "valid date"),  # the right shape, no such day
        ({"timespan": "days"}, "'months' or 'weeks'"),
    ],
)
def test_bad_queries_are_422_saying_why(
    server: tuple[Server, str, str], params: dict[str, str], message: str
) -> None:
    answer = get(server, TRENDS, **params)
    assert answer.status_code == 422
    assert message in answer.text


def test_another_users_namespace_is_a_404_whatever_the_query(
    server: tuple[Server, str, str],
) -> None:
    for params in ({}, {"group": "colour"}, {"group": "tool"}, {"exclude": "robot"}):
        theirs = get(server, TRENDS, user=2, **params)
        nobody = get(server, TRENDS.replace("acme", "nobody"), user=2, **params)
        assert theirs.status_code == nobody.status_code == 404
        assert theirs.json() == {"detail": "namespace 'acme' not found"}


def test_the_trends_dataset_is_the_routes_rows(server: tuple[Server, str, str]) -> None:
    """Docker's Trends report of January: the route's rows at the report's grain, with Docker's
    column names and spellings (``no csp``), the extra repo under its own namespace."""
    reports = "/api/publisher/analytics/v1/namespaces/acme/trends/exports/years"
    assert get(server, reports).json() == {"years": [{"year": 2026}]}
    assert get(server, f"{reports}/2026/weeks").json() == {"weeks": [{"week": 2}, {"week": 3}]}
    (link,) = get(server, f"{reports}/2026/months/1/report").json()["data"]
    with server[0].client() as client:
        data = gzip.decompress(client.get(link["url"]).content).decode()
    assert data.split("\r\n") == [
        "DATE_GRANULARITY,DATE_REFERENCE,PUBLISHER_NAME,IMAGE_REPOSITORY,NAMESPACE,IP_COUNTRY,"
        "CLOUD_SERVICE_PROVIDER,USER_AGENT,TAG,DATA_DOWNLOADS,VERSION_CHECKS,PULLS,"
        "UNIQUE_AUTHENTICATED_USERS,UNIQUE_UNAUTHENTICATED_USERS,CLIENT_CATEGORY,"
        "INFERRED_USE_CASE",
        "monthly,2026-01-01,acme,acme/api,acme,ZZ,no csp,docker,1.0,2,1,3,1,1,engine,Local Dev",
        "monthly,2026-01-01,acme,acme/api,acme,ZZ,no csp,trivy,1.0,1,0,1,0,1,scanner,Unknown",
        "monthly,2026-01-01,acme,partner/shared,partner,ZZ,no csp,docker,2.0,1,0,1,0,1,engine,"
        "Local Dev",
        "",
    ]


@pytest.mark.parametrize(
    "params",
    [
        {"from": "9999-12-01", "to": "9999-12-31"},  # the last month there is
        {"timespan": "weeks", "from": "9999-12-20", "to": "9999-12-31"},  # and its last week
        {"from": "2099-01-01", "to": "2099-02-28"},  # no period of it has begun
    ],
)
def test_a_window_in_the_future_has_no_rows(
    server: tuple[Server, str, str], params: dict[str, str]
) -> None:
    answer = get(server, TRENDS, **params)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"trends": []}


def test_years_before_1000_are_written_with_four_digits(server: tuple[Server, str, str]) -> None:
    answer = get(server, TRENDS, **{"from": "0001-01-01", "to": "0001-01-31"})
    assert answer.status_code == 200, answer.text
    [row] = answer.json()["trends"]  # the namespace's, zero-filled: RFC 3339 has four digits
    assert (row["start"], row["end"]) == ("0001-01-01T00:00:00Z", "0001-01-31T23:59:59Z")
