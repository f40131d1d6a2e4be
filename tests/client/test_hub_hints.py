"""The lines of ``pullstats hub`` that say to log in, against a real pullstats server, run
with ``--url`` and no PULLSTATS_HUB_URL (as a user with one server in mind would): each names
the server (``pullstats hub login --url …``, docs/client.md), since the hint as printed
without it logs in to Docker Hub (a token file that cannot be used says it too); an expired
stored token with only PULLSTATS_HUB_USERNAME set says the token expired; and the login
throttle's 429 says its wait once."""

from __future__ import annotations

import subprocess
from pathlib import Path

import jwt
import pytest

from pullstats.client import credentials
from tests.client.conftest import ATTEMPTS, Served
from tests.client.test_hub_cli import one_error_line, totp_user
from tests.conftest import run_cli

pytestmark = pytest.mark.xdist_group("client")

#: a pullstats-style JWT whose exp passed in 2001
EXPIRED = jwt.encode({"sub": "1", "exp": 1_000_000_000}, "k" * 32, algorithm="HS256")


def hub(
    served: Served, config: Path, *args: str, stdin: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """``pullstats hub ARGS --url URL``, its own config dir, no PULLSTATS_HUB_URL."""
    extra = {"PULLSTATS_HUB_CONFIG_DIR": str(config), **env}
    url = ("--url", served.server.url)
    return run_cli(served.data_dir, "hub", *args, *url, stdin=stdin, env=extra)


def login_hint(served: Served) -> str:
    return f"`pullstats hub login --url {served.server.url}`"


def test_whoami_names_the_server_to_log_in_to(
    served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config"
    line = one_error_line(hub(served, config, "whoami"))
    assert f"not logged in to {served.server.url}: run {login_hint(served)}" in line
    monkeypatch.setenv(credentials.CONFIG_DIR_ENV, str(config))
    credentials.save(served.server.url, "alice", EXPIRED)
    line = one_error_line(hub(served, config, "whoami"))
    assert "expired at 2001-09-09T01:46:40Z" in line and f"run {login_hint(served)} again" in line
    credentials.save(served.server.url, "alice", "not-a-jwt")
    note = hub(served, config, "whoami")
    assert note.returncode == 0, note.stderr
    assert note.stderr.startswith("note: ") and f"run {login_hint(served)} again" in note.stderr


def test_a_wrong_two_factor_code_names_the_server_to_log_in_to(
    served: Served, tmp_path: Path
) -> None:
    hanna = totp_user(served, "hub-hanna", "hanna-hikes-high")
    wrong = f"{(int(hanna.now()) + 1) % 10**6:06d}"
    refused = hub(
        served,
        tmp_path / "config",
        "login",
        "--username",
        "hub-hanna",
        "--password-stdin",
        "--otp",
        wrong,
        stdin="hanna-hikes-high\n",
    )
    line = one_error_line(refused)
    assert "refused the two-factor code" in line
    assert f"run {login_hint(served)} again with the current code" in line


def test_an_expired_token_and_a_user_name_alone_say_the_token_expired(
    served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config"
    monkeypatch.setenv(credentials.CONFIG_DIR_ENV, str(config))
    credentials.save(served.server.url, "alice", EXPIRED)
    # the user name is what `hub login` asks for first: no half of the credentials while a
    # token is stored, expired or not (docs/client.md: they sign in when no token is stored,
    # or when the server refuses it)
    named = {"PULLSTATS_HUB_USERNAME": "alice"}
    line = one_error_line(hub(served, config, "namespaces", **named))
    assert f"the token stored for {served.server.url} (alice) has expired" in line
    assert f"run {login_hint(served)} again" in line and "PASSWORD" not in line
    # both set: they sign in in its place, as before
    both = {**named, "PULLSTATS_HUB_PASSWORD": "alice-secret"}
    listed = hub(served, config, "namespaces", **both)
    assert listed.returncode == 0 and "acme" in listed.stdout, listed.stderr


def test_the_login_throttle_says_its_wait_once(served: Served, tmp_path: Path) -> None:
    config = tmp_path / "config"

    def guess() -> subprocess.CompletedProcess[str]:
        # a name of its own: failed logins count per account name on the shared server
        args = ("login", "--username", "hub-ivan", "--password-stdin")
        return hub(served, config, *args, stdin="guess\n")

    for _ in range(ATTEMPTS):
        assert "refused user hub-ivan" in one_error_line(guess())
    line = one_error_line(guess())
    assert line.startswith("error: too many requests (429: too many failed login attempts: ")
    assert line.count("try again in") == 1, line


def test_a_token_file_that_cannot_be_used_names_the_server_to_log_in_to(
    served: Served, tmp_path: Path
) -> None:
    config = tmp_path / "config"
    config.mkdir(mode=0o700)
    tokens = config / credentials.FILE_NAME
    tokens.write_text("not json")
    tokens.chmod(0o600)
    for command in ("whoami", "namespaces", "logout"):
        line = one_error_line(hub(served, config, command))
        said = f"{tokens} is not a pullstats token file: remove it and run {login_hint(served)}"
        assert said in line
    tokens.chmod(0o644)  # others may read it: its tokens are to be replaced
    line = one_error_line(hub(served, config, "whoami"))
    assert f"chmod 600 {tokens}, and if others could read it, run {login_hint(served)}" in line
