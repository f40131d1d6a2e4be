"""The four dataviews as DuckDB queries over a period's action files, one namespace at a time.

Column lists and order are the export contract (docs/exports.md); a cell a client controls that
starts with ``= + - @ TAB CR`` gets a leading ``'`` so spreadsheets never run it as a formula.
Empty text is written as an empty cell (DuckDB would write ``""`` for an empty string).
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

#: Defined on each export connection: neutralises spreadsheet formulas in client text.
SAFE_CELL_MACRO = (
    "CREATE OR REPLACE MACRO safe_cell(s) AS "
    "CASE WHEN s = '' THEN NULL "
    "WHEN regexp_matches(s, '^[=+\\-@\\t\\r]') THEN '''' || s ELSE s END"
)


def columns(view: Dataview) -> tuple[str, ...]:
    if view is Dataview.RAW:
        return RAW_COLUMNS
    return ("period_start", "period_end", *SUMMARY_KEYS[view], *COUNT_COLUMNS)


def view_sql(view: Dataview, period: Period, scope_table: str) -> str:
    """The SELECT that yields ``view``'s rows, in their fixed order, from ``scope_table``."""
    if view is Dataview.RAW:
        return f"""
            SELECT
                strftime(timestamp, '%Y-%m-%dT%H:%M:%S.%gZ') AS timestamp,
                namespace, repository, safe_cell(reference) AS reference,
                nullif(digest, '') AS digest, safe_cell(tag) AS tag,
                strftime(action_day, '%Y-%m-%d') AS action_day, http_method, action,
                nullif(type, '') AS type, nullif(host, '') AS host,
                nullif(country, '') AS country, nullif(domain, '') AS domain,
                nullif(user_agent_tool, '') AS user_agent_tool,
                safe_cell(user_agent_version) AS user_agent_version,
                safe_cell(user_agent) AS user_agent
            FROM {scope_table}
            -- every column takes part, so no two different rows tie and reruns are identical
            ORDER BY timestamp, namespace, repository, reference, digest, tag, http_method,
                action, ip_hash, user_agent, type, host, country, domain
        """
    keys = SUMMARY_KEYS[view]
    key_list = ", ".join(keys)
    selected = ", ".join(
        "safe_cell(reference) AS reference" if key == "reference" else key for key in keys
    )
    return f"""
        SELECT
            '{period.start_text}' AS period_start,
            '{period.end_text}' AS period_end,
            {selected},
            count(DISTINCT ip_hash) AS unique_ip_count,
            count(*) FILTER (WHERE action = 'pull_by_tag') AS pull_by_tag,
            count(*) FILTER (WHERE action = 'pull_by_digest') AS pull_by_digest,
            count(*) FILTER (WHERE action = 'version_check') AS version_check
        FROM {scope_table}
        GROUP BY {key_list}
        ORDER BY {key_list}
    """
