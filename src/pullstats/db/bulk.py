"""Many rows into one catalog table at once: the rollups' rows, hundreds of thousands a month.

The ORM's bulk insert spends about 20 µs a row in Python, most of a ``process`` run's time once
the trends rollup keeps its groupings. Here the rows go to the driver as they are: PostgreSQL
``COPY``, and the driver's ``executemany`` elsewhere (SQLite). They are given column by column
(a rollup step's Arrow columns as lists) and the period once, so a value is converted per
column where it must be, and the rows are made by ``zip``, in C. The values are plain
strings, integers and dates; a column's type converts them only where the driver would not,
and a date goes to SQLite as its ISO text, as SQLAlchemy's ``Date`` keeps it there (not
through the driver's own date adapter: deprecated since Python 3.12, and a call per row).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy import Date, Dialect, Table
from sqlalchemy.orm import Session


def insert_columns(
    session: Session,
    table: Table,
    columns: Mapping[str, Sequence[Any]],
    fixed: Mapping[str, Any] | None = None,
) -> None:
    """Insert the rows whose values are ``columns``' (each the same length) into ``table``,
    within the session's transaction; ``fixed``: columns with one value for every row."""
    lengths = {len(values) for values in columns.values()}
    if len(lengths) > 1:
        raise ValueError(f"columns of different lengths for {table.name}: {sorted(lengths)}")
    count = lengths.pop() if lengths else 0
    if count == 0:
        return
    connection = session.connection()
    dialect = connection.dialect
    fixed = fixed or {}
    quote = dialect.identifier_preparer.quote
    names = ", ".join(quote(column) for column in (*fixed, *columns))
    target = quote(table.name)
    if dialect.name == "postgresql":
        given = [*([value] * count for value in fixed.values()), *columns.values()]
        driver = connection.connection.driver_connection
        statement = f"COPY {target} ({names}) FROM STDIN"
        with driver.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[union-attr]
            for row in zip(*given, strict=True):
                copy.write_row(row)
        return
    bound = [  # a fixed column's one value converted once
        *([_bound(table, dialect, name, [value])[0]] * count for name, value in fixed.items()),
        *(_bound(table, dialect, name, values) for name, values in columns.items()),
    ]
    marks = ", ".join(["?" if dialect.paramstyle == "qmark" else "%s"] * len(bound))
    connection.exec_driver_sql(
        f"INSERT INTO {target} ({names}) VALUES ({marks})", list(zip(*bound, strict=True))
    )


def _bound(table: Table, dialect: Dialect, name: str, values: Sequence[Any]) -> Sequence[Any]:
    """``values`` as the driver takes them for column ``name``."""
    column_type = table.c[name].type
    process = column_type.bind_processor(dialect)
    if process is None and isinstance(column_type, Date) and dialect.name == "sqlite":
        process = _iso_date
    return values if process is None else [process(value) for value in values]


def _iso_date(value: date | None) -> str | None:
    return None if value is None else value.isoformat()
