"""Retention: compacted spool segments, and the lake's oldest days, are deleted.

The lake keeps ``PULLSTATS_RETENTION_LAKE`` (default 25 months) of days: :func:`prune_lake`,
run by ``export`` once the closed periods are exported, deletes the older whole weeks and
months of every day-partitioned table.

Segments are the only place raw client IPs are written, so this is what keeps them short-lived
(``PULLSTATS_RETENTION_SPOOL``, never less than ``PULLSTATS_CLOSE_GRACE``).
"""

from __future__ import annotations

import calendar
import time
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import delete
from sqlalchemy.orm import Session

from pullstats.config import Settings
from pullstats.db.models import SpoolProgress
from pullstats.db.state import get_value, set_value
from pullstats.lake.spool import CLOSED_SUFFIX
from pullstats.lake_files import DAY_TABLES, day_folder, lake_days
from pullstats.periods import Period
from pullstats.runtime import Runtime

#: the catalog's record of :func:`pruned_before`
PRUNED_BEFORE = "lake_pruned_before"
#: the longest torn last line a closed segment is looked at for
_TORN_TAIL_MAX = 1 << 20


def prune_spool(runtime: Runtime, progress: dict[str, int]) -> int:
    """Delete closed segments that are fully compacted and older than the spool retention.

    Segments are the only place raw client IPs are written, so this is what keeps them short-lived.
    """
    settings = runtime.settings
    keep_for = max(settings.retention_spool, settings.close_grace).total_seconds()
    cutoff = time.time() - keep_for
    pruned = []
    for segment in runtime.paths.spool.glob(f"*{CLOSED_SUFFIX}"):
        stat = segment.stat()
        if stat.st_mtime < cutoff and _read_to_its_end(segment, progress.get(segment.stem, 0)):
            segment.unlink()
            pruned.append(segment.stem)
    if pruned:
        with runtime.sessions.begin() as session:
            session.execute(
                delete(SpoolProgress).where(
                    SpoolProgress.node == settings.node, SpoolProgress.segment.in_(pruned)
                )
            )
        for name in pruned:
            progress.pop(name, None)
    return len(pruned)


def _read_to_its_end(segment: Path, read: int) -> bool:
    """Whether compaction has read the closed ``segment`` whole: to its end, or to a torn last
    line after its last newline (a write that failed, which no sender was told was taken and
    no reader takes). An empty segment has been."""
    size = segment.stat().st_size
    if read >= size:
        return True
    if size - read > _TORN_TAIL_MAX:  # no torn line is that long: whole lines are unread
        return False
    with open(segment, "rb") as handle:
        handle.seek(read)
        return b"\n" not in handle.read()


def lake_cutoff(settings: Settings, today: date) -> date | None:
    """The first day of the lake ``PULLSTATS_RETENTION_LAKE`` keeps on ``today`` (None: all).

    Months are calendar months: P25M on 2026-12-03 keeps 2024-11-03 onwards; a day past the end
    of the shorter month is its last day (P1M on 2026-03-31 keeps 2026-02-28 onwards).
    """
    months, days = settings.lake_retention
    if months == days == 0:
        return None
    month_index = today.year * 12 + today.month - 1 - months
    year, month = divmod(month_index, 12)
    month += 1
    day = min(today.day, calendar.monthrange(year, month)[1])
    return date(year, month, day) - timedelta(days=days)


def whole_periods_before(cutoff: date) -> date:
    """The Monday of the week holding the first of ``cutoff``'s month: every day before it is
    in a week and a month that end before ``cutoff``. Pruning leaves part of no week, but of
    the month holding that Monday when it starts before it; :func:`frozen_day` and
    :func:`frozen_period` keep that month as it was (its rollups recomputed from the rest
    would count a few days as the month)."""
    first = cutoff.replace(day=1)
    return first - timedelta(days=first.weekday())


def retained_from(settings: Settings, today: date) -> date | None:
    """The first day the lake keeps whole on ``today`` (None: every day)."""
    keep_from = lake_cutoff(settings, today)
    return None if keep_from is None else whole_periods_before(keep_from)


def frozen_day(day: date, frozen_before: date | None) -> bool:
    """Whether ``process`` may no longer classify ``day``, the lake's days before
    ``frozen_before`` (:func:`pruned_before`) being deleted: a day before it, and a day of the
    month that holds it without starting on it. The line is the Monday of a week, which need
    not be the first of a month, so the days of that month before the line are gone: its
    rollups recomputed from the days left would count a few days as the month."""
    return frozen_before is not None and day.replace(day=1) < frozen_before


def frozen_period(period: Period, frozen_before: date | None) -> bool:
    """Whether ``period`` lost days to the retention (:func:`frozen_day`'s line): a week or a
    month that starts before the line, whether it ends before it or not."""
    return frozen_before is not None and period.start < frozen_before


def pruned_before(session: Session) -> date | None:
    """Every day before this one has had its lake deleted (None: nothing was pruned).

    ``process`` never classifies such a day again: its periods' rollups would be recomputed
    from what is left of them. Days never pruned (old history just imported) are classified
    as usual, exported, then pruned.
    """
    text = get_value(session, PRUNED_BEFORE)
    return date.fromisoformat(text) if text else None


def prune_lake(runtime: Runtime, today: date) -> list[date]:
    """Delete the lake's days (requests, actions, imported actions) of the whole weeks and
    months before the retention's cutoff, on whichever storage the lake is; the days deleted.
    Rollups and exports stay. ``pullstats export`` runs it once every closed period is
    exported (their raw views are read from the lake)."""
    settings = runtime.settings
    cutoff = retained_from(settings, today)
    if cutoff is None:
        return []
    pruned: set[date] = set()
    for table in DAY_TABLES:
        for day in lake_days(settings, table):
            if day < cutoff:
                settings.lake.delete_folder(day_folder(table, day))
                local = settings.lake.local_path(day_folder(table, day))
                if local is not None and local.is_dir() and not any(local.iterdir()):
                    local.rmdir()
                pruned.add(day)
    if pruned:  # whole weeks before the cutoff are gone (and part of a month): frozen now
        with runtime.sessions.begin() as session:
            if (pruned_before(session) or cutoff) <= cutoff:
                set_value(session, PRUNED_BEFORE, cutoff.isoformat())
    return sorted(pruned)
