"""Batch jobs: ``process`` (stages 1–3) and ``export`` (stage 4).

The stages (DuckDB, Arrow) are imported by the commands that run them, not with the command
tree: every other ``pullstats`` command starts without them.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

import typer

from pullstats.accounts import service
from pullstats.cli.common import counted, err, fail, flags, opened, out, progress
from pullstats.config import Settings
from pullstats.db.nodes import WHEN, NodeState, closing_watermark, node_states
from pullstats.db.state import pending_days, spool_offsets
from pullstats.ingest.time_window import TimeWindow
from pullstats.runtime import Runtime

if TYPE_CHECKING:
    from pullstats.exports.closing import ExportResult, ExportTask
    from pullstats.lake.compaction import CompactionResult
    from pullstats.pipeline import ProcessResult


def _parse_day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise fail(f"{option}: {value!r} is not a date (YYYY-MM-DD)") from None


def start_engine(settings: Settings) -> None:
    """``PULLSTATS_ENGINE=spark``: start Spark before any work, so that a setting it cannot
    run with (no Java, a master nobody answers at) is one line naming it, and nothing ran.
    The JVM's own output goes to the data dir's ``logs/spark.log``; with ``--debug``, to
    stderr as Spark prints it."""
    if settings.engine != "spark":
        return
    from pullstats.spark_engine import SparkUnavailable, spark_session

    try:
        spark_session(settings, show_jvm_log=flags.debug)
    except SparkUnavailable as error:
        raise fail(str(error)) from None


def run_process(
    runtime: Runtime, first: date | None = None, last: date | None = None
) -> ProcessResult:
    """Run ``process`` with progress bars; shared by the command and ``demo``."""
    from pullstats.enrich.maxmind import check_databases
    from pullstats.pipeline import ProcessProgress, process

    start_engine(runtime.settings)
    check_databases(runtime.settings)  # as process() does, before the bars show
    with progress() as bars:
        compacting = bars.add_task("compact spool", total=None)
        # later stages start their clocks when they begin, not when the run does
        classifying = bars.add_task("classify days", total=None, visible=False, start=False)
        rolling = bars.add_task("roll up periods", total=None, visible=False, start=False)

        def compacted(result: CompactionResult) -> None:
            bars.update(
                compacting,
                completed=result.lines,
                description=f"compact spool ({result.written} new)",
            )

        def classify_total(total: int) -> None:
            # compaction is over: its bar full and its clock stopped, an empty spool included
            done = bars.tasks[compacting].completed
            bars.update(compacting, total=done, completed=done)
            bars.start_task(classifying)
            bars.update(classifying, total=total, visible=True)

        def rollup_total(total: int) -> None:
            bars.start_task(rolling)
            bars.update(rolling, total=total, visible=True)

        result = process(
            runtime,
            rebuild_from=first,
            rebuild_to=last,
            progress=ProcessProgress(
                compacted=compacted,
                classify_total=classify_total,
                classified=lambda days: bars.advance(classifying, days),
                rollup_total=rollup_total,
                rolled_up=lambda: bars.advance(rolling),
            ),
        )
    return result


def process_command(
    from_: str | None = typer.Option(
        None, "--from", metavar="DAY", help="First day to reclassify (YYYY-MM-DD)."
    ),
    to: str | None = typer.Option(
        None, "--to", metavar="DAY", help="Last day to reclassify (default: --from)."
    ),
    rebuild: bool = typer.Option(
        False, "--rebuild", help="Reclassify and roll up --from..--to even without new data."
    ),
) -> None:
    """Compact, classify and roll up everything ingested so far."""
    first, last = _parse_day(from_, "--from"), _parse_day(to, "--to")
    if (first or last) and not rebuild:
        raise fail("--from/--to select days to rebuild: add --rebuild")
    if rebuild and first is None:
        raise fail("--rebuild needs --from DATE")
    if first and last and last < first:
        raise fail("--to is before --from")
    with opened(new_dir=False) as runtime:  # a mistyped data dir is no new installation
        result = run_process(runtime, first, last)
        window = TimeWindow.now(runtime.settings.max_clock_skew)
    if first is not None and result.rebuilt != (first, last or first):
        # the range reached past the days that can hold requests: say what was rebuilt
        err.print(
            "note: "
            + (
                f"rebuilt {result.rebuilt[0].isoformat()} … {result.rebuilt[-1].isoformat()} only"
                if result.rebuilt
                else "no day of --from..--to was rebuilt"
            )
            + f": requests can fall only from {window.describe()}"
        )
    c = result.compaction
    out.print(
        f"processed {c.lines} spool lines: {c.written} new requests, {c.duplicates} duplicates"
        + (f", {c.set_aside.total()} set aside ({reasons(c.set_aside)})" if c.set_aside else "")
        + f"; {result.actions} actions on {counted(len(result.days), 'day')}; "
        f"{len(result.periods)} periods rolled up"
    )
    if result.days_set_aside:
        shown = ", ".join(day.isoformat() for day in result.days_set_aside[:5])
        out.print(
            f"set aside {counted(len(result.days_set_aside), 'day')} outside the accepted window, "
            f"not classified: {shown}" + (" …" if len(result.days_set_aside) > 5 else "")
        )
    if result.days_past_retention:
        old = result.days_past_retention
        shown = ", ".join(day.isoformat() for day in old[:5])
        out.print(
            f"left {len(old)} days before what PULLSTATS_RETENTION_LAKE keeps unclassified "
            f"(their periods keep the rollups they have): {shown}" + (" …" if len(old) > 5 else "")
        )


def status_command() -> None:
    """Show how far processing has got and what it set aside."""
    from pullstats.lake.retention import pruned_before
    from pullstats.lake.set_aside import set_aside_counts, set_aside_root
    from pullstats.lake.spool import backlog
    from pullstats.lake_damage import DAMAGED_FOLDER, damaged_files

    settings = Settings()
    # create=False: a status read creates nothing, and says so of a missing data dir
    with opened(settings, create=False) as runtime, runtime.sessions() as session:
        nodes = node_states(session, datetime.now(UTC), settings.node_timeout)
        pending = sorted(pending_days(session))
        pruned = pruned_before(session)
        this = settings.node_name or runtime.paths.known_node_name()  # a status read makes none
        offsets = spool_offsets(session, this)
    processed = closing_watermark(nodes)
    here = runtime.node_place()
    out.print("processed up to: " + (processed.strftime(WHEN) if processed else "never processed"))
    for node in nodes:
        if node.name:
            out.print(f"node {node.name}: {node_line(node, this, here)}")
        elif node.live:  # the watermark of a catalog older than nodes (migration 0007): shown
            # while it holds periods open, and may be what `processed up to` says
            out.print(f"node (unnamed): {node_line(node, this, here)}")
    out.print(
        f"days waiting for process: {len(pending)}"
        + (f" ({pending[0].isoformat()} … {pending[-1].isoformat()})" if pending else "")
    )
    segments, waiting = backlog(runtime.paths.spool, offsets)
    out.print(
        f"events waiting in the spool: {counted(segments, 'segment')}, {waiting} bytes"
        + (f" ({waiting / 1e6:.1f} MB)" if waiting >= 1e6 else "")
    )
    counts = set_aside_counts(runtime.settings)
    out.print(
        f"set aside by process: {counts.total()} records"
        + (f" ({reasons(counts)}) in {set_aside_root(runtime.settings)}" if counts else "")
    )
    damaged = damaged_files(runtime.settings)
    if damaged:  # only once a file was set aside: older scripts see no change
        shown = ", ".join(damaged[:3]) + (", …" if len(damaged) > 3 else "")
        out.print(
            f"damaged lake files set aside: {len(damaged)} ({shown}) in "
            f"{runtime.settings.lake.location(DAMAGED_FOLDER)}"
        )
    if pruned is not None:  # only once the retention has deleted days: older scripts see no change
        out.print(
            f"lake days deleted before: {pruned.isoformat()} (by PULLSTATS_RETENTION_LAKE): the "
            "periods that start before it are frozen, their exports kept as they are"
        )


def node_line(node: NodeState, this: str | None, here: tuple[str, str]) -> str:
    """``processed up to …, seen …, live`` (or timed out) for ``pullstats status``; ``this``:
    this data dir's node name, ``here``: its host and path. A node of that name recorded by
    another data dir (this one a copy, or moved) is not this node: it says so."""
    mark = node.watermark.strftime(WHEN) if node.watermark else "never processed"
    state = "live" if node.live else "timed out (PULLSTATS_NODE_TIMEOUT): holds no period open"
    mine = ""
    if node.name == this:
        mine = (
            ", this node"
            if (node.host, node.data_dir) == here
            else ", another data dir under this data dir's node name"
        )
    where = (
        f"{node.data_dir} on {node.host}{mine}"
        if node.name
        else "the catalog's watermark from before nodes had names"
    )
    return f"processed up to {mark}, last seen {node.last_seen.strftime(WHEN)}, {state} ({where})"


def reasons(counts: Counter[str]) -> str:
    """``invalid_record 1, timestamp_out_of_range 2``: counts by reason, sorted by reason."""
    return ", ".join(f"{reason} {counts[reason]}" for reason in sorted(counts))


def run_export(
    runtime: Runtime, now: datetime | None, namespace: str | None = None, rebuild: bool = False
) -> ExportResult:
    from pullstats.exports.closing import export_closed

    start_engine(runtime.settings)
    with progress() as bars:
        task_id = bars.add_task("export periods", total=None)

        def exported(task: ExportTask) -> None:
            bars.update(task_id, description=f"export {task.namespace} {task.period.label}")
            bars.advance(task_id)

        return export_closed(
            runtime,
            now=now,
            namespace=namespace,
            rebuild=rebuild,
            on_plan=lambda total: bars.update(task_id, total=total),
            on_task=exported,
        )


def export_command(
    through: str | None = typer.Option(
        None,
        "--through",
        metavar="DAY",
        help="Close every period closed by this day, as if it were today.",
    ),
    namespace: str | None = typer.Option(
        None, "--namespace", metavar="NAMESPACE", help="Only this namespace."
    ),
    rebuild: bool = typer.Option(False, "--rebuild", help="Rewrite periods already exported."),
) -> None:
    """Close and export every closed period: the views raw, summary, repo-summary and
    namespace-summary, and the Summary, Trends and co-usage reports."""
    from pullstats.ingest.time_window import EARLIEST_DAY
    from pullstats.periods import end_of_day  # not pipeline: export needs no classification

    day = _parse_day(through, "--through")
    if day is not None and not EARLIEST_DAY <= day < date.max:
        raise fail(
            f"--through: {through!r} is not a day periods can close by: give one from "
            f"{EARLIEST_DAY} to {date.max - timedelta(days=1)}"
        )
    with opened(new_dir=False) as runtime:  # a mistyped data dir is no new installation
        if namespace is not None:
            with runtime.sessions() as session:
                service.get_namespace(session, namespace)  # "no namespace 'x'", exit 1
        result = run_export(runtime, end_of_day(day) if day else None, namespace, rebuild)
    out.print(
        f"exported {len(result.exported)} namespace periods ({result.files} files, "
        f"{result.bytes} bytes); {result.up_to_date} already up to date"
        + (
            f"; {result.past_retention} kept as they are (their lake days are past "
            "PULLSTATS_RETENTION_LAKE)"
            if result.past_retention
            else ""
        )
        + (f"; {len(result.failed)} failed" if result.failed else "")
        + (
            f"; {len(result.withdrawn)} withdrawn (nothing of their namespace's left in them)"
            if result.withdrawn
            else ""
        )
    )
    if result.lake_days_pruned:  # a line of its own: scripts parse the first one
        out.print(
            f"deleted {counted(len(result.lake_days_pruned), 'lake day')} before "
            f"{result.lake_pruned_before} (PULLSTATS_RETENTION_LAKE="
            f"{runtime.settings.retention_lake})"
        )
    report_export_failures(result)


def report_export_failures(result: ExportResult) -> None:
    """One stderr line per (namespace, period) that failed, then a non-zero exit."""
    for failure in result.failed:
        task = failure.task
        err.print(
            f"error: export of namespace {task.namespace} for {task.period.label} failed: "
            f"{failure.error}",
            markup=False,
        )
    if result.failed:
        raise typer.Exit(1)
