"""``pullstats ingest logs``: access-log files → the lake, under the job lock.

Responsible for running :mod:`pullstats.ingest.access_logs` over each source in segments of
:data:`SEGMENT_BYTES` (one DuckDB query each), writing each segment's requests with
:func:`pullstats.lake.request_writer.ingest_requests` (which hashes the addresses, enriches, drops
what the lake already holds and records the days as pending for ``pullstats process``), and
the overlap guard: hours that already hold notification requests would be counted twice, so
an import touching them is refused unless overlap is allowed (the steps
``lake.holds_notifications`` and ``lake.notification_hours``, :mod:`pullstats.lake.steps`).
"""

from __future__ import annotations

import contextlib
import io
import lzma
import sys
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, cast

import duckdb
import pyarrow as pa

from pullstats.duckdb_engine import connect
from pullstats.enrich import bundled, maxmind
from pullstats.importers.log_overlap import LogImportError, OverlapGuard, OverlapRefused
from pullstats.ingest.access_log_formats import LogFormat
from pullstats.ingest.access_logs import STAGED_REQUESTS, LogParser, ParsedLines
from pullstats.ingest.log_lines import LineChunk, open_log, read_line_chunks
from pullstats.ingest.records import SPOOL_SCHEMA
from pullstats.ingest.time_window import TimeWindow
from pullstats.lake.jobs import job_lock
from pullstats.lake.request_writer import RequestWriter, ingest_requests
from pullstats.runtime import Runtime
from pullstats.timestamps import now_micros

STDIN = "-"
#: Bytes of lines parsed by one query, whose requests are then written to the lake in one go
#: (held in DuckDB meanwhile, which spills to disk past its memory limit): bigger segments mean
#: fewer Parquet files, smaller ones less memory and disk. DuckDB works on all its threads while
#: the next block is read; a stream (stdin, a pipe) is checked against the overlap guard after
#: each segment.
SEGMENT_BYTES = 1024 * 1024 * 1024


@dataclass
class SourceReport:
    """What one file (or stream) held."""

    name: str
    lines: int = 0
    used: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    errors: list[tuple[int, str, str]] = field(default_factory=list)  # line, reason, text
    #: why the source could not be read to its end (its lines before that were imported)
    failed: str = ""


@dataclass
class ImportResult:
    sources: list[SourceReport] = field(default_factory=list)
    written: int = 0  # requests new to the lake
    days: set[date] = field(default_factory=set)

    @property
    def used(self) -> int:
        return sum(source.used for source in self.sources)


@dataclass
class ImportProgress:
    """Callbacks for the CLI: a source starts (name, size or None), bytes consumed."""

    started: Callable[[str, int | None], None] | None = None
    advanced: Callable[[int], None] | None = None


def import_logs(
    runtime: Runtime,
    sources: Sequence[str],
    *,
    log_format: LogFormat = "auto",
    allow_overlap: bool = False,
    progress: ImportProgress | None = None,
) -> ImportResult:
    """Import access logs; ``-`` is stdin, and a path that is no regular file (a pipe) is read
    like it (:func:`is_stream`). Raises :class:`LogImportError` before writing. A source that
    cannot be read to its end (damaged, cut short, in a compression or encoding not read) says
    why in its report's ``failed``; its lines before that are imported, and the others are."""
    progress = progress or ImportProgress()
    check_sources(sources)
    maxmind.check_databases(runtime.settings)  # before a line is read
    streams = [is_stream(name) for name in sources]
    result = ImportResult()
    result.sources = [SourceReport(source_name(name)) for name in sources]
    # the enrichment's bundled tables load while the lines are read and parsed
    asn = runtime.settings.geoip_asn_db is None
    bundled.load_in_background(asn=asn, cache=runtime.paths.cache)
    with job_lock(runtime), contextlib.closing(connect(runtime.settings)) as db:
        guard = None if allow_overlap else OverlapGuard(runtime, db)
        if guard is not None and not guard.active:
            guard = None  # the lake holds no notification requests: nothing to overlap
        writer = RequestWriter(runtime, db)
        files_written = False
        if guard is not None and not all(streams):
            files_written = _import_checked_files(
                db, writer, guard, sources, streams, log_format, progress, result
            )
        for index, name in enumerate(sources):
            if guard is not None and not streams[index]:
                if files_written:
                    continue
                result.sources[index] = SourceReport(name)  # read again, counted again
            for parsed in _parsed(
                db, writer.window, name, log_format, progress, result.sources[index]
            ):
                if guard is not None and streams[index]:  # a stream is known as it is read
                    guard.check(parsed.hours, result.written, source_name(name))
                if parsed.used:
                    _write(writer, STAGED_REQUESTS, result)
    return result


def check_sources(sources: Sequence[str]) -> None:
    """Raise :class:`LogImportError` unless every source is a file or a stream, each stream
    named once (it can be read only once). Nothing is opened: opening a pipe waits for its
    writer."""
    for name in sources:
        if name == STDIN:
            continue
        if not name.strip():  # Path("") is the working directory: "a directory" would puzzle
            raise LogImportError("an empty file name: name a log file, or - for stdin")
        path = Path(name)
        if path.is_dir():
            raise LogImportError(f"{name}: a directory; name the log files in it")
        if not path.exists():
            raise LogImportError(f"{name}: no such file")
        if not (path.is_file() or path.is_fifo() or path.is_char_device()):
            raise LogImportError(f"{name}: neither a file nor a pipe")
    named = Counter(name for name in sources if is_stream(name))
    for name, times in named.items():
        if times > 1:
            shown = "stdin (-)" if name == STDIN else name
            raise LogImportError(f"{shown} is a stream and can be read only once")


def is_stream(name: str) -> bool:
    """Whether a source is read as a stream: once, its size unknown, and (while the lake holds
    notifications) checked against the overlap guard as it is read. Stdin, and any path that
    is no regular file: a pipe (a shell's ``<(zcat access.log.1.gz)``, a named pipe) or a
    character device such as ``/dev/stdin``."""
    return name == STDIN or not Path(name).is_file()


def source_name(name: str) -> str:
    """How reports name a source: ``stdin`` for ``-``, else as given."""
    return "stdin" if name == STDIN else name


#: Requests of every file held until the overlap guard has seen all their hours.
_HELD = "log_held"
#: Past this many held requests (a few GB of DuckDB temp files), the files are read twice
#: instead: once for their hours, once to import them.
HOLD_REQUESTS = 20_000_000
_SQL_TYPES = {pa.string(): "VARCHAR", pa.int64(): "BIGINT"}
_SPOOL_COLUMNS = ", ".join(f"{f.name} {_SQL_TYPES[f.type]}" for f in SPOOL_SCHEMA)


def _parsed(
    db: duckdb.DuckDBPyConnection,
    window: TimeWindow,
    name: str,
    log_format: LogFormat,
    progress: ImportProgress,
    report: SourceReport,
) -> Iterator[ParsedLines]:
    """Parse a source a segment at a time, adding each to its report; each segment's requests
    are in :data:`STAGED_REQUESTS` until the next one is parsed. Times outside ``window`` (the
    writer's) are skipped, so the writer need not check the requests again."""
    parser = LogParser(db, log_format, now_micros(), window=window)

    def failed(reason: str) -> None:
        report.failed = reason

    for segment in _segments(line_chunks(name, progress, failed)):
        parsed = parser.parse(segment)
        report.lines += parsed.lines
        report.used += parsed.used
        report.skipped.update(parsed.skipped)
        report.errors.extend(parsed.errors)
        yield parsed


def _write(writer: RequestWriter, table: str, result: ImportResult) -> None:
    """Write ``table``'s requests, which the parser checked (:meth:`RequestWriter.write`)."""
    written, days = ingest_requests(writer, table, checked=True)
    result.written += written
    result.days |= days


def _import_checked_files(
    db: duckdb.DuckDBPyConnection,
    writer: RequestWriter,
    guard: OverlapGuard,
    sources: Sequence[str],
    streams: Sequence[bool],
    log_format: LogFormat,
    progress: ImportProgress,
    result: ImportResult,
) -> bool:
    """Check every hour of the files (the sources that are no ``streams``) against the overlap
    guard before anything is written (so a refusal writes nothing), reading them once where
    possible; True if they were written.

    Their requests are held (DuckDB spills them to disk past its memory limit) and written
    once every file has been read. Past :data:`HOLD_REQUESTS` the held requests are let go and
    the rest of the files are only scanned for their hours, and the caller reads every file
    again to import it: a year of logs never needs all its requests on disk at once.
    """
    db.execute(f"CREATE OR REPLACE TEMP TABLE {_HELD} ({_SPOOL_COLUMNS})")
    hours: set[int] = set()
    held = 0
    columns = ", ".join(SPOOL_SCHEMA.names)
    for index, name in enumerate(sources):
        if streams[index]:
            continue
        report = result.sources[index]
        for parsed in _parsed(db, writer.window, name, log_format, progress, report):
            hours |= parsed.hours
            if held < 0 or not parsed.used:
                continue
            held += parsed.used
            if held > HOLD_REQUESTS:
                db.execute(f"DROP TABLE {_HELD}")
                held = -1  # scanning from here on
            else:
                db.execute(f"INSERT INTO {_HELD} SELECT {columns} FROM {STAGED_REQUESTS}")
    guard.check(hours, written=0)
    if held < 0:
        return False
    _write(writer, _HELD, result)
    db.execute(f"DROP TABLE {_HELD}")
    return True


def _segments(chunks: Iterator[LineChunk]) -> Iterator[Iterator[LineChunk]]:
    """The chunks in runs of about :data:`SEGMENT_BYTES`, each parsed by one query."""
    for first in chunks:
        yield _segment(first, chunks)


def _segment(first: LineChunk, rest: Iterator[LineChunk]) -> Iterator[LineChunk]:
    yield first
    size = first.nbytes
    while size < SEGMENT_BYTES:
        chunk = next(rest, None)
        if chunk is None:
            return
        size += chunk.nbytes
        yield chunk


def line_chunks(
    name: str, progress: ImportProgress, failed: Callable[[str], None] | None = None
) -> Iterator[LineChunk]:
    """The line chunks of a file or a stream, reporting progress in bytes of the source.

    A source that cannot be read to its end gives the lines read before that, then raises
    :class:`LogImportError`, or, given ``failed``, tells it why and ends."""
    with _open_source(name) as raw:
        size = None if is_stream(name) else Path(name).stat().st_size
        if progress.started:
            progress.started(name, size)
        consumed = 0
        try:
            stream, position = open_log(raw)
            for chunk in read_line_chunks(stream, position):
                if progress.advanced:
                    progress.advanced(chunk.position - consumed)
                consumed = chunk.position
                yield chunk
        # damaged compression, an endless line, zstd or UTF-16 (Unread* are ValueErrors)
        except (OSError, EOFError, ValueError, zlib.error, lzma.LZMAError) as error:
            reason = _unreadable(error)
            if failed is None:
                raise LogImportError(f"{name}: {reason}") from None
            failed(reason)


def _unreadable(error: Exception) -> str:
    if isinstance(error, EOFError):  # gzip, bzip2 and xz alike: no end-of-stream marker
        return "cut short: the compressed data stops before its end (a copy not yet complete?)"
    if isinstance(error, zlib.error | lzma.LZMAError):
        return f"damaged compressed data ({error})"
    if isinstance(error, OSError):  # a bad CRC or header (no errno), or the disk's own error
        return f"damaged compressed data ({error})" if error.errno is None else str(error.strerror)
    return str(error)


@contextlib.contextmanager
def _open_source(name: str) -> Iterator[io.BufferedReader]:
    if name == STDIN:
        stdin = sys.stdin.buffer
        # peeking (to recognise gzip) needs a buffered reader; a test harness may swap stdin
        yield stdin if isinstance(stdin, io.BufferedReader) else io.BufferedReader(cast(Any, stdin))
        return
    try:
        handle = open(name, "rb")  # noqa: SIM115 - closed below, after the generator is done
    except OSError as error:
        raise LogImportError(f"{name}: {error.strerror}") from None
    with handle:
        yield handle


__all__ = [
    "STDIN",
    "ImportProgress",
    "ImportResult",
    "LogImportError",
    "OverlapRefused",
    "SourceReport",
    "check_sources",
    "import_logs",
    "is_stream",
    "source_name",
]
