"""The rollup rows one namespace's export of a period is written from, read from the catalog:
the pull rollups of its scope (the summary views and Docker's Summary report), the trends rows
at the Trends report's grain, and the co-usage pairs the namespace may see. What the API serves,
so the files and the API cannot differ."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pyarrow as pa
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from pullstats.db.models import CoUsageRollup, PublishedRepository, PullRollup, TrendRollup
from pullstats.exports.steps import CO_USAGE_ROWS, TREND_ROWS
from pullstats.exports.writing import ROLLUP_COLUMNS, ViewScope
from pullstats.rollups.trend_series import trends_in_scope
from pullstats.rollups.trends import REPORT_GROUPING
from pullstats.rollups.trends import name as grouping_name


def scope_rollups(session: Session, scope: ViewScope) -> pa.Table:
    """The period's ``pull_rollups`` rows in ``scope``: the namespace's own rows at every level
    and its extra repos' repository and reference rows (the summaries are written from them)."""
    period = scope.period
    extras = [
        and_(PullRollup.namespace == owner, PullRollup.repository == name)
        for owner, name in scope.scope.extra_keys
    ]
    in_scope = PullRollup.namespace == scope.namespace
    if extras:
        in_scope = or_(in_scope, and_(PullRollup.level != "namespace", or_(*extras)))
    rows = session.execute(
        select(*(getattr(PullRollup, column) for column in ROLLUP_COLUMNS)).where(
            PullRollup.period_kind == period.kind.value,
            PullRollup.period_start == period.start,
            in_scope,
        )
    )
    schema = pa.schema(
        [(column, pa.string()) for column in ROLLUP_COLUMNS[:4]]
        + [(column, pa.int64()) for column in ROLLUP_COLUMNS[4:]]
    )
    return _table(rows, schema)


def scope_trends(session: Session, scope: ViewScope) -> pa.Table:
    """The period's ``trend_rollups`` rows at the Trends report's grain in ``scope``: the
    namespace's own repositories and its extra repos (``exports.steps.TREND_ROWS``)."""
    period = scope.period
    names = TREND_ROWS.names
    rows = session.execute(
        select(*(getattr(TrendRollup, column) for column in names)).where(
            TrendRollup.period_kind == period.kind.value,
            TrendRollup.period_start == period.start,
            TrendRollup.grouped_by == grouping_name(REPORT_GROUPING),
            trends_in_scope(scope.scope),
        )
    )
    return _table(rows, TREND_ROWS)


def scope_co_usage(session: Session, scope: ViewScope) -> pa.Table:
    """The period's ``co_usage_rollups`` pairs of the namespace's own repositories that it may
    see (``exports.steps.CO_USAGE_ROWS``): pairings with its own repositories and with the
    published ones (``pullstats repos publish``). A repository of another namespace that is not
    published is never named: its pairs are left out, not masked."""
    period = scope.period
    published = select(PublishedRepository.repository).where(
        PublishedRepository.namespace == CoUsageRollup.paired_namespace,
        PublishedRepository.repository == CoUsageRollup.paired_repository,
    )
    names = CO_USAGE_ROWS.names
    rows = session.execute(
        select(*(getattr(CoUsageRollup, column) for column in names)).where(
            CoUsageRollup.period_kind == period.kind.value,
            CoUsageRollup.period_start == period.start,
            CoUsageRollup.namespace == scope.namespace,
            or_(CoUsageRollup.paired_namespace == scope.namespace, published.exists()),
        )
    )
    return _table(rows, CO_USAGE_ROWS)


def _table(rows: Iterable[Sequence[object]], schema: pa.Schema) -> pa.Table:
    """``rows`` (in ``schema``'s column order) as a table, column by column: a dict per row
    took half the time of reading a month's Trends rows."""
    columns = list(zip(*rows, strict=True)) or [() for _ in schema]
    return pa.Table.from_arrays(
        [pa.array(column, field.type) for column, field in zip(columns, schema, strict=True)],
        schema=schema,
    )
