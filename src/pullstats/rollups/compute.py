"""Roll a period's actions up into ``pull_rollups``, at namespace, repository and reference level.

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

The summary exports are written from these rows, so a period's exported summaries and its
rollups agree, imported history included; the one export row that is not a rollup (an extra
repo's namespace, counting only that repo) is counted by the same query (:func:`counts_sql`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, insert

from pullstats.db.models import CountryRollup, PullRollup, RollupPeriod
from pullstats.db.state import next_generation
from pullstats.duckdb_engine import connect, read_parquet
from pullstats.dvp_columns import ACTION_KINDS
from pullstats.periods import Period, PeriodKind, period_of
from pullstats.runtime import Runtime
from pullstats.sql_literals import sql_text

LEVELS = ("namespace", "repository", "reference")
#: Periods computed at once.
PERIOD_WORKERS = 2


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
    # each period on its own connection: small queries leave a core idle, so two at a time
    with ThreadPoolExecutor(max_workers=PERIOD_WORKERS, thread_name_prefix="rollup") as pool:
        computed = list(
            pool.map(
                lambda period: (
                    period,
                    _compute(runtime, period),
                    _compute_countries(runtime, period),
                ),
                periods,
            )
        )
    with runtime.sessions.begin() as session:
        generation = next_generation(session)
        now = datetime.now(UTC)
        for period, rows, country_rows in computed:
            for table, table_rows in ((PullRollup, rows), (CountryRollup, country_rows)):
                session.execute(
                    delete(table).where(
                        table.period_kind == period.kind.value,
                        table.period_start == period.start,
                    )
                )
                if table_rows:
                    session.execute(insert(table), table_rows)
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


def imported_summary_files(runtime: Runtime, period: Period) -> list[Path]:
    folder = runtime.paths.imported_summaries / period.kind.value / period.start.isoformat()
    return sorted(folder.glob("part-*.parquet"))


_KEYS = "level, namespace, repository, reference"
_NO_LAKE = f"""
    SELECT NULL::VARCHAR AS level, NULL::VARCHAR AS namespace, NULL::VARCHAR AS repository,
        NULL::VARCHAR AS reference, {", ".join(f"0::BIGINT AS {kind}" for kind in ACTION_KINDS)},
        0::BIGINT AS unique_ip_count, 0::BIGINT AS imported
    WHERE false
"""
_NO_SUMMARY = _NO_LAKE.replace(", 0::BIGINT AS imported", "")


#: The counts every rollup holds, over a set of actions.
_ACTION_COUNTS = ", ".join(
    [f"count(*) FILTER (WHERE action = {sql_text(kind)}) AS {kind}" for kind in ACTION_KINDS]
    + ["count(DISTINCT ip_hash) AS unique_ip_count"]
)


def _period_rows(runtime: Runtime, period: Period, sql: str) -> list[dict[str, object]]:
    """Run one rollup query on a fresh connection; its rows, stamped with their period."""
    connection = connect(runtime.settings)
    try:
        result = connection.sql(sql).to_arrow_table()
    finally:
        connection.close()
    rows: list[dict[str, object]] = result.to_pylist()
    for row in rows:
        row["period_kind"] = period.kind.value
        row["period_start"] = period.start
    return rows


def parquet_source(files: list[Path]) -> str | None:
    """A FROM item reading ``files`` (None when there are none)."""
    return read_parquet(files) if files else None


def counts_sql(actions: str | None, summaries: str | None) -> str:
    """A period's counts at the three levels (``level, namespace, repository, reference``, the
    three action counts and ``unique_ip_count``; repository and reference are "" above their
    level): the action rows of FROM item ``actions`` joined with the imported Docker Hub
    summary rows of ``summaries`` by the rules of this module. Either may be None (none)."""
    counts = ", ".join(
        f"coalesce(l.{c}, 0) + CASE WHEN coalesce(l.imported, 0) > 0 THEN 0 "
        f"ELSE coalesce(s.{c}, 0) END AS {c}"
        for c in ACTION_KINDS
    )
    return f"""
        WITH l AS ({_lake_sql(actions)}), s AS ({_summary_sql(summaries)})
        SELECT
            {_KEYS},
            {counts},
            coalesce(l.unique_ip_count, 0) + coalesce(s.unique_ip_count, 0) AS unique_ip_count
        FROM l FULL OUTER JOIN s USING (level, namespace, repository, reference)
    """


def _lake_sql(source: str | None) -> str:
    if source is None:
        return _NO_LAKE
    return f"""
        SELECT
            CASE WHEN grouping(repository) = 1 THEN 'namespace'
                 WHEN grouping(reference) = 1 THEN 'repository'
                 ELSE 'reference' END AS level,
            namespace,
            coalesce(repository, '') AS repository,
            coalesce(reference, '') AS reference,
            {_ACTION_COUNTS},
            count(*) FILTER (WHERE ruleset_version = 0) AS imported  -- Docker Hub raw rows
        FROM {source}
        GROUP BY GROUPING SETS (
            (namespace), (namespace, repository), (namespace, repository, reference)
        )
    """


def _summary_sql(source: str | None) -> str:
    if source is None:
        return _NO_SUMMARY
    return f"""
        SELECT {_KEYS}, max(pull_by_tag) AS pull_by_tag, max(pull_by_digest) AS pull_by_digest,
            max(version_check) AS version_check, max(unique_ip_count) AS unique_ip_count
        FROM {source}
        GROUP BY {_KEYS}
    """


def _compute(runtime: Runtime, period: Period) -> list[dict[str, object]]:
    files = action_files(runtime, period)
    summaries = imported_summary_files(runtime, period)
    if not files and not summaries:
        return []
    sql = counts_sql(parquet_source(files), parquet_source(summaries))
    return _period_rows(runtime, period, sql)


def _compute_countries(runtime: Runtime, period: Period) -> list[dict[str, object]]:
    """Per-country counts at namespace and repository level (``breakdown=country``).

    Imported Docker Hub summaries carry no country, so only the lake's actions count here.
    """
    files = action_files(runtime, period)
    if not files:
        return []
    return _period_rows(
        runtime,
        period,
        f"""
        SELECT
            CASE WHEN grouping(repository) = 1 THEN 'namespace' ELSE 'repository' END AS level,
            namespace,
            coalesce(repository, '') AS repository,
            country,
            {_ACTION_COUNTS}
        FROM (
            SELECT * REPLACE (
                CASE WHEN country = '' OR country IS NULL THEN 'ZZ'
                     ELSE upper(country) END AS country
            )
            FROM {read_parquet(files)}
        )
        GROUP BY GROUPING SETS ((namespace, country), (namespace, repository, country))
        """,
    )
