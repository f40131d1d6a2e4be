"""``pullstats hub download``, ``sync`` and ``query``: the export files on the publisher's disk.

``download`` fetches the views of one month or week (or of every period since a month), ``sync``
keeps a folder equal to everything a namespace's listing holds, and ``query`` runs SQL over
such a folder. ``--view summary-report`` (or ``trends-report``) asks for Docker's Summary (or
Trends) report, a pullstats report dataset (``summary``, ``trends``), beside or instead of the
four ``pulls`` views; a report is never fetched unless named, so the defaults fetch what they
always did, and work against Docker Hub.

The work is the client's (``pullstats.client``: resumable downloads checked by size, gzip and
SHA-256, the sync manifest, DuckDB views); here are the options, a Rich progress bar on stderr
and one line per result. As in ``hub.py``, the client is imported when a command
runs, not with the command tree.
"""

from __future__ import annotations

import csv
import enum
import io
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich import box
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table
from rich.text import Text

from pullstats.cli.common import err, fail, out
from pullstats.cli.hub_auth import UrlOption, connect
from pullstats.cli.hub_output import SeriesFormat, TimespanChoice, print_json, show

if TYPE_CHECKING:
    from pullstats.client import ExportFile, SyncReport


class ViewChoice(enum.StrEnum):
    """``--view``: the kinds of export file (``ExportFile.kind``), named as their folders: the
    values of ``pullstats.exports.views.Dataview``, then of ``pullstats.exports.reports.ReportFile``
    (tests/client/test_reports.py keeps them equal)."""

    RAW = "raw"
    SUMMARY = "summary"
    REPO_SUMMARY = "repo-summary"
    NAMESPACE_SUMMARY = "namespace-summary"
    SUMMARY_REPORT = "summary-report"
    TRENDS_REPORT = "trends-report"
    CO_USAGE_REPORT = "co-usage-report"


#: what ``--view`` means when it is not given: the four views of ``pulls``, as ever
DEFAULT_VIEWS = [
    ViewChoice.RAW,
    ViewChoice.SUMMARY,
    ViewChoice.REPO_SUMMARY,
    ViewChoice.NAMESPACE_SUMMARY,
]

VIEW_HELP = (
    "raw, summary, repo-summary, namespace-summary, or summary-report, trends-report or "
    "co-usage-report (Docker's Summary, Trends and Technographic reports: pullstats servers "
    "only); repeat for several (default: the four pulls views)."
)


class _Bar:
    """Bytes on disk across every file of a run, as one Rich bar on stderr; the client calls
    it from its download threads with each file's position."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._task = progress.add_task("downloading", total=0)
        self._positions: dict[str, int] = {}
        self._total = 0
        self._lock = threading.Lock()

    def __call__(self, file: ExportFile, position: int) -> None:
        with self._lock:
            if file.label not in self._positions:
                self._total += file.size
            self._positions[file.label] = position
            completed = sum(self._positions.values())
            self._progress.update(self._task, total=self._total, completed=completed)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,  # a script's stderr gets the result lines only
    )


def _size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{count} B"


def _report(report: SyncReport, root: Path, *, what: str) -> None:
    """The run's outcome: one line, each failure on stderr, exit 1 when any file failed."""
    fetched = sum(file.size for file in report.downloaded)
    line = (
        f"{what} {len(report.downloaded)} files ({_size(fetched)}) to {root}; "
        f"{len(report.skipped)} already complete"
    )
    if report.removed:
        line += f"; {len(report.removed)} parts no longer listed removed"
    out.print(line, markup=False)
    for file, error in report.failed:
        said = error.message  # a CorruptDownload's or a cut transfer's names the file already
        named = said if file.label in said else f"{file.label}: {said}"
        err.print(f"error: {named}", markup=False)
    if not report.failed:
        return
    from pullstats.client import CorruptDownload

    failed = len(report.failed)
    if all(isinstance(error, CorruptDownload) for _, error in report.failed):
        # fetched twice alike: another run gets the same bytes until the export is rebuilt
        raise fail(
            f"{failed} files could not be downloaded: the server sent other bytes than it "
            "lists, twice; once its operator rebuilds the export, a new run fetches it"
        )
    raise fail(f"{failed} files could not be downloaded; run it again")


def _wanted(chosen: list[ViewChoice] | None) -> dict[Any, list[Any]]:
    """``--view`` as the API asks for it: each dataset with its views, in the order given."""
    from pullstats.client.datasets import file_dataset
    from pullstats.exports.reports import ReportFile
    from pullstats.exports.views import Dataview

    wanted: dict[Any, list[Any]] = {}
    for choice in dict.fromkeys(chosen or DEFAULT_VIEWS):
        pulls = choice.value in {view.value for view in Dataview}
        dataset, view = file_dataset(Dataview(choice) if pulls else ReportFile(choice))
        wanted.setdefault(dataset, []).append(view)
    return wanted


@contextmanager
def _no_reports_here(chosen: list[ViewChoice] | None) -> Iterator[None]:
    """A server without the report dataset asked for (Docker Hub) is one clear line, naming
    the ``--view`` to leave out."""
    from pullstats.client import DatasetNotServed

    try:
        yield
    except DatasetNotServed as error:
        reports = [f"--view {c.value}" for c in chosen or [] if c.value.endswith("-report")]
        raise fail(f"{error.message}; leave out {' and '.join(reports)}") from None


def _kind(choice: TimespanChoice) -> Any:
    from pullstats.rollups.series_query import Timespan

    return Timespan(choice.value)


def _since(since: str | None) -> Any:
    """``--since YYYY-MM`` as its first day (None when not given); one line when malformed."""
    from pullstats.client.url_parts import since_day

    try:
        return since_day(since)
    except ValueError as error:
        raise fail(f"--since: {error}", 2) from None  # a usage error, as typer's own are


def _complete(path: Path, file: ExportFile) -> bool:
    from pullstats.client import CorruptDownload
    from pullstats.client.files import check

    try:
        check(path, file)
    except (CorruptDownload, OSError):
        return False
    return True


def download(
    namespace: str = typer.Argument(..., metavar="NAMESPACE", help="The namespace."),
    year: int | None = typer.Option(
        None, "--year", min=1, max=9999, metavar="YEAR", help="The period's year."
    ),
    month: int | None = typer.Option(
        None, "--month", min=1, max=12, metavar="M", help="A month (1-12)."
    ),
    week: int | None = typer.Option(
        None, "--week", min=1, max=53, metavar="W", help="An ISO week (1-53)."
    ),
    since: str | None = typer.Option(
        None,
        "--since",
        metavar="YYYY-MM",
        help="Instead of one period: every exported period ending in or after that month.",
    ),
    timespan: TimespanChoice = typer.Option(
        TimespanChoice.MONTHS, "--timespan", metavar="months|weeks", help="With --since."
    ),
    view: list[ViewChoice] | None = typer.Option(None, "--view", metavar="VIEW", help=VIEW_HELP),
    dest: Path = typer.Option(Path("."), "--out", metavar="DIR", help="Where to put them."),
    url: UrlOption = None,
) -> None:
    """Download export files: the views of one month (--year Y --month M) or week (--year Y
    --week W), or of every period since a month (--since YYYY-MM). Parts go to
    DIR/NAMESPACE/YEAR/months|weeks/NN/VIEW/partNNN.csv.gz; a cut download is continued, files
    already complete are skipped, and each is checked (size, gzip, SHA-256 when listed)."""
    from pullstats.client import SyncReport, download_many, local_path
    from pullstats.rollups.series_query import Timespan

    if since is not None and (year, month, week) != (None, None, None):
        raise fail("--since lists a range: give it without --year, --month and --week", 2)
    if since is None and (year is None or (month is None) == (week is None)):
        raise fail(
            "name a period: --year Y and one of --month M or --week W, or --since YYYY-MM", 2
        )
    wanted, first = _wanted(view), _since(since)
    with connect(url) as client, _no_reports_here(view):
        if since is not None:
            files = [
                file
                for dataset, views in wanted.items()
                for file in client.export_files(
                    namespace,
                    timespantypes=(_kind(timespan),),
                    views=views,
                    since=first,
                    dataset=dataset,
                )
            ]
        else:
            assert year is not None
            kind = Timespan.MONTHS if month is not None else Timespan.WEEKS
            number = month if month is not None else week
            assert number is not None
            files = [
                file
                for dataset, views in wanted.items()
                for one in views
                for file in client.view_files(namespace, year, kind, number, one, dataset=dataset)
            ]
        if not files:
            out.print(f"no export files of {namespace} to download", markup=False)
            return
        whole = [file for file in files if _complete(local_path(dest, file), file)]
        missing = [file for file in files if file not in whole]
        with _progress() as progress:
            report = download_many(client, missing, dest, progress=_Bar(progress))
    done = SyncReport(report.downloaded, whole, report.failed)
    _report(done, dest, what="downloaded")


def sync(
    namespace: str = typer.Argument(..., metavar="NAMESPACE", help="The namespace."),
    dest: Path = typer.Option(..., "--to", metavar="DIR", help="The mirror's folder."),
    since: str | None = typer.Option(
        None, "--since", metavar="YYYY-MM", help="Only periods ending in or after that month."
    ),
    timespan: list[TimespanChoice] | None = typer.Option(
        None, "--timespan", metavar="months|weeks", help="Repeat for both (default: both)."
    ),
    view: list[ViewChoice] | None = typer.Option(None, "--view", metavar="VIEW", help=VIEW_HELP),
    verify: bool = typer.Option(
        False, "--verify", help="Check every file in full, not only those that changed on disk."
    ),
    url: UrlOption = None,
) -> None:
    """Keep DIR a copy of every export file of a namespace: downloads what is new or was rebuilt,
    skips what is complete (DIR/.pullstats-sync.json remembers), removes parts no longer listed.
    A second run with nothing new downloads nothing. History kept here outlives the server's
    retention. Docker's reports only when named (--view summary-report, trends-report,
    co-usage-report)."""
    from pullstats.client import sync as sync_files
    from pullstats.exports.reports import Dataset

    first, wanted = _since(since), _wanted(view)
    kinds = [_kind(choice) for choice in (timespan or list(TimespanChoice))]
    with connect(url) as client, _no_reports_here(view), _progress() as progress:
        report = sync_files(
            client,
            namespace,
            dest,
            timespantypes=kinds,
            views=wanted.get(Dataset.PULLS, []),
            since=first,
            verify=verify,
            progress=_Bar(progress),
            datasets=list(wanted),
        )
    _report(report, dest, what="synced: downloaded")


def query(
    folder: Path = typer.Argument(..., metavar="DIR", help="A folder of downloaded exports."),
    sql: str = typer.Argument(..., metavar="SQL", help="The query (DuckDB SQL)."),
    output: SeriesFormat = typer.Option(
        SeriesFormat.TABLE, "--format", metavar="FORMAT", help="table, csv or json."
    ),
) -> None:
    """Run SQL over downloaded export files (every part, gzip). Views: months_raw,
    months_summary, months_repo_summary, months_namespace_summary, months_summary_report,
    months_trends_report, months_co_usage_report and the weeks_ ones, for what the folder
    holds; with one timespan only, also raw, summary, repo_summary, namespace_summary,
    summary_report, trends_report, co_usage_report."""
    from pullstats.client.query import query as run_query

    columns, rows = run_query(folder, sql)
    if output is SeriesFormat.JSON:  # ASCII, every control character a JSON escape
        print_json([dict(zip(columns, _plain(row), strict=True)) for row in rows])
    elif output is SeriesFormat.CSV:  # the values exact, for a program
        _print_csv(columns, rows)
    else:
        table = Table(box=box.SIMPLE_HEAD, show_edge=False)  # as the other hub tables
        # names and values as Text: a tag or a user agent with "[red]" in it is data, not markup
        for column in columns:
            numeric = _numeric(rows, column, columns)
            table.add_column(_cell(column), justify="right" if numeric else "left")
        for row in rows:
            table.add_row(*(_cell("" if cell is None else str(cell)) for cell in row))
        show(table)


def _cell(text: str) -> Text:
    """A table cell for a person's terminal: data from an export file (a user agent) never
    reaches it as control characters (an ESC that clears the screen, colours or retitles it),
    but as ``\\xNN`` escapes (``logs.escape_for_terminal``), and a character the terminal's
    encoding lacks (an ``é`` on ASCII) as its backslash escape rather than a failed command."""
    from pullstats.logs import escape_for_terminal

    shown = escape_for_terminal(text)
    encoding = out.encoding or "utf-8"
    try:
        shown.encode(encoding)
    except UnicodeEncodeError:
        shown = shown.encode(encoding, "backslashreplace").decode(encoding)
    except LookupError:  # an encoding Python does not know: as it is
        pass
    return Text(shown)


def _print_csv(columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    """The rows as CSV, every value exact: written whole, or, when stdout's encoding cannot
    hold a value (``PYTHONIOENCODING=ascii``), not at all and one line saying so, never a
    value changed or half a file."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(_plain(row) for row in rows)
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    try:
        text.getvalue().encode(encoding)
    except UnicodeEncodeError as error:
        character = error.object[error.start]
        raise fail(
            f"standard output's encoding ({encoding}) cannot write {character!a}, and CSV "
            "keeps values exact: set PYTHONIOENCODING=utf-8, or use --format json (ASCII) or table"
        ) from None
    except LookupError:
        pass
    sys.stdout.write(text.getvalue())


def _plain(row: tuple[Any, ...]) -> list[Any]:
    """A row as JSON and CSV write it: numbers and text as they are, anything else as text."""
    return [
        cell if cell is None or isinstance(cell, int | float | str) else str(cell) for cell in row
    ]


def _numeric(rows: list[tuple[Any, ...]], column: str, columns: list[str]) -> bool:
    index = columns.index(column)
    cells = [row[index] for row in rows if row[index] is not None]
    return bool(cells) and all(isinstance(cell, int | float) for cell in cells)
