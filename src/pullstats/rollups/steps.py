"""Stage 3's steps (:mod:`pullstats.steps`): a period's counts, its counts by country, and its
counts by cloud provider, network type and client tool (the dashboard's breakdowns).

Imported Docker Hub history joins in where it says something: summaries in the counts, DVP Core
Trends reports (which split pulls by country, cloud and client) in the counts by country and the
breakdowns."""

from __future__ import annotations

from pullstats.client_categories import category_sql, reported_tool_sql, use_case_sql
from pullstats.lake_schema import ACTIONS, IMPORTED_SUMMARIES, IMPORTED_TRENDS
from pullstats.rollups.co_usage import co_usage_sql
from pullstats.rollups.trends_sql import trends_sql
from pullstats.steps import Function, Input, Step, Transform, sql_file

COUNTS = Step(
    "rollups.counts",
    (Input("actions", ACTIONS.schema), Input("summaries", IMPORTED_SUMMARIES.schema)),
    "a rollup row: level, namespace, repository, reference, the four counts and the users",
    sql_file(__package__, "counts"),
)

#: A country as the country rollups keep it: ISO 3166-1 alpha-2 upper case, 'ZZ' for anything
#: else (empty, NULL, a name). String comparisons, not a regular expression per action.
_COUNTRY_CODE = """CASE WHEN length(c) = 2
    AND substr(upper(c), 1, 1) BETWEEN 'A' AND 'Z'
    AND substr(upper(c), 2, 1) BETWEEN 'A' AND 'Z'
    THEN upper(c) ELSE 'ZZ' END"""

_COUNTRY_FUNCTION = Function("country_code", ("c",), lambda: _COUNTRY_CODE)

COUNTRIES = Step(
    "rollups.countries",
    (Input("actions", ACTIONS.schema), Input("trends", IMPORTED_TRENDS.schema, filename=True)),
    "a country rollup row: level, namespace, repository, country and the four counts",
    sql_file(__package__, "countries"),
    functions=(_COUNTRY_FUNCTION,),
)

#: The client category and inferred use case of a tool (and its cloud), as SQL functions.
_CLIENT_FUNCTIONS = (
    Function("client_category", ("tool",), lambda: category_sql("tool")),
    Function("use_case", ("tool", "host"), lambda: use_case_sql("tool", "host")),
    Function("reported_tool", ("name",), lambda: reported_tool_sql("name")),
)

BREAKDOWNS = Step(
    "rollups.breakdowns",
    (Input("actions", ACTIONS.schema), Input("trends", IMPORTED_TRENDS.schema, filename=True)),
    "a breakdown rollup row: level, namespace, repository, dimension (host, type, "
    "tool_version, category, use_case), value, version and the three action counts",
    sql_file(__package__, "breakdowns"),
    functions=_CLIENT_FUNCTIONS,
)

TRENDS = Step(
    "rollups.trends",
    (Input("actions", ACTIONS.schema), Input("trends", IMPORTED_TRENDS.schema, filename=True)),
    "a trends rollup row: the grouping (rollups/trends.py), namespace, repository, tag, "
    "country, cloud, tool, category, use case, the set of client categories its users pulled "
    "with, downloads, version checks and the users",
    trends_sql,
    functions=(_COUNTRY_FUNCTION, *_CLIENT_FUNCTIONS),
)

CO_USAGE = Step(
    "rollups.co_usage",
    (Input("actions", ACTIONS.schema),),
    "a co-usage rollup row: a repository, another one pulled by at least ten of its users, "
    "the users of both and the repository's users",
    co_usage_sql,
)

STEPS: tuple[Step | Transform, ...] = (COUNTS, COUNTRIES, BREAKDOWNS, TRENDS, CO_USAGE)
