"""The four dataviews as DuckDB queries over a period's action files, one namespace at a time.

Column lists and order are the export contract (docs/exports.md). Each query yields a single
column, ``line``: the row's CSV text with its CRLF, so the engine does all the formatting and
the files are its output bytes. A cell a client controls that starts with ``= + - @ TAB CR``
gets a leading ``'`` so spreadsheets never run it as a formula.
"""

from __future__ import annotations

import enum

from pullstats.periods import Period


class Dataview(enum.StrEnum):
    RAW = "raw"
    SUMMARY = "summary"
    REPO_SUMMARY = "repo-summary"
    NAMESPACE_SUMMARY = "namespace-summary"


RAW_COLUMNS = (
    "timestamp",
    "namespace",
    "repository",
    "reference",
    "digest",
    "tag",
    "action_day",
    "http_method",
    "action",
    "type",
    "host",
    "country",
    "domain",
    "user_agent_tool",
    "user_agent_version",
    "user_agent",
)

SUMMARY_KEYS = {
    Dataview.SUMMARY: ("namespace", "repository", "reference"),
    Dataview.REPO_SUMMARY: ("namespace", "repository"),
    Dataview.NAMESPACE_SUMMARY: ("namespace",),
}

COUNT_COLUMNS = ("unique_ip_count", "pull_by_tag", "pull_by_digest", "version_check")

#: Neutralises spreadsheet formulas in client text.
SAFE_CELL_MACRO = (
    "CREATE OR REPLACE MACRO safe_cell(s) AS "
    "CASE WHEN regexp_matches(s, '^[=+\\-@\\t\\r]') THEN '''' || s ELSE s END"
)

#: One CSV cell (RFC 4180): quoted only when it holds a comma, a double quote or a line break;
#: NULL and empty text are an empty cell, never ``""``.
CSV_CELL_MACRO = (
    "CREATE OR REPLACE MACRO csv_cell(s) AS "
    "CASE WHEN s IS NULL THEN '' "
    "WHEN contains(s, '\"') OR contains(s, ',') OR contains(s, chr(10)) "
    "OR contains(s, chr(13)) THEN '\"' || replace(s, '\"', '\"\"') || '\"' "
    "ELSE s END"
)

#: Defined on each export connection before any of the queries below.
MACROS = (SAFE_CELL_MACRO, CSV_CELL_MACRO)

_LEVEL = {
    Dataview.SUMMARY: "reference",
    Dataview.REPO_SUMMARY: "repository",
    Dataview.NAMESPACE_SUMMARY: "namespace",
}


def columns(view: Dataview) -> tuple[str, ...]:
    if view is Dataview.RAW:
        return RAW_COLUMNS
    return ("period_start", "period_end", *SUMMARY_KEYS[view], *COUNT_COLUMNS)


def header_line(view: Dataview) -> bytes:
    return (",".join(columns(view)) + "\r\n").encode()


def _line(cells: list[str]) -> str:
    return f"concat_ws(',', {', '.join(cells)}) || chr(13) || chr(10) AS line"


def raw_lines_sql(source: str) -> str:
    """One CSV line per action of ``source`` (a table, or ``read_parquet(…)`` with a filter).

    Rows are ordered by the action's timestamp (microseconds), then by the line's own text.
    That is a complete order of what is written (rows that tie are identical lines), so reruns
    are byte-identical, and it is cheap: the timestamp settles almost every comparison.
    """
    cells = [
        "strftime(timestamp, '%Y-%m-%dT%H:%M:%S.%gZ')",
        "csv_cell(namespace)",
        "csv_cell(repository)",
        "csv_cell(safe_cell(reference))",
        "csv_cell(digest)",
        "csv_cell(safe_cell(tag))",
        "CAST(action_day AS VARCHAR)",
        "csv_cell(http_method)",
        "csv_cell(action)",
        "csv_cell(type)",
        "csv_cell(host)",
        "csv_cell(country)",
        "csv_cell(domain)",
        "csv_cell(user_agent_tool)",
        "csv_cell(safe_cell(user_agent_version))",
        "csv_cell(safe_cell(user_agent))",
    ]
    return f"""
        SELECT line FROM (SELECT timestamp, {_line(cells)} FROM {source})
        ORDER BY timestamp, line
    """


def summary_lines_sql(view: Dataview, period: Period, rows_table: str) -> str:
    """The CSV lines of one summary view, ordered by its keys, from ``rows_table`` (the rows
    of :func:`pullstats.rollups.compute.counts_sql`)."""
    keys = SUMMARY_KEYS[view]
    cells = [f"'{period.start_text}'", f"'{period.end_text}'"]
    cells += [
        "csv_cell(safe_cell(reference))" if key == "reference" else f"csv_cell({key})"
        for key in keys
    ]
    cells += [f"CAST({column} AS VARCHAR)" for column in COUNT_COLUMNS]
    return f"""
        SELECT {_line(cells)} FROM {rows_table}
        WHERE level = '{_LEVEL[view]}'
        ORDER BY {", ".join(keys)}
    """
