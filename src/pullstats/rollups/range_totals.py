"""Counts over a set of periods, read from the rollups: per period with all four counts, and
summed over the periods by reference (top tags and digests) or by a breakdown dimension
(country, cloud provider, network type, client tool and version).

Beside :mod:`pullstats.rollups.series` so that API routes and the dashboard read the same
rows. A :data:`RollupKey` is ``(namespace, "")`` for a namespace's own total or ``(namespace,
repository)`` for one repository; the caller decides what the viewer may read. Pull counts
add up across keys and periods; distinct counts never do, so the summed reads carry none.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import and_, func, literal, or_, select
from sqlalchemy.orm import Session

from pullstats.client_categories import category_of
from pullstats.db.models import BreakdownRollup, CountryRollup, PullRollup
from pullstats.periods import PeriodKind

#: (namespace, repository); repository "" is the namespace's own total
RollupKey = tuple[str, str]

#: The breakdown dimensions: ``country`` from ``country_rollups``, the rest from
#: ``breakdown_rollups``.
DIMENSIONS = ("country", "host", "type", "use_case", "category", "tool", "tool_version")

DIGEST_PREFIX = "sha256:"

#: The breakdowns whose values have a client category of their own, so the rows of clients
#: left out can be dropped; the others (country, cloud, network, use case) cannot split them off.
CLIENT_OF: dict[str, Callable[[str], str]] = {
    "category": lambda value: value,
    "tool": lambda value: category_of(value).value,
    "tool_version": lambda value: category_of(value).value,
}


@dataclass(frozen=True)
class PeriodCounts:
    """One key's counts in one period."""

    pull_by_tag: int = 0
    pull_by_digest: int = 0
    version_check: int = 0
    unique_ip_count: int = 0
    unique_authenticated_users: int = 0
    unique_unauthenticated_users: int = 0

    @property
    def pulls(self) -> int:
        return self.pull_by_tag + self.pull_by_digest


@dataclass(frozen=True)
class Total:
    """A reference's or a breakdown value's pull counts summed over keys and periods."""

    name: str
    version: str
    pull_by_tag: int
    pull_by_digest: int
    version_check: int

    @property
    def pulls(self) -> int:
        return self.pull_by_tag + self.pull_by_digest


def _sums(table: Any) -> tuple[Any, Any, Any]:
    """The summed pull counts of ``table``'s rows (pulls by tag, by digest, version checks)."""
    return (
        func.sum(table.pull_by_tag),
        func.sum(table.pull_by_digest),
        func.sum(table.version_check),
    )


def _keys_clause(
    table: Any, keys: Sequence[RollupKey], repository_level: str = "repository"
) -> Any:
    """The rows of ``keys``: namespace rows of the namespaces, and ``repository_level`` rows of
    the repositories, grouped by namespace into ``IN`` lists: the primary key (period, level,
    namespace, repository, …) then finds them by seeks; an ``OR`` of one pair per repository
    had SQLite scan every row of each period (3× slower for ten repositories by week)."""
    namespaces = sorted({ns for ns, repo in keys if not repo})
    by_namespace: dict[str, list[str]] = {}
    for ns, repo in keys:
        if repo:
            by_namespace.setdefault(ns, []).append(repo)
    # a namespace's own total: its namespace row, or for references every reference row of it
    total_level = "namespace" if repository_level == "repository" else repository_level
    clauses = []
    if namespaces:
        clauses.append(and_(table.level == total_level, table.namespace.in_(namespaces)))
    clauses.extend(
        and_(
            table.level == repository_level,
            table.namespace == ns,
            table.repository.in_(sorted(repos)),
        )
        for ns, repos in sorted(by_namespace.items())
    )
    return clauses[0] if len(clauses) == 1 else or_(*clauses)


def period_counts(
    session: Session, keys: Sequence[RollupKey], kind: PeriodKind, starts: Iterable[date]
) -> dict[RollupKey, dict[date, PeriodCounts]]:
    """The four counts and the users of each key in each of the periods that has any (absent:
    all zero)."""
    starts = list(starts)
    found: dict[RollupKey, dict[date, PeriodCounts]] = {}
    if not keys or not starts:
        return found
    t = PullRollup
    statement = select(
        t.namespace,
        t.repository,
        t.period_start,
        t.pull_by_tag,
        t.pull_by_digest,
        t.version_check,
        t.unique_ip_count,
        t.unique_authenticated_users,
        t.unique_unauthenticated_users,
    ).where(
        t.period_kind == kind.value,
        t.period_start.in_(starts),
        _keys_clause(t, keys),
    )
    wanted = set(keys)
    for ns, repo, start, *counts in session.execute(statement):
        key = (ns, repo) if (ns, repo) in wanted else (ns, "")
        found.setdefault(key, {})[start] = PeriodCounts(*counts)
    return found


def category_counts(
    session: Session,
    keys: Sequence[RollupKey],
    kind: PeriodKind,
    starts: Iterable[date],
    categories: Iterable[str],
) -> dict[RollupKey, dict[date, PeriodCounts]]:
    """The pull counts of the actions of the client ``categories`` (``breakdown_rollups``'
    ``category`` rows), per key and period: what leaving those clients out takes off each
    key's counts. Exact for pulls and version checks; no distinct count (0)."""
    starts, wanted_categories = list(starts), sorted(set(categories))
    found: dict[RollupKey, dict[date, PeriodCounts]] = {}
    if not keys or not starts or not wanted_categories:
        return found
    t = BreakdownRollup
    statement = (
        select(
            t.namespace,
            t.repository,
            t.period_start,
            *_sums(t),
        )
        .where(
            t.dimension == "category",
            t.value.in_(wanted_categories),
            t.period_kind == kind.value,
            t.period_start.in_(starts),
            _keys_clause(t, keys),
        )
        .group_by(t.namespace, t.repository, t.period_start)
    )
    wanted = set(keys)
    for ns, repo, start, tag, digest, checks in session.execute(statement):
        key = (ns, repo) if (ns, repo) in wanted else (ns, "")
        found.setdefault(key, {})[start] = PeriodCounts(int(tag), int(digest), int(checks))
    return found


def without(
    counts: Mapping[RollupKey, Mapping[date, PeriodCounts]],
    gone: Mapping[RollupKey, Mapping[date, PeriodCounts]],
) -> dict[RollupKey, dict[date, PeriodCounts]]:
    """``counts`` less ``gone`` (:func:`category_counts`), per key and period: the pull counts
    only; distinct counts keep no split by client and are left as they are."""
    result: dict[RollupKey, dict[date, PeriodCounts]] = {}
    for key, by_period in counts.items():
        result[key] = {}
        for start, c in by_period.items():
            less = gone.get(key, {}).get(start, PeriodCounts())
            result[key][start] = dataclasses.replace(
                c,
                pull_by_tag=c.pull_by_tag - less.pull_by_tag,
                pull_by_digest=c.pull_by_digest - less.pull_by_digest,
                version_check=c.version_check - less.version_check,
            )
    return result


def top_references(
    session: Session,
    keys: Sequence[RollupKey],
    kind: PeriodKind,
    starts: Iterable[date],
    *,
    digests: bool,
    home: str,
    limit: int = 10,
) -> list[Total]:
    """The references (tags, or digests with ``digests``) with the most pulls over the periods,
    summed over the keys; ``name`` is ``repository:tag`` or ``repository@digest`` (``ns/repository``
    for a repository outside ``home``, the namespace being viewed: whatever the keys' order)."""
    starts = list(starts)
    if not keys or not starts:
        return []
    t = PullRollup
    is_digest = t.reference.startswith(DIGEST_PREFIX)
    pulls = func.sum(t.pull_by_tag + t.pull_by_digest)
    statement = (
        select(
            t.namespace,
            t.repository,
            t.reference,
            *_sums(t),
        )
        .where(
            t.period_kind == kind.value,
            t.period_start.in_(starts),
            _keys_clause(t, keys, repository_level="reference"),
            is_digest if digests else ~is_digest,
        )
        .group_by(t.namespace, t.repository, t.reference)
        .order_by(pulls.desc(), t.namespace, t.repository, t.reference)
        .limit(limit)
    )
    return [
        Total(
            f"{repo if ns == home else f'{ns}/{repo}'}{'@' if digests else ':'}{ref}",
            "",
            int(tag),
            int(dig),
            int(checks),
        )
        for ns, repo, ref, tag, dig, checks in session.execute(statement)
    ]


def breakdown_totals(
    session: Session,
    keys: Sequence[RollupKey],
    kind: PeriodKind,
    starts: Iterable[date],
    dimension: str,
    *,
    limit: int = 10,
    exclude: Sequence[str] = (),
) -> list[Total]:
    """The values of one dimension with the most pulls over the periods, summed over the keys
    (``country``: ISO 3166-1 alpha-2 or ``ZZ``; the others: "" when unknown); ``exclude``:
    client categories whose rows are dropped where the dimension tells them apart
    (:data:`CLIENT_OF`)."""
    client = CLIENT_OF.get(dimension)
    if exclude and client is not None:
        rows = breakdown_totals(session, keys, kind, starts, dimension, limit=1_000_000)
        return [row for row in rows if client(row.name) not in exclude][:limit]
    if dimension not in DIMENSIONS:
        raise ValueError(f"unknown breakdown {dimension!r}: one of {', '.join(DIMENSIONS)}")
    starts = list(starts)
    if not keys or not starts:
        return []
    table: Any
    if dimension == "country":
        table = CountryRollup
        value, version, only = table.country, literal(""), table.country == table.country
    elif dimension == "tool":  # a tool's total: the sum of its versions' rows
        table = BreakdownRollup
        value, version, only = table.value, literal(""), table.dimension == "tool_version"
    else:
        table = BreakdownRollup
        value, version, only = table.value, table.version, table.dimension == dimension
    pulls = func.sum(table.pull_by_tag + table.pull_by_digest)
    statement = (
        select(
            value,
            version,
            *_sums(table),
        )
        .where(
            only,
            table.period_kind == kind.value,
            table.period_start.in_(starts),
            _keys_clause(table, keys),
        )
        .group_by(value, version)
        .order_by(pulls.desc(), value, version)
        .limit(limit)
    )
    return [
        Total(str(name), str(ver), int(tag), int(dig), int(checks))
        for name, ver, tag, dig, checks in session.execute(statement)
    ]
