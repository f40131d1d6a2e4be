"""Writing one (namespace, period)'s views and reports with ``PULLSTATS_ENGINE=spark``.

The same steps as :mod:`pullstats.exports.writing` compute the CSV lines, on Spark
(:class:`~pullstats.spark_engine.SparkEngine`); the lines come back to the driver, which cuts
them into the same gzip parts, with the same names, through the same
:class:`~pullstats.exports.parts.PartWriter`. So the files are DuckDB's byte for byte.

What that costs at scale: the raw view is collected a run of days at a time
(:func:`~pullstats.exports.writing.raw_query_groups`, about 16 MiB of Parquet each), so the
driver holds one run's lines, and compressing is the driver's (on its cores, in parallel) while
Spark computes nothing; a namespace's period is one stream of parts, in order, whatever the
cluster's size.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import pyarrow as pa

from pullstats.config import Settings
from pullstats.exports.files import Compressor, WrittenPart
from pullstats.exports.parts import PartWriter
from pullstats.exports.reports import ExportKind, ReportFile
from pullstats.exports.steps import (
    CO_USAGE_LINES,
    CORE_SUMMARY_LINES,
    CORE_TRENDS_LINES,
    EXTRA_ACTIONS,
    RAW_LINES,
    SUMMARY_LINES,
    SUMMARY_ROWS,
)
from pullstats.exports.views import Dataview
from pullstats.exports.writing import (
    BATCH_ROWS,
    RAW_QUERY_BYTES,
    ROLLUP_COLUMNS,
    ReportRows,
    ViewScope,
    raw_query_groups,
    report_args,
    view_writer,
)
from pullstats.rollups.steps import COUNTS
from pullstats.spark_engine import SparkEngine, collect


def write_views_on_spark(
    settings: Settings,
    scope: ViewScope,
    files: Sequence[Path | str],
    folder: Path,
    rollups: pa.Table,
    reports: ReportRows,
) -> list[tuple[ExportKind, WrittenPart]]:
    """:func:`pullstats.exports.writing.write_views`, the lines computed on Spark."""
    engine = SparkEngine(settings)
    written: list[tuple[ExportKind, WrittenPart]] = []
    with Compressor(settings.duckdb_threads) as compressor:
        raw = view_writer(settings, scope, Dataview.RAW, folder, compressor)
        threads = max(1, settings.duckdb_threads)
        groups = raw_query_groups(files, threads, settings.lake.size_of, RAW_QUERY_BYTES)
        extras = bool(scope.extra_repos)
        params: dict[str, object] = {"namespace": scope.namespace}
        if scope.extra_repos:
            params["extra_repos"] = list(scope.extra_repos)
        written += _write(
            raw,
            (engine.arrow(RAW_LINES, {"actions": g}, params, extras=extras) for g in groups),
            Dataview.RAW,
        )
        for view, lines in _summary_lines(engine, scope, files, rollups, reports).items():
            written += _write(view_writer(settings, scope, view, folder, compressor), [lines], view)
    return written


def _write(
    part_writer: PartWriter, tables: Iterable[pa.Table], view: ExportKind
) -> list[tuple[ExportKind, WrittenPart]]:
    """Every line of ``tables`` into ``part_writer``'s parts (none kept if one fails)."""
    try:
        for table in tables:
            for batch in table.to_batches(BATCH_ROWS):
                part_writer.write_lines(batch.column(0))
        return [(view, part) for part in part_writer.close()]
    except BaseException:
        part_writer.discard()
        raise


def _summary_lines(
    engine: SparkEngine,
    scope: ViewScope,
    files: Sequence[Path | str],
    rollups: pa.Table,
    reports: ReportRows,
) -> dict[ExportKind, pa.Table]:
    """The three summary views' lines and the Summary report's, as ``writing._summary_lines``
    makes them."""
    rows = rollups.select(list(ROLLUP_COLUMNS))
    if scope.extra_repos and files:
        session = engine.session()
        extras = {"extra_repos": list(scope.extra_repos)}
        actions = engine.dataframe(
            EXTRA_ACTIONS, {"period_actions": files}, extras, session=session
        )
        counted = engine.dataframe(COUNTS, {"actions": actions, "summaries": []}, session=session)
        rows = collect(
            engine.dataframe(
                SUMMARY_ROWS,
                {"rollups": rows, "extra_counts": counted},
                {"namespace": scope.namespace},
                session=session,
            )
        )
    bounds = {"period_start": scope.period.start_text, "period_end": scope.period.end_text}
    lines: dict[ExportKind, pa.Table] = {
        view: engine.arrow(SUMMARY_LINES, {"summary_rows": rows}, bounds, view=view)
        for view in Dataview
        if view is not Dataview.RAW
    }
    lines[ReportFile.SUMMARY_REPORT] = engine.arrow(
        CORE_SUMMARY_LINES, {"summary_rows": rows}, report_args(scope)
    )
    lines[ReportFile.TRENDS_REPORT] = engine.arrow(
        CORE_TRENDS_LINES, {"trend_rows": reports.trends}, report_args(scope)
    )
    lines[ReportFile.CO_USAGE_REPORT] = engine.arrow(
        CO_USAGE_LINES, {"co_usage_rows": reports.co_usage}, report_args(scope)
    )
    return lines
