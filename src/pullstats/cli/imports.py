"""``pullstats import …``: bring history from other services into the lake.

``import dockerhub-csv FILE...`` reports one line per file on stdout (kind, rows imported, rows
skipped by reason, or "already imported") and one line per listed skipped row on stderr, as
``FILE:LINE: skipped (reason): value``. It exits 1 when a file could not be imported at all; a
file known to hold no pull counts (a co-usage report) is skipped, and is no failure.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from pullstats.cli.common import err, fail, opened, out

if TYPE_CHECKING:  # the importer (DuckDB) is loaded by the command, not with the command tree
    from pullstats.importers.dockerhub_csv import FileReport

import_app = typer.Typer(help="Import pull history from other services.", no_args_is_help=True)


@import_app.command("dockerhub-csv")
def dockerhub_csv(
    files: list[Path] = typer.Argument(
        ...,
        metavar="FILE...",
        help="Docker Hub DVP raw or summary CSV files, DVP Core Summary or Trends reports "
        "(.csv or .csv.gz), or pullstats exports.",
    ),
    period: str | None = typer.Option(
        None,
        "--period",
        metavar="2026-W41|2026-10",
        help="The ISO week or month of summary files that have no Period start/end columns "
        "(instead of a label in their file names).",
    ),
    namespace: str | None = typer.Option(
        None,
        "--namespace",
        metavar="NS",
        help="The namespace of files that have no Namespace column (the DVP Core Summary "
        "report, which otherwise takes its PUBLISHER_NAME).",
    ),
    replace: bool = typer.Option(
        False,
        "--replace",
        help="A file imported before with another --namespace or --period (or file name "
        "label) replaces that import: its rows count no more. Without it both are kept.",
    ),
) -> None:
    """Import Docker Hub DVP raw and summary CSV(.gz) files and DVP Core Summary and Trends
    reports; then run `pullstats process`."""
    from pullstats.importers.dockerhub_csv import import_files
    from pullstats.ingest.dockerhub_columns import period_from_label
    from pullstats.names import namespace_problem

    given = period_from_label(period) if period is not None else None
    if period is not None and given is None:
        raise fail(f"--period {period!r}: expected an ISO week (2026-W41) or a month (2026-10)")
    if namespace is not None and (problem := namespace_problem(namespace)):
        raise fail(f"--namespace: {problem}")
    with opened() as runtime:
        reports = import_files(runtime, files, _show, given, namespace, replace)
    imported = [r for r in reports if r.status == "imported"]
    failed = [r for r in reports if r.status == "failed"]
    skipped = sum(r.status == "skipped" for r in reports)
    changed = [r for r in reports if r.status == "imported" or r.replaced or r.leftovers]
    _say_unregistered(imported)
    out.print(
        f"imported {_rows(sum(r.rows for r in imported))} from {len(imported)} files"
        + (f"; {skipped} files skipped" if skipped else "")
        + (f"; {len(failed)} files failed" if failed else "")
        + ("; run `pullstats process` to roll them up" if changed else "")
    )
    kinds = {r.kind.value for r in imported if r.kind is not None}
    if "raw" in kinds:
        out.print(
            "note: Docker Hub raw files carry no IP addresses; the unique IPs of their periods "
            "come only from imported summary files (docs/dockerhub-import.md)"
        )
    if kinds & {"core-summary", "core-trends"}:
        out.print(
            "note: Docker's DVP Core reports count users, not IP addresses; the unique IPs of "
            "their periods are not known and show as 0 (docs/dockerhub-import.md)"
        )
    if failed:
        raise fail(f"{len(failed)} of {len(reports)} files could not be imported")


def _show(report: FileReport) -> None:
    from pullstats.logs import escape_for_terminal

    # a file's name and what its header said reach the terminal escaped, never as its bytes
    name = escape_for_terminal(str(report.path))
    if report.status == "failed":
        err.print(f"{name}: error: {escape_for_terminal(report.error)}", markup=False)
        return
    if report.status == "skipped":
        out.print(f"{name}: {report.error}", markup=False)
        return
    kind = report.kind.value if report.kind else "?"
    if report.status == "already imported":
        given = _given(report.given)
        out.print(
            f"{name}: {kind}, already imported (sha256 {report.sha256[:12]})"
            + (f" with {given}" if given else ""),
            markup=False,
        )
        _say_removed(name, report)
        return
    skipped = sum(report.skipped.values())
    reasons = ", ".join(f"{reason} {count}" for reason, count in sorted(report.skipped.items()))
    if report.periods:
        covers = "periods " + " ".join(period.label for period in report.periods)
    elif report.days:
        covers = f"days {report.days[0]}..{report.days[-1]}"
    else:
        covers = "nothing to import"
    out.print(
        f"{name}: {kind}, {_rows(report.rows)} imported"
        + (f", {_rows(skipped)} skipped ({reasons})" if skipped else "")
        + f"; {covers}",
        markup=False,
    )
    if report.ignored_columns:
        shown = ", ".join(_cell(name) for name in report.ignored_columns)
        err.print(f"{name}: columns not imported: {shown}", markup=False)
    _say_removed(name, report)
    for kept in report.kept_beside:
        earlier = _given(kept) or "the file's own namespace"
        out.print(
            f"{name}: the same content was imported with {earlier}: that import is kept "
            "beside this one (--replace replaces it)",
            markup=False,
        )
    if report.namespace_unused:
        err.print(
            f"{name}: --namespace not used: the file's Namespace column names its namespaces",
            markup=False,
        )
    if report.period_unused:
        err.print(f"{name}: --period not used: {_own_periods(kind)}", markup=False)
    for row in report.listed:
        value = f": {_cell(row.value)}" if row.value else ""
        err.print(f"{name}:{row.line}: skipped ({row.reason}){value}", markup=False)
    if skipped > len(report.listed):
        err.print(f"{name}: … {skipped - len(report.listed)} more skipped rows", markup=False)


def _say_removed(name: str, report: FileReport) -> None:
    """One line per earlier import of the content the import replaced, and one for the part
    files of the content that no record named (what was left of an import set aside)."""
    for replaced in report.replaced:
        earlier = _given(replaced) or "the file's own namespace"
        out.print(f"{name}: replaces its earlier import, which had {earlier}", markup=False)
    if report.leftovers:
        out.print(
            f"{name}: deletes {report.leftovers} part file{'s' if report.leftovers > 1 else ''} "
            "of the same content that no import record names (left of an import set aside)",
            markup=False,
        )


def _own_periods(kind: str) -> str:
    """What says the periods of a file of ``kind`` (a FileKind's value), which has no use for
    ``--period``."""
    if kind == "raw":
        return "a raw file's rows are counted on the days of their timestamps"
    if kind in ("core-summary", "core-trends"):
        return "each row of a DVP Core report names its period (DATE_GRANULARITY, DATE_REFERENCE)"
    return "the file's Period start/Period end columns name its periods"


def _say_unregistered(imported: list[FileReport]) -> None:
    """Each namespace the files name that is not registered, once for the whole import (a
    year of weekly files would otherwise say it 52 times)."""
    files: dict[str, int] = {}
    for report in imported:
        for namespace in report.unregistered:
            files[namespace] = files.get(namespace, 0) + 1
    for namespace, count in files.items():
        of = f" ({count} files)" if count > 1 else ""
        err.print(
            f"namespace {namespace!r} is not registered: its history{of} is kept and shown once "
            f"it is (pullstats namespaces add {namespace})",
            markup=False,
        )


def _given(given: dict[str, str | None]) -> str:
    """The namespace and period an import gave a file, as the options that give them."""
    shown = []
    if given.get("namespace"):
        shown.append(f"--namespace {given['namespace']}")
    if given.get("period"):
        shown.append(f"the period {given['period']}")
    return " and ".join(shown)


def _cell(text: str) -> str:
    """A cell as shown: control characters escaped (no terminal escapes from a file), cut."""
    shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text[:80])
    return shown + ("…" if len(text) > 80 else "")


def _rows(count: int) -> str:
    return f"{count} row" if count == 1 else f"{count} rows"
