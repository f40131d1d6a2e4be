"""Stage 4's steps (:mod:`pullstats.steps`): a namespace's export of a period, as CSV lines.

The raw view's lines come from the period's actions in the namespace's scope; the summary
views' lines, and Docker's Summary report's (:mod:`pullstats.exports.reports`), from the
period's rollup rows in scope (``summary_rows``; Docker's Trends report's from its trends rollup
rows, ``trend_rows``), where the one row that
is not a rollup, an extra repo's namespace counting only the extra repos, is counted by
``rollups.counts`` over ``exports.extra_actions``. :mod:`pullstats.exports.writing` runs them;
the SQL of the lines is built in :mod:`pullstats.exports.views`.
"""

from __future__ import annotations

import pyarrow as pa

from pullstats.dvp_columns import COUNT_COLUMNS
from pullstats.exports.reports import (
    co_usage_lines_sql,
    core_summary_lines_sql,
    core_trends_lines_sql,
)
from pullstats.exports.views import CELL_FUNCTIONS, Dataview, raw_lines_sql, summary_lines_sql
from pullstats.lake_schema import ACTIONS
from pullstats.steps import Input, Step, Transform, sql_file

#: The rollup rows a summary view is written from (``pull_rollups``' columns, and
#: ``rollups.counts``' result).
ROLLUP_ROWS = pa.schema(
    [
        *(
            pa.field(name, pa.string())
            for name in ("level", "namespace", "repository", "reference")
        ),
        *(pa.field(name, pa.int64()) for name in COUNT_COLUMNS),
    ]
)

#: The trends rollup's rows a Trends report is written from (``trend_rollups`` at the report's
#: grain, rollups/trends.py).
TREND_ROWS = pa.schema(
    [
        *(
            pa.field(name, pa.string())
            for name in (
                "namespace", "repository", "tag", "country", "cloud", "tool", "category",
                "use_case",
            )
        ),
        *(
            pa.field(name, pa.int64())
            for name in (
                "data_downloads", "version_checks", "unique_authenticated_users",
                "unique_unauthenticated_users",
            )
        ),
    ]
)  # fmt: skip

#: The co-usage rollup's rows a Technographic report is written from (``co_usage_rollups``).
CO_USAGE_ROWS = pa.schema(
    [
        *(
            pa.field(name, pa.string())
            for name in ("namespace", "repository", "paired_namespace", "paired_repository")
        ),
        pa.field("users", pa.int64()),
        pa.field("total_users", pa.int64()),
    ]
)

RAW_LINES = Step(
    "exports.raw_lines",
    (Input("actions", ACTIONS.schema),),
    "a CSV line of the raw view (with its CRLF), in the order of the file",
    raw_lines_sql,
    variants=({"extras": False}, {"extras": True}),
    functions=CELL_FUNCTIONS,
)

EXTRA_ACTIONS = Step(
    "exports.extra_actions",
    (Input("period_actions", ACTIONS.schema),),
    "an action of one of the extra repos ($extra_repos, 'namespace/repository' names)",
    sql_file(__package__, "extra_actions"),
)

SUMMARY_ROWS = Step(
    "exports.summary_rows",
    (Input("rollups", ROLLUP_ROWS), Input("extra_counts", ROLLUP_ROWS)),
    "a rollup row of the export: the period's rollups in scope and the extra namespaces' rows",
    sql_file(__package__, "summary_rows"),
)

SUMMARY_LINES = Step(
    "exports.summary_lines",
    (Input("summary_rows", ROLLUP_ROWS),),
    "a CSV line of one summary view (with its CRLF), ordered by the view's keys",
    summary_lines_sql,
    variants=tuple({"view": view} for view in Dataview if view is not Dataview.RAW),
    functions=CELL_FUNCTIONS,
)

CORE_SUMMARY_LINES = Step(
    "exports.core_summary_lines",
    (Input("summary_rows", ROLLUP_ROWS),),
    "a CSV line of Docker's DVP Core Summary report (with its CRLF): a repository, tag or digest",
    core_summary_lines_sql,
    functions=CELL_FUNCTIONS,
)

CORE_TRENDS_LINES = Step(
    "exports.core_trends_lines",
    (Input("trend_rows", TREND_ROWS),),
    "a CSV line of Docker's DVP Core Trends report (with its CRLF): a repository, tag, "
    "country, cloud and tool",
    core_trends_lines_sql,
    functions=CELL_FUNCTIONS,
)

CO_USAGE_LINES = Step(
    "exports.co_usage_lines",
    (Input("co_usage_rows", CO_USAGE_ROWS),),
    "a CSV line of Docker's Technographic report (with its CRLF): a repository, another one "
    "its users also pulled, the users of both, its users and their share",
    co_usage_lines_sql,
    functions=CELL_FUNCTIONS,
)

STEPS: tuple[Step | Transform, ...] = (
    RAW_LINES,
    EXTRA_ACTIONS,
    SUMMARY_ROWS,
    SUMMARY_LINES,
    CORE_SUMMARY_LINES,
    CORE_TRENDS_LINES,
    CO_USAGE_LINES,
)
