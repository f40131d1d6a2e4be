"""The pipeline's steps: declared once, run by the DuckDB engine, transpiled to Spark SQL.

Every step's SQL (each of its variants) must transpile to Spark SQL with SQLGlot raising on
anything it cannot express, read exactly the relations the step declares, and take its
parameters as Spark's named markers. The engine tests run real DuckDB on real Parquet files.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlglot
from sqlglot import ErrorLevel, exp

from pullstats.classify.steps import (
    IMPORTED_ACTIONS_STEP,
    SORTED_REQUESTS,
    SORTED_REQUESTS_STEP,
)
from pullstats.config import Settings
from pullstats.db.models import BreakdownRollup, CountryRollup, PullRollup
from pullstats.duckdb_engine import DuckDBEngine
from pullstats.dvp_columns import ACTION_KINDS, RAW_COLUMNS
from pullstats.exports.steps import RAW_LINES, SUMMARY_LINES
from pullstats.lake_schema import ACTIONS
from pullstats.pipeline import EXPORT_STEPS, INGEST_STEPS, PROCESS_STEPS, STEPS
from pullstats.rollups.steps import BREAKDOWNS, COUNTRIES, COUNTS
from pullstats.steps import Function, Input, Step, Transform, bind_params, literal
from tests.conftest import actions_table

SRC = Path(__file__).resolve().parent.parent / "src" / "pullstats"


SQL_STEPS = [step for step in STEPS if isinstance(step, Step)]
TRANSFORMS = [step for step in STEPS if isinstance(step, Transform)]


def _variants() -> list[tuple[Step, dict[str, object]]]:
    return [(step, dict(options)) for step in SQL_STEPS for options in step.variants]


def _id(case: tuple[Step, dict[str, object]]) -> str:
    step, options = case
    return step.name + "".join(f"-{key}={value}" for key, value in sorted(options.items()))


def _tables_read(tree: exp.Expression) -> set[str]:
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    return {table.name for table in tree.find_all(exp.Table) if table.name not in ctes}


@pytest.mark.parametrize("case", _variants(), ids=_id)
def test_every_step_transpiles_to_spark_sql(case: tuple[Step, dict[str, object]]) -> None:
    step, options = case
    sql = step.sql(**options)
    tree = sqlglot.parse_one(sql, read="duckdb")
    # it reads its declared inputs and nothing else: no file, no table of an engine's own
    assert _tables_read(tree) == {item.name for item in step.inputs}, step.name
    (spark,) = sqlglot.transpile(
        sql, read="duckdb", write="spark", unsupported_level=ErrorLevel.RAISE
    )
    spark_tree = sqlglot.parse_one(spark, read="spark")
    assert _tables_read(spark_tree) == {item.name for item in step.inputs}
    # the parameters are Spark's named markers, the same names
    markers = {p.name for p in spark_tree.find_all(exp.Placeholder)}
    assert markers == step.parameters(**options)


def test_the_steps_are_named_once_and_every_sql_file_is_a_step() -> None:
    names = [step.name for step in STEPS]
    assert len(names) == len(set(names))
    assert {"rollups.counts", "rollups.countries"} <= set(names)
    used = set()
    for step in SQL_STEPS:
        for options in step.variants:
            step.sql(**options)
        build = step.build.__qualname__
        if build.startswith("sql_file("):
            package, name = (part.strip(" '\")") for part in build[9:].split(","))
            used.add(SRC.joinpath(*package.split(".")[1:], f"{name}.sql"))
    assert set(SRC.rglob("*.sql")) == used


def test_every_transform_names_a_function_of_the_inputs_it_declares() -> None:
    for transform in TRANSFORMS:
        module, attribute = transform.function.split(":")
        function = getattr(importlib.import_module(module), attribute)
        assert callable(function), transform.name
        for column in transform.partition_by:
            assert any(column in item.schema.names for item in transform.inputs), column


FUNCTIONS = sorted(
    {function for step in SQL_STEPS for function in step.functions}, key=lambda f: f.name
)
#: Functions both DuckDB and Spark have by these names, that SQLGlot passes through as they are
#: (``hash``: another hash on Spark, but the steps only need equal keys to hash alike).
SHARED_FUNCTIONS = {"hash"}
#: Functions of DuckDB's that SQLGlot passes to Spark as they are, which Spark lacks: the stage
#: 0 parsers' (docs/architecture.md, "The pipeline's steps"). A Spark engine must define them
#: or the steps must say them otherwise; a new one is a deliberate change of this list.
DUCKDB_ONLY = {"epoch_us", "prefix", "suffix", "try_strptime"}


@pytest.mark.parametrize("function", FUNCTIONS, ids=lambda function: function.name)
def test_every_declared_function_transpiles_to_spark_sql(function: Function) -> None:
    # what a Spark engine defines: CREATE TEMPORARY FUNCTION name(s STRING) RETURN <this>
    tree = sqlglot.parse_one(f"SELECT {function.sql()}", read="duckdb")
    assert {column.name for column in tree.find_all(exp.Column)} <= set(function.parameters)
    (spark,) = sqlglot.transpile(
        f"SELECT {function.sql()}", read="duckdb", write="spark", unsupported_level=ErrorLevel.RAISE
    )
    sqlglot.parse_one(spark, read="spark")


@pytest.mark.parametrize("case", _variants(), ids=_id)
def test_the_functions_a_step_calls_are_declared_or_shared(
    case: tuple[Step, dict[str, object]],
) -> None:
    step, options = case
    called = {
        call.name.lower()
        for call in sqlglot.parse_one(step.sql(**options), read="duckdb").find_all(exp.Anonymous)
    }
    declared = {function.name for function in step.functions}
    assert declared <= called, step.name
    assert called <= declared | SHARED_FUNCTIONS | DUCKDB_ONLY, step.name
    if step.name.split(".")[0] != "ingest":
        assert called <= declared | SHARED_FUNCTIONS, step.name


def test_the_classify_steps_yield_the_columns_their_users_take() -> None:
    imported = sqlglot.parse_one(IMPORTED_ACTIONS_STEP.sql(), read="duckdb").named_selects
    assert tuple(imported) == ACTIONS.columns
    sorted_requests = sqlglot.parse_one(SORTED_REQUESTS_STEP.sql(), read="duckdb")
    inner = sorted_requests.find(exp.Subquery)
    assert inner is not None
    union = inner.this
    assert isinstance(union, exp.Union)
    while isinstance(union, exp.Union):  # every branch: the same columns, in the same order
        assert union.expression.named_selects == SORTED_REQUESTS.names[:-1]
        union = union.this
    assert union.named_selects == SORTED_REQUESTS.names[:-1]


@pytest.mark.parametrize("step", [COUNTS, COUNTRIES, BREAKDOWNS], ids=lambda step: step.name)
def test_each_kind_column_counts_the_actions_of_its_kind(step: Step) -> None:
    # `count(*) FILTER (WHERE action = '<kind>') AS <kind>`: the SQL spells the ActionKind
    # values, so a misspelt one would count nothing without failing anything else
    counted = {}
    for alias in sqlglot.parse_one(step.sql(), read="duckdb").find_all(exp.Alias):
        condition = alias.find(exp.Filter)
        if condition is None or alias.alias not in ACTION_KINDS:
            continue
        equal = condition.find(exp.EQ)
        assert equal is not None and equal.left.name == "action", alias.alias
        counted[alias.alias] = equal.right.this
    assert counted == {kind: kind for kind in ACTION_KINDS}


@pytest.mark.parametrize("step", [COUNTS, COUNTRIES], ids=lambda step: step.name)
def test_the_rollup_steps_count_every_action_kind(step: Step) -> None:
    columns = sqlglot.parse_one(step.sql(), read="duckdb").named_selects
    # the pull rollups also count users (after unique_ip_count)
    users = ["unique_authenticated_users", "unique_unauthenticated_users"] if step is COUNTS else []
    counts = columns[: len(columns) - len(users)]
    assert counts[-4:] == [*ACTION_KINDS, "unique_ip_count"]
    assert columns[len(counts) :] == users


def test_the_breakdowns_count_every_action_kind_and_no_distinct_ips() -> None:
    # summed over ranges by the dashboard, where a distinct count cannot be added
    columns = sqlglot.parse_one(BREAKDOWNS.sql(), read="duckdb").named_selects
    assert columns[-3:] == list(ACTION_KINDS)
    assert "unique_ip_count" not in columns


def test_the_engine_binds_files_tables_and_empty_inputs(tmp_path: Path) -> None:
    engine = DuckDBEngine(Settings(data_dir=tmp_path))
    a, b = b"\x01" * 16, b"\x02" * 16
    day = date(2026, 1, 5)
    rows = [
        dict(namespace="acme", repository="api", reference="1.0", action="pull_by_tag", ip_hash=a),
        dict(namespace="acme", repository="api", reference="1.0", action="pull_by_tag", ip_hash=b),
        dict(namespace="acme", repository="web", reference="2", action="version_check", ip_hash=a),
    ]
    for row in rows:
        row["action_day"] = day
    files = []
    for n, row in enumerate(rows):
        files.append(tmp_path / f"part-{n}.parquet")
        pq.write_table(actions_table([row]), files[-1])
    by_files = engine.arrow(COUNTS, {"actions": files, "summaries": []})
    by_table = engine.arrow(COUNTS, {"actions": actions_table(rows), "summaries": []})
    key = [("level", "ascending"), ("repository", "ascending"), ("reference", "ascending")]
    assert by_files.sort_by(key).to_pylist() == by_table.sort_by(key).to_pylist()
    counts = {
        (r["level"], r["repository"]): (r["pull_by_tag"], r["version_check"], r["unique_ip_count"])
        for r in by_files.to_pylist()
    }
    # worked by hand: two tag pulls from two addresses on api, a version check from a on web
    assert counts == {
        ("namespace", ""): (2, 1, 2),
        ("repository", "api"): (2, 0, 2),
        ("repository", "web"): (0, 1, 1),
        ("reference", "api"): (2, 0, 2),
        ("reference", "web"): (0, 1, 1),
    }
    assert engine.arrow(COUNTS, {"actions": [], "summaries": []}).num_rows == 0


def test_the_engine_refuses_a_missing_input_or_parameter(tmp_path: Path) -> None:
    engine = DuckDBEngine(Settings(data_dir=tmp_path))
    with pytest.raises(ValueError, match=r"reads \['actions', 'summaries'\], given \['actions'\]"):
        engine.arrow(COUNTS, {"actions": []})
    step = Step(
        "test.window",
        (Input("rows", pa.schema([("n", pa.int64())])),),
        "rows from $low",
        lambda: "SELECT n FROM rows WHERE n >= $low",
    )
    table = pa.table({"n": [1, 5, 9]})
    assert engine.arrow(step, {"rows": table}, {"low": 5})["n"].to_pylist() == [5, 9]
    with pytest.raises(ValueError, match=r"missing \['low'\], not used \['high'\]"):
        engine.arrow(step, {"rows": table}, {"high": 5})


def test_parameters_become_literals_duckdb_reads_back() -> None:
    assert bind_params("SELECT $a, $b_2", {"a": "it's", "b_2": 3}) == "SELECT 'it''s', 3"
    assert literal(date(2026, 1, 5)) == "DATE '2026-01-05'"
    assert literal(["a", None, True]) == "['a', NULL, TRUE]"
    with pytest.raises(TypeError):
        literal(object())


@pytest.mark.parametrize(
    ("step", "table"),
    [(COUNTS, PullRollup), (COUNTRIES, CountryRollup), (BREAKDOWNS, BreakdownRollup)],
    ids=["pull", "country", "breakdown"],
)
def test_the_rollup_steps_yield_the_rollup_tables_columns(step: Step, table: type) -> None:
    # the catalog's rollup rows are these steps' rows stamped with their period: nothing else
    columns = sqlglot.parse_one(step.sql(), read="duckdb").named_selects
    stored = [column.name for column in table.__table__.columns]
    assert stored == ["period_kind", "period_start", *columns]


def test_the_raw_view_is_the_actions_without_the_address_and_user_hashes_and_ruleset() -> None:
    assert len(RAW_COLUMNS) == len(set(RAW_COLUMNS))
    hidden = {"ip_hash", "user_hash", "ruleset_version"}
    assert set(RAW_COLUMNS) == set(ACTIONS.columns) - hidden


def test_the_lake_transforms_run_without_an_engine() -> None:
    """A Spark engine imports a Transform's module on its workers: stage 1's (address hashing,
    enrichment) must not bring DuckDB along."""
    lake = [step for step in TRANSFORMS if step.name.startswith("lake.")]
    assert {step.name for step in lake} == {
        "lake.hash_ips",
        "lake.hash_users",
        "lake.enrich_addresses",
        "lake.enrich_user_agents",
    }
    modules = sorted({step.function.split(":")[0] for step in lake})
    code = f"import sys, {', '.join(modules)}; sys.exit('duckdb' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_a_file_name_input_tells_copies_of_a_row_apart(tmp_path: Path) -> None:
    """``classify.imported_actions``: a row twice in one file is two actions; the same row in
    two files (the weekly and the monthly export) is not four, nor three."""
    engine = DuckDBEngine(Settings(data_dir=tmp_path))
    row = dict(namespace="acme", repository="api", reference="1", action="pull_by_tag")
    other = dict(row, reference="2")
    files = [tmp_path / "part-week.parquet", tmp_path / "part-month.parquet"]
    pq.write_table(actions_table([row, row, other]), files[0])
    pq.write_table(actions_table([row, row]), files[1])
    result = engine.arrow(IMPORTED_ACTIONS_STEP, {"imported": files})
    assert result.schema.names == list(ACTIONS.columns)
    assert sorted(result["reference"].to_pylist()) == ["1", "1", "2"]
    empty = engine.arrow(IMPORTED_ACTIONS_STEP, {"imported": []})
    assert empty.num_rows == 0 and empty.schema.names == list(ACTIONS.columns)


def test_the_engine_defines_a_steps_functions(tmp_path: Path) -> None:
    engine = DuckDBEngine(Settings(data_dir=tmp_path))
    day = date(2026, 1, 5)
    rows = [
        dict(namespace="acme", repository="api", tag="=1+1", action="pull_by_tag"),
        dict(namespace="other", repository="db", tag="a,b", action="pull_by_tag"),
        dict(namespace="other", repository="web", tag="x", action="pull_by_tag"),
    ]
    for row in rows:
        row["action_day"] = day
        row["timestamp"] = datetime(2026, 1, 5, 12)
    table = actions_table(rows)
    own = engine.arrow(RAW_LINES, {"actions": table}, {"namespace": "acme"})
    (line,) = own["line"].to_pylist()
    assert line.split(",")[5] == "'=1+1" and line.endswith("\r\n")
    params = {"namespace": "acme", "extra_repos": ["other/db"]}
    scoped = engine.arrow(RAW_LINES, {"actions": table}, params, extras=True)
    assert sorted(line.split(",")[2] for line in scoped["line"].to_pylist()) == ["api", "db"]
    assert any('"a,b"' in line for line in scoped["line"].to_pylist())
    rollup = pa.table(
        {
            "level": ["namespace"],
            "namespace": ["acme"],
            "repository": [""],
            "reference": [""],
            **{name: [n] for n, name in enumerate(SUMMARY_LINES.inputs[0].schema.names[4:])},
        },
        schema=SUMMARY_LINES.inputs[0].schema,
    )
    bounds = {"period_start": "2026-01-01T00:00:00Z", "period_end": "2026-01-31T23:59:59Z"}
    (summary,) = engine.arrow(
        SUMMARY_LINES, {"summary_rows": rollup}, bounds, view="namespace-summary"
    )["line"].to_pylist()
    assert summary == "2026-01-01T00:00:00Z,2026-01-31T23:59:59Z,acme,0,1,2,3\r\n"


def steps_table() -> str:
    """The table of docs/architecture.md's "The pipeline's steps": every step, in order."""
    rows = ["| step | kind | reads | one row of its result |", "|---|---|---|---|"]
    for step in STEPS:
        kind = "SQL" if isinstance(step, Step) else f"function `{step.function}`"
        reads = ", ".join(f"`{item.name}`" for item in step.inputs)
        output = step.output.replace("|", "\\|")
        rows.append(f"| `{step.name}` | {kind} | {reads} | {output} |")
    return "\n".join(rows) + "\n"


def test_the_architecture_lists_every_step() -> None:
    text = (SRC.parent.parent / "docs" / "architecture.md").read_text()
    assert steps_table() in text, "docs/architecture.md should hold:\n" + steps_table()


def test_process_and_export_are_the_steps_of_their_stages() -> None:
    assert [step.name.split(".")[0] for step in PROCESS_STEPS] == sorted(
        (step.name.split(".")[0] for step in PROCESS_STEPS),
        key=["lake", "classify", "rollups"].index,
    )
    assert {step.name.split(".")[0] for step in INGEST_STEPS} == {"ingest"}
    assert {step.name.split(".")[0] for step in EXPORT_STEPS} == {"exports"}
    assert (*INGEST_STEPS, *PROCESS_STEPS, *EXPORT_STEPS) == STEPS
