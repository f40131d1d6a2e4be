"""The command tree builds only what a process runs (``cli.main``): a command imports its own
module, not the others', and ``--version`` none; ``--help`` and anything the tree does not know
get the whole tree, so click's listing and its "No such command" stay as they were."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main

from pullstats.cli.main import COMMANDS, GROUPS, build_app, invoked
from tests.conftest import cli_env


@pytest.mark.parametrize(
    ("args", "built"),
    [
        (["hub", "whoami", "--url", "http://127.0.0.1:9"], ("hub",)),
        (["--debug", "process", "--rebuild"], ("process",)),
        (["ingest-tokens", "list"], ("ingest-tokens",)),
        (["--version"], ()),
        (["--debug", "--version"], ()),
        (["process", "--version"], ("process",)),  # the command's to refuse
        (["--help", "--version"], None),  # --help answers first: it lists every command
        (["--help"], None),
        ([], None),
        (["proces"], None),  # click suggests from the whole tree
        (["--debug", "nope", "process"], None),
    ],
)
def test_what_a_command_line_builds(args: list[str], built: tuple[str, ...] | None) -> None:
    assert invoked(args) == built


def test_each_name_builds_itself_alone_as_the_whole_tree_has_it() -> None:
    whole = typer.main.get_command(build_app())
    assert isinstance(whole, typer.core.TyperGroup)
    assert set(whole.commands) == set(GROUPS) | set(COMMANDS)
    for name in [*GROUPS, *COMMANDS]:
        alone = typer.main.get_command(build_app((name,)))
        assert isinstance(alone, typer.core.TyperGroup)
        assert list(alone.commands) == [name]
        assert alone.commands[name].help == whole.commands[name].help
        assert [p.name for p in alone.commands[name].params] == [
            p.name for p in whole.commands[name].params
        ]
    assert typer.main.get_command(build_app(())).commands == {}


#: ``pullstats ARGS`` as the installed script runs it, writing the names of every module its
#: process imported to the file named first (at exit: after the command and its exit status)
_PROBE = """
import atexit, json, sys
path = sys.argv[1]
atexit.register(lambda: open(path, "w").write(json.dumps(sorted(sys.modules))))
sys.argv = ["pullstats", *sys.argv[2:]]
from pullstats.cli.main import run
run()
"""


def _imported(tmp_path: Path, *args: str) -> tuple[int, set[str]]:
    """The exit status of ``pullstats ARGS`` and every module its process imported."""
    env = cli_env(tmp_path / "data", {"XDG_CONFIG_HOME": str(tmp_path / "config")})  # no token
    modules = tmp_path / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(modules), *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    return done.returncode, set(json.loads(modules.read_text()))


def test_a_hub_command_starts_without_the_catalog_or_the_engines(tmp_path: Path) -> None:
    # a publisher's client command: 0.79 s to start before, 0.30 s now (benchmarks/cli_start.py)
    status, modules = _imported(tmp_path, "hub", "whoami")
    assert status == 1  # not logged in: it read the stored credentials and said so
    assert "pullstats.cli.hub" in modules
    heavy = {"sqlalchemy", "duckdb", "pyarrow", "pullstats.runtime", "pullstats.cli.admin"}
    assert heavy & modules == set()
    assert not (tmp_path / "data").exists()


def test_version_builds_no_command(tmp_path: Path) -> None:
    status, modules = _imported(tmp_path, "--version")
    assert status == 0
    assert {m for m in modules if m.startswith("pullstats.cli.")} == {
        "pullstats.cli.main",
        "pullstats.cli.common",
    }
