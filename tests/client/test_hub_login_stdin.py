"""``pullstats hub login`` reads what it is given on standard input as UTF-8, whatever the
locale: under a Latin-1 one a password's UTF-8 was read as other characters (ü as Ã¼), which the
server refused. Every answer comes from the same place, so a user name, password and TOTP code
piped on three lines reach the server as they were written.

These run ``python -m pullstats`` itself, not the suite's forked command, whose standard input
is always UTF-8.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.client.conftest import JsonAnswers, StandInServer, serving
from tests.conftest import cli_env, run_cli

PASSWORD = "Grüße aus Köln, fröhliche Bäume 77"
PENDING = "pending-2fa-hal"
CODE = "123456"


class Hub(StandInServer):
    """Asks hal, with ``PASSWORD``, for a second factor; records every login body."""

    def __init__(self) -> None:
        super().__init__(Handler)
        self.bodies: list[dict[str, str]] = []


class Handler(JsonAnswers):
    server: Hub

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.bodies.append(body)
        if self.path == "/v2/users/login" and body == {"username": "hal", "password": PASSWORD}:
            detail = "Require secondary authentication on MFA enabled account"
            return self._answer(401, {"detail": detail, "login_2fa_token": PENDING})
        if self.path == "/v2/users/2fa-login" and body == {
            "login_2fa_token": PENDING,
            "code": CODE,
        }:
            return self._answer(200, {"token": "token-of-hal"})
        self._answer(401, {"detail": "Incorrect authentication credentials"})


@pytest.fixture
def hub() -> Iterator[Hub]:
    yield from serving(Hub())


def _login(hub: Hub, tmp_path: Path, stdin: bytes, *args: str) -> subprocess.CompletedProcess[str]:
    env = cli_env(tmp_path / "data", {"PULLSTATS_HUB_CONFIG_DIR": str(tmp_path / "config")})
    result = subprocess.run(
        [sys.executable, "-m", "pullstats", "hub", "login", "--url", hub.url, *args],
        input=stdin,
        capture_output=True,
        env=env | {"PYTHONIOENCODING": "latin-1"},
        timeout=120,
        check=False,
    )
    return subprocess.CompletedProcess(
        result.args, result.returncode, result.stdout.decode(), result.stderr.decode()
    )


@pytest.mark.parametrize(
    ("args", "stdin"),
    [
        (["--username", "hal", "--password-stdin"], f"{PASSWORD}\r\n{CODE}\n"),
        ([], f"hal\n{PASSWORD}\n{CODE}\n"),  # each asked for in turn
    ],
    ids=["password-stdin", "asked"],
)
def test_a_utf8_password_reaches_the_server_as_written(
    hub: Hub, tmp_path: Path, args: list[str], stdin: str
) -> None:
    login = _login(hub, tmp_path, stdin.encode(), *args)
    assert (login.returncode, login.stdout) == (0, f"Logged in to {hub.url} as hal.\n"), login
    assert hub.bodies == [
        {"username": "hal", "password": PASSWORD},
        {"login_2fa_token": PENDING, "code": CODE},
    ]


@pytest.mark.parametrize("args", [["--username", "hal", "--password-stdin"], ["--username", "hal"]])
def test_a_password_that_is_no_utf8_is_one_line(hub: Hub, tmp_path: Path, args: list[str]) -> None:
    login = _login(hub, tmp_path, b"caf\xe9-horse-battery-zebra\n", *args)
    assert login.returncode == 1 and login.stdout == ""
    assert login.stderr.endswith("error: the password on standard input is not UTF-8 text\n")
    assert hub.bodies == []  # nothing was sent


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["--url", ""], {}),
        ([], {"PULLSTATS_HUB_URL": ""}),
        (["--url", ""], {"PULLSTATS_HUB_URL": "x"}),
    ],
    ids=["option", "variable", "option-over-variable"],
)
def test_an_empty_server_url_is_refused_not_taken_for_docker_hub(
    tmp_path: Path, args: list[str], env: dict[str, str]
) -> None:
    # before: an empty value was taken for none, and the password went to hub.docker.com
    result = run_cli(
        tmp_path / "data",
        "hub", "login", *args, "--username", "hal", "--password-stdin",
        stdin=f"{PASSWORD}\n",
        env=env | {"PULLSTATS_HUB_CONFIG_DIR": str(tmp_path / "config")},
    )  # fmt: skip
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.splitlines() == [
        "error: --url / PULLSTATS_HUB_URL: empty: name the server (a pullstats server's base "
        "URL, or https://hub.docker.com); for Docker Hub, leave both out"
    ]
