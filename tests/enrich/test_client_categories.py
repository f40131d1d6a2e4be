"""Client categories and inferred use cases against tests/fixtures/client_categories/cases.yaml,
in Python and in the SQL twin a pipeline step would run (DuckDB), on the same table of cases."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
import yaml

from pullstats.client_categories import (
    CATEGORIES,
    USE_CASE_OF_TOOL,
    ClientCategory,
    UseCase,
    category_of,
    category_sql,
    use_case_of,
    use_case_sql,
)
from tests.enrich.test_user_agent import FIXTURES as USER_AGENTS
from tests.enrich.test_user_agent import load_cases

CASES = yaml.safe_load(
    (
        Path(__file__).resolve().parents[1] / "fixtures" / "client_categories" / "cases.yaml"
    ).read_text(encoding="utf-8")
)
CATEGORY_CASES = [(c["tool"], c["category"]) for c in CASES["categories"]]
USE_CASE_CASES = [(c["tool"], c["cloud"], c["use_case"]) for c in CASES["use_cases"]]


@pytest.mark.parametrize(("tool", "category"), CATEGORY_CASES)
def test_each_tool_has_its_category(tool: str, category: str) -> None:
    assert category_of(tool) == ClientCategory(category)


@pytest.mark.parametrize(("tool", "cloud", "use_case"), USE_CASE_CASES)
def test_each_case_has_its_use_case(tool: str, cloud: str, use_case: str) -> None:
    assert use_case_of(tool, cloud) == UseCase(use_case)


def test_every_parsed_tool_and_every_table_entry_is_a_case() -> None:
    # a new user-agent parser without a category (or a category nobody wrote a case for) fails
    listed = {tool for tool, _ in CATEGORY_CASES}
    parsed = {case.tool for path in USER_AGENTS.glob("*.yaml") for case in load_cases(path)}
    assert parsed | set(CASES["reported"]) == listed, sorted(
        (parsed | set(CASES["reported"])) ^ listed
    )
    assert set(CATEGORIES) <= listed, sorted(set(CATEGORIES) - listed)
    with_use_case = {tool for tool, _, _ in USE_CASE_CASES}
    assert set(USE_CASE_OF_TOOL) <= with_use_case
    # every category and every use case is reached by some case
    assert {ClientCategory(c) for _, c in CATEGORY_CASES} == set(ClientCategory)
    assert {UseCase(u) for _, _, u in USE_CASE_CASES} == set(UseCase)


def test_the_sql_twins_agree_with_the_functions_on_every_case() -> None:
    rows = [(tool, cloud) for tool, _ in CATEGORY_CASES for cloud in ("", "aws")]
    rows += [(tool, cloud) for tool, cloud, _ in USE_CASE_CASES]
    rows += [(None, None), ("a tool nobody knows", "")]  # NULL and unknown: "unknown"
    table = pa.table(
        {"tool": [t for t, _ in rows], "host": [h for _, h in rows]},
        schema=pa.schema([("tool", pa.string()), ("host", pa.string())]),
    )
    with duckdb.connect() as connection:
        connection.register("pulls", table)
        found = connection.execute(
            f"SELECT tool, host, {category_sql('tool')}, {use_case_sql('tool', 'host')} FROM pulls"
        ).fetchall()
    assert found == [
        (tool, host, category_of(tool or ""), use_case_of(tool or "", host or ""))
        for tool, host in rows
    ]
