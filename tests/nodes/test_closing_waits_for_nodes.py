"""A period closes only when every live node has processed past it; a node not seen for
PULLSTATS_NODE_TIMEOUT stops holding it (db/nodes.py). Two data dirs, one catalog."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from pullstats.accounts import service
from pullstats.db.models import Node
from pullstats.db.nodes import NodeNameTaken, NodeState, closing_watermark
from pullstats.exports.closing import closed_periods, export_closed
from pullstats.ingest.records import PullRequestRecord
from pullstats.periods import Period
from pullstats.pipeline import end_of_day, process
from pullstats.runtime import Runtime
from pullstats.timestamps import micros, now_micros
from tests.conftest import write_spool

WEEK = Period.week(2026, 2)  # Monday 2026-01-05 .. Sunday 2026-01-11; closes 2026-01-12T02:00Z
CLOSES = datetime(2026, 1, 12, 2, 0, tzinfo=UTC)  # its end plus the default 2 h grace


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def state(name: str, mark: str | None, live: bool) -> NodeState:
    return NodeState(
        name, "host", f"/data/{name}", at(mark) if mark else None, at("2026-01-12"), live
    )


def test_the_closing_watermark_is_the_least_live_one() -> None:
    a, b = state("a", "2026-01-12T03:00", True), state("b", "2026-01-12T01:00", True)
    assert closing_watermark([a, b]) == at("2026-01-12T01:00")
    # b timed out: it holds nothing open any more
    assert closing_watermark([a, state("b", "2026-01-12T01:00", False)]) == at("2026-01-12T03:00")
    # a live node that never processed holds everything open: its spool may hold any period
    assert closing_watermark([a, state("c", None, True)]) is None
    # nobody live: what the furthest node reached (one node: its watermark, seen or not)
    dead = [state("a", "2026-01-12T03:00", False), state("b", "2026-01-12T01:00", False)]
    assert closing_watermark(dead) == at("2026-01-12T03:00")
    assert closing_watermark([state("a", None, False)]) is None
    assert closing_watermark([]) is None


def pull(event_id: str, instant: datetime, ip: str) -> PullRequestRecord:
    return PullRequestRecord(
        event_id, micros(instant), "GET", "acme/api", "1.0", "sha256:ab", ip,
        "docker/27.3.1", "notification", now_micros(),
    )  # fmt: skip


def closed(runtime: Runtime, clock: datetime) -> list[Period]:
    """The periods closed on 2026-01-13 as seen with the node liveness of ``clock``."""
    with runtime.sessions() as session:
        return [p for p, _ in closed_periods(session, at("2026-01-13"), runtime, clock=clock)]


def test_closing_waits_for_the_lagging_live_node_until_it_times_out(
    open_node: Callable[..., Runtime], caplog: pytest.LogCaptureFixture
) -> None:
    a, b = open_node("node-a"), open_node("node-b")
    write_spool(a, pull("e1", at("2026-01-07T10:00"), "192.0.2.1"))
    process(a)  # week 2 has rollups; node-a's watermark is this run's start minus 5 s
    with a.sessions() as session:
        row = session.get(Node, "node-a")
        assert row is not None and row.watermark is not None
        a_mark = row.watermark.replace(tzinfo=UTC)
    assert a_mark > CLOSES  # processed in December 2026, long after the week closed
    t0 = datetime.now(UTC)
    a.node_seen(now=t0)
    # node-b ingests too and has processed its spool only up to 01:00 on the 12th
    b.node_seen(at("2026-01-12T01:00"), now=t0)
    assert closed(a, t0 + timedelta(minutes=30)) == []  # node-b may still hold week 2 lines
    a.node_seen(now=t0 + timedelta(minutes=50))  # node-a's server beats on; node-b's stopped
    assert closed(a, t0 + timedelta(minutes=59, seconds=59)) == []
    # an hour (PULLSTATS_NODE_TIMEOUT) after node-b was last seen, it holds nothing open
    with caplog.at_level(logging.WARNING, "pullstats.exports"):
        assert closed(a, t0 + timedelta(hours=1)) == [WEEK]
    assert [record.getMessage() for record in caplog.records] == [
        f"node node-b not seen since {t0:%Y-%m-%dT%H:%M:%SZ} (PULLSTATS_NODE_TIMEOUT): periods "
        "close without waiting for its spool"
    ]
    # node-b back, with a watermark past the close: the week stays closed with it live
    b.node_seen(CLOSES, now=t0 + timedelta(hours=1, minutes=1))
    assert closed(a, t0 + timedelta(hours=1, minutes=2)) == [WEEK]
    b.node_seen(CLOSES - timedelta(microseconds=1), now=t0 + timedelta(hours=1, minutes=2))
    assert closed(a, t0 + timedelta(hours=1, minutes=3)) == [WEEK]  # a watermark never goes back


def test_export_skips_a_period_a_live_node_has_not_processed(
    open_node: Callable[..., Runtime],
) -> None:
    a, b = open_node("node-a"), open_node("node-b")
    with a.sessions.begin() as session:
        service.create_namespace(session, "acme")
    write_spool(a, pull("e1", at("2026-01-07T10:00"), "192.0.2.1"))
    process(a)
    b.node_seen()  # node-b's server started (now) and has never processed its spool
    after = end_of_day(date(2026, 1, 13))
    assert export_closed(a, now=after).exported == []
    write_spool(b, pull("e2", at("2026-01-08T10:00"), "192.0.2.2"))
    process(b)  # node-b's own spool, into its own lake here; its watermark passes the close
    done = export_closed(a, now=after)
    assert [(task.namespace, task.period) for task in done.exported] == [("acme", WEEK)]


def test_a_node_name_is_one_data_dir_while_it_is_live(open_node: Callable[..., Runtime]) -> None:
    a = open_node("node-a")
    t0 = at("2026-01-12T00:00")
    a.node_seen(now=t0)
    twin = open_node("node-a-twin", node_name="node-a")
    with pytest.raises(NodeNameTaken, match="PULLSTATS_NODE_NAME=node-a is the name of another"):
        twin.node_seen(now=t0 + timedelta(minutes=59))
    twin.node_seen(now=t0 + timedelta(hours=1))  # node-a timed out: the name is free again
    with twin.sessions() as session:
        (row,) = session.scalars(select(Node))
        assert row.data_dir == str(twin.paths.root)


def test_a_copied_data_dir_is_told_where_its_name_came_from(
    open_node: Callable[..., Runtime],
) -> None:
    """No setting names the nodes: each data dir made its name, and a copy kept the original's
    (its node-name file). The refusal names that file, not the unset setting."""
    a = open_node("node-a", node_name=None)
    t0 = at("2026-01-12T00:00")
    a.node_seen(now=t0)
    copy = a.paths.root.with_name("node-a-copy")
    copy.mkdir()
    (copy / "node-name").write_bytes(a.paths.node_file.read_bytes())
    twin = open_node("node-a-copy", node_name=None)
    expected = (
        f"this data dir's node name {a.settings.node} (kept in {copy / 'node-name'}) is the name "
        f"of another node ({a.paths.root} on "
    )
    with pytest.raises(NodeNameTaken) as taken:
        twin.node_seen(now=t0 + timedelta(minutes=5))
    assert str(taken.value).startswith(expected)
    assert str(taken.value).endswith(
        "if this data dir is a copy, delete that file here (a new name is made), or set "
        "PULLSTATS_NODE_NAME"
    )
    assert "PULLSTATS_NODE_NAME=" not in str(taken.value)
