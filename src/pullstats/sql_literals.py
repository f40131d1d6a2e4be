"""SQL string literals, the one place text is quoted into a DuckDB statement.

For values that cannot be bound as parameters: file paths in ``read_parquet`` and ``COPY … TO``,
and values inside generated SQL text. A single quote is doubled; nothing else needs escaping in
a standard SQL string literal. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


def sql_text(value: str | Path) -> str:
    """``value`` as a quoted SQL string literal: ``it's`` → ``'it''s'``."""
    return "'" + str(value).replace("'", "''") + "'"


def sql_list(values: Iterable[str | Path]) -> str:
    """A DuckDB list literal of quoted strings (file paths, names)."""
    return "[" + ", ".join(sql_text(value) for value in values) + "]"
