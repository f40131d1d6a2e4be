"""Many rows into one catalog table at once: the rollups' rows, hundreds of thousands a month.

The ORM's bulk insert spends about 20 µs a row in Python, most of a ``process`` run's time once
the trends rollup keeps its groupings. Here the rows go to the driver as they are: PostgreSQL
``COPY``, and the driver's ``executemany`` elsewhere (SQLite). The values are plain strings,
integers and dates; a column's type converts a value only where the driver would not (SQLite
keeps a date as its ISO text, as SQLAlchemy's ``Date`` does).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.orm import Session


def insert_rows(
    session: Session, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """Insert ``rows`` (values in ``columns``' order) into ``table`` within the session's
    transaction."""
    connection = session.connection()
    dialect = connection.dialect
    quote = dialect.identifier_preparer.quote
    names = ", ".join(quote(column) for column in columns)
    target = quote(table.name)
    if dialect.name == "postgresql":
        driver = connection.connection.driver_connection
        statement = f"COPY {target} ({names}) FROM STDIN"
        with driver.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[union-attr]
            for row in rows:
                copy.write_row(row)
        return
    processors = [table.c[column].type.bind_processor(dialect) for column in columns]
    converting = [(i, p) for i, p in enumerate(processors) if p is not None]
    if converting:
        rows = (_converted(row, converting) for row in rows)
    marks = ", ".join(["?" if dialect.paramstyle == "qmark" else "%s"] * len(columns))
    batch = list(rows)
    if batch:
        connection.exec_driver_sql(f"INSERT INTO {target} ({names}) VALUES ({marks})", batch)


def _converted(row: Sequence[Any], converting: list[tuple[int, Any]]) -> tuple[Any, ...]:
    values = list(row)
    for index, process in converting:
        values[index] = process(values[index])
    return tuple(values)
