"""The command line of several nodes: a node whose keys differ is refused with one line (the
server and the jobs), bad node settings are one line each, ``keys rotate`` records the new key,
and ``pullstats status`` lists the nodes."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from pullstats.config import Settings
from pullstats.db.models import InstallationKey
from pullstats.lake.compaction import compact
from pullstats.runtime import Runtime
from tests.cli_fork import run_pullstats_command
from tests.conftest import cli_env, free_port, write_one_pull

pytestmark = pytest.mark.e2e  # runs the pullstats command


def pullstats(data_dir: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_pullstats_command(list(args), cli_env(data_dir, env))


@pytest.fixture
def catalog(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'shared-catalog.sqlite3'}"


@pytest.fixture
def node_a(tmp_path: Path, catalog: str) -> Iterator[Runtime]:
    """Node A has made the installation's ip-hash key (in its own keys dir) and processed."""
    runtime = Runtime.open(Settings(data_dir=tmp_path / "a", database_url=catalog, node_name="a"))
    write_one_pull(runtime, datetime(2026, 1, 7, 10, 0, tzinfo=UTC))
    compact(runtime)
    runtime.node_seen(datetime(2026, 1, 12, 3, tzinfo=UTC))
    yield runtime
    runtime.close()


def test_a_node_whose_ip_hash_key_differs_is_refused_by_the_server_and_the_jobs(
    tmp_path: Path, catalog: str, node_a: Runtime
) -> None:
    b_keys = tmp_path / "b-keys"
    b_keys.mkdir()
    (b_keys / "ip-hash.key").write_bytes(b"\x02" * 32)
    env = {
        "PULLSTATS_DATABASE_URL": catalog,
        "PULLSTATS_KEYS_DIR": str(b_keys),
        "PULLSTATS_LAKE_URL": str(tmp_path / "a" / "lake"),  # the lake every node shares
        "PULLSTATS_EXPORTS_URL": str(tmp_path / "a" / "exports"),  # and the exports store
    }
    expected = (
        f"error: PULLSTATS_KEYS_DIR={b_keys}: its ip-hash key differs from the installation's"
    )
    port = str(free_port())
    (tmp_path / "b").mkdir()  # node B's data dir: the jobs refuse one that is not there
    for args in (("process",), ("export",), ("serve", "--port", port)):
        result = pullstats(tmp_path / "b", env, *args)
        assert result.returncode == 1, (args, result.stderr)
        assert result.stderr.startswith(expected), (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr  # no traceback
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "b" / "lake" / "requests").exists() or not list(
        (tmp_path / "b" / "lake" / "requests").rglob("*.parquet")
    )


def test_a_node_without_the_keys_setting_is_told_of_its_own_keys_dir(
    tmp_path: Path, catalog: str, node_a: Runtime
) -> None:
    """Node B never set PULLSTATS_KEYS_DIR: the refusal names the folder it read, as the data
    dir's, not a setting B does not have."""
    b_keys = tmp_path / "b" / "keys"
    b_keys.mkdir(parents=True)
    (b_keys / "ip-hash.key").write_bytes(b"\x02" * 32)
    env = {
        "PULLSTATS_DATABASE_URL": catalog,
        "PULLSTATS_LAKE_URL": str(tmp_path / "a" / "lake"),
        "PULLSTATS_EXPORTS_URL": str(tmp_path / "a" / "exports"),
    }
    result = pullstats(tmp_path / "b", env, "process")
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith(
        f"error: the keys dir {b_keys} (the data dir's: PULLSTATS_KEYS_DIR is not set): its "
        "ip-hash key differs from the installation's"
    ), result.stderr


def test_bad_node_settings_are_one_line_each(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-keys"
    result = pullstats(tmp_path / "a", {"PULLSTATS_KEYS_DIR": str(missing)}, "status")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: PULLSTATS_KEYS_DIR='{missing}': no such directory: mount or create the "
        "installation's keys there"
    )
    result = pullstats(tmp_path / "a", {"PULLSTATS_NODE_NAME": "node a"}, "status")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: PULLSTATS_NODE_NAME='node a': must be 1 to 64 letters, digits, '.', '_' or '-', "
        "starting with a letter or digit"
    )
    result = pullstats(tmp_path / "a", {"PULLSTATS_NODE_TIMEOUT": "PT30S"}, "status")
    assert result.returncode == 1
    assert result.stderr.strip() == (  # what servers do, as docs/operations.md says it
        "error: PULLSTATS_NODE_TIMEOUT='PT30S': must be at least 1 minute (PT1M): servers "
        "heartbeat every quarter of it, at most a minute apart"
    )


def test_keys_rotate_records_the_new_key_and_status_lists_the_nodes(
    tmp_path: Path, catalog: str, node_a: Runtime
) -> None:
    env = {"PULLSTATS_DATABASE_URL": catalog, "PULLSTATS_NODE_NAME": "a"}
    first = pullstats(node_a.paths.root, env, "keys", "rotate", "--only", "jwt")
    assert first.returncode == 0, first.stderr
    assert "jwt: key 0 signs from now on (the first" in first.stdout  # the server never ran
    result = pullstats(node_a.paths.root, env, "keys", "rotate", "--only", "jwt")
    assert result.returncode == 0, result.stderr
    with node_a.sessions() as session:
        kids = sorted(
            session.scalars(select(InstallationKey.kid).where(InstallationKey.ring == "jwt"))
        )
    assert len(kids) == 2 and kids[0] == "0"  # the first key and the rotation's
    assert f"jwt: key {kids[1]} signs from now on" in result.stdout
    result = pullstats(node_a.paths.root, env, "status")
    assert result.returncode == 0, result.stderr
    assert "processed up to: 2026-01-12T03:00:00Z" in result.stdout
    assert "node a: processed up to 2026-01-12T03:00:00Z, last seen " in result.stdout
    assert f"({node_a.paths.root} on " in result.stdout and ", this node)" in result.stdout


def test_status_tells_this_node_from_another_data_dir_under_its_name(
    tmp_path: Path, catalog: str, node_a: Runtime
) -> None:
    """A copy of A's data dir (restored elsewhere with its node-name, or given A's name) is not
    node A: `status` there used to mark A's line ", this node" by the name alone."""
    env = {
        "PULLSTATS_DATABASE_URL": catalog,
        "PULLSTATS_NODE_NAME": "a",
        "PULLSTATS_KEYS_DIR": str(tmp_path / "a" / "keys"),
        "PULLSTATS_LAKE_URL": str(tmp_path / "a" / "lake"),
        "PULLSTATS_EXPORTS_URL": str(tmp_path / "a" / "exports"),
    }
    (tmp_path / "b").mkdir(mode=0o700)
    elsewhere = pullstats(tmp_path / "b", env, "status")
    assert elsewhere.returncode == 0, elsewhere.stderr
    line = next(x for x in elsewhere.stdout.splitlines() if x.startswith("node a: "))
    assert line.endswith(f"({node_a.paths.root} on {socket.gethostname()}, another data dir "
                         "under this data dir's node name)")  # fmt: skip
    at_a = pullstats(node_a.paths.root, env, "status")
    assert at_a.returncode == 0, at_a.stderr
    assert f"({node_a.paths.root} on {socket.gethostname()}, this node)" in at_a.stdout
