"""The client reads every answer Docker's contract allows, not only the ones pullstats sends.

Docker's OpenAPI document of the DVP Data API requires no property of any answer's schema and
closes none of its objects: Docker Hub may leave out ``extraRepos``, or a pull row's
``namespace`` (grouped by repository), and may add fields. The stand-in below answers in
those shapes, written by hand from the contract's schemas (it has no examples of these
answers). It also sends what the contract does not describe but a lenient reader should
survive: a list as ``null`` (no records), and a dataset and a view the client does not know
(Docker may add some).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from pullstats.client import AuthenticationRequired, DvpClient, ServerError, credentials
from pullstats.exports.views import Dataview
from pullstats.rollups.series_query import Group, Timespan
from tests.client.conftest import JsonAnswers, StandInServer, serving
from tests.conftest import run_cli

API = "/api/publisher/analytics/v1"
TOKEN = "hub-token"
VIEWS = ["raw", "summary", "repo-summary", "namespace-summary"]
MONTH = {"start": "2026-10-01T00:00:00Z", "end": "2026-10-31T23:59:59Z"}
#: a row grouped by repository, as the contract allows it: no namespace, a field unknown here
BY_REPO = {**MONTH, "repo": "api", "pullCount": 7, "ipCount": 3, "source": "hub"}

#: data answers by path (and query, for the series): every one in a shape the contract allows
ANSWERS: dict[str, Any] = {
    "/": {"namespaces": ["acme", "globex"]},
    "/namespaces": [
        # no extraRepos: optional, like every property of the contract
        {"namespace": "acme", "datasets": [{"name": "pulls", "views": VIEWS}]},
        # beyond the contract: a null list, a dataset and a view the client does not know
        {
            "namespace": "globex",
            "extraRepos": None,
            "datasets": [{"name": "extensions", "views": ["geo-repo-summary"], "timespans": None}],
            "tier": "verified",
        },
    ],
    "/namespaces/acme/pulls?group=repo": {"pulls": [BY_REPO]},
    "/namespaces/acme/pulls": {"pulls": [{**MONTH, "namespace": "acme", "pullCount": 9}]},
    "/namespaces/globex/pulls": {"pulls": None},  # no records
    "/repos/pulls?repos=acme/api&repos=acme/web": {
        "repos": {"acme/api": {"pulls": [BY_REPO]}, "acme/web": {"pulls": None}}
    },
    "/namespaces/acme/pulls/exports/years": {"years": [{"year": 2026}, {}]},
    "/namespaces/acme/pulls/exports/years/2026/months": {"months": [{"month": 10}]},
    "/namespaces/acme/pulls/exports/years/2026/months/10/raw": {
        "data": [{"url": "https://files.example/raw-1.csv.gz", "size": 12, "expires": "soon"}]
    },
}


class DockerHub(StandInServer):
    def __init__(self) -> None:
        super().__init__(Handler)
        #: (method, path) of every request, in order
        self.seen: list[tuple[str, str]] = []
        #: the data GETs (1 for the first) answered 401 whatever their token: it was revoked
        self.refuse_at: set[int] = set()


class Handler(JsonAnswers):
    server: DockerHub

    def do_POST(self) -> None:
        self.server.seen.append(("POST", self.path))
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path == "/v2/users/login" and body == {"username": "dora", "password": "pat"}:
            return self._answer(200, {"token": TOKEN})
        self._answer(401, {"detail": "Incorrect authentication credentials"})

    def do_GET(self) -> None:
        self.server.seen.append(("GET", self.path))
        if sum(method == "GET" for method, _ in self.server.seen) in self.server.refuse_at:
            return self._answer(401, {"detail": "token expired"})
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self._answer(401, {"detail": "authentication required"})
        parts = urlsplit(self.path)
        query = "&".join(f"{k}={v}" for k, vs in parse_qs(parts.query).items() for v in vs)
        key = parts.path.removeprefix(API) + (f"?{query}" if query else "")
        if key in ANSWERS:
            return self._answer(200, ANSWERS[key])
        self._answer(404, {"detail": "not found"})


@pytest.fixture
def docker_hub() -> Iterator[DockerHub]:
    yield from serving(DockerHub())


def test_the_client_reads_the_answers_the_contract_allows(docker_hub: DockerHub) -> None:
    with DvpClient(docker_hub.url, token=TOKEN) as client:
        acme, globex = client.user_namespaces()
        by_repo = client.namespace_pulls("acme", group=Group.REPO).pulls
        quiet = client.namespace_pulls("globex").pulls
        several = client.repos_pulls(["acme/api", "acme/web"]).repos
        files = list(
            client.export_files("acme", timespantypes=[Timespan.MONTHS], views=[Dataview.RAW])
        )
    assert (acme.namespace, acme.extraRepos, acme.datasets[0].name) == ("acme", [], "pulls")
    assert acme.datasets[0].views == VIEWS and acme.datasets[0].timespans == []
    assert (globex.extraRepos, globex.datasets[0].name) == ([], "extensions")
    assert (globex.datasets[0].views, globex.datasets[0].timespans) == (["geo-repo-summary"], [])
    (row,) = by_repo
    assert (row.namespace, row.repo, row.pullCount, row.ipCount) == (None, "api", 7, 3)
    assert quiet == []
    assert [row.repo for row in several["acme/api"].pulls] == ["api"]
    assert several["acme/web"].pulls == []
    # the year without its number names no period; the listed part's own fields are read
    assert [(f.year, f.timespan, f.url, f.size, f.sha256) for f in files] == [
        (2026, 10, "https://files.example/raw-1.csv.gz", 12, None)
    ]


def test_a_listed_part_without_its_url_is_an_error_not_a_missing_file(
    docker_hub: DockerHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = "/namespaces/acme/pulls/exports/years/2026/months/10/raw"
    monkeypatch.setitem(ANSWERS, path, {"data": [{"size": 12}]})
    with DvpClient(docker_hub.url, token=TOKEN) as client, pytest.raises(ServerError) as odd:
        list(client.export_files("acme", timespantypes=[Timespan.MONTHS], views=[Dataview.RAW]))
    said = "200: the listing of acme/2026/months/10/raw/part001 gives it no url"
    assert (odd.value.message, odd.value.server) == (said, docker_hub.url)


def _hub(docker_hub: DockerHub, data_dir: Path, config: Path, *args: str) -> Any:
    env = {
        "PULLSTATS_HUB_URL": docker_hub.url,
        "PULLSTATS_HUB_CONFIG_DIR": str(config),
        "PULLSTATS_HUB_USERNAME": "dora",
        "PULLSTATS_HUB_PASSWORD": "pat",
    }
    return run_cli(data_dir, "hub", *args, env=env)


@pytest.mark.parametrize("token_stored", [False, True])
def test_pullstats_hub_shows_them_with_credentials_from_the_environment(
    docker_hub: DockerHub,
    data_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    token_stored: bool,
) -> None:
    config = tmp_path / "config"
    if token_stored:
        monkeypatch.setenv(credentials.CONFIG_DIR_ENV, str(config))
        credentials.save(docker_hub.url, "dora", TOKEN)
    listed = _hub(docker_hub, data_dir, config, "namespaces")
    assert listed.returncode == 0, listed.stderr
    assert "globex" in listed.stdout
    as_json = _hub(docker_hub, data_dir, config, "namespaces", "--format", "json")
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout)["metadata"] == [
        {
            "namespace": "acme",
            "extraRepos": [],
            "datasets": [{"name": "pulls", "views": VIEWS, "timespans": []}],
        },
        {
            "namespace": "globex",
            "extraRepos": [],
            "datasets": [{"name": "extensions", "views": ["geo-repo-summary"], "timespans": []}],
        },
    ]
    series = _hub(
        docker_hub, data_dir, config, "pulls", "acme", "--group", "repo", "--format", "csv"
    )
    assert series.returncode == 0, series.stderr
    assert series.stdout.splitlines()[1:] == [f"{MONTH['start']},{MONTH['end']},,api,7,3"]
    table = _hub(docker_hub, data_dir, config, "pulls", "acme", "--group", "repo")
    assert table.returncode == 0, table.stderr
    assert "api" in table.stdout
    none = _hub(docker_hub, data_dir, config, "pulls", "globex")
    assert (none.returncode, none.stdout) == (0, "No pulls of globex in that period.\n")
    repos = _hub(docker_hub, data_dir, config, "pulls", "acme", "api", "web", "--format", "json")
    assert repos.returncode == 0, repos.stderr
    logins = [seen for seen in docker_hub.seen if seen[0] == "POST"]
    assert len(logins) == (0 if token_stored else 6)  # a stored token accepted: no login


@pytest.mark.parametrize("refused", [1, 2])
def test_a_refused_stored_token_signs_in_from_the_environment_once_whenever_refused(
    docker_hub: DockerHub,
    data_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    refused: int,
) -> None:
    # `hub namespaces` asks twice (/namespaces, then /): the token is refused at the first
    # request, or only at the second, as when it expires or is revoked during a run
    config = tmp_path / "config"
    monkeypatch.setenv(credentials.CONFIG_DIR_ENV, str(config))
    credentials.save(docker_hub.url, "dora", TOKEN)
    docker_hub.refuse_at = {refused}
    listed = _hub(docker_hub, data_dir, config, "namespaces")
    assert listed.returncode == 0, listed.stderr
    assert [seen for seen in docker_hub.seen if seen[0] == "POST"] == [("POST", "/v2/users/login")]
    asked = {1: ["/namespaces", "/namespaces", "/"], 2: ["/namespaces", "/", "/"]}[refused]
    assert [path for method, path in docker_hub.seen if method == "GET"] == [
        API + path for path in asked
    ]


def test_the_library_signs_in_again_with_the_credentials_it_was_given(
    docker_hub: DockerHub,
) -> None:
    docker_hub.refuse_at = {1}
    with DvpClient(docker_hub.url, token="revoked", credentials=("dora", "pat")) as client:
        assert client.namespaces().namespaces == ["acme", "globex"]
        assert client.token == TOKEN
    assert docker_hub.seen == [("GET", f"{API}/"), ("POST", "/v2/users/login"), ("GET", f"{API}/")]
    docker_hub.refuse_at, docker_hub.seen = {1}, []
    client = DvpClient(docker_hub.url, token="revoked", credentials=("dora", "wrong"))
    with client, pytest.raises(AuthenticationRequired) as refused:
        client.namespaces()
    assert refused.value.message == (
        "401: the token was refused (token expired), and so was signing in again as dora "
        "(401: Incorrect authentication credentials)"
    )
    assert refused.value.server == docker_hub.url


def test_export_files_since_a_datetime_keeps_the_periods_of_its_utc_day(
    docker_hub: DockerHub,
) -> None:
    # 20:00 of October 31st at UTC-5 is November 1st in UTC: October has ended by then
    evening = datetime(2026, 10, 31, 20)
    with DvpClient(docker_hub.url, token=TOKEN) as client:
        found = {
            since: [
                (f.year, f.timespan)
                for f in client.export_files(
                    "acme", since=since, timespantypes=[Timespan.MONTHS], views=[Dataview.RAW]
                )
            ]
            for since in (evening, evening.replace(tzinfo=timezone(timedelta(hours=-5))))
        }
    assert list(found.values()) == [[(2026, 10)], []]
