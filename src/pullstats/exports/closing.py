"""Close and export: every closed period with data, per registered namespace, every view and report.

A period closes when now ≥ its end + the close grace and the closing watermark has passed that
too: every live node's watermark (db/nodes.py). A (namespace, period) is exported when it
never was, when its rollups were recomputed since (dirty: late data), when it lacks a kind of
file (a report added since it was exported), or on ``--rebuild``. The
new set of files is written into a fresh folder and swapped into the catalog in one
transaction, so readers see the old set or the new.
"""

from __future__ import annotations

import logging
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path

from sqlalchemy import delete, distinct, func, select
from sqlalchemy.orm import Session

from pullstats.accounts.service import extra_repos, registered_namespaces
from pullstats.db.models import (
    ExportFile,
    ExportPeriod,
    PullRollup,
    RollupPeriod,
)
from pullstats.db.nodes import WHEN, closing_watermark, node_states
from pullstats.exports.files import WrittenPart
from pullstats.exports.missing_actions import MissingActions
from pullstats.exports.reports import EXPORT_FILES, ExportKind
from pullstats.exports.scope_rows import scope_co_usage, scope_rollups, scope_trends
from pullstats.exports.withdrawing import delete_folders, folders_of, withdraw
from pullstats.exports.writing import ReportRows, ViewScope, write_views
from pullstats.job_lock import check_job_lock
from pullstats.lake.damaged_files import set_aside_damaged
from pullstats.lake.jobs import JobLockLost, job_lock
from pullstats.lake.retention import frozen_period, prune_lake, pruned_before, retained_from
from pullstats.names import namespace_problem
from pullstats.namespace_scope import NamespaceScope
from pullstats.periods import Period, PeriodKind
from pullstats.rollups.compute import action_files
from pullstats.runtime import Runtime
from pullstats.storage import StoreUnusable, unreachable_in

log = logging.getLogger("pullstats.exports")


@dataclass(frozen=True)
class ExportTask:
    scope: NamespaceScope
    period: Period
    generation: int

    @property
    def namespace(self) -> str:
        return self.scope.namespace


@dataclass(frozen=True)
class ExportFailure:
    """A (namespace, period) that could not be exported, and why; the others still were."""

    task: ExportTask
    error: str


@dataclass
class ExportResult:
    exported: list[ExportTask] = field(default_factory=list)
    files: int = 0
    bytes: int = 0
    up_to_date: int = 0
    #: (namespace, period)s exported before whose lake days the retention has deleted since:
    #: kept as they are, as a new export would have an empty raw view
    past_retention: int = 0
    failed: list[ExportFailure] = field(default_factory=list)
    #: the lake's days deleted after the export (PULLSTATS_RETENTION_LAKE)
    lake_days_pruned: list[date] = field(default_factory=list)
    #: the day before which they were deleted (the retention's line), when any were
    lake_pruned_before: date | None = None
    #: (namespace, period)s exported before that hold nothing of the namespace's now (an
    #: extra repo withdrawn): their files withdrawn too
    withdrawn: list[ExportTask] = field(default_factory=list)


def closed_periods(
    session: Session, now: datetime, runtime: Runtime, *, clock: datetime | None = None
) -> list[tuple[Period, int]]:
    """Periods with rollups that are closed at ``now`` (and under the closing watermark).

    ``now`` may be a day ahead (``export --through``); which nodes are live is judged by the
    real ``clock`` (default: the time now).
    """
    settings = runtime.settings
    grace = settings.close_grace
    states = node_states(session, clock or datetime.now(UTC), settings.node_timeout)
    waiting = any(state.live for state in states)  # else no node could add anything
    for state in states:
        if waiting and not state.live and state.name:
            seen = state.last_seen.strftime(WHEN)
            log.warning(
                "node %s not seen since %s (PULLSTATS_NODE_TIMEOUT): periods close without "
                "waiting for its spool",
                state.name,
                seen,
            )
    mark = closing_watermark(states)
    if mark is None:
        return []
    closed = []
    for kind, start, generation in session.execute(
        select(RollupPeriod.period_kind, RollupPeriod.period_start, RollupPeriod.generation)
    ):
        period = Period(PeriodKind(kind), start)
        if period.is_closed(now, grace) and period.is_closed(mark, grace):
            closed.append((period, generation))
    return sorted(closed)


def has_data(session: Session, period: Period, scope: NamespaceScope) -> bool:
    """Whether ``period`` has rollups in ``scope``: the namespace's at any level, or an extra
    repo's. (Any level: a period known only from an imported repo-summary has no namespace
    row.)"""
    keys = (
        PullRollup.period_kind == period.kind.value,
        PullRollup.period_start == period.start,
    )
    own = select(PullRollup.namespace).where(*keys, PullRollup.namespace == scope.namespace)
    if session.execute(own.limit(1)).first():
        return True
    for ns, name in scope.extra_keys:
        extra = select(PullRollup.namespace).where(
            *keys,
            PullRollup.level == "repository",
            PullRollup.namespace == ns,
            PullRollup.repository == name,
        )
        if session.execute(extra.limit(1)).first():
            return True
    return False


def plan_exports(
    runtime: Runtime, now: datetime, *, namespace: str | None = None, rebuild: bool = False
) -> tuple[list[ExportTask], int, int, list[ExportTask]]:
    """What needs exporting at ``now``, how many (namespace, period) pairs are current, how
    many would be written again but are kept as they are, the lake's days of their period
    being deleted, and the exported pairs with no data of the namespace's any more, whose files
    are to be withdrawn (an extra repo whose grant was removed).

    A period that starts before the retention's line (:func:`pruned_before`; the month holding
    the line too, :func:`frozen_period`) and was exported is never written again, whatever
    changed (``--rebuild``, its rollups, a kind of file added since): its raw view is read
    from the lake's days, some or all of which are gone, so its published files are the only
    copy of its rows.
    """
    tasks, current, kept, emptied = [], 0, 0, []
    with runtime.sessions() as session:
        frozen_before = pruned_before(session)
        namespaces = [n for n in registered_namespaces(session) if namespace in (None, n)]
        scopes = {n: NamespaceScope(n, tuple(extra_repos(session, n))) for n in namespaces}
        exported = {
            (row.namespace, row.period_kind, row.period_start): row.generation
            for row in session.scalars(select(ExportPeriod))
        }
        complete = _with_every_file(session)
        for period, generation in closed_periods(session, now, runtime):
            pruned = frozen_period(period, frozen_before)
            for name in namespaces:
                key = (name, period.kind.value, period.start)
                done = exported.get(key)
                if not has_data(session, period, scopes[name]):
                    if done is not None and not pruned:
                        emptied.append(ExportTask(scopes[name], period, generation))
                    continue
                if done is not None and done >= generation and key in complete and not rebuild:
                    current += 1
                    continue
                if done is not None and pruned:  # would be written again: kept, and counted
                    kept += 1
                    continue
                tasks.append(ExportTask(scopes[name], period, generation))
    return tasks, current, kept, emptied


def _with_every_file(session: Session) -> set[tuple[str, str, date]]:
    """The exported (namespace, period kind, start)s that have every kind of file: one
    exported before a report existed lacks it, and is exported again."""
    keys = (ExportFile.namespace, ExportFile.period_kind, ExportFile.period_start)
    query = (
        select(*keys)
        .where(ExportFile.view.in_([kind.value for kind in EXPORT_FILES]))
        .group_by(*keys)
        .having(func.count(distinct(ExportFile.view)) == len(EXPORT_FILES))
    )
    return {(namespace, kind, start) for namespace, kind, start in session.execute(query)}


def export_closed(
    runtime: Runtime,
    *,
    now: datetime | None = None,
    namespace: str | None = None,
    rebuild: bool = False,
    on_plan: Callable[[int], None] | None = None,
    on_task: Callable[[ExportTask], None] | None = None,
) -> ExportResult:
    now = now or datetime.now(UTC)
    result = ExportResult()
    with job_lock(runtime):
        tasks, result.up_to_date, result.past_retention, emptied = plan_exports(
            runtime, now, namespace=namespace, rebuild=rebuild
        )
        for task in emptied:
            check_job_lock()
            withdraw(runtime, task.namespace, task.period)
            result.withdrawn.append(task)
        if on_plan:
            on_plan(len(tasks))
        # a day whose actions file is missing or was set aside as damaged holds back its
        # periods until `process` has classified it again (nothing half-counted is published)
        missing = MissingActions(runtime)
        for task in tasks:
            # one namespace's failure (a name too long for a file name, a full disk, a bad
            # row) is reported and never stops the others; its previous files stay served
            held = missing.holding(task.period)
            if held is not None:
                result.failed.append(ExportFailure(task, held))
                continue
            try:
                parts = export_one(runtime, task)
            except (StoreUnusable, JobLockLost):
                raise  # stops the export: every other period would fail alike
            except Exception as error:
                # a damaged actions file is set aside and its day left to `process`, which
                # classifies it again: its periods are exported once their rollups are whole.
                # A store that does not hand the file over for that check raises its
                # StorageError, which stops the export too
                read = partial(action_files, runtime, task.period)
                found = set_aside_damaged(runtime, error, read)
                text = _failure_text(task, error)
                if found is not None and found.day is not None:
                    text = _damaged_text(found.key)
                    missing.hold(found.day, text)
                result.failed.append(ExportFailure(task, text))
                continue
            result.exported.append(task)
            result.files += len(parts)
            result.bytes += sum(p.size for _, p in parts)
            if on_task:
                on_task(task)
        if namespace is None and not result.failed:
            # every closed period is exported now: the lake's days past its retention can go
            # (an export that failed keeps them for its retry). Counted from ``now`` or today,
            # whichever is earlier: a ``now`` ahead (``export --through`` a day to come, or a
            # year mistyped) closes nothing more than today does, and must not prune the days
            # the retention keeps today (P25M from 2030 is every day of 2026)
            today = min(now, datetime.now(UTC)).date()
            check_job_lock()
            result.lake_days_pruned = prune_lake(runtime, today)
            if result.lake_days_pruned:
                result.lake_pruned_before = retained_from(runtime.settings, today)
    return result


def _damaged_text(key: str) -> str:
    return (
        f"damaged lake file {key} set aside; the period is exported after `pullstats process` "
        "has classified its day again"
    )


def _failure_text(task: ExportTask, error: Exception) -> str:
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    problem = namespace_problem(task.namespace)
    return f"{text} ({problem})" if problem else text


def export_one(runtime: Runtime, task: ExportTask) -> list[tuple[ExportKind, WrittenPart]]:
    """Write the views and reports of one (namespace, period) and swap them into the catalog."""
    store = runtime.settings.exports_store
    period_key = f"{task.namespace}/{task.period.label}"
    _remove_orphans(runtime, task, period_key)
    key = f"{period_key}/{uuid.uuid4().hex[:12]}"
    # written in place in a local exports folder; on object storage staged in the tmp dir,
    # then each finished part published (one PUT each) before the catalog names any of them
    root = store.local_path("") or runtime.paths.job_tmp / "exports"
    folder = root / key
    folder.mkdir(parents=True, exist_ok=True)
    try:
        scope = ViewScope(task.scope, task.period)
        period = task.period
        with runtime.sessions() as session:
            rollups = scope_rollups(session, scope)
            reports = ReportRows(scope_trends(session, scope), scope_co_usage(session, scope))
        write = write_views
        if runtime.settings.engine == "spark":
            from pullstats.exports.spark_writing import write_views_on_spark as write
        files = action_files(runtime, period)
        written = write(runtime.settings, scope, files, folder, rollups, reports)
        if store.remote:
            for _, part in written:
                store.publish(part.path, part.path.relative_to(root).as_posix())
    except BaseException as error:
        shutil.rmtree(folder, ignore_errors=True)  # never referenced: nobody can see it
        # a store that does not answer is not asked to delete what it took: the period's
        # next export removes it (_remove_orphans)
        down = unreachable_in(error, runtime.settings.lake)
        if down is not None:
            raise down from error
        if store.remote:
            store.delete_folder(key)
        raise
    finally:
        if store.remote:
            shutil.rmtree(folder, ignore_errors=True)
    check_job_lock()  # publishing: only while the job lock is held still
    _swap_catalog(runtime, task, written, root)
    return written


def _remove_orphans(runtime: Runtime, task: ExportTask, period_key: str) -> None:
    """Delete the period's export folders no catalog row names: what an export killed before
    its catalog swap left (under the job lock, no other export is writing one now)."""
    store = runtime.settings.exports_store
    with runtime.sessions() as session:
        named = set(
            session.scalars(
                select(ExportFile.path).where(
                    ExportFile.namespace == task.namespace,
                    ExportFile.period_kind == task.period.kind.value,
                    ExportFile.period_start == task.period.start,
                )
            )
        )
    kept = folders_of(named)
    folders = (f"{period_key}/{name}" for name in store.folders(period_key))
    delete_folders(runtime, [folder for folder in folders if folder not in kept])


def _swap_catalog(
    runtime: Runtime, task: ExportTask, written: list[tuple[ExportKind, WrittenPart]], root: Path
) -> None:
    keys = (
        ExportFile.namespace == task.namespace,
        ExportFile.period_kind == task.period.kind.value,
        ExportFile.period_start == task.period.start,
    )
    with runtime.sessions.begin() as session:
        old = set(session.scalars(select(ExportFile.path).where(*keys)))
        session.execute(delete(ExportFile).where(*keys))
        for view, part in written:
            session.add(
                ExportFile(
                    namespace=task.namespace,
                    period_kind=task.period.kind.value,
                    period_start=task.period.start,
                    view=view.value,
                    part=part.number,
                    file_name=part.file_name,
                    path=part.path.relative_to(root).as_posix(),
                    size=part.size,
                    rows=part.rows,
                    sha256=part.sha256,
                )
            )
        marker = session.get(
            ExportPeriod, (task.namespace, task.period.kind.value, task.period.start)
        )
        if marker is None:
            session.add(
                ExportPeriod(
                    namespace=task.namespace,
                    period_kind=task.period.kind.value,
                    period_start=task.period.start,
                    generation=task.generation,
                    exported_at=datetime.now(UTC),
                )
            )
        else:
            marker.generation = task.generation
            marker.exported_at = datetime.now(UTC)
    # the old set is unreachable now; open downloads keep their file handles (a presigned
    # link to a deleted object answers 404 from the store)
    delete_folders(runtime, folders_of(old))
