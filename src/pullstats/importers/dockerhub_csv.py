"""Docker Hub DVP CSV import: raw and summary CSV(.gz) files → the lake, for ``pullstats process``.

A publisher moving from Docker Hub keeps their Hub history by importing the files Hub gave them
(or pullstats' own exports; the header tells which kind, see :mod:`.dockerhub_columns`). Files
are parsed inside DuckDB (``read_csv``, every column VARCHAR) and normalised in SQL, by the
``ingest.dockerhub_*`` steps (:mod:`pullstats.ingest.steps`): action spellings (``Pull by tag``
→ ``pull_by_tag``), timestamps (``…T…Z``, ``… UTC``), the ``'`` our exports put before
formula-like cells, a repository written with its namespace. Reading the file and writing
Parquet (``COPY … TO``) stay here, engine code.

- **Raw** rows are actions (Docker writes one row per action) with no IP. They become Parquet
  with the classifier's action columns, ``ip_hash`` NULL and ``ruleset_version`` 0 (imported),
  at ``lake/imported/day=D/part-<id>.parquet``; classification appends them to the day's own
  actions, so rollups and exports count them.
- **Summary** rows (tag/digest, repository or namespace level) go to
  ``lake/imported-summaries/<week|month>/<period start>/part-<id>.parquet``; the rollups take
  unique-IP counts from them (raw files have none), and pull counts where no raw file was
  imported for that key (:mod:`pullstats.rollups.compute`).
- Docker's current reports ("DVP Core", :mod:`pullstats.ingest.dockerhub_core_sql`) are period
  aggregates too: a **Summary** report's rows become repository- and reference-level summary
  rows, a **Trends** report's rows are added up per repository and tag into summary rows and
  kept as they are under ``lake/imported-trends/`` for the trends datasets.
- An import is named by the file's content (its SHA-256 after gunzip: ``x.csv`` and ``x.csv.gz``
  are one file) and what it gave the file that the content does not say (a namespace, a period:
  :mod:`.import_records`). ``lake/imported-files/<id>.json`` is written last; when it exists a
  re-import changes nothing. The same content given another namespace or period is another
  import, kept beside the earlier one, unless ``replace`` (``--replace``): then it deletes the
  other imports' parts and records, even when this one was imported before. No import deletes
  another one's history unasked; parts no record names are no import's, and are deleted.
  Identical rows inside one file are separate actions and are all kept.
- Bad rows (unknown action, bad timestamp, missing namespace …, or a CSV line DuckDB cannot
  split, a stray quote included: :func:`.dockerhub_reading.read_rows`) are counted by reason
  and reported with their line, and the rest is kept. Line numbers count physical lines.
- Everything runs under the job lock; files are renamed into place whole; the touched days are
  recorded as pending so that the next ``pullstats process`` classifies and rolls them up.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import tempfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb

from pullstats import lake_files
from pullstats.accounts.service import registered_namespaces
from pullstats.drop_reasons import DOCKERHUB_CORE, DOCKERHUB_RAW, DOCKERHUB_SUMMARY
from pullstats.duckdb_engine import DuckDBEngine, connect, own_tables
from pullstats.importers.dockerhub_reading import (
    canonical_view,
    content_sha256,
    failure,
    line_of,
    load,
    read_rows,
    scan,
)
from pullstats.importers.import_records import (
    EarlierImport,
    ImportRecords,
    import_id,
    part_name,
    same_imports,
)
from pullstats.ingest import steps
from pullstats.ingest.dockerhub_columns import (
    CORE_COLUMNS,
    RAW_COLUMNS,
    SUMMARY_COLUMNS,
    FileKind,
    NotPullHistory,
    UnrecognisedFile,
    period_from_file_name,
)
from pullstats.ingest.log_lines import UnreadEncoding
from pullstats.ingest.time_window import TimeWindow
from pullstats.lake.jobs import job_lock
from pullstats.periods import Period, PeriodKind
from pullstats.runtime import Runtime
from pullstats.sql_literals import sql_text
from pullstats.steps import Step

__all__ = ["SKIP_REASONS", "FileReport", "SkippedRow", "content_sha256", "import_files"]

#: Why a row is skipped; every skipped row is counted under one of these.
SKIP_REASONS = tuple(dict.fromkeys(DOCKERHUB_RAW + DOCKERHUB_SUMMARY + DOCKERHUB_CORE))
#: Skipped rows listed with their line, per file; the rest are only counted.
MAX_LISTED = 20
#: The SHA-256 of no bytes: an empty file (or a gzip file of one).
_NOTHING = hashlib.sha256(b"").hexdigest()
#: what fails one file (and not the others): EOFError and zlib.error, a truncated or damaged
#: gzip stream; UnreadEncoding, UTF-16
_FILE_FAILURES = (OSError, EOFError, zlib.error, UnrecognisedFile, UnreadEncoding, duckdb.Error)

#: Runs the ``ingest.dockerhub_*`` steps on the import's own connection (:func:`connect`, with
#: the file's row order kept).
_ENGINE = DuckDBEngine()


@dataclass(frozen=True)
class SkippedRow:
    line: int
    reason: str
    value: str


@dataclass
class FileReport:
    """What happened to one file: imported, ``already imported``, ``skipped`` or ``failed``."""

    path: Path
    status: str = "imported"
    kind: FileKind | None = None
    sha256: str = ""
    rows: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    listed: list[SkippedRow] = field(default_factory=list)
    days: list[date] = field(default_factory=list)
    periods: list[Period] = field(default_factory=list)
    #: the file's columns that were not imported (unknown ones, Docker's ``Owner``)
    ignored_columns: tuple[str, ...] = ()
    #: namespaces of imported rows that are not registered (kept; shown once registered)
    unregistered: list[str] = field(default_factory=list)
    #: ``--namespace`` was given but the file names its own namespaces (a Namespace column)
    namespace_unused: bool = False
    #: ``--period`` was given but the file's rows say their own periods or days (a raw file, a
    #: DVP Core report, a summary with Period start/Period end columns)
    period_unused: bool = False
    #: what each earlier import of the same content, which this one replaced, was given
    replaced: list[dict[str, str | None]] = field(default_factory=list)
    #: what each earlier import of the same content, kept beside this one, was given
    kept_beside: list[dict[str, str | None]] = field(default_factory=list)
    #: what the import gave the file that its content does not say: ``namespace`` (a file
    #: without a Namespace column) and ``period`` (a summary without period columns)
    given: dict[str, str | None] = field(default_factory=dict)
    #: the import's id (:func:`.import_records.import_id`): its record's and part files' name
    id: str = ""
    #: how many part files of the content that no record named were deleted
    leftovers: int = 0
    #: the lake keys of the part files written
    parts: list[str] = field(default_factory=list)
    error: str = ""


def import_files(
    runtime: Runtime,
    paths: Iterable[Path],
    on_file: Callable[[FileReport], None] | None = None,
    period: Period | None = None,
    namespace: str | None = None,
    replace: bool = False,
) -> list[FileReport]:
    """Import each file under the job lock; one bad file never stops the others, and nothing of
    a file that fails is imported.

    ``period`` is the period of the summary files that have no period columns (Docker documents
    none for its legacy summaries), instead of a label in the file's name. ``namespace`` is the
    namespace of the files that have no Namespace column (Docker's DVP Core Summary report,
    which otherwise takes its PUBLISHER_NAME). ``replace``: an import of a file whose content
    was imported before with another namespace or period replaces those imports.
    """
    reports = []
    with job_lock(runtime):
        records = ImportRecords(runtime.settings.lake)
        for path in paths:
            report = FileReport(path)
            try:
                _import_file(runtime, records, report, (period, namespace, replace))
            except NotPullHistory as why:  # known, and nothing to import: no failure
                report.status, report.error = "skipped", str(why)
            except _FILE_FAILURES as error:
                report.status, report.error = "failed", failure(error)
            reports.append(report)
            if on_file:
                on_file(report)
    return reports


_Options = tuple[Period | None, str | None, bool]  # import_files' period, namespace, replace


def _import_file(runtime: Runtime, records: ImportRecords, report: FileReport, o: _Options) -> None:
    given, namespace, replace = o
    path = report.path
    if path.exists() and not path.is_file() and not path.is_dir():
        # a pipe would be empty the second time: say so, not "no Namespace column"
        raise UnrecognisedFile(
            "not a regular file (a pipe?): a Docker Hub CSV is read twice, for its checksum "
            "and for its rows; save it to a file and import that"
        )
    content = scan(path)
    report.sha256 = content.sha256
    if report.sha256 == _NOTHING:
        raise UnrecognisedFile("an empty file: no header, no rows")
    earlier = records.of_content(report.sha256)  # the content's imports so far
    same = same_imports(earlier, namespace, given, path.name)
    if replace and len(same) > 1:
        same = []  # which one to keep is not clear: import it anew, replacing them all
    replaced = [done for done in earlier if done not in same[:1]] if replace else []
    report.replaced = [done.given for done in replaced]
    if same:  # with --replace, the others go
        report.status, report.given, report.id = "already imported", same[0].given, same[0].id
        report.kind = FileKind(same[0].record["kind"])
        if replace:
            _forget(runtime, records, report, replaced)
        return
    report.kept_beside = [] if replace else [done.given for done in earlier]
    connection = connect(runtime.settings)
    try:
        # row_number() OVER () numbers rows in file order only while order is preserved
        connection.execute("SET preserve_insertion_order = true")
        window = TimeWindow.now(runtime.settings.max_clock_skew)
        bounds: dict[str, object] = {
            "earliest_us": window.earliest_us,
            "latest_us": window.latest_us,
        }

        def parse(source: Path, gzipped: bool) -> FileKind:
            """``parsed``: the rows of ``source``, the file or a copy (read_rows)."""
            header = load(connection, source, namespace is not None, gzipped)
            report.kind = header.kind
            report.ignored_columns = header.ignored
            report.namespace_unused = namespace is not None and "namespace" in header.columns
            if "namespace" not in header.columns:
                report.given["namespace"] = namespace
            # a summary without period columns takes it; every other file says its own
            report.period_unused = given is not None
            if header.kind is FileKind.RAW:
                canonical_view(connection, header, RAW_COLUMNS, namespace)
                _parse(connection, steps.DOCKERHUB_RAW, bounds)
            elif header.kind in (FileKind.CORE_SUMMARY, FileKind.CORE_TRENDS):
                # DATE_GRANULARITY and DATE_REFERENCE: every row says its own period
                canonical_view(connection, header, CORE_COLUMNS, namespace)
                _parse(connection, steps.DOCKERHUB_CORE, bounds, kind=header.kind)
            else:
                period, params = None, bounds
                if "period_start" not in header.columns or "period_end" not in header.columns:
                    period = given or period_from_file_name(report.path.name)
                    if period is None:
                        raise UnrecognisedFile(
                            "a summary needs Period start/Period end columns, a period label "
                            "(2026-W41, 2026-10) in its file name, or --period"
                        )
                    params = bounds | {"period_start": period.start, "period_end": period.end}
                    report.given["period"] = period.label
                    report.period_unused = False
                canonical_view(connection, header, SUMMARY_COLUMNS, namespace)
                step, in_file = steps.DOCKERHUB_SUMMARY, period is None
                _parse(connection, step, params, kind=header.kind, period_in_file=in_file)
            return header.kind

        kind, rejected, blank = read_rows(connection, content, runtime.paths.job_tmp, parse)
        report.skipped["malformed_csv"] = len(rejected)
        listed = [SkippedRow(line, "malformed_csv", "") for line in rejected]
        listed.extend(_count_problems(connection, report, sorted(rejected + blank)))
        report.listed = sorted(listed, key=lambda row: row.line)[:MAX_LISTED]
        report.skipped = +report.skipped  # drop zero counts
        report.unregistered = _unregistered(runtime, connection)
        report.id = import_id(report.sha256, report.given)
        if kind is FileKind.RAW:
            _write_raw(runtime, connection, report)
        else:
            _write_summaries(runtime, connection, report, kind)
    finally:
        connection.close()
    _forget(runtime, records, report, replaced)


def _forget(
    runtime: Runtime, records: ImportRecords, report: FileReport, replaced: list[EarlierImport]
) -> None:
    """Delete the ``replaced`` imports and the parts no record names; write ``report``'s record."""
    report.leftovers = records.delete_parts(runtime.sessions, report, replaced)
    if report.status == "imported":  # a rerun of an interrupted one writes its parts again
        records.write(report.id, _manifest(report), runtime.paths.tmp)
    for gone in sorted({done.id for done in replaced} - {report.id}):
        records.delete(gone)


def _statement(
    connection: duckdb.DuckDBPyConnection,
    step: Step,
    params: dict[str, object] | None = None,
    **options: object,
) -> str:
    """``step``'s SQL over the connection's table of each input's name, parameters bound."""
    return _ENGINE.statement(connection, step, own_tables(step), params, **options)


def _parse(
    connection: duckdb.DuckDBPyConnection, step: Step, params: dict[str, object], **options: object
) -> None:
    """``parsed``: every row of ``csv_rows`` with its problem, by ``step``."""
    _ENGINE.create_table(connection, "parsed", step, own_tables(step), params, **options)


def _rows(
    connection: duckdb.DuckDBPyConnection, step: Step, params: dict[str, object] | None = None
) -> list[tuple[Any, ...]]:
    return connection.execute(_statement(connection, step, params)).fetchall()


def _count_problems(
    connection: duckdb.DuckDBPyConnection, report: FileReport, not_rows: list[int]
) -> list[SkippedRow]:
    for reason, count in _rows(connection, steps.DOCKERHUB_PROBLEMS):
        report.skipped[str(reason)] += int(count)
    examples = _rows(connection, steps.DOCKERHUB_PROBLEM_ROWS, {"limit": MAX_LISTED})
    return [SkippedRow(line_of(int(rn), not_rows), str(p), str(d)) for rn, p, d in examples]


def _unregistered(runtime: Runtime, connection: duckdb.DuckDBPyConnection) -> list[str]:
    """The namespaces of the file's importable rows that are not registered yet."""
    named = [str(namespace) for (namespace,) in _rows(connection, steps.DOCKERHUB_NAMESPACES)]
    with runtime.sessions() as session:
        registered = set(registered_namespaces(session))
    return [namespace for namespace in named if namespace not in registered]


def _write_raw(runtime: Runtime, connection: duckdb.DuckDBPyConnection, report: FileReport) -> None:
    days = _rows(connection, steps.DOCKERHUB_DAYS)
    report.rows = sum(int(count) for _, count in days)
    report.days = [day for day, _ in days]
    with _staging(runtime) as staging:
        for day in report.days:
            part = staging / f"{day.isoformat()}.parquet"
            _copy(connection, steps.DOCKERHUB_DAY_ACTIONS, {"day": day}, part)
            key = f"{lake_files.day_folder(lake_files.IMPORTED, day)}/{part_name(report.id)}"
            lake_files.publish(runtime.settings, part, key)
            report.parts.append(key)


def _write_summaries(
    runtime: Runtime, connection: duckdb.DuckDBPyConnection, report: FileReport, kind: FileKind
) -> None:
    """Each period's summary rows to ``imported-summaries``; a Trends report's rows also as
    they are, to ``imported-trends``."""
    tables = {lake_files.IMPORTED_SUMMARIES: steps.DOCKERHUB_PERIOD_SUMMARIES}
    if kind in (FileKind.CORE_SUMMARY, FileKind.CORE_TRENDS):
        tables = {lake_files.IMPORTED_SUMMARIES: steps.DOCKERHUB_CORE_SUMMARIES}
    if kind is FileKind.CORE_TRENDS:
        tables[lake_files.IMPORTED_TRENDS] = steps.DOCKERHUB_PERIOD_TRENDS
    periods = _rows(connection, steps.DOCKERHUB_PERIODS)
    report.rows = sum(int(count) for _, _, count in periods)
    with _staging(runtime) as staging:
        for period_kind, start, _ in periods:
            params = {"kind": period_kind, "start": start}
            for table, step in tables.items():
                part = staging / f"{table}-{period_kind}-{start.isoformat()}.parquet"
                _copy(connection, step, params, part)
                folder = f"{table}/{period_kind}/{start.isoformat()}"
                key = f"{folder}/{part_name(report.id)}"
                lake_files.publish(runtime.settings, part, key)
                report.parts.append(key)
    report.periods = [Period(PeriodKind(k), start) for k, start, _ in periods]
    # a period's first day makes `process` recompute that period's rollups
    report.days = sorted({period.start for period in report.periods})


def _copy(
    connection: duckdb.DuckDBPyConnection, step: Step, params: dict[str, object], part: Path
) -> None:
    """Write ``step``'s rows to the Parquet file ``part``."""
    sql = _statement(connection, step, params)
    connection.execute(f"COPY ({sql}) TO {sql_text(part)} (FORMAT parquet, COMPRESSION zstd)")


def _manifest(report: FileReport) -> str:
    return json.dumps(
        {
            "sha256": report.sha256,
            "file": report.path.name,
            "kind": report.kind.value if report.kind else None,
            "rows": report.rows,
            "skipped": dict(report.skipped),
            "days": [day.isoformat() for day in report.days],
            "periods": [period.label for period in report.periods],
            "given": report.given,
            "imported_at": datetime.now(UTC).isoformat(),
        },
        indent=2,
    )


@contextlib.contextmanager
def _staging(runtime: Runtime) -> Iterator[Path]:
    """A new folder in ``tmp/job`` for the part files, removed when done."""
    runtime.paths.job_tmp.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="import-", dir=runtime.paths.job_tmp) as folder:
        yield Path(folder)
