"""``pullstats hub`` against a real pullstats server: logins (password, PAT from stdin, TOTP by
option and by prompt), the stored token, and namespaces, pulls and exports with the numbers of
the seeded actions (tests/client/conftest.py), worked out by hand:

- acme in the seeded month: 3 pulls (api 2, tools/cli 1); 4 distinct addresses, since the
  version check's counts too (api 3: two pulls and the HEAD; tools/cli 1);
- globex is bob's: to alice it does not exist.

Every failure is one ``error:`` line on stderr, exit status 1, nothing on stdout.
"""

from __future__ import annotations

import csv
import io
import json
import stat
import subprocess
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import jwt
import pyotp
import pytest

from pullstats.cli.hub_output import BAR_WIDTH, CSV_COLUMNS
from pullstats.client import credentials
from tests.client.conftest import Served, run_ok
from tests.conftest import free_port, run_cli

#: the package's ``served`` installation (conftest.py) is built once: on the worker that
#: runs every module using it
pytestmark = pytest.mark.xdist_group("client")

BLOCK = "█"


def hub(
    served: Served,
    config: Path,
    *args: str,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``pullstats hub ARGS`` with the served server as PULLSTATS_HUB_URL and its own config dir
    (never the user's)."""
    extra = {"PULLSTATS_HUB_URL": served.server.url, "PULLSTATS_HUB_CONFIG_DIR": str(config)}
    return run_cli(served.data_dir, "hub", *args, stdin=stdin, env={**extra, **(env or {})})


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The failure's single stderr line (status 1, nothing on stdout)."""
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def login_alice(served: Served, config: Path) -> None:
    out = ok(
        hub(
            served,
            config,
            "login",
            "--username",
            "alice",
            "--password-stdin",
            stdin="alice-secret\n",
        )
    )
    assert out == f"Logged in to {served.server.url} as alice.\n"


def totp_user(served: Served, name: str, password: str) -> pyotp.TOTP:
    """A new member of acme with TOTP on; its authenticator."""
    run_ok(served.data_dir, "users", "add", name, "--password-stdin", stdin=f"{password}\n")
    run_ok(served.data_dir, "members", "add", "acme", name, "--role", "member")
    uri = run_ok(served.data_dir, "users", "totp", "enable", name).strip().splitlines()[-1]
    totp = pyotp.parse_uri(uri)
    assert isinstance(totp, pyotp.TOTP)
    return totp


def stored(config: Path) -> dict[str, Any]:
    body = json.loads((config / credentials.FILE_NAME).read_text())
    tokens: dict[str, Any] = body["tokens"]
    return tokens


def test_login_stores_a_private_token_that_the_commands_use(served: Served, tmp_path: Path) -> None:
    config = tmp_path / "config"
    login_alice(served, config)
    path = config / credentials.FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(config.stat().st_mode) == 0o700
    assert "alice-secret" not in path.read_text()
    entry = stored(config)[served.server.url]
    assert entry["username"] == "alice" and entry["token"].count(".") == 2  # a JWT

    whoami = ok(hub(served, config, "whoami"))
    assert whoami.startswith(f"Logged in to {served.server.url} as alice; the token expires at ")
    # the stored token alone signs in: no PULLSTATS_HUB_USERNAME/PASSWORD here
    listed = ok(hub(served, config, "namespaces"))
    assert "acme" in listed and "globex" not in listed
    assert "raw" in listed and "months, weeks" in listed
    assert not [line for line in listed.splitlines() if line.endswith(" ")]  # grep 'acme$'

    assert (
        ok(hub(served, config, "logout"))
        == f"Logged out of {served.server.url}: its token is removed.\n"
    )
    assert stored(config) == {}
    assert "not logged in" in one_error_line(hub(served, config, "whoami"))
    assert "not logged in" in one_error_line(hub(served, config, "namespaces"))
    again = ok(hub(served, config, "logout"))
    assert again == f"No token stored for {served.server.url}: nothing to do.\n"


def test_url_option_wins_and_tokens_are_kept_per_url(served: Served, tmp_path: Path) -> None:
    config = tmp_path / "config"
    elsewhere = f"http://127.0.0.1:{free_port()}"
    # --url beats PULLSTATS_HUB_URL; a trailing slash names the same server
    out = ok(
        hub(
            served,
            config,
            "login",
            "--url",
            served.server.url + "/",
            "--username",
            "alice",
            "--password-stdin",
            stdin="alice-secret\n",
            env={"PULLSTATS_HUB_URL": elsewhere},
        )
    )
    assert out == f"Logged in to {served.server.url} as alice.\n"
    line = one_error_line(hub(served, config, "whoami", env={"PULLSTATS_HUB_URL": elsewhere}))
    assert f"not logged in to {elsewhere}" in line and served.server.url in line


def test_a_personal_access_token_from_stdin_logs_in(served: Served, tmp_path: Path) -> None:
    secret = run_ok(served.data_dir, "tokens", "create", "bob", "--label", "hub-cli")
    pat = secret.strip().splitlines()[-1]
    config = tmp_path / "config"
    out = ok(
        hub(served, config, "login", "--username", "bob", "--password-stdin", stdin=pat + "\n")
    )
    assert out == f"Logged in to {served.server.url} as bob.\n"
    assert pat not in (config / credentials.FILE_NAME).read_text()
    body = json.loads(ok(hub(served, config, "namespaces", "--format", "json")))
    assert body["namespaces"] == ["globex"]
    assert [item["namespace"] for item in body["metadata"]] == ["globex"]


def test_two_factor_login_with_the_code_as_option_or_prompt(served: Served, tmp_path: Path) -> None:
    config = tmp_path / "config"
    dora = totp_user(served, "hub-dora", "dora-explores-far")
    wrong = f"{(int(dora.now()) + 1) % 10**6:06d}"
    refused = hub(
        served,
        config,
        "login",
        "--username",
        "hub-dora",
        "--password-stdin",
        "--otp",
        wrong,
        stdin="dora-explores-far\n",
    )
    assert "refused the two-factor code" in one_error_line(refused)
    assert not (config / credentials.FILE_NAME).exists()
    # no --otp: the code is asked for (on stderr) and read from stdin after the password
    prompted = hub(
        served,
        config,
        "login",
        "--username",
        "hub-dora",
        "--password-stdin",
        stdin=f"dora-explores-far\n{dora.now()}\n",
    )
    assert ok(prompted) == f"Logged in to {served.server.url} as hub-dora.\n"
    assert "Two-factor code" in prompted.stderr
    assert "acme" in ok(hub(served, config, "namespaces"))

    erin = totp_user(served, "hub-erin", "erin-sails-at-dawn")
    by_option = hub(
        served,
        tmp_path / "other",
        "login",
        "--username",
        "hub-erin",
        "--password-stdin",
        "--otp",
        erin.now(),
        stdin="erin-sails-at-dawn\n",
    )
    assert ok(by_option) == f"Logged in to {served.server.url} as hub-erin.\n"
    # from the environment alone, an account with TOTP cannot sign in: it is told how
    line = one_error_line(
        hub(
            served,
            tmp_path / "empty",
            "namespaces",
            env={
                "PULLSTATS_HUB_USERNAME": "hub-erin",
                "PULLSTATS_HUB_PASSWORD": "erin-sails-at-dawn",
            },
        )
    )
    assert "two-factor authentication" in line and "pullstats hub login" in line
    assert "erin-sails-at-dawn" not in line


def test_environment_credentials_and_a_refused_stored_token(
    served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config"
    alice = {"PULLSTATS_HUB_USERNAME": "alice", "PULLSTATS_HUB_PASSWORD": "alice-secret"}
    body = json.loads(ok(hub(served, config, "pulls", "acme", "--format", "json", env=alice)))
    assert sum(row["pullCount"] for row in body["pulls"]) == 3
    assert not config.exists()  # signing in from the environment stores nothing
    # a stored token the server refuses: the environment's credentials take over
    monkeypatch.setenv(credentials.CONFIG_DIR_ENV, str(config))
    credentials.save(served.server.url, "alice", "not-a-token-the-server-issued")
    assert "acme" in ok(hub(served, config, "namespaces", env=alice))
    line = one_error_line(hub(served, config, "namespaces"))
    assert "not signed in (401" in line  # and which server to log in to: not Docker Hub's
    assert f"run `pullstats hub login --url {served.server.url}`" in line
    assert line.endswith("or set PULLSTATS_HUB_USERNAME and PULLSTATS_HUB_PASSWORD")
    # both refused, the token and the environment's: the line does not ask to set what is set
    wrong = alice | {"PULLSTATS_HUB_PASSWORD": "not alice's"}
    both = one_error_line(hub(served, config, "namespaces", env=wrong))
    assert "and so was signing in again as alice" in both
    assert both.endswith("or correct PULLSTATS_HUB_USERNAME and PULLSTATS_HUB_PASSWORD"), both
    # a user name alone is what `hub login` asks for first: it is no half of the credentials
    # while a token is stored, which a command then uses (this one is refused)
    name_only = {"PULLSTATS_HUB_USERNAME": "alice"}
    assert "not signed in (401" in one_error_line(hub(served, config, "namespaces", env=name_only))
    login_alice(served, config)
    assert "acme" in ok(hub(served, config, "namespaces", env=name_only))
    # with no token stored, it is half of them
    half = one_error_line(hub(served, tmp_path / "empty", "namespaces", env=name_only))
    assert "PULLSTATS_HUB_PASSWORD is not set" in half


def month_label(served: Served) -> str:
    return f"{served.month:%Y-%m}"


def noon(served: Served) -> datetime:
    """When the seeded actions happened."""
    return datetime.combine(served.month + timedelta(days=9), time(12), UTC)


def test_pulls_as_json_csv_and_a_table_with_bars(served: Served, tmp_path: Path) -> None:
    config = tmp_path / "config"
    login_alice(served, config)
    month_start = f"{month_label(served)}-01T00:00:00Z"

    body = json.loads(ok(hub(served, config, "pulls", "acme", "--format", "json")))
    (month,) = [row for row in body["pulls"] if row["pullCount"]]
    assert (month["start"], month["pullCount"], month["ipCount"]) == (month_start, 3, 4)

    text = ok(hub(served, config, "pulls", "acme", "--group", "repo", "--format", "csv"))
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == CSV_COLUMNS  # the header, then data only: nothing else on stdout
    counted = {(r[0], r[3]): (r[4], r[5]) for r in rows[1:] if r[4] != "0"}
    assert counted == {(month_start, "api"): ("2", "3"), (month_start, "tools/cli"): ("1", "1")}

    weekly = ok(hub(served, config, "pulls", "acme", "--timespan", "weeks", "--format", "csv"))
    weeks = [r for r in csv.DictReader(io.StringIO(weekly)) if r["pullCount"] != "0"]
    assert len(weeks) == 1 and (weeks[0]["pullCount"], weeks[0]["ipCount"]) == ("3", "4")
    assert weeks[0]["start"][:10] <= f"{noon(served):%Y-%m-%d}" <= weeks[0]["end"][:10]
    iso = noon(served).isocalendar()
    weekly_table = ok(hub(served, config, "pulls", "acme", "--timespan", "weeks"))
    (week_row,) = [
        line for line in weekly_table.splitlines() if f"{iso.year}-W{iso.week:02d}" in line
    ]
    assert week_row.split()[1:3] == ["3", "4"] and BLOCK * BAR_WIDTH in week_row

    table = ok(hub(served, config, "pulls", "acme", "--group", "repo", "--period", "last-3-months"))
    assert "Pulls of acme per month, last-3-months" in table
    lines = {line.split()[1]: line for line in table.splitlines() if month_label(served) in line}
    api, cli = lines["api"], lines["tools/cli"]
    assert api.split()[2:4] == ["2", "3"] and cli.split()[2:4] == ["1", "1"]
    assert BLOCK * BAR_WIDTH in api  # the largest row fills the bar
    assert BLOCK * (BAR_WIDTH // 2) in cli and BLOCK * (BAR_WIDTH // 2 + 1) not in cli


def test_pulls_of_named_repositories(served: Served, tmp_path: Path) -> None:
    config = tmp_path / "config"
    login_alice(served, config)
    body = json.loads(
        ok(hub(served, config, "pulls", "acme", "api", "tools/cli", "--format", "json"))
    )
    totals = {
        name: (sum(r["pullCount"] for r in data["pulls"]), sum(r["ipCount"] for r in data["pulls"]))
        for name, data in body["repos"].items()
    }
    assert totals == {"acme/api": (2, 3), "acme/tools/cli": (1, 1)}
    table = ok(hub(served, config, "pulls", "acme", "tools/cli"))
    (row,) = [line for line in table.splitlines() if month_label(served) in line]
    assert row.split()[1:4] == ["tools/cli", "1", "1"] and BLOCK * BAR_WIDTH in row
    missing = one_error_line(hub(served, config, "pulls", "acme", "api", "nothing"))
    assert "no repository acme/nothing" in missing


def test_a_repository_named_twice_is_one_series(served: Served, tmp_path: Path) -> None:
    config = tmp_path / "config"
    login_alice(served, config)
    spellings = ("api", "api/", "/api")  # one repository: acme/api, 2 pulls from 3 addresses
    window = ("--period", "last-2-months")
    text = ok(hub(served, config, "pulls", "acme", *spellings, *window, "--format", "csv"))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 2  # a row per month of the two, once each
    assert {row["repo"] for row in rows} == {"api"}
    assert sum(int(row["pullCount"]) for row in rows) == 2
    assert sum(int(row["ipCount"]) for row in rows) == 3
    body = json.loads(ok(hub(served, config, "pulls", "acme", *spellings, "--format", "json")))
    assert list(body["repos"]) == ["acme/api"]
    table = ok(hub(served, config, "pulls", "acme", *spellings, *window))
    assert "Pulls of acme/api per month, last-2-months" in table.splitlines()[0]


def test_exports_tree_shows_the_exported_periods(served: Served, tmp_path: Path) -> None:
    config = tmp_path / "config"
    login_alice(served, config)
    year, week = noon(served).year, noon(served).isocalendar().week
    listed = json.loads(ok(hub(served, config, "exports", "acme", "--format", "json")))
    months = {(e["year"], e["timespan"]) for e in listed if e["timespantype"] == "months"}
    weeks = {(e["year"], e["timespan"]) for e in listed if e["timespantype"] == "weeks"}
    assert (year, noon(served).month) in months and (year, week) in weeks
    views = {e["dataview"] for e in listed if (e["year"], e["timespan"]) == (year, week)}
    assert "raw" in views and all(e["parts"] >= 1 and e["size"] > 0 for e in listed)

    periods = {(e["year"], e["timespantype"], e["timespan"]) for e in listed}
    tree = ok(hub(served, config, "exports", "acme"))
    parts = sum(e["parts"] for e in listed)
    head = f"acme at {served.server.url}: {len(periods)} exported periods, {parts} parts"
    assert tree.splitlines()[0].startswith(head)
    for text in (str(year), "months", "weeks", f"{month_label(served)}: ", f"{year}-W{week:02d}: "):
        assert text in tree
    assert "raw: 1 part, " in tree
    assert "not found (404" in one_error_line(hub(served, config, "exports", "globex"))


def test_the_report_datasets_are_listed_and_browsed_when_asked(
    served: Served, tmp_path: Path
) -> None:
    config = tmp_path / "config"
    login_alice(served, config)

    def datasets(*options: str) -> set[str]:
        body = json.loads(ok(hub(served, config, "namespaces", "--format", "json", *options)))
        return {d["name"] for m in body["metadata"] for d in m["datasets"]}

    assert datasets() == {"pulls"}  # as Docker Hub lists them
    assert datasets("--all-datasets") == {"pulls", "summary", "trends", "co-usage"}
    pulls = json.loads(ok(hub(served, config, "exports", "acme", "--format", "json")))
    for name in ("summary", "trends", "co-usage"):
        listed = json.loads(
            ok(hub(served, config, "exports", "acme", "--dataset", name, "--format", "json"))
        )
        # every exported period has each report, as one view
        assert {e["dataview"] for e in listed} == {"report"}
        assert {(e["year"], e["timespantype"], e["timespan"]) for e in listed} == {
            (e["year"], e["timespantype"], e["timespan"]) for e in pulls
        }
    tree = ok(hub(served, config, "exports", "acme", "--dataset", "trends"))
    assert "report: 1 part, " in tree
    assert (
        "'pulls', 'summary', 'trends', 'co-usage'"
        in hub(served, config, "exports", "acme", "--dataset", "colour").stderr
    )


def test_each_failure_is_one_line(served: Served, tmp_path: Path) -> None:
    config = tmp_path / "config"
    # an account of its own: failed logins count per account, and the server is shared
    run_ok(
        served.data_dir, "users", "add", "hub-frank", "--password-stdin", stdin="frank-is-frank-x\n"
    )
    wrong = hub(
        served,
        config,
        "login",
        "--username",
        "hub-frank",
        "--password-stdin",
        stdin="guess-again\n",
    )
    line = one_error_line(wrong)
    assert "refused user hub-frank" in line and "401" in line and "guess-again" not in line
    assert not (config / credentials.FILE_NAME).exists()

    login_alice(served, config)
    for namespace in ("nothing", "globex"):  # unknown, and another's: the same 404
        line = one_error_line(hub(served, config, "pulls", namespace))
        assert line.startswith("error: not found (404: ")

    dead = f"http://127.0.0.1:{free_port()}"
    nobody = hub(
        served, config, "login", "--url", dead, "--username", "alice", "--password-stdin",
        stdin="alice-secret\n",
    )  # fmt: skip
    assert "no answer from the server" in one_error_line(nobody)
    # the API's prefix given as the URL: no login route there, said so, not "no such namespace"
    pathed = f"{served.server.url}/api/publisher/analytics/v1"
    misplaced = hub(
        served, config, "login", "--url", pathed, "--username", "alice", "--password-stdin",
        stdin="alice-secret\n",
    )  # fmt: skip
    line = one_error_line(misplaced)
    assert "has no login at /v2/users/login (404: " in line and "base URL" in line, line
    from_env = hub(
        served,
        config,
        "pulls",
        "acme",
        env={
            "PULLSTATS_HUB_URL": dead,
            "PULLSTATS_HUB_USERNAME": "alice",
            "PULLSTATS_HUB_PASSWORD": "alice-secret",
        },
    )
    assert "no answer from the server" in one_error_line(from_env)
    bad_url = one_error_line(hub(served, config, "whoami", "--url", "ftp://example.org"))
    assert "not a base URL" in bad_url


def test_whoami_reads_the_stored_jwt_and_an_expired_one_means_log_in_again(
    served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config"
    monkeypatch.setenv(credentials.CONFIG_DIR_ENV, str(config))
    url = served.server.url
    # Docker Hub's JWT names its user in a claim of its own: that name wins
    hub_style = jwt.encode(
        {"https://hub.docker.com": {"username": "acme-bot"}, "exp": 4_102_444_800},
        "k" * 32,
        algorithm="HS256",
    )
    credentials.save(url, "typed-name", hub_style)
    assert ok(hub(served, config, "whoami")) == (
        f"Logged in to {url} as acme-bot; the token expires at 2100-01-01T00:00:00Z.\n"
    )
    # a damaged token (two of its parts run together) cannot be read: whoami, which never asks
    # the server, says so rather than look like a token that never expires
    credentials.save(url, "typed-name", hub_style.replace(".", "", 1))
    damaged = hub(served, config, "whoami")
    assert damaged.returncode == 0, damaged.stderr
    assert damaged.stdout == f"Logged in to {url} as typed-name.\n"
    assert damaged.stderr.startswith(f"note: the token stored for {url} is not a JWT")
    assert "pullstats hub login" in damaged.stderr
    expired = jwt.encode({"sub": "1", "exp": 1_000_000_000}, "k" * 32, algorithm="HS256")
    credentials.save(url, "alice", expired)
    line = one_error_line(hub(served, config, "whoami"))
    assert "expired at 2001-09-09T01:46:40Z" in line and "pullstats hub login" in line
    line = one_error_line(hub(served, config, "pulls", "acme"))
    assert "the token stored for" in line and "has expired" in line
    # with credentials in the environment, an expired token is not even sent
    alice = {"PULLSTATS_HUB_USERNAME": "alice", "PULLSTATS_HUB_PASSWORD": "alice-secret"}
    assert "acme" in ok(hub(served, config, "namespaces", env=alice))
    empty = hub(served, config, "login", "--username", "alice", "--password-stdin", stdin="")
    assert "no password given" in one_error_line(empty)
