"""The pull series behind the ``…/pulls`` endpoints: window → periods → rows from the rollups.

Parsing the query, choosing the periods and reading the rollups are separate steps, each small
and tested alone; the API routers only translate HTTP to a :class:`SeriesQuery` and back.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pullstats.db.models import PullRollup
from pullstats.periods import Period, PeriodKind, last_complete_months, period_of, periods_between


class Timespan(enum.StrEnum):
    MONTHS = "months"
    WEEKS = "weeks"

    @property
    def kind(self) -> PeriodKind:
        return PeriodKind.MONTH if self is Timespan.MONTHS else PeriodKind.WEEK


class RelativePeriod(enum.StrEnum):
    LAST_2_MONTHS = "last-2-months"
    LAST_3_MONTHS = "last-3-months"
    LAST_6_MONTHS = "last-6-months"
    LAST_12_MONTHS = "last-12-months"

    @property
    def months(self) -> int:
        return int(self.value.split("-")[1])


class Group(enum.StrEnum):
    REPO = "repo"
    NAMESPACE = "namespace"


@dataclass(frozen=True)
class SeriesQuery:
    timespan: Timespan = Timespan.MONTHS
    period: RelativePeriod = RelativePeriod.LAST_12_MONTHS
    group: Group = Group.NAMESPACE
    current: bool = False


@dataclass(frozen=True)
class WindowPeriod:
    period: Period
    partial: bool


def window(query: SeriesQuery, today: date) -> list[WindowPeriod]:
    """The complete periods of the window, oldest first, plus the current one if asked.

    Months: the N complete calendar months before today's. Weeks: the ISO weeks whose Monday
    falls in that window and that have ended.
    """
    first, last = last_complete_months(today, query.period.months)
    kind = query.timespan.kind
    periods = [p for p in periods_between(kind, first, last) if first <= p.start <= last]
    rows = [WindowPeriod(p, False) for p in periods if p.next_start <= today]
    if query.current:
        current = period_of(kind, today)
        rows.append(WindowPeriod(current, True))
    return rows


def namespace_series(
    session: Session, namespace: str, query: SeriesQuery, today: date
) -> list[dict[str, Any]]:
    """Rows of ``GET /namespaces/{namespace}/pulls``."""
    periods = window(query, today)
    if query.group is Group.NAMESPACE:
        counts = _counts(session, "namespace", namespace, None, query.timespan.kind, periods)
        return [_row(wp, namespace, None, counts.get((wp.period.start, ""))) for wp in periods]
    counts = _counts(session, "repository", namespace, None, query.timespan.kind, periods)
    repositories = sorted({repo for _, repo in counts})
    return [
        _row(wp, namespace, repo, counts.get((wp.period.start, repo)))
        for repo in repositories
        for wp in periods
    ]


def repository_series(
    session: Session, namespace: str, repository: str, query: SeriesQuery, today: date
) -> list[dict[str, Any]]:
    """Rows of ``GET /namespaces/{namespace}/repos/{repo}/pulls`` (``group`` has no effect)."""
    periods = window(query, today)
    counts = _counts(session, "repository", namespace, repository, query.timespan.kind, periods)
    return [
        _row(wp, namespace, repository, counts.get((wp.period.start, repository))) for wp in periods
    ]


def _counts(
    session: Session,
    level: str,
    namespace: str,
    repository: str | None,
    kind: PeriodKind,
    periods: list[WindowPeriod],
) -> dict[tuple[date, str], tuple[int, int]]:
    if not periods:
        return {}
    query = select(
        PullRollup.period_start,
        PullRollup.repository,
        PullRollup.pull_by_tag + PullRollup.pull_by_digest,
        PullRollup.unique_ip_count,
    ).where(
        PullRollup.level == level,
        PullRollup.namespace == namespace,
        PullRollup.period_kind == kind.value,
        PullRollup.period_start.in_([wp.period.start for wp in periods]),
    )
    if repository is not None:
        query = query.where(PullRollup.repository == repository)
    return {(start, repo): (pulls, ips) for start, repo, pulls, ips in session.execute(query)}


def _row(
    wp: WindowPeriod, namespace: str, repository: str | None, counts: tuple[int, int] | None
) -> dict[str, Any]:
    pulls, ips = counts or (0, 0)
    row: dict[str, Any] = {
        "start": wp.period.start_text,
        "end": wp.period.end_text,
        "namespace": namespace,
        "pullCount": int(pulls),
        "ipCount": int(ips),
    }
    if repository is not None:
        row["repo"] = repository
    if wp.partial:
        row["partial"] = True
    return row
