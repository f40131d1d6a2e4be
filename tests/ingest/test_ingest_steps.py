"""Stage 0's steps on the engine: the access-log and Docker Hub parsing steps write the columns
the steps after them and the lake read, and run on DuckDB with their parameters."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest
import sqlglot

from pullstats.config import Settings
from pullstats.duckdb_engine import DuckDBEngine
from pullstats.ingest import steps as ingest
from pullstats.ingest.access_log_formats import LINE_CHUNK_SCHEMA, LOG_LINES_SCHEMA, line_pattern
from pullstats.ingest.dockerhub_columns import FileKind
from pullstats.ingest.dockerhub_sql import PARSED_RAW, PARSED_SUMMARIES, SUMMARY_ROWS
from pullstats.lake_schema import ACTIONS, IMPORTED_SUMMARIES
from pullstats.steps import Step


def _columns(step: Step, **options: object) -> list[str]:
    return sqlglot.parse_one(step.sql(**options), read="duckdb").named_selects


@pytest.mark.parametrize(
    ("step", "schema"),
    [
        (ingest.LOG_LINES, LOG_LINES_SCHEMA),
        (ingest.DOCKERHUB_RAW, PARSED_RAW),
        (ingest.DOCKERHUB_SUMMARY, PARSED_SUMMARIES),
        (ingest.DOCKERHUB_DAY_ACTIONS, ACTIONS.schema),
        (ingest.DOCKERHUB_PERIOD_SUMMARIES, IMPORTED_SUMMARIES.schema),
    ],
    ids=lambda value: getattr(value, "name", ""),
)
def test_the_ingest_steps_write_the_columns_the_next_steps_and_the_lake_read(
    step: Step, schema: pa.Schema
) -> None:
    # what a parse step writes is the input the steps after it declare; what the importer
    # writes to the lake has the lake's columns in their order
    for options in step.variants:
        assert _columns(step, **options) == schema.names, options


def _log_params(log_format: str) -> dict[str, object]:
    return {
        "pattern": line_pattern(log_format),  # type: ignore[arg-type]
        "cut": True,
        "received_us": 0,
        "earliest_us": 946_684_800_000_000,  # 2000-01-01
        "latest_us": 1_893_456_000_000_000,  # 2030-01-01
    }


@pytest.mark.parametrize("log_format", ["auto", "combined", "pullstats"])
def test_the_engine_runs_the_log_line_step_on_an_arrow_table(
    tmp_path: Path, log_format: str
) -> None:
    engine = DuckDBEngine(Settings(data_dir=tmp_path))
    request = '"GET /v2/acme/api/manifests/1.0 HTTP/1.1" 200 512 "-" "docker/27.3.1"'
    pullstats_tail = ' 1767571200.123 "-"' if log_format == "pullstats" else ""
    head = "192.0.2.1 - - [05/Jan/2026:00:00:00 +0000] "
    lines = [
        head + request + pullstats_tail + "\n",
        head + request.replace("manifests/1.0", "blobs/sha256:00") + pullstats_tail + "\n",
        head + request + pullstats_tail,  # no line end: still being written
    ]
    chunk = pa.table({"n": [1, 2, 3], "line": lines}, schema=LINE_CHUNK_SCHEMA)
    rows = engine.arrow(
        ingest.LOG_LINES, {"log_chunk": chunk}, _log_params(log_format), log_format=log_format
    ).sort_by("n")
    assert rows["reason"].to_pylist() == [None, "blob_request", "unterminated"]
    request_row = rows.to_pylist()[0]
    assert (request_row["name"], request_row["tag"], request_row["ip"]) == (
        "acme/api",
        "1.0",
        "192.0.2.1",
    )
    # the pullstats format's time is its msec field, to the millisecond
    milliseconds = 123 if log_format == "pullstats" else 0
    assert request_row["ts"] == (1_767_571_200_000 + milliseconds) * 1000  # 2026-01-05


@pytest.mark.parametrize("period_in_file", [True, False], ids=["in-file", "from-name"])
def test_the_engine_runs_the_summary_step_with_its_period_and_window(
    tmp_path: Path, period_in_file: bool
) -> None:
    engine = DuckDBEngine(Settings(data_dir=tmp_path))
    text = {name: pa.array([None, None], pa.string()) for name in SUMMARY_ROWS.names[1:]}
    text |= {
        "namespace": pa.array(["acme", "acme"]),
        "repository": pa.array(["api", "acme/web"]),
        "pull_by_tag": pa.array(["3", "-1"]),
    }
    if period_in_file:
        text["period_start"] = pa.array(["2026-01-05 00:00:00"] * 2)
        text["period_end"] = pa.array(["2026-01-11 00:00:00"] * 2)
    rows = pa.table({"rn": pa.array([1, 2], pa.int64()), **text}, schema=SUMMARY_ROWS)
    params: dict[str, object] = {"earliest_us": 0, "latest_us": 2_000_000_000_000_000}
    if not period_in_file:
        params |= {"period_start": date(2026, 1, 5), "period_end": date(2026, 1, 11)}
    parsed = engine.arrow(
        ingest.DOCKERHUB_SUMMARY,
        {"csv_rows": rows},
        params,
        kind=FileKind.REPO_SUMMARY,
        period_in_file=period_in_file,
    ).sort_by("rn")
    assert parsed.select(["problem", "period_kind", "level", "repository"]).to_pylist() == [
        dict(problem=None, period_kind="week", level="repository", repository="api"),
        dict(problem="bad_count", period_kind="week", level="repository", repository="web"),
    ]
    # the window is a parameter: a period before it is out of range
    params["earliest_us"] = 1_900_000_000_000_000
    late = engine.arrow(
        ingest.DOCKERHUB_SUMMARY,
        {"csv_rows": rows},
        params,
        kind=FileKind.REPO_SUMMARY,
        period_in_file=period_in_file,
    )
    assert set(late["problem"].to_pylist()) == {"period_out_of_range"}
