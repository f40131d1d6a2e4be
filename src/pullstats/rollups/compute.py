"""Roll a period's actions up into ``pull_rollups``, at namespace, repository and reference level.

A period is always recomputed whole from its action files and swapped in with one transaction,
so the API sees the whole old period or the whole new one. Unique-IP counts are exact distinct
counts at each level (they never add up across levels or periods).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, insert

from pullstats.db.models import PullRollup, RollupPeriod
from pullstats.db.state import next_generation
from pullstats.lake.engine import connect, sql_list
from pullstats.periods import Period, PeriodKind, period_of
from pullstats.runtime import Runtime

LEVELS = ("namespace", "repository", "reference")


def periods_of_days(days: Iterable[date]) -> list[Period]:
    return sorted({period_of(kind, day) for day in days for kind in PeriodKind})


def action_files(runtime: Runtime, period: Period) -> list[Path]:
    files = []
    day = period.start
    while day < period.next_start:
        file = runtime.paths.actions_day(day) / "actions.parquet"
        if file.exists():
            files.append(file)
        day += timedelta(days=1)
    return files


def rollup_periods(
    runtime: Runtime, periods: Iterable[Period], on_period: Callable[[], None] | None = None
) -> int:
    """Recompute and publish the given periods; returns the new data generation."""
    computed = [(period, _compute(runtime, period)) for period in periods]
    with runtime.sessions.begin() as session:
        generation = next_generation(session)
        now = datetime.now(UTC)
        for period, rows in computed:
            keys = (
                PullRollup.period_kind == period.kind.value,
                PullRollup.period_start == period.start,
            )
            session.execute(delete(PullRollup).where(*keys))
            if rows:
                session.execute(insert(PullRollup), rows)
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


def _compute(runtime: Runtime, period: Period) -> list[dict[str, object]]:
    files = action_files(runtime, period)
    if not files:
        return []
    connection = connect(runtime.settings)
    try:
        result = connection.sql(
            f"""
            SELECT
                CASE WHEN grouping(repository) = 1 THEN 'namespace'
                     WHEN grouping(reference) = 1 THEN 'repository'
                     ELSE 'reference' END AS level,
                namespace,
                coalesce(repository, '') AS repository,
                coalesce(reference, '') AS reference,
                count(*) FILTER (WHERE action = 'pull_by_tag') AS pull_by_tag,
                count(*) FILTER (WHERE action = 'pull_by_digest') AS pull_by_digest,
                count(*) FILTER (WHERE action = 'version_check') AS version_check,
                count(DISTINCT ip_hash) AS unique_ip_count
            FROM read_parquet({sql_list(files)}, hive_partitioning = false)
            GROUP BY GROUPING SETS (
                (namespace), (namespace, repository), (namespace, repository, reference)
            )
            """
        ).to_arrow_table()
    finally:
        connection.close()
    rows: list[dict[str, object]] = result.to_pylist()
    for row in rows:
        row["period_kind"] = period.kind.value
        row["period_start"] = period.start
    return rows
