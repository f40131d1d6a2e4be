"""The one SQL string-literal rule: a single quote doubled, the whole value between quotes."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pullstats.duckdb_engine import connect, read_parquet
from pullstats.sql_literals import sql_list, sql_text
from tests.conftest import catalog_settings


def test_a_quote_is_doubled() -> None:
    assert sql_text("it's") == "'it''s'"
    assert sql_text("''") == "''''''"
    assert sql_text(Path("/data/o'brien/x.parquet")) == "'/data/o''brien/x.parquet'"
    assert sql_list(["a", "b'c"]) == "['a', 'b''c']"
    assert sql_list([]) == "[]"


@pytest.mark.parametrize(
    "value",
    ["", "plain", "it's", "'; DROP TABLE t; --", "back\\slash", "line\nbreak", "é ✓ 漢", "''''"],
)
def test_duckdb_reads_back_the_value(value: str) -> None:
    connection = duckdb.connect(":memory:")
    assert connection.execute(f"SELECT {sql_text(value)}").fetchall() == [(value,)]
    assert connection.execute(f"SELECT {sql_list([value, value])}").fetchall() == [
        ([value, value],)
    ]


def test_a_parquet_file_whose_path_holds_a_quote_is_read(tmp_path: Path) -> None:
    folder = tmp_path / "o'brien"
    folder.mkdir()
    pq.write_table(pa.table({"n": [1, 2, 3]}), folder / "part-'1'.parquet")
    settings = catalog_settings(tmp_path / "data")
    connection = connect(settings)
    source = read_parquet([folder / "part-'1'.parquet"])
    assert connection.execute(f"SELECT sum(n) FROM {source}").fetchall() == [(6,)]
