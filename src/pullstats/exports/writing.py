"""Writing one (namespace, period)'s views and reports: DuckDB formats, ISA-L compresses.

One thread runs the queries and hands their record batches of CSV lines over a queue bounded
in bytes; the calling thread splits them into parts and feeds the compressor's threads. So
DuckDB sorts and formats the next day while the previous one is compressed, and neither the
period nor a whole file is ever held in memory.

The summaries, and Docker's Summary report (:mod:`pullstats.exports.reports`), are the period's
rollups (``pull_rollups``, what the API serves) of the keys in scope, so a summary CSV and the
API cannot differ. Only one kind of row is not a rollup: the
namespace row of an extra repo's own namespace, which counts that namespace's repositories in
the export, not all of them; it is counted from the period's actions by the rollups' query.
The raw view is queried a run of days at a time, each run sorted on its own: that is the order
of sorting the whole period, because all of a day's actions fall on that day. The queries are
the steps of :mod:`pullstats.exports.steps`, run by :class:`DuckDBEngine`.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from pullstats.config import Settings
from pullstats.duckdb_engine import DuckDBEngine, Source, connect
from pullstats.exports.files import Compressor, WrittenPart, part_file_name
from pullstats.exports.parts import PartWriter
from pullstats.exports.reports import ExportKind, ReportFile, file_header, report_params
from pullstats.exports.steps import (
    CO_USAGE_LINES,
    CORE_SUMMARY_LINES,
    CORE_TRENDS_LINES,
    EXTRA_ACTIONS,
    RAW_LINES,
    ROLLUP_ROWS,
    SUMMARY_LINES,
    SUMMARY_ROWS,
)
from pullstats.exports.views import Dataview
from pullstats.namespace_scope import NamespaceScope
from pullstats.periods import Period
from pullstats.rollups.steps import COUNTS

#: The columns of the rollup rows a summary view is written from.
ROLLUP_COLUMNS = tuple(ROLLUP_ROWS.names)

#: Lines per record batch fetched from DuckDB (a few MiB of CSV each).
BATCH_ROWS = 16_384
#: Parquet bytes of day files one raw-view query reads at most, past one day per thread.
RAW_QUERY_BYTES = 16 * 1024 * 1024
#: CSV bytes the query thread may run ahead of the compressor.
AHEAD_BYTES = 96 * 1024 * 1024


@dataclass(frozen=True)
class ReportRows:
    """The rollup rows of a period's reports in an export's scope: the trends at the Trends
    report's grain (``exports.steps.TREND_ROWS``) and the co-usage pairs the namespace may see
    (``exports.steps.CO_USAGE_ROWS``)."""

    trends: pa.Table
    co_usage: pa.Table


@dataclass(frozen=True)
class ViewScope:
    """What one namespace's export of one period covers (:class:`NamespaceScope`)."""

    scope: NamespaceScope
    period: Period

    @property
    def namespace(self) -> str:
        return self.scope.namespace

    @property
    def extra_repos(self) -> tuple[str, ...]:
        return self.scope.extra_repos


def write_views(
    settings: Settings,
    scope: ViewScope,
    files: Sequence[Path | str],
    folder: Path,
    rollups: pa.Table,
    reports: ReportRows,
) -> list[tuple[ExportKind, WrittenPart]]:
    """Write every view of ``scope`` into ``folder``, in parts: the raw view from the action
    ``files``, the summaries and the Summary report from the period's ``rollups`` in scope
    (:data:`ROLLUP_COLUMNS`), the Trends and Technographic reports from the ``reports`` rows in
    scope."""
    written: list[tuple[ExportKind, WrittenPart]] = []
    connection = connect(settings)
    try:
        # the extra namespaces' distinct counts run on one core: start them beside the raw view
        with (
            ThreadPoolExecutor(1, thread_name_prefix="export-summaries") as side,
            Compressor(settings.duckdb_threads) as compressor,
        ):
            summaries = side.submit(
                _summary_lines, settings, connection.cursor(), scope, files, rollups, reports
            )
            try:
                written += _write_raw(settings, scope, files, folder, compressor, connection)
            except BaseException:
                connection.interrupt()
                raise
            for view, lines in summaries.result().items():
                writer = view_writer(settings, scope, view, folder, compressor)
                try:
                    for chunk in lines.to_batches(BATCH_ROWS):
                        writer.write_lines(chunk.column(0))
                    written += [(view, part) for part in writer.close()]
                except BaseException:
                    writer.discard()
                    raise
    finally:
        connection.close()
    return written


def _summary_lines(
    settings: Settings,
    cursor: duckdb.DuckDBPyConnection,
    scope: ViewScope,
    files: Sequence[Path | str],
    rollups: pa.Table,
    reports: ReportRows,
) -> dict[ExportKind, pa.Table]:
    """The three summary views' lines and the two reports' (small: a line per reference, or
    per repository, tag, country, cloud and tool, at most).

    The rollup rows are written as they are, except the namespace rows of other namespaces:
    an extra repo's namespace row counts the extra repos' actions only. Docker Hub's imported
    namespace row of that namespace covers its other repositories too, so it is left out
    (``exports.summary_rows``).
    """
    engine = DuckDBEngine(settings)
    try:
        # the three views' input, registered once: the rollups as they are, or with the extra
        # repos' namespace rows
        rows = rollups.select(list(ROLLUP_COLUMNS))
        if scope.extra_repos and files:
            extras = {"extra_repos": list(scope.extra_repos)}
            engine.relation(cursor, EXTRA_ACTIONS, {"period_actions": files}, extras).create_view(
                "scope_extra_actions"
            )
            counted: dict[str, Source] = {"actions": "scope_extra_actions", "summaries": []}
            engine.relation(cursor, COUNTS, counted).create_view("scope_extra_counts")
            inputs: dict[str, Source] = {"rollups": rows, "extra_counts": "scope_extra_counts"}
            params = {"namespace": scope.namespace}
            rows = engine.relation(cursor, SUMMARY_ROWS, inputs, params).to_arrow_table()
        cursor.register("summary_rows", rows)
        bounds = {"period_start": scope.period.start_text, "period_end": scope.period.end_text}
        lines: dict[ExportKind, pa.Table] = {
            view: engine.relation(
                cursor, SUMMARY_LINES, {"summary_rows": "summary_rows"}, bounds, view=view
            ).to_arrow_table()
            for view in Dataview
            if view is not Dataview.RAW
        }
        lines[ReportFile.SUMMARY_REPORT] = engine.relation(
            cursor, CORE_SUMMARY_LINES, {"summary_rows": "summary_rows"}, report_args(scope)
        ).to_arrow_table()
        lines[ReportFile.TRENDS_REPORT] = engine.relation(
            cursor, CORE_TRENDS_LINES, {"trend_rows": reports.trends}, report_args(scope)
        ).to_arrow_table()
        lines[ReportFile.CO_USAGE_REPORT] = engine.relation(
            cursor, CO_USAGE_LINES, {"co_usage_rows": reports.co_usage}, report_args(scope)
        ).to_arrow_table()
        return lines
    finally:
        cursor.close()


def raw_query_groups(
    files: Sequence[Path | str],
    threads: int,
    size_of: Callable[[str], int],
    max_bytes: int = RAW_QUERY_BYTES,
) -> list[list[Path | str]]:
    """The day files in order, cut into runs that one raw-view query each reads and sorts.

    A day file is one row group, read by one thread, so a run holds at least as many days as
    there are threads; beyond that, days are added while the run's files stay under
    ``max_bytes``. Each query costs about 20 ms before it reads a row (planning its cells;
    60 ms before they were one function each), which a month of small days paid sixteen times
    over.
    Runs are consecutive days and each query sorts by time, so the lines come out in the same
    order whatever the cut.
    """
    groups: list[list[Path | str]] = []
    size = 0
    for file in files:
        file_bytes = size_of(str(file))
        if groups and (len(groups[-1]) < threads or size + file_bytes <= max_bytes):
            groups[-1].append(file)
            size += file_bytes
        else:
            groups.append([file])
            size = file_bytes
    return groups


def _write_raw(
    settings: Settings,
    scope: ViewScope,
    files: Sequence[Path | str],
    folder: Path,
    compressor: Compressor,
    connection: duckdb.DuckDBPyConnection,
) -> list[tuple[ExportKind, WrittenPart]]:
    batches = _BatchQueue(AHEAD_BYTES)
    engine = DuckDBEngine(settings)
    params: dict[str, object] = {"namespace": scope.namespace}
    if scope.extra_repos:
        params["extra_repos"] = list(scope.extra_repos)
    extras = bool(scope.extra_repos)

    def query(group: list[Path | str]) -> _Query:
        return lambda cursor: engine.relation(
            cursor, RAW_LINES, {"actions": group}, params, extras=extras
        )

    threads = max(1, settings.duckdb_threads)
    groups = raw_query_groups(files, threads, settings.lake.size_of)
    queries = [query(group) for group in groups]
    producer = threading.Thread(
        target=_produce, args=(connection.cursor(), queries, batches), name="export-raw"
    )
    producer.start()
    writer = view_writer(settings, scope, Dataview.RAW, folder, compressor)
    try:
        for batch in batches:
            writer.write_lines(batch.column(0))
        return [(Dataview.RAW, part) for part in writer.close()]
    except BaseException:
        writer.discard()
        raise
    finally:
        batches.stop()
        producer.join()


def view_writer(
    settings: Settings, scope: ViewScope, view: ExportKind, folder: Path, compressor: Compressor
) -> PartWriter:
    def file_name(part: int) -> str:
        return part_file_name(scope.namespace, view.value, scope.period, part)

    return PartWriter(folder, file_name, file_header(view), settings.export_part_bytes, compressor)


def report_args(scope: ViewScope) -> dict[str, object]:
    """The parameters of ``scope``'s report lines (:func:`reports.report_params`)."""
    period = scope.period
    return report_params(scope.namespace, period.kind.value, period.start.isoformat())


#: A query of the raw view, bound on the query thread's cursor (its inputs are views there).
_Query = Callable[[duckdb.DuckDBPyConnection], duckdb.DuckDBPyRelation]


def _produce(
    cursor: duckdb.DuckDBPyConnection, queries: list[_Query], batches: _BatchQueue
) -> None:
    """The query thread: every query's batches in order, then the end (or the error)."""
    try:
        try:
            for query in queries:
                for batch in _run(cursor, query):
                    batches.put(batch)
        finally:
            cursor.close()
    except _Stopped:
        return
    except BaseException as error:  # handed to the writing thread, which raises it
        batches.fail(error)
        return
    batches.finish()


def _run(connection: duckdb.DuckDBPyConnection, query: _Query) -> Iterator[pa.RecordBatch]:
    reader = query(connection).to_arrow_reader(BATCH_ROWS)
    try:
        yield from reader
    finally:
        reader.close()


class _Stopped(Exception):
    """The writing side gave up; the query thread ends quietly."""


class _BatchQueue:
    """Batches from the query thread to the writing thread, at most ``limit`` bytes ahead."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._held = 0
        self._items: queue.SimpleQueue[pa.RecordBatch | None] = queue.SimpleQueue()
        self._space = threading.Condition()
        self._stopped = False
        self._error: BaseException | None = None

    def put(self, batch: pa.RecordBatch) -> None:
        size = batch.nbytes
        with self._space:
            while self._held > 0 and self._held + size > self._limit and not self._stopped:
                self._space.wait()
            if self._stopped:
                raise _Stopped
            self._held += size
        self._items.put(batch)

    def finish(self) -> None:
        self._items.put(None)

    def fail(self, error: BaseException) -> None:
        self._error = error
        self._items.put(None)

    def stop(self) -> None:
        with self._space:
            self._stopped = True
            self._space.notify_all()

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        while (batch := self._items.get()) is not None:
            yield batch
            with self._space:
                self._held -= batch.nbytes
                self._space.notify_all()
        if self._error is not None:
            raise self._error
