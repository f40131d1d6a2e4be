"""Each node's spool is its own: compaction's progress is kept per (node, segment), so two
nodes' segments of one name do not share it, and a row from before node names is claimed by the
node whose spool holds its segment."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import select

from pullstats.db.models import SpoolProgress
from pullstats.ingest.records import PullRequestRecord
from pullstats.lake.compaction import compact
from pullstats.runtime import Runtime
from pullstats.timestamps import micros, now_micros

SEGMENT = "1767780000000000-4242-0"  # the same name on both nodes: a pid and time can repeat


def line(event_id: str, ip: str) -> bytes:
    instant = datetime(2026, 1, 7, 10, 0, tzinfo=UTC)
    return PullRequestRecord(
        event_id, micros(instant), "GET", "acme/api", "1.0", "sha256:ab", ip,
        "docker/27.3.1", "notification", now_micros(),
    ).to_line()  # fmt: skip


def segment(runtime: Runtime, *lines: bytes) -> int:
    data = b"".join(lines)
    (runtime.paths.spool / f"{SEGMENT}.seg").write_bytes(data)
    return len(data)


def progress(runtime: Runtime) -> list[tuple[str, str, int]]:
    with runtime.sessions() as session:
        rows = session.scalars(select(SpoolProgress).order_by(SpoolProgress.node))
        return [(row.node, row.segment, row.offset) for row in rows]


def test_segments_of_one_name_on_two_nodes_are_read_apart(
    open_node: Callable[..., Runtime],
) -> None:
    a, b = open_node("node-a"), open_node("node-b")
    size_a = segment(a, line("a1", "192.0.2.1"), line("a2", "192.0.2.2"))
    size_b = segment(b, line("b1", "192.0.2.3"), line("b2", "192.0.2.4"), line("b3", "192.0.2.5"))
    assert size_a < size_b
    assert compact(a).written == 2
    # node-a's offset is not node-b's: all three of node-b's lines are new
    assert compact(b).written == 3
    assert progress(a) == [("node-a", SEGMENT, size_a), ("node-b", SEGMENT, size_b)]
    assert compact(a).lines == 0 and compact(b).lines == 0


def test_a_segment_recorded_before_node_names_is_claimed_by_its_node(
    open_node: Callable[..., Runtime],
) -> None:
    a, b = open_node("node-a"), open_node("node-b")
    size = segment(a, line("a1", "192.0.2.1"), line("a2", "192.0.2.2"))
    with a.sessions.begin() as session:  # as migration 0007 leaves a single node's rows
        session.add(SpoolProgress(node="", segment=SEGMENT, offset=size, closed=True))
        session.add(SpoolProgress(node="", segment="1767780000000000-1-9", offset=7, closed=True))
    assert compact(b).lines == 0  # node-b's spool holds neither: nothing claimed
    assert compact(a).lines == 0  # node-a's holds the first: claimed, not read again
    assert progress(a) == [("", "1767780000000000-1-9", 7), ("node-a", SEGMENT, size)]
