"""``pullstats nodes list`` and ``pullstats nodes forget``: a node that left for good is removed
from the catalog once it has timed out (``status``, ``export``'s log and ``/metrics`` named it
as timed out for ever), never a live one; should it come back, it is recorded again and its
spool is read again without counting anything twice."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from pullstats.config import Settings
from pullstats.db.models import Node, SpoolProgress
from pullstats.ingest.records import PullRequestRecord
from pullstats.lake.compaction import compact
from pullstats.runtime import Runtime
from pullstats.timestamps import micros, now_micros
from tests.cli_fork import run_pullstats_command
from tests.conftest import cli_env, write_spool

pytestmark = pytest.mark.e2e  # runs the pullstats command

LEFT = datetime(2026, 1, 12, 3, tzinfo=UTC)  # when node b was last seen, long timed out


def _cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PULLSTATS_DATABASE_URL": settings.database_url_value,
        "PULLSTATS_NODE_NAME": str(settings.node_name),
        "PULLSTATS_KEYS_DIR": str(settings.keys_dir),
    }
    return run_pullstats_command(list(args), cli_env(settings.paths.root, env))


def _catalog(runtime: Runtime) -> tuple[list[str], list[str]]:
    """The nodes' names, and the nodes of the spool progress rows."""
    with runtime.sessions() as session:
        nodes = list(session.scalars(select(Node.name).order_by(Node.name)))
        progress = list(session.scalars(select(SpoolProgress.node).order_by(SpoolProgress.node)))
    return nodes, progress


def test_a_timed_out_node_is_forgotten_and_a_live_one_is_not(
    open_node: Callable[..., Runtime], node_settings: Callable[..., Settings]
) -> None:
    a, b = open_node("a"), open_node("b")
    for node in (a, b):
        when = micros(datetime(2026, 1, 7, 10, tzinfo=UTC))
        write_spool(node, PullRequestRecord(
            f"pull-{node.settings.node}", when, "GET", "acme/api", "1.0", "sha256:ab",
            "192.0.2.7", "docker/27.3.1", "notification", now_micros(),
        ))  # fmt: skip
        assert compact(node).written == 1
    b.node_seen(LEFT, now=LEFT)
    a.node_seen()  # now: live
    assert _catalog(a) == (["a", "b"], ["a", "b"])
    settings = node_settings("a")

    listed = _cli(settings, "nodes", "list")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert re.fullmatch(r"NAME +HOST +DATA DIR +PROCESSED UP TO +LAST SEEN +STATE", lines[0])
    assert re.fullmatch(rf"a +\S+ +{a.paths.root} +never +\S+Z +live", lines[1]), lines
    assert re.fullmatch(
        rf"b +\S+ +{b.paths.root} +2026-01-12T03:00:00Z +2026-01-12T03:00:00Z +timed-out",
        lines[2],
    ), lines
    assert len(lines) == 3

    live = _cli(settings, "nodes", "forget", "a")
    assert live.returncode == 1 and live.stderr.startswith("error: node a is live: last seen "), (
        live.stderr
    )
    assert "Stop its server and its jobs; it can be forgotten from " in live.stderr
    unknown = _cli(settings, "nodes", "forget", "c")
    assert (unknown.returncode, unknown.stderr) == (
        1,
        "error: no node named 'c' in the catalog (`pullstats nodes list` shows them)\n",
    )
    assert _catalog(a) == (["a", "b"], ["a", "b"])  # neither changed anything

    forgotten = _cli(settings, "nodes", "forget", "b")
    assert forgotten.returncode == 0, forgotten.stderr
    assert forgotten.stdout.startswith(
        f"node b forgotten ({b.paths.root} on {b.node_place()[0]}, processed up to "
        "2026-01-12T03:00:00Z, last seen 2026-01-12T03:00:00Z)"
    )
    assert _catalog(a) == (["a"], ["a"])  # a's own spool progress is left
    status = _cli(settings, "status")
    assert status.returncode == 0, status.stderr
    assert "node a: " in status.stdout and "node b" not in status.stdout

    # b comes back after all: recorded again, and its spool, read again, adds nothing twice
    b.node_seen()
    again = compact(b)
    assert (again.lines, again.written) == (1, 0)
    assert _catalog(a) == (["a", "b"], ["a", "b"])
