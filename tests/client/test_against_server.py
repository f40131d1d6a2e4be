"""The client against a real pullstats server: the same numbers as the raw HTTP API, the
export walk, every way of signing in, and each failure mapped to its one error.

One server and one processed, exported data dir, shared with the other client tests
(``conftest.py``: what it holds).
"""

from __future__ import annotations

import gzip
import hashlib
import time as clock
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest

from pullstats.client import (
    AuthenticationRequired,
    DvpClient,
    NotFound,
    RateLimited,
    SecondFactorRequired,
)
from pullstats.exports.views import Dataview
from pullstats.rollups.series_query import Breakdown, Group, RelativePeriod, Timespan
from tests.client.conftest import ATTEMPTS, Served, run_ok, signed_in
from tests.conftest import Server, start_server
from tests.test_end_to_end import API, set_up_accounts

#: the package's ``served`` installation (conftest.py) is built once: on the worker that
#: runs every module using it
pytestmark = pytest.mark.xdist_group("client")


def _raw(server: Server, token: str | None, path: str, params: Any = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with server.client() as client:
        return client.get(API + path, params=params, headers=headers)


def _dump(model: Any) -> Any:
    if isinstance(model, list):
        return [_dump(item) for item in model]
    return model.model_dump(mode="json", exclude_none=True)


def test_every_operation_answers_what_the_raw_api_answers(served: Served) -> None:
    with signed_in(served) as client:
        token = client.token
        year = client.years("acme").years[-1].year
        month = client.timespans("acme", year, Timespan.MONTHS)
        week = client.timespans("acme", year, Timespan.WEEKS)
        m = month.months[-1].month  # type: ignore[union-attr]
        w = week.weeks[-1].week  # type: ignore[union-attr]
        series = {"timespan": "weeks", "period": "last-3-months", "group": "repo"}
        cases: list[tuple[Any, str, Any]] = [
            (client.namespaces(), "/", None),
            (client.user_namespaces(), "/namespaces", None),
            (client.namespace("acme"), "/namespaces/acme", None),
            (client.namespace_pulls("acme"), "/namespaces/acme/pulls", None),
            (
                client.namespace_pulls(
                    "acme",
                    timespan=Timespan.WEEKS,
                    period=RelativePeriod.LAST_3_MONTHS,
                    group=Group.REPO,
                ),
                "/namespaces/acme/pulls",
                series,
            ),
            (
                client.namespace_pulls("acme", breakdown=Breakdown.COUNTRY, current=True),
                "/namespaces/acme/pulls",
                {"breakdown": "country", "current": "true"},
            ),
            (
                client.repo_pulls("acme", "tools/cli", timespan=Timespan.WEEKS),
                "/namespaces/acme/repos/tools/cli/pulls",
                {"timespan": "weeks"},
            ),
            (
                client.repos_pulls(["acme/api", "acme/tools/cli", "globex/web"]),
                "/repos/pulls",
                [("repos", "acme/api"), ("repos", "acme/tools/cli"), ("repos", "globex/web")],
            ),
            (client.years("acme"), "/namespaces/acme/pulls/exports/years", None),
            (month, f"/namespaces/acme/pulls/exports/years/{year}/months", None),
            (week, f"/namespaces/acme/pulls/exports/years/{year}/weeks", None),
            (
                client.timespan_metadata("acme", year, Timespan.WEEKS, w),
                f"/namespaces/acme/pulls/exports/years/{year}/weeks/{w}",
                None,
            ),
        ]
        links = client.dataview("acme", year, Timespan.MONTHS, m, Dataview.RAW)
    for answer, path, params in cases:
        raw = _raw(served.server, token, path, params)
        assert raw.status_code == 200, (path, raw.text)
        assert _dump(answer) == raw.json(), path
    # the numbers themselves, so equal-but-empty answers could not pass
    by_repo = _dump(cases[7][0])["repos"]
    assert set(by_repo) == {"acme/api", "acme/tools/cli"}  # globex is not alice's
    assert sum(row["pullCount"] for row in by_repo["acme/api"]["pulls"]) == 2
    # download links are signed per request: the same files, each link its own signature
    raw_links = _raw(
        served.server, token, f"/namespaces/acme/pulls/exports/years/{year}/months/{m}/raw"
    )
    assert [(f.url.split("?")[0], f.size, f.sha256) for f in links.data] == [
        (f["url"].split("?")[0], f["size"], f["sha256"]) for f in raw_links.json()["data"]
    ]


def test_the_export_walk_reaches_every_file_of_every_period(served: Served) -> None:
    with signed_in(served) as client:
        files = list(client.export_files("acme"))
        expected = []
        for year in client.years("acme").years:
            for kind in Timespan:
                listed = client.timespans("acme", year.year, kind)
                numbers = [getattr(x, kind.value[:-1]) for x in getattr(listed, kind.value)]
                for number in numbers:
                    for view in Dataview:
                        parts = client.dataview("acme", year.year, kind, number, view).data
                        expected += [(year.year, kind, number, view, p.size) for p in parts]
    assert [(f.year, f.timespantype, f.timespan, f.dataview, f.size) for f in files] == expected
    kinds = {(f.timespantype, f.dataview) for f in files}
    assert kinds == {(kind, view) for kind in Timespan for view in Dataview}
    raw = next(f for f in files if f.dataview is Dataview.RAW)
    body = httpx.get(raw.url, timeout=30)
    assert body.status_code == 200 and len(body.content) == raw.size
    # pullstats' extension of the listing: the SHA-256 of exactly the bytes served
    assert raw.sha256 == hashlib.sha256(body.content).hexdigest()
    assert gzip.decompress(body.content).startswith(b"timestamp")


def test_a_personal_access_token_signs_in_like_a_password(served: Served) -> None:
    out = run_ok(served.data_dir, "tokens", "create", "bob", "--label", "client-test")
    secret = out.strip().splitlines()[-1]
    with DvpClient(served.server.url) as client:
        client.login("bob", secret)
        assert client.namespaces().namespaces == ["globex"]


def test_a_second_factor_finishes_the_login(served: Served) -> None:
    run_ok(served.data_dir, "users", "add", "dora", "--password-stdin", stdin="dora-explores-far\n")
    run_ok(served.data_dir, "members", "add", "acme", "dora", "--role", "member")
    uri = run_ok(served.data_dir, "users", "totp", "enable", "dora").strip().splitlines()[-1]
    with DvpClient(served.server.url) as client:
        with pytest.raises(SecondFactorRequired) as pending:
            client.login("dora", "dora-explores-far")
        assert pending.value.login_2fa_token
        with pytest.raises(AuthenticationRequired):
            client.namespace("acme")  # no token yet
        with pytest.raises(AuthenticationRequired) as wrong:
            client.second_factor(f"{(int(pyotp.parse_uri(uri).now()) + 1) % 10**6:06d}")
        assert wrong.value.status == 401 and not isinstance(wrong.value, SecondFactorRequired)
        # a pending login is spent by a wrong code: the password is asked for again
        with pytest.raises(SecondFactorRequired):
            client.login("dora", "dora-explores-far")
        client.second_factor(pyotp.parse_uri(uri).now())
        assert client.namespace("acme").namespace == "acme"


def test_an_expired_token_is_renewed_with_the_known_credentials(served: Served) -> None:
    with signed_in(served) as client:
        client.session.token = "x.y.z"  # what an expired token gets: 401
        assert client.namespace("acme").namespace == "acme"
        assert client.token != "x.y.z"
    stranger = DvpClient(served.server.url, token="x.y.z")  # no credentials to renew it with
    with stranger, pytest.raises(AuthenticationRequired, match="401"):
        stranger.namespace("acme")


def test_failures_map_to_their_errors_with_the_servers_message(served: Served) -> None:
    with DvpClient(served.server.url) as anonymous:
        with pytest.raises(AuthenticationRequired) as unauthenticated:
            anonymous.namespaces()
        assert unauthenticated.value.status == 401
    with signed_in(served) as client:
        for call in (
            lambda: client.namespace_pulls("globex"),  # another's: as if it did not exist
            lambda: client.repo_pulls("acme", "nothing"),
            # dot segments are sent as the name given: resolved, this was acme's own series
            lambda: client.repo_pulls("globex", "../../acme"),
            lambda: client.timespan_metadata("acme", 1999, Timespan.MONTHS, 1),
        ):
            with pytest.raises(NotFound) as missing:
                call()
            assert missing.value.status == 404
        with pytest.raises(NotFound, match="no exported data for that period"):
            client.dataview("acme", 1999, Timespan.WEEKS, 2, Dataview.SUMMARY)
    wrong = DvpClient(served.server.url)
    with wrong, pytest.raises(AuthenticationRequired, match="Incorrect authentication credentials"):
        wrong.login("alice", "not-her-password")


def test_the_login_throttle_is_rate_limited_with_its_wait(served: Served) -> None:
    with DvpClient(served.server.url) as client:
        for _ in range(ATTEMPTS):
            with pytest.raises(AuthenticationRequired):
                client.login("carl", "guess")
        with pytest.raises(RateLimited) as throttled:
            client.login("carl", "guess")
    assert throttled.value.status == 429
    assert throttled.value.retry_after is not None and throttled.value.retry_after > 0


def test_a_token_that_really_expires_is_renewed(data_dir: Path, tmp_path: Path) -> None:
    set_up_accounts(data_dir)
    server = start_server(data_dir, tmp_path / "server.log", {"PULLSTATS_JWT_TTL": "PT2S"})
    try:
        with DvpClient(server.url) as client:
            client.login("alice", "alice-secret")
            first = client.token
            clock.sleep(3.1)  # the JWT's exp has passed: the server answers 401
            assert _raw(server, first, "/namespaces/acme").status_code == 401
            assert client.namespace("acme").namespace == "acme"
            assert client.token != first
    finally:
        server.stop()
