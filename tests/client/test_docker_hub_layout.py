"""The client and ``pullstats hub`` against a stand-in with Docker Hub's host layout: login at
the root (``/v2/users/login``, then ``/v2/users/2fa-login`` with the ``login_2fa_token`` a 401
hands out), data under ``/api/publisher/analytics/v1``, and export files on a path of their own
that needs no token, as Docker Hub's presigned links do. Answers are in the contract's shapes;
no ``sha256`` in the listings (Docker Hub gives none), and only the ``pulls`` dataset (no
report datasets: those are pullstats'). Not Docker Hub itself: there is no network here
(docs/client.md says so)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from pullstats.client import DatasetNotServed, DvpClient, SecondFactorRequired
from pullstats.exports.reports import Dataset, ReportView
from pullstats.rollups.series_query import Timespan
from tests.client.conftest import JsonAnswers, StandInServer, serving
from tests.conftest import run_cli

API = "/api/publisher/analytics/v1"
TOKEN = "hub-token-for-dora"
PENDING = "pending-2fa-1"
CODE = "123456"
#: the exported periods: October 2026 and ISO week 41 of 2026, four views each
PERIODS = {"months": [10], "weeks": [41]}
VIEWS = ("raw", "summary", "repo-summary", "namespace-summary")


def _file_bytes(name: str) -> bytes:
    return gzip.compress(f"header\n{name}\n".encode(), mtime=0)


class DockerHub(StandInServer):
    def __init__(self) -> None:
        super().__init__(Handler)
        #: (method, path, had an Authorization header) of every request, in order
        self.seen: list[tuple[str, str, bool]] = []


class Handler(JsonAnswers):
    server: DockerHub

    def _seen(self) -> None:
        self.server.seen.append((self.command, self.path, "Authorization" in self.headers))

    def do_POST(self) -> None:
        self._seen()
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path == "/v2/users/login":
            if body == {"username": "dora", "password": "dora-password"}:
                # what Docker Hub answers an account with 2FA on
                detail = "Require secondary authentication on MFA enabled account"
                return self._answer(401, {"detail": detail, "login_2fa_token": PENDING})
            return self._answer(401, {"detail": "Incorrect authentication credentials"})
        if self.path == "/v2/users/2fa-login":
            if body == {"login_2fa_token": PENDING, "code": CODE}:
                return self._answer(200, {"token": TOKEN})
            return self._answer(401, {"detail": "Incorrect authentication credentials"})
        self._answer(404, {"detail": "not found"})

    def do_GET(self) -> None:
        self._seen()
        if self.path.startswith("/files/"):  # a presigned link: no token needed
            return self._answer(200, _file_bytes(self.path), "application/gzip")
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self._answer(401, {"detail": "authentication required"})
        if urlsplit(self.path).path == f"{API}/namespaces/acme":  # any query: pulls only
            pulls = {"name": "pulls", "views": list(VIEWS), "timespans": list(PERIODS)}
            return self._answer(200, {"namespace": "acme", "extraRepos": [], "datasets": [pulls]})
        exports = f"{API}/namespaces/acme/pulls/exports/years"
        if self.path == exports:
            return self._answer(200, {"years": [{"year": 2026}]})
        for kind, numbers in PERIODS.items():
            key = kind[:-1]
            if self.path == f"{exports}/2026/{kind}":
                return self._answer(200, {kind: [{key: n} for n in numbers]})
            for number in numbers:
                for view in VIEWS:
                    if self.path == f"{exports}/2026/{kind}/{number}/{view}":
                        name = f"/files/acme-{kind}-{number}-{view}.csv.gz"
                        url = self.server.url + name
                        size = len(_file_bytes(name))
                        return self._answer(200, {"data": [{"url": url, "size": size}]})
        self._answer(404, {"detail": "not found"})


@pytest.fixture
def docker_hub() -> Iterator[DockerHub]:
    yield from serving(DockerHub())


def _login(docker_hub: DockerHub, data_dir: Path, env: dict[str, str], code: str) -> Any:
    """``pullstats hub login`` as dora, her password on stdin and ``code`` as the TOTP code."""
    return run_cli(
        data_dir,
        "hub",
        "login",
        "--url",
        docker_hub.url,
        "--username",
        "dora",
        "--password-stdin",
        "--otp",
        code,
        stdin="dora-password\n",
        env=env,
    )


def test_the_2fa_handshake_and_the_export_walk_use_docker_hubs_urls(
    docker_hub: DockerHub,
) -> None:
    with DvpClient(docker_hub.url) as client:
        with pytest.raises(SecondFactorRequired) as pending:
            client.login("dora", "dora-password")
        assert pending.value.login_2fa_token == PENDING
        client.second_factor(CODE)
        files = list(client.export_files("acme"))
    assert [(f.timespantype.value, f.timespan, f.dataview.value) for f in files] == [
        (kind, number, view)
        for kind in ("months", "weeks")
        for number in PERIODS[kind]
        for view in VIEWS
    ]
    assert all(f.sha256 is None and f.url.startswith(f"{docker_hub.url}/files/") for f in files)
    exports = f"{API}/namespaces/acme/pulls/exports/years"
    assert docker_hub.seen[:5] == [
        ("POST", "/v2/users/login", False),
        ("POST", "/v2/users/2fa-login", False),
        ("GET", exports, True),
        ("GET", f"{exports}/2026/months", True),
        ("GET", f"{exports}/2026/months/10/raw", True),
    ]


def test_pullstats_hub_logs_in_with_2fa_and_mirrors_docker_hubs_exports(
    docker_hub: DockerHub, data_dir: Path, tmp_path: Path
) -> None:
    env = {"PULLSTATS_HUB_CONFIG_DIR": str(tmp_path / "config")}
    login = _login(docker_hub, data_dir, env, CODE)
    assert login.returncode == 0, login.stderr
    assert login.stdout == f"Logged in to {docker_hub.url} as dora.\n"
    mirror = tmp_path / "mirror"
    synced = run_cli(
        data_dir, "hub", "sync", "acme", "--to", str(mirror), "--url", docker_hub.url, env=env
    )
    assert synced.returncode == 0, synced.stderr
    assert synced.stdout.startswith("synced: downloaded 8 files (")
    part = mirror / "acme/2026/months/10/repo-summary/part001.csv.gz"
    assert part.read_bytes() == _file_bytes("/files/acme-months-10-repo-summary.csv.gz")
    # the token went to the API, never to a file link
    files = [seen for seen in docker_hub.seen if seen[1].startswith("/files/")]
    assert len(files) == 8 and not any(had_token for _, _, had_token in files)
    wrong = _login(docker_hub, data_dir, env, "000000")
    assert wrong.returncode == 1
    assert len(wrong.stderr.splitlines()) == 1 and wrong.stderr.startswith("error: ")


def test_a_report_dataset_from_docker_hub_is_a_clear_error(docker_hub: DockerHub) -> None:
    with DvpClient(docker_hub.url, token=TOKEN) as client:
        with pytest.raises(DatasetNotServed) as no_years:
            client.years("acme", dataset=Dataset.SUMMARY)
        with pytest.raises(DatasetNotServed) as no_links:
            client.view_files(
                "acme", 2026, Timespan.MONTHS, 10, ReportView.REPORT, dataset=Dataset.SUMMARY
            )
        assert len(list(client.export_files("acme"))) == 8  # pulls, as before
    for error in (no_years.value, no_links.value):
        assert (error.status, error.server) == (404, docker_hub.url)
        assert error.message == (
            f"{docker_hub.url} serves no 'summary' dataset for acme: report datasets are a "
            "pullstats extension (Docker Hub serves only 'pulls')"
        )
    asked = [path for _, path, _ in docker_hub.seen if "/summary/" in path]
    assert asked == [
        f"{API}/namespaces/acme/summary/exports/years",
        f"{API}/namespaces/acme/summary/exports/years/2026/months/10/report",
    ]


def test_pullstats_hub_asked_for_a_report_from_docker_hub_says_so_in_one_line(
    docker_hub: DockerHub, data_dir: Path, tmp_path: Path
) -> None:
    env = {"PULLSTATS_HUB_CONFIG_DIR": str(tmp_path / "config")}
    assert _login(docker_hub, data_dir, env, CODE).returncode == 0
    where = ["--url", docker_hub.url]
    mirror = tmp_path / "mirror"
    for args in (
        ["download", "acme", "--year", "2026", "--month", "10", "--view", "summary-report"],
        ["sync", "acme", "--to", str(mirror), "--view", "raw", "--view", "summary-report"],
    ):
        refused = run_cli(data_dir, "hub", *args, *where, env=env)
        assert refused.returncode == 1, refused.stdout
        assert refused.stderr == (
            f"error: {docker_hub.url} serves no 'summary' dataset for acme: report datasets are "
            "a pullstats extension (Docker Hub serves only 'pulls'); leave out --view "
            "summary-report\n"
        )
    assert not list(mirror.rglob("*.gz"))  # nothing half-synced
    refused = run_cli(data_dir, "hub", "exports", "acme", "--dataset", "trends", *where, env=env)
    assert (refused.returncode, refused.stdout) == (1, "")
    assert refused.stderr == (
        f"error: {docker_hub.url} serves no 'trends' dataset for acme: report datasets are "
        "a pullstats extension (Docker Hub serves only 'pulls'); leave out --dataset trends\n"
    )
