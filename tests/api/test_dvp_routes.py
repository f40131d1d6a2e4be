"""The DVP routes on a real server: listings, 404 and 422 cases, signed downloads, ETags."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from pullstats.accounts import service
from pullstats.db.models import ExportFile, ExtraRepo
from pullstats.exports.closing import export_closed
from pullstats.exports.signing import DOWNLOAD_KEY, sign
from pullstats.ingest.records import PullRequestRecord
from pullstats.periods import last_complete_months
from pullstats.pipeline import end_of_day, process
from pullstats.runtime import Runtime
from pullstats.timestamps import micros, now_micros
from tests.conftest import (
    Server,
    catalog_settings,
    fresh_runtime,
    login_tokens,
    start_server,
    write_spool,
)

#: one server for the whole module: under pytest-xdist every test of it runs on one worker
pytestmark = pytest.mark.xdist_group("dvp-routes")

API = "/api/publisher/analytics/v1"
EXPORTS = f"{API}/namespaces/acme/pulls/exports"


def pull(n: int, when: datetime, name: str, ip: str = "192.0.2.1") -> PullRequestRecord:
    return PullRequestRecord(
        f"r{n}",
        micros(when),
        "GET",
        name,
        "1.0",
        "sha256:0d",
        ip,
        "docker/27.3.1",
        "notification",
        now_micros(),
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str, str]]:
    """acme has data in ISO week 2020-W53 (which spans into January 2021) and last month;
    alice reads acme, bob reads nothing; partner/shared is an extra repo of acme."""
    root = tmp_path_factory.mktemp("dvp")
    data_dir = root / "data"
    runtime = fresh_runtime(catalog_settings(data_dir))
    last_month = last_complete_months(datetime.now(UTC).date(), 1)[0]
    with runtime.sessions.begin() as session:
        for ns in ("acme", "partner"):
            service.create_namespace(session, ns)
        for user in ("alice", "bob"):
            service.create_user(session, user, f"{user}-password")
        service.add_member(session, "acme", "alice", "member")
        acme = service.get_namespace(session, "acme")
        session.add(ExtraRepo(namespace_id=acme.id, repository="partner/shared"))
    noon = datetime(2020, 12, 28, 12, tzinfo=UTC)
    write_spool(
        runtime,
        pull(1, noon, "acme/api"),
        pull(2, noon + timedelta(days=5), "acme/api", "192.0.2.2"),  # Sat 2021-01-02, W53
        pull(3, datetime.combine(last_month, datetime.min.time(), UTC), "acme/tools/cli"),
        pull(4, datetime.combine(last_month, datetime.min.time(), UTC), "partner/shared"),
        pull(5, datetime.combine(last_month, datetime.min.time(), UTC), "partner/private"),
    )
    process(runtime)
    export_closed(runtime, now=end_of_day(datetime.now(UTC).date()))
    runtime.close()
    server = start_server(data_dir, root / "server.log")
    alice, bob = login_tokens(server, "alice", "bob")
    yield server, alice, bob
    server.stop()


def get(
    world: tuple[Server, str, str], path: str, user: int = 1, **params: object
) -> httpx.Response:
    server = world[0]
    with server.client() as client:
        return client.get(
            path,
            params=params or None,  # type: ignore[arg-type]  # None keeps a query in the path
            headers={"Authorization": f"Bearer {world[user]}"},
        )


def test_years_weeks_months_and_metadata(world: tuple[Server, str, str]) -> None:
    years = get(world, f"{EXPORTS}/years").json()["years"]
    this_year = last_complete_months(datetime.now(UTC).date(), 1)[0].year
    assert {2020, 2021, this_year} <= {y["year"] for y in years}
    assert get(world, f"{EXPORTS}/years/2020/weeks").json() == {"weeks": [{"week": 53}]}
    assert get(world, f"{EXPORTS}/years/2020/months").json() == {"months": [{"month": 12}]}
    assert get(world, f"{EXPORTS}/years/2021/months").json() == {"months": [{"month": 1}]}
    assert get(world, f"{EXPORTS}/years/2021/weeks").json() == {"weeks": []}
    assert get(world, f"{EXPORTS}/years/2020/weeks/53").json() == {"week": 53}
    assert get(world, f"{EXPORTS}/years/2021/months/1").json() == {"month": 1}


@pytest.mark.parametrize(
    ("path", "status"),
    [
        (f"{EXPORTS}/years/2021/weeks/53", 404),  # 2021 has 52 ISO weeks
        (f"{EXPORTS}/years/2020/weeks/52", 404),  # a week with no data
        (f"{EXPORTS}/years/2019/months/5", 404),
        (f"{EXPORTS}/years/2099/months/1", 404),  # not closed, nothing exported
        (f"{EXPORTS}/years/2020/weeks/53/raw/extra", 404),
        (f"{EXPORTS}/years/2020/weeks/54", 422),
        (f"{EXPORTS}/years/2020/weeks/0", 422),
        (f"{EXPORTS}/years/2020/months/13", 422),
        (f"{EXPORTS}/years/2020/months/13/raw", 422),
        (f"{EXPORTS}/years/twenty/months", 422),
        (f"{EXPORTS}/years/0/months", 422),
        (f"{EXPORTS}/years/2020/fortnights", 422),
        (f"{EXPORTS}/years/2020/weeks/53/everything", 422),
        (f"{API}/namespaces/acme/pulls?timespan=days", 422),
        (f"{API}/namespaces/acme/pulls?period=last-5-months", 422),
        (f"{API}/namespaces/acme/pulls?group=tag", 422),
        (f"{API}/namespaces/nobody/pulls", 404),
        (f"{API}/namespaces/partner/pulls", 404),  # exists, not readable
        (f"{API}/namespaces/nobody", 404),
        (f"{API}/namespaces/acme/repos/nothing/pulls", 404),
        (f"{API}/namespaces/partner/repos/private/pulls", 404),
        (f"{API}/namespaces/nobody/pulls/exports/years", 404),
        # names no namespace or repository can have (pullstats.names) are simply unknown
        (f"{API}/namespaces/{'a' * 240}/pulls", 404),
        (f"{API}/namespaces/{'a' * 240}/pulls/exports/years", 404),
        (f"{API}/namespaces/acme/repos/{'b' * 300}/pulls", 404),
        (f"{API}/namespaces/acme/repos/..%2F..%2Fetc/pulls", 404),
        # the report datasets (pullstats extension): an unknown dataset or view is a 422
        (f"{API}/namespaces/acme/everything/exports/years", 422),
        (f"{API}/namespaces/acme/summary/exports/years/2020/weeks/53/raw", 422),
        (f"{API}/namespaces/acme/summary/exports/years/2020/weeks/54", 422),
        (f"{API}/namespaces/acme/summary/exports/years/2020/weeks/52", 404),
        (f"{API}/namespaces/nobody/summary/exports/years", 404),
        (f"{API}/namespaces/acme?datasets=every", 422),
    ],
)
def test_error_statuses(world: tuple[Server, str, str], path: str, status: int) -> None:
    response = get(world, path)
    assert response.status_code == status, response.text
    assert response.json()["detail"]


def test_another_users_namespace_is_indistinguishable_from_none(
    world: tuple[Server, str, str],
) -> None:
    for path in (
        "/namespaces/acme/pulls",
        "/namespaces/acme",
        "/namespaces/acme/repos/api/pulls",
        "/namespaces/acme/pulls/exports/years",
        "/namespaces/acme/pulls/exports/years/2020/weeks/53/raw",
        "/namespaces/acme/summary/exports/years",
        "/namespaces/acme/summary/exports/years/2020/weeks",
        "/namespaces/acme/summary/exports/years/2020/weeks/53",
        "/namespaces/acme/summary/exports/years/2020/weeks/53/report",
        "/namespaces/acme/trends/exports/years/2020/weeks/53/report",
        "/namespaces/acme/co-usage/exports/years/2020/weeks/53/report",
        "/namespaces/acme/trends",
        "/namespaces/acme?datasets=all",
    ):
        theirs = get(world, API + path, user=2)
        nobody = get(world, API + path.replace("acme", "nobody"), user=2)
        assert theirs.status_code == nobody.status_code == 404
    assert get(world, f"{API}/", user=2).json() == {"namespaces": []}
    assert get(world, f"{API}/repos/pulls", user=2, repos=["acme/api"]).json() == {"repos": {}}


def test_repositories_and_extra_repos(world: tuple[Server, str, str]) -> None:
    nested = get(world, f"{API}/namespaces/acme/repos/tools/cli/pulls")
    assert nested.status_code == 200
    assert sum(r["pullCount"] for r in nested.json()["pulls"]) == 1
    assert all(r["repo"] == "tools/cli" for r in nested.json()["pulls"])
    shared = get(world, f"{API}/namespaces/partner/repos/shared/pulls")
    assert shared.status_code == 200
    many = get(
        world,
        f"{API}/repos/pulls",
        repos=["acme/tools/cli", "partner/shared", "partner/private", "acme/missing", "acme"],
    )
    assert sorted(many.json()["repos"]) == ["acme/tools/cli", "partner/shared"]
    assert get(world, f"{API}/").json() == {"namespaces": ["acme", "partner/shared"]}
    meta = get(world, f"{API}/namespaces").json()
    assert meta == [
        {
            "namespace": "acme",
            "extraRepos": ["partner/shared"],
            "datasets": [
                {
                    "name": "pulls",
                    "views": ["raw", "summary", "repo-summary", "namespace-summary"],
                    "timespans": ["months", "weeks"],
                }
            ],
        }
    ]
    # extra repos are repo rows under their own namespace; the namespace rows count only its own
    by_repo = get(world, f"{API}/namespaces/acme/pulls", group="repo").json()["pulls"]
    totals: dict[tuple[str, str], int] = {}
    for row in by_repo:
        key = (row["namespace"], row["repo"])
        totals[key] = totals.get(key, 0) + row["pullCount"]
    # acme/api pulled only in 2020, outside the window: no row for it
    assert totals == {("acme", "tools/cli"): 1, ("partner", "shared"): 1}
    own = get(world, f"{API}/namespaces/acme/pulls").json()["pulls"]
    assert sum(row["pullCount"] for row in own) == 1
    too_many = get(world, f"{API}/repos/pulls", repos=[f"acme/r{i}" for i in range(51)])
    assert too_many.status_code == 400
    # duplicates count once (docs/api.md): fifty names and a repeat are fifty
    repeated = [f"acme/r{i}" for i in range(49)] + ["acme/tools/cli"] * 2
    fifty = get(world, f"{API}/repos/pulls", repos=repeated)
    assert fifty.status_code == 200, fifty.text
    assert list(fifty.json()["repos"]) == ["acme/tools/cli"]


def test_signed_downloads(world: tuple[Server, str, str]) -> None:
    server = world[0]
    answer = get(world, f"{EXPORTS}/years/2020/weeks/53/summary")
    # signed links are credentials, and a download is asked for without Authorization: a
    # shared cache must keep neither (it could serve a file past its link's expiry)
    assert answer.headers["cache-control"] == "no-store"
    report = get(world, f"{API}/namespaces/acme/summary/exports/years/2020/weeks/53/report")
    assert report.status_code == 200 and report.headers["cache-control"] == "no-store"
    links = answer.json()["data"]
    assert len(links) == 1
    url, size = links[0]["url"], links[0]["size"]
    assert url.startswith(server.url + "/downloads/")
    with server.client() as client:
        ok = client.get(url)
        assert ok.status_code == 200
        assert int(ok.headers["content-length"]) == size == len(ok.content)
        assert ok.headers["content-type"] == "application/gzip"
        assert (
            'filename="acme_summary_2020-W53_part001.csv.gz"' in ok.headers["content-disposition"]
        )
        assert gzip.decompress(ok.content).startswith(b"period_start,period_end,namespace")
        part = client.get(url, headers={"Range": "bytes=0-9"})
        assert part.status_code == 206 and part.content == ok.content[:10]
        # a Range of another unit, or not well formed, is ignored: the file whole (RFC 9110
        # 14.2), never Starlette's plain-text 400
        for unusable in ("pages=1-2", "bytes=9-3", "bytes=x", "bytes=-"):
            whole = client.get(url, headers={"Range": unusable})
            assert (whole.status_code, whole.content) == (200, ok.content), unusable
        # a well-formed range past the end of the file is unsatisfiable
        past = client.get(url, headers={"Range": f"bytes={size}-"})
        assert past.status_code == 416 and past.headers["content-range"] == f"bytes */{size}"
        # a small file is read whole, a HEAD streamed: both answer with the same headers
        head = client.head(url)
        assert head.status_code == 200 and head.content == b""
        for name in ("content-length", "etag", "last-modified", "content-disposition"):
            assert head.headers[name] == ok.headers[name], name
        assert ok.headers["accept-ranges"] == "bytes"
        for answered in (ok, part, head):
            assert answered.headers.get("cache-control") == "private, no-store", answered
        # tampering with the signature, the expiry or the file id is refused
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        sig, expires = query["signature"][0], int(query["expires"][0])
        base = f"{server.url}{parts.path}"
        flipped = sig[:-1] + ("0" if sig[-1] != "0" else "1")
        assert client.get(f"{base}?expires={expires}&signature={flipped}").status_code == 403
        assert client.get(f"{base}?expires={expires + 60}&signature={sig}").status_code == 403
        raw = get(world, f"{EXPORTS}/years/2020/weeks/53/raw").json()["data"][0]["url"]
        raw_path = urlsplit(raw).path
        assert (
            client.get(f"{server.url}{raw_path}?expires={expires}&signature={sig}").status_code
            == 403
        )
        # an expired link, correctly signed with the server's own key
        key = (server.data_dir / "keys" / DOWNLOAD_KEY).read_bytes()
        file_id = int(parts.path.split("/")[2])
        sha = ok_sha(server.data_dir, file_id)
        stale = sign(key, file_id, sha, -1)
        assert client.get(f"{base}?{stale.query()}").status_code == 403
        fresh = sign(key, file_id, sha, 60)
        assert client.get(f"{base}?{fresh.query()}").status_code == 200


def test_the_report_datasets_are_listed_when_asked_for(world: tuple[Server, str, str]) -> None:
    docker = get(world, f"{API}/namespaces/acme").json()["datasets"]
    assert [d["name"] for d in docker] == ["pulls"]  # what Docker's own OpenAPI allows
    every = get(world, f"{API}/namespaces/acme", datasets="all").json()["datasets"]
    assert every[0] == docker[0]
    assert every[1:] == [
        {"name": name, "views": ["report"], "timespans": ["months", "weeks"]}
        for name in ("summary", "trends", "co-usage")
    ]
    listed = get(world, f"{API}/namespaces", datasets="all").json()
    assert [[d["name"] for d in ns["datasets"]] for ns in listed] == [
        ["pulls", "summary", "trends", "co-usage"]
    ]


def test_the_summary_report_dataset(world: tuple[Server, str, str]) -> None:
    """Docker's Summary report, worked by hand: in 2020-W53 acme/api has two pulls of tag 1.0
    (two addresses, no version check); last month acme/tools/cli one pull and the extra repo
    partner/shared one, under its own namespace; partner/private is never named."""
    server = world[0]
    reports = f"{API}/namespaces/acme/summary/exports"
    pulls_years = get(world, f"{EXPORTS}/years").json()
    assert get(world, f"{reports}/years").json() == pulls_years
    assert get(world, f"{reports}/years/2020/weeks").json() == {"weeks": [{"week": 53}]}
    assert get(world, f"{reports}/years/2020/weeks/53").json() == {"week": 53}
    (link,) = get(world, f"{reports}/years/2020/weeks/53/report").json()["data"]
    month = last_complete_months(datetime.now(UTC).date(), 1)[0]
    (monthly,) = get(world, f"{reports}/years/{month.year}/months/{month.month}/report").json()[
        "data"
    ]
    with server.client() as client:
        week = client.get(link["url"])
        last_month = client.get(monthly["url"])
    assert (
        'filename="acme_summary-report_2020-W53_part001.csv.gz"'
        in (week.headers["content-disposition"])
    )
    header = (
        "DATE_GRANULARITY,DATE_REFERENCE,PUBLISHER_NAME,LEVEL,REFERENCE,"
        "DATA_DOWNLOADS,VERSION_CHECKS,EVENT_COUNT"
    )
    assert gzip.decompress(week.content).decode().split("\r\n") == [
        header,
        "weekly,2020-12-28,acme,repository,acme/api,2,0,2",
        "weekly,2020-12-28,acme,tag,acme/api:1.0,2,0,2",
        "",
    ]
    start = month.isoformat()
    assert gzip.decompress(last_month.content).decode().split("\r\n") == [
        header,
        f"monthly,{start},acme,repository,acme/tools/cli,1,0,1",
        f"monthly,{start},acme,tag,acme/tools/cli:1.0,1,0,1",
        f"monthly,{start},acme,repository,partner/shared,1,0,1",
        f"monthly,{start},acme,tag,partner/shared:1.0,1,0,1",
        "",
    ]


def test_a_valid_link_to_a_file_gone_from_the_disk_is_410(world: tuple[Server, str, str]) -> None:
    server = world[0]
    (link,) = get(world, f"{EXPORTS}/years/2020/weeks/53/namespace-summary").json()["data"]
    file_id = int(urlsplit(link["url"]).path.split("/")[2])
    runtime = Runtime.open(catalog_settings(server.data_dir))
    try:
        with runtime.sessions() as session:
            entry = session.get(ExportFile, file_id)
            assert entry is not None
            path = runtime.paths.exports / entry.path
    finally:
        runtime.close()
    aside = path.with_name(path.name + ".aside")
    path.rename(aside)
    try:
        with server.client() as client:
            for method in ("GET", "HEAD"):
                gone = client.request(method, link["url"])
                assert gone.status_code == 410, method
            assert client.get(link["url"]).json() == {"detail": "export file no longer available"}
    finally:
        aside.rename(path)
    with server.client() as client:
        assert client.get(link["url"]).status_code == 200


def ok_sha(data_dir: Path, file_id: int) -> str:
    runtime = Runtime.open(catalog_settings(data_dir))
    try:
        with runtime.sessions() as session:
            entry = session.get(ExportFile, file_id)
            assert entry is not None
            return entry.sha256
    finally:
        runtime.close()


def test_series_answers_carry_etags(world: tuple[Server, str, str]) -> None:
    first = get(world, f"{API}/namespaces/acme/pulls")
    etag = first.headers["etag"]
    server = world[0]
    with server.client() as client:
        again = client.get(
            f"{API}/namespaces/acme/pulls",
            headers={"Authorization": f"Bearer {world[1]}", "If-None-Match": etag},
        )
        other = client.get(
            f"{API}/namespaces/acme/pulls?timespan=weeks",
            headers={"Authorization": f"Bearer {world[1]}", "If-None-Match": etag},
        )
    assert again.status_code == 304 and again.content == b""
    assert other.status_code == 200 and other.headers["etag"] != etag
    # If-None-Match compares weakly: a proxy that weakened the tag, a list, and * all match
    for held in (f"W/{etag}", f'"elsewhere", W/{etag}', "*"):
        with server.client() as client:
            weak = client.get(
                f"{API}/namespaces/acme/pulls",
                headers={"Authorization": f"Bearer {world[1]}", "If-None-Match": held},
            )
        assert weak.status_code == 304, (held, weak.status_code)
    assert "null" not in first.text


def test_a_repeat_answered_from_the_cache_is_the_same_answer(
    world: tuple[Server, str, str],
) -> None:
    """The first request is routed and built; the repeats come from the answer cache in front
    of the router (api/cached_answers.py). Both must look the same to a client and to metrics,
    and another user's cached answer must never be handed out."""
    path = f"{API}/namespaces/acme/repos/tools/cli/pulls?timespan=weeks&period=last-6-months"
    answers = [get(world, path) for _ in range(3)]
    assert {a.status_code for a in answers} == {200}
    assert len({a.content for a in answers}) == 1
    drop = {"date"}
    headers = [{k: v for k, v in a.headers.items() if k not in drop} for a in answers]
    assert headers[0] == headers[1] == headers[2]
    assert headers[0]["content-type"] == "application/json"
    with world[0].client() as client:
        revalidated = client.get(
            path,
            headers={
                "Authorization": f"Bearer {world[1]}",
                "If-None-Match": answers[0].headers["etag"],
            },
        )
        metrics = client.get("/metrics").text
    assert revalidated.status_code == 304
    # bob reads nothing: the answer alice's scope cached is not his
    assert get(world, path, user=2).status_code == 404
    template = "/api/publisher/analytics/v1/namespaces/{namespace}/repos/{repo:path}/pulls"
    counted = [
        line
        for line in metrics.splitlines()
        if line.startswith("pullstats_http_requests_total") and f'route="{template}"' in line
    ]
    assert sum(float(line.rsplit(" ", 1)[1]) for line in counted if 'status="200"' in line) >= 3
    assert any('status="304"' in line for line in counted)


def test_a_parameter_given_twice_takes_its_last_value_cached_or_not(
    world: tuple[Server, str, str],
) -> None:
    path = f"{API}/namespaces/acme/pulls"
    months = get(world, f"{path}?timespan=weeks&timespan=months")  # built, then cached
    weeks = get(world, f"{path}?timespan=months&timespan=weeks")
    assert months.json() == get(world, path, timespan="months").json()
    assert weeks.json() == get(world, path, timespan="weeks").json()
    assert months.json() != weeks.json()


def test_links_use_the_public_url_when_configured(
    world: tuple[Server, str, str], tmp_path: Path
) -> None:
    public = "https://stats.example.com/base"
    behind_proxy = start_server(
        world[0].data_dir, tmp_path / "proxied.log", {"PULLSTATS_PUBLIC_URL": public + "/"}
    )
    try:
        with behind_proxy.client() as client:
            links = client.get(
                f"{EXPORTS}/years/2020/weeks/53/raw",
                headers={"Authorization": f"Bearer {world[1]}"},
            ).json()["data"]
    finally:
        behind_proxy.stop()
    assert links and all(link["url"].startswith(public + "/downloads/") for link in links)
