"""The columns of the DVP's CSV files, in their order.

Exports write them and the Docker Hub import reads them back; the lists and their order are the
export contract (docs/exports.md). Pure.
"""

from __future__ import annotations

#: The raw view: one row per action.
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

#: The counts that end every summary row (summary, repo-summary, namespace-summary).
COUNT_COLUMNS = ("unique_ip_count", "pull_by_tag", "pull_by_digest", "version_check")
