"""The series behind ``GET …/namespaces/{ns}/trends``: window → periods → rows of
``trend_rollups`` (rollups/trends.py), one grouping at a time.

Downloads, version checks and pulls (their sum, Docker's ``PULLS``) and the two user counts of
each row are the rollup's: a user count is never summed across periods. Within a period a
grouping's cell has a row per set of client categories its users pulled with, each user in one
of them, so the cell's users are those rows' sum, and with ``exclude`` the sum of the rows whose
set holds a category not left out. The pulls left are summed from the grouping with the client
category added, where each row is one category's. The API router only translates HTTP to a
:class:`TrendsQuery` and back.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from pullstats.client_categories import ClientCategory, category_bit, category_set, only_of
from pullstats.db.models import TrendRollup
from pullstats.namespace_scope import NamespaceScope
from pullstats.periods import PeriodKind, period_of, periods_between
from pullstats.rollups.series import WindowPeriod, window
from pullstats.rollups.series_query import RelativePeriod, SeriesQuery, Timespan
from pullstats.rollups.trends import COLUMNS, REPORT_GROUPING, name, shown, with_category

#: The longest ``from``–``to`` a request may span (five years of weeks is 261 periods).
MAX_SPAN_DAYS = 5 * 366

#: The most rows one answer may hold; past it the request is refused (the trends dataset has
#: every row of a period).
MAX_ROWS = 100_000

#: A row's JSON name of each dimension.
FIELDS = {
    "repo": "repo",
    "tag": "tag",
    "country": "country",
    "cloud": "cloud",
    "tool": "tool",
    "category": "category",
    "use_case": "useCase",
}


class TrendsWindowError(ValueError):
    """A ``from``/``to`` that names no window (the message says why)."""


class TooManyRows(ValueError):
    """An answer past :data:`MAX_ROWS`."""


@dataclass(frozen=True)
class TrendsQuery:
    timespan: Timespan = Timespan.MONTHS
    period: RelativePeriod = RelativePeriod.LAST_12_MONTHS
    grouping: tuple[str, ...] = ()
    current: bool = False
    first: date | None = None  # ``from``: replaces ``period`` with the periods starting then …
    last: date | None = None  # … up to ``to`` (default: today)
    exclude: tuple[ClientCategory, ...] = ()  # clients of these categories left out


def trends_window(query: TrendsQuery, today: date) -> list[WindowPeriod]:
    """The periods of the answer, oldest first: ``period``'s complete ones (as ``/pulls``), or
    those whose first day is within ``from``–``to``; the current one only with ``current``."""
    if query.first is None:
        if query.last is not None:
            raise TrendsWindowError("to needs from")
        return window(SeriesQuery(query.timespan, query.period, current=query.current), today)
    last = query.last or today
    if last < query.first:
        given = "" if query.last is not None else " (today: to was not given)"
        raise TrendsWindowError(f"from {query.first} is after to {last}{given}")
    if last - query.first > timedelta(days=MAX_SPAN_DAYS):
        raise TrendsWindowError(f"from and to may be at most {MAX_SPAN_DAYS} days apart")
    kind = query.timespan.kind
    if query.first > today:  # no period of it has ended or begun (nor can it hold data)
        return []
    # a period ending after today is no row: never reach past it (nor past 9999-12-31)
    through = min(last, today)
    periods = [p for p in periods_between(kind, query.first, through) if p.start >= query.first]
    rows = [WindowPeriod(p, False) for p in periods if p.next_start <= today]
    current = period_of(kind, today)
    if query.current and query.first <= current.start <= last:
        rows.append(WindowPeriod(current, True))
    return rows


_Counts = list[int]  # downloads, version checks, signed-in users, anonymous users
_Found = dict[tuple[str, ...], dict[date, _Counts]]


def trend_series(
    session: Session, scope: NamespaceScope, query: TrendsQuery, today: date
) -> list[dict[str, Any]]:
    """Rows of ``GET /namespaces/{namespace}/trends``, by series key then period.

    Without ``repo`` in the grouping the rows are the namespace's own repositories'; with it,
    the scope's extra repos too, under their own namespace (as ``/pulls?group=repo``). Every
    series is zero-filled over the window, except at the report's grain, whose rows are as
    stored (a month of them can be thousands of series). With ``exclude``, a series whose every
    client is left out is not shown.
    """
    periods = trends_window(query, today)
    if not periods:
        return []
    dims = shown(query.grouping)
    starts = [wp.period.start for wp in periods]
    left_out = category_set(query.exclude)
    # where the grouping has the client, each row is one category's: its pulls are kept or
    # left out with its users, and no second read is needed
    split = with_category(query.grouping)
    found: _Found = {}
    for start, key, categories, counts in _stored(session, scope, query, query.grouping, starts):
        if only_of(categories, left_out):
            continue  # every one of these users pulled only with clients left out
        total = found.setdefault(key, {}).setdefault(start, [0, 0, 0, 0])
        total[2] += counts[2]
        total[3] += counts[3]
        if not left_out or split == query.grouping:
            total[0] += counts[0]
            total[1] += counts[1]
    if left_out and split != query.grouping:  # the pulls of the clients kept, by category
        category = shown(split).index("category")
        for start, key, _, counts in _stored(session, scope, query, split, starts):
            if category_bit(ClientCategory(key[1 + category])) & left_out:
                continue
            kept = (key[0], *(v for d, v in zip(shown(split), key[1:], strict=True) if d in dims))
            kept_total = found.get(kept, {}).get(start)
            if kept_total is not None:
                kept_total[0] += counts[0]
                kept_total[1] += counts[1]
    if not query.grouping:  # the namespace's total is there even when empty
        found.setdefault((scope.namespace,), {})
    fill = query.grouping != REPORT_GROUPING
    size = len(found) * len(periods) if fill else sum(len(v) for v in found.values())
    if size > MAX_ROWS:
        raise TooManyRows(
            f"the answer would hold {size} rows, more than {MAX_ROWS}: narrow the window or "
            "the grouping, or download the trends dataset"
        )
    return _rows(periods, dims, found, fill)


def users_left(
    session: Session,
    keys: Sequence[tuple[str, str]],
    kind: PeriodKind,
    starts: Iterable[date],
    exclude: Iterable[ClientCategory],
) -> dict[tuple[str, str], dict[date, tuple[int, int]]]:
    """Signed-in and anonymous users of each key ((namespace, "") for a namespace's own
    repositories, (namespace, repository) for one) in each period that has any, less those who
    pulled only with clients of ``exclude``: the trends rollup's namespace and repository rows
    (the dashboard's overview leaving scanners and bots out)."""
    starts = list(starts)
    left_out = category_set(exclude)
    found: dict[tuple[str, str], dict[date, tuple[int, int]]] = {}
    if not keys or not starts:
        return found
    statement = select(
        TrendRollup.period_start,
        TrendRollup.namespace,
        TrendRollup.repository,
        TrendRollup.categories,
        TrendRollup.unique_authenticated_users,
        TrendRollup.unique_unauthenticated_users,
    ).where(
        TrendRollup.grouped_by.in_([name(()), name(("repo",))]),
        TrendRollup.period_kind == kind.value,
        TrendRollup.period_start.in_(starts),
        TrendRollup.namespace.in_(sorted({namespace for namespace, _ in keys})),
    )
    wanted = set(keys)
    for start, namespace, repository, categories, signed_in, anonymous in session.execute(
        statement
    ):
        key = (namespace, repository)
        if key not in wanted or only_of(categories, left_out):
            continue
        before = found.setdefault(key, {}).get(start, (0, 0))
        found[key][start] = (before[0] + signed_in, before[1] + anonymous)
    return found


def trends_in_scope(scope: NamespaceScope, *, extra_repos: bool = True) -> ColumnElement[bool]:
    """The ``trend_rollups`` rows of the namespace's own repositories and, with
    ``extra_repos``, of its extra repos (under their own namespace)."""
    in_scope: ColumnElement[bool] = TrendRollup.namespace == scope.namespace
    if extra_repos and scope.extra_keys:
        extras = [
            and_(TrendRollup.namespace == owner, TrendRollup.repository == repo)
            for owner, repo in scope.extra_keys
        ]
        in_scope = or_(in_scope, *extras)
    return in_scope


def _stored(
    session: Session,
    scope: NamespaceScope,
    query: TrendsQuery,
    grouping: tuple[str, ...],
    starts: Sequence[date],
) -> Iterator[tuple[date, tuple[str, ...], int, tuple[int, int, int, int]]]:
    """``grouping``'s rows of the window in scope: period start, series key (namespace and
    the grouping's dimension values), set of client categories, and the four counts."""
    dims = shown(grouping)
    in_scope = trends_in_scope(scope, extra_repos="repo" in grouping)
    statement = select(
        TrendRollup.period_start,
        TrendRollup.namespace,
        *(getattr(TrendRollup, COLUMNS[d]) for d in dims),
        TrendRollup.categories,
        TrendRollup.data_downloads,
        TrendRollup.version_checks,
        TrendRollup.unique_authenticated_users,
        TrendRollup.unique_unauthenticated_users,
    ).where(
        TrendRollup.grouped_by == name(grouping),
        TrendRollup.period_kind == query.timespan.kind.value,
        TrendRollup.period_start.in_(starts),
        in_scope,
    )
    for row in session.execute(statement):
        start, *key = row[: 2 + len(dims)]
        categories, *counts = row[2 + len(dims) :]
        yield start, tuple(key), categories, (counts[0], counts[1], counts[2], counts[3])


def _rows(
    periods: Sequence[WindowPeriod],
    dims: tuple[str, ...],
    found: _Found,
    fill: bool,
) -> list[dict[str, Any]]:
    spans = [(wp, wp.period.start_text, wp.period.end_text) for wp in periods]
    rows = []
    for key, by_period in sorted(found.items()):
        for wp, start, end in spans:
            counts = by_period.get(wp.period.start)
            if counts is None and not fill:
                continue
            downloads, checks, signed_in, anonymous = counts or (0, 0, 0, 0)
            row: dict[str, Any] = {"start": start, "end": end, "namespace": key[0]}
            row.update({FIELDS[d]: value for d, value in zip(dims, key[1:], strict=True)})
            row.update(
                dataDownloads=int(downloads),
                versionChecks=int(checks),
                pulls=int(downloads) + int(checks),
                uniqueAuthenticatedUsers=int(signed_in),
                uniqueUnauthenticatedUsers=int(anonymous),
            )
            if wp.partial:
                row["partial"] = True
            rows.append(row)
    return rows
