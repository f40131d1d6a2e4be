"""The files the pipeline writes have the columns and types lake_schema.py declares."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq

from pullstats.importers.dockerhub_csv import import_files
from pullstats.ingest.records import PullRequestRecord
from pullstats.lake_schema import ACTIONS, REQUESTS, TABLES
from pullstats.pipeline import process
from pullstats.runtime import Runtime
from pullstats.timestamps import micros, now_micros
from tests.conftest import write_spool

HUB = Path(__file__).resolve().parents[1] / "fixtures" / "dockerhub"
RAW = HUB / "hub_raw_2026-W02.csv"
SUMMARY = HUB / "hub_repo-summary_2026-W02.csv"
TRENDS = HUB / "dvp-core_trends_monthly.csv"


def test_written_files_have_the_declared_schemas(runtime: Runtime) -> None:
    when = datetime(2026, 1, 6, 12, tzinfo=UTC)
    write_spool(
        runtime,
        *(
            PullRequestRecord(
                f"e{i}",
                micros(when + timedelta(seconds=i)),
                "GET",
                "acme/api",
                "1.0",
                "sha256:" + "a" * 64,
                f"192.0.2.{i}",
                "docker/27.3.1",
                "notification",
                now_micros(),
                rid=f"r{i}",  # Distribution's request.id: kept in registry-ids
            )
            for i in range(3)
        ),
    )
    assert [r.status for r in import_files(runtime, [RAW, SUMMARY, TRENDS])] == ["imported"] * 3
    process(runtime)
    lake = runtime.paths.root / "lake"
    for table in TABLES:
        files = sorted((lake / table.folder).glob(table.glob))
        assert files, table.folder
        for file in files:
            # names, order and types; whether DuckDB marks a column NOT NULL depends on the path
            written = [(f.name, f.type) for f in pq.read_schema(file)]
            assert written == [(f.name, f.type) for f in table.schema], file
    # the Docker Hub raw rows went into the day files of actions too, in the same schema
    actions = pq.read_table(lake / "actions" / "day=2026-01-06" / "actions.parquet")
    assert set(actions["ruleset_version"].to_pylist()) == {0, 1}
    assert REQUESTS.columns[:2] == ("id", "ts") and ACTIONS.columns[-1] == "ruleset_version"
