"""The pipeline's steps, declared once and run by an engine: named SQL over named relations.

A :class:`Step` is what one query of the data path computes: the relations it reads (by name,
each with its Arrow schema), what one row of its result is, and its SQL in DuckDB's dialect,
from a ``.sql`` file beside the stage's ``steps.py`` or built by a pure function of a few
options where the shape varies (a file kind's columns, a log format). The SQL never names a
file, a connection or an engine: an engine binds each input to what it is given (Parquet
files, an Arrow table, a table it holds) and each ``$name`` parameter to a value.
``duckdb_engine.DuckDBEngine`` is the engine ``process`` and ``export`` run on; a Spark engine
runs the same text transpiled by SQLGlot (``tests/test_steps.py`` transpiles every step to
Spark SQL). Step definitions import neither DuckDB nor an engine (an import contract checks).
A scalar function of the step's own that its SQL calls is declared with it (:class:`Function`),
for the engine to define. What SQL does not say well is a :class:`Transform`, a named function
over Arrow tables.

Pure: no I/O but reading the package's own ``.sql`` files.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from pullstats.sql_literals import sql_text

# pa.Schema appears in annotations only: a user of the steps that reads no data (the client,
# through the export views) imports no pyarrow
if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["Function", "Input", "Step", "Transform", "bind_params", "literal", "sql_file"]

#: ``$name``: a value the engine binds (DuckDB's spelling; SQLGlot writes Spark's ``:name``).
PARAMETER = re.compile(r"\$([a-z_][a-z0-9_]*)\b")


@dataclass(frozen=True)
class Input:
    """A relation a step reads, by the name its SQL uses, with the columns it has (an empty
    input is bound as an empty relation of this schema)."""

    name: str
    schema: pa.Schema
    #: rows also carry ``filename``, the file each came from, when bound to files (what tells
    #: the same row in two files apart; DuckDB: ``read_parquet(…, filename = true)``, Spark:
    #: ``input_file_name()``)
    filename: bool = False


@dataclass(frozen=True)
class Function:
    """A scalar SQL function a step calls that engines do not have: ``name(parameters)`` is
    the expression ``build()`` returns (DuckDB dialect, over the parameters only). An engine
    defines it before running the step (DuckDB: a macro; Spark: ``CREATE TEMPORARY FUNCTION
    … RETURN`` of the expression transpiled, which ``tests/test_steps.py`` does)."""

    name: str
    parameters: tuple[str, ...]
    build: Callable[[], str]

    def sql(self) -> str:
        return self.build()


@dataclass(frozen=True)
class Step:
    """One named query of the pipeline."""

    #: ``stage.what``, e.g. ``rollups.counts``
    name: str
    inputs: tuple[Input, ...]
    #: what one row of the result is
    output: str
    #: the SQL (DuckDB dialect) for the given options
    build: Callable[..., str]
    #: options that, rendered one by one, cover every shape of the SQL (the transpile test)
    variants: tuple[Mapping[str, object], ...] = field(default=({},))
    #: the functions of its own the SQL calls (:class:`Function`)
    functions: tuple[Function, ...] = ()

    def sql(self, **options: object) -> str:
        return self.build(**options)

    def input(self, name: str) -> Input:
        for item in self.inputs:
            if item.name == name:
                return item
        raise KeyError(f"step {self.name} has no input {name!r}")

    def parameters(self, **options: object) -> set[str]:
        """The ``$name`` parameters the SQL for ``options`` takes."""
        return set(PARAMETER.findall(self.sql(**options)))


@dataclass(frozen=True)
class Transform:
    """A step that is a function over Arrow tables rather than SQL (grouping requests into
    actions, enrichment, address hashing): what no SQL dialect says as well.

    ``function`` names it as ``module:attribute`` and is not imported here (the steps know no
    stage's code); an engine runs it on Arrow batches (DuckDB: in process; Spark:
    ``mapInArrow`` over the partitions its ``partition_by`` columns make).
    """

    name: str
    inputs: tuple[Input, ...]
    output: str
    function: str
    #: rows that must meet in one call (a client's requests), if any
    partition_by: tuple[str, ...] = ()
    #: the order the rows of one ``partition_by`` key reach the function in (an engine that
    #: partitions the input sorts each key's rows so; DuckDB's caller hands them sorted)
    order_by: tuple[str, ...] = ()


def sql_file(package: str, name: str) -> Callable[..., str]:
    """A step's SQL from ``<name>.sql`` in ``package`` (read once, when first built)."""

    def build() -> str:
        return _read_sql(package, name)

    build.__qualname__ = build.__name__ = f"sql_file({package!r}, {name!r})"
    return build


@cache
def _read_sql(package: str, name: str) -> str:
    return (resources.files(package) / f"{name}.sql").read_text(encoding="utf-8")


def literal(value: object) -> str:
    """A parameter value as a DuckDB literal (how :class:`DuckDBEngine` binds parameters; Spark
    binds them natively, ``spark.sql(text, args)``)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime):
        return f"TIMESTAMP {sql_text(value.isoformat(sep=' '))}"
    if isinstance(value, date):
        return f"DATE {sql_text(value.isoformat())}"
    if isinstance(value, str | Path):
        return sql_text(value)
    if isinstance(value, tuple | list):
        return "[" + ", ".join(literal(item) for item in value) + "]"
    raise TypeError(f"no SQL literal for {type(value).__name__}")


def bind_params(sql: str, params: Mapping[str, object]) -> str:
    """``sql`` with every ``$name`` replaced by ``params[name]`` as a literal; a parameter the
    SQL takes and ``params`` lacks, or one given and never used, is a ValueError."""
    wanted = set(PARAMETER.findall(sql))
    if wanted != set(params):
        missing, unused = sorted(wanted - set(params)), sorted(set(params) - wanted)
        raise ValueError(f"parameters missing {missing}, not used {unused}")
    return PARAMETER.sub(lambda match: literal(params[match.group(1)]), sql)
