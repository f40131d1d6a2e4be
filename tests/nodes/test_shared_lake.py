"""De-duplication and the 5-second grouping work across nodes once both write one lake: here a
folder both data dirs link to (a shared path; object storage is the other way)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
from sqlalchemy import select

from pullstats.db.models import PullRollup
from pullstats.ingest.records import PullRequestRecord
from pullstats.pipeline import process
from pullstats.runtime import Runtime
from pullstats.timestamps import micros, now_micros
from tests.conftest import write_spool

T = datetime(2026, 1, 7, 10, 0, tzinfo=UTC)


def request(event_id: str, method: str, seconds: float) -> PullRequestRecord:
    return PullRequestRecord(
        event_id, micros(T + timedelta(seconds=seconds)), method, "acme/api", "1.0",
        "sha256:ab", "192.0.2.7", "docker/27.3.1", "notification", now_micros(),
    )  # fmt: skip


def test_one_pull_split_across_two_nodes_is_one_action(
    open_node: Callable[..., Runtime], tmp_path: Path
) -> None:
    (tmp_path / "node-b").mkdir()
    (tmp_path / "node-a" / "lake").mkdir(parents=True)
    (tmp_path / "node-b" / "lake").symlink_to(tmp_path / "node-a" / "lake")
    a, b = open_node("node-a"), open_node("node-b")
    # docker's HEAD by tag reached node-a; its GET two seconds later, node-b; and the registry
    # retried the HEAD's notification, which node-b took too
    write_spool(a, request("e1", "HEAD", 0))
    write_spool(b, request("e2", "GET", 2), request("e1", "HEAD", 0))
    first = process(a)
    second = process(b)
    assert (first.compaction.written, first.compaction.duplicates) == (1, 0)
    assert (second.compaction.written, second.compaction.duplicates) == (1, 1)
    # node-a's view of the lake is node-b's: the day's one action took in both nodes' requests
    actions = pq.read_table(a.paths.actions_day(date(2026, 1, 7)) / "actions.parquet")
    assert actions.column("action").to_pylist() == ["pull_by_tag"]
    assert actions.column("http_method").to_pylist() == ["GET"]
    with a.sessions() as session:
        row = session.scalars(
            select(PullRollup).where(
                PullRollup.period_kind == "week",
                PullRollup.period_start == date(2026, 1, 5),
                PullRollup.level == "namespace",
            )
        ).one()
    # HEAD by tag then GET by tag within 5 s, from one address (one ip_hash: shared key): one
    # pull by tag, no version check, one IP
    assert (row.pull_by_tag, row.pull_by_digest, row.version_check, row.unique_ip_count) == (
        1, 0, 0, 1,
    )  # fmt: skip
