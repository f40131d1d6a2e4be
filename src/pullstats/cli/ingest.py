"""``pullstats ingest logs FILE...``: import registry access logs (nginx, Distribution);
``pullstats ingest registry-log FILE...``: set aside the notified pulls the registry refused."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, TypeVar

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)

from pullstats.cli.common import USAGE, days_span, err, fail, opened, out

if TYPE_CHECKING:  # the importer (DuckDB, Arrow) is loaded by the command, not the command tree
    from pullstats.importers.log_import import ImportProgress, ImportResult, SourceReport
    from pullstats.importers.registry_log import RegistryLogResult
    from pullstats.runtime import Runtime

_Result = TypeVar("_Result")

ingest_app = typer.Typer(help="Import pull events from files.", no_args_is_help=True)

#: Files smaller than this are read without a progress bar.
_PROGRESS_BYTES = 16 * 1024 * 1024


@ingest_app.command("logs")
def logs_command(
    files: list[str] = typer.Argument(
        ...,
        metavar="FILE...",
        help="Access log files (gzip, bzip2 or xz too) or pipes, such as <(zstdcat old.log.zst); "
        "- for stdin.",
    ),
    allow_overlap: bool = typer.Option(
        False,
        "--allow-overlap",
        help="Import even hours that already hold registry-notification requests.",
    ),
    log_format: str = typer.Option(
        "auto",
        "--format",
        metavar="FORMAT",
        help="Line format: auto, combined or pullstats (docs/access-logs.md).",
    ),
) -> None:
    """Import nginx or registry access logs: manifest GET/HEAD with a 2xx status are pulls."""
    from pullstats.importers.log_import import import_logs
    from pullstats.ingest.access_log_formats import LOG_FORMATS

    if log_format not in LOG_FORMATS:
        raise fail(f"--format must be one of {', '.join(LOG_FORMATS)}, not {log_format!r}", USAGE)
    result = _imported(
        files,
        lambda runtime, progress: import_logs(
            runtime, files, log_format=log_format, allow_overlap=allow_overlap, progress=progress
        ),
    )
    _print_report(result, log_format)


@ingest_app.command("registry-log")
def registry_log_command(
    files: list[str] = typer.Argument(
        ...,
        metavar="FILE...",
        help="The registry's own log files (gzip, bzip2 or xz too) or pipes; - for stdin.",
    ),
) -> None:
    """Set aside notified pulls that the registry's own log shows it refused (non-2xx).

    Distribution notifies a pull before it answers, so a manifest request it then refuses (a
    404 for an OCI manifest asked for without an OCI Accept header) arrives like a served one.
    Its log (log.formatter text or json, level info or error) has each request's status under
    the same request id: those requests are moved to the lake's set-aside/refused/ and their
    days recounted by the next `pullstats process` (docs/data-definitions.md).
    """
    from pullstats.importers.registry_log import import_registry_log

    _print_registry_report(
        _imported(
            files,
            lambda rt, progress: import_registry_log(rt, files, progress),
            # it only acts on requests already in the lake: a new installation has none, so a
            # data dir that is not there is a mistyped path, refused as by `process`
            new_dir=False,
        )
    )


def _imported(
    files: list[str],
    run: Callable[[Runtime, ImportProgress], _Result],
    *,
    new_dir: bool = True,
) -> _Result:
    """``run`` on the installation with progress bars, once every source is known to be
    readable (before the data dir is opened: a typo creates nothing); its refusal is one line.
    ``new_dir=False``: a data dir that is not there is refused, not made (:func:`opened`)."""
    from pullstats.importers.log_import import LogImportError, check_sources

    try:
        check_sources(files)
    except LogImportError as error:
        raise fail(str(error)) from None
    with opened(new_dir=new_dir) as runtime, _progress() as (bars, progress):
        try:
            return run(runtime, progress)
        except LogImportError as error:
            bars.stop()
            raise fail(str(error)) from None


def _print_registry_report(result: RegistryLogResult) -> None:
    """Per source: lines, manifest responses, refused ones, the first bad entries' line numbers
    (never their text: the registry logs the ingest token); then what was set aside. Exits 1
    if a source held no response entry of the registry's log at all."""
    from pullstats.importers.registry_log import not_a_registry_log

    refused = 0
    for source in result.sources:
        refused += source.refused
        out.print(
            f"{source.name}: {source.lines} lines read, {source.manifest_responses} manifest "
            f"responses, {source.refused} refused",
            markup=False,
        )
        if source.unreadable:
            more = source.unreadable - len(source.unreadable_lines)
            out.print(
                f"{source.name}: unreadable response entry at "
                f"line{'s' if source.unreadable > 1 else ''} "
                + ", ".join(str(n) for n in source.unreadable_lines)
                + (f" and {more} more" if more > 0 else ""),
                markup=False,
            )
    moved = result.set_aside.total()
    statuses = ", ".join(f"{status}: {count}" for status, count in sorted(result.set_aside.items()))
    span = days_span(result.days)
    out.print(
        f"set aside {moved} notified requests the registry refused"
        + (f" ({statuses}){span}; run `pullstats process` to recount them" if moved else "")
        + (
            f"; {refused - moved} refused responses match no request in the lake "
            "(not notified, or set aside before)"
            if refused > moved
            else ""
        )
    )
    not_logs = [source.name for source in result.sources if not_a_registry_log(source)]
    for name in not_logs:
        fail(
            f"{name}: not a registry log: no 'response completed' entry of Distribution's log "
            "(see docs/operations.md)"
        )
    if not_logs:
        raise typer.Exit(1)


class _Bars:
    """A byte progress bar per source, shown only for big files and streams on a terminal."""

    def __init__(self) -> None:
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        )
        self.task: TaskID | None = None
        self.shown = False

    def started(self, name: str, size: int | None) -> None:
        if size is not None and size < _PROGRESS_BYTES:
            self.task = None
            return
        if size is None and not err.is_terminal:
            self.task = None
            return
        self.progress.start()
        self.shown = True
        from pullstats.importers.log_import import source_name

        self.task = self.progress.add_task(f"read {source_name(name)}", total=size)

    def advanced(self, consumed: int) -> None:
        if self.task is not None:
            self.progress.advance(self.task, consumed)

    def stop(self) -> None:
        if self.shown:
            self.progress.stop()


@contextlib.contextmanager
def _progress() -> Iterator[tuple[_Bars, ImportProgress]]:
    bars = _Bars()
    try:
        from pullstats.importers.log_import import ImportProgress

        yield bars, ImportProgress(started=bars.started, advanced=bars.advanced)
    finally:
        bars.stop()


def _print_report(result: ImportResult, log_format: str) -> None:
    """The counts per source, the first line numbers of bad lines (never their text: a log line
    may hold a token), then the total; exits 1 if a source held no access-log line at all."""
    not_logs = []
    for source in result.sources:
        out.print(_source_line(source), markup=False)
        for reason, numbers in _first_bad_lines(source).items():
            more = source.skipped[reason] - len(numbers)
            out.print(
                f"{source.name}: {reason} at line{'s' if len(numbers) + more > 1 else ''} "
                + ", ".join(str(n) for n in numbers)
                + (f" and {more} more" if more > 0 else ""),
                markup=False,
            )
        if _not_a_log(source) and not source.failed:
            not_logs.append(source.name)
    span = days_span(result.days)
    out.print(
        f"imported {result.used} requests from {len(result.sources)} file(s): "
        f"{result.written} new, {result.used - result.written} already in the lake{span}"
        + ("; run `pullstats process` to classify them" if result.written else "")
    )
    wanted = "the combined or pullstats format (see docs/access-logs.md)"
    if log_format != "auto":
        wanted = (
            f"the {log_format} format that --format asked for (--format auto reads both; see "
            "docs/access-logs.md)"
        )
    for name in not_logs:
        fail(f"{name}: not an access log: no line is in {wanted}")
    unread = [source for source in result.sources if source.failed]
    for source in unread:
        before = f"; its {source.lines} lines before that were read" if source.lines else ""
        fail(f"{source.name}: {source.failed}{before}")
    if not_logs or unread:
        raise typer.Exit(1)


def _first_bad_lines(source: SourceReport) -> dict[str, list[int]]:
    """The line numbers the import listed, by reason, in the order met."""
    found: dict[str, list[int]] = {}
    for number, reason, _text in source.errors:
        found.setdefault(reason, []).append(number)
    return found


def _not_a_log(source: SourceReport) -> bool:
    """Whether no line of the source is even shaped like an access-log line."""
    unparseable = source.skipped["unparseable"]
    shapeless = unparseable + source.skipped["unterminated"] + source.skipped["blank"]
    return unparseable > 0 and shapeless == source.lines


def _source_line(source: SourceReport) -> str:
    skipped = sum(source.skipped.values())
    reasons = ", ".join(f"{reason} {count}" for reason, count in sorted(source.skipped.items()))
    return f"{source.name}: {source.lines} lines read, {source.used} used, {skipped} skipped" + (
        f" ({reasons})" if reasons else ""
    )
