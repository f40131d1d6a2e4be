"""Roll a period's actions up into ``pull_rollups``, at namespace, repository and reference level
(and into ``country_rollups`` and ``breakdown_rollups``, at namespace and repository level, and
``trend_rollups``, per grouping of the trends route: rollups/trends.py, and
``co_usage_rollups``).

A period is always recomputed whole from its action files and swapped in with one transaction,
so the API sees the whole old period or the whole new one. Unique-IP counts are exact distinct
counts at each level (they never add up across levels or periods).

Summaries imported from Docker Hub (``pullstats import dockerhub-csv``, stored under
``lake/imported-summaries/<kind>/<start>/``) join in per period and rollup key:

- ``unique_ip_count`` = the exact distinct count of the lake's ``ip_hash`` values + the imported
  summary's ``unique_ip_count``. This is the one place distinct counts are added: Docker Hub's
  pulls and this registry's are disjoint sources (an IP hash is never compared with Hub's
  addresses, which we never see), so the sum is the best count there is; it is exact whenever
  one of the two is empty, which is the common case of history from before the move.
- Pull counts come from the imported raw actions when any exist for that key (they are the
  same pulls the summary counts); otherwise the summary's counts are added to the lake's.
- The same key in several imported summary files (the same export downloaded twice) is one
  population: the largest value of each column is taken, never the sum.

Imported DVP Core Trends reports (``lake/imported-trends/``) also feed the counts by country,
the breakdowns and the trends, the one import that says where and with what the pulls were
made.

The summary exports are written from these rows, so a period's exported summaries and its
rollups agree, imported history included; the one export row that is not a rollup (an extra
repo's namespace, counting only that repo) is counted by the same step (``rollups.counts``,
:mod:`pullstats.rollups.steps`; its SQL is ``counts.sql``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from typing import TypeAlias, cast

import pyarrow as pa
from sqlalchemy import Table, delete
from sqlalchemy.orm import Session

from pullstats import lake_files
from pullstats.db.bulk import insert_columns
from pullstats.db.models import (
    Base,
    BreakdownRollup,
    CountryRollup,
    CoUsageRollup,
    PullRollup,
    RollupPeriod,
    TrendRollup,
)
from pullstats.db.state import next_generation
from pullstats.duckdb_engine import DuckDBEngine
from pullstats.job_lock import check_job_lock
from pullstats.periods import Period, PeriodKind, period_of
from pullstats.rollups.steps import BREAKDOWNS, CO_USAGE, COUNTRIES, COUNTS, TRENDS
from pullstats.runtime import Runtime
from pullstats.steps import Step

LEVELS = ("namespace", "repository", "reference")
#: Periods computed at once.
PERIOD_WORKERS = 2


def periods_of_days(days: Iterable[date]) -> list[Period]:
    return sorted({period_of(kind, day) for day in days for kind in PeriodKind})


def action_files(runtime: Runtime, period: Period) -> list[str]:
    last = period.next_start - timedelta(days=1)
    return lake_files.action_files(runtime.settings, period.start, last)


def rollup_periods(
    runtime: Runtime, periods: Iterable[Period], on_period: Callable[[], None] | None = None
) -> int:
    """Recompute and publish the given periods; returns the new data generation."""
    # each period on its own connection: small queries leave a core idle, so two at a time
    with ThreadPoolExecutor(max_workers=PERIOD_WORKERS, thread_name_prefix="rollup") as pool:
        computed = list(pool.map(lambda period: (period, *_compute(runtime, period)), periods))
    check_job_lock()  # publishing: only while the job lock is held still
    with runtime.sessions.begin() as session:
        generation = next_generation(session)
        now = datetime.now(UTC)
        for period, rows, country_rows, breakdown_rows, trend_rows, pair_rows in computed:
            tables = (
                (PullRollup, rows),
                (CountryRollup, country_rows),
                (BreakdownRollup, breakdown_rows),
                (TrendRollup, trend_rows),
                (CoUsageRollup, pair_rows),
            )
            for table, table_rows in tables:
                session.execute(
                    delete(table).where(
                        table.period_kind == period.kind.value,
                        table.period_start == period.start,
                    )
                )
                if table_rows is not None and table_rows.num_rows:
                    _insert(session, table, period, table_rows)
            marker = session.get(RollupPeriod, (period.kind.value, period.start))
            if marker is None:
                session.add(
                    RollupPeriod(
                        period_kind=period.kind.value,
                        period_start=period.start,
                        generation=generation,
                        updated_at=now,
                    )
                )
            else:
                marker.generation = generation
                marker.updated_at = now
            if on_period:
                on_period()
    return generation


def _insert(session: Session, table: type[Base], period: Period, rows: pa.Table) -> None:
    """A step's rows into ``table``, stamped with their period."""
    insert_columns(
        session,
        cast(Table, table.__table__),
        {name: rows[name].to_pylist() for name in rows.column_names},
        fixed={"period_kind": period.kind.value, "period_start": period.start},
    )


def _period_rows(runtime: Runtime, step: Step, inputs: Mapping[str, list[str]]) -> pa.Table | None:
    """Run one rollup step on a connection (or Spark session) of its own; its rows, or None
    without inputs."""
    if not any(inputs.values()):
        return None
    if runtime.settings.engine == "spark":
        from pullstats.spark_engine import SparkEngine

        return SparkEngine(runtime.settings).arrow(step, inputs)
    return DuckDBEngine(runtime.settings).arrow(step, inputs)


_Rows: TypeAlias = pa.Table | None


def _compute(runtime: Runtime, period: Period) -> tuple[_Rows, _Rows, _Rows, _Rows, _Rows]:
    """The period's rows of ``pull_rollups``, ``country_rollups``, ``breakdown_rollups``,
    ``trend_rollups`` and ``co_usage_rollups``, from its files listed once: the lake's actions
    with the imported summaries for the counts, the actions alone for the co-usage
    (rollups/co_usage.py), and with the imported DVP Core Trends reports, the one import that
    splits pulls by country, cloud and client, for the counts by country
    (``breakdown=country``), the breakdowns (cloud provider, network type, client tool, client
    category, use case) and the trends (rollups/trends.py)."""
    files = action_files(runtime, period)
    settings, kind = runtime.settings, period.kind.value
    summaries = lake_files.imported_period_files(
        settings, lake_files.IMPORTED_SUMMARIES, kind, period.start
    )
    trends = lake_files.imported_period_files(
        settings, lake_files.IMPORTED_TRENDS, kind, period.start
    )

    def rows(step: Step, inputs: Mapping[str, list[str]]) -> _Rows:
        return _period_rows(runtime, step, inputs)

    return (
        rows(COUNTS, {"actions": files, "summaries": summaries}),
        rows(COUNTRIES, {"actions": files, "trends": trends}),
        rows(BREAKDOWNS, {"actions": files, "trends": trends}),
        rows(TRENDS, {"actions": files, "trends": trends}),
        rows(CO_USAGE, {"actions": files}),
    )
