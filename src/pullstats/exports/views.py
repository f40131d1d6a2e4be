r"""The four dataviews as SQL over a period's actions, one namespace at a time (the steps
``exports.raw_lines`` and ``exports.summary_lines``, :mod:`pullstats.exports.steps`).

Column lists and order are the export contract (docs/exports.md). Each query yields a single
column, ``line``: the row's CSV text with its CRLF, so the engine does all the formatting and
the files are its output bytes. Every text cell goes through ``text_cell``
(:mod:`pullstats.csv_cells`), so no cell can start a spreadsheet formula or hold a NUL; only
the cells pullstats formats itself (times, days, counts) do without it. ``text_cell`` is
declared here as a :class:`~pullstats.steps.Function`, which an engine defines before it runs
a step that calls it. Pure.
"""

from __future__ import annotations

import enum

from pullstats.csv_cells import text_cell_sql
from pullstats.dvp_columns import COUNT_COLUMNS, RAW_COLUMNS
from pullstats.steps import Function


class Dataview(enum.StrEnum):
    RAW = "raw"
    SUMMARY = "summary"
    REPO_SUMMARY = "repo-summary"
    NAMESPACE_SUMMARY = "namespace-summary"


SUMMARY_KEYS = {
    Dataview.SUMMARY: ("namespace", "repository", "reference"),
    Dataview.REPO_SUMMARY: ("namespace", "repository"),
    Dataview.NAMESPACE_SUMMARY: ("namespace",),
}

#: The function of the lines' SQL: a text cell is ``text_cell(column)``, :mod:`pullstats.csv_cells`'
#: rule against formulas and NULs and the CSV quoting in one expression.
CELL_FUNCTIONS = (Function("text_cell", ("s",), text_cell_sql),)


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


def _text(column: str) -> str:
    """A text column's cell: neutralised, then quoted as CSV needs."""
    return f"text_cell({column})"


def _line(cells: list[str]) -> str:
    return f"concat_ws(',', {', '.join(cells)}) || chr(13) || chr(10) AS line"


def raw_lines_sql(*, extras: bool = False) -> str:
    """``exports.raw_lines``: one CSV line per action of ``actions`` in the scope of a namespace
    (``$namespace``; with ``extras``, also the ``namespace/repository`` names in
    ``$extra_repos``, a list of text).

    Rows are ordered by the action's timestamp (microseconds), then by the line's own text.
    That is a complete order of what is written (rows that tie are identical lines), so reruns
    are byte-identical, and it is cheap: the timestamp settles almost every comparison.
    """
    cells = [
        # ISO 8601 in milliseconds, said the way both engines read alike: the date, a quoted
        # T, and the time of day in microseconds cut to milliseconds (DuckDB's %g and the
        # unquoted T of one strftime pattern are not Spark's)
        "strftime(timestamp, '%Y-%m-%d') || 'T' || left(strftime(timestamp, '%H:%M:%S.%f'), 12)"
        " || 'Z'",
        _text("namespace"),
        _text("repository"),
        _text("reference"),
        _text("digest"),
        _text("tag"),
        "CAST(action_day AS VARCHAR)",
        _text("http_method"),
        _text("action"),
        _text("type"),
        _text("host"),
        _text("country"),
        _text("domain"),
        _text("user_agent_tool"),
        _text("user_agent_version"),
        _text("user_agent"),
    ]
    scope = "namespace = $namespace"
    if extras:
        scope += " OR list_contains($extra_repos, namespace || '/' || repository)"
    return f"""-- exports.raw_lines: the raw view's CSV lines of the actions in a namespace's scope
SELECT line FROM (SELECT timestamp, {_line(cells)} FROM actions WHERE {scope})
ORDER BY timestamp, line
"""


def summary_lines_sql(*, view: Dataview | str) -> str:
    """``exports.summary_lines``: the CSV lines of one summary ``view``, ordered by its keys,
    from ``summary_rows`` (rollup rows: ``level, namespace, repository, reference`` and the
    four counts), the period's bounds as written (``Period.start_text`` and ``end_text``) in
    ``$period_start`` and ``$period_end``."""
    view = Dataview(view)
    keys = SUMMARY_KEYS[view]
    cells = ["$period_start", "$period_end"]
    cells += [_text(key) for key in keys]
    cells += [f"CAST({column} AS VARCHAR)" for column in COUNT_COLUMNS]
    return f"""-- exports.summary_lines: the {view.value} view's CSV lines, one per row of its level
SELECT {_line(cells)} FROM summary_rows
WHERE level = '{_LEVEL[view]}'
ORDER BY {", ".join(keys)}
"""
