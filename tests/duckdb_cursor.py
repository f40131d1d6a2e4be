"""One in-memory DuckDB database per test process, for tests that query DuckDB many times.

Opening a DuckDB database builds its catalog of functions: 20 ms on a quiet machine and over
100 ms on a loaded one, more than the query of a property test's example. Each
:func:`duckdb_cursor` is a connection of its own to the one database (``cursor()``, a fraction
of a millisecond), closed after use: what a test registers on it (``register``) and its temporary
tables are that connection's own, so examples never see each other's.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import duckdb


@cache
def _database() -> duckdb.DuckDBPyConnection:
    return duckdb.connect(":memory:")


@contextmanager
def duckdb_cursor() -> Iterator[duckdb.DuckDBPyConnection]:
    """A new connection to this process's test database, closed when the block ends."""
    connection = _database().cursor()
    try:
        yield connection
    finally:
        connection.close()
