"""The operator interface (docs/cli.md) is a contract: spellings, help and outputs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import ON_POSTGRESQL, run_cli

CONTRACT = [
    ("demo",),
    ("serve",),
    ("db", "upgrade"),
    ("users", "add"),
    ("namespaces", "add"),
    ("members", "add"),
    ("repos", "publish"),
    ("ingest-tokens", "create"),
    ("process",),
    ("export",),
    ("hub", "login"),
    ("hub", "pulls"),
    ("hub", "exports"),
]


def test_top_level_help_lists_every_command(data_dir: Path) -> None:
    result = run_cli(data_dir, "--help")
    assert result.returncode == 0
    listed = set(re.findall(r"^  ([a-z-]+)\s{2,}\S", result.stdout, re.MULTILINE))
    assert {
        "demo",
        "serve",
        "db",
        "users",
        "namespaces",
        "members",
        "ingest-tokens",
        "process",
        "export",
        "hub",
    } <= listed


@pytest.mark.parametrize("command", CONTRACT, ids=" ".join)
def test_every_command_has_help(data_dir: Path, command: tuple[str, ...]) -> None:
    result = run_cli(data_dir, *command, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage: pullstats " + " ".join(command) in " ".join(result.stdout.split())


def test_db_upgrade_creates_then_reports_current(data_dir: Path) -> None:
    first = run_cli(data_dir, "db", "upgrade")
    assert first.returncode == 0, first.stderr
    assert "upgraded from nothing" in first.stdout
    second = run_cli(data_dir, "db", "upgrade")
    assert "is current" in second.stdout
    # the default catalog is a file in the data dir; a PostgreSQL catalog leaves none there
    assert (data_dir / "catalog.sqlite3").exists() != ON_POSTGRESQL


def test_ingest_token_is_alone_on_the_last_line(data_dir: Path) -> None:
    result = run_cli(data_dir, "ingest-tokens", "create", "registry-1")
    assert result.returncode == 0, result.stderr
    last = result.stdout.rstrip("\n").splitlines()[-1]
    assert re.fullmatch(r"psi_[0-9a-f]{16}_[A-Za-z0-9_-]{43}", last)


def test_errors_are_one_clear_line(data_dir: Path) -> None:
    assert run_cli(data_dir, "namespaces", "add", "acme").returncode == 0
    again = run_cli(data_dir, "namespaces", "add", "acme")
    assert again.returncode == 1
    assert "namespace 'acme' already exists" in again.stderr
    assert "Traceback" not in again.stderr
    unknown = run_cli(data_dir, "members", "add", "acme", "ghost", "--role", "member")
    assert unknown.returncode == 1 and "no user 'ghost'" in unknown.stderr
    bad_role = run_cli(data_dir, "members", "add", "acme", "ghost", "--role", "admin")
    assert bad_role.returncode == 1 and "invalid role" in bad_role.stderr
    empty = run_cli(data_dir, "users", "add", "dave", "--password-stdin", stdin="")
    assert empty.returncode == 1 and "no password" in empty.stderr
    bad_date = run_cli(data_dir, "export", "--through", "yesterday")
    assert bad_date.returncode == 1 and "--through" in bad_date.stderr


def test_process_and_export_on_an_empty_installation(data_dir: Path) -> None:
    assert run_cli(data_dir, "db", "upgrade").returncode == 0  # the jobs make no installation
    processed = run_cli(data_dir, "process")
    assert processed.returncode == 0, processed.stderr
    assert "processed 0 spool lines" in processed.stdout
    # every bar ends whole, its clock stopped: an empty spool is not a compaction left at 0/1
    bars = dict(line.split(maxsplit=1) for line in processed.stderr.splitlines() if "/" in line)
    assert {name: "0/0" in bar for name, bar in bars.items()} == dict.fromkeys(
        ("compact", "classify", "roll"), True
    ), processed.stderr
    exported = run_cli(data_dir, "export")
    assert exported.returncode == 0, exported.stderr
    assert "exported 0 namespace periods" in exported.stdout


def test_repos_publish_unpublish_and_list(data_dir: Path) -> None:
    assert run_cli(data_dir, "db", "upgrade").returncode == 0
    first = run_cli(data_dir, "repos", "publish", "library/nginx")
    assert (first.returncode, first.stdout) == (0, "library/nginx is public\n")
    again = run_cli(data_dir, "repos", "publish", "library/nginx")
    assert again.stdout == "library/nginx was already public\n"
    listed = run_cli(data_dir, "repos", "list").stdout.splitlines()
    assert listed[0].split() == ["REPOSITORY", "PUBLISHED"]
    assert [line.split()[0] for line in listed[1:]] == ["library/nginx"]
    for bad, message in (("nginx", "namespace/repository"), ("a/../b", "use a-z and 0-9")):
        refused = run_cli(data_dir, "repos", "publish", bad)
        assert refused.returncode == 1 and message in refused.stderr, refused.stderr
        assert "Traceback" not in refused.stderr
    assert run_cli(data_dir, "repos", "unpublish", "library/nginx").stdout == (
        "library/nginx is private\n"
    )
    gone = run_cli(data_dir, "repos", "unpublish", "library/nginx")
    assert gone.returncode == 1 and "'library/nginx' is not published" in gone.stderr
