"""DuckDB for batch jobs: connections (always in memory, over Parquet, with bounded resources)
and the engine that runs the pipeline's steps (:mod:`pullstats.steps`) on them."""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TypeAlias

import duckdb
import pyarrow as pa

from pullstats.config import Settings
from pullstats.setting_values import SettingRefused
from pullstats.sql_literals import sql_list
from pullstats.steps import Function, Step, bind_params


def connect(settings: Settings) -> duckdb.DuckDBPyConnection:
    """A connection to this process's in-memory DuckDB database for ``settings`` (never a
    database file: that would lock out readers).

    Opening a DuckDB database costs tens of milliseconds (its catalog of functions is built
    each time), and a job opens several; so the database is opened once per process and
    configuration, and each caller gets a connection of its own to it (``cursor()``: a
    fraction of a millisecond). Everything the pipeline makes on a connection is temporary
    (tables, views, macros, registered Arrow tables): it is that connection's own and is gone
    when the connection closes, so callers side by side never see one another's."""
    connection = _database(settings).cursor()
    connection.execute("SET TimeZone = 'UTC'")
    # DuckDB draws its own progress bar on long queries, into our command's output
    connection.execute("SET enable_progress_bar = false")
    return connection


#: the process's database, with the configuration it was opened with and the process id
_opened: tuple[tuple[object, ...], int, duckdb.DuckDBPyConnection] | None = None
_opening = threading.Lock()
#: databases inherited through fork(): never closed in the child (their threads are the
#: parent's), never used
_inherited: list[duckdb.DuckDBPyConnection] = []


def _database(settings: Settings) -> duckdb.DuckDBPyConnection:
    global _opened
    filesystem = next(
        (store.filesystem for store in (settings.lake, settings.exports_store)
         if store.filesystem is not None),
        None,
    )  # fmt: skip
    key = (
        int(settings.duckdb_threads),
        settings.duckdb_memory_limit,
        str(settings.paths.tmp / "duckdb"),
        id(filesystem) if filesystem is not None else None,
    )
    with _opening:
        if _opened is not None and _opened[1] != os.getpid():
            _inherited.append(_opened[2])
            _opened = None
        if _opened is None or _opened[0] != key:
            # a database opened with other settings stays open while connections to it do
            _opened = (key, os.getpid(), _open(settings, filesystem))
        return _opened[2]


def _open(settings: Settings, filesystem: object) -> duckdb.DuckDBPyConnection:
    database = duckdb.connect(":memory:")
    # the database's own settings: they can't change once a query has spilled to disk
    database.execute(f"SET threads = {int(settings.duckdb_threads)}")
    try:
        _set_memory_limit(database, settings)
    except SettingRefused:
        database.close()
        raise
    database.execute("SET temp_directory = ?", [str(settings.paths.tmp / "duckdb")])
    database.execute("SET preserve_insertion_order = false")
    # the lake and the exports on object storage: read through s3fs (DuckDB's own httpfs
    # extension is a download away; fsspec's filesystem is in the Python process already);
    # one s3 filesystem serves every bucket
    if filesystem is not None:
        database.register_filesystem(filesystem)
    return database


def _set_memory_limit(database: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    try:
        database.execute("SET memory_limit = ?", [settings.duckdb_memory_limit])
    except duckdb.Error as error:  # DuckDB's own grammar ('1.5GB', '80%', …) decides
        reason = str(error).splitlines()[0].split("Error: ", 1)[-1]
        raise SettingRefused(
            "PULLSTATS_DUCKDB_MEMORY_LIMIT", settings.duckdb_memory_limit, f"DuckDB: {reason}"
        ) from None


def check_settings(settings: Settings) -> None:
    """:class:`~pullstats.setting_values.SettingRefused` unless DuckDB takes the settings'
    memory limit: for a server, whose scheduled jobs open DuckDB in children, to refuse it at
    start. A database of its own, closed again (the process's stays unopened)."""
    with duckdb.connect(":memory:") as database:
        _set_memory_limit(database, settings)


def read_parquet(paths: Sequence[Path | str], *, filename: bool = False) -> str:
    """A FROM item reading the lake's Parquet ``paths`` (local paths or ``s3://`` locations
    of :meth:`pullstats.storage.Store.location`; their ``day=`` folders are not columns;
    ``filename``: a ``filename`` column names each row's file)."""
    named = ", filename = true" if filename else ""
    return f"read_parquet({sql_list(paths)}, hive_partitioning = false{named})"


def define(connection: duckdb.DuckDBPyConnection, functions: Sequence[Function]) -> None:
    """Define ``functions`` on ``connection`` as temporary macros (each connection's own, so
    cursors running steps side by side never replace one another's)."""
    for function in functions:
        parameters = ", ".join(function.parameters)
        connection.execute(
            f"CREATE OR REPLACE TEMP MACRO {function.name}({parameters}) AS {function.sql()}"
        )


def count_rows(connection: duckdb.DuckDBPyConnection, table: str) -> int:
    # fetchall, not fetchone: DuckDB keeps a result open until a fetch comes back empty
    return int(connection.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])


#: What an engine binds a step's input to: Parquet files of the lake, as paths or store
#: locations (none: an empty relation of the input's schema), an Arrow table, or the name of
#: a table or view on the connection (the input's own name: that relation is the input as it
#: is).
Source: TypeAlias = "Sequence[Path | str] | pa.Table | str"


class DuckDBEngine:
    """Runs :class:`~pullstats.steps.Step` queries on DuckDB connections (:func:`connect`).

    Inputs are bound as temporary views named as the step's SQL names them, so DuckDB plans
    the step as if the files were written into it (filters still reach the Parquet reader); a
    table or view already on the connection under the input's own name is read as it is.
    """

    def __init__(self, settings: Settings | None = None) -> None:
        """Without ``settings`` the engine runs steps only on connections it is given."""
        self.settings = settings
        # the functions defined on each connection it ran a step on (a definition parses the
        # whole expression: the export cells' one is a millisecond, per query otherwise)
        self._defined: weakref.WeakKeyDictionary[duckdb.DuckDBPyConnection, set[Function]] = (
            weakref.WeakKeyDictionary()
        )

    def connect(self) -> duckdb.DuckDBPyConnection:
        if self.settings is None:
            raise ValueError("an engine without settings opens no connection of its own")
        return connect(self.settings)

    def relation(
        self,
        connection: duckdb.DuckDBPyConnection,
        step: Step,
        inputs: Mapping[str, Source],
        params: Mapping[str, object] | None = None,
        **options: object,
    ) -> duckdb.DuckDBPyRelation:
        """``step``'s result on ``connection``, its inputs bound and its functions defined
        there first."""
        return connection.sql(self.statement(connection, step, inputs, params, **options))

    def statement(
        self,
        connection: duckdb.DuckDBPyConnection,
        step: Step,
        inputs: Mapping[str, Source],
        params: Mapping[str, object] | None = None,
        **options: object,
    ) -> str:
        """``step``'s SQL with its parameters bound, its inputs bound and its functions defined
        on ``connection`` first: for a statement around it (``CREATE TABLE … AS``, ``COPY (…)
        TO``, ``UPDATE … FROM``)."""
        self.bind(connection, step, inputs)
        defined = self._defined.setdefault(connection, set())
        define(connection, [function for function in step.functions if function not in defined])
        defined.update(step.functions)
        return bind_params(step.sql(**options), params or {})

    def create_table(
        self,
        connection: duckdb.DuckDBPyConnection,
        name: str,
        step: Step,
        inputs: Mapping[str, Source],
        params: Mapping[str, object] | None = None,
        **options: object,
    ) -> None:
        """Replace the temporary table ``name`` on ``connection`` with ``step``'s rows."""
        sql = self.statement(connection, step, inputs, params, **options)
        connection.execute(f"CREATE OR REPLACE TEMP TABLE {_identifier(name)} AS {sql}")

    def arrow(
        self,
        step: Step,
        inputs: Mapping[str, Source],
        params: Mapping[str, object] | None = None,
        **options: object,
    ) -> pa.Table:
        """``step``'s whole result, on a connection of its own."""
        connection = self.connect()
        try:
            return self.relation(connection, step, inputs, params, **options).to_arrow_table()
        finally:
            connection.close()

    def bind(
        self, connection: duckdb.DuckDBPyConnection, step: Step, inputs: Mapping[str, Source]
    ) -> None:
        """Bind every input of ``step`` (each must be given) as a view on ``connection``."""
        names = {item.name for item in step.inputs}
        if set(inputs) != names:
            raise ValueError(f"step {step.name} reads {sorted(names)}, given {sorted(inputs)}")
        for item in step.inputs:
            source = inputs[item.name]
            view = _identifier(item.name)
            if isinstance(source, str) and source == item.name:
                continue  # a table or view of the input's own name: bound already
            if isinstance(source, str):
                body = f"FROM {_identifier(source)}"
            elif isinstance(source, pa.Table):
                connection.register(f"{item.name}__arrow", source)
                body = f"FROM {_identifier(item.name + '__arrow')}"
            elif source:
                body = f"FROM {read_parquet(list(source), filename=item.filename)}"
            else:
                schema = item.schema
                if item.filename:
                    schema = schema.append(pa.field("filename", pa.string()))
                connection.register(f"{item.name}__arrow", schema.empty_table())
                body = f"FROM {_identifier(item.name + '__arrow')}"
            connection.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS {body}")


def own_tables(step: Step) -> dict[str, Source]:
    """Each input of ``step`` bound to the connection's table or view of its own name."""
    return {item.name: item.name for item in step.inputs}


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
