"""DuckDB connections for batch jobs: always in memory, over Parquet, with bounded resources."""

from __future__ import annotations

from pathlib import Path

import duckdb

from pullstats.config import Settings
from pullstats.sql_literals import sql_list


def connect(settings: Settings) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection (never a database file: that would lock out readers)."""
    connection = duckdb.connect(":memory:")
    connection.execute(f"SET threads = {int(settings.duckdb_threads)}")
    connection.execute("SET memory_limit = ?", [settings.duckdb_memory_limit])
    connection.execute("SET temp_directory = ?", [str(settings.paths.tmp / "duckdb")])
    connection.execute("SET TimeZone = 'UTC'")
    connection.execute("SET preserve_insertion_order = false")
    # DuckDB draws its own progress bar on long queries, into our command's output
    connection.execute("SET enable_progress_bar = false")
    return connection


def read_parquet(paths: list[Path]) -> str:
    """A FROM item reading the lake's Parquet ``paths`` (their ``day=`` folders are not columns)."""
    return f"read_parquet({sql_list(paths)}, hive_partitioning = false)"


def count_rows(connection: duckdb.DuckDBPyConnection, table: str) -> int:
    # fetchall, not fetchone: DuckDB keeps a result open until a fetch comes back empty
    return int(connection.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])
