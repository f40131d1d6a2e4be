"""Retries, and the statuses a pullstats server cannot be made to answer on demand (5xx; 403,
while a PAT has only one scope), against a scripted stand-in on a loopback socket; the
client's own code is not mocked (the HTTP is real).

The stand-in answers each request with the next scripted (status, headers, body) and records
what it was asked, so a test sees how many attempts the client made.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pullstats.client import (
    ClientError,
    DvpClient,
    Forbidden,
    NotFound,
    RateLimited,
    ServerError,
    TransportError,
)
from pullstats.client.session import HTML_ANSWER, retry_after_seconds
from tests.client.conftest import JsonAnswers, StandInServer, serving
from tests.conftest import run_cli

Answer = tuple[int, dict[str, str], Any]
NAMESPACES: Answer = (200, {}, {"namespaces": ["acme"]})


class StandIn(StandInServer):
    def __init__(self) -> None:
        super().__init__(Handler)
        self.script: list[Answer] = []
        self.seen: list[str] = []


class Handler(JsonAnswers):
    server: StandIn

    def do_GET(self) -> None:
        self.server.seen.append(self.path)
        status, headers, body = self.server.script.pop(0) if self.server.script else NAMESPACES
        self._answer(status, body, headers=headers)

    do_POST = do_GET  # a login answers from the same script


@pytest.fixture
def stand_in() -> Iterator[StandIn]:
    yield from serving(StandIn())


def test_5xx_and_429_are_retried_waiting_what_retry_after_says(stand_in: StandIn) -> None:
    stand_in.script = [
        (503, {"Retry-After": "0"}, {"detail": "down for a moment"}),
        (429, {"Retry-After": "0"}, {"message": "slow down"}),
        (500, {}, {"detail": "oops"}),
        NAMESPACES,
    ]
    with DvpClient(stand_in.url, token="t", attempts=4) as client:
        assert client.namespaces().namespaces == ["acme"]
    assert stand_in.seen == ["/api/publisher/analytics/v1/"] * 4


def test_the_last_failure_is_raised_with_the_servers_message(stand_in: StandIn) -> None:
    stand_in.script = [(502, {"Retry-After": "0"}, {"detail": "bad gateway"})] * 3
    client = DvpClient(stand_in.url, token="t", attempts=3)
    with client, pytest.raises(ServerError, match="502: bad gateway") as failed:
        client.namespaces()
    assert failed.value.status == 502
    assert len(stand_in.seen) == 3


def test_a_wait_longer_than_max_wait_is_raised_at_once(stand_in: StandIn) -> None:
    stand_in.script = [(429, {"Retry-After": "3600"}, {"detail": "come back in an hour"})]
    client = DvpClient(stand_in.url, token="t", max_wait=5)
    with client, pytest.raises(RateLimited, match="come back in an hour") as limited:
        client.namespaces()
    assert limited.value.retry_after == 3600
    assert len(stand_in.seen) == 1


def test_a_4xx_is_never_retried(stand_in: StandIn) -> None:
    stand_in.script = [(404, {}, {"detail": "no such namespace"})]
    with DvpClient(stand_in.url, token="t") as client, pytest.raises(NotFound):
        client.namespace("nope")
    assert len(stand_in.seen) == 1


def test_an_answer_not_in_the_contracts_shape_is_a_server_error(stand_in: StandIn) -> None:
    stand_in.script = [(200, {}, {"namespaces": "not a list"})]
    with DvpClient(stand_in.url, token="t") as client, pytest.raises(ServerError) as odd:
        client.namespaces()
    # one line, with the first problem (pydantic's own report is a dozen lines)
    assert odd.value.message == (
        "200: the answer is not the contract's shape (1 problem(s); namespaces: Input should be "
        "a valid list): is the URL a DVP API server's?"
    )


HTML = "text/html;charset=utf-8"
PAGE = b"<!DOCTYPE HTML>\n<html lang='en'>\n<body>\n<h1>Error response</h1>\n</body>\n</html>\n"
#: FastAPI's 422 (pullstats' own): a list of problems
PROBLEMS = [
    {"type": "less_than_equal", "loc": ["path", "year"], "msg": "Input should be ≤ 9999"},
    {"type": "int_parsing", "loc": ["query", "week"], "msg": "Input should be an integer"},
]


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        # each problem as ``where: what``; before, the list's Python repr, braces and all
        (
            (422, {}, {"detail": PROBLEMS}),
            "422: year: Input should be ≤ 9999; week: Input should be an integer",
        ),
        ((400, {}, {"detail": {"odd": [1]}}), '400: {"odd": [1]}'),  # any other shape: JSON
        ((404, {"Content-Type": HTML}, PAGE), "404: " + HTML_ANSWER),  # a web site's page
        (
            (400, {"Content-Type": "text/plain"}, b"bad\n   request\n" + b"x" * 400),
            "400: bad request " + "x" * 287 + "…",  # one line of 300 characters: 12 + 287 + 1
        ),
    ],
    ids=["fastapi-422", "odd-json", "html", "long-text"],
)
def test_an_error_answer_is_told_in_one_line_of_its_own_words(
    stand_in: StandIn, answer: Answer, said: str
) -> None:
    stand_in.script = [answer]
    with DvpClient(stand_in.url, token="t") as client, pytest.raises(ClientError) as failed:
        client.namespace("acme")
    assert failed.value.message == said


def test_an_html_page_answered_200_is_told_as_the_404_one_is(stand_in: StandIn) -> None:
    # a web site's home page at the URL: a data call and a login each say what it means
    page = b"<!doctype html><html><body>Welcome</body></html>"
    stand_in.script = [(200, {"Content-Type": "text/html"}, page)] * 2
    with DvpClient(stand_in.url, token="t") as client, pytest.raises(ServerError) as data:
        client.namespaces()
    with DvpClient(stand_in.url) as client, pytest.raises(ServerError) as login:
        client.login("alice", "secret")
    expected = "200: an HTML page, not the API's JSON: is the URL a DVP API server's?"
    assert (data.value.message, login.value.message) == (expected, expected)
    assert data.value.server == login.value.server == stand_in.url


def test_no_answer_at_all_is_a_transport_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        client = DvpClient(f"http://127.0.0.1:{port}", token="t", attempts=2, timeout=2)
        with client, pytest.raises(TransportError):
            client.namespaces()


def test_retry_after_is_read_in_both_of_its_forms() -> None:
    assert retry_after_seconds("120") == 120
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None


def test_403_is_forbidden_with_docker_hubs_message(stand_in: StandIn) -> None:
    stand_in.script = [(403, {}, {"message": "insufficient scope"})]
    with DvpClient(stand_in.url, token="t") as client, pytest.raises(Forbidden) as refused:
        client.user_namespaces()
    assert (refused.value.status, refused.value.message) == (403, "403: insufficient scope")
    assert len(stand_in.seen) == 1


def test_the_cli_says_when_it_tries_again(stand_in: StandIn, tmp_path: Path) -> None:
    """A server failing for a while: each wait is a note on stderr, so a command is never
    silent for minutes; the answer, once it comes, is the command's output as ever."""
    down = (503, {"Retry-After": "0"}, {"detail": "down for a moment"})
    stand_in.script = [(200, {}, {"token": "t"}), down, down, (200, {}, []), NAMESPACES]
    env = {
        "PULLSTATS_HUB_URL": stand_in.url,
        "PULLSTATS_HUB_CONFIG_DIR": str(tmp_path / "config"),
        "PULLSTATS_HUB_USERNAME": "alice",
        "PULLSTATS_HUB_PASSWORD": "secret",
    }
    result = run_cli(tmp_path / "data", "hub", "namespaces", "--format", "json", env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["namespaces"] == ["acme"]
    assert result.stderr.splitlines() == [
        f"note: 503: down for a moment; trying again in 0.0 s (attempt {n} of 4)" for n in (2, 3)
    ]


@pytest.mark.parametrize(
    "answer",
    [
        (503, {"Retry-After": "0"}, {"detail": "down for a moment"}),  # after its retries
        (429, {"Retry-After": "0"}, {"message": "slow down"}),
        (200, {"Content-Type": "text/plain"}, b"not json"),
        (200, {}, {"namespaces": "not a list"}),  # not the contract's shape
    ],
    ids=["503", "429", "not-json", "odd-shape"],
)
def test_a_data_calls_failure_names_the_server_that_answered(
    stand_in: StandIn, answer: Answer
) -> None:
    # where to log in again, or which server failed: the base URL, as a 401's error has it
    stand_in.script = [answer] * 2
    client = DvpClient(stand_in.url, token="t", attempts=2)
    with client, pytest.raises(ClientError) as failed:
        client.namespaces()
    assert failed.value.server == stand_in.url


def test_a_redirect_says_where_to_without_following_it(stand_in: StandIn) -> None:
    # never followed (the request carries a password or a token): the error names the place,
    # without the query a redirect may carry, nor any user:password
    moved = "https://who:pw@x.example/v2/users/login?session=secret#top"
    stand_in.script = [(301, {"Location": moved, "Content-Type": HTML}, PAGE)]
    with DvpClient(stand_in.url) as client, pytest.raises(ServerError) as login:
        client.login("alice", "secret")
    assert login.value.message == (
        "301: redirected to https://x.example/v2/users/login: use --url https://x.example"
    )
    assert (login.value.status, login.value.server) == (301, stand_in.url)
    # a relative Location is the same server's: the path it names is said in full
    stand_in.script = [(308, {"Location": "/v1/"}, b"")]
    with DvpClient(stand_in.url, token="t") as client, pytest.raises(ServerError) as data:
        client.namespaces()
    assert data.value.message == f"308: redirected to {stand_in.url}/v1/: use --url {stand_in.url}"
    assert stand_in.seen == ["/v2/users/login", "/api/publisher/analytics/v1/"]  # once each


def test_a_redirect_of_a_server_under_a_path_keeps_its_path(stand_in: StandIn) -> None:
    # a pullstats behind a proxy at /pullstats, moved to https: the --url to use keeps the path
    # (the target less the route asked for), not only the new origin
    route = "/api/publisher/analytics/v1/"
    stand_in.script = [(301, {"Location": f"https://x.example/pullstats{route}"}, b"")]
    base = f"{stand_in.url}/pullstats"
    with DvpClient(base, token="t") as client, pytest.raises(ServerError) as moved:
        client.namespaces()
    assert moved.value.message == (
        f"301: redirected to https://x.example/pullstats{route}: use --url https://x.example/pullstats"
    )
    assert stand_in.seen == [f"/pullstats{route}"]
    # a server at the root moved under a path: the path is said too, not only the origin
    stand_in.script = [(308, {"Location": f"https://x.example/pullstats{route}"}, b"")]
    with DvpClient(stand_in.url, token="t") as client, pytest.raises(ServerError) as under:
        client.namespaces()
    assert under.value.message.endswith(": use --url https://x.example/pullstats")
    # a target that does not end in the route (a sign-in page): only its origin can be said
    stand_in.script = [(302, {"Location": "https://x.example/sso/start"}, b"")]
    with DvpClient(base, token="t") as client, pytest.raises(ServerError) as elsewhere:
        client.namespaces()
    assert elsewhere.value.message == (
        "302: redirected to https://x.example/sso/start: use --url https://x.example"
    )


def test_the_cli_says_where_a_redirect_goes(stand_in: StandIn, tmp_path: Path) -> None:
    moved = "https://x.example/v2/users/login"
    stand_in.script = [(301, {"Location": moved, "Content-Type": HTML}, PAGE)]
    env = {
        "PULLSTATS_HUB_URL": stand_in.url,
        "PULLSTATS_HUB_CONFIG_DIR": str(tmp_path / "config"),
        "PULLSTATS_HUB_USERNAME": "alice",
        "PULLSTATS_HUB_PASSWORD": "secret",
    }
    result = run_cli(tmp_path / "data", "hub", "namespaces", env=env)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        f"error: the server could not use the request or its answer (301: redirected to {moved}: "
        "use --url https://x.example)\n"
    )
