"""The token file of ``pullstats hub``: where it is, who may read it, and what it holds."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest

from pullstats.cli.common import client_error_line
from pullstats.client import (
    AuthenticationRequired,
    ClientError,
    Forbidden,
    NotFound,
    RateLimited,
    SecondFactorRequired,
    ServerError,
    TransportError,
    credentials,
)
from pullstats.client.credentials import CredentialsError

URL = "https://hub.example.org"


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "config"
    monkeypatch.setenv(credentials.CONFIG_DIR_ENV, str(folder))
    return folder


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A umask that would leave a new file readable by everyone."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def test_the_default_folder_is_the_users_config_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(credentials.CONFIG_DIR_ENV, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert credentials.tokens_file() == tmp_path / "xdg" / "pullstats" / "hub-tokens.json"
    monkeypatch.setenv(credentials.CONFIG_DIR_ENV, str(tmp_path / "mine"))
    assert credentials.tokens_file() == tmp_path / "mine" / "hub-tokens.json"


def test_tokens_are_stored_per_url_readable_by_the_user_alone(
    config: Path, open_umask: None
) -> None:
    path = credentials.save(URL + "/", "alice", "token-a")
    credentials.save("http://127.0.0.1:8000", "bob", "token-b")
    assert path == config / "hub-tokens.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(config.stat().st_mode) == 0o700
    assert [p.name for p in config.iterdir()] == ["hub-tokens.json"]  # no temporary file left
    found = credentials.load("HTTPS://Hub.Example.org")
    assert found is not None and (found.username, found.token) == ("alice", "token-a")
    assert "token-a" not in repr(found)
    assert credentials.stored_urls() == ["http://127.0.0.1:8000", URL]
    credentials.save(URL, "alice", "token-c")  # a new login replaces the old token
    assert (credentials.load(URL) or found).token == "token-c"
    assert credentials.remove(URL) and not credentials.remove(URL)
    assert credentials.load(URL) is None
    assert set(json.loads(path.read_text())["tokens"]) == {"http://127.0.0.1:8000"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_file_that_is_not_ours_is_refused_not_overwritten(config: Path) -> None:
    config.mkdir()
    path = config / "hub-tokens.json"
    for text in (
        "not json",
        "[]",
        '{"format": 2, "tokens": {}}',
        '{"format": 1, "tokens": {"u": 1}}',
    ):
        path.write_text(text)
        path.chmod(0o600)  # the user's own file, as the mode check wants it
        with pytest.raises(CredentialsError, match="not a pullstats token file"):
            credentials.save(URL, "alice", "t")
        assert path.read_text() == text


@pytest.mark.parametrize(
    "url",
    ["hub.docker.com", "ftp://hub.docker.com", "https://", "https://u:p@hub.docker.com",
     "https://hub.docker.com/?x=1", "https://hub.docker.com:port"],
)  # fmt: skip
def test_what_is_no_base_url(url: str) -> None:
    with pytest.raises(CredentialsError):
        credentials.base_url(url)


@pytest.mark.parametrize(
    "url",
    ["http://alice:s3cret@127.0.0.1:80x", "http://127.0.0.1/?access_token=s3cret",
     "http://127.0.0.1/#s3cret", "http://alice:s3cret@127.0.0.1/", "http://[::1?s3cret"],
)  # fmt: skip
def test_a_url_refused_is_never_shown_with_its_secrets(url: str) -> None:
    with pytest.raises(CredentialsError) as refused:
        credentials.base_url(url)
    assert "s3cret" not in refused.value.message, refused.value.message


def test_a_folder_other_users_may_write_is_refused(config: Path, open_umask: None) -> None:
    config.mkdir(mode=0o777)
    config.chmod(0o777)  # whatever the umask
    with pytest.raises(CredentialsError, match=r"may be written by other users \(mode 777\)"):
        credentials.save(URL, "alice", "token-a")
    assert list(config.iterdir()) == []
    config.chmod(0o755)  # others may read the folder, but not replace the file
    credentials.save(URL, "alice", "token-a")
    assert stat.S_IMODE((config / "hub-tokens.json").stat().st_mode) == 0o600


def test_a_token_file_others_could_have_written_or_read_is_not_used(config: Path) -> None:
    """Loading checks what saving ensures (as ssh does a key): a token file in a folder other
    users may write, or that they may write or read, is refused with the fix, never used: it
    could hold another's token (the commands would act as them) or have leaked ours."""
    path = credentials.save(URL, "alice", "token-a")
    for folder_mode, file_mode, fix in [
        (0o777, 0o600, f"chmod go-w {config}"),
        (0o700, 0o666, f"chmod 600 {path}"),
        (0o700, 0o644, f"chmod 600 {path}"),
    ]:
        config.chmod(folder_mode)
        path.chmod(file_mode)
        for read in (lambda: credentials.load(URL), credentials.stored_urls):
            with pytest.raises(CredentialsError) as refused:
                read()
            assert fix in refused.value.message, refused.value.message
    config.chmod(0o700)
    path.chmod(0o600)
    stored = credentials.load(URL)
    assert stored is not None and stored.token == "token-a"
    if os.geteuid() == 0:  # another user's file, where only root can put one
        os.chown(path, 65534, 65534)
        with pytest.raises(CredentialsError, match="belongs to another user"):
            credentials.load(URL)


def test_base_urls_are_stored_in_one_spelling() -> None:
    assert credentials.base_url(" HTTPS://Hub.Docker.com/ ") == "https://hub.docker.com"
    assert credentials.base_url("http://[::1]:8000/stats/") == "http://[::1]:8000/stats"


def test_a_jwt_tells_its_expiry_and_anything_else_nothing() -> None:
    token = jwt.encode({"sub": "7", "exp": 2_000_000_000}, "k" * 32, algorithm="HS256")
    assert credentials.token_claims(token)["sub"] == "7"
    expiry = credentials.expires_at(token)
    assert expiry is not None and expiry.timestamp() == 2_000_000_000
    assert credentials.token_claims("a-pat-or-opaque-token") == {}
    assert credentials.expires_at("x.y.z") is None


@pytest.mark.parametrize(
    ("error", "says"),
    [
        (SecondFactorRequired("401: code needed", "t"), "two-factor authentication on"),
        (AuthenticationRequired("401: Incorrect authentication credentials", 401), "not signed in"),
        (Forbidden("403: scope", 403), "not allowed (403: scope)"),
        (NotFound("404: no such namespace", 404), "not found (404: no such namespace)"),
        (RateLimited("429: slow down", 12.0), "try again in 12 s"),
        (ServerError("502: bad gateway", 502), "the server failed (502: bad gateway)"),
        (ServerError("422: code too long", 422), "could not use the request"),
        (TransportError("GET http://x/: could not connect"), "no answer from the server: GET"),
        (CredentialsError("the file is odd"), "the file is odd"),
    ],
)
def test_each_client_error_is_one_line_saying_what_to_do(error: Exception, says: str) -> None:
    assert isinstance(error, ClientError)
    line = client_error_line(error)
    assert says in line and "\n" not in line


def test_a_rate_limit_says_its_wait_once() -> None:
    said = "429: too many failed login attempts: try again in 895 s"
    assert client_error_line(RateLimited(said, 895.0)) == f"too many requests ({said})"
    # another wait than the message's (5 s is no part of 895 s) is still said
    assert client_error_line(RateLimited(said, 5.0)).endswith(f"({said}): try again in 5 s")
    assert client_error_line(RateLimited("429: slow down", 12.0)) == (
        "too many requests (429: slow down): try again in 12 s"
    )


def test_the_commands_choices_are_the_clients_enums() -> None:
    from pullstats.cli import hub_auth, hub_output
    from pullstats.client import DOCKER_HUB
    from pullstats.exports.reports import Dataset
    from pullstats.rollups.series_query import Group, RelativePeriod, Timespan

    pairs = [
        (hub_output.TimespanChoice, Timespan),
        (hub_output.PeriodChoice, RelativePeriod),
        (hub_output.GroupChoice, Group),
        (hub_output.DatasetChoice, Dataset),
    ]
    for choice, enum in pairs:
        assert [c.value for c in choice] == [e.value for e in enum]
    assert hub_auth.DOCKER_HUB == DOCKER_HUB


def test_the_command_tree_does_not_import_the_client() -> None:
    # every pullstats command imports the tree; the client and the API's models it brings
    # would cost each command a fifth of a second
    probe = (
        "import sys, pullstats.cli.main\n"
        "print(sorted(m for m in ('pullstats.client', 'httpx', 'pullstats.api.dvp_models',"
        " 'pullstats.client.answers')"
        " if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
