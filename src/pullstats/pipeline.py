"""``pullstats process``: run stages 1–3 in order under the job lock.

Each stage talks to the next only through stored data: compaction names the days whose actions
may have changed (the days it touched, the day after each, and the day before when a new
request is within an action's span of midnight: ``action_window.days_to_reclassify``),
classification rewrites those days and the days after them as far as their grouping changed
(``classify/carry.py``), and the rollups of every week and month holding such a day are
recomputed.

No record can stop a run: a request timed outside the accepted window (written before ingest
checked times) is set aside by compaction, and so are lake days outside it, which are never
classified (``lake/set_aside.py``); the rest is processed. Nor can a damaged lake file: a stage
whose read fails on one moves it out of the lake and runs again (``lake/damaged_files.py``);
a day whose actions file it was is classified again in the same run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from pullstats import lake_files
from pullstats.classify import steps as classify_steps
from pullstats.classify.actions import classify_days
from pullstats.db.state import clear_pending_days, pending_days
from pullstats.enrich import maxmind
from pullstats.exports import steps as export_steps
from pullstats.ingest import steps as ingest_steps
from pullstats.ingest.time_window import EARLIEST_DAY, TimeWindow
from pullstats.job_lock import check_job_lock
from pullstats.lake import steps as lake_steps
from pullstats.lake.compaction import CompactionResult, compact
from pullstats.lake.damaged_files import carry_on
from pullstats.lake.jobs import job_lock
from pullstats.lake.retention import frozen_day, pruned_before
from pullstats.lake.set_aside import set_aside_days
from pullstats.lake_damage import DamagedFile
from pullstats.periods import Period
from pullstats.periods import end_of_day as end_of_day  # where the tests and callers import it
from pullstats.rollups import steps as rollup_steps
from pullstats.rollups.compute import periods_of_days, rollup_periods
from pullstats.runtime import Runtime
from pullstats.steps import Step, Transform

#: The steps ``pullstats ingest logs`` and ``import dockerhub-csv`` run (stage 0).
INGEST_STEPS: tuple[Step | Transform, ...] = ingest_steps.STEPS
#: The steps ``pullstats process`` runs: compaction (stage 1; ``ingest logs`` writes through
#: it too), classification (2) and the rollups (3).
PROCESS_STEPS: tuple[Step | Transform, ...] = (
    *lake_steps.STEPS,
    *classify_steps.STEPS,
    *rollup_steps.STEPS,
)
#: The steps ``pullstats export`` runs (stage 4; with ``rollups.counts`` for the extra repos).
EXPORT_STEPS: tuple[Step | Transform, ...] = export_steps.STEPS
#: Every step of the data path, in data-flow order: what an engine runs, what
#: ``tests/test_steps.py`` transpiles to Spark SQL, and the table in docs/architecture.md.
STEPS: tuple[Step | Transform, ...] = (*INGEST_STEPS, *PROCESS_STEPS, *EXPORT_STEPS)

#: Lines still being written when the run started may land just after it; the watermark stays
#: this far behind the start so it never claims them.
_WATERMARK_SLACK = timedelta(seconds=5)


@dataclass
class ProcessResult:
    compaction: CompactionResult
    days: list[date] = field(default_factory=list)
    actions: int = 0
    periods: list[Period] = field(default_factory=list)
    generation: int | None = None
    #: the lake's days outside the accepted window, set aside (moved) and never classified
    days_set_aside: list[date] = field(default_factory=list)
    #: days of periods whose lake ``PULLSTATS_RETENTION_LAKE`` pruned (late, rebuilt or
    #: imported rows): never classified, so no period's rollups are recomputed from what is
    #: left of it
    days_past_retention: list[date] = field(default_factory=list)
    #: the first and last day ``rebuild_from``..``rebuild_to`` rebuilt: the days of the range
    #: that can hold requests (None: none can, or no rebuild was asked for)
    rebuilt: tuple[date, date] | None = None


@dataclass
class ProcessProgress:
    """Callbacks a caller (the CLI's progress bars) may hook to follow a run."""

    compacted: Callable[[CompactionResult], None] | None = None
    classify_total: Callable[[int], None] | None = None
    classified: Callable[[int], None] | None = None
    rollup_total: Callable[[int], None] | None = None
    rolled_up: Callable[[], None] | None = None


def process(
    runtime: Runtime,
    *,
    rebuild_from: date | None = None,
    rebuild_to: date | None = None,
    progress: ProcessProgress | None = None,
) -> ProcessResult:
    """Compact the spool, classify the touched days and roll up their periods."""
    progress = progress or ProcessProgress()
    maxmind.check_databases(runtime.settings)  # compaction enriches: refused before it starts
    started = datetime.now(UTC)
    runtime.node_seen(now=started)  # a node name another live data dir uses stops the run here
    with job_lock(runtime):
        compaction = carry_on(runtime, lambda: compact(runtime, progress.compacted))
        window = TimeWindow.now(runtime.settings.max_clock_skew)
        outside = set(set_aside_days(runtime.settings, window))
        with runtime.sessions() as session:
            touched = pending_days(session)  # this run's days and any a failed run left
            frozen_before = pruned_before(session)
        days = set(touched)
        rebuilt: list[date] = []
        if rebuild_from is not None:
            # only days that can hold requests: a range reaching 9999-12-31 must not overflow
            day = max(rebuild_from, EARLIEST_DAY)
            last = rebuild_to or rebuild_from
            while day <= last and window.holds_day(day):
                rebuilt.append(day)
                day += timedelta(days=1)
        days.update(rebuilt)
        # a pending day outside the window holds nothing now: set_aside_days moved what such a
        # day held (and named it); the rest are neighbours of a request's day near the
        # window's edge, pending as the days classified with it, and nothing is set aside
        days = {day for day in days if window.holds_day(day)}
        too_old = {day for day in days if frozen_day(day, frozen_before)}
        days -= too_old
        result = ProcessResult(
            compaction,
            sorted(days),
            days_set_aside=sorted(outside),
            days_past_retention=sorted(too_old),
            rebuilt=(rebuilt[0], rebuilt[-1]) if rebuilt else None,
        )

        def classified(count: int) -> None:
            check_job_lock()  # between runs of days: no more actions files once it is lost
            if progress.classified:
                progress.classified(count)

        def follow(day: date) -> bool:
            # a day after those classified whose grouping changed with them (classify/carry.py)
            if not window.holds_day(day) or frozen_day(day, frozen_before):
                return False
            days.add(day)
            if progress.classify_total:
                progress.classify_total(len(days))
            return True

        def classify_and_roll_up() -> None:
            if progress.classify_total:
                progress.classify_total(len(days))
            check_job_lock()
            result.actions = classify_days(runtime, days, classified, follow=follow)
            result.periods = periods_of_days(days)
            if progress.rollup_total:
                progress.rollup_total(len(result.periods))
            if result.periods:
                result.generation = rollup_periods(runtime, result.periods, progress.rolled_up)

        def reclassify(damaged: DamagedFile) -> None:
            # an actions file set aside: its day is classified again from its requests (it is
            # pending too, should this run stop before it clears it)
            day = damaged.day
            if damaged.table != lake_files.ACTIONS or day is None:
                return
            if window.holds_day(day) and not frozen_day(day, frozen_before):
                days.add(day)
                touched.add(day)

        def read_by_the_run() -> list[str]:
            near = {day + timedelta(days=step) for day in days for step in (-1, 0, 1)}
            files = [
                file
                for day in sorted(near)
                # actions: the days after those classified, read to see what they were handed
                for table in (lake_files.REQUESTS, lake_files.IMPORTED, lake_files.ACTIONS)
                for file in lake_files.day_files(runtime.settings, table, day)
            ]
            for period in periods_of_days(days):
                files += lake_files.action_files(runtime.settings, period.start, period.end)
            return files

        carry_on(runtime, classify_and_roll_up, reclassify, read_by_the_run)
        result.days = sorted(days)
        check_job_lock()
        with runtime.sessions.begin() as session:
            clear_pending_days(session, touched)  # those set aside too: never classified
        # this node's spool is processed up to the start (db/nodes.py: closing needs every
        # live node's); set after the rollups, so a failed run never closes a period
        runtime.node_seen(started - _WATERMARK_SLACK)
    return result
