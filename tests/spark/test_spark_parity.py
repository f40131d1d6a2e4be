"""The pipeline's steps on Apache Spark: the same definitions, transpiled, give DuckDB's answers.

Each test binds a step by hand (each input a Parquet file read as a temporary view, each
parameter a named marker, each function a SQL function of the session), runs it on PySpark in
local mode and compares the rows with ``DuckDBEngine``'s on the same input: a failure here
names the step, where the whole-pipeline parity run (``test_spark_pipeline.py``) names only the
output that differs. Both are scale-out runs (marker ``scaleout``, CONTRIBUTING.md): a JVM's
start and Spark's per-query cost are a minute of the README's test command otherwise.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlglot
from sqlglot import ErrorLevel

from pullstats.config import Settings
from pullstats.csv_cells import NUL_REPLACEMENT, safe_cell
from pullstats.duckdb_engine import DuckDBEngine
from pullstats.exports.steps import (
    CO_USAGE_LINES,
    CO_USAGE_ROWS,
    CORE_SUMMARY_LINES,
    CORE_TRENDS_LINES,
    EXTRA_ACTIONS,
    ROLLUP_ROWS,
    SUMMARY_LINES,
    SUMMARY_ROWS,
    TREND_ROWS,
)
from pullstats.exports.views import Dataview
from pullstats.ingest.records import SPOOL_SCHEMA
from pullstats.lake.steps import BATCH_DAYS, FIRST_ARRIVALS, NEW_REQUESTS, NEW_USERS, REPEATS
from pullstats.lake_schema import IMPORTED_SUMMARIES
from pullstats.rollups.steps import BREAKDOWNS, CO_USAGE, COUNTRIES, COUNTS, TRENDS
from pullstats.rollups.trends import GROUPINGS
from pullstats.steps import Input, Step
from tests.conftest import actions_table, trend, trends_table

pyspark = pytest.importorskip(
    "pyspark.sql",
    reason="PySpark comes with the spark extra: pip install -e '.[test,spark]'",
)

# one worker, one JVM: the Spark tests share a session
pytestmark = [pytest.mark.slow, pytest.mark.scaleout, pytest.mark.xdist_group("spark")]


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    if shutil.which("java") is None:
        pytest.fail("Spark needs Java: scripts/system-deps.sh installs it")
    session = (
        pyspark.SparkSession.builder.master("local[1]")
        .appName("pullstats-parity")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.driver.memory", "512m")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def _schema(item: Input) -> pa.Schema:
    """An input's columns; a table given for an input read by file carries ``filename``."""
    if item.filename:
        return item.schema.append(pa.field("filename", pa.string()))
    return item.schema


def _spark_rows(
    spark: Any,
    folder: Path,
    step: Step,
    inputs: Mapping[str, pa.Table],
    params: Mapping[str, object],
    **options: object,
) -> list[tuple[object, ...]]:
    from pyspark.sql import functions

    for item in step.inputs:
        path = folder / f"{step.name}-{item.name}.parquet"
        pq.write_table(inputs[item.name].cast(_schema(item)), path)
        spark.read.parquet(str(path)).createOrReplaceTempView(item.name)
    for function in step.functions:
        (body,) = sqlglot.transpile(
            f"SELECT {function.sql()}",
            read="duckdb",
            write="spark",
            unsupported_level=ErrorLevel.RAISE,
        )
        arguments = ", ".join(f"{name} STRING" for name in function.parameters)
        spark.sql(
            f"CREATE OR REPLACE TEMPORARY FUNCTION {function.name}({arguments}) "
            f"RETURNS STRING RETURN {body.removeprefix('SELECT ')}"
        )
    (sql,) = sqlglot.transpile(
        step.sql(**options), read="duckdb", write="spark", unsupported_level=ErrorLevel.RAISE
    )
    args = {
        name: functions.array(*map(functions.lit, value)) if isinstance(value, list) else value
        for name, value in params.items()
    }
    return [tuple(row) for row in spark.sql(sql, args=args).collect()]


def _duckdb_rows(
    folder: Path,
    step: Step,
    inputs: Mapping[str, pa.Table],
    params: Mapping[str, object],
    **options: object,
) -> list[tuple[object, ...]]:
    engine = DuckDBEngine(Settings(data_dir=folder))
    sources = {name: table.cast(_schema(step.input(name))) for name, table in inputs.items()}
    table = engine.arrow(step, sources, params, **options)
    return [tuple(row.values()) for row in table.to_pylist()]


def _same_rows(
    spark: Any,
    folder: Path,
    step: Step,
    inputs: Mapping[str, pa.Table],
    params: Mapping[str, object] | None = None,
    *,
    ordered: bool = False,
    **options: object,
) -> list[tuple[object, ...]]:
    """Run ``step`` on both engines; their rows (sorted unless the step orders them)."""
    on_spark = _spark_rows(spark, folder, step, inputs, params or {}, **options)
    on_duckdb = _duckdb_rows(folder, step, inputs, params or {}, **options)
    if not ordered:
        on_spark, on_duckdb = sorted(on_spark, key=repr), sorted(on_duckdb, key=repr)
    assert on_spark == on_duckdb, step.name
    return on_duckdb


A, B, C = b"\x01" * 16, b"\x02" * 16, b"\x03" * 16
WHEN = datetime(2026, 1, 6, 12)


def _action(
    ns: str, repo: str, ref: str, kind: str, ip: bytes | None, **more: object
) -> dict[str, object]:
    row: dict[str, object] = dict(
        timestamp=WHEN, namespace=ns, repository=repo, reference=ref, action=kind, ip_hash=ip
    )
    return {"ruleset_version": 1} | row | more


ACTION_ROWS = [
    _action("acme", "api", "1.0", "pull_by_tag", A, country="DE", user_hash=b"\xa1" * 16),
    _action("acme", "api", "1.0", "pull_by_tag", B, country="de"),
    _action("acme", "api", "sha256:" + "a" * 64, "pull_by_digest", A, country=""),
    _action("acme", "web", "2", "version_check", C, country=None),
    _action("acme", "tools/cli", "x,y", "pull_by_tag", C, country="US"),
    _action("globex", "gw", "1", "pull_by_tag", A, country="US"),
    # a Docker Hub raw row: no address, ruleset 0; its key's summary counts are not added
    _action("globex", "gw", "1", "pull_by_digest", None, ruleset_version=0),
]


def test_the_rollup_counts_agree(spark: Any, tmp_path: Path) -> None:
    hub = dict(level="repository", namespace="acme", repository="old", reference="")
    summaries = pa.Table.from_pylist(
        [
            # joins a key of the lake's with raw rows: only its IP count is added
            dict(
                level="reference",
                namespace="globex",
                repository="gw",
                reference="1",
                pull_by_tag=5,
                pull_by_digest=5,
                version_check=5,
                unique_ip_count=7,
            ),
            # a key only Docker Hub has; downloaded twice: the larger value, never the sum
            hub | dict(pull_by_tag=3, pull_by_digest=0, version_check=1, unique_ip_count=2),
            hub | dict(pull_by_tag=4, pull_by_digest=0, version_check=1, unique_ip_count=2),
        ],
        schema=IMPORTED_SUMMARIES.schema,
    )
    rows = _same_rows(
        spark, tmp_path, COUNTS, {"actions": actions_table(ACTION_ROWS), "summaries": summaries}
    )
    by_key = {row[:4]: row[4:8] for row in rows}
    users = {row[:4]: row[8:] for row in rows}
    # worked by hand: (tag, digest, version check, distinct IPs)
    # acme's namespace adds old's Hub pulls (no namespace-level summary: its repositories' sum);
    # unique IPs do not add up, so Hub's figure is not known, nor the sum: 0 (the lake's 3 alone
    # could be fewer than a repository's known figure beside it; rollups/counts.sql)
    assert by_key[("namespace", "acme", "", "")] == (3 + 4, 1, 1 + 1, 0)
    assert by_key[("reference", "acme", "api", "1.0")] == (2, 0, 0, 2)
    assert by_key[("reference", "globex", "gw", "1")] == (1, 1, 0, 1 + 7)
    assert by_key[("repository", "acme", "old", "")] == (4, 0, 1, 2)
    # (authenticated, unauthenticated): one user from A; anonymous actions from B, A and C
    assert users[("namespace", "acme", "", "")] == (1, 3)
    assert users[("reference", "acme", "api", "1.0")] == (1, 1)
    assert users[("repository", "acme", "old", "")] == (0, 0)  # imported: no users


def test_the_country_counts_agree(spark: Any, tmp_path: Path) -> None:
    trends = trends_table(
        # an imported DVP Core Trends report: pulls by tag, and by digest where no tag...
        trend("api", "1.0", "", "docker", 5, 1, "a", country="US"),
        trend("api", "", "", "docker", 2, 0, "a", country=""),
        # ...and another download of it, with less: the larger value, never the sum
        trend("api", "1.0", "", "docker", 4, 1, "b", country="US"),
    )
    rows = _same_rows(
        spark, tmp_path, COUNTRIES, {"actions": actions_table(ACTION_ROWS), "trends": trends}
    )
    acme = {row[3]: row[4:] for row in rows if row[:3] == ("namespace", "acme", "")}
    # de and DE are one country; empty and unknown are ZZ; the report adds no addresses
    assert acme == {"DE": (2, 0, 0, 2), "ZZ": (0, 1 + 2, 1, 2), "US": (1 + 5, 0, 1, 1)}


def test_the_breakdown_counts_agree(spark: Any, tmp_path: Path) -> None:
    net = dict(host="aws", type="hosting", user_agent_tool="docker", user_agent_version="27.3.1")
    rows = [
        _action("acme", "api", "1.0", "pull_by_tag", A, **net),
        _action("acme", "api", "1.0", "pull_by_tag", B, **net),
        _action("acme", "web", "2", "version_check", C, **net),
        _action("acme", "web", "2", "pull_by_digest", C, host="", type=None),  # unknown: ''
        _action("globex", "gw", "1", "pull_by_tag", A, host="gcp", user_agent_tool="podman"),
    ]
    # an imported Trends report's row: Docker's cloud and client for host and tool
    trends = trends_table(
        trend("gw", "", "aws", "containerd", 6, 2, namespace="globex", country="US")
    )
    got = _same_rows(
        spark, tmp_path, BREAKDOWNS, {"actions": actions_table(rows), "trends": trends}
    )
    acme = {row[3:6]: row[6:] for row in got if row[:3] == ("namespace", "acme", "")}
    assert acme == {
        ("host", "aws", ""): (2, 0, 1),
        ("host", "", ""): (0, 1, 0),
        ("type", "hosting", ""): (2, 0, 1),
        ("type", "", ""): (0, 1, 0),
        ("tool_version", "docker", "27.3.1"): (2, 0, 1),
        ("tool_version", "", ""): (0, 1, 0),
        # the step's functions (client_categories' tables), defined on Spark too: docker from
        # aws is CI/CD, a pull with no tool unknown
        ("category", "engine", ""): (2, 0, 1),
        ("category", "unknown", ""): (0, 1, 0),
        ("use_case", "CI/CD", ""): (2, 0, 1),
        ("use_case", "Unknown", ""): (0, 1, 0),
    }
    globex = {row[3:5]: row[6:] for row in got if row[:3] == ("namespace", "globex", "")}
    # podman is a local-dev engine; from gcp, CI/CD; the report's containerd from aws is Prod
    assert globex[("category", "engine")] == (1, 6, 2)
    assert globex[("use_case", "CI/CD")] == (1, 0, 0)
    assert globex[("use_case", "Prod")] == (0, 6, 2)


def test_the_extra_repos_actions_agree(spark: Any, tmp_path: Path) -> None:
    rows = _same_rows(
        spark,
        tmp_path,
        EXTRA_ACTIONS,
        {"period_actions": actions_table(ACTION_ROWS)},
        {"extra_repos": ["globex/gw", "acme/web"]},
    )
    assert sorted({(row[2], row[3]) for row in rows}) == [("acme", "web"), ("globex", "gw")]


def _rollup_rows(rows: list[dict[str, object]]) -> pa.Table:
    counts = {"unique_ip_count": 1, "pull_by_tag": 2, "pull_by_digest": 3, "version_check": 4}
    return pa.Table.from_pylist([counts | row for row in rows], schema=ROLLUP_ROWS)


#: Text a cell must survive: commas, quotes, line breaks, formulas, invisible starts, a NUL.
TRICKY = ["plain", "a,b", 'say "hi"', "two\nlines", "=1+1", "-2", "+x", "@sum", " =x", "\u200b=x",
          "tab\tin", "nul\0here", "ünïcode", "'quoted"]  # fmt: skip


@pytest.mark.parametrize("view", [v for v in Dataview if v is not Dataview.RAW])
def test_the_summary_lines_agree_byte_for_byte(spark: Any, tmp_path: Path, view: Dataview) -> None:
    levels = {
        Dataview.SUMMARY: "reference",
        Dataview.REPO_SUMMARY: "repository",
        Dataview.NAMESPACE_SUMMARY: "namespace",
    }
    rows = _rollup_rows(
        [
            dict(level=levels[view], namespace=f"ns{i}", repository=text, reference=text)
            for i, text in enumerate(TRICKY)
        ]
    )
    bounds = {"period_start": "2026-01-05T00:00:00Z", "period_end": "2026-01-11T23:59:59Z"}
    lines = _same_rows(
        spark, tmp_path, SUMMARY_LINES, {"summary_rows": rows}, bounds, ordered=True, view=view
    )
    assert len(lines) == len(TRICKY)
    if view is not Dataview.NAMESPACE_SUMMARY:
        # every text cell went through safe_cell: the NUL is replaced, the formulas neutralised
        text = "".join(line[0] for line in lines)
        assert "\0" not in text and NUL_REPLACEMENT in text
        assert f",{safe_cell('=1+1')}," in text


def test_the_summary_rows_agree(spark: Any, tmp_path: Path) -> None:
    rollups = _rollup_rows(
        [
            dict(level="namespace", namespace="acme", repository="", reference=""),
            dict(level="repository", namespace="partner", repository="shared", reference=""),
        ]
    )
    extra = _rollup_rows(
        [
            dict(level="namespace", namespace="partner", repository="", reference=""),
            dict(level="namespace", namespace="acme", repository="", reference=""),
        ]
    )
    rows = _same_rows(
        spark,
        tmp_path,
        SUMMARY_ROWS,
        {"rollups": rollups, "extra_counts": extra},
        {"namespace": "acme"},
    )
    # the extra namespace's own row comes from the extra counts, the namespace's own never does
    assert sorted((row[0], row[1]) for row in rows) == [
        ("namespace", "acme"),
        ("namespace", "partner"),
        ("repository", "partner"),
    ]


def test_compactions_batch_steps_agree(spark: Any, tmp_path: Path) -> None:
    # a registry retried e1 (the later arrival goes); e2 is already in the lake; e3 is new
    day = 1_767_657_600_000_000  # 2026-01-06T00:00:00Z in microseconds
    spool = [
        dict(id="e1", ts=day + 5, recv=day + 9, name="acme/api", tag="1.0", digest="", ua="a"),
        dict(id="e1", ts=day + 5, recv=day + 7, name="acme/api", tag="1.0", digest="", ua="a"),
        dict(id="e2", ts=day + 6, recv=day + 8, name="nginx", tag="", digest="sha256:x", ua="b"),
        dict(id="e3", ts=day + 86_400_000_000, recv=day, name="acme/web", tag="2", digest="",
             ua="c"),
    ]  # fmt: skip
    common = dict(method="GET", ip="192.0.2.1", src="notification", user="")
    spool[0]["user"] = spool[1]["user"] = "ci-bot"
    batch = pa.Table.from_pylist(
        [{name: (common | row).get(name) for name in SPOOL_SCHEMA.names} for row in spool],
        schema=SPOOL_SCHEMA,
    )
    assert _same_rows(spark, tmp_path, REPEATS, {"batch": batch}) == [(1,)]
    firsts = _same_rows(spark, tmp_path, FIRST_ARRIVALS, {"batch": batch})
    recv = SPOOL_SCHEMA.names.index("recv")
    assert sorted((row[0], row[recv]) for row in firsts) == [
        ("e1", day + 7),
        ("e2", day + 8),
        ("e3", day),
    ]
    days = _same_rows(spark, tmp_path, BATCH_DAYS, {"batch": batch})
    assert days == [(20459, day + 5), (20460, day + 86_400_000_000)]
    ids = pa.table({"id": ["e2", "e9"]})
    new = _same_rows(spark, tmp_path, NEW_REQUESTS, {"batch": batch, "ids": ids})
    assert sorted(row[0] for row in new) == ["e1", "e1", "e3"]
    users = pa.table({"user": ["admin"], "user_hash": [b"h"]})
    assert _same_rows(spark, tmp_path, NEW_USERS, {"batch": batch, "users": users}) == [("ci-bot",)]


def test_the_trends_and_co_usage_rollups_agree(spark: Any, tmp_path: Path) -> None:
    actions = actions_table(
        [
            *ACTION_ROWS,
            # eleven users of two repositories: a co-usage pair
            *(
                _action("acme", "web", "2", "pull_by_tag", bytes([40 + n]) * 16, host="aws",
                        user_agent_tool="docker", tag="2")
                for n in range(11)
            ),
            *(
                _action("globex", "gw", "1", "pull_by_tag", bytes([40 + n]) * 16,
                        user_agent_tool="trivy", tag="1")
                for n in range(11)
            ),
        ]
    )  # fmt: skip
    # imported Trends rows too: twice the same report, and a repository of the lake's
    reported = trends_table(
        trend("web", "2", "aws", "docker", 5, 1, "a", country="US", unique_authenticated_users=2),
        trend("web", "2", "aws", "docker", 4, 2, "b", country="US", unique_authenticated_users=3),
        trend("gw", "", "", "renovate", 1, 7, "a", namespace="globex", country="Germany"),
    )
    trends = _same_rows(spark, tmp_path, TRENDS, {"actions": actions, "trends": reported})
    assert len({row[0] for row in trends}) == len(GROUPINGS)
    pairs = _same_rows(spark, tmp_path, CO_USAGE, {"actions": actions})
    assert sorted(pairs) == [
        ("acme", "web", "globex", "gw", 11, 12),  # web also has C's version check
        ("globex", "gw", "acme", "web", 11, 12),  # gw also has A (tag 1)
    ]


def test_the_report_lines_agree_byte_for_byte(spark: Any, tmp_path: Path) -> None:
    rows = _rollup_rows(
        [
            dict(level=level, namespace=f"ns{i}", repository=text, reference=reference)
            for i, text in enumerate(TRICKY)
            for level, reference in (("repository", ""), ("reference", "1.0"),
                                     ("reference", "sha256:" + "b" * 64))
        ]
    )  # fmt: skip
    params = {"publisher": "=acme", "granularity": "weekly", "period_start": "2026-01-05"}
    summary = _same_rows(
        spark, tmp_path, CORE_SUMMARY_LINES, {"summary_rows": rows}, params, ordered=True
    )
    assert len(summary) == 3 * len(TRICKY)
    text_columns = {name: "" for name in TREND_ROWS.names[:8]}
    trend_rows = pa.Table.from_pylist(
        [
            text_columns | dict(namespace="ns", repository=text, tag=tag, country="DE",
                                cloud=cloud, tool=text, category="engine", use_case="CI/CD",
                                data_downloads=i, version_checks=1,
                                unique_authenticated_users=2, unique_unauthenticated_users=3)
            for i, text in enumerate(TRICKY)
            for tag, cloud in (("", ""), ("1.0", "aws"))
        ],
        schema=TREND_ROWS,
    )  # fmt: skip
    lines = _same_rows(
        spark, tmp_path, CORE_TRENDS_LINES, {"trend_rows": trend_rows}, params, ordered=True
    )
    assert any(",no csp,plain,\\N," in line[0] for line in lines)
    pairs = pa.Table.from_pylist(
        [
            dict(namespace="ns", repository=text, paired_namespace="o",
                 paired_repository=f"p{k}", users=users, total_users=total)
            for text in TRICKY
            for k, (users, total) in enumerate(((10, 11), (10, 30), (11, 11), (12, 7000)))
        ],
        schema=CO_USAGE_ROWS,
    )  # fmt: skip
    shares = _same_rows(
        spark, tmp_path, CO_USAGE_LINES, {"co_usage_rows": pairs}, params, ordered=True
    )
    # by users, most first: 12/7000 = 0.1714…, 11/11, 10/11 = 90.909…, 10/30 = 33.333…
    assert [line[0].rstrip().rsplit(",", 1)[1] for line in shares[:4]] == [
        "0.17", "100.00", "90.91", "33.33",
    ]  # fmt: skip
