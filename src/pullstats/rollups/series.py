"""The pull series behind the ``…/pulls`` endpoints: window → periods → rows from the rollups.

Parsing the query, choosing the periods and reading the rollups are separate steps, each small
and tested alone; the API routers only translate HTTP to a :class:`SeriesQuery` and back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import literal, select
from sqlalchemy.orm import Session

from pullstats.db.models import CountryRollup, PullRollup
from pullstats.namespace_scope import NamespaceScope
from pullstats.periods import Period, last_complete_months, period_of, periods_between
from pullstats.rollups.series_query import Breakdown, Group, RelativePeriod, SeriesQuery, Timespan

# the query terms are also exported from here, their first home (docs/client.md named it)
__all__ = [
    "Breakdown",
    "Group",
    "RelativePeriod",
    "SeriesQuery",
    "Timespan",
    "WindowPeriod",
    "namespace_series",
    "repositories_series",
    "repository_series",
    "window",
]


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
    session: Session, scope: NamespaceScope, query: SeriesQuery, today: date
) -> list[dict[str, Any]]:
    """Rows of ``GET /namespaces/{namespace}/pulls``.

    ``group=namespace`` gives one zero-filled row per period over the namespace's own
    repositories; ``group=repo`` one per period for every repository with an action in the
    window, the scope's extra repos (``ns2/repo``) included under their own namespace;
    ``breakdown=country`` splits either by client country in the same way.
    """
    periods = window(query, today)
    namespace = scope.namespace
    if query.group is Group.NAMESPACE:
        counts = _counts(session, query, "namespace", namespace, None, periods)
        if query.breakdown is None:  # the namespace's row is there even when empty
            counts.setdefault((namespace, "", ""), {})
        return _rows(periods, counts, with_repo=False)
    counts = _counts(session, query, "repository", namespace, None, periods)
    for owner, repo in scope.extra_keys:
        counts.update(_counts(session, query, "repository", owner, [repo], periods))
    return _rows(periods, counts, with_repo=True)


def repository_series(
    session: Session, namespace: str, repository: str, query: SeriesQuery, today: date
) -> list[dict[str, Any]]:
    """Rows of ``GET /namespaces/{namespace}/repos/{repo}/pulls`` (``group`` has no effect)."""
    return repositories_series(session, [(namespace, repository)], query, today)[
        (namespace, repository)
    ]


def repositories_series(
    session: Session, keys: Sequence[tuple[str, str]], query: SeriesQuery, today: date
) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """:func:`repository_series` of each (namespace, repository) of ``keys``, read with one
    query per namespace (the dashboard draws up to 50 repositories at once)."""
    periods = window(query, today)
    wanted: dict[str, list[str]] = {}
    for namespace, repository in keys:
        wanted.setdefault(namespace, []).append(repository)
    by_key: dict[tuple[str, str], _Counts] = {key: {} for key in keys}
    for namespace, repositories in wanted.items():
        found = _counts(session, query, "repository", namespace, repositories, periods)
        for series, by_period in found.items():
            by_key[series[0], series[1]][series] = by_period
    for (namespace, repository), counts in by_key.items():
        if query.breakdown is None:  # the repository's own row is shown even with no actions
            counts.setdefault((namespace, repository, ""), {})
    return {key: _rows(periods, counts, with_repo=True) for key, counts in by_key.items()}


#: (namespace, repository, country) → {period start: (pulls, unique ips)}
_Counts = dict[tuple[str, str, str], dict[date, tuple[int, int]]]


def _counts(
    session: Session,
    query: SeriesQuery,
    level: str,
    namespace: str,
    repositories: Sequence[str] | None,
    periods: list[WindowPeriod],
) -> _Counts:
    """Counts per series key that has any, read from the rollups (per country on
    ``breakdown=country``), of every repository at ``level`` "repository" or only of
    ``repositories``; repository and country are "" where the series is not split."""
    found: _Counts = {}
    if not periods:
        return found
    table: type[PullRollup] | type[CountryRollup]
    table = PullRollup if query.breakdown is None else CountryRollup
    country = table.country if table is CountryRollup else literal("")
    statement = select(
        table.period_start,
        table.repository,
        country,
        table.pull_by_tag + table.pull_by_digest,
        table.unique_ip_count,
    ).where(
        table.level == level,
        table.namespace == namespace,
        table.period_kind == query.timespan.kind.value,
        table.period_start.in_([wp.period.start for wp in periods]),
    )
    if repositories is not None:
        statement = statement.where(table.repository.in_(repositories))
    for start, repo, code, pulls, ips in session.execute(statement):
        found.setdefault((namespace, repo, code), {})[start] = (pulls, ips)
    return found


def _rows(periods: list[WindowPeriod], counts: _Counts, *, with_repo: bool) -> list[dict[str, Any]]:
    # each period's texts once, not once per series: 50 series of a year of weeks are 2,650 rows
    spans = [(wp, wp.period.start_text, wp.period.end_text) for wp in periods]
    return [
        _row(
            span,
            namespace,
            repo if with_repo else None,
            country,
            by_period.get(span[0].period.start),
        )
        for (namespace, repo, country), by_period in sorted(counts.items())
        for span in spans
    ]


def _row(
    span: tuple[WindowPeriod, str, str],
    namespace: str,
    repository: str | None,
    country: str,
    counts: tuple[int, int] | None,
) -> dict[str, Any]:
    wp, start, end = span
    pulls, ips = counts or (0, 0)
    row: dict[str, Any] = {
        "start": start,
        "end": end,
        "namespace": namespace,
        "pullCount": int(pulls),
        "ipCount": int(ips),
    }
    if repository is not None:
        row["repo"] = repository
    if country:
        row["country"] = country
    if wp.partial:
        row["partial"] = True
    return row
